package credentials

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/golang-jwt/jwt/v5"
)

// Benchmarks for minting and verifying, each beside its floor: one
// HMAC-SHA256 of the same signing input with a ready key. Targets:
// Mint <= 3x HMACFloor; GolangJWTNaive / Verify >= 2.

// Typed sinks: assigning to an interface would allocate.
var (
	sinkString string
	sinkBytes  []byte
	sinkByte   byte
	sinkToken  *Token
	sinkJWT    *jwt.Token
)

func benchMinter(b testing.TB) *Minter {
	b.Helper()
	mc := clock.NewMock()
	mc.Set(seedTime)
	m, err := NewMinter(MinterConfig{ApplicationKey: seedAppKey, Secret: seedSecretValue, Clock: mc})
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// benchToken is a token from the Minter at the fixed time, random nonce.
func benchToken(b *testing.B) string {
	b.Helper()
	tok, err := benchMinter(b).Mint(seedUser)
	if err != nil {
		b.Fatal(err)
	}
	return tok
}

func BenchmarkSigningKey(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sinkBytes = SigningKey(seedSecretValue, seedTime)
	}
}

// BenchmarkMint: a Minter with a fixed clock and a fresh random nonce per
// token (crypto/rand included).
func BenchmarkMint(b *testing.B) {
	m := benchMinter(b)
	b.ReportAllocs()
	for b.Loop() {
		tok, err := m.Mint(seedUser)
		if err != nil {
			b.Fatal(err)
		}
		sinkString = tok
	}
}

// BenchmarkVerify: the same token verified over and over, application in a
// Keyring, no NonceStore.
func BenchmarkVerify(b *testing.B) {
	tok := benchToken(b)
	keys := NewKeyring()
	keys.Add(seedAppKey, seedSecretValue)
	mc := clock.NewMock()
	mc.Set(seedTime)
	v := NewVerifier(keys, VerifierConfig{Clock: mc})
	if _, err := v.Verify(tok, VerifyOptions{}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		t, err := v.Verify(tok, VerifyOptions{})
		if err != nil {
			b.Fatal(err)
		}
		sinkToken = t
	}
}

// BenchmarkHMACFloor is the honest minimum of both: one HMAC-SHA256 of the
// Mint token's signing input, with the derived key precomputed and one
// keyed hash reused through Reset.
func BenchmarkHMACFloor(b *testing.B) {
	tok := benchToken(b)
	input := []byte(tok[:strings.LastIndexByte(tok, '.')])
	h := hmac.New(sha256.New, SigningKey(seedSecretValue, seedTime))
	var sum [sha256.Size]byte
	b.ReportAllocs()
	for b.Loop() {
		h.Reset()
		h.Write(input)
		sinkByte = h.Sum(sum[:0])[0]
	}
}

// BenchmarkGolangJWTNaive verifies the same token the way a first try with
// golang-jwt does: MapClaims, and a Keyfunc that decodes the base64 secret
// and derives the key on every call.
func BenchmarkGolangJWTNaive(b *testing.B) {
	tok := benchToken(b)
	keyfunc := func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		date, ok := strings.CutPrefix(kid, KidPrefix)
		if !ok || len(date) != 8 {
			return nil, errors.New("bad kid")
		}
		secret, err := base64.StdEncoding.DecodeString(seedSecret)
		if err != nil {
			return nil, err
		}
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(date))
		return m.Sum(nil), nil
	}
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(func() time.Time { return seedTime }))
	if _, err := parser.ParseWithClaims(tok, jwt.MapClaims{}, keyfunc); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		t, err := parser.ParseWithClaims(tok, jwt.MapClaims{}, keyfunc)
		if err != nil {
			b.Fatal(err)
		}
		sinkJWT = t
	}
}

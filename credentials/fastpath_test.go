package credentials

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

// The benchmarks that justify the tricks of fastpath.go: each compares the
// trick with the plain way it replaces, on the input of BenchmarkMint.

// BenchmarkFastpathSign: a pooled HMAC state against hmac.New per token.
func BenchmarkFastpathSign(b *testing.B) {
	tok := benchToken(b)
	input := tok[:strings.LastIndexByte(tok, '.')]
	key := SigningKey(seedSecretValue, seedTime)
	b.Run("pooled", func(b *testing.B) {
		dk := newDateKey(key)
		b.ReportAllocs()
		for b.Loop() {
			sinkByte = dk.sign(input)[0]
		}
	})
	b.Run("hmac.New", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			h := hmac.New(sha256.New, key)
			h.Write([]byte(input))
			sinkByte = h.Sum(nil)[0]
		}
	})
}

// BenchmarkFastpathNonce: 16 random bytes from the shared 512-byte buffer
// against one crypto/rand read per nonce.
func BenchmarkFastpathNonce(b *testing.B) {
	var u [16]byte
	b.Run("buffered", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			random16(&u)
		}
	})
	b.Run("rand.Read", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = rand.Read(u[:])
		}
	})
	sinkByte = u[0]
}

// BenchmarkFastpathPrefix: the claims of a Mint token encoded from the
// Minter's encoded prefix, against encoding them whole.
func BenchmarkFastpathPrefix(b *testing.B) {
	m := benchMinter(b)
	rest := []byte(`foo","iat":1514862245,"exp":1514862845,"nonce":"6b438bda-2d5c-4e8c-92b0-39f20a94b34e"}`)
	whole := append(append([]byte(nil), `{"iss":"`+seedIss+`","sub":"`+seedIss+`/users/`...), rest...)
	enc := base64.RawURLEncoding
	var out [512]byte
	b.Run("prefix", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			tail := append(out[256:256], m.prefixTail...)
			tail = append(tail, rest...)
			o := append(out[:0], m.prefixEnc...)
			sinkByte = enc.AppendEncode(o, tail)[0]
		}
	})
	b.Run("whole", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkByte = enc.AppendEncode(out[:0], whole)[0]
		}
	})
}

// BenchmarkFastpathDate: the per-date header and key from the Minter's
// cache, against computing them for each token.
func BenchmarkFastpathDate(b *testing.B) {
	m := benchMinter(b)
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkString = m.forDate(seedTime).header
		}
	})
	b.Run("computed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkString = m.newMintDate(seedTime).header
		}
	})
}

// TestMintPrefixAndDate: the encoded prefix and the cached date give the
// tokens the plain encoding gives, across a midnight.
func TestMintPrefixAndDate(t *testing.T) {
	m := benchMinter(t)
	for _, now := range []time.Time{seedTime, seedTime.Add(20*time.Hour + 55*time.Minute), seedTime.Add(21 * time.Hour), seedTime} {
		got, err := m.MintWith(MintParams{UserID: "foo", Nonce: seedNonce, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		iat := now.Unix()
		claims := `{"iss":"` + seedIss + `","sub":"` + seedSub + `","iat":` + itoa64(iat) + `,"exp":` + itoa64(iat+600) + `,"nonce":"` + seedNonce + `"}`
		if want := signJWT(t, hdr(FormatDate(now)), claims, SigningKey(seedSecretValue, now)); got != want {
			t.Fatalf("at %v:\n got %s\nwant %s", now, got, want)
		}
	}
}

// TestSignMatchesHMAC: the pooled states give HMAC-SHA256, whatever
// inputs came before.
func TestSignMatchesHMAC(t *testing.T) {
	key := SigningKey(seedSecretValue, seedTime)
	dk := newDateKey(key)
	for _, in := range []string{seedJWT, "", "x", strings.Repeat("y", 3000), seedJWT} {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(in))
		if got := dk.sign(in); !hmac.Equal(got[:], h.Sum(nil)) {
			t.Fatalf("sign(%.20q) is not HMAC-SHA256", in)
		}
	}
}

// judgeFuncs holds the checks as function values, the way the rule table
// would without the dispatch switch of (*judgement).run.
var judgeFuncs = [numChecks]func(*judgement){
	checkSize:        judgeSize,
	checkParts:       judgeParts,
	checkBase64:      judgeBase64,
	checkJSON:        judgeJSON,
	checkAlg:         judgeAlg,
	checkSigned:      judgeSigned,
	checkKid:         judgeKid,
	checkTypCrit:     judgeTypCrit,
	checkClaimTypes:  judgeClaimTypes,
	checkIssPresent:  judgeIssPresent,
	checkIss:         judgeIss,
	checkApplication: judgeApplication,
	checkKidDate:     judgeKidDate,
	checkSignature:   judgeSignature,
	checkSubPresent:  judgeSubPresent,
	checkSub:         judgeSub,
	checkUserID:      judgeUserID,
	checkUser:        judgeUser,
	checkRequired:    judgeRequired,
	checkTokenTTL:    judgeTokenTTL,
	checkIat:         judgeIat,
	checkNbf:         judgeNbf,
	checkExp:         judgeExp,
	checkInstanceTTL: judgeInstanceTTL,
	checkNonce:       judgeNonce,
}

// verifyByFuncValue is Verify with the checks called through judgeFuncs.
func verifyByFuncValue(v *Verifier, token string, opt VerifyOptions) (*Token, error) {
	j := &judgement{tok: &Token{Raw: token}, now: opt.Now, challenge: opt.ChallengeTime, user: opt.User, leeway: v.leeway, keys: v.keys, nonces: v.nonces}
	for i := range rules {
		j.ri = i
		judgeFuncs[rules[i].check](j)
		if j.stop || j.err != nil {
			break
		}
	}
	if j.err != nil {
		return nil, j.err
	}
	return j.tok, nil
}

// BenchmarkFastpathDispatch: Verify with its switch against Verify with
// the checks as function values, whose judgement goes to the heap.
func BenchmarkFastpathDispatch(b *testing.B) {
	tok := benchToken(b)
	keys := NewKeyring()
	keys.Add(seedAppKey, seedSecretValue)
	v := NewVerifier(keys, VerifierConfig{})
	opt := VerifyOptions{Now: seedTime}
	for _, c := range []struct {
		name   string
		verify func(*Verifier, string, VerifyOptions) (*Token, error)
	}{{"switch", (*Verifier).Verify}, {"func values", verifyByFuncValue}} {
		verify := c.verify
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				t, err := verify(v, tok, opt)
				if err != nil {
					b.Fatal(err)
				}
				sinkToken = t
			}
		})
	}
}

// TestDispatch: the switch calls the check each rule names, as judgeFuncs
// does: both give the same answer on every row of the verification tables.
func TestDispatch(t *testing.T) {
	v, _ := seedVerifier(nil)
	check := func(name, token string, opt VerifyOptions) {
		if opt.Now.IsZero() {
			opt.Now = seedTime
		}
		_, err1 := v.Verify(token, opt)
		_, err2 := verifyByFuncValue(v, token, opt)
		if (err1 == nil) != (err2 == nil) || err1 != nil && err1.Error() != err2.Error() {
			t.Errorf("%s: switch %v, function values %v", name, err1, err2)
		}
	}
	for _, c := range rejectionCases(t) {
		if c.call == nil {
			check(c.name, c.token, c.opt)
		}
	}
	for _, c := range acceptCases(t) {
		check(c.name, c.token, c.opt)
	}
}

package credentials

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/sinchsim/sinchsim/internal/jsonobj"
)

// The reference vector's values as they appear inside tokens.
const (
	seedIss  = IssuerPrefix + seedAppKey
	seedSub  = seedIss + "/users/" + seedUser
	seedIat  = "1514862245"
	seedExp  = "1514862845"
	seedDate = "20180102"
)

var seedSecretValue = MustParseSecret(seedSecret)

// signJWT signs arbitrary header and payload JSON texts, taken verbatim,
// with key: base64url(header) "." base64url(payload) "." base64url(HMAC).
// It lets a test break exactly one rule.
func signJWT(tb testing.TB, header, payload string, key []byte) string {
	tb.Helper()
	enc := base64.RawURLEncoding
	return signInput(enc.EncodeToString([]byte(header))+"."+enc.EncodeToString([]byte(payload)), key)
}

// signInput appends the HS256 signature of an already encoded signing input.
func signInput(input string, key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// keyFor is the seed application's signing key for a YYYYMMDD date.
func keyFor(date string) []byte { return SigningKeyForDate(seedSecretValue, date) }

// hdr is the reference header for a date.
func hdr(date string) string { return `{"alg":"HS256","kid":"hkdfv1-` + date + `"}` }

// member is one claim as raw JSON text, so that tests can put any value
// (wrong types, escapes, invalid UTF-8) in a token.
type member struct{ name, raw string }

// claimSet is an ordered claims object.
type claimSet []member

// seedClaims are the reference vector's claims, in its order.
func seedClaims() claimSet {
	return claimSet{
		{"iss", js(seedIss)}, {"sub", js(seedSub)}, {"iat", seedIat}, {"exp", seedExp}, {"nonce", js(seedNonce)},
	}
}

// set returns a copy with name's value replaced (or appended).
func (c claimSet) set(name, raw string) claimSet {
	out := append(claimSet(nil), c...)
	for i := range out {
		if out[i].name == name {
			out[i].raw = raw
			return out
		}
	}
	return append(out, member{name, raw})
}

// del returns a copy without name.
func (c claimSet) del(name string) claimSet {
	var out claimSet
	for _, m := range c {
		if m.name != name {
			out = append(out, m)
		}
	}
	return out
}

// times returns a copy with iat and exp set.
func (c claimSet) times(iat, exp int64) claimSet {
	return c.set("iat", itoa64(iat)).set("exp", itoa64(exp))
}

func (c claimSet) json() string {
	var b strings.Builder
	b.WriteByte('{')
	for i, m := range c {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(jsonobj.AppendString(nil, m.name))
		b.WriteByte(':')
		b.WriteString(m.raw)
	}
	b.WriteByte('}')
	return b.String()
}

// js is s as a JSON string, escaped the way the minter escapes (raw bytes
// pass through, so invalid UTF-8 stays invalid).
func js(s string) string { return string(jsonobj.AppendString(nil, s)) }

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }

// tok signs claims under the reference header for date with the right key.
func tok(tb testing.TB, date string, c claimSet) string {
	tb.Helper()
	return signJWT(tb, hdr(date), c.json(), keyFor(date))
}

// subFor is sub for the seed application and user.
func subFor(user string) string { return seedIss + "/users/" + user }

// seedVerifier verifies for the seed application (and one other known
// application) with a mock clock at seed time.
func seedVerifier(nonces NonceStore) (*Verifier, *clock.Mock) {
	keys := NewKeyring()
	keys.Add(seedAppKey, seedSecretValue)
	keys.Add(otherAppKey, MustParseSecret(otherSecret))
	mc := clock.NewMock()
	mc.Set(seedTime)
	return NewVerifier(keys, VerifierConfig{Clock: mc, Nonces: nonces}), mc
}

const (
	otherAppKey = "0c7d2f3e-1111-4222-8333-944455556666"
	otherSecret = "MDEyMzQ1Njc4OWFiY2RlZg=="
)

// memNonces is a NonceStore for tests: it remembers every nonce per
// application until its validUntil, measured on the given clock.
type memNonces struct {
	clock clock.Clock
	mu    sync.Mutex
	seen  map[string]time.Time
}

func newMemNonces(c clock.Clock) *memNonces {
	return &memNonces{clock: c, seen: map[string]time.Time{}}
}

func (m *memNonces) Use(app, nonce string, validUntil time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := app + "\x00" + nonce
	if until, ok := m.seen[k]; ok && m.clock.Now().Before(until) {
		return false, nil
	}
	m.seen[k] = validUntil
	return true, nil
}

// secretForms are every way the seed secret or a key derived from it could
// leak into a message.
func secretForms() []string {
	out := []string{seedSecret, strings.TrimRight(seedSecret, "="), string(seedSecretValue.Bytes()),
		hex.EncodeToString(seedSecretValue.Bytes())}
	for _, d := range []string{"20171231", "20180101", "20180102", "20180103"} {
		k := keyFor(d)
		out = append(out, string(k), hex.EncodeToString(k),
			base64.StdEncoding.EncodeToString(k), base64.RawStdEncoding.EncodeToString(k),
			base64.URLEncoding.EncodeToString(k), base64.RawURLEncoding.EncodeToString(k))
	}
	return out
}

// assertNoSecret fails when s contains the seed secret or a derived key in
// any encoding.
func assertNoSecret(tb testing.TB, what, s string) {
	tb.Helper()
	for _, f := range secretForms() {
		if strings.Contains(s, f) {
			tb.Fatalf("%s leaks the secret or a derived key: %q", what, s)
		}
	}
}

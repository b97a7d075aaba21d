package credentials

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// ErrSecretInvalid is returned (wrapped) when an application secret is not
// the base64 text Sinch hands out. The error never repeats the secret.
var ErrSecretInvalid = errors.New("credentials: invalid application secret")

// Secret is an application secret: the base64 text from the Sinch dashboard
// and its decoded bytes. It prints as "[redacted]" in every fmt verb and
// marshals as "[redacted]", so it can sit in structs that get logged. The
// zero Secret holds no secret; copies share the value, which is never
// modified.
type Secret struct {
	// The value is reached through a closure: fmt's reflection over a struct
	// that holds a Secret in an unexported field (say, %v of a *Minter)
	// bypasses Format, and would print the fields of a plain struct or
	// pointer, but it shows a function only as an address.
	value func() *secretValue
}

type secretValue struct {
	text    string
	decoded []byte
}

// ParseSecret decodes a base64 application secret (standard alphabet, padding
// optional; the URL-safe alphabet is accepted too). An empty or undecodable
// secret is an error wrapping ErrSecretInvalid that says what is wrong (empty,
// whitespace, a character outside base64, a bad length) but never repeats the
// secret.
func ParseSecret(text string) (Secret, error) {
	if text == "" {
		return Secret{}, fmt.Errorf("%w: empty", ErrSecretInvalid)
	}
	// The decoder skips line breaks; a secret must not hold any, since the
	// legacy scheme hashes its text.
	if !strings.ContainsAny(text, " \t\r\n") {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if b, err := enc.Strict().DecodeString(text); err == nil && len(b) > 0 {
				v := &secretValue{text: text, decoded: b}
				return Secret{value: func() *secretValue { return v }}, nil
			}
		}
	}
	return Secret{}, fmt.Errorf("%w: %s", ErrSecretInvalid, secretProblem(text))
}

// secretProblem names why text is not base64 without quoting any of it.
func secretProblem(text string) string {
	n := len(text)
	if i := strings.IndexAny(text, " \t\r\n"); i >= 0 {
		return fmt.Sprintf("not base64: whitespace at byte %d of %d (trim the secret)", i, n)
	}
	for i := 0; i < n; i++ {
		c := text[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '-' || c == '_' || c == '=') {
			return fmt.Sprintf("not base64: a character outside the base64 alphabet at byte %d of %d", i, n)
		}
	}
	if strings.ContainsAny(text, "+/") && strings.ContainsAny(text, "-_") {
		return "not base64: it mixes the standard (+ /) and URL-safe (- _) alphabets"
	}
	if i := strings.IndexByte(text, '='); i >= 0 && strings.TrimRight(text[i:], "=") != "" {
		return fmt.Sprintf("not base64: padding '=' in the middle, at byte %d of %d", i, n)
	}
	return fmt.Sprintf("not base64: %d characters is not a valid base64 length (a Sinch secret is 24 characters ending in \"==\")", n)
}

// MustParseSecret is ParseSecret for constants in tests and examples; it
// panics on an invalid secret.
func MustParseSecret(text string) Secret {
	s, err := ParseSecret(text)
	if err != nil {
		panic(err)
	}
	return s
}

// IsZero reports whether s holds no secret.
func (s Secret) IsZero() bool { return s.value == nil }

// Text returns the secret as given (base64). The legacy signature scheme
// hashes this text; handle it as carefully as the secret itself.
func (s Secret) Text() string {
	if s.value == nil {
		return ""
	}
	return s.value().text
}

// Bytes returns a copy of the decoded secret.
func (s Secret) Bytes() []byte { return append([]byte(nil), s.key()...) }

// key returns the decoded secret without copying; callers must not modify it.
func (s Secret) key() []byte {
	if s.value == nil {
		return nil
	}
	return s.value().decoded
}

// String returns "[redacted]".
func (s Secret) String() string { return "[redacted]" }

// GoString returns "credentials.Secret([redacted])".
func (s Secret) GoString() string { return "credentials.Secret([redacted])" }

// Format redacts the secret for every verb (%v, %s, %x, %+v, %#v, ...).
func (s Secret) Format(f fmt.State, verb rune) { _, _ = f.Write([]byte("[redacted]")) }

// MarshalText makes encoding/json, encoding/xml and friends write
// "[redacted]" instead of the secret. A Secret cannot be read back from
// text: parse it with ParseSecret.
func (s Secret) MarshalText() ([]byte, error) { return []byte("[redacted]"), nil }

// KidPrefix is the fixed part of the kid header: "hkdfv1-" then YYYYMMDD.
const KidPrefix = "hkdfv1-"

// DateFormat is the Go layout of the date in the kid and in the key
// derivation ("YYYYMMDD", always in UTC).
const DateFormat = "20060102"

// FormatDate returns t's UTC date as YYYYMMDD.
func FormatDate(t time.Time) string {
	var b [8]byte
	return string(appendDate(b[:0], t))
}

func appendDate(b []byte, t time.Time) []byte {
	y, m, d := t.UTC().Date()
	return append(b,
		byte('0'+y/1000%10), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10),
		byte('0'+int(m)/10), byte('0'+int(m)%10), byte('0'+d/10), byte('0'+d%10))
}

// Kid returns the kid header value for t: "hkdfv1-" + t's UTC date.
func Kid(t time.Time) string { return KidPrefix + FormatDate(t) }

// SigningKey derives the registration-token signing key for the UTC date of
// t, as Sinch's Application authentication pages specify (rule 4 in
// docs/RULES.md):
//
//	HMAC-SHA256(key = BASE64-DECODE(secret), msg = UTF8(FormatDate(t, "YYYYMMDD")))
func SigningKey(secret Secret, t time.Time) []byte {
	return signingKeyForDate(secret.key(), FormatDate(t))
}

// SigningKeyForDate derives the signing key for a YYYYMMDD date string.
func SigningKeyForDate(secret Secret, date string) []byte {
	return signingKeyForDate(secret.key(), date)
}

func signingKeyForDate(key []byte, date string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(date))
	return m.Sum(nil)
}

// parseKidDate validates "hkdfv1-YYYYMMDD" with a real calendar date and
// returns the date part.
func parseKidDate(kid string) (string, bool) {
	if len(kid) != len(KidPrefix)+8 || !strings.HasPrefix(kid, KidPrefix) {
		return "", false
	}
	d := kid[len(KidPrefix):]
	n := 0
	for i := 0; i < 8; i++ {
		c := d[i]
		if c < '0' || c > '9' {
			return "", false
		}
		n = n*10 + int(c-'0')
	}
	y, m, day := n/10000, n/100%100, n%100
	if y < 1970 || m < 1 || m > 12 || day < 1 || day > daysIn(time.Month(m), y) {
		return "", false
	}
	return d, true
}

func daysIn(m time.Month, year int) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// Keyring holds application secrets and caches the keys derived from them,
// one per application and date, so that minting and verifying cost one HMAC
// instead of two. It is safe for concurrent use.
type Keyring struct {
	mu   sync.RWMutex
	apps map[string]*appKeys
}

type appKeys struct {
	secret Secret
	mu     sync.Mutex
	dates  map[string]*dateKey
	order  []string // insertion order, for eviction
}

// maxDatesPerApp bounds the derived-key cache of one application. Three
// dates are live at most (yesterday, today, tomorrow near midnight with
// leeway); the rest is history kept for replays of old vectors.
const maxDatesPerApp = 8

// NewKeyring returns an empty keyring.
func NewKeyring() *Keyring { return &Keyring{apps: make(map[string]*appKeys)} }

// Add registers (or replaces) an application's secret.
func (k *Keyring) Add(applicationKey string, secret Secret) {
	k.mu.Lock()
	k.apps[applicationKey] = &appKeys{secret: secret, dates: make(map[string]*dateKey)}
	k.mu.Unlock()
}

// Remove forgets an application.
func (k *Keyring) Remove(applicationKey string) {
	k.mu.Lock()
	delete(k.apps, applicationKey)
	k.mu.Unlock()
}

// Secret returns an application's secret.
func (k *Keyring) Secret(applicationKey string) (Secret, bool) {
	k.mu.RLock()
	a := k.apps[applicationKey]
	k.mu.RUnlock()
	if a == nil {
		return Secret{}, false
	}
	return a.secret, true
}

// Applications returns the known application keys (unordered).
func (k *Keyring) Applications() []string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	out := make([]string, 0, len(k.apps))
	for key := range k.apps {
		out = append(out, key)
	}
	return out
}

func (k *Keyring) app(applicationKey string) *appKeys {
	k.mu.RLock()
	a := k.apps[applicationKey]
	k.mu.RUnlock()
	return a
}

func (a *appKeys) forDate(date string) *dateKey {
	a.mu.Lock()
	defer a.mu.Unlock()
	if dk := a.dates[date]; dk != nil {
		return dk
	}
	dk := newDateKey(signingKeyForDate(a.secret.key(), date))
	if len(a.order) >= maxDatesPerApp {
		delete(a.dates, a.order[0])
		a.order = append(a.order[:0], a.order[1:]...)
	}
	a.dates[date] = dk
	a.order = append(a.order, date)
	return dk
}

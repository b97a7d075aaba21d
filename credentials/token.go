package credentials

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/benbjohnson/clock"
	"github.com/golang-jwt/jwt/v5"
	"github.com/sinchsim/sinchsim/internal/jsonobj"
)

// Fixed values of the registration token, as Sinch's Application
// authentication pages give them (rules 2-5 in docs/RULES.md).
const (
	// Algorithm is the only accepted JWS algorithm.
	Algorithm = "HS256"
	// IssuerPrefix is iss without the application key.
	IssuerPrefix = "//rtc.sinch.com/applications/"
	// InstanceExpiryClaim limits the lifetime of the instance a token creates or extends.
	InstanceExpiryClaim = "sinch:rtc:instance:exp"

	// DefaultTokenTTL is the token lifetime Mint uses when none is given.
	DefaultTokenTTL = 10 * time.Minute
	// MinTokenTTL is the shortest token lifetime Sinch accepts (exp - iat).
	MinTokenTTL = time.Minute
	// MinInstanceTTL is the shortest instance lifetime Sinch accepts
	// (sinch:rtc:instance:exp - iat).
	MinInstanceTTL = 48 * time.Hour
	// RecommendedInstanceTTL is what Sinch's Application authentication
	// page recommends: twelve months.
	RecommendedInstanceTTL = 365 * 24 * time.Hour
	// MaxUserIDLength is the longest user id, in bytes.
	MaxUserIDLength = 255
	// MaxTokenLength bounds what Verify reads; longer input is token_malformed.
	MaxTokenLength = 8 << 10
	// MaxNonceLength is the longest nonce accepted, in bytes (a UUID has 36).
	MaxNonceLength = 256
)

// Issuer returns iss for an application key.
func Issuer(applicationKey string) string { return IssuerPrefix + applicationKey }

// Subject returns sub for an application key and user id.
func Subject(applicationKey, userID string) string {
	return IssuerPrefix + applicationKey + "/users/" + userID
}

// ValidateUserID checks the user id part of rule 5 in docs/RULES.md: 1 to
// 255 bytes of A-Z a-z 0-9 - _ =. The error is an *Error with code user_id_invalid.
func ValidateUserID(userID string) error {
	if reason := userIDProblem(userID); reason != "" {
		return reject(CodeUserIDInvalid, reason)
	}
	return nil
}

func userIDProblem(u string) string {
	if u == "" {
		return "user id is empty"
	}
	if len(u) > MaxUserIDLength {
		return "user id is " + strconv.Itoa(len(u)) + " bytes; at most 255 are allowed"
	}
	for i := 0; i < len(u); i++ {
		if !userIDByte(u[i]) {
			if !utf8.ValidString(u) {
				return "user id is not valid UTF-8"
			}
			r, _ := utf8.DecodeRuneInString(u[i:])
			return fmt.Sprintf("user id has the character %q at byte %d; only A-Z a-z 0-9 - _ = are allowed", r, i)
		}
	}
	return ""
}

func userIDByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '='
}

// Header is the decoded JOSE header of a registration token.
type Header struct {
	Alg string // always "HS256" in a verified token
	Kid string // "hkdfv1-YYYYMMDD"
	// Typ is the optional "typ" header some encoders add ("JWT").
	Typ string
	// Extra names any other header members, in token order. Verification
	// ignores them; Explain reports them.
	Extra []string
}

// Claims are the decoded claims of a registration token. Times are seconds
// since the Unix epoch; InstanceExpiresAt is 0 when the token carries no
// sinch:rtc:instance:exp. ApplicationKey and UserID are parsed out of iss
// and sub.
type Claims struct {
	Issuer            string // iss: IssuerPrefix + application key
	Subject           string // sub: iss + "/users/" + user id
	IssuedAt          int64  // iat
	ExpiresAt         int64  // exp
	NotBefore         int64  // nbf, optional (0 when absent)
	Nonce             string // nonce
	InstanceExpiresAt int64  // sinch:rtc:instance:exp, optional (0 when absent)

	ApplicationKey string // from iss
	UserID         string // from sub
}

// TTL is exp - iat.
func (c *Claims) TTL() time.Duration { return time.Duration(c.ExpiresAt-c.IssuedAt) * time.Second }

// InstanceTTL is sinch:rtc:instance:exp - iat, or 0 when the claim is absent.
func (c *Claims) InstanceTTL() time.Duration {
	if c.InstanceExpiresAt == 0 {
		return 0
	}
	return time.Duration(c.InstanceExpiresAt-c.IssuedAt) * time.Second
}

// InstanceExpiry returns sinch:rtc:instance:exp as a time and whether the claim is present.
func (c *Claims) InstanceExpiry() (time.Time, bool) {
	if c.InstanceExpiresAt == 0 {
		return time.Time{}, false
	}
	return time.Unix(c.InstanceExpiresAt, 0).UTC(), true
}

// Claims implements jwt.Claims so that golang-jwt users can parse a
// registration token into this type too.
var _ jwt.Claims = (*Claims)(nil)

func numericDate(s int64) *jwt.NumericDate {
	if s == 0 {
		return nil
	}
	return jwt.NewNumericDate(time.Unix(s, 0))
}

// GetExpirationTime implements jwt.Claims.
func (c *Claims) GetExpirationTime() (*jwt.NumericDate, error) { return numericDate(c.ExpiresAt), nil }

// GetIssuedAt implements jwt.Claims.
func (c *Claims) GetIssuedAt() (*jwt.NumericDate, error) { return numericDate(c.IssuedAt), nil }

// GetNotBefore implements jwt.Claims.
func (c *Claims) GetNotBefore() (*jwt.NumericDate, error) { return numericDate(c.NotBefore), nil }

// GetIssuer implements jwt.Claims.
func (c *Claims) GetIssuer() (string, error) { return c.Issuer, nil }

// GetSubject implements jwt.Claims.
func (c *Claims) GetSubject() (string, error) { return c.Subject, nil }

// GetAudience implements jwt.Claims; registration tokens have no audience.
func (c *Claims) GetAudience() (jwt.ClaimStrings, error) { return nil, nil }

// UnmarshalJSON decodes a claims object with the strict reader of Verify
// (no duplicate members, valid UTF-8, numeric times), so that
// jwt.ParseWithClaims(token, &credentials.Claims{}, ...) works. It fills
// ApplicationKey and UserID when iss and sub have the registration-token
// form, and leaves them empty otherwise; it checks types only, not the
// rules (use a Verifier for those). Errors are *Error values.
func (c *Claims) UnmarshalJSON(b []byte) error {
	var buf [16]jsonobj.Member
	fields, err := jsonobj.Parse(b, buf[:0], tokenJSON)
	if err != nil {
		return reject(CodeTokenMalformed, "claims JSON: "+err.Error())
	}
	*c = Claims{}
	for i := range fields {
		if id, ok := claimOf(fields[i].Key); ok {
			if reason := c.set(id, &field{fields[i].Kind, fields[i].Value}); reason != "" {
				return reject(CodeClaimInvalid, reason)
			}
		}
	}
	if app, ok := strings.CutPrefix(c.Issuer, IssuerPrefix); ok && app != "" && !strings.Contains(app, "/") {
		c.ApplicationKey = app
		if user, ok := strings.CutPrefix(c.Subject, c.Issuer+"/users/"); ok && userIDProblem(user) == "" {
			c.UserID = user
		}
	}
	return nil
}

// Token is a decoded, verified registration token.
type Token struct {
	// Raw is the compact token as given.
	Raw    string
	Header Header // the decoded header
	Claims Claims // the decoded claims
	// HeaderJSON and ClaimsJSON are the decoded JSON texts, as encoded.
	HeaderJSON []byte
	ClaimsJSON []byte
}

// MinterConfig configures a Minter. Zero values take the defaults noted.
type MinterConfig struct {
	// ApplicationKey and Secret identify the application; both are required.
	ApplicationKey string
	Secret         Secret // the application secret, never printed
	// Clock supplies iat; nil means the real clock.
	Clock clock.Clock
	// TTL is exp - iat; 0 means DefaultTokenTTL (10 minutes); under a minute is refused.
	TTL time.Duration
	// InstanceTTL, when set, adds sinch:rtc:instance:exp = iat + InstanceTTL;
	// under 48 hours is refused. 0 leaves the claim out.
	InstanceTTL time.Duration
}

// Minter mints registration tokens for one application. It caches the
// derived signing key per date and is safe for concurrent use.
//
// Self-signing on a device needs the application secret on the device;
// Sinch's documentation warns against shipping it. Use a Minter in tests,
// in bots and in auth servers, not in production clients.
type Minter struct {
	cfg  MinterConfig
	keys *appKeys

	// The claims up to the user id, encoded once (see splitPrefix).
	prefixEnc  string
	prefixTail []byte
	// today caches the header and key of the last date minted for (see
	// forDate).
	today atomic.Pointer[mintDate]
}

// ErrConfig is wrapped by configuration errors (bad TTLs, missing key).
var ErrConfig = errors.New("credentials: invalid configuration")

// NewMinter validates cfg and returns a Minter. Errors wrap ErrConfig.
func NewMinter(cfg MinterConfig) (*Minter, error) {
	if cfg.ApplicationKey == "" {
		return nil, fmt.Errorf("%w: application key is empty", ErrConfig)
	}
	// iss must decode to IssuerPrefix + key and nothing else.
	if !utf8.ValidString(cfg.ApplicationKey) || strings.Contains(cfg.ApplicationKey, "/") {
		return nil, fmt.Errorf("%w: application key %s is not valid UTF-8 without '/'", ErrConfig, quoteShort(cfg.ApplicationKey))
	}
	if cfg.Secret.IsZero() {
		return nil, fmt.Errorf("%w: application secret is missing", ErrConfig)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.New()
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTokenTTL
	}
	if err := checkTTLs(cfg.TTL, cfg.InstanceTTL); err != nil {
		return nil, err
	}
	m := &Minter{cfg: cfg, keys: &appKeys{secret: cfg.Secret, dates: map[string]*dateKey{}}}
	prefix := []byte(`{"iss":"` + IssuerPrefix)
	prefix = appendJSONBody(prefix, cfg.ApplicationKey)
	prefix = append(prefix, `","sub":"`+IssuerPrefix...)
	prefix = appendJSONBody(prefix, cfg.ApplicationKey)
	prefix = append(prefix, "/users/"...)
	m.prefixEnc, m.prefixTail = splitPrefix(prefix)
	return m, nil
}

func checkTTLs(ttl, instanceTTL time.Duration) error {
	if ttl < MinTokenTTL {
		return fmt.Errorf("%w: token TTL %v is under the 1 minute Sinch requires", ErrConfig, ttl)
	}
	if ttl%time.Second != 0 {
		return fmt.Errorf("%w: token TTL %v is not whole seconds", ErrConfig, ttl)
	}
	if instanceTTL != 0 && instanceTTL < MinInstanceTTL {
		return fmt.Errorf("%w: instance TTL %v is under the 48 hours Sinch requires", ErrConfig, instanceTTL)
	}
	if instanceTTL%time.Second != 0 {
		return fmt.Errorf("%w: instance TTL %v is not whole seconds", ErrConfig, instanceTTL)
	}
	return nil
}

// InstanceTTL returns the instance TTL the Minter adds by default (0: none).
func (m *Minter) InstanceTTL() time.Duration { return m.cfg.InstanceTTL }

// ApplicationKey returns the application the Minter signs for.
func (m *Minter) ApplicationKey() string { return m.cfg.ApplicationKey }

// MintParams overrides a Minter's defaults for one token.
type MintParams struct {
	// UserID is required.
	UserID string
	// Nonce defaults to a random UUID from crypto/rand.
	Nonce string
	// Now is iat; zero means the Minter's clock.
	Now time.Time
	// TTL and InstanceTTL override the Minter's; the same limits apply.
	TTL         time.Duration
	InstanceTTL time.Duration // adds sinch:rtc:instance:exp = iat + InstanceTTL
	// NoInstanceTTL drops sinch:rtc:instance:exp even when the Minter sets one.
	NoInstanceTTL bool
	// RequireInstanceTTL makes sure the token carries
	// sinch:rtc:instance:exp: when neither the params nor the Minter set an
	// instance TTL, RecommendedInstanceTTL (twelve months) is used. An auth
	// server sets it when the client asks for a limited token
	// (credentials.Request.InstanceTTL, the {instanceTtl} placeholder).
	RequireInstanceTTL bool
}

// Mint returns a token for userID with the Minter's defaults.
func (m *Minter) Mint(userID string) (string, error) {
	return m.MintWith(MintParams{UserID: userID})
}

// MintWith returns a token: header {"alg":"HS256","kid":"hkdfv1-DATE"},
// claims in the order iss, sub, iat, exp, nonce[, sinch:rtc:instance:exp],
// minified, signed with the key of iat's UTC date. It reproduces the example
// of Sinch's Application authentication page byte for byte.
func (m *Minter) MintWith(p MintParams) (string, error) {
	if err := ValidateUserID(p.UserID); err != nil {
		return "", err
	}
	ttl, ittl := m.cfg.TTL, m.cfg.InstanceTTL
	if p.TTL != 0 {
		ttl = p.TTL
	}
	if p.InstanceTTL != 0 {
		ittl = p.InstanceTTL
	}
	if p.NoInstanceTTL {
		ittl = 0
	}
	if p.RequireInstanceTTL && ittl == 0 {
		ittl = RecommendedInstanceTTL
	}
	if p.TTL != 0 || p.InstanceTTL != 0 {
		if err := checkTTLs(ttl, ittl); err != nil {
			return "", err
		}
	}
	now := p.Now
	if now.IsZero() {
		now = m.cfg.Clock.Now()
	}
	if p.Nonce != "" && (!utf8.ValidString(p.Nonce) || len(p.Nonce) > MaxNonceLength) {
		return "", fmt.Errorf("%w: nonce is not valid UTF-8 of at most %d bytes", ErrConfig, MaxNonceLength)
	}
	iat := now.Unix()

	// The claims after the constant prefix, on the stack.
	var scratch [512]byte
	rest := append(scratch[:0], m.prefixTail...)
	rest = append(rest, p.UserID...) // validated: nothing to escape
	rest = append(rest, `","iat":`...)
	rest = strconv.AppendInt(rest, iat, 10)
	rest = append(rest, `,"exp":`...)
	rest = strconv.AppendInt(rest, iat+int64(ttl/time.Second), 10)
	rest = append(rest, `,"nonce":`...)
	if p.Nonce == "" {
		rest = append(rest, '"')
		rest = appendUUID(rest)
		rest = append(rest, '"')
	} else {
		rest = jsonobj.AppendString(rest, p.Nonce)
	}
	if ittl != 0 {
		rest = append(rest, `,"`+InstanceExpiryClaim+`":`...)
		rest = strconv.AppendInt(rest, iat+int64(ittl/time.Second), 10)
	}
	rest = append(rest, '}')

	md := m.forDate(now)
	enc := base64.RawURLEncoding
	var b strings.Builder
	b.Grow(len(md.header) + len(m.prefixEnc) + enc.EncodedLen(len(rest)) + 1 + enc.EncodedLen(sha256.Size))
	b.WriteString(md.header)
	b.WriteString(m.prefixEnc)
	var encoded [704]byte
	b.Write(enc.AppendEncode(encoded[:0], rest))
	sig := md.key.sign(b.String())
	b.WriteByte('.')
	b.Write(enc.AppendEncode(encoded[:0], sig[:]))
	return b.String(), nil
}

// appendJSONBody appends s JSON-escaped without the surrounding quotes.
func appendJSONBody(b []byte, s string) []byte {
	n := len(b)
	b = jsonobj.AppendString(b, s)
	copy(b[n:], b[n+1:len(b)-1])
	return b[:len(b)-2]
}

// appendUUID appends a random RFC 4122 version 4 UUID in its 36-character form.
func appendUUID(dst []byte) []byte {
	var u [16]byte
	random16(&u)
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	const hexdig = "0123456789abcdef"
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst = append(dst, '-')
		}
		dst = append(dst, hexdig[c>>4], hexdig[c&0xf])
	}
	return dst
}

// NewNonce returns a fresh random nonce (a version 4 UUID from crypto/rand).
func NewNonce() string { return string(appendUUID(make([]byte, 0, 36))) }

package credentials

import (
	"crypto/hmac"
	"encoding/base64"
	"math"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/benbjohnson/clock"
	"github.com/sinchsim/sinchsim/internal/jsonobj"
)

// NonceStore is the hook through which a backend plugs in replay protection
// (DESIGN rule 7). The verifier calls Use only for tokens that passed every
// other rule, so forged tokens cannot fill the store.
type NonceStore interface {
	// Use records nonce for applicationKey until validUntil (the token's exp
	// plus leeway) and reports whether it was unused. An error means the
	// store could not decide (it is full, or unreachable): Verify returns
	// that error as it is, and the token is neither accepted nor called a
	// replay.
	Use(applicationKey, nonce string, validUntil time.Time) (fresh bool, err error)
}

// DefaultLeeway is the clock skew a Verifier tolerates on iat, nbf and exp.
const DefaultLeeway = 30 * time.Second

// VerifierConfig configures a Verifier. The zero value is usable.
type VerifierConfig struct {
	// Clock supplies "now"; nil means the real clock.
	Clock clock.Clock
	// Leeway is the tolerated clock skew; 0 means DefaultLeeway, a negative
	// value means none.
	Leeway time.Duration
	// Nonces, when set, rejects replayed nonces with nonce_reused.
	Nonces NonceStore
}

// Verifier checks registration tokens against every token rule of DESIGN.md
// (1-8). It is safe for concurrent use.
type Verifier struct {
	keys   *Keyring
	clock  clock.Clock
	leeway time.Duration
	nonces NonceStore
}

// NewVerifier returns a Verifier for the applications in keys. keys may
// change afterwards (applications added or removed).
func NewVerifier(keys *Keyring, cfg VerifierConfig) *Verifier {
	v := &Verifier{keys: keys, clock: cfg.Clock, leeway: cfg.Leeway, nonces: cfg.Nonces}
	if v.clock == nil {
		v.clock = clock.New()
	}
	if v.leeway == 0 {
		v.leeway = DefaultLeeway
	} else if v.leeway < 0 {
		v.leeway = 0
	}
	return v
}

// Leeway returns the tolerated clock skew.
func (v *Verifier) Leeway() time.Duration { return v.leeway }

// VerifyOptions are the per-registration inputs of Verify.
type VerifyOptions struct {
	// User, when set, must be the user named in sub (the connecting user).
	User string
	// ChallengeTime is when the client was asked for credentials; its UTC
	// date is an accepted kid date (seed 004). Zero: only today's date.
	ChallengeTime time.Time
	// Now overrides the Verifier's clock for this call.
	Now time.Time
}

// tokenJSON reads a token's header or payload (and Claims.UnmarshalJSON's
// input): one strict JSON object of at most 64 members, in valid UTF-8,
// without duplicate members. anyBytesJSON is as strict but for UTF-8, for
// Explain to name the members that hold invalid UTF-8.
var (
	tokenJSON    = jsonobj.Options{MaxMembers: 64}
	anyBytesJSON = jsonobj.Options{MaxMembers: 64, AllowInvalidUTF8: true}
)

// Verify decodes and checks token. On success it returns the decoded token;
// otherwise a nil token and an *Error. The first failing check decides the
// code; the checks run in this order:
//
//   - token_malformed: size, three parts, header base64 and JSON
//   - token_algorithm, kid_invalid: the header
//   - token_malformed, claim_invalid: payload base64, JSON and claim types
//   - claim_missing, claim_invalid: iss
//   - unknown_application, kid_date_mismatch
//   - token_malformed, signature_invalid: the signature part
//   - claim_missing (sub), subject_mismatch, user_id_invalid
//   - claim_missing (iat, exp, nonce), token_ttl_too_short,
//     token_not_yet_valid, token_expired, instance_ttl_too_short
//   - nonce_reused (only with a NonceStore, only for an otherwise valid token)
func (v *Verifier) Verify(token string, opt VerifyOptions) (*Token, error) {
	if len(token) > MaxTokenLength {
		return nil, reject(CodeTokenMalformed, "token is "+strconv.Itoa(len(token))+" bytes; at most "+strconv.Itoa(MaxTokenLength)+" are accepted")
	}
	h64, c64, s64, ok := splitToken(token)
	if !ok {
		return nil, reject(CodeTokenMalformed, "a JWT has three dot-separated parts; this has "+strconv.Itoa(strings.Count(token, ".")+1))
	}
	hjson, e := decodeSegment(nil, h64, "header")
	if e != nil {
		return nil, e
	}
	var fbuf [16]jsonobj.Member
	hfields, err := jsonobj.Parse(hjson, fbuf[:0], tokenJSON)
	if err != nil {
		return nil, reject(CodeTokenMalformed, "header JSON: "+err.Error())
	}
	hdr, e := headerFromFields(hfields)
	if e != nil {
		return nil, e
	}
	kidDate, ok := parseKidDate(hdr.Kid)
	if !ok {
		return nil, reject(CodeKidInvalid, "kid "+quoteShort(hdr.Kid)+" is not hkdfv1-YYYYMMDD with a real date")
	}

	cjson, e := decodeSegment(make([]byte, 0, base64.RawURLEncoding.DecodedLen(len(c64))), c64, "payload")
	if e != nil {
		return nil, e
	}
	cfields, err := jsonobj.Parse(cjson, fbuf[:0], tokenJSON)
	if err != nil {
		return nil, reject(CodeTokenMalformed, "payload JSON: "+err.Error())
	}
	tok := &Token{Raw: token, Header: hdr, HeaderJSON: hjson, ClaimsJSON: cjson}
	c := &tok.Claims
	if e := c.fromFields(cfields); e != nil {
		return nil, e
	}
	if c.Issuer == "" {
		return nil, reject(CodeClaimMissing, "iss is missing")
	}
	appKey, ok := strings.CutPrefix(c.Issuer, IssuerPrefix)
	if !ok || appKey == "" || strings.Contains(appKey, "/") {
		return nil, reject(CodeClaimInvalid, "iss "+quoteShort(c.Issuer)+" is not "+IssuerPrefix+"{APPLICATION_KEY}")
	}
	c.ApplicationKey = appKey
	app := v.keys.app(appKey)
	if app == nil {
		return nil, reject(CodeUnknownApplication, "iss names application "+quoteShort(appKey)+", which is not known here")
	}

	now := opt.Now
	if now.IsZero() {
		now = v.clock.Now()
	}
	if !v.kidDateAccepted(kidDate, now, opt.ChallengeTime) {
		want := FormatDate(now)
		if !opt.ChallengeTime.IsZero() {
			want = FormatDate(opt.ChallengeTime)
		}
		return nil, reject(CodeKidDateMismatch, "kid date "+kidDate+" is not the UTC date of the challenge or of now ("+want+")")
	}

	var sbuf [48]byte
	sig, e := decodeSegment(sbuf[:0], s64, "signature")
	if e != nil {
		return nil, e
	}
	if len(sig) != 32 {
		return nil, reject(CodeSignatureInvalid, "signature is "+strconv.Itoa(len(sig))+" bytes; HS256 gives 32")
	}
	// The signing input is read in place: hashing only reads it.
	want := app.forDate(kidDate).sign(unsafe.Slice(unsafe.StringData(token), len(h64)+1+len(c64)))
	if !hmac.Equal(want[:], sig) {
		return nil, reject(CodeSignatureInvalid, "signature does not match the key derived from the application secret for "+kidDate)
	}

	if e := v.checkClaims(c, opt, now); e != nil {
		return nil, e
	}
	if v.nonces != nil {
		until := time.Unix(c.ExpiresAt, 0).Add(v.leeway)
		fresh, err := v.nonces.Use(appKey, c.Nonce, until)
		if err != nil {
			return nil, err
		}
		if !fresh {
			return nil, reject(CodeNonceReused, "nonce "+quoteShort(c.Nonce)+" was already used with this application")
		}
	}
	return tok, nil
}

// kidDateAccepted: the challenge's UTC date, or any UTC date touched by
// now ± leeway (so a token minted a second before midnight still verifies a
// second after it). date is a YYYYMMDD that parseKidDate accepted.
func (v *Verifier) kidDateAccepted(date string, now, challenge time.Time) bool {
	day := civilDay(date)
	if !challenge.IsZero() && unixDay(challenge) == day {
		return true
	}
	return unixDay(now.Add(-v.leeway)) <= day && day <= unixDay(now.Add(v.leeway))
}

// unixDay numbers the UTC day holding t: days since 1970-01-01.
func unixDay(t time.Time) int64 {
	s := t.Unix()
	d := s / 86400
	if s%86400 < 0 {
		d--
	}
	return d
}

// civilDay is unixDay for the UTC midnight of a YYYYMMDD date (H. Hinnant's
// days_from_civil), without going through time.Time.
func civilDay(date string) int64 {
	n := int64(0)
	for i := 0; i < 8; i++ {
		n = n*10 + int64(date[i]-'0')
	}
	y, m, d := n/10000, n/100%100, n%100
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := m + 9
	if m > 2 {
		mp = m - 3
	}
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

func (v *Verifier) checkClaims(c *Claims, opt VerifyOptions, now time.Time) *Error {
	if c.Subject == "" {
		return reject(CodeClaimMissing, "sub is missing")
	}
	user, ok := strings.CutPrefix(c.Subject, c.Issuer)
	if ok {
		user, ok = strings.CutPrefix(user, "/users/")
	}
	if !ok {
		return reject(CodeSubjectMismatch, "sub "+quoteShort(c.Subject)+" is not iss + \"/users/{USER_ID}\"")
	}
	if p := userIDProblem(user); p != "" {
		return reject(CodeUserIDInvalid, p)
	}
	c.UserID = user
	if opt.User != "" && opt.User != user {
		return reject(CodeSubjectMismatch, "sub names user "+quoteShort(user)+" but "+quoteShort(opt.User)+" is registering")
	}
	if c.IssuedAt == 0 {
		return reject(CodeClaimMissing, "iat is missing")
	}
	if c.ExpiresAt == 0 {
		return reject(CodeClaimMissing, "exp is missing")
	}
	if c.Nonce == "" {
		return reject(CodeClaimMissing, "nonce is missing")
	}
	if ttl := c.ExpiresAt - c.IssuedAt; ttl < int64(MinTokenTTL/time.Second) {
		return reject(CodeTokenTTLTooShort, "exp - iat is "+strconv.FormatInt(ttl, 10)+" s; Sinch requires at least 60 s")
	}
	nowS := now.Unix()
	lee := int64(v.leeway / time.Second)
	if c.IssuedAt > nowS+lee {
		reason := "iat is " + secondsText(c.IssuedAt-nowS) + " in the future"
		if c.IssuedAt > millisecondsThreshold {
			reason += "; it looks like milliseconds, JWT times are seconds"
		}
		return reject(CodeTokenNotYetValid, reason)
	}
	if c.NotBefore != 0 && c.NotBefore > nowS+lee {
		return reject(CodeTokenNotYetValid, "nbf is "+secondsText(c.NotBefore-nowS)+" in the future")
	}
	if c.ExpiresAt+lee <= nowS {
		return reject(CodeTokenExpired, "exp passed "+secondsText(nowS-c.ExpiresAt)+" ago")
	}
	if c.InstanceExpiresAt != 0 {
		if d := c.InstanceExpiresAt - c.IssuedAt; d < int64(MinInstanceTTL/time.Second) {
			return reject(CodeInstanceTTLTooShort, InstanceExpiryClaim+" - iat is "+secondsText(d)+"; Sinch requires at least 48 h")
		}
	}
	return nil
}

// secondsText renders a count of seconds as a short duration ("90s", "3h0m0s").
func secondsText(s int64) string {
	if s > math.MaxInt64/int64(time.Second) || s < -math.MaxInt64/int64(time.Second) {
		return strconv.FormatInt(s, 10) + "s"
	}
	return (time.Duration(s) * time.Second).String()
}

// decodeSegment decodes one base64url part of a compact JWS, naming the
// classic encoding slips (padding, standard alphabet) in the reason.
func decodeSegment(dst []byte, seg, what string) ([]byte, *Error) {
	if seg == "" {
		return nil, reject(CodeTokenMalformed, what+" part is empty")
	}
	n := base64.RawURLEncoding.DecodedLen(len(seg))
	if cap(dst) < n {
		dst = make([]byte, 0, n)
	}
	dst = dst[:n]
	m, err := base64.RawURLEncoding.Strict().Decode(dst, []byte(seg))
	if err != nil {
		switch {
		case strings.HasSuffix(seg, "="):
			return nil, reject(CodeTokenMalformed, what+" is padded with '='; JWTs use unpadded base64url")
		case strings.ContainsAny(seg, "+/"):
			return nil, reject(CodeTokenMalformed, what+" uses the standard base64 alphabet ('+' or '/'); JWTs use base64url")
		}
		return nil, reject(CodeTokenMalformed, what+" is not base64url")
	}
	return dst[:m], nil
}

func headerFromFields(fields []jsonobj.Member) (Header, *Error) {
	var h Header
	var haveAlg, haveKid bool
	for i := range fields {
		f := &fields[i]
		switch string(f.Key) {
		case "alg":
			if f.Kind != jsonobj.String {
				return h, reject(CodeTokenAlgorithm, "alg is "+f.Kind.String()+", not the string \"HS256\"")
			}
			haveAlg = true
			if string(f.Value) == Algorithm {
				h.Alg = Algorithm // the usual value: no copy
			} else {
				h.Alg = string(f.Value)
			}
		case "kid":
			if f.Kind != jsonobj.String {
				return h, reject(CodeKidInvalid, "kid is "+f.Kind.String()+", not a string")
			}
			h.Kid, haveKid = string(f.Value), true
		case "typ":
			if f.Kind != jsonobj.String || !strings.EqualFold(string(f.Value), "JWT") {
				return h, reject(CodeTokenMalformed, "typ, when present, must be \"JWT\"")
			}
			h.Typ = string(f.Value)
		case "crit":
			return h, reject(CodeTokenMalformed, "header has crit; no critical extensions are supported")
		default:
			h.Extra = append(h.Extra, string(f.Key))
		}
	}
	if !haveAlg {
		return h, reject(CodeTokenAlgorithm, "header has no alg; it must be \"HS256\"")
	}
	if h.Alg != Algorithm {
		return h, reject(CodeTokenAlgorithm, "alg is "+quoteShort(h.Alg)+"; only \"HS256\" is accepted")
	}
	if !haveKid {
		return h, reject(CodeKidInvalid, "header has no kid; it must be hkdfv1-YYYYMMDD")
	}
	return h, nil
}

// fromFields fills c from the payload members, checking JSON types. A
// missing claim stays zero; the caller decides whether it is required.
func (c *Claims) fromFields(fields []jsonobj.Member) *Error {
	for i := range fields {
		f := &fields[i]
		var err *Error
		switch string(f.Key) {
		case "iss":
			c.Issuer, err = claimString(f, "iss")
		case "sub":
			c.Subject, err = claimString(f, "sub")
		case "nonce":
			c.Nonce, err = claimString(f, "nonce")
			if err == nil && len(c.Nonce) > MaxNonceLength {
				err = reject(CodeClaimInvalid, "nonce is "+strconv.Itoa(len(c.Nonce))+" bytes; at most "+strconv.Itoa(MaxNonceLength)+" are accepted")
			}
		case "iat":
			c.IssuedAt, err = claimTime(f, "iat")
		case "exp":
			c.ExpiresAt, err = claimTime(f, "exp")
		case "nbf":
			c.NotBefore, err = claimTime(f, "nbf")
		case InstanceExpiryClaim:
			c.InstanceExpiresAt, err = claimTime(f, InstanceExpiryClaim)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func claimString(f *jsonobj.Member, name string) (string, *Error) {
	if f.Kind != jsonobj.String {
		return "", reject(CodeClaimInvalid, name+" is "+f.Kind.String()+", not a string")
	}
	if len(f.Value) == 0 {
		return "", reject(CodeClaimInvalid, name+" is an empty string")
	}
	return string(f.Value), nil
}

// maxNumericDate bounds time claims so that arithmetic on them cannot
// overflow; it is far beyond any date (and beyond milliseconds timestamps,
// which are reported as lying in the future).
const maxNumericDate = 1 << 53

// millisecondsThreshold: a time claim above it (year 5138 in seconds) is
// almost surely milliseconds.
const millisecondsThreshold = 1e11

func claimTime(f *jsonobj.Member, name string) (int64, *Error) {
	if f.Kind != jsonobj.Number {
		return 0, reject(CodeClaimInvalid, name+" is "+f.Kind.String()+"; it must be a number of seconds since the Unix epoch")
	}
	s, ok := parseNumericDate(f.Value, roundsUp(name))
	if ok && s <= 0 {
		return 0, reject(CodeClaimInvalid, name+" "+quoteShort(f.Value)+" is not a positive number of seconds")
	}
	if !ok || s > maxNumericDate {
		return 0, reject(CodeClaimInvalid, name+" "+quoteShort(f.Value)+" is out of range")
	}
	return s, nil
}

// parseNumericDate accepts a JSON number (RFC 7519 allows fractions) and
// returns whole seconds, rounded up or down. Rounding is always towards the
// stricter reading: iat and nbf up (later), exp and the instance expiry down
// (earlier), so that whole-second checks never accept what the exact
// fractional times would refuse (a TTL of 59.9 s, an nbf 30.5 s ahead).
func parseNumericDate(raw []byte, up bool) (int64, bool) {
	if n, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
		return n, true
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f > math.MaxInt64/2 || f < math.MinInt64/2 {
		return 0, false
	}
	if up {
		return int64(math.Ceil(f)), true
	}
	return int64(math.Floor(f)), true
}

// roundsUp reports whether a time claim is rounded up (see parseNumericDate).
func roundsUp(claim string) bool { return claim == "iat" || claim == "nbf" }

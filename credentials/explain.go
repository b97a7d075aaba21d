package credentials

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"github.com/sinchsim/sinchsim/codes"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sinchsim/sinchsim/internal/jsonobj"
)

// Diagnosis codes: the classic mistakes Explain recognises beyond the rule
// codes. They name a cause; the rule code names the effect.
const (
	// DiagSecretNotBase64Decoded: the HMAC key was derived from the secret's
	// base64 text instead of its decoded bytes (the derivation as the
	// SINClientRegistration Protocol Reference writes it).
	DiagSecretNotBase64Decoded = codes.SecretNotBase64Decoded
	// DiagKeyNotDerived: the token was signed with the secret itself, not
	// with the per-date key derived from it.
	DiagKeyNotDerived = codes.KeyNotDerived
	// DiagKidDateNotUTC: the kid date, or the date the key was derived for,
	// is a neighbouring day of the UTC date of iat: the date was formatted
	// in local time (as Sinch's own samples do).
	DiagKidDateNotUTC = codes.KidDateNotUTC
	// DiagTimestampsInMilliseconds: iat, exp, nbf or sinch:rtc:instance:exp
	// is in milliseconds instead of seconds.
	DiagTimestampsInMilliseconds = codes.TimestampsInMilliseconds
	// DiagHeaderTypo: the header has unexpected members, such as "type" for
	// "typ" or a differently cased "alg"/"kid".
	DiagHeaderTypo = codes.HeaderTypo
	// DiagClaimOrder: the claims are not in the order of Sinch's
	// documented example. Harmless.
	DiagClaimOrder = codes.ClaimOrder
	// DiagTypHeader: the header carries "typ". Harmless.
	DiagTypHeader = codes.TypHeader
	// DiagUnknownClaim: the payload carries claims Sinch does not define. Harmless.
	DiagUnknownClaim = codes.UnknownClaim
	// DiagTokenTTLLong: the token lives longer than an hour; registration
	// tokens are meant to be short-lived.
	DiagTokenTTLLong = codes.TokenTTLLong
	// DiagValid: no finding is a failure; with a secret, the token passed
	// verification.
	DiagValid = codes.Valid
)

// DiagCodes lists the Diag* codes Explain can report besides the rule codes
// of Codes.
func DiagCodes() []string {
	return []string{
		DiagSecretNotBase64Decoded, DiagKeyNotDerived, DiagKidDateNotUTC,
		DiagTimestampsInMilliseconds, DiagHeaderTypo, DiagClaimOrder,
		DiagTypHeader, DiagUnknownClaim, DiagTokenTTLLong, DiagValid,
	}
}

// Severity grades a Finding.
type Severity string

// Severities, from worst. FAIL: the backend rejects the token (or would,
// given the secret). WARN: accepted, but probably not what was meant.
// PASS: accepted; noted for information.
const (
	Fail Severity = "FAIL"
	Warn Severity = "WARN"
	Pass Severity = "PASS"
)

func (s Severity) rank() int {
	switch s {
	case Fail:
		return 0
	case Warn:
		return 1
	}
	return 2
}

// Finding is one observation about a token: a code (a rule code or a Diag*
// code), a severity, and a plain-words message that says what is wrong and
// how to fix it. No message contains the secret or a derived key.
type Finding struct {
	Code     string   `json:"code"`     // a code of Codes or DiagCodes
	Severity Severity `json:"severity"` // FAIL, WARN or PASS
	Message  string   `json:"message"`  // what is wrong and how to fix it, one line
}

// ExplainOptions are the inputs of Explain. All are optional: without the
// secret, signature checks are skipped; without an application key, the
// one named by iss is assumed.
type ExplainOptions struct {
	ApplicationKey string // the application the token should be for
	Secret         Secret // its secret, to check the signature
	// User is the user expected in sub.
	User string
	// Now is the verification time; zero means the current time.
	Now time.Time
	// ChallengeTime is when the client asked for credentials; its UTC date
	// is an accepted kid date, as in VerifyOptions. Zero means iat: Explain
	// judges how a token was made, taking it to answer a challenge made
	// when it was issued.
	ChallengeTime time.Time
	// Leeway as in VerifierConfig: 0 means DefaultLeeway, negative none.
	Leeway time.Duration
}

// Explanation is Explain's result.
type Explanation struct {
	// HeaderJSON and ClaimsJSON are the decoded parts (nil when undecodable).
	HeaderJSON []byte `json:"-"`
	ClaimsJSON []byte `json:"-"`
	// Header and Claims are the decoded members, for display. Numbers are
	// json.Number.
	Header map[string]any `json:"header,omitempty"`
	Claims map[string]any `json:"claims,omitempty"`
	// Verdict is the verification error; nil when the token verified (or
	// could not be verified for lack of a secret: see Verified).
	Verdict error `json:"-"`
	// Verified is true when a secret was given and the token passed.
	Verified bool `json:"verified"`
	// Findings lists every observation, at most one per code: failures
	// first, then warnings, then notes. When nothing failed, the first
	// finding is DiagValid.
	Findings []Finding `json:"findings"`
}

// Failed reports whether any finding has severity FAIL.
func (x *Explanation) Failed() bool {
	for _, f := range x.Findings {
		if f.Severity == Fail {
			return true
		}
	}
	return false
}

// Has reports whether a finding with code exists.
func (x *Explanation) Has(code string) bool { return x.Finding(code) != nil }

// Finding returns the finding with code, or nil.
func (x *Explanation) Finding(code string) *Finding {
	for i := range x.Findings {
		if x.Findings[i].Code == code {
			return &x.Findings[i]
		}
	}
	return nil
}

// Codes returns the codes of the findings, in order.
func (x *Explanation) Codes() []string {
	out := make([]string, len(x.Findings))
	for i, f := range x.Findings {
		out[i] = f.Code
	}
	return out
}

// add records a finding, keeping one per code: a worse severity replaces
// the earlier message, an equal one is appended to it, a milder one is
// dropped.
func (x *Explanation) add(code string, sev Severity, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if f := x.Finding(code); f != nil {
		switch {
		case sev.rank() < f.Severity.rank():
			f.Severity, f.Message = sev, msg
		case sev == f.Severity && !strings.Contains(f.Message, msg):
			f.Message += "; " + msg
		}
		return
	}
	x.Findings = append(x.Findings, Finding{Code: code, Severity: sev, Message: msg})
}

// addOnce records a finding unless one with code exists (the verifier's
// reason restates what the static checks already said).
func (x *Explanation) addOnce(code string, sev Severity, format string, args ...any) {
	if f := x.Finding(code); f != nil {
		if sev.rank() < f.Severity.rank() {
			f.Severity = sev
		}
		return
	}
	x.add(code, sev, format, args...)
}

// String renders a human-readable decode and the findings.
func (x *Explanation) String() string {
	var b strings.Builder
	if x.HeaderJSON != nil {
		b.WriteString("header:  ")
		b.WriteString(Excerpt(x.HeaderJSON, 400))
		b.WriteByte('\n')
	}
	if x.ClaimsJSON != nil {
		b.WriteString("claims:  ")
		b.WriteString(Excerpt(x.ClaimsJSON, 1000))
		b.WriteByte('\n')
	}
	for _, k := range []string{"iat", "exp", "nbf", InstanceExpiryClaim} {
		if v, ok := x.Claims[k].(json.Number); ok {
			if n, err := v.Int64(); err == nil && n > 0 && n < maxNumericDate {
				if n > millisecondsThreshold {
					fmt.Fprintf(&b, "  %-22s %s (read as milliseconds)\n", k, time.UnixMilli(n).UTC().Format(time.RFC3339))
				} else {
					fmt.Fprintf(&b, "  %-22s %s\n", k, time.Unix(n, 0).UTC().Format(time.RFC3339))
				}
			}
		}
	}
	b.WriteString("findings:\n")
	for _, f := range x.Findings {
		fmt.Fprintf(&b, "  %s %s: %s\n", f.Severity, f.Code, f.Message)
	}
	return b.String()
}

// Explain decodes token as far as it can and names what is wrong with it in
// plain words, including the classic mistakes of hand-written auth servers:
// an HMAC keyed with the secret's text instead of its base64 decoding, a key
// used without derivation, a kid date formatted in local time, timestamps in
// milliseconds, header typos, missing claims, too short token or instance
// TTLs and bad user ids. With the secret it also runs full verification
// and, when the signature does not match, says which wrong key would have
// produced it.
//
// A finding is FAIL only when the backend would reject the token for it; a
// valid token, however unusual (typ header, sorted claims, whitespace), gets
// no FAIL.
func Explain(token string, opt ExplainOptions) *Explanation {
	x := &Explanation{}
	token = strings.TrimSpace(token)
	now := opt.Now
	if now.IsZero() {
		now = time.Now()
	}
	lee := opt.Leeway
	if lee == 0 {
		lee = DefaultLeeway
	} else if lee < 0 {
		lee = 0
	}
	if len(token) > MaxTokenLength {
		x.add(CodeTokenMalformed, Fail, "the token is %d bytes; at most %d are accepted", len(token), MaxTokenLength)
		x.verify(token, opt, nil, now)
		return x
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		hint := ""
		if len(parts) == 5 {
			hint = " (five parts is an encrypted JWE; Sinch needs a signed JWS)"
		}
		x.add(CodeTokenMalformed, Fail, "a JWT has three dot-separated parts (header.payload.signature); this has %d%s", len(parts), hint)
		x.verify(token, opt, nil, now)
		return x
	}
	x.HeaderJSON = x.decodeLenient(parts[0], "header")
	x.ClaimsJSON = x.decodeLenient(parts[1], "payload")
	x.checkSignaturePart(parts[2])
	x.Header = x.parseLenient(x.HeaderJSON, "header")
	x.Claims = x.parseLenient(x.ClaimsJSON, "payload")

	x.checkHeader()
	claims := x.checkClaims(opt, now, lee)

	if err := x.verify(token, opt, claims, now); err != nil {
		code := CodeOf(err)
		reason := err.Error()
		if e, ok := err.(*Error); ok {
			reason = e.Reason
		}
		switch code {
		case CodeSignatureInvalid:
			reason += x.diagnoseSignature(parts, opt.Secret, claims, now)
		case CodeKidDateMismatch, CodeClaimMissing, CodeClaimInvalid:
			// Verification stopped before the signature: check it too,
			// so that a second mistake shows up in the same run.
			x.diagnoseKey(parts, opt.Secret, claims, now, true)
		}
		x.addOnce(code, Fail, "%s", reason)
	}
	x.finish()
	return x
}

// verify runs the Verifier when a secret is given, for the application
// given or else the one iss names, and records the verdict.
func (x *Explanation) verify(token string, opt ExplainOptions, claims *Claims, now time.Time) error {
	if opt.Secret.IsZero() {
		return nil
	}
	appKey := opt.ApplicationKey
	if appKey == "" && claims != nil {
		appKey = claims.ApplicationKey
	}
	keys := NewKeyring()
	if appKey != "" {
		keys.Add(appKey, opt.Secret)
	}
	v := NewVerifier(keys, VerifierConfig{Leeway: opt.Leeway})
	_, err := v.Verify(token, VerifyOptions{User: opt.User, Now: now, ChallengeTime: challengeTime(opt, claims)})
	x.Verdict = err
	x.Verified = err == nil
	return err
}

// finish orders the findings and puts the verdict first when nothing failed.
func (x *Explanation) finish() {
	x.sortFindings()
	if !x.Failed() {
		msg := "no problem found (signature not checked: give the application secret to check it)"
		if x.Verified {
			msg = "the token passes every rule, signature included"
		}
		x.Findings = append([]Finding{{Code: DiagValid, Severity: Pass, Message: msg}}, x.Findings...)
	}
}

// challengeTime is the challenge time Explain assumes: the one given, else
// iat when it is a plausible time in seconds.
func challengeTime(opt ExplainOptions, c *Claims) time.Time {
	if !opt.ChallengeTime.IsZero() {
		return opt.ChallengeTime
	}
	if c != nil && c.IssuedAt > 0 && c.IssuedAt < millisecondsThreshold {
		return time.Unix(c.IssuedAt, 0)
	}
	return time.Time{}
}

func (x *Explanation) sortFindings() {
	sort.SliceStable(x.Findings, func(i, j int) bool { return x.Findings[i].Severity.rank() < x.Findings[j].Severity.rank() })
}

func (x *Explanation) decodeLenient(seg, what string) []byte {
	if b, err := base64.RawURLEncoding.Strict().DecodeString(seg); err == nil {
		return b
	}
	for _, enc := range []*base64.Encoding{base64.URLEncoding, base64.StdEncoding, base64.RawStdEncoding} {
		if b, err := enc.DecodeString(seg); err == nil {
			x.add(CodeTokenMalformed, Fail, "the %s is encoded with padded or standard base64; JWTs use unpadded base64url (RFC 7515): replace + with -, / with _ and drop the =", what)
			return b
		}
	}
	x.add(CodeTokenMalformed, Fail, "the %s is not base64url", what)
	return nil
}

func (x *Explanation) checkSignaturePart(seg string) {
	if seg == "" {
		x.add(CodeTokenMalformed, Fail, "the signature part is empty: the token is unsigned; sign it with HS256 and the derived key")
		return
	}
	if _, err := base64.RawURLEncoding.Strict().DecodeString(seg); err != nil {
		x.decodeLenient(seg, "signature")
	}
}

// parseLenient decodes a header or payload for display and for the checks
// below, reporting (once) why the strict reader refuses it.
func (x *Explanation) parseLenient(b []byte, what string) map[string]any {
	if b == nil {
		return nil
	}
	var buf [16]jsonobj.Member
	fields, reason := jsonobj.Parse(b, buf[:0], tokenJSON)
	if reason == "" {
		return fieldsMap(fields)
	}
	if fields, r := jsonobj.Parse(b, buf[:0], anyBytesJSON); r == "" {
		x.add(CodeTokenMalformed, Fail, "the %s has invalid UTF-8 in %s; JSON text must be UTF-8", what, badUTF8Members(fields))
		return fieldsMap(fields)
	}
	x.add(CodeTokenMalformed, Fail, "the %s is not strict JSON: %s", what, reason)
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if d.Decode(&m) != nil {
		return nil
	}
	return m
}

func fieldsMap(fields []jsonobj.Member) map[string]any {
	m := make(map[string]any, len(fields))
	for _, f := range fields {
		k := string(f.Key)
		switch f.Kind {
		case jsonobj.String:
			m[k] = string(f.Value)
		case jsonobj.Number:
			m[k] = json.Number(f.Value)
		case jsonobj.Bool:
			m[k] = f.Value[0] == 't'
		case jsonobj.Null:
			m[k] = nil
		default:
			var v any
			d := json.NewDecoder(bytes.NewReader(f.Value))
			d.UseNumber()
			_ = d.Decode(&v)
			m[k] = v
		}
	}
	return m
}

func badUTF8Members(fields []jsonobj.Member) string {
	var names []string
	for _, f := range fields {
		if !utf8.Valid(f.Key) || !utf8.Valid(f.Value) {
			names = append(names, quoteShort(strings.ToValidUTF8(string(f.Key), "\uFFFD")))
		}
	}
	if len(names) == 0 {
		return "a nested value"
	}
	return "the member " + strings.Join(names, ", ")
}

func (x *Explanation) checkHeader() {
	h := x.Header
	if h == nil {
		return
	}
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var notes []string
	typoSev := Warn
	for _, k := range keys {
		switch k {
		case "alg", "kid", "typ":
			continue
		case "crit":
			x.add(CodeTokenMalformed, Fail, "the header has crit; no critical extensions are supported: remove it")
			continue
		}
		switch lk := strings.ToLower(k); lk {
		case "type":
			notes = append(notes, fmt.Sprintf("%q, which should be \"typ\" (or left out: Sinch needs only alg and kid)", k))
		case "alg", "kid", "typ":
			if _, ok := h[lk]; !ok && lk != "typ" {
				typoSev = Fail // the right member is missing because of it
			}
			notes = append(notes, fmt.Sprintf("%q, which should be %q (member names are case-sensitive)", k, lk))
		default:
			notes = append(notes, fmt.Sprintf("the unexpected member %s (Sinch's header is exactly {\"alg\":\"HS256\",\"kid\":\"hkdfv1-YYYYMMDD\"})", quoteShort(k)))
		}
	}
	if len(notes) > 0 {
		x.add(DiagHeaderTypo, typoSev, "the header has %s", strings.Join(notes, "; "))
	}
	if typ, ok := h["typ"]; ok {
		if s, isStr := typ.(string); isStr && strings.EqualFold(s, "JWT") {
			x.add(DiagTypHeader, Pass, "the header carries typ %q (as many JWT libraries add); accepted", s)
		} else {
			x.add(CodeTokenMalformed, Fail, "typ is %s; when present it must be \"JWT\" (or leave it out)", jsonText(typ))
		}
	}
	alg, ok := h["alg"].(string)
	switch {
	case !ok && h["alg"] == nil:
		x.add(CodeTokenAlgorithm, Fail, "the header has no alg; set \"alg\":\"HS256\"")
	case !ok || alg != Algorithm:
		x.add(CodeTokenAlgorithm, Fail, "alg is %s; Sinch accepts only \"HS256\" (HMAC-SHA256 with the derived key)", jsonText(h["alg"]))
	}
	kid, ok := h["kid"].(string)
	if !ok {
		x.add(CodeKidInvalid, Fail, "the header has no string kid; set \"kid\":\"hkdfv1-\" + the UTC date as YYYYMMDD")
	} else if _, ok := parseKidDate(kid); !ok {
		x.add(CodeKidInvalid, Fail, "kid %s is not hkdfv1-YYYYMMDD with a real date", quoteShort(kid))
	}
}

func jsonText(v any) string {
	if v == nil {
		return "missing"
	}
	b, _ := json.Marshal(v)
	return Excerpt(b, 40)
}

var seedClaimOrder = []string{"iss", "sub", "iat", "exp", "nonce", InstanceExpiryClaim}

// checkClaims runs the rules that need no secret, with the severities the
// verifier would give, and returns what it could decode (nil when the
// payload could not be decoded at all).
func (x *Explanation) checkClaims(opt ExplainOptions, now time.Time, lee time.Duration) *Claims {
	m := x.Claims
	if m == nil {
		return nil
	}
	var missing []string
	for _, name := range []string{"iss", "sub", "iat", "exp", "nonce"} {
		if _, ok := m[name]; !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) == 1 {
		x.add(CodeClaimMissing, Fail, "the %s claim is missing; Sinch requires iss, sub, iat, exp and nonce", missing[0])
	} else if len(missing) > 1 {
		x.add(CodeClaimMissing, Fail, "the claims %s are missing; Sinch requires iss, sub, iat, exp and nonce", strings.Join(missing, ", "))
	}
	var unknown []string
	for k := range m {
		switch k {
		case "iss", "sub", "iat", "exp", "nonce", "nbf", InstanceExpiryClaim:
		default:
			unknown = append(unknown, quoteShort(k))
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		x.add(DiagUnknownClaim, Pass, "the claims %s are not ones Sinch defines; they are ignored", strings.Join(unknown, ", "))
	}

	// Times: types and units.
	times := map[string]int64{}
	var millis []string
	for _, k := range []string{"iat", "exp", "nbf", InstanceExpiryClaim} {
		v, ok := m[k]
		if !ok {
			continue
		}
		n, isNum := v.(json.Number)
		if !isNum {
			x.add(CodeClaimInvalid, Fail, "%s is %s; it must be a JSON number of seconds since 1970 (not a string)", k, jsonText(v))
			continue
		}
		s, ok := parseNumericDate([]byte(n), roundsUp(k))
		if !ok || s <= 0 || s > maxNumericDate {
			x.add(CodeClaimInvalid, Fail, "%s is %s, not a positive number of seconds in range", k, Excerpt([]byte(n), 40))
			continue
		}
		times[k] = s
		if s > millisecondsThreshold {
			millis = append(millis, k)
		}
	}
	if len(millis) > 0 {
		// iat or nbf in milliseconds lie in the far future: rejected. exp or
		// the instance expiry in milliseconds are accepted, but mean a token
		// or an instance that lives for millennia.
		sev := Warn
		if contains(millis, "iat") || contains(millis, "nbf") {
			sev = Fail
		}
		x.add(DiagTimestampsInMilliseconds, sev, "%s %s in milliseconds; JWT times are seconds since 1970 (divide by 1000, e.g. Math.floor(Date.now()/1000))", strings.Join(millis, ", "), isAre(len(millis)))
	}
	iat, exp := times["iat"], times["exp"]
	iatSeconds := iat > 0 && iat < millisecondsThreshold
	nowS, l := now.Unix(), int64(lee/time.Second)
	if iat > 0 && exp > 0 {
		ttl := exp - iat
		switch {
		case ttl < int64(MinTokenTTL/time.Second):
			x.add(CodeTokenTTLTooShort, Fail, "exp - iat is %ds; Sinch requires a token TTL of at least 1 minute (10 minutes is usual)", ttl)
		case ttl > 3600 && iatSeconds && exp < millisecondsThreshold:
			x.add(DiagTokenTTLLong, Warn, "the token lives %s; registration tokens are single-use and should be short-lived (10 minutes is usual)", secondsText(ttl))
		}
	}
	if iatSeconds && iat > nowS+l {
		x.add(CodeTokenNotYetValid, Fail, "iat is %s in the future (check the auth server's clock)", secondsText(iat-nowS))
	}
	if nbf := times["nbf"]; nbf > 0 && nbf < millisecondsThreshold && nbf > nowS+l {
		x.add(CodeTokenNotYetValid, Fail, "nbf is %s in the future", secondsText(nbf-nowS))
	}
	if exp > 0 && exp+l <= nowS {
		x.add(CodeTokenExpired, Fail, "the token expired %s ago", secondsText(nowS-exp))
	}
	if ie, ok := times[InstanceExpiryClaim]; ok && iat > 0 && ie-iat < int64(MinInstanceTTL/time.Second) {
		x.add(CodeInstanceTTLTooShort, Fail, "%s - iat is %s; the instance TTL must be at least 48 hours (12 months is recommended)", InstanceExpiryClaim, secondsText(ie-iat))
	}

	x.checkKidDate(opt, now, lee, iat, iatSeconds)

	// iss, sub, user id, nonce: the verifier's checks, in words.
	iss, issOK := m["iss"].(string)
	if _, present := m["iss"]; present && !issOK {
		x.add(CodeClaimInvalid, Fail, "iss is %s; it must be a string", jsonText(m["iss"]))
	}
	appKey, hasPrefix := strings.CutPrefix(iss, IssuerPrefix)
	switch {
	case !issOK:
	case !hasPrefix || appKey == "" || strings.Contains(appKey, "/"):
		x.add(CodeClaimInvalid, Fail, "iss is %s; it must be %s{APPLICATION_KEY}", quoteShort(iss), IssuerPrefix)
		appKey = ""
	case opt.ApplicationKey != "" && appKey != opt.ApplicationKey:
		x.add(CodeUnknownApplication, Fail, "iss names application %s, but the key given is %s", quoteShort(appKey), quoteShort(opt.ApplicationKey))
	}
	sub, subOK := m["sub"].(string)
	if _, present := m["sub"]; present && (!subOK || sub == "") {
		x.add(CodeClaimInvalid, Fail, "sub is %s; it must be a non-empty string", jsonText(m["sub"]))
		subOK = false
	}
	var user string
	if subOK && issOK && appKey != "" {
		u, ok := strings.CutPrefix(sub, iss+"/users/")
		switch {
		case !ok:
			x.add(CodeSubjectMismatch, Fail, "sub is %s; it must be iss + \"/users/\" + the user id", quoteShort(sub))
		case userIDProblem(u) != "":
			x.add(CodeUserIDInvalid, Fail, "%s", userIDProblem(u))
		default:
			user = u
			if opt.User != "" && opt.User != u {
				x.add(CodeSubjectMismatch, Fail, "sub names user %s, not %s", quoteShort(u), quoteShort(opt.User))
			}
		}
	}
	if n, ok := m["nonce"]; ok {
		if s, isStr := n.(string); !isStr || s == "" {
			x.add(CodeClaimInvalid, Fail, "nonce is %s; it must be a non-empty string (a random UUID is fine)", jsonText(n))
		} else if len(s) > MaxNonceLength {
			x.add(CodeClaimInvalid, Fail, "nonce is %d bytes; at most %d are accepted (a random UUID is fine)", len(s), MaxNonceLength)
		}
	}

	// Order: harmless, but worth a note when it differs from Sinch's example.
	if order := memberOrder(x.ClaimsJSON); len(order) > 0 && !inSeedOrder(order) {
		x.add(DiagClaimOrder, Pass, "claims are in the order %s, not the order of Sinch's example (iss, sub, iat, exp, nonce); any order is accepted", strings.Join(order, ", "))
	}
	return &Claims{ApplicationKey: appKey, UserID: user, IssuedAt: iat, ExpiresAt: exp}
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

// checkKidDate compares the kid date with the UTC date of iat (to name the
// local-time mistake) and with the dates the verifier accepts (to grade it):
// FAIL only when the verifier would reject the kid date.
func (x *Explanation) checkKidDate(opt ExplainOptions, now time.Time, lee time.Duration, iat int64, iatSeconds bool) {
	kid, _ := x.Header["kid"].(string)
	d, ok := parseKidDate(kid)
	if !ok {
		return
	}
	challenge := opt.ChallengeTime
	if challenge.IsZero() && iatSeconds {
		challenge = time.Unix(iat, 0)
	}
	accepted := kidDateAccepted(d, now, challenge, lee)
	if !iatSeconds {
		if !accepted {
			x.add(CodeKidDateMismatch, Fail, "kid date %s is not today's UTC date (%s); use the current UTC date", d, FormatDate(now))
		}
		return
	}
	iatT := time.Unix(iat, 0)
	utc := FormatDate(iatT)
	if d == utc {
		if !accepted {
			x.add(CodeKidDateMismatch, Fail, "kid date %s is the UTC date of iat but neither the challenge's (%s) nor today's (%s)", d, FormatDate(opt.ChallengeTime), FormatDate(now))
		}
		return
	}
	nearMidnight := d == FormatDate(iatT.Add(-lee)) || d == FormatDate(iatT.Add(lee))
	if nearMidnight && accepted {
		return // clock skew across midnight, within the leeway
	}
	kt, _ := time.Parse(DateFormat, d)
	ut, _ := time.Parse(DateFormat, utc)
	dayOff := kt.Sub(ut) == 24*time.Hour || kt.Sub(ut) == -24*time.Hour
	sev := Fail
	if accepted {
		sev = Warn
	}
	suffix := ""
	if accepted {
		suffix = " (accepted now only because the verifier also takes the current UTC date)"
	}
	if dayOff && !nearMidnight {
		x.add(DiagKidDateNotUTC, sev, "kid date %s is a day off the UTC date of iat (%s): the date was formatted in local time; format it in UTC (and derive the key from the same UTC date)%s", d, utc, suffix)
		return
	}
	x.add(CodeKidDateMismatch, sev, "kid date %s is not the UTC date of iat (%s); use the current UTC date%s", d, utc, suffix)
}

// kidDateAccepted applies the verifier's rule 3 to a kid date.
func kidDateAccepted(date string, now, challenge time.Time, lee time.Duration) bool {
	v := Verifier{leeway: lee}
	return v.kidDateAccepted(date, now, challenge)
}

func memberOrder(b []byte) []string {
	var buf [16]jsonobj.Member
	fields, reason := jsonobj.Parse(b, buf[:0], tokenJSON)
	if reason != "" {
		return nil
	}
	out := make([]string, len(fields))
	for i, f := range fields {
		out[i] = string(f.Key)
	}
	return out
}

func inSeedOrder(order []string) bool {
	j := 0
	for _, k := range order {
		for j < len(seedClaimOrder) && seedClaimOrder[j] != k {
			j++
		}
		if j == len(seedClaimOrder) {
			return false
		}
	}
	return true
}

// keyProbe says which key made a signature.
type keyProbe int

const (
	probeNone          keyProbe = iota
	probeRight                  // the key derived for the kid date
	probeOtherDate              // the key derived for another date
	probeTextDerived            // HMAC(secret's base64 text, date)
	probeDecodedSecret          // the decoded secret, underived
	probeTextSecret             // the secret's text, underived
	probeUnreadable             // no 32-byte base64url signature
)

// probeKey tries the keys that classic mistakes produce, for the kid date,
// the UTC dates around iat and around now.
func probeKey(parts []string, secret Secret, kidDate string, c *Claims, now time.Time) (keyProbe, string) {
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != sha256.Size {
		return probeUnreadable, ""
	}
	input := []byte(parts[0] + "." + parts[1])
	var dates []string
	addDate := func(s string) {
		if s != "" && !contains(dates, s) {
			dates = append(dates, s)
		}
	}
	addDate(kidDate)
	var around []time.Time
	if c != nil && c.IssuedAt > 0 && c.IssuedAt < millisecondsThreshold {
		around = append(around, time.Unix(c.IssuedAt, 0))
	}
	around = append(around, now)
	for _, t := range around {
		for _, d := range []time.Duration{0, -24 * time.Hour, 24 * time.Hour} {
			addDate(FormatDate(t.Add(d)))
		}
	}
	mac := func(key []byte) bool {
		h := hmac.New(sha256.New, key)
		h.Write(input)
		return hmac.Equal(h.Sum(nil), sig)
	}
	text := []byte(secret.Text())
	for _, d := range dates {
		if mac(SigningKeyForDate(secret, d)) {
			if d == kidDate {
				return probeRight, d
			}
			return probeOtherDate, d
		}
	}
	for _, d := range dates {
		if mac(signingKeyForDate(text, d)) {
			return probeTextDerived, d
		}
	}
	switch {
	case mac(secret.key()):
		return probeDecodedSecret, ""
	case mac(text):
		return probeTextSecret, ""
	}
	return probeNone, ""
}

// diagnoseSignature adds a finding for the mistake that reproduces a bad
// signature and returns a sentence to append to the signature_invalid
// finding.
func (x *Explanation) diagnoseSignature(parts []string, secret Secret, c *Claims, now time.Time) string {
	kind, d := x.diagnoseKey(parts, secret, c, now, false)
	switch kind {
	case probeOtherDate:
		return " (it matches the key of " + d + ")"
	case probeTextDerived:
		return " (it matches a key made from the secret's text: see " + DiagSecretNotBase64Decoded + ")"
	case probeDecodedSecret, probeTextSecret:
		return " (it matches the underived secret: see " + DiagKeyNotDerived + ")"
	case probeUnreadable:
		return ""
	}
	return "; no usual mistake reproduces it either: check that this secret belongs to the application named in iss"
}

// diagnoseKey probes the signature and adds the finding that names the
// mistake, if any. With reportBad (the verifier stopped before checking the
// signature), a signature that matches no key is reported as
// signature_invalid.
func (x *Explanation) diagnoseKey(parts []string, secret Secret, c *Claims, now time.Time, reportBad bool) (keyProbe, string) {
	kid, _ := x.Header["kid"].(string)
	kidDate, _ := parseKidDate(kid)
	kind, d := probeKey(parts, secret, kidDate, c, now)
	switch kind {
	case probeOtherDate:
		if kidDate == "" {
			break
		}
		msg := fmt.Sprintf("the signature was made with the key for %s but kid says %s: derive the key and write the kid from the same UTC date", d, kidDate)
		if c != nil && c.IssuedAt > 0 && d == FormatDate(time.Unix(c.IssuedAt, 0)) {
			msg = fmt.Sprintf("the signature was made with the key for %s, the UTC date of iat, so the key is right; but kid says %s, a local date: format the kid date in UTC too", d, kidDate)
		}
		// This is more precise than what the date check alone could say.
		if f := x.Finding(DiagKidDateNotUTC); f != nil {
			f.Severity, f.Message = Fail, msg
		} else {
			x.add(DiagKidDateNotUTC, Fail, "%s", msg)
		}
	case probeTextDerived:
		x.add(DiagSecretNotBase64Decoded, Fail, "the signature was made with HMAC-SHA256(key = the secret's base64 TEXT, %q): base64-decode the application secret first, then derive signingKey = HMAC-SHA256(BASE64-DECODE(secret), \"YYYYMMDD\")", d)
		if kidDate != "" && d != kidDate {
			x.add(DiagKidDateNotUTC, Fail, "the key date %s differs from the kid date %s: use the same UTC date for both", d, kidDate)
		}
	case probeDecodedSecret:
		x.add(DiagKeyNotDerived, Fail, "the token was signed with the decoded secret itself: derive the per-day key first, signingKey = HMAC-SHA256(BASE64-DECODE(secret), \"YYYYMMDD\")")
	case probeTextSecret:
		x.add(DiagKeyNotDerived, Fail, "the token was signed with the secret's base64 text itself: base64-decode it and derive the per-day key, signingKey = HMAC-SHA256(BASE64-DECODE(secret), \"YYYYMMDD\")")
		x.add(DiagSecretNotBase64Decoded, Fail, "the secret's text was used as a key; it must be base64-decoded first")
	case probeNone:
		if reportBad {
			x.add(CodeSignatureInvalid, Fail, "the signature matches no key derived from this secret")
		}
	case probeUnreadable:
		if reportBad {
			x.add(CodeSignatureInvalid, Fail, "the signature is not 32 bytes of base64url (HS256)")
		}
	}
	return kind, d
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

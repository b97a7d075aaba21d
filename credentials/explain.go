package credentials

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Diagnosis codes: the classic mistakes Explain recognises beyond the rule
// codes. They name a cause; the rule code names the effect.
const (
	// DiagSecretNotBase64Decoded: the HMAC key was derived from the secret's
	// base64 text instead of its decoded bytes (the bug in seed 000's text).
	DiagSecretNotBase64Decoded = "secret_not_base64_decoded"
	// DiagKeyNotDerived: the token was signed with the secret itself, not
	// with the per-date key derived from it.
	DiagKeyNotDerived = "key_not_derived"
	// DiagKidDateNotUTC: the kid date is a neighbouring day of the UTC date
	// of iat: the date was formatted in local time (as Sinch's own samples do).
	DiagKidDateNotUTC = "kid_date_not_utc"
	// DiagTimestampsInMilliseconds: iat, exp or sinch:rtc:instance:exp is in
	// milliseconds instead of seconds.
	DiagTimestampsInMilliseconds = "timestamps_in_milliseconds"
	// DiagHeaderTypo: the header has unexpected members, such as "type" for
	// "typ" or a differently cased "alg"/"kid".
	DiagHeaderTypo = "header_typo"
	// DiagClaimOrder: the claims are not in the seed's order. Harmless.
	DiagClaimOrder = "claim_order"
	// DiagTypHeader: the header carries "typ". Harmless.
	DiagTypHeader = "typ_header"
	// DiagUnknownClaim: the payload carries claims Sinch does not define. Harmless.
	DiagUnknownClaim = "unknown_claim"
	// DiagTokenTTLLong: the token lives longer than an hour; registration
	// tokens are meant to be short-lived.
	DiagTokenTTLLong = "token_ttl_long"
	// DiagValid: the token passed verification.
	DiagValid = "valid"
)

// Severity grades a Finding.
type Severity string

// Severities, from worst.
const (
	Fail Severity = "FAIL"
	Warn Severity = "WARN"
	Pass Severity = "PASS"
)

// Finding is one observation about a token: a code (a rule code or a Diag*
// code), a severity, and a plain-words message that says what is wrong and
// how to fix it.
type Finding struct {
	Code     string   `json:"code"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
}

// ExplainOptions are the inputs of Explain. All are optional: without the
// secret, signature checks are skipped; without an application key, the
// one named by iss is assumed.
type ExplainOptions struct {
	ApplicationKey string
	Secret         Secret
	// User is the user expected in sub.
	User string
	// Now is the verification time; zero means the current time.
	Now time.Time
	// Leeway as in VerifierConfig.
	Leeway time.Duration
}

// Explanation is Explain's result.
type Explanation struct {
	// HeaderJSON and ClaimsJSON are the decoded parts (nil when undecodable).
	HeaderJSON []byte `json:"-"`
	ClaimsJSON []byte `json:"-"`
	// Header and Claims are the decoded members, for display.
	Header map[string]any `json:"header,omitempty"`
	Claims map[string]any `json:"claims,omitempty"`
	// Verdict is the verification error; nil when the token verified (or
	// could not be verified for lack of a secret: see Verified).
	Verdict error `json:"-"`
	// Verified is true when a secret was given and the token passed.
	Verified bool `json:"verified"`
	// Findings lists every observation, failures first.
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

// Finding returns the first finding with code, or nil.
func (x *Explanation) Finding(code string) *Finding {
	for i := range x.Findings {
		if x.Findings[i].Code == code {
			return &x.Findings[i]
		}
	}
	return nil
}

func (x *Explanation) add(code string, sev Severity, format string, args ...any) {
	if x.Has(code) && sev != Pass {
		return
	}
	x.Findings = append(x.Findings, Finding{Code: code, Severity: sev, Message: fmt.Sprintf(format, args...)})
}

// String renders a human-readable decode and the findings.
func (x *Explanation) String() string {
	var b strings.Builder
	if x.HeaderJSON != nil {
		b.WriteString("header:  ")
		b.Write(x.HeaderJSON)
		b.WriteByte('\n')
	}
	if x.ClaimsJSON != nil {
		b.WriteString("claims:  ")
		b.Write(x.ClaimsJSON)
		b.WriteByte('\n')
	}
	for _, k := range []string{"iat", "exp", "nbf", InstanceExpiryClaim} {
		if v, ok := x.Claims[k].(json.Number); ok {
			if n, err := v.Int64(); err == nil && n > 0 && n < maxNumericDate {
				t := time.Unix(n, 0).UTC()
				if n > millisecondsThreshold {
					t = time.UnixMilli(n).UTC()
					fmt.Fprintf(&b, "  %-22s %s (read as milliseconds)\n", k, t.Format(time.RFC3339))
				} else {
					fmt.Fprintf(&b, "  %-22s %s\n", k, t.Format(time.RFC3339))
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
// an HMAC keyed with the secret's text instead of its base64 decoding, a kid
// date formatted in local time, timestamps in milliseconds, header typos,
// missing claims, too short token or instance TTLs and bad user ids. With
// the secret it also runs full verification and, when the signature does not
// match, says which wrong key would have produced it.
func Explain(token string, opt ExplainOptions) *Explanation {
	x := &Explanation{}
	token = strings.TrimSpace(token)
	now := opt.Now
	if now.IsZero() {
		now = time.Now()
	}
	if len(token) > MaxTokenLength {
		x.add(CodeTokenMalformed, Fail, "the token is %d bytes; at most %d are accepted", len(token), MaxTokenLength)
		return x
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		x.add(CodeTokenMalformed, Fail, "a JWT has three dot-separated parts (header.payload.signature); this has %d", len(parts))
		return x
	}
	x.HeaderJSON = x.decodeLenient(parts[0], "header")
	x.ClaimsJSON = x.decodeLenient(parts[1], "payload")
	x.Header = x.parseLenient(x.HeaderJSON, "header")
	x.Claims = x.parseLenient(x.ClaimsJSON, "payload")

	x.checkHeader()
	claims := x.checkClaims(opt, now)

	appKey := opt.ApplicationKey
	if appKey == "" && claims != nil {
		appKey = claims.ApplicationKey
	}
	if !opt.Secret.IsZero() && appKey != "" {
		keys := NewKeyring()
		keys.Add(appKey, opt.Secret)
		v := NewVerifier(keys, VerifierConfig{Leeway: opt.Leeway})
		_, err := v.Verify(token, VerifyOptions{User: opt.User, Now: now})
		x.Verdict = err
		if err == nil {
			x.Verified = true
		} else {
			code := CodeOf(err)
			reason := err.Error()
			if e, ok := err.(*Error); ok {
				reason = e.Reason
			}
			if code == CodeSignatureInvalid {
				reason += x.diagnoseSignature(parts, opt.Secret, claims)
			}
			x.add(code, Fail, "%s", reason)
		}
	}
	x.sortFindings()
	if !x.Failed() {
		if x.Verified {
			x.Findings = append([]Finding{{Code: DiagValid, Severity: Pass, Message: "the token passes every rule, signature included"}}, x.Findings...)
		} else {
			x.Findings = append([]Finding{{Code: DiagValid, Severity: Pass, Message: "no problem found (signature not checked: give the application secret to check it)"}}, x.Findings...)
		}
	}
	return x
}

func (x *Explanation) sortFindings() {
	rank := map[Severity]int{Fail: 0, Warn: 1, Pass: 2}
	sort.SliceStable(x.Findings, func(i, j int) bool { return rank[x.Findings[i].Severity] < rank[x.Findings[j].Severity] })
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

func (x *Explanation) parseLenient(b []byte, what string) map[string]any {
	if b == nil {
		return nil
	}
	var buf [16]jsonField
	if _, reason := parseJSONObject(b, buf[:0]); reason != "" {
		x.add(CodeTokenMalformed, Fail, "the %s %s", what, reason)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if d.Decode(&m) != nil {
		return nil
	}
	return m
}

func (x *Explanation) checkHeader() {
	h := x.Header
	if h == nil {
		return
	}
	var extra []string
	for k := range h {
		switch k {
		case "alg", "kid", "typ":
		default:
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	for _, k := range extra {
		switch strings.ToLower(k) {
		case "type":
			x.add(DiagHeaderTypo, Warn, "the header has %q; the registered name is \"typ\" (or leave it out: Sinch needs only alg and kid)", k)
		case "alg", "kid", "typ":
			x.add(DiagHeaderTypo, Warn, "the header has %q; member names are case-sensitive: use %q", k, strings.ToLower(k))
		default:
			x.add(DiagHeaderTypo, Warn, "the header has the unexpected member %q; Sinch's header is exactly {\"alg\":\"HS256\",\"kid\":\"hkdfv1-YYYYMMDD\"}", k)
		}
	}
	if _, ok := h["typ"]; ok {
		x.add(DiagTypHeader, Pass, "the header carries typ (as many JWT libraries add); accepted")
	}
	alg, ok := h["alg"].(string)
	switch {
	case !ok && h["alg"] == nil:
		x.add(CodeTokenAlgorithm, Fail, "the header has no alg; set \"alg\":\"HS256\"")
	case !ok || alg != Algorithm:
		x.add(CodeTokenAlgorithm, Fail, "alg is %v; Sinch accepts only \"HS256\" (HMAC-SHA256 with the derived key)", jsonText(h["alg"]))
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

// checkClaims runs the rules that need no secret and returns the strictly
// decoded claims (nil when they could not be decoded).
func (x *Explanation) checkClaims(opt ExplainOptions, now time.Time) *Claims {
	m := x.Claims
	if m == nil {
		return nil
	}
	for _, name := range []string{"iss", "sub", "iat", "exp", "nonce"} {
		if _, ok := m[name]; !ok {
			x.add(CodeClaimMissing, Fail, "the %s claim is missing; Sinch requires iss, sub, iat, exp and nonce", name)
		}
	}
	var unknown []string
	for k := range m {
		switch k {
		case "iss", "sub", "iat", "exp", "nonce", "nbf", InstanceExpiryClaim:
		default:
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		x.add(DiagUnknownClaim, Pass, "the claim %q is not one Sinch defines; it is ignored", k)
	}

	// Times: types and units.
	times := map[string]int64{}
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
		s, ok := parseNumericDate([]byte(n))
		if !ok || s <= 0 {
			x.add(CodeClaimInvalid, Fail, "%s is %s, not a positive number of seconds", k, n)
			continue
		}
		times[k] = s
		if s > millisecondsThreshold {
			x.add(DiagTimestampsInMilliseconds, Fail, "%s is %s: that is milliseconds; JWT times are seconds since 1970 (divide by 1000, e.g. Math.floor(Date.now()/1000))", k, n)
		}
	}
	iat, exp := times["iat"], times["exp"]
	if iat > 0 && exp > 0 {
		ttl := exp - iat
		switch {
		case ttl < 60:
			x.add(CodeTokenTTLTooShort, Fail, "exp - iat is %ds; Sinch requires a token TTL of at least 1 minute (10 minutes is usual)", ttl)
		case ttl > 3600 && iat < millisecondsThreshold:
			x.add(DiagTokenTTLLong, Warn, "the token lives %s; registration tokens are single-use and should be short-lived (10 minutes is usual)", secondsText(ttl))
		}
		if iat < millisecondsThreshold {
			lee := opt.Leeway
			if lee == 0 {
				lee = DefaultLeeway
			}
			nowS, l := now.Unix(), int64(lee/time.Second)
			if iat > nowS+l {
				x.add(CodeTokenNotYetValid, Fail, "iat is %s in the future (check the auth server's clock)", secondsText(iat-nowS))
			}
			if exp+l <= nowS {
				x.add(CodeTokenExpired, Fail, "the token expired %s ago", secondsText(nowS-exp))
			}
		}
	}
	if ie, ok := times[InstanceExpiryClaim]; ok && iat > 0 && ie-iat < int64(MinInstanceTTL/time.Second) {
		x.add(CodeInstanceTTLTooShort, Fail, "%s - iat is %s; the instance TTL must be at least 48 hours (12 months is recommended)", InstanceExpiryClaim, secondsText(ie-iat))
	}

	// kid date against iat's UTC date.
	if kid, ok := x.Header["kid"].(string); ok && iat > 0 && iat < millisecondsThreshold {
		if d, ok := parseKidDate(kid); ok {
			utc := FormatDate(time.Unix(iat, 0))
			if d != utc {
				kt, _ := time.Parse(DateFormat, d)
				ut, _ := time.Parse(DateFormat, utc)
				if diff := kt.Sub(ut); diff == 24*time.Hour || diff == -24*time.Hour {
					x.add(DiagKidDateNotUTC, Fail, "kid date %s is a day off the UTC date of iat (%s): the date was formatted in local time; format it in UTC (and derive the key from the same UTC date)", d, utc)
				} else {
					x.add(CodeKidDateMismatch, Fail, "kid date %s is not the UTC date of iat (%s); use the current UTC date", d, utc)
				}
			}
		}
	}

	// iss, sub, user id.
	iss, issOK := m["iss"].(string)
	if _, present := m["iss"]; present && !issOK {
		x.add(CodeClaimInvalid, Fail, "iss must be a string")
	}
	appKey, hasPrefix := strings.CutPrefix(iss, IssuerPrefix)
	if issOK && (!hasPrefix || appKey == "") {
		x.add(CodeClaimInvalid, Fail, "iss is %s; it must be %s{APPLICATION_KEY}", quoteShort(iss), IssuerPrefix)
	} else if issOK && opt.ApplicationKey != "" && appKey != opt.ApplicationKey {
		x.add(CodeUnknownApplication, Fail, "iss names application %s, but the key given is %s", quoteShort(appKey), quoteShort(opt.ApplicationKey))
	}
	sub, subOK := m["sub"].(string)
	if _, present := m["sub"]; present && !subOK {
		x.add(CodeClaimInvalid, Fail, "sub must be a string")
	}
	var user string
	if subOK && issOK {
		u, ok := strings.CutPrefix(sub, iss+"/users/")
		if !ok {
			x.add(CodeSubjectMismatch, Fail, "sub is %s; it must be iss + \"/users/\" + the user id", quoteShort(sub))
		} else if p := userIDProblem(u); p != "" {
			x.add(CodeUserIDInvalid, Fail, "%s", p)
		} else {
			user = u
			if opt.User != "" && opt.User != u {
				x.add(CodeSubjectMismatch, Fail, "sub names user %s, not %s", quoteShort(u), quoteShort(opt.User))
			}
		}
	}
	if n, ok := m["nonce"]; ok {
		if s, isStr := n.(string); !isStr || s == "" {
			x.add(CodeClaimInvalid, Fail, "nonce must be a non-empty string (a random UUID is fine)")
		}
	}

	// Order: harmless, but worth a note when it differs from the seed.
	if order := memberOrder(x.ClaimsJSON); len(order) > 0 && !inSeedOrder(order) {
		x.add(DiagClaimOrder, Pass, "claims are in the order %s, not the seed's (iss, sub, iat, exp, nonce); any order is accepted", strings.Join(order, ", "))
	}
	return &Claims{ApplicationKey: appKey, UserID: user, IssuedAt: iat, ExpiresAt: exp}
}

func memberOrder(b []byte) []string {
	var buf [16]jsonField
	fields, reason := parseJSONObject(b, buf[:0])
	if reason != "" {
		return nil
	}
	out := make([]string, len(fields))
	for i, f := range fields {
		out[i] = string(f.key)
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

// diagnoseSignature tries the keys classic mistakes produce, adds a finding
// for the one that matches the signature, and returns a sentence to append
// to the signature_invalid finding.
func (x *Explanation) diagnoseSignature(parts []string, secret Secret, c *Claims) string {
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return ""
	}
	input := []byte(parts[0] + "." + parts[1])
	kid, _ := x.Header["kid"].(string)
	kidDate, _ := parseKidDate(kid)
	dates := []string{}
	if kidDate != "" {
		dates = append(dates, kidDate)
	}
	if c != nil && c.IssuedAt > 0 && c.IssuedAt < millisecondsThreshold {
		t := time.Unix(c.IssuedAt, 0)
		for _, d := range []time.Time{t, t.Add(-24 * time.Hour), t.Add(24 * time.Hour)} {
			if s := FormatDate(d); !contains(dates, s) {
				dates = append(dates, s)
			}
		}
	}
	mac := func(key []byte) bool {
		h := hmac.New(sha256.New, key)
		h.Write(input)
		return hmac.Equal(h.Sum(nil), sig)
	}
	text := []byte(secret.text)
	for _, d := range dates {
		switch {
		case mac(SigningKeyForDate(secret, d)):
			if d != kidDate {
				x.add(DiagKidDateNotUTC, Fail, "the signature was made with the key for %s but kid says %s: derive the key and write the kid from the same UTC date", d, kidDate)
			}
			return " (it matches the key of " + d + ")"
		case mac(signingKeyForDate(text, d)):
			x.add(DiagSecretNotBase64Decoded, Fail, "the signature was made with HMAC-SHA256(key = the secret's base64 TEXT, %q): base64-decode the application secret first, then derive signingKey = HMAC-SHA256(BASE64-DECODE(secret), \"YYYYMMDD\")", d)
			if d != kidDate {
				x.add(DiagKidDateNotUTC, Fail, "the key date %s differs from the kid date %s: use the same UTC date for both", d, kidDate)
			}
			return " (it matches a key made from the secret's text: see " + DiagSecretNotBase64Decoded + ")"
		}
	}
	switch {
	case mac(secret.decoded):
		x.add(DiagKeyNotDerived, Fail, "the token was signed with the decoded secret itself: derive the per-day key first, signingKey = HMAC-SHA256(BASE64-DECODE(secret), \"YYYYMMDD\")")
		return " (it matches the underived secret: see " + DiagKeyNotDerived + ")"
	case mac(text):
		x.add(DiagKeyNotDerived, Fail, "the token was signed with the secret's base64 text itself: base64-decode it and derive the per-day key, signingKey = HMAC-SHA256(BASE64-DECODE(secret), \"YYYYMMDD\")")
		x.add(DiagSecretNotBase64Decoded, Fail, "the secret's text was used as a key; it must be base64-decoded first")
		return " (it matches the secret's text used as the key: see " + DiagKeyNotDerived + ")"
	}
	return "; no usual mistake reproduces it either: check that this secret belongs to the application named in iss"
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

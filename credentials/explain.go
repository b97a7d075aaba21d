package credentials

import (
	"encoding/json"
	"fmt"
	"github.com/sinchsim/sinchsim/codes"
	"sort"
	"strings"
	"time"
)

// Diagnosis codes: the classic mistakes Explain recognises beyond the rule
// codes. They name a cause; the rule code names the effect.
const (
	// DiagSecretNotBase64Decoded: the HMAC key was derived from the secret's
	// base64 text instead of its decoded bytes (the bug in the SDK reference's own pseudo-code).
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
	// DiagClaimOrder: the claims are not in the documentation's order. Harmless.
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

// addFinding records a finding, keeping one per code: a worse severity
// replaces the earlier message, an equal one adds its reason to it, a
// milder one is dropped. The message is the reason, then the hint (how to
// fix it); reasons with the same hint share it ("iat is missing; exp is
// missing; Sinch requires ...").
func (x *Explanation) addFinding(code string, sev Severity, reason, hint string) {
	msg := reason
	if hint != "" {
		msg += "; " + hint
	}
	f := x.Finding(code)
	switch {
	case f == nil:
		x.Findings = append(x.Findings, Finding{Code: code, Severity: sev, Message: msg})
	case sev.rank() < f.Severity.rank():
		f.Severity, f.Message = sev, msg
	case sev != f.Severity || strings.Contains(f.Message, reason):
	case hint != "" && strings.HasSuffix(f.Message, "; "+hint):
		f.Message = strings.TrimSuffix(f.Message, hint) + msg
	default:
		f.Message += "; " + msg
	}
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
// TTLs and bad user ids. With the secret it also checks the signature and,
// when it does not match, says which wrong key would have produced it.
//
// Explain runs the same rule table as Verify, but does not stop at the
// first failure: every rule whose input could be decoded is judged. With
// the secret, the first failure is Verify's verdict. A finding is FAIL
// only when the backend would reject the token for it; a valid token,
// however unusual (typ header, sorted claims, whitespace), gets no FAIL.
func Explain(token string, opt ExplainOptions) *Explanation {
	x := &Explanation{}
	j := &judgement{
		tok:       &Token{Raw: strings.TrimSpace(token)},
		now:       opt.Now,
		challenge: opt.ChallengeTime,
		user:      opt.User,
		leeway:    leeway(opt.Leeway),
		ex:        &explainRun{out: x, wantApp: opt.ApplicationKey, secret: opt.Secret},
	}
	if j.now.IsZero() {
		j.now = time.Now()
	}
	if !opt.Secret.IsZero() {
		j.app = &appKeys{secret: opt.Secret, dates: map[string]*dateKey{}}
	}
	j.run()

	x.HeaderJSON, x.ClaimsJSON = j.tok.HeaderJSON, j.tok.ClaimsJSON
	if j.have&haveHeader != 0 {
		x.Header = fieldsMap(j.ex.hfields)
	}
	if j.have&haveClaims != 0 {
		x.Claims = fieldsMap(j.ex.cfields)
	}
	if !opt.Secret.IsZero() {
		x.Verdict = j.err
		x.Verified = j.err == nil
	}
	x.finish()
	return x
}

// finish orders the findings and puts the verdict first when nothing failed.
func (x *Explanation) finish() {
	sort.SliceStable(x.Findings, func(i, j int) bool { return x.Findings[i].Severity.rank() < x.Findings[j].Severity.rank() })
	if !x.Failed() {
		msg := "no problem found (signature not checked: give the application secret to check it)"
		if x.Verified {
			msg = "the token passes every rule, signature included"
		}
		x.Findings = append([]Finding{{Code: DiagValid, Severity: Pass, Message: msg}}, x.Findings...)
	}
}

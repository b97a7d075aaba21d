package credentials

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Check's work on one token: Explain's findings, what the request adds,
// and the folding of each rule code into the mistake that causes it.

// checkToken explains one token and adds what the request tells: the skew
// of iat against this machine's clock and a missing instance expiry. It
// then folds each rule code into the mistake that causes it.
func checkToken(ct *CheckedToken, cfg *CheckConfig, p *HTTPProvider, lee time.Duration) {
	opt := ExplainOptions{
		ApplicationKey: cfg.ApplicationKey,
		Secret:         cfg.Secret,
		User:           ct.User,
		Now:            ct.Received,
		ChallengeTime:  ct.Requested,
		Leeway:         cfg.Leeway,
	}
	x := Explain(ct.Token, opt)
	ct.Explanation = x
	t := &tokenFindings{x: x, list: append([]Finding(nil), x.Findings...)}

	if iat, ok := claimSeconds(x.Claims, "iat"); ok {
		skewFinding(t, ct, iat, lee)
	}
	if cfg.InstanceTTLExpected && x.Claims != nil {
		if _, ok := x.Claims[InstanceExpiryClaim]; !ok {
			msg := "the token has no " + InstanceExpiryClaim + " although the request asked for a limited instance TTL; a client whose instance was created with a TTL is refused without it: add " + InstanceExpiryClaim + " = iat + the instance TTL (at least 48 h; 12 months is recommended)"
			if !strings.Contains(p.cfg.URL+p.cfg.Body, "{instanceTtl}") {
				msg += " (this request did not pass {instanceTtl}: put it in the URL or body if the server must be asked)"
			}
			t.add(Finding{Code: CheckInstanceTTLRequired, Severity: Fail, Message: msg})
		}
	}
	t.fold(ct, cfg.Secret, lee)
	addHints(t, ct)

	failed := false
	for _, f := range t.list {
		failed = failed || f.Severity == Fail
	}
	if failed {
		t.remove(DiagValid)
	}
	sort.SliceStable(t.list, func(i, j int) bool { return t.list[i].Severity.rank() < t.list[j].Severity.rank() })
	ct.Findings = make([]CheckFinding, len(t.list))
	for i, f := range t.list {
		ct.Findings[i] = CheckFinding{Finding: f, Rejects: t.rejects[f.Code]}
	}
	ct.Accepted = !failed
}

// tokenFindings is the finding list of one token while Check edits it.
type tokenFindings struct {
	x       *Explanation
	list    []Finding
	rejects map[string][]string // diagnosis code -> rule codes folded into it
}

func (t *tokenFindings) get(code string) *Finding {
	for i := range t.list {
		if t.list[i].Code == code {
			return &t.list[i]
		}
	}
	return nil
}

func (t *tokenFindings) failed(code string) bool {
	f := t.get(code)
	return f != nil && f.Severity == Fail
}

func (t *tokenFindings) add(f Finding) {
	if g := t.get(f.Code); g != nil {
		if f.Severity.rank() < g.Severity.rank() {
			*g = f
		}
		return
	}
	t.list = append(t.list, f)
}

func (t *tokenFindings) remove(code string) {
	t.list = deleteFinding(t.list, code)
}

func deleteFinding(list []Finding, code string) []Finding {
	out := list[:0]
	for _, f := range list {
		if f.Code != code {
			out = append(out, f)
		}
	}
	return out
}

// foldInto removes the FAIL rule finding and records it under the
// diagnosis, when both are FAIL.
func (t *tokenFindings) foldInto(diag, rule string) {
	if !t.failed(diag) || !t.failed(rule) {
		return
	}
	t.remove(rule)
	if t.rejects == nil {
		t.rejects = map[string][]string{}
	}
	t.rejects[diag] = append(t.rejects[diag], rule)
}

// fold merges each rule code into the mistake that causes it, so that a
// team sees the cause once rather than the cause and its effect. A rule
// code with another cause (or none known) stays on its own line.
func (t *tokenFindings) fold(ct *CheckedToken, secret Secret, lee time.Duration) {
	// The signature: made with a key the usual mistakes produce.
	t.foldInto(DiagSecretNotBase64Decoded, CodeSignatureInvalid)
	t.foldInto(DiagKeyNotDerived, CodeSignatureInvalid)
	t.foldInto(DiagKidDateNotUTC, CodeKidDateMismatch)
	if t.failed(DiagKidDateNotUTC) && t.failed(CodeSignatureInvalid) {
		// Only when the key of another date made the signature: a
		// signature no key reproduces is a second problem.
		parts := strings.Split(strings.TrimSpace(ct.Token), ".")
		if len(parts) == 3 {
			kid, _ := t.x.Header["kid"].(string)
			kidDate, _ := parseKidDate(kid)
			var c *Claims
			if iat, ok := claimSeconds(t.x.Claims, "iat"); ok {
				c = &Claims{IssuedAt: iat}
			}
			if kind, _ := probeKey(parts, secret, kidDate, c, ct.Received); kind == probeOtherDate {
				t.foldInto(DiagKidDateNotUTC, CodeSignatureInvalid)
			}
		}
	}
	// Milliseconds: iat lies in the far future, or exp - iat is negative.
	t.foldInto(DiagTimestampsInMilliseconds, CodeTokenNotYetValid)
	t.foldInto(DiagTimestampsInMilliseconds, CodeTokenTTLTooShort)
	// A header typo that hides alg or kid.
	if _, ok := t.x.Header["alg"]; !ok {
		t.foldInto(DiagHeaderTypo, CodeTokenAlgorithm)
	}
	if _, ok := t.x.Header["kid"]; !ok {
		t.foldInto(DiagHeaderTypo, CodeKidInvalid)
	}
	// A clock beyond the leeway.
	if ct.Skew > lee {
		t.foldInto(CheckClockSkew, CodeTokenNotYetValid)
	} else if -ct.Skew > lee {
		t.foldInto(CheckClockSkew, CodeTokenExpired)
	}
	for diag, rules := range t.rejects {
		f := t.get(diag)
		f.Message += " (the backend answers " + strings.Join(rules, ", ") + ")"
	}
}

// skewFinding compares iat with this machine's clock during the request.
// iat is whole seconds rounded down, so any iat from the second the
// request started to the second the answer came is no skew at all.
func skewFinding(t *tokenFindings, ct *CheckedToken, iat int64, lee time.Duration) {
	from, to := ct.Requested.Unix(), ct.Received.Unix()
	switch {
	case iat > to:
		ct.Skew = time.Duration(iat-to) * time.Second
	case iat < from:
		ct.Skew = -time.Duration(from-iat) * time.Second
	default:
		return
	}
	d := ct.Skew
	dir := "ahead of"
	if d < 0 {
		d, dir = -d, "behind"
	}
	if d <= CheckSkewTolerance {
		return
	}
	sev := Warn
	var effect string
	switch {
	case ct.Skew > lee && t.failed(CodeTokenNotYetValid):
		sev, effect = Fail, fmt.Sprintf("beyond the backend's %v leeway, so the token is not yet valid when it arrives", lee)
	case ct.Skew < -lee && t.failed(CodeTokenExpired):
		sev, effect = Fail, "so the token has expired when it arrives"
	case ct.Skew > 0:
		effect = fmt.Sprintf("within the backend's %v leeway, but a little more skew and tokens are refused as not yet valid", lee)
	default:
		effect = "the token loses that much of its lifetime (if iat is backdated on purpose, this is expected)"
	}
	t.add(Finding{Code: CheckClockSkew, Severity: sev, Message: fmt.Sprintf(
		"iat is %v %s this machine's clock, %s: one of the two clocks is wrong; sync both with NTP", d, dir, effect)})
}

// claimSeconds returns a time claim as seconds, when it is a number of
// seconds (not milliseconds).
func claimSeconds(claims map[string]any, name string) (int64, bool) {
	n, ok := claims[name].(json.Number)
	if !ok {
		return 0, false
	}
	s, ok := parseNumericDate([]byte(n), roundsUp(name))
	return s, ok && s > 0 && s < millisecondsThreshold
}

// addHints completes what only Check knows: a user id refused in sub
// that the check itself asked for.
func addHints(t *tokenFindings, ct *CheckedToken) {
	f := t.get(CodeUserIDInvalid)
	if f != nil && f.Severity == Fail && userIDProblem(ct.User) != "" {
		f.Message += fmt.Sprintf(" (the user id asked for, %s, is not allowed itself)", quoteShort(ct.User))
	}
}

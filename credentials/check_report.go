package credentials

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Check's report: the findings of every token merged into one per code,
// and the checks that only show across tokens.

// aggregator merges the findings of every token into one per code.
type aggregator struct {
	n     int
	order []string
	by    map[string]*CheckFinding
}

func newAggregator(n int) *aggregator { return &aggregator{n: n, by: map[string]*CheckFinding{}} }

// add records f for token ct (nil: a finding about the tokens as a whole,
// with the tokens it concerns). The worst severity's message stands.
func (a *aggregator) add(ct *CheckedToken, f CheckFinding, tokens []*CheckedToken) {
	cf := a.by[f.Code]
	if cf == nil {
		cf = &CheckFinding{Finding: f.Finding}
		a.by[f.Code] = cf
		a.order = append(a.order, f.Code)
	} else if f.Severity.rank() < cf.Severity.rank() {
		cf.Finding = f.Finding
	}
	for _, r := range f.Rejects {
		if !slices.Contains(cf.Rejects, r) {
			cf.Rejects = append(cf.Rejects, r)
		}
	}
	if ct != nil {
		tokens = append(tokens, ct)
	}
	for _, t := range tokens {
		if !slices.Contains(cf.Tokens, t.Number) {
			cf.Tokens = append(cf.Tokens, t.Number)
		}
		if !slices.Contains(cf.Users, t.User) {
			cf.Users = append(cf.Users, t.User)
		}
	}
}

func (a *aggregator) has(code string) bool { return a.by[code] != nil }

// findings returns the merged findings, worst first, each message ending
// with how many tokens showed it.
func (a *aggregator) findings() []CheckFinding {
	out := make([]CheckFinding, 0, len(a.order))
	for _, code := range a.order {
		cf := *a.by[code]
		sort.Ints(cf.Tokens)
		if code == DiagValid {
			cf.Message = fmt.Sprintf("%s, each on its own, pass every rule of a registration, signature included", a.tokensText(len(cf.Tokens), "tokens"))
			cf.Tokens, cf.Users = nil, nil
		} else if len(cf.Tokens) > 0 {
			cf.Message += " [" + a.countText(cf.Tokens) + "]"
		}
		cf.Message = oneLine(cf.Message)
		out = append(out, cf)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Severity.rank() < out[j].Severity.rank() })
	return out
}

func (a *aggregator) tokensText(k int, noun string) string {
	switch {
	case k == a.n && k == 1:
		return "the " + noun[:len(noun)-1]
	case k == a.n && k == 2:
		return "both " + noun
	case k == a.n:
		return "all " + strconv.Itoa(k) + " " + noun
	}
	return strconv.Itoa(k) + " of " + strconv.Itoa(a.n) + " " + noun
}

// countText is "all 5 tokens" or "2 of 5 tokens: #1, #4".
func (a *aggregator) countText(tokens []int) string {
	s := a.tokensText(len(tokens), "tokens")
	if len(tokens) == a.n {
		return s
	}
	nums := make([]string, 0, len(tokens))
	for i, t := range tokens {
		if i == 8 {
			nums = append(nums, "...")
			break
		}
		nums = append(nums, "#"+strconv.Itoa(t))
	}
	return s + ": " + strings.Join(nums, ", ")
}

// crossChecks adds what only shows across tokens, and a PASS line for
// each cross-token check that found nothing.
func (r *CheckReport) crossChecks(a *aggregator, cfg *CheckConfig) {
	r.checkNonces(a)
	r.checkKidDrift(a)
	r.checkClockSkew(a)
	if cfg.InstanceTTLExpected {
		r.checkInstanceTTLs(a)
	}
}

// tokenFinding is a finding about the tokens as a whole.
func tokenFinding(code string, sev Severity, format string, args ...any) CheckFinding {
	return CheckFinding{Finding: Finding{Code: code, Severity: sev, Message: fmt.Sprintf(format, args...)}}
}

// checkNonces: the backend accepts a nonce once per application, so a
// nonce (or a whole token) served twice is refused the second time.
func (r *CheckReport) checkNonces(a *aggregator) {
	byNonce := map[string][]*CheckedToken{}
	var nonces []string
	for i := range r.Tokens {
		ct := &r.Tokens[i]
		s, ok := ct.Explanation.Claims["nonce"].(string)
		if !ok || s == "" {
			continue
		}
		if byNonce[s] == nil {
			nonces = append(nonces, s)
		}
		byNonce[s] = append(byNonce[s], ct)
	}
	var dups []*CheckedToken
	sameToken, groups := true, 0
	for _, s := range nonces {
		g := byNonce[s]
		if len(g) < 2 {
			continue
		}
		groups++
		dups = append(dups, g...)
		for _, ct := range g[1:] {
			ct.Accepted = false
			sameToken = sameToken && ct.Token == g[0].Token
		}
	}
	switch {
	case len(dups) > 0 && sameToken:
		a.add(nil, tokenFinding(CodeNonceReused, Fail,
			"the auth server returned the same token more than once (%d tokens, %d distinct), so the nonce repeats and every registration after the first is refused: mint a new token, with a fresh random nonce, on every request; never cache tokens", len(dups), groups), dups)
	case len(dups) > 0:
		a.add(nil, tokenFinding(CodeNonceReused, Fail,
			"%d tokens share %s (e.g. %s): the backend accepts a nonce once, so every registration after the first is refused; generate a fresh random nonce (a UUID v4 from a cryptographic RNG) for every token",
			len(dups), plural(groups, "nonce"), quoteShort(dups[0].Explanation.Claims["nonce"].(string))), dups)
	case len(nonces) > 1:
		a.add(nil, tokenFinding(CodeNonceReused, Pass,
			"no nonce repeats: %s carry %s", a.tokensText(len(nonces), "tokens"), plural(len(nonces), "distinct nonce")), nil)
	}
}

// checkKidDrift: different kid dates while this machine's UTC date stayed
// the same. A kid date that is not today's is already a finding of its
// token; this names an auth server that is inconsistent.
func (r *CheckReport) checkKidDrift(a *aggregator) {
	if len(r.Tokens) < 2 || a.has(CodeKidDateMismatch) || a.has(DiagKidDateNotUTC) {
		return
	}
	var dates []string
	var carriers []*CheckedToken
	for i := range r.Tokens {
		ct := &r.Tokens[i]
		kid, _ := ct.Explanation.Header["kid"].(string)
		if d, ok := parseKidDate(kid); ok {
			carriers = append(carriers, ct)
			if !slices.Contains(dates, d) {
				dates = append(dates, d)
			}
		}
	}
	first, last := FormatDate(r.Tokens[0].Requested), FormatDate(r.Tokens[len(r.Tokens)-1].Received)
	if len(dates) > 1 && first == last {
		a.add(nil, tokenFinding(CodeKidDateMismatch, Warn,
			"the tokens carry the kid dates %s although this machine's UTC date stayed %s: the auth server computes the date inconsistently (a worker in another time zone, a cached date?); use the current UTC date for every token",
			strings.Join(dates, ", "), first), carriers)
	}
}

// checkClockSkew: a PASS when every iat agrees with this machine.
func (r *CheckReport) checkClockSkew(a *aggregator) {
	if a.has(CheckClockSkew) {
		return
	}
	var seconds int
	var worst time.Duration
	for _, ct := range r.Tokens {
		if _, ok := claimSeconds(ct.Explanation.Claims, "iat"); ok {
			seconds++
			worst = max(worst, ct.Skew, -ct.Skew)
		}
	}
	if seconds > 0 {
		a.add(nil, tokenFinding(CheckClockSkew, Pass,
			"iat agrees with this machine's clock within %v in %s (largest difference %v)", CheckSkewTolerance, a.tokensText(seconds, "tokens"), worst), nil)
	}
}

// checkInstanceTTLs: a PASS when every token carries the instance expiry
// that was asked for.
func (r *CheckReport) checkInstanceTTLs(a *aggregator) {
	if a.has(CheckInstanceTTLRequired) {
		return
	}
	var shortest time.Duration
	for _, ct := range r.Tokens {
		iat, ok1 := claimSeconds(ct.Explanation.Claims, "iat")
		ie, ok2 := claimSeconds(ct.Explanation.Claims, InstanceExpiryClaim)
		if ok1 && ok2 {
			d := time.Duration(ie-iat) * time.Second
			if shortest == 0 || d < shortest {
				shortest = d
			}
		}
	}
	msg := "every token carries " + InstanceExpiryClaim + ", as asked"
	if shortest > 0 {
		msg += fmt.Sprintf(" (shortest instance TTL %s)", durationText(shortest))
	}
	a.add(nil, tokenFinding(CheckInstanceTTLRequired, Pass, "%s", msg), nil)
}

// redactTemplate is redactURL for a URL template: the placeholders stay
// readable ({userId}, not %7BuserId%7D).
func redactTemplate(tmpl string) string {
	if i := strings.IndexAny(tmpl, "?#"); i >= 0 {
		tmpl = tmpl[:i]
	}
	scheme, rest, ok := strings.Cut(tmpl, "://")
	if !ok {
		return tmpl
	}
	host, path, _ := strings.Cut(rest, "/")
	if i := strings.LastIndexByte(host, '@'); i >= 0 {
		host = host[i+1:]
	}
	if path != "" || strings.HasSuffix(rest, "/") {
		path = "/" + path
	}
	return scheme + "://" + host + path
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// durationText renders long durations in days ("365d"), short ones as Go does.
func durationText(d time.Duration) string {
	if d >= 48*time.Hour && d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	return d.String()
}

// oneLine keeps a message on one line whatever a token put in it.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}

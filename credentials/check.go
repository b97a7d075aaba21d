package credentials

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/sinchsim/sinchsim/codes"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Codes that only Check reports: they need the request, this machine's
// clock or the request's intent, which a lone token does not carry.
const (
	// CheckClockSkew: iat differs from this machine's clock by more than
	// CheckSkewTolerance. WARN while the backend's leeway absorbs it; FAIL
	// (standing for token_not_yet_valid or token_expired) beyond it.
	CheckClockSkew = codes.ClockSkew
	// CheckInstanceTTLRequired: the check asked for a limited instance TTL
	// (CheckConfig.InstanceTTLExpected) and a token has no
	// sinch:rtc:instance:exp. The backend refuses such a token, with this
	// code, for a device whose instance was created with a TTL (rule 9).
	CheckInstanceTTLRequired = codes.InstanceTTLRequired
)

// CheckCodes lists the codes Check can report besides those of Codes and
// DiagCodes.
func CheckCodes() []string { return []string{CheckClockSkew, CheckInstanceTTLRequired} }

// Check defaults.
const (
	// DefaultCheckRequests is how many tokens Check fetches by default.
	DefaultCheckRequests = 5
	// MaxCheckRequests bounds CheckConfig.Requests: Check is a probe, not a
	// load test.
	MaxCheckRequests = 1000
	// CheckSkewTolerance is how far iat may lie from this machine's clock
	// before Check warns.
	CheckSkewTolerance = 5 * time.Second
)

// DefaultCheckUsers returns the user ids Check asks for when none are
// given: three, of different lengths, using upper and lower case, digits,
// '-' and '_' (all allowed by rule 5 and none needing escaping). Five
// requests over three users ask twice for two of them, which shows an
// auth server that caches a token per user.
func DefaultCheckUsers() []string { return []string{"check-user-1", "Check_User_2", "cu3"} }

// CheckConfig configures Check. URL, ApplicationKey and Secret are required.
type CheckConfig struct {
	// URL, Method, Body, Field, Header, Timeout and Client are those of
	// HTTPProviderConfig: URL is a template in which {userId},
	// {applicationKey} and {instanceTtl} are substituted; the token is the
	// JSON member Field (default "token") or the whole body when it is not
	// JSON.
	URL     string
	Method  string // GET (default) or POST
	Body    string // POST body template
	Field   string
	Header  http.Header
	Timeout time.Duration // per request; default 10 s
	Client  *http.Client

	// ApplicationKey and Secret are the application the auth server signs for.
	ApplicationKey string
	Secret         Secret
	// Users are the user ids asked for, in turn; default DefaultCheckUsers.
	Users []string
	// Requests is how many tokens to fetch; default DefaultCheckRequests.
	Requests int
	// InstanceTTLExpected says that the auth server must add
	// sinch:rtc:instance:exp when asked ({instanceTtl} is "true" in the
	// requests): a token without it fails with instance_ttl_required.
	InstanceTTLExpected bool
	// Leeway is the clock skew the backend tolerates: 0 means
	// DefaultLeeway, negative none.
	Leeway time.Duration
	// Now reads this machine's clock, against which iat is compared and
	// each token verified; nil means time.Now.
	Now func() time.Time
}

// CheckFinding is one line of a check: a finding of Explain, or of the
// checks across tokens, merged over every token that showed it.
type CheckFinding struct {
	Finding
	// Tokens are the 1-based numbers of the tokens that showed it; empty
	// for a PASS about all of them.
	Tokens []int `json:"tokens,omitempty"`
	// Users are the users whose tokens showed it, in order of first appearance.
	Users []string `json:"users,omitempty"`
	// Rejects are the rule codes the backend answers with because of this
	// mistake (signature_invalid for secret_not_base64_decoded, ...). They
	// are folded into the finding that names the cause, so that one mistake
	// is one line.
	Rejects []string `json:"rejects,omitempty"`
}

// String renders the finding as "SEVERITY code: message".
func (f CheckFinding) String() string {
	return string(f.Severity) + " " + f.Code + ": " + f.Message
}

// CheckedToken is one token Check fetched, and what it found in it.
type CheckedToken struct {
	Number    int       // 1-based
	User      string    // the user asked for
	Token     string    // the token as received
	Requested time.Time // this machine's clock before the request
	Received  time.Time // and after the answer
	// Skew is iat minus this machine's clock (positive: iat ahead), zero
	// when iat is not a time in seconds.
	Skew time.Duration
	// Explanation is Explain's verdict, at Received, with the challenge
	// made at Requested.
	Explanation *Explanation
	// Findings are this token's findings after folding: one per mistake
	// (Tokens and Users are left empty).
	Findings []CheckFinding
	// Accepted: the backend would register with this token (no FAIL, and
	// its nonce not used by an earlier token).
	Accepted bool
}

// CheckSummary sums a check up.
type CheckSummary struct {
	Method   string   `json:"method"`
	URL      string   `json:"url"` // the URL template, without query string
	Users    []string `json:"users"`
	Tokens   int      `json:"tokens"`   // fetched
	Accepted int      `json:"accepted"` // that the backend would register with
	Fail     int      `json:"fail"`     // findings by severity
	Warn     int      `json:"warn"`
	Pass     int      `json:"pass"`
	Failed   bool     `json:"failed"` // some finding is FAIL
}

// CheckReport is Check's result.
type CheckReport struct {
	// Findings has one entry per code, FAIL first, then WARN, then PASS.
	Findings []CheckFinding `json:"findings"`
	Summary  CheckSummary   `json:"summary"`
	// Tokens are the tokens fetched, in order.
	Tokens []CheckedToken `json:"-"`
}

// Failed reports whether any finding is FAIL.
func (r *CheckReport) Failed() bool { return r.Summary.Failed }

// Finding returns the finding with code, or nil.
func (r *CheckReport) Finding(code string) *CheckFinding {
	for i := range r.Findings {
		if r.Findings[i].Code == code {
			return &r.Findings[i]
		}
	}
	return nil
}

// Codes returns the codes of the findings with severity sev, in order.
func (r *CheckReport) Codes(sev Severity) []string {
	var out []string
	for _, f := range r.Findings {
		if f.Severity == sev {
			out = append(out, f.Code)
		}
	}
	return out
}

// String renders the report as sinchsim check prints it: one line per
// finding, "PASS|WARN|FAIL code: message", then the summary line.
func (r *CheckReport) String() string {
	var b strings.Builder
	for _, f := range r.Findings {
		b.WriteString(f.String())
		b.WriteByte('\n')
	}
	b.WriteString(r.SummaryLine())
	b.WriteByte('\n')
	return b.String()
}

// SummaryLine is the last line of String.
func (r *CheckReport) SummaryLine() string {
	s := r.Summary
	verdict := "ok"
	if s.Failed {
		verdict = "FAILED"
	}
	return fmt.Sprintf("summary: %s: %d of %d tokens would register (users %s; %s %s); %d FAIL, %d WARN, %d PASS",
		verdict, s.Accepted, s.Tokens, strings.Join(s.Users, ", "), s.Method, s.URL, s.Fail, s.Warn, s.Pass)
}

// FetchError is Check's error when a token could not be fetched: the auth
// server is unreachable, too slow, answers a non-2xx status (Err holds an
// *HTTPError) or no token (Err wraps ErrNoToken).
type FetchError struct {
	Number   int    // the request, 1-based
	Requests int    // of how many
	User     string // the user asked for
	Method   string // GET or POST
	URL      string // the request's URL, without query string or user info
	Err      error
}

// Error says which request failed and how, in one line.
func (e *FetchError) Error() string {
	msg := strings.TrimPrefix(e.Err.Error(), "credentials: ")
	if !strings.Contains(msg, e.URL) {
		msg = "auth server " + e.Method + " " + e.URL + ": " + strings.TrimPrefix(msg, "auth server ")
	}
	return fmt.Sprintf("credentials: token %d of %d (user %s): %s", e.Number, e.Requests, quoteShort(e.User), msg)
}

// Unwrap returns the cause.
func (e *FetchError) Unwrap() error { return e.Err }

// Check asks an auth server for tokens as a Sinch client would and checks
// each against every rule a fresh registration meets (Explain, with the
// application's secret, at the time the token arrived), then what only
// shows across tokens: a nonce used twice (nonce_reused), kid dates that
// change while this machine's UTC date does not (kid_date_mismatch), iat
// away from this machine's clock (clock_skew) and, with
// InstanceTTLExpected, tokens without sinch:rtc:instance:exp
// (instance_ttl_required).
//
// Requests go one at a time, to the users in turn. A mistake is one
// finding, however many tokens show it: the rule code it makes the backend
// answer (signature_invalid for a key made from the secret's text) is
// folded into the finding that names it (secret_not_base64_decoded). A
// token that is merely unusual (typ header, sorted claims, long TTL, extra
// claims) gets WARN or PASS, never FAIL.
//
// The error is for what prevents a check: an invalid configuration
// (wrapping ErrConfig), or a token that could not be fetched (*FetchError;
// a context error when ctx ends). The report never contains the secret.
func Check(ctx context.Context, cfg CheckConfig) (*CheckReport, error) {
	if cfg.ApplicationKey == "" {
		return nil, fmt.Errorf("%w: application key is empty", ErrConfig)
	}
	if cfg.Secret.IsZero() {
		return nil, fmt.Errorf("%w: application secret is missing", ErrConfig)
	}
	n := cfg.Requests
	switch {
	case n == 0:
		n = DefaultCheckRequests
	case n < 0 || n > MaxCheckRequests:
		return nil, fmt.Errorf("%w: %d requests; ask for 1 to %d", ErrConfig, n, MaxCheckRequests)
	}
	users := cfg.Users
	if len(users) == 0 {
		users = DefaultCheckUsers()
	}
	for _, u := range users {
		if u == "" {
			return nil, fmt.Errorf("%w: an empty user id", ErrConfig)
		}
	}
	p, err := NewHTTPProvider(HTTPProviderConfig{
		URL: cfg.URL, Method: cfg.Method, Body: cfg.Body, Field: cfg.Field,
		Header: cfg.Header, Timeout: cfg.Timeout, Client: cfg.Client,
	})
	if err != nil {
		return nil, err
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	lee := cfg.Leeway
	if lee == 0 {
		lee = DefaultLeeway
	} else if lee < 0 {
		lee = 0
	}

	r := &CheckReport{Tokens: make([]CheckedToken, 0, n)}
	for i := 0; i < n; i++ {
		user := users[i%len(users)]
		ct := CheckedToken{Number: i + 1, User: user, Requested: now()}
		req := Request{ApplicationKey: cfg.ApplicationKey, UserID: user, InstanceTTL: cfg.InstanceTTLExpected}
		tok, _, err := p.Fetch(ctx, req)
		ct.Received = now()
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, &FetchError{Number: i + 1, Requests: n, User: user, Method: p.cfg.Method, URL: redactURL(expandURL(p.cfg.URL, req, p.cfg.InstanceTTL)), Err: err}
		}
		ct.Token = tok
		r.Tokens = append(r.Tokens, ct)
	}

	a := newAggregator(n)
	for i := range r.Tokens {
		ct := &r.Tokens[i]
		checkToken(ct, &cfg, p, lee)
		for _, f := range ct.Findings {
			a.add(ct, f, nil)
		}
	}
	r.crossChecks(a, &cfg, p)
	r.Findings = a.findings()

	users = append([]string(nil), users[:min(len(users), n)]...)
	r.Summary = CheckSummary{Method: p.cfg.Method, URL: redactTemplate(cfg.URL), Users: users, Tokens: n}
	for _, ct := range r.Tokens {
		if ct.Accepted {
			r.Summary.Accepted++
		}
	}
	for _, f := range r.Findings {
		switch f.Severity {
		case Fail:
			r.Summary.Fail++
		case Warn:
			r.Summary.Warn++
		default:
			r.Summary.Pass++
		}
	}
	r.Summary.Failed = r.Summary.Fail > 0
	return r, nil
}

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

// hints complete the messages of rule codes whose reason says what is
// wrong but not what to do, in the words of a team running an auth server.
var hints = map[string]string{
	CodeUserIDInvalid:      "map your user ids onto 1-255 bytes of A-Z a-z 0-9 - _ = (e.g. base64url of a hash), in the app and the auth server alike",
	CodeSubjectMismatch:    "sub must be iss + \"/users/\" + the user id the client asked for",
	CodeUnknownApplication: "iss must name the application whose secret signs the token",
	CodeTokenExpired:       "mint a fresh token for every request and check the auth server's clock",
	CodeSignatureInvalid:   "sign with HMAC-SHA256 keyed with HMAC-SHA256(BASE64-DECODE(secret), the kid's YYYYMMDD)",
}

func addHints(t *tokenFindings, ct *CheckedToken) {
	for i := range t.list {
		f := &t.list[i]
		h, ok := hints[f.Code]
		if !ok || f.Severity != Fail {
			continue
		}
		if f.Code == CodeSignatureInvalid && strings.Contains(f.Message, "(it matches") {
			continue // a diagnosis names the key
		}
		f.Message += "; " + h
		if f.Code == CodeUserIDInvalid && userIDProblem(ct.User) != "" {
			f.Message += fmt.Sprintf(" (the user id asked for, %s, is not allowed itself)", quoteShort(ct.User))
		}
	}
}

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
		if !contains(cf.Rejects, r) {
			cf.Rejects = append(cf.Rejects, r)
		}
	}
	if ct != nil {
		tokens = append(tokens, ct)
	}
	for _, t := range tokens {
		if !containsInt(cf.Tokens, t.Number) {
			cf.Tokens = append(cf.Tokens, t.Number)
		}
		if !contains(cf.Users, t.User) {
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
func (r *CheckReport) crossChecks(a *aggregator, cfg *CheckConfig, p *HTTPProvider) {
	// nonce_reused: the backend accepts a nonce once per application.
	byNonce := map[string][]*CheckedToken{}
	var nonces []string
	for i := range r.Tokens {
		ct := &r.Tokens[i]
		if ct.Explanation.Claims == nil {
			continue
		}
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
		a.add(nil, CheckFinding{Finding: Finding{Code: CodeNonceReused, Severity: Fail, Message: fmt.Sprintf(
			"the auth server returned the same token more than once (%d tokens, %d distinct), so the nonce repeats and every registration after the first is refused: mint a new token, with a fresh random nonce, on every request; never cache tokens", len(dups), groups)}}, dups)
	case len(dups) > 0:
		a.add(nil, CheckFinding{Finding: Finding{Code: CodeNonceReused, Severity: Fail, Message: fmt.Sprintf(
			"%d tokens share %s (e.g. %s): the backend accepts a nonce once, so every registration after the first is refused; generate a fresh random nonce (a UUID v4 from a cryptographic RNG) for every token",
			len(dups), plural(groups, "nonce"), quoteShort(dups[0].Explanation.Claims["nonce"].(string)))}}, dups)
	case len(nonces) > 1:
		a.add(nil, CheckFinding{Finding: Finding{Code: CodeNonceReused, Severity: Pass, Message: fmt.Sprintf(
			"no nonce repeats: %s carry %s", a.tokensText(len(nonces), "tokens"), plural(len(nonces), "distinct nonce"))}}, nil)
	}

	// kid date drift: different kid dates while this machine's UTC date
	// stayed the same. A kid date that is not today's is already a finding
	// of its token; this names an auth server that is inconsistent.
	if len(r.Tokens) > 1 && !a.has(CodeKidDateMismatch) && !a.has(DiagKidDateNotUTC) {
		var dates []string
		var carriers []*CheckedToken
		for i := range r.Tokens {
			ct := &r.Tokens[i]
			kid, _ := ct.Explanation.Header["kid"].(string)
			if d, ok := parseKidDate(kid); ok {
				carriers = append(carriers, ct)
				if !contains(dates, d) {
					dates = append(dates, d)
				}
			}
		}
		first, last := FormatDate(r.Tokens[0].Requested), FormatDate(r.Tokens[len(r.Tokens)-1].Received)
		if len(dates) > 1 && first == last {
			a.add(nil, CheckFinding{Finding: Finding{Code: CodeKidDateMismatch, Severity: Warn, Message: fmt.Sprintf(
				"the tokens carry the kid dates %s although this machine's UTC date stayed %s: the auth server computes the date inconsistently (a worker in another time zone, a cached date?); use the current UTC date for every token",
				strings.Join(dates, ", "), first)}}, carriers)
		}
	}

	// clock_skew: a PASS when every iat agrees with this machine.
	if !a.has(CheckClockSkew) {
		var seconds int
		var worst time.Duration
		for _, ct := range r.Tokens {
			if _, ok := claimSeconds(ct.Explanation.Claims, "iat"); ok {
				seconds++
				worst = max(worst, ct.Skew, -ct.Skew)
			}
		}
		if seconds > 0 {
			a.add(nil, CheckFinding{Finding: Finding{Code: CheckClockSkew, Severity: Pass, Message: fmt.Sprintf(
				"iat agrees with this machine's clock within %v in %s (largest difference %v)", CheckSkewTolerance, a.tokensText(seconds, "tokens"), worst)}}, nil)
		}
	}

	// instance_ttl_required: a PASS when every token carries the claim.
	if cfg.InstanceTTLExpected && !a.has(CheckInstanceTTLRequired) {
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
		a.add(nil, CheckFinding{Finding: Finding{Code: CheckInstanceTTLRequired, Severity: Pass, Message: msg}}, nil)
	}
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

func containsInt(xs []int, n int) bool {
	for _, x := range xs {
		if x == n {
			return true
		}
	}
	return false
}

// oneLine keeps a message on one line whatever a token put in it.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}

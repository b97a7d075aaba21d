package credentials

import (
	"context"
	"fmt"
	"github.com/sinchsim/sinchsim/codes"
	"net/http"
	"slices"
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
	p, n, users, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	lee := leeway(cfg.Leeway)
	r := &CheckReport{}
	if r.Tokens, err = fetchTokens(ctx, p, &cfg, n, users, now); err != nil {
		return nil, err
	}
	a := newAggregator(n)
	for i := range r.Tokens {
		ct := &r.Tokens[i]
		checkToken(ct, &cfg, p, lee)
		for _, f := range ct.Findings {
			a.add(ct, f, nil)
		}
	}
	r.crossChecks(a, &cfg)
	r.Findings = a.findings()
	users = append([]string(nil), users[:min(len(users), n)]...)
	r.summarize(p.cfg.Method, redactTemplate(cfg.URL), users)
	return r, nil
}

// validate checks the configuration and returns the provider, the number
// of requests and the users; the error wraps ErrConfig.
func (cfg *CheckConfig) validate() (*HTTPProvider, int, []string, error) {
	if cfg.ApplicationKey == "" {
		return nil, 0, nil, fmt.Errorf("%w: application key is empty", ErrConfig)
	}
	if cfg.Secret.IsZero() {
		return nil, 0, nil, fmt.Errorf("%w: application secret is missing", ErrConfig)
	}
	n := cfg.Requests
	switch {
	case n == 0:
		n = DefaultCheckRequests
	case n < 0 || n > MaxCheckRequests:
		return nil, 0, nil, fmt.Errorf("%w: %d requests; ask for 1 to %d", ErrConfig, n, MaxCheckRequests)
	}
	users := cfg.Users
	if len(users) == 0 {
		users = DefaultCheckUsers()
	}
	if slices.Contains(users, "") {
		return nil, 0, nil, fmt.Errorf("%w: an empty user id", ErrConfig)
	}
	p, err := NewHTTPProvider(HTTPProviderConfig{
		URL: cfg.URL, Method: cfg.Method, Body: cfg.Body, Field: cfg.Field,
		Header: cfg.Header, Timeout: cfg.Timeout, Client: cfg.Client,
	})
	if err != nil {
		return nil, 0, nil, err
	}
	return p, n, users, nil
}

// fetchTokens asks for n tokens, one at a time, for the users in turn.
func fetchTokens(ctx context.Context, p *HTTPProvider, cfg *CheckConfig, n int, users []string, now func() time.Time) ([]CheckedToken, error) {
	tokens := make([]CheckedToken, 0, n)
	for i := range n {
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
		tokens = append(tokens, ct)
	}
	return tokens, nil
}

// summarize fills the summary from the tokens and findings.
func (r *CheckReport) summarize(method, url string, users []string) {
	r.Summary = CheckSummary{Method: method, URL: url, Users: users, Tokens: len(r.Tokens)}
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
}

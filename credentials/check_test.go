package credentials

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// checkNow is the fixed "now" of the check tests: noon UTC, far from
// midnight, unless a case says otherwise.
var checkNow = time.Date(2024, 3, 10, 12, 0, 0, 0, time.UTC)

// mintingServer describes an auth server under test: a correct one by
// default, each field one mistake. It mints with its own fixed clock.
type mintingServer struct {
	now          time.Time      // the server's clock; zero: checkNow
	keyFromText  bool           // HMAC key derived from the secret's base64 text
	kidZone      *time.Location // kid date (and key date) formatted in this zone
	kidAlternate bool           // every other token dated the day before (a worker with another idea of the date)
	millis       bool           // iat and exp in milliseconds
	staticNonce  string         // the same nonce in every token
	cache        bool           // one token per user, served again
	headerExtra  string         // raw JSON members appended to the header
	drop         string         // a claim left out
	ttl          int64          // exp - iat in seconds; 0: 600
	instanceTTL  int64          // sinch:rtc:instance:exp - iat in seconds; 0: none
	onlyAsked    bool           // instance expiry only when instanceTtl=true
	userSuffix   string         // appended to the user id in sub
	fixedUser    string         // sub names this user whatever was asked
	appKey       string         // iss names this application; "": the reference vector's
	pretty       bool           // typ header, sorted keys, indented JSON, an extra claim
}

func (o mintingServer) mint(tb testing.TB, user string, asked bool, n int) string {
	tb.Helper()
	now := o.now
	if now.IsZero() {
		now = checkNow
	}
	date := FormatDate(now)
	if o.kidZone != nil {
		date = now.In(o.kidZone).Format(DateFormat)
	}
	if o.kidAlternate && n%2 == 1 {
		date = FormatDate(now.Add(-24 * time.Hour))
	}
	key := keyFor(date)
	if o.keyFromText {
		key = signingKeyForDate([]byte(seedSecret), date)
	}
	iat := now.Unix()
	ttl := o.ttl
	if ttl == 0 {
		ttl = 600
	}
	exp := iat + ttl
	if o.millis {
		iat, exp = iat*1000, exp*1000
	}
	nonce := NewNonce()
	if o.staticNonce != "" {
		nonce = o.staticNonce
	}
	app := o.appKey
	if app == "" {
		app = seedAppKey
	}
	if o.fixedUser != "" {
		user = o.fixedUser
	}
	c := claimSet{
		{"iss", js(Issuer(app))}, {"sub", js(Subject(app, user+o.userSuffix))},
		{"iat", itoa64(iat)}, {"exp", itoa64(exp)}, {"nonce", js(nonce)},
	}
	if o.instanceTTL != 0 && (asked || !o.onlyAsked) {
		c = c.set(InstanceExpiryClaim, itoa64(now.Unix()+o.instanceTTL))
	}
	if o.drop != "" {
		c = c.del(o.drop)
	}
	header := `{"alg":"HS256","kid":"hkdfv1-` + date + `"` + o.headerExtra + `}`
	payload := c.json()
	if o.pretty {
		header = prettySorted(tb, `{"typ":"JWT",`+header[1:])
		payload = prettySorted(tb, `{"tenant":"acme",`+payload[1:])
	}
	return signJWT(tb, header, payload, key)
}

// prettySorted re-encodes a JSON object the way many encoders do: keys
// sorted, indented.
func prettySorted(tb testing.TB, s string) string {
	tb.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		tb.Fatal(err)
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// start serves o on 127.0.0.1: GET /token?user=...&ttl=... answers
// {"token": ...}. It returns the URL template for Check.
func (o mintingServer) start(t *testing.T) string {
	t.Helper()
	var mu sync.Mutex
	cached := map[string]string{}
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user := r.URL.Query().Get("user")
		asked := r.URL.Query().Get("instanceTtl") == "true"
		mu.Lock()
		tok, ok := cached[user]
		if !ok || !o.cache {
			tok = o.mint(t, user, asked, n)
			cached[user] = tok
		}
		n++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"token": tok})
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/token?user={userId}&instanceTtl={instanceTtl}"
}

// checkWith runs Check against url with the seed application and a clock
// fixed at now.
func checkWith(t *testing.T, url string, now time.Time, edit func(*CheckConfig)) (*CheckReport, error) {
	t.Helper()
	cfg := CheckConfig{
		URL:            url,
		ApplicationKey: seedAppKey,
		Secret:         seedSecretValue,
		Now:            func() time.Time { return now },
	}
	if edit != nil {
		edit(&cfg)
	}
	return Check(context.Background(), cfg)
}

var lineRE = regexp.MustCompile(`^(PASS|WARN|FAIL) [a-z0-9_]+: [^\n]+$`)

// checkReport asserts what holds of every report: one finding per known
// code, worst first, one-line messages without the secret, consistent
// counts, a JSON form.
func checkReport(tb testing.TB, r *CheckReport) {
	tb.Helper()
	known := slices.Concat(Codes(), DiagCodes(), CheckCodes())
	seen := map[string]bool{}
	last := 0
	var fails int
	for _, f := range r.Findings {
		if seen[f.Code] {
			tb.Fatalf("duplicate finding %s:\n%s", f.Code, r)
		}
		seen[f.Code] = true
		if !slices.Contains(known, f.Code) {
			tb.Fatalf("unknown code %q:\n%s", f.Code, r)
		}
		if f.Severity.rank() < last {
			tb.Fatalf("findings out of order:\n%s", r)
		}
		last = f.Severity.rank()
		if !lineRE.MatchString(f.String()) {
			tb.Fatalf("bad line %q", f.String())
		}
		assertNoSecret(tb, "finding "+f.Code, f.Message)
		if f.Severity == Fail {
			fails++
		}
	}
	if r.Failed() != (fails > 0) || r.Summary.Fail != fails || r.Summary.Fail+r.Summary.Warn+r.Summary.Pass != len(r.Findings) {
		tb.Fatalf("summary %+v does not match the findings:\n%s", r.Summary, r)
	}
	if r.Summary.Tokens != len(r.Tokens) || r.Summary.Accepted > r.Summary.Tokens {
		tb.Fatalf("summary %+v for %d tokens", r.Summary, len(r.Tokens))
	}
	lines := strings.Split(strings.TrimSuffix(r.String(), "\n"), "\n")
	if len(lines) != len(r.Findings)+1 || !strings.HasPrefix(lines[len(lines)-1], "summary: ") {
		tb.Fatalf("String():\n%s", r)
	}
	b, err := json.Marshal(r)
	if err != nil {
		tb.Fatal(err)
	}
	assertNoSecret(tb, "JSON", string(b))
	var back struct {
		Findings []CheckFinding `json:"findings"`
		Summary  CheckSummary   `json:"summary"`
	}
	if err := json.Unmarshal(b, &back); err != nil || len(back.Findings) != len(r.Findings) || back.Summary.Tokens != r.Summary.Tokens {
		tb.Fatalf("JSON %s does not read back: %v", b, err)
	}
}

// TestCheckServers: one auth server per classic mistake, each diagnosed
// with its code and with nothing else failing; correct servers, however
// unusual their encoding, fail nothing.
func TestCheckServers(t *testing.T) {
	for _, tt := range checkServerCases() {
		t.Run(tt.name, func(t *testing.T) { checkServer(t, tt) })
	}
}

// checkServerCase is a row of TestCheckServers.
type checkServerCase struct {
	name     string
	srv      mintingServer
	now      time.Time // the checker's clock; zero: checkNow
	expected bool      // InstanceTTLExpected
	code     string    // the finding that names the mistake ("" for a correct server)
	sev      Severity
	rejects  []string // the rule codes folded into it
	accepted int      // tokens that would register
}

// checkServerCases: one auth server per mistake, and correct ones.
func checkServerCases() []checkServerCase {
	nearMidnight := time.Date(2024, 3, 10, 22, 30, 0, 0, time.UTC) // 2024-03-11 08:30 at UTC+10
	earlyUTC := time.Date(2024, 3, 11, 2, 0, 0, 0, time.UTC)       // 2024-03-10 21:00 at UTC-5
	afterMidnight := time.Date(2024, 3, 11, 0, 0, 10, 0, time.UTC)
	return []checkServerCase{
		{name: "correct", accepted: 5},
		{name: "correct with typ, sorted keys, indented JSON, extra claim", srv: mintingServer{pretty: true}, accepted: 5},
		{name: "correct with a long TTL", srv: mintingServer{ttl: 86400}, code: DiagTokenTTLLong, sev: Warn, accepted: 5},
		{name: "correct, instance TTL when asked", srv: mintingServer{instanceTTL: 365 * 86400, onlyAsked: true}, expected: true, accepted: 5},
		{name: "correct, clock 3s ahead", srv: mintingServer{now: checkNow.Add(3 * time.Second)}, accepted: 5},
		{name: "secret text as HMAC key", srv: mintingServer{keyFromText: true},
			code: DiagSecretNotBase64Decoded, sev: Fail, rejects: []string{CodeSignatureInvalid}},
		{name: "kid date local, east of UTC near midnight", srv: mintingServer{now: nearMidnight, kidZone: time.FixedZone("UTC+10", 10*3600)}, now: nearMidnight,
			code: DiagKidDateNotUTC, sev: Fail, rejects: []string{CodeKidDateMismatch}},
		{name: "kid date local, west of UTC after midnight", srv: mintingServer{now: earlyUTC, kidZone: time.FixedZone("UTC-5", -5*3600)}, now: earlyUTC,
			code: DiagKidDateNotUTC, sev: Fail, rejects: []string{CodeKidDateMismatch}},
		{name: "timestamps in milliseconds", srv: mintingServer{millis: true},
			code: DiagTimestampsInMilliseconds, sev: Fail, rejects: []string{CodeTokenNotYetValid}},
		{name: "static nonce", srv: mintingServer{staticNonce: "c0ffee00-0000-4000-8000-000000000000"},
			code: CodeNonceReused, sev: Fail, accepted: 1},
		{name: "token cached per user", srv: mintingServer{cache: true},
			code: CodeNonceReused, sev: Fail, accepted: 3},
		{name: "type for typ", srv: mintingServer{headerExtra: `,"type":"JWT"`}, code: DiagHeaderTypo, sev: Warn, accepted: 5},
		{name: "nonce missing", srv: mintingServer{drop: "nonce"}, code: CodeClaimMissing, sev: Fail},
		{name: "iat missing", srv: mintingServer{drop: "iat"}, code: CodeClaimMissing, sev: Fail},
		{name: "TTL 30s", srv: mintingServer{ttl: 30}, code: CodeTokenTTLTooShort, sev: Fail},
		{name: "instance TTL 24h", srv: mintingServer{instanceTTL: 86400}, expected: true, code: CodeInstanceTTLTooShort, sev: Fail},
		{name: "instance TTL missing when expected", expected: true, code: CheckInstanceTTLRequired, sev: Fail},
		{name: "user id with @", srv: mintingServer{userSuffix: "@example.com"}, code: CodeUserIDInvalid, sev: Fail},
		{name: "another user", srv: mintingServer{fixedUser: "alice"}, code: CodeSubjectMismatch, sev: Fail},
		{name: "another application", srv: mintingServer{appKey: otherAppKey}, code: CodeUnknownApplication, sev: Fail},
		{name: "clock 10s ahead", srv: mintingServer{now: checkNow.Add(10 * time.Second)}, code: CheckClockSkew, sev: Warn, accepted: 5},
		{name: "clock 2m ahead", srv: mintingServer{now: checkNow.Add(2 * time.Minute)},
			code: CheckClockSkew, sev: Fail, rejects: []string{CodeTokenNotYetValid}},
		{name: "clock 15m behind", srv: mintingServer{now: checkNow.Add(-15 * time.Minute)},
			code: CheckClockSkew, sev: Fail, rejects: []string{CodeTokenExpired}},
		{name: "kid dates drift across workers", srv: mintingServer{now: afterMidnight, kidAlternate: true}, now: afterMidnight,
			code: CodeKidDateMismatch, sev: Warn, accepted: 5},
	}
}

// checkServer checks tt's auth server and compares the report with the row.
func checkServer(t *testing.T, tt checkServerCase) {
	t.Helper()
	now := tt.now
	if now.IsZero() {
		now = checkNow
	}
	r, err := checkWith(t, tt.srv.start(t), now, func(c *CheckConfig) { c.InstanceTTLExpected = tt.expected })
	if err != nil {
		t.Fatal(err)
	}
	checkReport(t, r)
	t.Logf("\n%s", r)
	var wantFail []string
	if tt.sev == Fail {
		wantFail = []string{tt.code}
	}
	if got := r.Codes(Fail); !slices.Equal(got, wantFail) {
		t.Fatalf("FAILs = %v, want %v:\n%s", got, wantFail, r)
	}
	if tt.code != "" {
		f := r.Finding(tt.code)
		if f == nil || f.Severity != tt.sev {
			t.Fatalf("want %s %s:\n%s", tt.sev, tt.code, r)
		}
		if !slices.Equal(f.Rejects, tt.rejects) {
			t.Fatalf("%s folds %v, want %v", tt.code, f.Rejects, tt.rejects)
		}
		for _, rule := range tt.rejects {
			if !strings.Contains(f.Message, rule) {
				t.Fatalf("%s does not name %s: %s", tt.code, rule, f.Message)
			}
		}
	}
	if r.Summary.Accepted != tt.accepted {
		t.Fatalf("accepted %d, want %d:\n%s", r.Summary.Accepted, tt.accepted, r)
	}
	if tt.accepted == 5 && r.Finding(DiagValid) == nil {
		t.Fatalf("no PASS valid:\n%s", r)
	}
	if tt.sev != Fail && r.Failed() {
		t.Fatalf("failed:\n%s", r)
	}
	if tt.code == "" {
		for _, f := range r.Findings {
			if f.Severity == Warn {
				t.Fatalf("correct server warned:\n%s", r)
			}
		}
		for _, c := range []string{DiagValid, CodeNonceReused, CheckClockSkew} {
			if f := r.Finding(c); f == nil || f.Severity != Pass {
				t.Fatalf("want PASS %s:\n%s", c, r)
			}
		}
	}
}

// A mistake's finding says how many tokens showed it, and which.
func TestCheckCounts(t *testing.T) {
	// Every other token (#2 and #4) from a worker on yesterday's date, at noon.
	r, err := checkWith(t, mintingServer{kidAlternate: true}.start(t), checkNow, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkReport(t, r)
	f := r.Finding(DiagKidDateNotUTC)
	if f == nil || f.Severity != Fail || !slices.Equal(f.Tokens, []int{2, 4}) || !strings.HasSuffix(f.Message, "[2 of 5 tokens: #2, #4]") {
		t.Fatalf("kid_date_not_utc on #2 and #4:\n%s", r)
	}
	if !slices.Equal(f.Users, []string{"Check_User_2", "check-user-1"}) {
		t.Fatalf("users %v", f.Users)
	}
	if v := r.Finding(DiagValid); v == nil || !strings.HasPrefix(v.Message, "3 of 5 tokens, each on its own, pass") || r.Summary.Accepted != 3 {
		t.Fatalf("3 valid:\n%s", r)
	}
	// Every token: "all 5 tokens".
	r, err = checkWith(t, mintingServer{ttl: 30}.start(t), checkNow, nil)
	if err != nil {
		t.Fatal(err)
	}
	if f := r.Finding(CodeTokenTTLTooShort); f == nil || !strings.HasSuffix(f.Message, "[all 5 tokens]") || len(f.Tokens) != 5 {
		t.Fatalf("all tokens:\n%s", r)
	}
	// One request for one user.
	r, err = checkWith(t, mintingServer{ttl: 30}.start(t), checkNow, func(c *CheckConfig) { c.Requests, c.Users = 1, []string{"bob"} })
	if err != nil {
		t.Fatal(err)
	}
	if f := r.Finding(CodeTokenTTLTooShort); f == nil || !strings.HasSuffix(f.Message, "[the token]") || !slices.Equal(r.Summary.Users, []string{"bob"}) {
		t.Fatalf("one token:\n%s", r)
	}
}

// Requests go to the users in turn, with the application key and the
// instance TTL request in URL and body; headers are sent; the token can
// be another JSON member or the whole body.
func TestCheckRequests(t *testing.T) {
	type seen struct{ method, user, app, ttl, auth string }
	var mu sync.Mutex
	var got []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			User string `json:"user"`
			App  string `json:"app"`
			TTL  bool   `json:"ttl"`
		}
		if r.Method == http.MethodPost {
			_ = json.NewDecoder(r.Body).Decode(&body)
		} else {
			body.User, body.App = r.URL.Query().Get("u"), r.URL.Query().Get("a")
			body.TTL = r.URL.Query().Get("t") == "true"
		}
		mu.Lock()
		got = append(got, seen{r.Method, body.User, body.App, fmt.Sprint(body.TTL), r.Header.Get("Authorization")})
		mu.Unlock()
		tok := mintingServer{instanceTTL: 365 * 86400}.mint(t, body.User, body.TTL, 0)
		if strings.HasSuffix(r.URL.Path, "/plain") {
			fmt.Fprintln(w, tok)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"jwt": tok, "expiresIn": 600})
	}))
	t.Cleanup(srv.Close)

	r, err := checkWith(t, srv.URL+"/post", checkNow, func(c *CheckConfig) {
		c.Method, c.Field, c.Users, c.Requests = "POST", "jwt", []string{"ann", "bob"}, 3
		c.Body = `{"user":"{userId}","app":"{applicationKey}","ttl":{instanceTtl}}`
		c.Header = http.Header{"Authorization": {"Bearer t0ken"}}
		c.InstanceTTLExpected = true
	})
	if err != nil {
		t.Fatal(err)
	}
	checkReport(t, r)
	if r.Failed() || r.Summary.Accepted != 3 || r.Summary.Method != "POST" || !slices.Equal(r.Summary.Users, []string{"ann", "bob"}) {
		t.Fatalf("POST:\n%s", r)
	}
	want := []seen{
		{"POST", "ann", seedAppKey, "true", "Bearer t0ken"},
		{"POST", "bob", seedAppKey, "true", "Bearer t0ken"},
		{"POST", "ann", seedAppKey, "true", "Bearer t0ken"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("requests %v, want %v", got, want)
	}
	if f := r.Finding(CheckInstanceTTLRequired); f == nil || f.Severity != Pass || !strings.Contains(f.Message, "365d") {
		t.Fatalf("instance TTL PASS:\n%s", r)
	}

	// GET, a text body, the query string kept out of the report.
	got = nil
	r, err = checkWith(t, srv.URL+"/plain?u={userId}&a={applicationKey}&t={instanceTtl}&apikey=hush", checkNow, func(c *CheckConfig) { c.Requests = 2 })
	if err != nil {
		t.Fatal(err)
	}
	checkReport(t, r)
	if r.Failed() || len(got) != 2 || got[1] != (seen{"GET", "Check_User_2", seedAppKey, "false", ""}) {
		t.Fatalf("GET %v:\n%s", got, r)
	}
	if strings.Contains(r.String(), "hush") || r.Summary.URL != srv.URL+"/plain" {
		t.Fatalf("query string in the report:\n%s", r)
	}
}

// Without {instanceTtl} in the request, a missing instance expiry says so.
func TestCheckInstanceTTLNotAsked(t *testing.T) {
	url := strings.TrimSuffix(mintingServer{}.start(t), "&instanceTtl={instanceTtl}")
	r, err := checkWith(t, url, checkNow, func(c *CheckConfig) { c.InstanceTTLExpected = true })
	if err != nil {
		t.Fatal(err)
	}
	if f := r.Finding(CheckInstanceTTLRequired); f == nil || f.Severity != Fail || !strings.Contains(f.Message, "did not pass {instanceTtl}") {
		t.Fatalf("instance TTL not asked:\n%s", r)
	}
}

// Two mistakes in one token are two findings; a signature no usual mistake
// explains is not folded into a kid date finding.
func TestCheckTwoMistakes(t *testing.T) {
	r, err := checkWith(t, mintingServer{keyFromText: true, ttl: 30}.start(t), checkNow, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkReport(t, r)
	if got := r.Codes(Fail); !slices.Equal(got, []string{DiagSecretNotBase64Decoded, CodeTokenTTLTooShort}) && !slices.Equal(got, []string{CodeTokenTTLTooShort, DiagSecretNotBase64Decoded}) {
		t.Fatalf("FAILs %v:\n%s", got, r)
	}
	// Local kid date and the secret of another application.
	west := time.FixedZone("UTC-5", -5*3600)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		date := checkNow.Add(-13 * time.Hour).In(west).Format(DateFormat)
		c := seedClaims().times(checkNow.Unix(), checkNow.Unix()+600).set("sub", js(subFor(req.URL.Query().Get("user")))).set("nonce", js(NewNonce()))
		fmt.Fprint(w, signJWT(t, hdr(date), c.json(), SigningKeyForDate(MustParseSecret(otherSecret), date)))
	}))
	t.Cleanup(srv.Close)
	r, err = checkWith(t, srv.URL+"/?user={userId}", checkNow, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkReport(t, r)
	if r.Finding(DiagKidDateNotUTC) == nil && r.Finding(CodeKidDateMismatch) == nil {
		t.Fatalf("kid date:\n%s", r)
	}
	if f := r.Finding(CodeSignatureInvalid); f == nil || f.Severity != Fail {
		t.Fatalf("the bad signature must stay a finding of its own:\n%s", r)
	}
}

// TestCheckFetchErrors: what stops a check is an error, with a message a
// person can act on, never a report.
func TestCheckFetchErrors(t *testing.T) {
	serve := func(t *testing.T, h http.HandlerFunc) string {
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		return srv.URL + "/token?user={userId}"
	}
	tests := []struct {
		name  string
		url   func(t *testing.T) string
		is    error
		match string
	}{
		{name: "HTML", url: func(t *testing.T) string {
			return serve(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				fmt.Fprint(w, "<!doctype html><html><body>Login</body></html>")
			})
		}, is: ErrNoToken, match: "HTML or XML, not a token"},
		{name: "500", url: func(t *testing.T) string {
			return serve(t, func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "database down", http.StatusInternalServerError)
			})
		}, match: "answered 500 Internal Server Error: database down"},
		{name: "empty body", url: func(t *testing.T) string {
			return serve(t, func(w http.ResponseWriter, r *http.Request) {})
		}, is: ErrNoToken, match: "the answer is empty"},
		{name: "JSON without the field", url: func(t *testing.T) string {
			return serve(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"jwt":"x.y.z"}`) })
		}, is: ErrNoToken, match: `no "token" member (it has "jwt")`},
		{name: "timeout", url: func(t *testing.T) string {
			release := make(chan struct{})
			u := serve(t, func(w http.ResponseWriter, r *http.Request) { <-release })
			t.Cleanup(func() { close(release) }) // before the server's Close, which waits for handlers
			return u
		}, is: context.DeadlineExceeded, match: "did not answer in time (timeout 100ms)"},
		{name: "unreachable", url: func(t *testing.T) string {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := l.Addr().String()
			l.Close()
			return "http://" + addr + "/token?user={userId}"
		}, match: "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := checkWith(t, tt.url(t), checkNow, func(c *CheckConfig) { c.Timeout = 100 * time.Millisecond })
			if err == nil {
				t.Fatalf("no error:\n%s", r)
			}
			var fe *FetchError
			if !errors.As(err, &fe) || fe.Number != 1 || fe.Requests != 5 || fe.User != "check-user-1" {
				t.Fatalf("want a *FetchError for token 1 of 5: %#v", err)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Fatalf("%v is not %v", err, tt.is)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.match) || strings.ContainsAny(msg, "\n") || strings.Count(msg, "credentials:") != 1 {
				t.Fatalf("message %q, want one line with %q", msg, tt.match)
			}
			if !strings.HasPrefix(msg, `credentials: token 1 of 5 (user "check-user-1"): `) {
				t.Fatalf("message %q", msg)
			}
		})
	}
	// The status is there for callers that branch on it.
	_, err := checkWith(t, serve(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusUnauthorized) }), checkNow, nil)
	var he *HTTPError
	if !errors.As(err, &he) || he.StatusCode != http.StatusUnauthorized {
		t.Fatalf("401: %v", err)
	}
	// A cancelled context is the context's error.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Check(ctx, CheckConfig{URL: mintingServer{}.start(t), ApplicationKey: seedAppKey, Secret: seedSecretValue}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

func TestRedactTemplate(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:80/token/{userId}?key=k":      "http://127.0.0.1:80/token/{userId}",
		"https://u:p@auth.example/t?user={userId}#frag": "https://auth.example/t",
		"http://h":  "http://h",
		"http://h/": "http://h/",
	} {
		if got := redactTemplate(in); got != want {
			t.Errorf("redactTemplate(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCheckConfigErrors(t *testing.T) {
	url := mintingServer{}.start(t)
	for name, edit := range map[string]func(*CheckConfig){
		"no key":     func(c *CheckConfig) { c.ApplicationKey = "" },
		"no secret":  func(c *CheckConfig) { c.Secret = Secret{} },
		"no URL":     func(c *CheckConfig) { c.URL = "" },
		"ftp URL":    func(c *CheckConfig) { c.URL = "ftp://127.0.0.1/x" },
		"PUT":        func(c *CheckConfig) { c.Method = "PUT" },
		"negative":   func(c *CheckConfig) { c.Requests = -1 },
		"too many":   func(c *CheckConfig) { c.Requests = MaxCheckRequests + 1 },
		"empty user": func(c *CheckConfig) { c.Users = []string{"a", ""} },
	} {
		if _, err := checkWith(t, url, checkNow, edit); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v, want ErrConfig", name, err)
		}
	}
}

// checkFixtureFile is a file written by a generator in testdata/check/gen.
type checkFixtureFile struct {
	Generator string `json:"generator"`
	Timezone  string `json:"timezone"`
	AppKey    string `json:"app_key"`
	Secret    string `json:"secret"`
	Cases     []struct {
		Name                string         `json:"name"`
		Now                 time.Time      `json:"now"`
		Expect              string         `json:"expect"`       // what Check reports
		Severity            Severity       `json:"severity"`     // with this severity
		TokenExpect         string         `json:"token_expect"` // what Explain says of a lone token; default Expect
		InstanceTTLExpected bool           `json:"instance_ttl_expected"`
		Tokens              []fixtureToken `json:"tokens"`
	} `json:"cases"`
}

// fixtureToken is a token of a fixture and the user it was made for.
type fixtureToken struct {
	User  string `json:"user"`
	Token string `json:"token"`
}

// replayServer is an auth server that answers with tokens, in order, each
// to a request for its user.
func replayServer(t *testing.T, tokens []fixtureToken) string {
	t.Helper()
	var mu sync.Mutex
	next := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if next >= len(tokens) || r.URL.Query().Get("user") != tokens[next].User {
			http.Error(w, "unexpected request", http.StatusBadRequest)
			return
		}
		_, _ = io.WriteString(w, `{"token":"`+tokens[next].Token+`"}`)
		next++
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/token?user={userId}"
}

// TestCheckFixtures checks tokens made outside this project, by Node's
// jsonwebtoken and by Python's standard library (see testdata/check/gen),
// at the time they were made: a correct token verifies, each mistake gets
// its diagnosis code; replayed by an auth server, Check reports the
// mistake and nothing else failing.
func TestCheckFixtures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "check", "*.json"))
	if err != nil || len(files) < 2 {
		t.Fatalf("fixtures: %v %v", files, err)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var fx checkFixtureFile
		if err := json.Unmarshal(b, &fx); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		secret := MustParseSecret(fx.Secret)
		keys := NewKeyring()
		keys.Add(fx.AppKey, secret)
		v := NewVerifier(keys, VerifierConfig{})
		for _, c := range fx.Cases {
			t.Run(strings.TrimSuffix(filepath.Base(file), ".json")+"/"+c.Name, func(t *testing.T) {
				if len(c.Tokens) != DefaultCheckRequests {
					t.Fatalf("%d tokens", len(c.Tokens))
				}
				tokenExpect := c.TokenExpect
				if tokenExpect == "" {
					tokenExpect = c.Expect
				}
				for _, tk := range c.Tokens {
					_, verr := v.Verify(tk.Token, VerifyOptions{User: tk.User, Now: c.Now, ChallengeTime: c.Now})
					x := Explain(tk.Token, ExplainOptions{ApplicationKey: fx.AppKey, Secret: secret, User: tk.User, Now: c.Now, ChallengeTime: c.Now})
					checkExplanation(t, x)
					if tokenExpect == DiagValid {
						if verr != nil || x.Failed() || !x.Verified {
							t.Fatalf("%s: want valid, verify: %v\n%s", fx.Generator, verr, x)
						}
						continue
					}
					f := x.Finding(tokenExpect)
					if f == nil || f.Severity != c.Severity {
						t.Fatalf("%s: want %s %s:\n%s", fx.Generator, c.Severity, tokenExpect, x)
					}
					if (verr == nil) != (c.Severity != Fail) {
						t.Fatalf("%s: verify %v for a %s finding", fx.Generator, verr, c.Severity)
					}
				}

				// Replay: an auth server that answers with the generator's
				// tokens, in order, checked at the time they were made.
				url := replayServer(t, c.Tokens)
				r, err := Check(context.Background(), CheckConfig{
					URL: url, ApplicationKey: fx.AppKey, Secret: secret,
					InstanceTTLExpected: c.InstanceTTLExpected, Now: func() time.Time { return c.Now },
				})
				if err != nil {
					t.Fatal(err)
				}
				checkReport(t, r)
				var wantFail []string
				if c.Severity == Fail {
					wantFail = []string{c.Expect}
				}
				if got := r.Codes(Fail); !slices.Equal(got, wantFail) {
					t.Fatalf("%s: FAILs %v, want %v:\n%s", fx.Generator, got, wantFail, r)
				}
				if f := r.Finding(c.Expect); f == nil || f.Severity != c.Severity {
					t.Fatalf("%s: want %s %s:\n%s", fx.Generator, c.Severity, c.Expect, r)
				}
			})
		}
	}
}

// A Go auth backend's own test: run Check against the handler and fail
// on any FAIL.
func ExampleCheck() {
	secret := MustParseSecret("ax8hTTQJF0OPXL32r1LHMA==")
	minter, _ := NewMinter(MinterConfig{ApplicationKey: "a32e5a8d-f7d8-411c-9645-9038e8dd051d", Secret: secret})
	// The auth server under test.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, err := minter.Mint(r.URL.Query().Get("user"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"token": tok})
	}))
	defer srv.Close()

	report, err := Check(context.Background(), CheckConfig{
		URL:            srv.URL + "/token?user={userId}",
		ApplicationKey: "a32e5a8d-f7d8-411c-9645-9038e8dd051d",
		Secret:         secret,
	})
	if err != nil {
		panic(err) // the auth server could not be reached
	}
	for _, f := range report.Findings {
		fmt.Println(f.Severity, f.Code)
	}
	fmt.Println("failed:", report.Failed())
	// Output:
	// PASS valid
	// PASS nonce_reused
	// PASS clock_skew
	// failed: false
}

// Whatever the auth server answers that looks like a token is checked, not
// trusted: garbage is token_malformed, never a crash or an error.
func TestCheckGarbageTokens(t *testing.T) {
	// e30 is {}: three empty objects are well-formed, and miss everything.
	for _, body := range []string{"hello", `{"token":"a.b.c"}`, `"x.y"`, `{"token":"` + strings.Repeat("A", MaxTokenLength+1) + `"}`, "e30.e30.e30"} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, body) }))
		r, err := checkWith(t, srv.URL+"/?u={userId}", checkNow, func(c *CheckConfig) { c.Requests = 2 })
		srv.Close()
		if err != nil {
			t.Fatalf("%.40q: %v", body, err)
		}
		checkReport(t, r)
		if !r.Failed() || r.Summary.Accepted != 0 || (body != "e30.e30.e30" && r.Finding(CodeTokenMalformed) == nil) {
			t.Fatalf("%.40q:\n%s", body, r)
		}
	}
}

package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sinchsim/sinchsim/credentials"
)

// checkClock is the fixed clock of the check tests, shared by the auth
// servers below and the command.
var checkClock = time.Date(2024, 3, 10, 12, 0, 0, 0, time.UTC)

func fixedClock() time.Time { return checkClock }

// tokenServer serves mk's tokens as {"token": ...} on 127.0.0.1 and
// returns a --url template for it.
func tokenServer(t *testing.T, mk func(user string, asked bool) string) string {
	t.Helper()
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		tok := mk(r.URL.Query().Get("user"), r.URL.Query().Get("ttl") == "true")
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"token": tok})
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/token?user={userId}&ttl={instanceTtl}"
}

// handServer is an auth server written by hand, as a team would, with one
// knob per classic mistake.
type handServer struct {
	keyFromText bool   // HMAC key derived from the secret's text
	kidLocal    bool   // kid date (and key) in UTC+10: the next day at 22:30 UTC
	millis      bool   // iat and exp in milliseconds
	nonce       string // a static nonce
	header      string // extra header members, raw JSON
	ttl         int64  // exp - iat; 0: 600
	instanceTTL int64  // sinch:rtc:instance:exp - iat; 0: none
	userSuffix  string // appended to the user id in sub
	pretty      bool   // sorted keys, indented, typ
	now         time.Time
}

func (h handServer) mint(user string, asked bool) string {
	now := h.now
	if now.IsZero() {
		now = checkClock
	}
	date := credentials.FormatDate(now)
	if h.kidLocal {
		date = now.In(time.FixedZone("UTC+10", 10*3600)).Format(credentials.DateFormat)
	}
	key := credentials.SigningKeyForDate(credentials.MustParseSecret(seedSecret), date)
	if h.keyFromText {
		m := hmac.New(sha256.New, []byte(seedSecret))
		m.Write([]byte(date))
		key = m.Sum(nil)
	}
	iat := now.Unix()
	ttl := h.ttl
	if ttl == 0 {
		ttl = 600
	}
	exp := iat + ttl
	if h.millis {
		iat, exp = iat*1000, exp*1000
	}
	nonce := h.nonce
	if nonce == "" {
		nonce = credentials.NewNonce()
	}
	payload := fmt.Sprintf(`{"iss":%q,"sub":%q,"iat":%d,"exp":%d,"nonce":%q`,
		credentials.Issuer(seedAppKey), credentials.Subject(seedAppKey, user+h.userSuffix), iat, exp, nonce)
	if h.instanceTTL != 0 {
		payload += fmt.Sprintf(`,%q:%d`, credentials.InstanceExpiryClaim, now.Unix()+h.instanceTTL)
	}
	payload += "}"
	header := `{"alg":"HS256","kid":"hkdfv1-` + date + `"` + h.header + "}"
	if h.pretty {
		header, payload = indentSorted(`{"typ":"JWT",`+header[1:]), indentSorted(payload)
	}
	enc := base64.RawURLEncoding
	input := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload))
	m := hmac.New(sha256.New, key)
	m.Write([]byte(input))
	return input + "." + enc.EncodeToString(m.Sum(nil))
}

// indentSorted re-encodes a JSON object with sorted keys, indented, as
// Python's json.dumps(indent=2, sort_keys=True) would.
func indentSorted(s string) string {
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		panic(err)
	}
	b, _ := json.MarshalIndent(m, "", "  ")
	return string(b)
}

var checkLineRE = regexp.MustCompile(`^(PASS|WARN|FAIL) [a-z0-9_]+: [^\n]+$`)

// checkOutput asserts the shape of check's text output and returns the
// codes of its lines by severity.
func checkOutput(t *testing.T, r result) map[string][]string {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[len(lines)-1], "summary: ") {
		t.Fatalf("want finding lines and a summary line:\n%v", r)
	}
	out := map[string][]string{}
	for _, l := range lines[:len(lines)-1] {
		if !checkLineRE.MatchString(l) {
			t.Fatalf("bad line %q:\n%v", l, r)
		}
		sev, rest, _ := strings.Cut(l, " ")
		code, _, _ := strings.Cut(rest, ":")
		out[sev] = append(out[sev], code)
	}
	return out
}

func checkArgs(url string, extra ...string) []string {
	return cat([]string{"check", "--url", url}, seedCreds, extra)
}

// TestCheckServers: one auth server per classic mistake; the line that
// names it and no other FAIL, exit 1; correct servers exit 0.
func TestCheckServers(t *testing.T) {
	nearMidnight := time.Date(2024, 3, 10, 22, 30, 0, 0, time.UTC)
	tests := []struct {
		name  string
		srv   handServer
		now   time.Time
		flags []string
		code  int
		fail  string // the one FAIL code
		warn  string // a WARN that must show
	}{
		{name: "correct", code: exitOK},
		{name: "correct, typ, sorted keys, indented", srv: handServer{pretty: true}, code: exitOK},
		{name: "correct, long TTL", srv: handServer{ttl: 86400}, code: exitOK, warn: credentials.DiagTokenTTLLong},
		{name: "correct, instance TTL", srv: handServer{instanceTTL: 365 * 86400}, flags: []string{"--instance-ttl-expected"}, code: exitOK},
		{name: "secret text as key", srv: handServer{keyFromText: true}, code: exitFail, fail: credentials.DiagSecretNotBase64Decoded},
		{name: "kid date local", srv: handServer{kidLocal: true, now: nearMidnight}, now: nearMidnight, code: exitFail, fail: credentials.DiagKidDateNotUTC},
		{name: "milliseconds", srv: handServer{millis: true}, code: exitFail, fail: credentials.DiagTimestampsInMilliseconds},
		{name: "static nonce", srv: handServer{nonce: "same-every-time"}, code: exitFail, fail: credentials.CodeNonceReused},
		{name: "type for typ", srv: handServer{header: `,"type":"JWT"`}, code: exitOK, warn: credentials.DiagHeaderTypo},
		{name: "TTL 30s", srv: handServer{ttl: 30}, code: exitFail, fail: credentials.CodeTokenTTLTooShort},
		{name: "instance TTL 24h", srv: handServer{instanceTTL: 86400}, flags: []string{"--instance-ttl-expected"}, code: exitFail, fail: credentials.CodeInstanceTTLTooShort},
		{name: "instance TTL missing", flags: []string{"--instance-ttl-expected"}, code: exitFail, fail: credentials.CheckInstanceTTLRequired},
		{name: "user id with @", srv: handServer{userSuffix: "@example.com"}, code: exitFail, fail: credentials.CodeUserIDInvalid},
		{name: "clock 2m ahead", srv: handServer{now: checkClock.Add(2 * time.Minute)}, code: exitFail, fail: credentials.CheckClockSkew},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := fixedClock
			if !tt.now.IsZero() {
				now = func() time.Time { return tt.now }
			}
			url := tokenServer(t, tt.srv.mint)
			r := cliEnv(t, context.Background(), now, strings.NewReader(""), checkArgs(url, tt.flags...)...)
			if r.code != tt.code || r.stderr != "" {
				t.Fatalf("want exit %d and nothing on stderr; got %v", tt.code, r)
			}
			lines := checkOutput(t, r)
			var wantFail []string
			if tt.fail != "" {
				wantFail = []string{tt.fail}
			}
			if !slices.Equal(lines["FAIL"], wantFail) {
				t.Fatalf("FAIL lines %v, want %v:\n%v", lines["FAIL"], wantFail, r)
			}
			if tt.warn != "" && !slices.Contains(lines["WARN"], tt.warn) {
				t.Fatalf("want WARN %s:\n%v", tt.warn, r)
			}
			if tt.code == exitOK && !slices.Contains(lines["PASS"], credentials.DiagValid) {
				t.Fatalf("want PASS valid:\n%v", r)
			}
			last := r.stdout[strings.LastIndex(strings.TrimSuffix(r.stdout, "\n"), "\n")+1:]
			if want := map[int]string{exitOK: "summary: ok: ", exitFail: "summary: FAILED: "}[tt.code]; !strings.HasPrefix(last, want) {
				t.Fatalf("summary %q, want prefix %q", last, want)
			}
		})
	}
}

func TestCheckJSON(t *testing.T) {
	url := tokenServer(t, handServer{keyFromText: true}.mint)
	r := cliEnv(t, context.Background(), fixedClock, strings.NewReader(""), checkArgs(url, "--json", "--requests", "3")...)
	if r.code != exitFail || r.stderr != "" {
		t.Fatalf("want exit 1; got %v", r)
	}
	var out struct {
		Findings []struct {
			Code     string   `json:"code"`
			Severity string   `json:"severity"`
			Message  string   `json:"message"`
			Tokens   []int    `json:"tokens"`
			Rejects  []string `json:"rejects"`
			Users    []string `json:"users"`
		} `json:"findings"`
		Summary struct {
			Method   string   `json:"method"`
			Warn     int      `json:"warn"`
			Pass     int      `json:"pass"`
			Tokens   int      `json:"tokens"`
			Accepted int      `json:"accepted"`
			Fail     int      `json:"fail"`
			Failed   bool     `json:"failed"`
			Users    []string `json:"users"`
			URL      string   `json:"url"`
		} `json:"summary"`
	}
	d := json.NewDecoder(strings.NewReader(r.stdout))
	d.DisallowUnknownFields()
	if err := d.Decode(&out); err != nil {
		t.Fatalf("not one JSON object: %v\n%v", err, r)
	}
	if d.More() {
		t.Fatalf("more than one JSON value:\n%v", r)
	}
	f := out.Findings[0]
	if f.Code != credentials.DiagSecretNotBase64Decoded || f.Severity != "FAIL" || !slices.Equal(f.Tokens, []int{1, 2, 3}) || !slices.Equal(f.Rejects, []string{credentials.CodeSignatureInvalid}) {
		t.Fatalf("first finding %+v", f)
	}
	if s := out.Summary; s.Tokens != 3 || s.Accepted != 0 || s.Fail != 1 || !s.Failed || len(s.Users) != 3 || strings.Contains(s.URL, "?") {
		t.Fatalf("summary %+v", s)
	}
}

// POST with a body template, a header and another field; repeated --user.
func TestCheckPOST(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Login string `json:"login"`
			TTL   bool   `json:"ttl"`
		}
		if r.Method != http.MethodPost || r.Header.Get("X-Api-Key") != "k3y" || json.NewDecoder(r.Body).Decode(&in) != nil {
			http.Error(w, "no", http.StatusForbidden)
			return
		}
		mu.Lock()
		seen = append(seen, in.Login+"/"+strconv.FormatBool(in.TTL))
		mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]string{"jwt": handServer{instanceTTL: 30 * 86400}.mint(in.Login, in.TTL)})
	}))
	t.Cleanup(srv.Close)
	r := cliEnv(t, context.Background(), fixedClock, strings.NewReader(""), checkArgs(srv.URL+"/auth",
		"--method", "post", "--body", `{"login":"{userId}","ttl":{instanceTtl}}`, "--field", "jwt",
		"--header", "x-api-key: k3y", "--user", "ann", "--user", "bob", "--requests", "4", "--instance-ttl-expected")...)
	if r.code != exitOK {
		t.Fatalf("want exit 0; got %v", r)
	}
	if want := []string{"ann/true", "bob/true", "ann/true", "bob/true"}; !slices.Equal(seen, want) {
		t.Fatalf("requests %v, want %v", seen, want)
	}
	if !strings.Contains(r.stdout, "PASS instance_ttl_required: ") || !strings.Contains(r.stdout, "users ann, bob; POST "+srv.URL+"/auth") {
		t.Fatalf("output:\n%v", r)
	}
	if strings.Contains(r.stdout+r.stderr, "k3y") {
		t.Fatalf("header value printed:\n%v", r)
	}
	// Without the header: 403, exit 2, a hint.
	r = cliEnv(t, context.Background(), fixedClock, strings.NewReader(""), checkArgs(srv.URL+"/auth", "--method", "POST")...)
	if r.code != exitUsage || !strings.Contains(r.stderr, "answered 403 Forbidden: no (if the auth server needs credentials, pass them with --header") {
		t.Fatalf("403: %v", r)
	}
}

// TestCheckCannotAsk: an auth server that cannot be asked is exit 2 and
// one clear line on stderr, nothing on stdout.
func TestCheckCannotAsk(t *testing.T) {
	serve := func(t *testing.T, h http.HandlerFunc) string {
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		return srv.URL + "/token?user={userId}"
	}
	old := checkTimeout
	checkTimeout = 100 * time.Millisecond
	t.Cleanup(func() { checkTimeout = old })
	tests := []struct {
		name string
		url  func(t *testing.T) string
		want string
	}{
		{"HTML", func(t *testing.T) string {
			return serve(t, func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprint(w, "<html><head><title>Sign in</title></head></html>")
			})
		}, "the answer is HTML or XML, not a token: <html><head><title>Sign in</title></head></html> (is --url the token endpoint rather than a page?)"},
		{"500", func(t *testing.T) string {
			return serve(t, func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", http.StatusInternalServerError) })
		}, "answered 500 Internal Server Error: boom"},
		{"empty", func(t *testing.T) string {
			return serve(t, func(w http.ResponseWriter, r *http.Request) {})
		}, "/token: returned no token: the answer is empty"},
		{"other field", func(t *testing.T) string {
			return serve(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"access_token":"a.b.c"}`) })
		}, `no "token" member (it has "access_token") (name the member that holds the token with --field)`},
		{"timeout", func(t *testing.T) string {
			release := make(chan struct{})
			u := serve(t, func(w http.ResponseWriter, r *http.Request) { <-release })
			t.Cleanup(func() { close(release) })
			return u
		}, "did not answer in time (timeout 100ms)"},
		{"unreachable", func(t *testing.T) string {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			u := "http://" + l.Addr().String() + "/token?user={userId}"
			l.Close()
			return u
		}, "connection refused (is the auth server running at that address?)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := cliEnv(t, context.Background(), fixedClock, strings.NewReader(""), checkArgs(tt.url(t))...)
			if r.code != exitUsage || r.stdout != "" {
				t.Fatalf("want exit 2 and nothing on stdout; got %v", r)
			}
			if !strings.HasPrefix(r.stderr, `sinchsim check: token 1 of 5 (user "check-user-1"): auth server GET http://127.0.0.1:`) ||
				!strings.Contains(r.stderr, tt.want) || strings.Count(r.stderr, "\n") != 1 || strings.Contains(r.stderr, "credentials:") {
				t.Fatalf("want one line with %q; got %v", tt.want, r)
			}
		})
	}
}

func TestCheckUsage(t *testing.T) {
	url := tokenServer(t, handServer{}.mint)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no url", cat([]string{"check"}, seedCreds), "missing required flag --url"},
		{"no secret", []string{"check", "--url", url, "--app-key", seedAppKey}, "missing required flag --app-secret"},
		{"bad secret", []string{"check", "--url", url, "--app-key", seedAppKey, "--app-secret", "not base64!"}, "--app-secret is not valid base64"},
		{"argument", append(checkArgs(url), "extra"), "this command takes only flags"},
		{"method", checkArgs(url, "--method", "PUT"), `--method "PUT": use GET or POST`},
		{"body with GET", checkArgs(url, "--body", "{}"), "--body is sent only with --method POST"},
		{"header", checkArgs(url, "--header", "Bearer s3cr3t-value"), "--header number 1 is not 'Name: value'"},
		{"requests", checkArgs(url, "--requests", "0"), "--requests 0: ask for 1 to 1000 tokens"},
		{"empty user", checkArgs(url, "--user", ""), "--user is empty"},
		{"ftp", checkArgs("ftp://127.0.0.1/x"), "is not an http(s) URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := cli(t, "", tt.args...)
			if r.code != exitUsage || r.stdout != "" || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("want exit 2 and %q; got %v", tt.want, r)
			}
			if strings.Contains(r.stderr, "s3cr3t") {
				t.Fatalf("header value printed: %v", r)
			}
		})
	}
}

// TestCheckFixtures replays, through the command, the tokens of auth
// servers written outside this project (Node's jsonwebtoken, Python's
// standard library; see credentials/testdata/check/gen), at the time they
// were made.
func TestCheckFixtures(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "credentials", "testdata", "check", "*.json"))
	if len(files) < 2 {
		t.Fatalf("fixtures not found: %v", files)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var fx struct {
			AppKey string `json:"app_key"`
			Secret string `json:"secret"`
			Cases  []struct {
				Name                string    `json:"name"`
				Now                 time.Time `json:"now"`
				Expect              string    `json:"expect"`
				Severity            string    `json:"severity"`
				InstanceTTLExpected bool      `json:"instance_ttl_expected"`
				Tokens              []struct {
					User  string `json:"user"`
					Token string `json:"token"`
				} `json:"tokens"`
			} `json:"cases"`
		}
		if err := json.Unmarshal(b, &fx); err != nil {
			t.Fatal(err)
		}
		for _, c := range fx.Cases {
			t.Run(strings.TrimSuffix(filepath.Base(file), ".json")+"/"+c.Name, func(t *testing.T) {
				var mu sync.Mutex
				next := 0
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					mu.Lock()
					defer mu.Unlock()
					if next >= len(c.Tokens) || r.URL.Query().Get("user") != c.Tokens[next].User {
						http.Error(w, "unexpected request", http.StatusBadRequest)
						return
					}
					_, _ = io.WriteString(w, c.Tokens[next].Token) // a plain-text answer
					next++
				}))
				t.Cleanup(srv.Close)
				args := []string{"check", "--url", srv.URL + "/?user={userId}", "--app-key", fx.AppKey, "--app-secret", fx.Secret}
				if c.InstanceTTLExpected {
					args = append(args, "--instance-ttl-expected")
				}
				r := cliEnv(t, context.Background(), func() time.Time { return c.Now }, strings.NewReader(""), args...)
				want := exitOK
				if c.Severity == "FAIL" {
					want = exitFail
				}
				if r.code != want {
					t.Fatalf("want exit %d; got %v", want, r)
				}
				lines := checkOutput(t, r)
				var wantFail []string
				if c.Severity == "FAIL" {
					wantFail = []string{c.Expect}
				}
				if !slices.Equal(lines["FAIL"], wantFail) || !slices.Contains(lines[c.Severity], c.Expect) {
					t.Fatalf("want %s %s and no other FAIL:\n%v", c.Severity, c.Expect, r)
				}
			})
		}
	}
}

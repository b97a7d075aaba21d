package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/fakebackend"
	"github.com/sinchsim/sinchsim/internal/fleet"
	"github.com/sinchsim/sinchsim/internal/sim"
	"github.com/sinchsim/sinchsim/internal/syncbuf"
)

func TestDemoRuns(t *testing.T) {
	r := cli(t, "", "demo")
	if r.code != exitOK {
		t.Fatalf("demo: %v", r)
	}
	for _, want := range []string{
		"alice     registering -> started (registered)",
		"bob       connecting -> authenticating (authenticate)",
		"re-authenticated with the stored instance: 0 tokens asked",
		"dave      started -> renewing (renew)",
		"updateInstanceTtl dave -> ok",
		"createInstance eve -> signature_invalid",
		"secret_not_base64_decoded",
		"Done: 4 instances on the backend",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, r.stdout)
		}
	}
}

func botsJSON(t *testing.T, r result) fleet.Result {
	t.Helper()
	var res fleet.Result
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&res); err != nil {
		t.Fatalf("bots --json is not one JSON object: %v\n%v", err, r)
	}
	if dec.More() {
		t.Fatalf("bots --json printed more than one object:\n%s", r.stdout)
	}
	return res
}

func TestBotsInProcess(t *testing.T) {
	r := cli(t, "", "bots", "-n", "20", "--concurrency", "4", "--json")
	if r.code != exitOK {
		t.Fatalf("bots: %v", r)
	}
	res := botsJSON(t, r)
	if res.Clients != 20 || res.Started != 20 || res.InstancesCreated != 20 || res.Failed != 0 || res.Reauthenticated != 0 ||
		res.LatencyMs.P50 <= 0 || res.LatencyMs.P99 < res.LatencyMs.P50 || res.RegistrationsPerSecond <= 0 {
		t.Fatalf("result %+v", res)
	}
	// The exact field names other tools read.
	for _, f := range []string{`"clients"`, `"started"`, `"instancesCreated"`, `"reauthenticated"`, `"failed"`, `"failuresByCode"`, `"latencyMs"`, `"p50"`, `"p95"`, `"p99"`, `"registrationsPerSecond"`} {
		if !strings.Contains(r.stdout, f) {
			t.Errorf("JSON lacks %s: %s", f, r.stdout)
		}
	}
	text := cli(t, "", "bots", "-n", "3")
	if text.code != exitOK || !strings.Contains(text.stdout, "started              3") || !strings.Contains(text.stdout, "latency p50/p95/p99") {
		t.Fatalf("text summary: %v", text)
	}
}

// bots --floor measures the bare WebSocket floor in the same run and
// states registrations/s as a ratio of it.
func TestBotsFloor(t *testing.T) {
	r := cli(t, "", "bots", "-n", "20", "--concurrency", "4", "--floor", "--json")
	res := botsJSON(t, r)
	if r.code != exitOK || res.Floor == nil || res.Floor.Connections != 20 || res.Floor.PerSecond <= 0 ||
		res.Floor.Ratio <= 0 || !strings.Contains(r.stdout, `"connectionsPerSecond"`) || !strings.Contains(r.stdout, `"ratio"`) {
		t.Fatalf("bots --floor: %v", r)
	}
	text := cli(t, "", "bots", "-n", "5", "--floor")
	if !strings.Contains(text.stdout, "ratio to the floor") {
		t.Fatalf("text summary: %v", text)
	}
}

// startServe runs "sinchsim serve" in-process and returns its WebSocket URL.
func startServe(t *testing.T, args ...string) string {
	t.Helper()
	url, _ := startServeOut(t, args...)
	return url
}

// startServeOut is startServe that also returns what serve printed.
func startServeOut(t *testing.T, args ...string) (string, string) {
	t.Helper()
	return startServeEnv(t, noEnv, args...)
}

// startServeEnv is startServeOut with getenv as the environment.
func startServeEnv(t *testing.T, getenv func(string) string, args ...string) (string, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncbuf.Buffer
	done := make(chan int, 1)
	go func() {
		done <- runEnv(ctx, &env{name: "sinchsim", stdin: strings.NewReader(""), stdout: &out, stderr: &errOut, now: time.Now, getenv: getenv},
			append([]string{"serve", "--addr", "127.0.0.1:0"}, args...))
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != exitOK {
			t.Errorf("serve exited %d:\n%s\n%s", code, out.String(), errOut.String())
		}
	})
	re := regexp.MustCompile(`websocket  (ws://\S+)`)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(out.String()); m != nil && strings.Contains(out.String(), "Serving") {
			return m[1], out.String()
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited %d:\n%s\n%s", code, out.String(), errOut.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("serve did not start:\n%s\n%s", out.String(), errOut.String())
	return "", ""
}

func TestBotsAgainstServeAndStore(t *testing.T) {
	const key, secret = "app-under-test", "ax8hTTQJF0OPXL32r1LHMA=="
	url := startServe(t, "--app", key+":"+secret)
	store := t.TempDir()
	args := []string{"bots", "--url", url, "--app-key", key, "--app-secret", secret, "-n", "8", "--store", store, "--json"}
	first := botsJSON(t, cli(t, "", args...))
	if first.Started != 8 || first.InstancesCreated != 8 || first.Reauthenticated != 0 {
		t.Fatalf("first run %+v", first)
	}
	// Second run with the same stores: every bot re-authenticates, no instance is created.
	second := botsJSON(t, cli(t, "", args...))
	if second.Started != 8 || second.InstancesCreated != 0 || second.Reauthenticated != 8 {
		t.Fatalf("second run %+v", second)
	}
	// A wrong secret: every bot fails with signature_invalid, exit 1.
	bad := cli(t, "", "bots", "--url", url, "--app-key", key, "--app-secret", "AAAAAAAAAAAAAAAAAAAAAA==", "-n", "3", "--json")
	res := botsJSON(t, bad)
	if bad.code != exitFail || res.Failed != 3 || res.FailuresByCode["signature_invalid"] != 3 {
		t.Fatalf("bad secret: %+v %v", res, bad)
	}
}

func TestBotsUsage(t *testing.T) {
	// Workers started by mistake run the program, not these tests again.
	t.Setenv(asMainEnv, "1")
	for _, tc := range []struct {
		args []string
		want string // in the message, when set
	}{
		{[]string{"bots", "-n", "0"}, ""},
		{[]string{"bots", "--url", "ws://127.0.0.1:1"}, ""},
		{[]string{"bots", "--instance-ttl", "1h"}, ""},
		{[]string{"bots", "--app-secret", "x", "--auth-url", "http://127.0.0.1:1/{userId}"}, ""},
		{[]string{"bots", "--user-prefix", "bad prefix"}, ""},
		{[]string{"bots", "extra"}, ""},
		{[]string{"bots", "-n", "4", "--procs", "2", "--floor"}, "--floor"},
	} {
		if r := cli(t, "", tc.args...); r.code != exitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%q: want exit 2 naming %q, got %v", tc.args, tc.want, r)
		}
	}
}

func simulateJSON(t *testing.T, args ...string) sim.Result {
	t.Helper()
	r := cli(t, "", append(append([]string{"simulate"}, args...), "--json")...)
	if r.code != exitOK {
		t.Fatalf("simulate: %v", r)
	}
	var res sim.Result
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	return res
}

func TestSimulateExactCounts(t *testing.T) {
	// TTL 10 days: renewal when 7 days remain, i.e. every 3 days; over
	// 30 days that is days 3, 6, ..., 30: 10 renewals per bot.
	res := simulateJSON(t, "--bots", "4", "--period", "720h", "--instance-ttl", "240h")
	if res.Renewals != 40 || res.RenewalCyclesFailed != 0 || res.Retries != 0 || res.Expiries != 0 || res.ReRegistrations != 0 || res.Failed != 0 || len(res.RejectionsByCode) != 0 {
		t.Fatalf("no failures: %+v, want exactly 40 renewals", res)
	}
	if len(res.Days) != 30 || res.Days[3].Renewals != 4 || res.Days[29].Registered != 4 {
		t.Fatalf("per-day series %+v: want 30 days, 4 renewals on day 4 (72 h), 4 clients registered at the end", res.Days)
	}
	// Every cycle fails: a 48 h instance renews when 24 h remain, every
	// try fails until it expires at 48 h; registered anew, it expires at
	// 96 h again. Two cycles, two expiries per bot.
	res = simulateJSON(t, "--bots", "2", "--period", "96h", "--instance-ttl", "48h", "--renewal-failure-rate", "1")
	if res.Renewals != 0 || res.RenewalCyclesFailed != 4 || res.Expiries != 4 || res.ReRegistrations != 4 || res.Retries < 4*2500 {
		t.Fatalf("every cycle failing: %+v, want 4 failed cycles, 4 expiries, 4 re-registrations, thousands of retries", res)
	}
	if res.FirstExpiry == nil || res.FirstExpiry.Sub(res.Start) != 48*time.Hour || res.LastExpiry.Sub(res.Start) != 96*time.Hour {
		t.Fatalf("expiries from %v to %v, want start+48h and start+96h", res.FirstExpiry, res.LastExpiry)
	}
}

// The question the flags answer: the auth server is down for 36 h on day
// 10; with starts spread over two days, the clients whose renewal falls in
// its first 12 h expire, the others renew once it is over.
func TestSimulateOutage(t *testing.T) {
	res := simulateJSON(t, "--bots", "12", "--period", "480h", "--instance-ttl", "72h", "--stagger", "48h", "--outage", "240h/36h")
	var users []string
	for _, e := range res.ExpiredUsers {
		users = append(users, e.User+"@"+e.At.Sub(res.Start).String())
	}
	if got := strings.Join(users, " "); got != "sim-0@264h0m0s sim-1@268h0m0s sim-2@272h0m0s sim-3@276h0m0s" {
		t.Fatalf("expired %s", got)
	}
	if res.Expiries != 4 || res.RenewalCyclesFailed != 4 || res.UnregisteredSeconds.Max < 12*3600 || len(res.Outages) != 1 {
		t.Fatalf("%+v", res)
	}
}

func TestSimulateOutputs(t *testing.T) {
	args := []string{"simulate", "--bots", "3", "--period", "96h", "--instance-ttl", "48h"}
	r := cli(t, "", append(args, "--csv")...)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != exitOK || len(lines) != 5 || !strings.HasPrefix(lines[0], "day,date,registered,") || !strings.HasPrefix(lines[2], "2,2026-01-02,3,") {
		t.Fatalf("--csv: %v", r)
	}
	file := filepath.Join(t.TempDir(), "timeline.html")
	r = cli(t, "", append(args, "--html", file)...)
	page, err := os.ReadFile(file)
	if r.code != exitOK || err != nil || !bytes.Contains(page, []byte(`<g class="lane" data-user="sim-2">`)) {
		t.Fatalf("--html: %v, %v", r, err)
	}
	if !strings.Contains(r.stdout, "renewals                12") {
		t.Fatalf("text summary:\n%s", r.stdout)
	}
}

func TestSimulateUsage(t *testing.T) {
	for _, args := range [][]string{
		{"--outage", "240h"},
		{"--outage", "240h/-1h"},
		{"--backend-outage", "x/1h"},
		{"--renewal-policy", "sometimes"},
		{"--transport", "pigeon"},
		{"--json", "--csv"},
		{"--restart-every", "1s"},
		{"--stagger", "-1h"},
		{"--renewal-failure-rate", "2"},
	} {
		r := cli(t, "", append([]string{"simulate"}, args...)...)
		if r.code != exitUsage || strings.Count(r.stderr, "\n") != 2 {
			t.Errorf("%q: want exit 2 and one line and the pointer to --help, got %v", args, r)
		}
	}
}

// closedPort returns the address of a loopback port that nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// resolverFailsFast skips the test when this machine's resolver does not
// answer "no such host" for a .invalid name within two seconds: the
// command would be waiting for the resolver, not for the backend.
func resolverFailsFast(t *testing.T, host string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := net.DefaultResolver.LookupHost(ctx, host)
	var dnsErr *net.DNSError
	if !errors.As(err, &dnsErr) || !dnsErr.IsNotFound {
		t.Skipf("the resolver does not say quickly that %s does not exist: %v", host, err)
	}
}

// An unreachable backend fails every bot at once, with the dial error as
// the example of its code, in JSON and in text; exit 1.
func TestBotsUnreachableBackend(t *testing.T) {
	tests := []struct {
		name, url, want string
	}{
		{"closed port", "ws://" + closedPort(t), "connection refused"},
		{"no such host", "ws://no-such-host.invalid:7443", "no such host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if strings.Contains(tt.url, ".invalid") {
				resolverFailsFast(t, "no-such-host.invalid")
			}
			args := []string{"bots", "--url", tt.url, "--app-key", "k", "--app-secret", "AAAAAAAAAAAAAAAAAAAAAA==", "-n", "3"}
			start := time.Now()
			r := cli(t, "", append(args, "--json")...)
			// A generous bound: it catches the 30 s start timeout, not a slow machine.
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v: the bots waited instead of failing on the dial error", d)
			}
			res := botsJSON(t, r)
			if r.code != exitFail || res.Failed != 3 || res.FailuresByCode["connection_failed"] != 3 || res.Started != 0 {
				t.Fatalf("want 3 connection_failed, exit 1: %+v\n%v", res, r)
			}
			if ex := res.FailureExamples["connection_failed"]; !strings.Contains(ex, tt.want) {
				t.Errorf("failureExamples = %v, want %q", res.FailureExamples, tt.want)
			}
			if !strings.Contains(r.stdout, `"failureExamples":{"connection_failed":"`) {
				t.Errorf("JSON field failureExamples: %s", r.stdout)
			}
			text := cli(t, "", args...)
			if text.code != exitFail || !regexp.MustCompile(`(?m)^ +connection_failed +3\n +e\.g\. .*`+tt.want).MatchString(text.stdout) {
				t.Errorf("text summary lacks the example:\n%v", text)
			}
			// Nothing registered: no latency figures to give.
			if !strings.Contains(text.stdout, "latency p50/p95/p99  n/a\n") || !strings.Contains(text.stdout, "granted instance TTL n/a\n") {
				t.Errorf("want n/a for the latency and TTLs:\n%s", text.stdout)
			}
		})
	}
}

// Auth server failures are reported with the reason, as check does.
func TestBotsAuthServerFailures(t *testing.T) {
	notFound := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no token endpoint here", http.StatusNotFound)
	}))
	t.Cleanup(notFound.Close)
	tests := []struct {
		name, url, want string
	}{
		{"dead", "http://" + closedPort(t) + "/token/{userId}", "connection refused"},
		{"404", notFound.URL + "/token/{userId}", "answered 404 Not Found: no token endpoint here"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"bots", "--auth-url", tt.url, "--app-key", "k", "-n", "2"}
			r := cli(t, "", append(args, "--json")...)
			res := botsJSON(t, r)
			if r.code != exitFail || res.FailuresByCode["registration_failed"] != 2 {
				t.Fatalf("want 2 registration_failed, exit 1: %v", r)
			}
			if ex := res.FailureExamples["registration_failed"]; !strings.Contains(ex, tt.want) || !strings.HasPrefix(ex, "auth server GET http://127.0.0.1:") {
				t.Errorf("example %q, want the auth server's error with %q", ex, tt.want)
			}
			text := cli(t, "", args...)
			if !strings.Contains(text.stdout, "e.g. auth server GET") || !strings.Contains(text.stdout, tt.want) {
				t.Errorf("text summary lacks the reason:\n%v", text)
			}
		})
	}
}

// ttlAuthServer is an auth server for app key/secret that grants the TTL
// the query parameter ttl asks for, in seconds, or else its own (96 h).
func ttlAuthServer(t *testing.T, key, secret string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ttl := 96 * time.Hour
		asked := r.URL.Query().Get("ttl")
		if r.Method == http.MethodPost {
			var body struct{ InstanceTTL json.RawMessage }
			_ = json.NewDecoder(r.Body).Decode(&body)
			asked = string(body.InstanceTTL)
		}
		if s, err := strconv.Atoi(asked); err == nil {
			ttl = time.Duration(s) * time.Second
		}
		m, err := credentials.NewMinter(credentials.MinterConfig{ApplicationKey: key, Secret: credentials.MustParseSecret(secret), InstanceTTL: ttl})
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		tok, err := m.MintWith(credentials.MintParams{UserID: strings.TrimPrefix(r.URL.Path, "/token/")})
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"token": tok})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// --instance-ttl with --auth-url: {instanceTtl} carries it in seconds;
// without the placeholder a warning says the auth server decides. Either
// way the summary shows the TTLs granted.
func TestBotsInstanceTTLWithAuthURL(t *testing.T) {
	const key, secret = "app-under-test", "ax8hTTQJF0OPXL32r1LHMA=="
	url := startServe(t, "--app", key+":"+secret)
	auth := ttlAuthServer(t, key, secret)
	tests := []struct {
		name    string
		flags   []string
		granted int64 // seconds
		warn    bool
	}{
		{"placeholder", []string{"--auth-url", auth.URL + "/token/{userId}?ttl={instanceTtl}"}, 72 * 3600, false},
		{"POST body", []string{"--auth-url", auth.URL + "/token/{userId}", "--auth-method", "POST"}, 72 * 3600, false},
		{"no placeholder", []string{"--auth-url", auth.URL + "/token/{userId}"}, 96 * 3600, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := cat([]string{"bots", "--url", url, "--app-key", key, "-n", "3", "--instance-ttl", "72h", "--user-prefix", strings.ReplaceAll(tt.name, " ", "-") + "-"}, tt.flags)
			r := cli(t, "", append(args, "--json")...)
			res := botsJSON(t, r)
			if r.code != exitOK || res.Started != 3 {
				t.Fatalf("bots: %v", r)
			}
			if want := (fleet.GrantedTTL{Limited: 3, MinSeconds: tt.granted, MaxSeconds: tt.granted}); res.GrantedInstanceTTL != want {
				t.Errorf("grantedInstanceTtl %+v, want %+v", res.GrantedInstanceTTL, want)
			}
			if !strings.Contains(r.stdout, `"grantedInstanceTtl":{`) {
				t.Errorf("JSON field grantedInstanceTtl: %s", r.stdout)
			}
			if warned := strings.Contains(r.stderr, "warning: --auth-url has no {instanceTtl}") && strings.Contains(r.stderr, "decides the TTL"); warned != tt.warn {
				t.Errorf("warning %v, want %v: %q", warned, tt.warn, r.stderr)
			}
		})
	}
	text := cli(t, "", "bots", "--url", url, "--app-key", key, "--app-secret", secret, "-n", "2", "--instance-ttl", "72h", "--user-prefix", "text-")
	if text.code != exitOK || !strings.Contains(text.stdout, "granted instance TTL 72h (2 instances)\n") {
		t.Errorf("text summary: %v", text)
	}
	if plain := cli(t, "", "bots", "-n", "2"); !strings.Contains(plain.stdout, "granted instance TTL no TTL (2 instances)\n") {
		t.Errorf("text summary without a TTL: %v", plain)
	}
}

// Failures after the start (here: the backend revokes every instance
// while the bots are online) count, end the run early and exit 1.
func TestBotsFailuresAfterStart(t *testing.T) {
	const key, secret = "app-under-test", "ax8hTTQJF0OPXL32r1LHMA=="
	srv := fakebackend.RunT(t, fakebackend.Config{Clock: clock.New(), Applications: []fakebackend.Application{{Key: key, Secret: credentials.MustParseSecret(secret)}}})
	const n = 3
	events, cancel := srv.Subscribe(100)
	defer cancel()
	go func() {
		// Once every bot's instance is created, revoke them all. (The
		// backend logs a creation just before it answers: the client has
		// its instance id by the time the revocation reaches it.)
		created := 0
		for ev := range events {
			if ev.Kind == "createInstance" && ev.Code == fakebackend.CodeOK {
				if created++; created == n {
					break
				}
			}
		}
		for _, inst := range srv.Instances() {
			srv.RevokeInstance(inst.ID)
		}
	}()
	start := time.Now()
	args := []string{"bots", "--url", srv.URL(), "--app-key", key, "--app-secret", secret, "-n", strconv.Itoa(n), "--duration", "1m"}
	r := cli(t, "", append(args, "--json")...)
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("took %v: the run did not end once no bot was online", d)
	}
	res := botsJSON(t, r)
	if r.code != exitFail || res.Started != n || res.Failed != 0 || res.FailedAfterStart != n || res.FailuresAfterStartByCode["instance_not_found"] != n {
		t.Fatalf("want %d started, then revoked; exit 1: %+v\n%v", n, res, r)
	}
	if ex := res.FailureExamples["instance_not_found"]; !strings.Contains(ex, "revoked") {
		t.Errorf("example %q", ex)
	}
	for _, f := range []string{`"failedAfterStart":3`, `"failuresAfterStartByCode":{"instance_not_found":3}`, `"expiries":0`} {
		if !strings.Contains(r.stdout, f) {
			t.Errorf("JSON lacks %s: %s", f, r.stdout)
		}
	}
}

// The text lines of the failures after the start and the expiries.
func TestPrintFleetAfterStart(t *testing.T) {
	var out bytes.Buffer
	e := &env{stdout: &out}
	printFleet(e, "ws://x", fleet.Result{
		Clients: 4, Started: 4, FailedAfterStart: 1, Expiries: 2,
		FailuresAfterStartByCode: map[string]int{"instance_not_found": 1},
		FailureExamples:          map[string]string{"instance_not_found": "the backend revoked the instance"},
		GrantedInstanceTTL:       fleet.GrantedTTL{Limited: 3, MinSeconds: 48 * 3600, MaxSeconds: 72*3600 + 30, Unlimited: 1},
		LatencyMs:                fleet.Latency{P50: 1, P95: 2, P99: 3},
	})
	for _, want := range []string{
		"  failed after start   1\n    instance_not_found               1\n      e.g. the backend revoked the instance\n",
		"  instance expiries    2\n",
		"  granted instance TTL 48h to 72h0m30s (3 instances), no TTL (1)\n",
		"  latency p50/p95/p99  1.0 / 2.0 / 3.0 ms\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
}

// TestBotsCall: bots that call each other report the calls, in JSON and
// as text; the flags are checked.
func TestBotsCall(t *testing.T) {
	args := []string{"bots", "-n", "4", "--duration", "1s", "--calls-per-minute", "300", "--answer-delay", "10ms", "--hold", "20ms"}
	r := cli(t, "", append(args, "--json")...)
	if r.code != exitOK {
		t.Fatalf("bots: %v", r)
	}
	res := botsJSON(t, r)
	c := res.Calls
	if c == nil || c.Placed == 0 || c.Answered != c.Placed || c.Failed != 0 || c.SetupLatencyMs.P50 <= 0 {
		t.Fatalf("calls %+v", c)
	}
	for _, f := range []string{`"calls"`, `"placed"`, `"answered"`, `"failedByCause"`, `"setupLatencyMs"`} {
		if !strings.Contains(r.stdout, f) {
			t.Errorf("JSON lacks %s: %s", f, r.stdout)
		}
	}
	text := cli(t, "", args...)
	if text.code != exitOK || !strings.Contains(text.stdout, "calls answered") || !strings.Contains(text.stdout, "call setup p50/p95/p99") {
		t.Fatalf("text summary: %v", text)
	}
	if plain := cli(t, "", "bots", "-n", "2", "--json"); strings.Contains(plain.stdout, `"calls"`) {
		t.Fatalf("calls in a run without calls: %s", plain.stdout)
	}
	for _, bad := range [][]string{
		{"bots", "--calls-per-minute", "10"},
		{"bots", "--calls-per-minute", "-1", "--duration", "1s"},
		{"bots", "--calls-per-minute", "10", "--duration", "1s", "--hold", "-1s"},
	} {
		if r := cli(t, "", bad...); r.code != exitUsage {
			t.Errorf("%q: %v, want exit %d", bad, r, exitUsage)
		}
	}
}

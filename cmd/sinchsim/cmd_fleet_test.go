package main

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sinchsim/sinchsim/internal/fleet"
	"github.com/sinchsim/sinchsim/internal/sim"
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

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
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
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- runEnv(ctx, &env{name: "sinchsim", stdin: strings.NewReader(""), stdout: &out, stderr: &errOut, now: time.Now},
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
	for _, args := range [][]string{
		{"bots", "-n", "0"},
		{"bots", "--url", "ws://127.0.0.1:1"},
		{"bots", "--instance-ttl", "1h"},
		{"bots", "--app-secret", "x", "--auth-url", "http://127.0.0.1:1/{userId}"},
		{"bots", "--user-prefix", "bad prefix"},
		{"bots", "extra"},
	} {
		if r := cli(t, "", args...); r.code != exitUsage {
			t.Errorf("%q: want exit 2, got %v", args, r)
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
	if res.Renewals != 40 || res.RenewalFailures != 0 || res.Expiries != 0 || res.ReRegistrations != 0 || res.Failed != 0 || len(res.RejectionsByCode) != 0 {
		t.Fatalf("no failures: %+v, want exactly 40 renewals", res)
	}
	// With failures: seed 42 fails 19 renewal requests; each is retried
	// within seconds, which shifts that bot's later renewals; every bot
	// has a failure, so each one's tenth renewal falls just past the 30th
	// day: 36 renewals. Pinned: the same seed must give the same counts.
	args := []string{"--bots", "4", "--period", "720h", "--instance-ttl", "240h", "--renewal-failure-rate", "0.25", "--seed", "42"}
	a, b := simulateJSON(t, args...), simulateJSON(t, args...)
	if a.Renewals != 36 || a.RenewalFailures != 19 || a.Expiries != 0 || a.ReRegistrations != 0 {
		t.Fatalf("seed 42: %+v, want 36 renewals and 19 failures", a)
	}
	if a.Renewals != b.Renewals || a.RenewalFailures != b.RenewalFailures {
		t.Fatalf("not reproducible: %+v vs %+v", a, b)
	}
}

package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sinchsim/sinchsim/fakebackend/redisstore/redistest"
)

// asMainEnv makes this test binary run the program instead of the tests:
// bots --procs starts its workers as os.Executable(), which in a test is
// the test binary.
const asMainEnv = "SINCHSIM_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asMainEnv) == "1" {
		main()
	}
	os.Exit(m.Run())
}

// TestServeReplicasOnRedis: two serve processes' worth of backends on one
// Redis are one backend: the application the first generated is the
// second's, and bots spread over both start, each once.
func TestServeReplicasOnRedis(t *testing.T) {
	r := redistest.New(t)
	store := []string{"--store", r.URL, "--store-prefix", r.Prefix}
	urlA, outA := startServeOut(t, append(store, "--replica", "a")...)
	urlB, outB := startServeOut(t, append(store, "--replica", "b")...)
	m := regexp.MustCompile(`secret      (\S+)  \(generated for (\S+);`).FindStringSubmatch(outA)
	if m == nil {
		t.Fatalf("no generated application in:\n%s", outA)
	}
	secret, key := m[1], m[2]
	if !strings.Contains(outB, "application "+key) || strings.Contains(outB, "generated for") {
		t.Fatalf("the second replica does not serve the first one's application:\n%s", outB)
	}
	if !strings.Contains(outA, "  store      redis ") || !strings.Contains(outA, "replica a") {
		t.Fatalf("no store line:\n%s", outA)
	}
	res := botsJSON(t, cli(t, "", "bots", "--url", urlA+","+urlB, "--app-key", key, "--app-secret", secret, "-n", "20", "--json"))
	if res.Started != 20 || res.InstancesCreated != 20 || res.Failed != 0 {
		t.Fatalf("bots over two replicas: %+v", res)
	}
	health := adminGet(t, strings.Replace(strings.TrimSuffix(urlB, "/ws/v1"), "ws://", "http://", 1)+"/admin/health")
	if health["instances"] != float64(20) || health["replica"] != "b" {
		t.Fatalf("health of b: %v", health)
	}
	if reps, _ := health["replicas"].([]any); len(reps) != 2 {
		t.Fatalf("replicas %v", health["replicas"])
	}
}

func adminGet(t *testing.T, url string) map[string]any {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestServeStoreFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--store", "redis://127.0.0.1:1/0", "--data", "x"}, "give --store or --data, not both"},
		{[]string{"--store", "http://127.0.0.1:6379"}, "--store must be a redis:// or rediss:// URL"},
		{[]string{"--replica", "a"}, "--store-prefix and --replica need --store"},
		{[]string{"--store-prefix", "p:"}, "--store-prefix and --replica need --store"},
	}
	for _, tc := range tests {
		r := cli(t, "", append([]string{"serve"}, tc.args...)...)
		if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("serve %v: exit %d, stderr %q; want 2 and %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
	// A Redis that does not answer: one line, exit 1, no password shown.
	r := cli(t, "", "serve", "--addr", "127.0.0.1:0", "--store", "redis://user:hunter2@127.0.0.1:1/0")
	if r.code != exitFail || strings.Contains(r.stderr, "hunter2") || !strings.Contains(r.stderr, "does not answer") {
		t.Fatalf("serve with Redis down: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestBotsProcs: the bots spread over worker processes, and the merged
// result is one fleet's: every user once, exact percentiles.
func TestBotsProcs(t *testing.T) {
	if testing.Short() {
		t.Skip("starts worker processes")
	}
	t.Setenv(asMainEnv, "1")
	dir := t.TempDir()
	r := cli(t, "", "bots", "-n", "9", "--procs", "3", "--store", dir, "--json")
	res := botsJSON(t, r)
	if r.code != exitOK || res.Clients != 9 || res.Started != 9 || res.InstancesCreated != 9 {
		t.Fatalf("bots --procs 3: exit %d %+v\n%s", r.code, res, r.stderr)
	}
	var n int64
	for _, c := range res.LatencyHistogram.Counts {
		n += c
	}
	if n != 9 {
		t.Fatalf("merged histogram holds %d latencies", n)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 9 {
		t.Fatalf("%d device stores, want one per bot: every user once", len(entries))
	}
	for i := range 9 {
		if _, err := os.Stat(filepath.Join(dir, "bot-"+string(rune('0'+i)))); err != nil {
			t.Fatalf("bot-%d: %v", i, err)
		}
	}
}

func TestBotsMerge(t *testing.T) {
	dir := t.TempDir()
	var files []string
	for k, first := range []string{"0", "5"} {
		r := cli(t, "", "bots", "-n", "5", "--first-user", first, "--json")
		if r.code != exitOK {
			t.Fatalf("bots: %v", r)
		}
		f := filepath.Join(dir, string(rune('a'+k))+".json")
		if err := os.WriteFile(f, []byte(r.stdout), 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	r := cli(t, "", append([]string{"bots", "merge", "--json"}, files...)...)
	res := botsJSON(t, r)
	if r.code != exitOK || res.Clients != 10 || res.Started != 10 {
		t.Fatalf("merge: exit %d %+v", r.code, res)
	}
	text := cli(t, "", append([]string{"bots", "merge"}, files...)...)
	if !strings.Contains(text.stdout, "bots: 10 clients against 2 merged runs") || !strings.Contains(text.stdout, "latency p50/p95/p99") {
		t.Fatalf("merge summary:\n%s", text.stdout)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"bots", "merge"}, exitUsage, "give the --json results to merge"},
		{[]string{"bots", "merge", filepath.Join(dir, "missing.json")}, exitFail, "no such file"},
		{[]string{"bots", "merge", "-"}, exitFail, "is not a bots --json result"},
	} {
		r := cli(t, "{", tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, r.code, r.stderr, tc.code, tc.want)
		}
	}
}

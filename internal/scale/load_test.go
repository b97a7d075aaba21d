package scale

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sinchsim/sinchsim/fakebackend/redisstore/redistest"
	"github.com/sinchsim/sinchsim/internal/fleet"
)

// TestHundredThousandBots connects SINCHSIM_BOTS bots (default 100,000)
// over serve replicas on one Redis, from bots worker processes, holds
// them for SINCHSIM_HOLD (default 150s: long enough for the replicas'
// periodic collection, at most 2 minutes apart), and reports the
// registration throughput, the p99 latency and the memory per bot, client
// plus server.
// It needs a real Redis (SINCHSIM_REDIS_URL). One process may open 20,000
// files here, so each replica and each worker takes at most 15,000 bots.
func TestHundredThousandBots(t *testing.T) {
	gate(t)
	if os.Getenv(redistest.EnvURL) == "" {
		t.Skip("needs a real Redis: set " + redistest.EnvURL)
	}
	n := envInt(t, "SINCHSIM_BOTS", 100_000)
	hold := 150 * time.Second
	if v := os.Getenv("SINCHSIM_HOLD"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatal(err)
		}
		hold = d
	}
	const perProcess = 15_000
	procs := (n + perProcess - 1) / perProcess
	rd := redistest.New(t)
	var reps []*replica
	var urls []string
	for k := range procs {
		r := startReplica(t, rd.URL, rd.Prefix, fmt.Sprint("R", k), "--max-connections", "30000", "--rate-limit", "-1")
		reps = append(reps, r)
		urls = append(urls, r.ws)
	}
	time.Sleep(2 * time.Second) // let the replicas' start-up garbage go before the baseline
	var serverBase uint64
	for _, r := range reps {
		serverBase += afterCollection(t, r, time.Now(), 3*time.Minute)
	}
	redisBefore := redisUsedMemory(t, rd.URL)
	cmd := exec.Command(binary(t), "bots", "--url", strings.Join(urls, ","), "--app-key", appKey, "-n", fmt.Sprint(n),
		"--procs", fmt.Sprint(procs), "--concurrency", "64", "--duration", hold.String(), "--json")
	cmd.Env = append(os.Environ(), "SINCHSIM_APP_SECRET="+appSecret)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lastLog := time.Now()
	if !waitUntil(10*time.Minute, func() bool {
		c := connected(t, reps...)
		if time.Since(lastLog) > 30*time.Second {
			t.Logf("%v: %d bots online", time.Since(start).Round(time.Second), c)
			lastLog = time.Now()
		}
		return c >= n
	}) {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("%d bots not online within 10 minutes (%d are)", n, connected(t, reps...))
	}
	online := time.Since(start)
	onlineAt := time.Now()
	// During the hold: each replica's heap and stacks in use right after
	// its first collection once every bot is online, and every process's
	// resident memory.
	var serverInUse uint64
	var rss uint64
	for _, r := range reps {
		serverInUse += afterCollection(t, r, onlineAt, hold-10*time.Second)
		rss += residentBytes(r.cmd.Process.Pid)
	}
	for _, pid := range childPids(cmd.Process.Pid) {
		rss += residentBytes(pid)
	}
	stillOnline := connected(t, reps...)
	redisAfter := redisUsedMemory(t, rd.URL)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("bots: %v\n%s", err, out.String())
	}
	var res fleet.Result
	if err := json.Unmarshal([]byte(out.String()), &res); err != nil {
		t.Fatal(err)
	}
	clientPer := float64(res.MemoryInUseBytes) / float64(n)
	serverPer := (float64(serverInUse) - float64(serverBase)) / float64(n)
	t.Logf("%d bots over %d replicas and %d bot processes: all online after %v, %d still online after the hold",
		n, procs, procs, online.Round(time.Millisecond), stillOnline)
	t.Logf("registration: %.0f registrations/s, latency p50/p95/p99 %.1f / %.1f / %.1f ms",
		res.RegistrationsPerSecond, res.LatencyMs.P50, res.LatencyMs.P95, res.LatencyMs.P99)
	t.Logf("memory per bot (heap + goroutine stacks in use): %.0f B = client %.0f + server %.0f; resident, all processes: %.0f B",
		clientPer+serverPer, clientPer, serverPer, float64(rss)/float64(n))
	t.Logf("Redis holds the state besides: %.0f B per bot (used_memory)", (float64(redisAfter)-float64(redisBefore))/float64(n))
	if res.Started != n || res.Failed != 0 || res.FailedAfterStart != 0 || stillOnline < n {
		t.Fatalf("bots result %+v; %d online at the end of the hold", res, stillOnline)
	}
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q is not a positive number", name, v)
	}
	return n
}

// afterCollection returns a replica's heap and stacks in use (from its
// /metrics) right after its first garbage collection that ended after
// since: the figure the bots measure in their own processes after a
// collection. Without a collection within bound, it returns the least
// figure seen, an upper bound, and says so.
func afterCollection(t *testing.T, r *replica, since time.Time, bound time.Duration) uint64 {
	t.Helper()
	metrics := strings.TrimSuffix(r.admin, "admin/") + "metrics"
	deadline := time.Now().Add(bound)
	var least uint64
	for first := true; ; first = false {
		m := scrape(t, metrics)
		v := uint64(m["go_memstats_heap_inuse_bytes"] + m["go_memstats_stack_inuse_bytes"])
		if first || v < least {
			least = v
		}
		if last := m["go_memstats_last_gc_time_seconds"]; last > float64(since.UnixNano())/1e9 {
			return v
		}
		if time.Now().After(deadline) {
			t.Logf("replica %s: no collection within %v; its figure is an upper bound", r.name, bound)
			return least
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// scrape reads a /metrics page's unlabelled values.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") || strings.Contains(name, "{") {
			continue
		}
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			out[name] = f
		}
	}
	return out
}

// residentBytes is a process's resident memory (VmRSS), 0 if unknown.
func residentBytes(pid int) uint64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// childPids lists a process's children (Linux): those of each of its
// threads, since any of them may have started one.
func childPids(pid int) []int {
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	var out []int
	for _, task := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, task.Name()))
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// redisUsedMemory asks the Redis server for its used_memory (INFO
// memory), over a plain connection: only package redisstore uses a Redis
// client library.
func redisUsedMemory(t *testing.T, rawURL string) uint64 {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("*2\r\n$4\r\nINFO\r\n$6\r\nmemory\r\n")); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	head, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(head, "$") {
		t.Fatalf("INFO memory: %q %v", head, err)
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("INFO memory: no used_memory: %v", err)
		}
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
}

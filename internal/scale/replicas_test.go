package scale

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/sinchsim/sinchsim/client"
	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/fakebackend/redisstore/redistest"
	"github.com/sinchsim/sinchsim/internal/fleet"
	"github.com/sinchsim/sinchsim/internal/rawclient"
	"github.com/sinchsim/sinchsim/transport"
)

// TestThreeReplicaProcesses: three serve processes on one Redis behave as
// one backend, and a replica killed with SIGKILL under 1,000 bots loses
// none of them.
func TestThreeReplicaProcesses(t *testing.T) {
	gate(t)
	rd := redistest.New(t)
	const rateLimit = 10
	var reps []*replica
	for _, name := range []string{"A", "B", "C"} {
		reps = append(reps, startReplica(t, rd.URL, rd.Prefix, name, "--rate-limit", fmt.Sprint(rateLimit), "--max-connections-per-user", "-1"))
	}
	a, b, c := reps[0], reps[1], reps[2]
	minter, err := credentials.NewMinter(credentials.MinterConfig{ApplicationKey: appKey, Secret: app.Secret})
	if err != nil {
		t.Fatal(err)
	}
	mint := func(user string) string {
		tok, err := minter.Mint(user)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}

	t.Run("registered at A, authenticates at B", func(t *testing.T) {
		provider, _ := credentials.NewSelfSignedProvider(credentials.MinterConfig{ApplicationKey: appKey, Secret: app.Secret})
		store := client.NewMemoryDeviceStore()
		for k, url := range []string{a.ws, b.ws} {
			cl, err := client.New(appKey, url, "alice", client.WithDeviceStore(store), client.WithCredentialsProvider(provider))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err = cl.Start()
			if err == nil {
				err = cl.WaitStarted(ctx)
			}
			_ = cl.WaitIdle(ctx)
			cancel()
			st := cl.Stats()
			cl.TerminateGracefully()
			if err != nil {
				t.Fatal(err)
			}
			if want := (k == 0); (st.InstancesCreated == 1) != want || (st.Authentications == 1) == want {
				t.Fatalf("client %d (%s): %+v", k, url, st)
			}
		}
	})

	t.Run("a token used at A is refused at C", func(t *testing.T) {
		tok := mint("bob")
		dial(t, a.ws).MustCreate("bob", "phone", tok)
		if code := rawclient.ErrorCode(dial(t, c.ws).Create("bob", "phone", tok)); code != credentials.CodeNonceReused {
			t.Fatalf("at C: %q, want %s", code, credentials.CodeNonceReused)
		}
	})

	t.Run("10,000 creations for one user over three replicas", func(t *testing.T) {
		const total, conns = 10000, 60
		var created, limited, other atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for k := range conns {
			r := dial(t, reps[k%3].ws)
			n := total / conns
			if k < total%conns {
				n++
			}
			toks := make([]string, n)
			for j := range toks {
				toks[j] = mint("carol")
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				// At most 16 requests in flight: the connection's send
				// queue holds 64.
				window := make(chan struct{}, 16)
				go func() {
					for j, tok := range toks {
						window <- struct{}{}
						_ = r.Conn.Send(&transport.CreateInstance{ID: fmt.Sprint(j), ApplicationKey: appKey, UserID: "carol", DeviceID: fmt.Sprintf("d%d-%d", k, j), JWT: tok})
					}
				}()
				for got := 0; got < n; {
					m := r.NextWithin(60 * time.Second)
					if !isNotice(m) && m != nil {
						<-window
					}
					switch {
					case m == nil:
						code, reason := r.Conn.CloseCode()
						t.Errorf("connection %d closed after %d answers: %d %s", k, got, code, reason)
						return
					case isNotice(m):
						continue
					case rawclient.ErrorCode(m) == transport.CodeInstanceCreationRateExceeded:
						limited.Add(1)
					case rawclient.ErrorCode(m) != "":
						other.Add(1)
						t.Errorf("createInstance: %v", m.(*transport.ErrorMessage).Error)
					default:
						created.Add(1)
					}
					got++
				}
			}()
		}
		wg.Wait()
		t.Logf("%d createInstance requests for one user over 3 replicas in %v: %d created, %d refused with %s",
			total, time.Since(start).Round(time.Millisecond), created.Load(), limited.Load(), transport.CodeInstanceCreationRateExceeded)
		if created.Load() != rateLimit || limited.Load() != total-rateLimit {
			t.Fatalf("created %d, rate-limited %d, other %d; want exactly %d created", created.Load(), limited.Load(), other.Load(), rateLimit)
		}
		insts := getJSON(t, b.admin+"instances?userId=carol")
		if n := insts["total"]; n != float64(rateLimit) {
			t.Fatalf("carol has %v instances, want %d", n, rateLimit)
		}
	})

	t.Run("a revocation at A reaches the client on C within 1s", func(t *testing.T) {
		onC := dial(t, c.ws)
		inst := onC.MustCreate("dave", "phone", mint("dave"))
		start := time.Now()
		if code, body := adminDo(t, "DELETE", a.admin+"instances/"+inst.ID, ""); code != 200 {
			t.Fatalf("revoke at A: %d %v", code, body)
		}
		m := onC.NextWithin(time.Second)
		took := time.Since(start)
		rv, ok := m.(*transport.InstanceRevoked)
		if !ok || rv.InstanceID != inst.ID || rv.Code != transport.CodeInstanceNotFound {
			t.Fatalf("on C: %#v", m)
		}
		t.Logf("revoked at A, instanceRevoked on C after %v", took)
	})

	t.Run("kill -9 of a replica under 1,000 bots", func(t *testing.T) {
		killReplicaUnderBots(t, reps, 1000)
	})
}

func isNotice(m transport.Message) bool { _, ok := m.(*transport.InstanceRevoked); return ok }

func connected(t *testing.T, reps ...*replica) int {
	t.Helper()
	n := 0
	for _, r := range reps {
		n += int(r.health(t)["connectedClients"].(float64))
	}
	return n
}

// killReplicaUnderBots connects n bots (a bots process) over the
// replicas, kills the last replica with SIGKILL once all are online, and
// checks that every bot came back on the others with its instance.
func killReplicaUnderBots(t *testing.T, reps []*replica, n int) {
	t.Helper()
	victim, rest := reps[len(reps)-1], reps[:len(reps)-1]
	var urls []string
	for _, r := range reps {
		urls = append(urls, r.ws)
	}
	before := int(rest[0].health(t)["instances"].(float64))
	base := connected(t, reps...)
	cmd := exec.Command(binary(t), "bots", "--url", strings.Join(urls, ","), "--app-key", appKey, "-n", fmt.Sprint(n),
		"--user-prefix", "kill-", "--duration", "20s", "--concurrency", "64", "--json")
	cmd.Env = append(os.Environ(), "SINCHSIM_APP_SECRET="+appSecret)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	online := func() bool { return connected(t, reps...)-base >= n }
	if !waitUntil(60*time.Second, online) {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("%d bots not online within 60s (%d are):\n%s", n, connected(t, reps...)-base, out.String())
	}
	onVictim := int(victim.health(t)["connectedClients"].(float64))
	victim.kill(t)
	killed := time.Now()
	waitFor(t, 30*time.Second, "every bot back on the other replicas", func() bool { return connected(t, rest...)-base >= n })
	t.Logf("killed replica %s with %d of %d bots; all back on the others after %v", victim.name, onVictim, n, time.Since(killed).Round(time.Millisecond))
	if err := cmd.Wait(); err != nil {
		t.Fatalf("bots: %v\n%s", err, out.String())
	}
	var res fleet.Result
	if err := json.Unmarshal([]byte(out.String()), &res); err != nil {
		t.Fatal(err)
	}
	after := int(rest[0].health(t)["instances"].(float64))
	t.Logf("bots: started %d, failed after start %d, connections lost %d, registered again %d; instances %d -> %d",
		res.Started, res.FailedAfterStart, res.ConnectionLosses, res.RegisteredAgain, before, after)
	if res.Started != n || res.FailedAfterStart != 0 || res.RegisteredAgain != 0 || res.InstancesCreated != n {
		t.Fatalf("bots result %+v", res)
	}
	if res.ConnectionLosses != onVictim {
		t.Fatalf("%d connections lost, want the %d on the killed replica", res.ConnectionLosses, onVictim)
	}
	if after != before+n {
		t.Fatalf("instances %d -> %d, want %d more (none new, none lost)", before, after, n)
	}
}

func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	if !waitUntil(within, cond) {
		t.Fatalf("not within %v: %s", within, what)
	}
}

// waitUntil polls cond (a process outside this one: nothing to wait on
// but its answers) until it holds or within has passed.
func waitUntil(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// TestReplicaProcessesShareTheClock: advancing the mock clock at B
// enforces the expiry at A and at C.
func TestReplicaProcessesShareTheClock(t *testing.T) {
	gate(t)
	rd := redistest.New(t)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var reps []*replica
	for _, name := range []string{"A", "B", "C"} {
		reps = append(reps, startReplica(t, rd.URL, rd.Prefix, name, "--clock", "mock", "--start-time", start.Format(time.RFC3339)))
	}
	a, b, c := reps[0], reps[1], reps[2]
	mock := clock.NewMock()
	mock.Set(start)
	minter, err := credentials.NewMinter(credentials.MinterConfig{ApplicationKey: appKey, Secret: app.Secret, Clock: mock})
	if err != nil {
		t.Fatal(err)
	}
	tok := func(user string) string {
		s, err := minter.MintWith(credentials.MintParams{UserID: user, InstanceTTL: 48 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	onA, onC := dial(t, a.ws), dial(t, c.ws)
	ia := onA.MustCreate("erin", "phone", tok("erin"))
	ic := onC.MustCreate("frank", "phone", tok("frank"))
	if code, body := adminDo(t, "POST", b.admin+"clock", `{"advance":"49h"}`); code != 200 {
		t.Fatalf("advance at B: %d %v", code, body)
	}
	want := start.Add(49 * time.Hour).Format(time.RFC3339Nano)
	for _, r := range reps {
		if got := getJSON(t, r.admin+"clock")["time"]; got != want {
			t.Fatalf("replica %s stands at %v, want %s", r.name, got, want)
		}
	}
	for _, x := range []struct {
		r  *rawclient.Conn
		id string
	}{{onA, ia.ID}, {onC, ic.ID}} {
		m := x.r.NextWithin(5 * time.Second)
		rv, ok := m.(*transport.InstanceRevoked)
		if !ok || rv.InstanceID != x.id || rv.Code != transport.CodeInstanceExpired {
			t.Fatalf("got %#v, want instanceRevoked %s for %s", m, transport.CodeInstanceExpired, x.id)
		}
	}
}

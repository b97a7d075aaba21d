package client_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sinchsim/sinchsim/client"
	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/fakebackend"
	"github.com/sinchsim/sinchsim/registration"
)

const day = 24 * time.Hour

// world is what a newcomer writes: RunT, clients on its clock with a
// self-signed provider for 72 h instances.
func world(t testing.TB, n int, opts ...client.Option) (*fakebackend.Server, []*client.SinchClient) {
	t.Helper()
	return worldOn(t, fakebackend.Config{}, n, opts...)
}

// worldOn is world on a backend with cfg (RunT's defaults for the rest).
func worldOn(t testing.TB, cfg fakebackend.Config, n int, opts ...client.Option) (*fakebackend.Server, []*client.SinchClient) {
	t.Helper()
	srv := fakebackend.RunT(t, cfg)
	app := srv.Application()
	p, err := credentials.NewSelfSignedProvider(credentials.MinterConfig{
		ApplicationKey: app.Key, Secret: app.Secret, Clock: srv.Clock(), InstanceTTL: 72 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var cs []*client.SinchClient
	for i := range n {
		o := append([]client.Option{client.WithClock(srv.Clock()), client.WithCredentialsProvider(p), client.WithInstanceTTL(true)}, opts...)
		c, err := client.New(app.Key, srv.URL(), fmt.Sprintf("user-%02d", i), o...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.TerminateGracefully)
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
	}
	return srv, cs
}

// perUser renders the backend's events per user, in order: kind, code and
// virtual time (instance ids are random, so they are left out).
func perUser(srv *fakebackend.Server) string {
	m := map[string][]string{}
	for _, e := range srv.Events() {
		m[e.User] = append(m[e.User], fmt.Sprintf("%s/%s@%s", e.Kind, e.Code, e.Time.Sub(fakebackend.DefaultMockTime)))
	}
	var users []string
	for u := range m {
		users = append(users, u)
	}
	slices.Sort(users)
	var b strings.Builder
	for _, u := range users {
		fmt.Fprintf(&b, "%s: %s\n", u, strings.Join(m[u], " "))
	}
	return b.String()
}

func checkMonth(t testing.TB, cs []*client.SinchClient) {
	t.Helper()
	for _, c := range cs {
		st := c.Stats()
		if st.Renewals != 15 || st.Expiries != 0 || st.InstancesCreated != 1 || st.RenewalFailures != 0 {
			t.Fatalf("%s: %+v, want exactly 15 renewals, 0 expiries, 1 instance, 0 renewal failures", c.UserID(), st)
		}
		if c.State() != registration.StateStarted {
			t.Fatalf("%s is %s", c.UserID(), c.State())
		}
	}
}

// The newcomer's test: 20 clients, a 72 h instance TTL, one Advance of 30
// days, checked at once: renewal every 48 h (24 h before expiry), 720 h /
// 48 h = 15 renewals each, nothing expires. Repeated 50 times: the same
// per-user event sequence every time.
func TestAdvanceAMonthIsExact(t *testing.T) {
	var first string
	for run := range 50 {
		srv, cs := world(t, 20)
		if err := srv.Advance(30 * day); err != nil {
			t.Fatal(err)
		}
		checkMonth(t, cs)
		if n := len(srv.Instances()); n != 20 {
			t.Fatalf("run %d: %d instances at the backend, want 20", run, n)
		}
		got := perUser(srv)
		if run == 0 {
			first = got
		} else if got != first {
			t.Fatalf("run %d differs from run 0:\n%s\nvs\n%s", run, got, first)
		}
		for _, c := range cs {
			c.TerminateGracefully()
		}
		srv.Close()
	}
}

// Hour by hour gives the same result as one step.
func TestAdvanceHourByHourIsExact(t *testing.T) {
	srv, cs := world(t, 20)
	for range 720 {
		if err := srv.Advance(time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	checkMonth(t, cs)
	one, _ := world(t, 20)
	if err := one.Advance(30 * day); err != nil {
		t.Fatal(err)
	}
	if a, b := perUser(srv), perUser(one); a != b {
		t.Fatalf("720 one-hour steps and one 30-day step differ:\n%s\nvs\n%s", a, b)
	}
}

// With one or two threads the outcome is the same.
func TestAdvanceIsExactOnFewThreads(t *testing.T) {
	for _, procs := range []int{1, 2} {
		t.Run(fmt.Sprint("GOMAXPROCS=", procs), func(t *testing.T) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			for range 3 {
				srv, cs := world(t, 20)
				if err := srv.Advance(30 * day); err != nil {
					t.Fatal(err)
				}
				checkMonth(t, cs)
			}
		})
	}
}

// failRenewals answers every renewal with RegisterFailed and every
// registration with a 72 h token.
type failRenewals struct {
	m *credentials.Minter
}

func (f failRenewals) OnClientStarted(*client.SinchClient)       {}
func (f failRenewals) OnClientFailed(*client.SinchClient, error) {}
func (f failRenewals) OnCredentialsRequired(c *client.SinchClient, reg *client.ClientRegistration) {
	if reg.IsRenewal() {
		reg.RegisterFailed(errors.New("auth server down"))
		return
	}
	jwt, err := f.m.MintWith(credentials.MintParams{UserID: c.UserID(), InstanceTTL: 72 * time.Hour})
	if err != nil {
		reg.RegisterFailed(err)
		return
	}
	reg.Register(jwt)
}

// predictedFailures is the documented retry policy worked out by hand: the
// renewal is first tried when 24 h remain (at 48 h), then retried after
// min(0.5 s × 2^k, 30 s) for the k-th retry (no jitter); every try before
// the expiry at 72 h fails. A try due exactly at the expiry does not happen:
// the backend's expiry, armed first, fires first and the client registers
// anew.
func predictedFailures() int {
	at, n := 48*time.Hour, 0
	for k := 0; at < 72*time.Hour; k++ {
		n++
		at += min(500*time.Millisecond<<min(k, 20), 30*time.Second)
	}
	return n
}

// Renewals that always fail, one Advance of 4 days: the instance expires
// at 72 h exactly and the client registers anew; the failure count is what
// the retry policy predicts, and every run gives the same events.
func TestFailingRenewalsAreExact(t *testing.T) {
	noJitter := registration.DefaultRenewal{Backoff: registration.Backoff{Jitter: -1}}
	for _, tc := range []struct {
		name string
		opts []client.Option
		want int // 0: only the same in every run
	}{
		{"no jitter", []client.Option{client.WithRenewalPolicy(noJitter)}, predictedFailures()},
		{"seeded jitter", nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var first string
			var firstFailures int
			for run := range 5 {
				srv := fakebackend.RunT(t)
				app := srv.Application()
				opts := append([]client.Option{client.WithClock(srv.Clock()), client.WithListener(failRenewals{srv.Minter()}), client.WithInstanceTTL(true)}, tc.opts...)
				c, err := client.New(app.Key, srv.URL(), "alice", opts...)
				if err != nil {
					t.Fatal(err)
				}
				if err := c.Start(); err != nil {
					t.Fatal(err)
				}
				if err := srv.Advance(4 * day); err != nil {
					t.Fatal(err)
				}
				st := c.Stats()
				if st.Expiries != 1 || st.InstancesCreated != 2 || st.Renewals != 0 {
					t.Fatalf("run %d: %+v, want 1 expiry, 2 instances, 0 renewals", run, st)
				}
				var expiredAt time.Duration
				for _, e := range srv.Events() {
					if e.Kind == fakebackend.KindExpire {
						expiredAt = e.Time.Sub(fakebackend.DefaultMockTime)
					}
				}
				if expiredAt != 72*time.Hour {
					t.Fatalf("run %d: expired at %v, want 72h", run, expiredAt)
				}
				if tc.want != 0 && st.RenewalFailures != tc.want {
					t.Fatalf("run %d: %d renewal failures, the retry policy predicts %d", run, st.RenewalFailures, tc.want)
				}
				got := perUser(srv)
				if run == 0 {
					first, firstFailures = got, st.RenewalFailures
				} else if got != first || st.RenewalFailures != firstFailures {
					t.Fatalf("run %d differs: %d failures vs %d", run, st.RenewalFailures, firstFailures)
				}
				c.TerminateGracefully()
				srv.Close()
			}
		})
	}
}

// Nothing is left running after a big Advance, nor after Close in the
// middle of one.
func TestAdvanceLeavesNoGoroutine(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	t.Run("after a year", func(t *testing.T) {
		srv, cs := world(t, 10)
		if err := srv.Advance(365 * day); err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			if st := c.Stats(); st.Renewals != 182 || st.Expiries != 0 {
				t.Fatalf("%s: %+v, want 182 renewals", c.UserID(), st)
			}
			c.TerminateGracefully()
		}
		srv.Close()
	})
	t.Run("close during an advance", func(t *testing.T) {
		srv, cs := world(t, 10, client.WithReconnectLimit(3))
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = srv.Advance(365 * day) // the world may or may not settle: either is fine
		}()
		for srv.Now().Before(fakebackend.DefaultMockTime.Add(10 * day)) {
			time.Sleep(time.Millisecond) // wait for the advance to be under way
		}
		srv.Close()
		wg.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, c := range cs {
			if err := c.WaitState(ctx, registration.StateFailed, registration.StateReconnecting, registration.StateStarted, registration.StateRenewing); err != nil {
				t.Fatal(err)
			}
			c.TerminateGracefully()
		}
	})
}

// BenchmarkAdvanceMonth1000Clients: one Advance of 30 days with 1,000
// clients on one RunT (72 h instances: 15,000 renewals per op).
func BenchmarkAdvanceMonth1000Clients(b *testing.B) {
	srv, cs := world(b, 1000)
	if err := srv.Advance(0); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if err := srv.Advance(30 * day); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	renewals := 0
	for _, c := range cs {
		renewals += c.Stats().Renewals
	}
	if renewals != 1000*15*b.N {
		b.Fatalf("%d renewals, want %d", renewals, 1000*15*b.N)
	}
	b.ReportMetric(float64(renewals)/b.Elapsed().Seconds(), "renewals/s")
}

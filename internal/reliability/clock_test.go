package reliability

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/sinchsim/sinchsim/client"
	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/fakebackend"
	"github.com/sinchsim/sinchsim/registration"
	"github.com/sinchsim/sinchsim/transport"
)

// gate holds token requests while the clock jumps, as an auth server that
// answers only once time has settled: a token minted in the middle of a
// days-long Advance would be days old (kid date, exp) when it arrives.
type gate struct {
	mu   sync.Mutex
	open chan struct{}
}

func newGate() *gate {
	g := &gate{open: make(chan struct{})}
	close(g.open)
	return g
}

func (g *gate) hold() {
	g.mu.Lock()
	g.open = make(chan struct{})
	g.mu.Unlock()
}

func (g *gate) release() {
	g.mu.Lock()
	close(g.open)
	g.mu.Unlock()
}

func (g *gate) wrap(p credentials.Provider) credentials.Provider {
	return credentials.ProviderFunc(func(ctx context.Context, req credentials.Request) (string, error) {
		g.mu.Lock()
		ch := g.open
		g.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return "", ctx.Err()
		}
		return p.Token(ctx, req)
	})
}

// jump sets the clock to `to` in one step with token requests held.
func jump(t testing.TB, s *fakebackend.Server, g *gate, to time.Time) {
	t.Helper()
	g.hold()
	if err := s.SetTime(to); err != nil {
		t.Fatal(err)
	}
	g.release()
}

// stepTo moves the clock to target timer by timer, the clients idle
// between steps: the way a simulation runs.
func stepTo(t testing.TB, s *fakebackend.Server, bots []*bot, target time.Time) {
	t.Helper()
	for {
		waitIdle(t, s, bots, 60*time.Second)
		next := target
		for _, b := range bots {
			if at, ok := b.c.NextTimer(); ok && at.Before(next) {
				next = at
			}
		}
		if err := s.Advance(max(next.Sub(s.Now()), 0)); err != nil {
			t.Fatal(err)
		}
		if !next.Before(target) {
			waitIdle(t, s, bots, 60*time.Second)
			return
		}
	}
}

// checkRegistered: every bot started, with exactly one instance at the
// backend, the one it holds, valid now.
func checkRegistered(t testing.TB, s *fakebackend.Server, bots []*bot, when string) map[string]string {
	t.Helper()
	perUser := map[string][]fakebackend.Instance{}
	for _, in := range s.Instances() {
		perUser[in.User] = append(perUser[in.User], in)
	}
	ids := map[string]string{}
	for _, b := range bots {
		insts, rec := perUser[b.user], b.record(t)
		switch {
		case b.c.State() != registration.StateStarted:
			t.Fatalf("%s: %s is %s: %v", when, b.user, b.c.State(), b.c.Err())
		case len(insts) != 1 || insts[0].ID != rec.InstanceID:
			t.Fatalf("%s: %s holds %q, the backend has %v", when, b.user, rec.InstanceID, insts)
		case insts[0].ExpiredAt(s.Now()):
			t.Fatalf("%s: %s's instance expired at %v (now %v)", when, b.user, insts[0].ExpireAt, s.Now())
		}
		ids[b.user] = rec.InstanceID
	}
	return ids
}

func sumStats(bots []*bot) (s client.Stats) {
	for _, b := range bots {
		st := b.c.Stats()
		s.InstancesCreated += st.InstancesCreated
		s.Authentications += st.Authentications
		s.Renewals += st.Renewals
		s.Expiries += st.Expiries
	}
	return s
}

// TestClockJumps: the mock clock jumps ten days, then 400 days, in one
// step each (every instance, TTL 3 days, expires; every client registers
// anew), then steps back two days (nothing stuck or panicking; tokens,
// instances and renewals judged by the new time).
func TestClockJumps(t *testing.T) {
	n := size(40, 40, 10, 300)
	s := mockServer(t, fakebackend.Config{})
	g := newGate()
	opts := []client.Option{client.WithCredentialsProvider(g.wrap(provider(t, s, 3*day))), client.WithInstanceTTL(true)}
	bots := newBots(t, s, n, "jump-", opts...)
	startAll(t, bots)
	waitState(t, bots, 60*time.Second, registration.StateStarted, registration.StateFailed)
	waitIdle(t, s, bots, 60*time.Second)
	before := checkRegistered(t, s, bots, "start")

	// Forward: 10 days, then 400 days (a new year's kid dates), in one step each.
	for _, d := range []time.Duration{10 * day, 400 * day} {
		expBefore := countEvents(s, "expire")
		jump(t, s, g, s.Now().Add(d))
		settle(t, s, bots, time.Second, 50)
		ids := checkRegistered(t, s, bots, "after a jump of "+d.String())
		for u, id := range ids {
			if id == before[u] {
				t.Fatalf("%s kept instance %s across a %v jump past its TTL", u, id, d)
			}
		}
		if got := countEvents(s, "expire") - expBefore; got != n {
			t.Fatalf("jump of %v: %d instances expired at the backend, want %d", d, got, n)
		}
		before = ids
	}
	st := sumStats(bots)
	if st.InstancesCreated != 3*n || st.Expiries < 2*n {
		t.Fatalf("after two jumps: %+v, want %d creations and at least %d expiries", st, 3*n, 2*n)
	}

	// Backward: two days back. Nothing fires, nothing is stuck.
	back := s.Now().Add(-2 * day)
	if err := s.SetTime(back); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, s, bots, 60*time.Second)
	checkRegistered(t, s, bots, "after stepping back")

	// Rules judge by the new time. A token from the old "now" is refused
	// (its kid date is two days ahead); one from the new now is accepted.
	app := s.Application()
	rc := dialRaw(t, s.URL())
	future := mint(t, s, credentials.MintParams{UserID: "jump-late", Now: back.Add(2 * day)})
	if got := codeOf(rc.create(app.Key, "jump-late", "d1", future)); got != credentials.CodeKidDateMismatch {
		t.Fatalf("token from before the step back: %q, want %s", got, credentials.CodeKidDateMismatch)
	}
	if got := codeOf(rc.create(app.Key, "jump-late", "d1", mint(t, s, credentials.MintParams{UserID: "jump-late", InstanceTTL: 3 * day}))); got != "" {
		t.Fatalf("token of the new now refused: %s", got)
	}
	if in := lastCreated(t, s, "jump-late"); !in.ExpireAt.Equal(back.Add(3 * day)) {
		t.Fatalf("instance created after the step back expires %v, want %v", in.ExpireAt, back.Add(3*day))
	}
	short := mint(t, s, credentials.MintParams{UserID: "jump-late", TTL: time.Minute, InstanceTTL: 3 * day})
	if err := s.Advance(2 * time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := codeOf(rc.create(app.Key, "jump-late", "d1", short)); got != credentials.CodeTokenExpired {
		t.Fatalf("token expired by the new clock: %q, want %s", got, credentials.CodeTokenExpired)
	}

	// Connections cut: every client authenticates again with its stored
	// instance (valid by the new time); none registers anew.
	created := sumStats(bots).InstancesCreated
	s.CloseClientConnections()
	waitState(t, bots, 30*time.Second, registration.StateReconnecting)
	settle(t, s, bots, time.Second, 20)
	checkRegistered(t, s, bots, "after reconnecting")
	if got := sumStats(bots).InstancesCreated; got != created {
		t.Fatalf("%d instances created on reconnect after the step back", got-created)
	}

	// Time runs forward again, timer by timer: renewals come when 24 h
	// remain, by the new clock, and no instance expires.
	renewals, expiries := sumStats(bots).Renewals, sumStats(bots).Expiries
	stepTo(t, s, bots, s.Now().Add(5*day))
	checkRegistered(t, s, bots, "five days on")
	after := sumStats(bots)
	if after.Renewals-renewals < n || after.Expiries != expiries {
		t.Fatalf("five days after the step back: %d renewals (want at least %d), %d expiries (want 0)", after.Renewals-renewals, n, after.Expiries-expiries)
	}
	t.Logf("%d clients: jumps of 10 and 400 days expired %d instances each and all re-registered; a 2-day step back left 0 stuck, %d renewals followed by the new clock, 0 expiries",
		n, n, after.Renewals-renewals)
}

func countEvents(s *fakebackend.Server, kind string) int {
	k := 0
	for _, e := range s.Events() {
		if e.Kind == kind {
			k++
		}
	}
	return k
}

func lastCreated(t testing.TB, s *fakebackend.Server, user string) fakebackend.Instance {
	t.Helper()
	evs := s.Events()
	for i := len(evs) - 1; i >= 0; i-- {
		if e := evs[i]; e.Kind == transport.TypeCreateInstance && e.User == user && e.Code == fakebackend.CodeOK {
			in, ok := s.Instance(e.Instance)
			if !ok {
				t.Fatalf("instance %s of %s is gone", e.Instance, user)
			}
			return in
		}
	}
	t.Fatalf("no instance created for %s", user)
	return fakebackend.Instance{}
}

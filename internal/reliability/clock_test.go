package reliability

import (
	"testing"
	"time"

	"github.com/sinchsim/sinchsim/client"
	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/fakebackend"
	"github.com/sinchsim/sinchsim/registration"
	"github.com/sinchsim/sinchsim/transport"
)

// stepTo moves the clock to target: the virtual clock fires every timer on
// the way in order, the world settled before each.
func stepTo(t testing.TB, s *fakebackend.Server, bots []*bot, target time.Time) {
	t.Helper()
	if err := s.SetTime(target); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, s, bots, 60*time.Second)
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
		s.RenewalFailures += st.RenewalFailures
	}
	return s
}

// TestClockJumps: the clock moves ten days, then 400 days (a new year's
// kid dates), in one Advance each: every timer on the way fires at its
// time, so every client renews exactly every two days (TTL 3 days, renewal
// when 24 h remain) and keeps its instance; then it steps back two days
// (nothing stuck or panicking; tokens, instances and renewals judged by the
// new time).
func TestClockJumps(t *testing.T) {
	n := size(40, 40, 10, 300)
	s := mockServer(t, fakebackend.Config{})
	opts := []client.Option{client.WithCredentialsProvider(provider(t, s, 3*day)), client.WithInstanceTTL(true)}
	bots := newBots(t, s, n, "jump-", opts...)
	startAll(t, bots)
	waitState(t, bots, 60*time.Second, registration.StateStarted, registration.StateFailed)
	waitIdle(t, s, bots, 60*time.Second)
	before := checkRegistered(t, s, bots, "start")

	for _, d := range []time.Duration{10 * day, 400 * day} {
		renewals := sumStats(bots).Renewals
		if err := s.Advance(d); err != nil {
			t.Fatal(err)
		}
		ids := checkRegistered(t, s, bots, "after a jump of "+d.String())
		for u, id := range ids {
			if id != before[u] {
				t.Fatalf("%s changed instance (%s -> %s) across a %v jump with renewals on the way", u, before[u], id, d)
			}
		}
		if got, want := sumStats(bots).Renewals-renewals, n*int(d/(2*day)); got != want {
			t.Fatalf("jump of %v: %d renewals, want exactly %d", d, got, want)
		}
		if got := countEvents(s, "expire"); got != 0 {
			t.Fatalf("jump of %v: %d instances expired at the backend, want 0", d, got)
		}
	}
	if st := sumStats(bots); st.InstancesCreated != n || st.Expiries != 0 || st.RenewalFailures != 0 {
		t.Fatalf("after two jumps: %+v, want %d creations and no expiry or failure", st, n)
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
	t.Logf("%d clients: jumps of 10 and 400 days renewed every 2 days exactly, 0 expiries; a 2-day step back left 0 stuck, %d renewals followed by the new clock, 0 expiries",
		n, after.Renewals-renewals)
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

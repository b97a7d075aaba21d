package reliability

import (
	"errors"
	"maps"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sinchsim/sinchsim/client"
	"github.com/sinchsim/sinchsim/fakebackend"
	"github.com/sinchsim/sinchsim/registration"
	"github.com/sinchsim/sinchsim/transport"
)

const day = 24 * time.Hour

// TestRandomConnectionDrops breaks every message exchange at random:
// injected drops, delayed drops and transient errors on createInstance,
// authenticate, updateInstanceTtl and registerPushToken, plus all
// connections cut at random wall-clock moments while exchanges are in
// flight, with the clock moved past reconnect backoffs and renewal times.
// Every client ends started or cleanly failed (never stuck in a transient
// state), a failed one starts again once the faults stop, each user ends
// with exactly one instance holding its push token, and nothing of the
// clients or the backend is left running after TerminateGracefully and
// Close.
func TestRandomConnectionDrops(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	n := size(60, 60, 12, 300)
	rounds := size(150, 120, 30, 1000)
	seed := seedFor(t)
	rng := rand.New(rand.NewPCG(seed, 11))

	s, err := fakebackend.NewServer(fakebackend.Config{Clock: fakebackend.RunTClock(), Applications: []fakebackend.Application{fakebackend.NewApplication()}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var failMu sync.Mutex
	failures := map[string]int{} // codes given to OnClientFailed
	lis := &client.ListenerFuncs{ClientFailed: func(c *client.SinchClient, err error) {
		failMu.Lock()
		failures[client.CodeOf(err)]++
		failMu.Unlock()
	}}
	bots := newBots(t, s, n, "drop-", client.WithCredentialsProvider(provider(t, s, 3*day)), client.WithInstanceTTL(true), client.WithListener(lis))
	kinds := []string{transport.TypeCreateInstance, transport.TypeAuthenticate, transport.TypeUpdateInstanceTTL, transport.TypeRegisterPushToken}
	codes := []string{transport.CodeUnavailable, transport.CodeInternalError}
	armed := map[string]int{} // injected faults by message kind
	inject := func(kind string, count int) {
		t.Helper()
		armed[kind] += count
		var err error
		switch rng.IntN(3) {
		case 0:
			err = s.DropNext(kind, count)
		case 1:
			err = s.FailNext(kind, count, codes[rng.IntN(len(codes))])
		case 2:
			err = s.InjectFault(fakebackend.Fault{Kind: kind, Count: count, Drop: true, Delay: time.Duration(1+rng.IntN(5)) * time.Millisecond})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// The first registrations meet faults too (createInstance and
	// registerPushToken are rare once everyone is registered).
	for _, kind := range kinds {
		inject(kind, 1+n/4)
	}
	for _, b := range bots {
		if err := b.c.EnableManagedPush(); err != nil {
			t.Fatal(err)
		}
		if err := b.c.Start(); err != nil {
			t.Fatal(err)
		}
		if err := b.c.RegisterPushToken("push-" + b.user); err != nil {
			t.Fatal(err)
		}
	}

	cuts := 0
	for r := 0; r < rounds; r++ {
		for k := rng.IntN(3); k > 0; k-- {
			inject(kinds[rng.IntN(len(kinds))], 1+rng.IntN(3))
		}
		waitIdle(t, s, bots, 60*time.Second)
		d := time.Duration(1+rng.IntN(8)) * time.Second // reconnect backoffs
		if rng.IntN(6) == 0 {
			d = 2 * day // renewals (TTL 3 days, renewed when 24 h remain)
		}
		// Cut every connection at a random moment of the traffic this
		// clock step sets off.
		var cut sync.WaitGroup
		if rng.IntN(3) == 0 {
			cuts++
			cut.Add(1)
			time.AfterFunc(time.Duration(rng.IntN(8000))*time.Microsecond, func() {
				defer cut.Done()
				s.CloseClientConnections()
			})
		}
		if err := s.Advance(d); err != nil {
			t.Fatal(err)
		}
		cut.Wait()
	}
	// Faults that fired: armed minus those still waiting (the event log
	// is a bounded ring, too short for the long version).
	hit := maps.Clone(armed)
	for _, f := range s.Faults() {
		hit[f.Kind] -= f.Count
	}

	// Whatever is left armed still fires; then no client may be stuck.
	steps := settle(t, s, bots, time.Second, 200)
	started, failed := 0, 0
	for _, b := range bots {
		switch b.c.State() {
		case registration.StateStarted:
			started++
		case registration.StateFailed:
			failed++
			var ce *client.Error
			if !errors.As(b.c.Err(), &ce) || ce.Code == "" {
				t.Errorf("%s failed without a coded error: %v", b.user, b.c.Err())
			}
		default:
			t.Errorf("%s is stuck in %s", b.user, b.c.State())
		}
	}
	t.Logf("after %d rounds (injected faults fired: %v; %d cuts of all connections) and %d settling steps: %d started, %d cleanly failed %v (overdue timers fired by hand so far: %d)",
		rounds, hit, cuts, steps, started, failed, failures, overdueFired.Load())
	for _, k := range kinds {
		if hit[k] == 0 && rounds >= 40 {
			t.Errorf("no injected fault fired on %s", k)
		}
	}

	// Faults off: failed clients start again, and a last cut makes every
	// client authenticate once more and resend a push token the backend
	// does not have.
	s.ClearFaults()
	for _, b := range bots {
		if b.c.State() == registration.StateFailed {
			if err := b.c.Start(); err != nil {
				t.Fatal(err)
			}
		}
	}
	settle(t, s, bots, time.Second, 200)
	s.CloseClientConnections()
	waitState(t, bots, 30*time.Second, registration.StateReconnecting, registration.StateFailed)
	settle(t, s, bots, time.Second, 200)

	perUser := map[string][]fakebackend.Instance{}
	for _, in := range s.Instances() {
		perUser[in.User] = append(perUser[in.User], in)
	}
	for _, b := range bots {
		if b.c.State() != registration.StateStarted {
			t.Errorf("%s ended %s after the faults stopped: %v", b.user, b.c.State(), b.c.Err())
			continue
		}
		insts := perUser[b.user]
		rec := b.record(t)
		switch {
		case len(insts) != 1:
			t.Errorf("%s has %d instances", b.user, len(insts))
		case insts[0].ID != rec.InstanceID:
			t.Errorf("%s holds %s, the backend has %s", b.user, rec.InstanceID, insts[0].ID)
		case insts[0].ExpiredAt(s.Now()):
			t.Errorf("%s's instance expired at %v", b.user, insts[0].ExpireAt)
		case insts[0].PushToken != "push-"+b.user:
			t.Errorf("%s's instance has push token %q, want %q", b.user, insts[0].PushToken, "push-"+b.user)
		}
	}
	terminate(bots)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

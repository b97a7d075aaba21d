package client

import (
	"context"
	"testing"
	"time"

	"github.com/sinchsim/sinchsim/fakebackend"
	"github.com/sinchsim/sinchsim/registration"
	"github.com/sinchsim/sinchsim/transport"
)

// A renewal cut by a lost connection is due again as soon as the client
// has re-authenticated. On a mock clock a timer armed for "now" only fires
// when the clock moves, and Idle waits for due timers: the client must
// renew at once by itself, not wait for a clock step nobody will take.
func TestRenewalDueAfterReconnectRunsWithoutAClockStep(t *testing.T) {
	s := fakebackend.RunT(t)
	r := &recorder{answer: signer(s, 3*day)}
	c := newClient(t, s, r, WithInstanceTTL(true))
	startAndWait(t, c)
	id := s.Instances()[0].ID
	if err := s.DropNext(transport.TypeUpdateInstanceTTL, 1); err != nil {
		t.Fatal(err)
	}
	// Renewal due after 2 days (24 h before the 3-day expiry); it is dropped.
	advance(t, s, c, 2*day)
	if err := c.WaitState(ctxT(t), registration.StateReconnecting); err != nil {
		t.Fatal(err)
	}
	// Reconnect: authenticated again, renewal overdue.
	advance(t, s, c, time.Second)
	if c.State() != registration.StateStarted {
		t.Fatalf("state %s after reconnecting: %v", c.State(), c.Err())
	}
	st := c.Stats()
	inst, _ := s.Instance(id)
	if st.Renewals != 1 || !inst.ExpireAt.After(s.Now().Add(2*day)) {
		t.Fatalf("renewals %d, instance expires %v (now %v): the overdue renewal did not run", st.Renewals, inst.ExpireAt, s.Now())
	}
}

// A push token whose registerPushToken was lost with the connection is
// sent again once the client is authenticated on a new one: the backend
// says which token it holds.
func TestPushTokenLostWithTheConnectionIsResent(t *testing.T) {
	s := fakebackend.RunT(t)
	r := &recorder{answer: signer(s, 0)}
	c := newClient(t, s, r)
	if err := c.EnableManagedPush(); err != nil {
		t.Fatal(err)
	}
	if err := s.DropNext(transport.TypeRegisterPushToken, 1); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	if err := c.RegisterPushToken("apns-1"); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitState(ctxT(t), registration.StateReconnecting); err != nil {
		t.Fatal(err)
	}
	advance(t, s, c, time.Second)
	if err := c.WaitStarted(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitIdle(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := s.Instances()[0].PushToken; got != "apns-1" {
		t.Fatalf("backend holds push token %q after the reconnect, want apns-1", got)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.pushOK) != 1 || r.pushOK[0] != "apns-1" {
		t.Fatalf("OnPushTokenRegistered calls: %v", r.pushOK)
	}
}

// A goroutine the loop wakes reads what the whole command changed, also
// what it changed after asking for the wake: wakes run once the command
// has run and published its snapshot.
func TestWakeAfterTheCommandPublished(t *testing.T) {
	s := fakebackend.RunT(t)
	c := newClient(t, s, &recorder{answer: signer(s, 3*day)})
	startAndWait(t, c)
	before := c.Stats().Authentications
	seen := make(chan int, 1)
	err := c.call(func() error {
		l := c.l
		l.wake(func() { seen <- c.Stats().Authentications })
		l.count(func(st *Stats) { st.Authentications++ })
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := <-seen; got != before+1 {
		t.Fatalf("the woken goroutine read %d authentications, want %d", got, before+1)
	}
	// call's own result is a wake too: its caller reads the change.
	if got := c.Stats().Authentications; got != before+1 {
		t.Fatalf("after call: %d authentications, want %d", got, before+1)
	}
}

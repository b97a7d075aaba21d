package client

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/fakebackend"
	"github.com/sinchsim/sinchsim/registration"
	"github.com/sinchsim/sinchsim/transport"
)

// RevokeInstance on a virtual clock returns once the client has been told
// and has failed: no wait, no polling. The error says "revoked" once.
func TestRevokeReturnsWhenTheClientKnows(t *testing.T) {
	s := fakebackend.RunT(t)
	r := &recorder{answer: signer(s, 0)}
	c := newClient(t, s, r)
	startAndWait(t, c)
	if !s.RevokeInstance(s.Instances()[0].ID) {
		t.Fatal("no instance to revoke")
	}
	if st := c.State(); st != registration.StateFailed {
		t.Fatalf("state %s right after RevokeInstance, want failed", st)
	}
	if _, ok := c.Instance(); ok {
		t.Fatal("the revoked instance is still held")
	}
	r.mu.Lock()
	failed := r.failed
	r.mu.Unlock()
	if len(failed) != 1 || !errors.Is(failed[0], ErrInstanceRevoked) {
		t.Fatalf("OnClientFailed calls: %v", failed)
	}
	if msg := failed[0].Error(); strings.Count(msg, "revoked") != 1 {
		t.Fatalf("error text repeats itself: %q", msg)
	}
}

// A second client on the same device (the same store) authenticates the
// instance: the first is told instance_replaced and fails, keeping the
// stored credentials; it does not take the instance back.
func TestReplacedInstanceFailsKeepingCredentials(t *testing.T) {
	s := fakebackend.RunT(t)
	store := NewMemoryDeviceStore()
	r1 := &recorder{answer: signer(s, 0)}
	c1 := newClient(t, s, r1, WithDeviceStore(store))
	startAndWait(t, c1)
	c2 := newClient(t, s, &recorder{answer: signer(s, 0)}, WithDeviceStore(store))
	startAndWait(t, c2)
	if err := s.Advance(0); err != nil { // settle: c1 has heard of it
		t.Fatal(err)
	}
	if c1.State() != registration.StateFailed || !errors.Is(c1.Err(), ErrInstanceReplaced) {
		t.Fatalf("first client: %s, %v; want failed with instance_replaced", c1.State(), c1.Err())
	}
	if !c2.IsStarted() {
		t.Fatalf("second client: %s", c2.State())
	}
	rec, ok, err := store.Load(t.Context(), s.Application().Key, "alice")
	if err != nil || !ok || !rec.HasInstance() {
		t.Fatalf("stored credentials gone: %+v %v %v", rec, ok, err)
	}
	if n := len(s.Instances()); n != 1 {
		t.Fatalf("%d instances, want 1", n)
	}
}

// A renewal token whose instance TTL ends before the current expiry is
// refused (instance_ttl_shortened); the client keeps its expiry and asks
// again after half the remaining time, until a token reaches further.
func TestShortenedRenewalWaitsHalfTheRemainingTime(t *testing.T) {
	s := fakebackend.RunT(t)
	m := s.Minter()
	first := true
	c := newClient(t, s, &recorder{answer: func(reg *ClientRegistration) {
		ttl := 2 * day // renewals: shorter than what remains at first
		if first {
			first, ttl = false, 10*day
		}
		jwt, err := m.MintWith(credentials.MintParams{UserID: "alice", InstanceTTL: ttl})
		if err != nil {
			reg.RegisterFailed(err)
			return
		}
		reg.Register(jwt)
	}}, WithInstanceTTL(true))
	startAndWait(t, c)
	// Renewal due at day 3 (7 days remain): refused; again at day 6.5
	// (3.5 days remain): refused; again at day 8.25 (1.75 days remain): a
	// 2-day token reaches day 10.25, accepted.
	if err := s.Advance(9 * day); err != nil {
		t.Fatal(err)
	}
	st := c.Stats()
	if st.RenewalFailures != 2 || st.Renewals != 1 || st.Rejections[transport.CodeInstanceTTLShortened] != 2 {
		t.Fatalf("%+v, want 2 refused renewals then 1 renewal", st)
	}
	inst, _ := c.Instance()
	if want := fakebackend.DefaultMockTime.Add(8*day + 6*time.Hour + 2*day); !inst.ExpireAt.Equal(want) {
		t.Fatalf("expiry %v, want %v", inst.ExpireAt, want)
	}
}

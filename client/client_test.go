package client

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/fakebackend"
	"github.com/sinchsim/sinchsim/registration"
)

const day = 24 * time.Hour

// fixedBackoff makes reconnect delays deterministic: 1s, 2s, 4s ... without jitter.
var fixedBackoff = registration.Backoff{Initial: time.Second, Max: 8 * time.Second, Jitter: -1}

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// recorder is a listener that records callbacks and answers credential
// requests with a policy the test sets.
type recorder struct {
	mu       sync.Mutex
	started  int
	failed   []error
	asked    []bool // InstanceTTLRequired of each request
	answer   func(reg *ClientRegistration)
	pushOK   []string
	pushFail []error
}

func (r *recorder) OnClientStarted(c *SinchClient) { r.mu.Lock(); r.started++; r.mu.Unlock() }
func (r *recorder) OnClientFailed(c *SinchClient, err error) {
	r.mu.Lock()
	r.failed = append(r.failed, err)
	r.mu.Unlock()
}
func (r *recorder) OnCredentialsRequired(c *SinchClient, reg *ClientRegistration) {
	r.mu.Lock()
	r.asked = append(r.asked, reg.InstanceTTLRequired())
	answer := r.answer
	r.mu.Unlock()
	answer(reg)
}
func (r *recorder) OnPushTokenRegistered(c *SinchClient, tok string) {
	r.mu.Lock()
	r.pushOK = append(r.pushOK, tok)
	r.mu.Unlock()
}
func (r *recorder) OnPushTokenRegistrationFailed(c *SinchClient, err error) {
	r.mu.Lock()
	r.pushFail = append(r.pushFail, err)
	r.mu.Unlock()
}

func (r *recorder) counts() (started, failed, asked int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.started, len(r.failed), len(r.asked)
}

// signer answers credential requests with tokens from the backend's
// application, with an instance TTL when asked for one.
func signer(s *fakebackend.Server, ttl time.Duration) func(reg *ClientRegistration) {
	m := s.Minter()
	return func(reg *ClientRegistration) {
		p := credentials.MintParams{UserID: "alice"}
		if reg.InstanceTTLRequired() {
			p.InstanceTTL = ttl
		}
		jwt, err := m.MintWith(p)
		if err != nil {
			reg.RegisterFailed(err)
			return
		}
		reg.Register(jwt)
	}
}

func newClient(t *testing.T, s *fakebackend.Server, l Listener, opts ...Option) *SinchClient {
	t.Helper()
	opts = append([]Option{WithClock(s.Clock()), WithListener(l), WithBackoff(fixedBackoff)}, opts...)
	c, err := New(s.Application().Key, s.URL(), "alice", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.TerminateGracefully)
	return c
}

func startAndWait(t *testing.T, c *SinchClient) {
	t.Helper()
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitStarted(ctxT(t)); err != nil {
		t.Fatalf("WaitStarted: %v", err)
	}
	if err := c.WaitIdle(ctxT(t)); err != nil {
		t.Fatal(err)
	}
}

// advance moves the shared mock clock once the client is idle (its timers
// armed) and waits for the client to settle again.
func advance(t *testing.T, s *fakebackend.Server, c *SinchClient, d time.Duration) {
	t.Helper()
	if err := c.WaitIdle(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	s.Advance(d)
	if err := c.WaitIdle(ctxT(t)); err != nil {
		t.Fatal(err)
	}
}

func TestFirstStartAsksThenStoreSkipsCredentials(t *testing.T) {
	s := fakebackend.RunT(t)
	store := NewMemoryDeviceStore()
	r := &recorder{answer: signer(s, 0)}
	c := newClient(t, s, r, WithDeviceStore(store))
	startAndWait(t, c)
	if st, f, a := r.counts(); st != 1 || f != 0 || a != 1 {
		t.Fatalf("started %d failed %d asked %d", st, f, a)
	}
	if !c.IsStarted() || c.State() != registration.StateStarted {
		t.Fatalf("state %s", c.State())
	}
	if err := c.Start(); !errors.Is(err, ErrAlreadyStarted) {
		t.Fatalf("second Start = %v", err)
	}
	c.TerminateGracefully()

	// A second client with the same store: authenticates, asks nothing.
	r2 := &recorder{answer: func(reg *ClientRegistration) { t.Error("credentials asked again") }}
	c2 := newClient(t, s, r2, WithDeviceStore(store))
	startAndWait(t, c2)
	if st, _, a := r2.counts(); st != 1 || a != 0 {
		t.Fatalf("second client: started %d asked %d", st, a)
	}
	if n := len(s.Instances()); n != 1 {
		t.Fatalf("backend has %d instances, want 1", n)
	}
	if ev := s.Events(); ev[len(ev)-1].Kind != "authenticate" || ev[len(ev)-1].Code != "ok" {
		t.Fatalf("last event %+v", ev[len(ev)-1])
	}
}

func TestDirDeviceStoreSurvivesTheProcess(t *testing.T) {
	s := fakebackend.RunT(t)
	dir := t.TempDir()
	st1, _ := NewDirDeviceStore(dir)
	c := newClient(t, s, &recorder{answer: signer(s, 0)}, WithDeviceStore(st1))
	startAndWait(t, c)
	c.TerminateGracefully()
	st2, _ := NewDirDeviceStore(dir) // as a new process would open it
	r2 := &recorder{answer: func(reg *ClientRegistration) { t.Error("credentials asked again") }}
	startAndWait(t, newClient(t, s, r2, WithDeviceStore(st2)))
}

func TestRegisterFailedFailsTheClient(t *testing.T) {
	s := fakebackend.RunT(t)
	boom := errors.New("auth server said no")
	r := &recorder{answer: func(reg *ClientRegistration) { reg.RegisterFailed(boom); reg.Register("ignored") }}
	c := newClient(t, s, r)
	c.Start()
	err := c.WaitStarted(ctxT(t))
	if !errors.Is(err, ErrRegistrationFailed) || !errors.Is(err, boom) {
		t.Fatalf("WaitStarted = %v", err)
	}
	c.WaitIdle(ctxT(t))
	if _, f, _ := r.counts(); f != 1 {
		t.Fatalf("OnClientFailed called %d times", f)
	}
	var ce *Error
	if !errors.As(err, &ce) || ce.Domain != DomainGeneric {
		t.Fatalf("error %#v", err)
	}
	// A failed client may be started again.
	r.mu.Lock()
	r.answer = signer(s, 0)
	r.mu.Unlock()
	startAndWait(t, c)
}

func TestBadTokenFailsWithItsCode(t *testing.T) {
	s := fakebackend.RunT(t)
	other := fakebackend.NewApplication()
	wrong, _ := credentials.NewMinter(credentials.MinterConfig{ApplicationKey: s.Application().Key, Secret: other.Secret, Clock: s.Clock()})
	r := &recorder{answer: func(reg *ClientRegistration) { jwt, _ := wrong.Mint("alice"); reg.Register(jwt) }}
	c := newClient(t, s, r)
	c.Start()
	err := c.WaitStarted(ctxT(t))
	if CodeOf(err) != credentials.CodeSignatureInvalid || !errors.Is(err, credentials.ErrSignatureInvalid) {
		t.Fatalf("WaitStarted = %v", err)
	}
	var ce *Error
	if !errors.As(err, &ce) || ce.Domain != DomainAPI || ce.Retryable {
		t.Fatalf("error %#v", err)
	}
	// No retry on a fatal auth error: exactly one attempt.
	if _, _, a := r.counts(); a != 1 {
		t.Fatalf("asked %d times", a)
	}
}

func TestRenewalAtPolicyTimeExtendsInstance(t *testing.T) {
	s := fakebackend.RunT(t)
	r := &recorder{answer: signer(s, 30*day)}
	c := newClient(t, s, r, WithInstanceTTL(true))
	startAndWait(t, c)
	inst := s.Instances()[0]
	created := s.Now()
	if !inst.ExpireAt.Equal(created.Add(30 * day)) {
		t.Fatalf("expireAt %v", inst.ExpireAt)
	}
	// TTL 30 days: renewal when 7 days remain, i.e. after 23 days.
	advance(t, s, c, 23*day-time.Minute)
	if _, _, a := r.counts(); a != 1 {
		t.Fatalf("renewed too early (asked %d)", a)
	}
	advance(t, s, c, time.Minute)
	if _, _, a := r.counts(); a != 2 {
		t.Fatalf("no renewal at the policy time (asked %d)", a)
	}
	inst, _ = s.Instance(inst.ID)
	if want := created.Add(23 * day).Add(30 * day); !inst.ExpireAt.Equal(want) || len(inst.History) != 2 {
		t.Fatalf("after renewal expireAt %v (want %v), history %d", inst.ExpireAt, want, len(inst.History))
	}
	if r.asked[1] != true {
		t.Fatal("renewal request did not ask for an instance TTL")
	}
	if len(s.Instances()) != 1 || c.State() != registration.StateStarted {
		t.Fatalf("instances %d state %s", len(s.Instances()), c.State())
	}
}

func TestMissedRenewalExpiresThenAsksAgain(t *testing.T) {
	s := fakebackend.RunT(t)
	sign := signer(s, 3*day)
	r := &recorder{}
	var renewals atomic.Int32
	r.answer = func(reg *ClientRegistration) {
		if reg.IsRenewal() {
			renewals.Add(1)
			reg.RegisterFailed(errors.New("auth server down"))
			return
		}
		sign(reg)
	}
	hourly := registration.DefaultRenewal{Backoff: registration.Backoff{Initial: time.Hour, Max: time.Hour, Jitter: -1}}
	c := newClient(t, s, r, WithInstanceTTL(true), WithRenewalPolicy(hourly))
	startAndWait(t, c)
	oldID := s.Instances()[0].ID
	// TTL 3 days: renewal due after 2 days; every renewal fails and is
	// retried hourly, keeping the old expiry; at 3 days the instance expires.
	for i := 0; i < 3*24; i++ {
		advance(t, s, c, time.Hour)
	}
	// Attempts at 48h, 49h, ... 71h. At 72h the backend's expiry timer
	// (armed at creation, before the client's retry timer) fires first.
	if n := renewals.Load(); n != 24 {
		t.Fatalf("renewal attempts = %d, want 24 (hourly from 48h to 71h)", n)
	}
	if e := lastEvent(s, "expire"); e.Instance != oldID {
		t.Fatalf("expiry not recorded: %+v", e)
	}
	// The backend told the client; it forgot the instance and asked for a
	// new registration (with a TTL: once limited, always limited).
	if err := c.WaitStarted(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	c.WaitIdle(ctxT(t))
	create := lastEvent(s, "createInstance")
	if create.Code != "ok" || create.Instance == oldID {
		t.Fatalf("no new registration after expiry: %+v", create)
	}
	r.mu.Lock()
	last := r.asked[len(r.asked)-1]
	r.mu.Unlock()
	if !last {
		t.Fatal("re-registration after expiry did not ask for an instance TTL")
	}
	if _, ok := s.Instance(oldID); ok {
		t.Fatal("the expired instance was not replaced")
	}
}

func lastEvent(s *fakebackend.Server, kind string) fakebackend.Event {
	evs := s.Events()
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Kind == kind {
			return evs[i]
		}
	}
	return fakebackend.Event{}
}

func TestInstanceInfoAndReconnectReason(t *testing.T) {
	s := fakebackend.RunT(t)
	c := newClient(t, s, &recorder{answer: signer(s, 30*day)}, WithInstanceTTL(true))
	if _, ok := c.Instance(); ok {
		t.Fatal("an instance before Start")
	}
	startAndWait(t, c)
	info, ok := c.Instance()
	inst := s.Instances()[0]
	if !ok || info.ID != inst.ID || info.DeviceID != inst.Device || !info.ExpireAt.Equal(inst.ExpireAt) ||
		!info.RenewAt.Equal(inst.ExpireAt.Add(-7*day)) {
		t.Fatalf("Instance() = %+v, backend has %+v", info, inst)
	}
	s.CloseClientConnections()
	if err := c.WaitState(ctxT(t), registration.StateReconnecting); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(c.Err(), ErrConnectionFailed) {
		t.Fatalf("Err() while reconnecting = %v", c.Err())
	}
	advance(t, s, c, time.Second)
	if err := c.WaitStarted(ctxT(t)); err != nil || c.Err() != nil {
		t.Fatalf("after reconnect: %v, Err() = %v", err, c.Err())
	}
}

// A ListenerFuncs without a function for an event gets nothing queued for
// it; any other listener gets every event.
func TestWantsSkipsMissingListenerFuncs(t *testing.T) {
	started := func(f *ListenerFuncs) bool { return f.ClientStarted != nil }
	if wants(nil, started) {
		t.Error("a nil listener wants ClientStarted")
	}
	if wants((*ListenerFuncs)(nil), started) {
		t.Error("a nil *ListenerFuncs wants ClientStarted")
	}
	if wants(&ListenerFuncs{ClientFailed: func(*SinchClient, error) {}}, started) {
		t.Error("a ListenerFuncs without ClientStarted wants it")
	}
	if !wants(&ListenerFuncs{ClientStarted: func(*SinchClient) {}}, started) {
		t.Error("a ListenerFuncs with ClientStarted does not want it")
	}
	if !wants(&otherListener{}, started) {
		t.Error("another listener does not want ClientStarted")
	}
}

// otherListener is a Listener that is not a ListenerFuncs.
type otherListener struct{ ListenerFuncs }

package client

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/fakebackend"
	"github.com/sinchsim/sinchsim/registration"
	"github.com/sinchsim/sinchsim/transport"
	"github.com/sinchsim/sinchsim/vclock"
)

// Calls between SinchClients in one virtual world, over the wire of the
// fake backend (rule 15 in docs/RULES.md). Advance settles the world: the
// listener calls recorded are final when it returns.

// party is a listener that records, in order, every callback it gets, and
// reacts to incoming calls as told.
type party struct {
	mu        sync.Mutex
	log       []string
	calls     []*Call
	onCall    func(call *Call) // nil: let it ring
	creds     func(reg *ClientRegistration)
	showCreds bool // record OnCredentialsRequired too
	failure   error
}

func (p *party) add(s string) { p.mu.Lock(); p.log = append(p.log, s); p.mu.Unlock() }

func (p *party) OnClientStarted(*SinchClient) { p.add("started") }
func (p *party) OnClientFailed(_ *SinchClient, err error) {
	p.mu.Lock()
	p.failure = err
	p.mu.Unlock()
	p.add("failed:" + CodeOf(err))
}
func (p *party) OnCredentialsRequired(_ *SinchClient, reg *ClientRegistration) {
	if p.showCreds {
		p.add("credentials")
	}
	p.creds(reg)
}
func (p *party) OnIncomingCall(cc *CallClient, call *Call) {
	p.mu.Lock()
	p.calls = append(p.calls, call)
	on := p.onCall
	p.mu.Unlock()
	p.add("incoming:" + call.RemoteUserID())
	if on != nil {
		on(call)
	}
}
func (p *party) OnCallProgressing(call *Call) { p.add("progressing") }
func (p *party) OnCallEstablished(call *Call) { p.add("established") }
func (p *party) OnCallEnded(call *Call)       { p.add("ended:" + string(call.EndCause())) }

// events returns the recorded callbacks, joined by spaces.
func (p *party) events() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.log, " ")
}

func (p *party) lastCall(t testing.TB) *Call {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.calls) == 0 {
		t.Fatal("no incoming call")
	}
	return p.calls[len(p.calls)-1]
}

// mintFor answers credential requests for user with tokens of the
// backend's application, limited to ttl when asked for a limit.
func mintFor(s *fakebackend.Server, user string, ttl time.Duration) func(reg *ClientRegistration) {
	m := s.Minter()
	return func(reg *ClientRegistration) {
		p := credentials.MintParams{UserID: user}
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

// neverRenew leaves the instance to expire.
type neverRenew struct{}

func (neverRenew) RenewAt(issued, expireAt time.Time) time.Time { return expireAt.Add(time.Hour) }
func (neverRenew) RetryDelay(int) time.Duration                 { return time.Hour }

// user builds a started client for user in the world of s; ttl > 0 limits
// its instance (and it is never renewed).
func user(t *testing.T, s *fakebackend.Server, name string, ttl time.Duration, p *party, opts ...Option) *SinchClient {
	t.Helper()
	if p.creds == nil {
		p.creds = mintFor(s, name, ttl)
	}
	opts = append([]Option{WithClock(s.Clock()), WithListener(p), WithBackoff(fixedBackoff), WithInstanceTTL(ttl > 0), WithRenewalPolicy(neverRenew{})}, opts...)
	c, err := New(s.Application().Key, s.URL(), name, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.TerminateGracefully)
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	if !c.IsStarted() {
		t.Fatalf("%s is %s: %v", name, c.State(), c.Err())
	}
	return c
}

// settle waits until the world of s is quiescent.
func settle(t testing.TB, s *fakebackend.Server) {
	t.Helper()
	if err := s.Advance(0); err != nil {
		t.Fatal(err)
	}
}

func want(t testing.TB, who string, p *party, events string) {
	t.Helper()
	if got := p.events(); got != events {
		t.Fatalf("%s's listener got\n  %s\nwant\n  %s", who, got, events)
	}
}

func TestCallAnsweredOverTheWire(t *testing.T) {
	s := fakebackend.RunT(t)
	a, b := &party{}, &party{onCall: func(call *Call) {
		if err := call.Answer(); err != nil {
			panic(err)
		}
	}}
	alice, _ := user(t, s, "alice", 0, a), user(t, s, "bob", 0, b)
	call, err := alice.CallClient().CallUser(ctxT(t), "bob", map[string]string{"subject": "lunch?"})
	if err != nil {
		t.Fatal(err)
	}
	if call.Direction() != CallOutgoing || call.RemoteUserID() != "bob" || call.CallID() == "" {
		t.Fatalf("call = %+v", call)
	}
	settle(t, s)
	want(t, "alice", a, "started progressing established")
	want(t, "bob", b, "started incoming:alice established")
	in := b.lastCall(t)
	if in.CallID() != call.CallID() || in.Direction() != CallIncoming || in.Headers()["subject"] != "lunch?" {
		t.Fatalf("incoming call %s %s %v, outgoing %s", in.CallID(), in.Direction(), in.Headers(), call.CallID())
	}
	// An hour on the line: established calls have no timeout.
	s.Advance(time.Hour)
	if err := call.Hangup(); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	want(t, "alice", a, "started progressing established ended:hung_up")
	want(t, "bob", b, "started incoming:alice established ended:hung_up")
	for _, c := range []*Call{call, in} {
		select {
		case <-c.Done():
		default:
			t.Fatal("Done is not closed")
		}
		if c.State() != CallEnded || c.EndCause() != EndCauseHungUp {
			t.Fatalf("%s call: %s %s", c.Direction(), c.State(), c.EndCause())
		}
	}
	if err := call.Hangup(); err != nil {
		t.Fatalf("Hangup of an ended call: %v", err)
	}
	if err := in.Answer(); !errors.Is(err, ErrInvalidCallState) {
		t.Fatalf("Answer of an ended call: %v", err)
	}
}

func TestCallDeclinedOverTheWire(t *testing.T) {
	s := fakebackend.RunT(t)
	a, b := &party{}, &party{onCall: func(call *Call) {
		if err := call.Decline(); err != nil {
			panic(err)
		}
	}}
	alice, _ := user(t, s, "alice", 0, a), user(t, s, "bob", 0, b)
	call := place(t, alice, "bob")
	settle(t, s)
	want(t, "alice", a, "started progressing ended:declined")
	want(t, "bob", b, "started incoming:alice ended:declined")
	endsWith(t, call, EndCauseDeclined)
}

// TestCallNoAnswerOnTheVirtualClock: the backend's answer timeout, exactly.
func TestCallNoAnswerOnTheVirtualClock(t *testing.T) {
	s := fakebackend.RunT(t)
	a, b := &party{}, &party{}
	alice, _ := user(t, s, "alice", 0, a), user(t, s, "bob", 0, b)
	call := place(t, alice, "bob")
	s.Advance(fakebackend.DefaultCallAnswerTimeout - time.Nanosecond)
	in := b.lastCall(t)
	if call.State() != CallProgressing || in.State() != CallRinging {
		t.Fatalf("before the timeout: %s, %s", call.State(), in.State())
	}
	s.Advance(time.Nanosecond)
	want(t, "alice", a, "started progressing ended:no_answer")
	want(t, "bob", b, "started incoming:alice ended:no_answer")
	if err := in.Answer(); !errors.Is(err, ErrInvalidCallState) {
		t.Fatalf("Answer after the timeout: %v", err)
	}
}

// TestCallerExpiredStopsTheClient: a call placed at the very instant the
// caller's instance expires (before the backend's expiry timer, armed
// later, has fired) is refused with instance_expired; the client stops
// (OnClientFailed with instance_expired, instance forgotten), and the next
// Start registers anew.
func TestCallerExpiredStopsTheClient(t *testing.T) {
	s := fakebackend.RunT(t)
	w := vclock.Of(s.Clock())
	const ttl = 72 * time.Hour
	a := &party{showCreds: true}
	var alice *SinchClient
	// The call is placed by a timer created before alice registers: at 72
	// h it fires before the backend's expiry timer of her instance.
	caller := w.NewWork("test caller", false)
	defer caller.Close()
	errc := make(chan error, 1)
	// What CallUser's caller reads the moment it is woken: the command
	// that refused the call has counted the expiry and failed the client
	// by then.
	var woken Stats
	var wokenState registration.State
	vclock.AfterFunc(w, ttl, func() {
		caller.Begin(1)
		go func() {
			defer caller.End(1)
			_, err := alice.CallClient().CallUser(context.Background(), "bob", nil)
			woken, wokenState = alice.Stats(), alice.State()
			errc <- err
		}()
	})
	alice = user(t, s, "alice", ttl, a)
	user(t, s, "bob", 0, &party{})
	if inst, _ := alice.Instance(); !inst.ExpireAt.Equal(fakebackend.DefaultMockTime.Add(ttl)) {
		t.Fatalf("instance expires at %v", inst.ExpireAt)
	}
	s.Advance(ttl)
	err := <-errc
	if !errors.Is(err, ErrInstanceExpired) {
		t.Fatalf("CallUser = %v, want instance_expired", err)
	}
	if woken.Expiries != 1 || woken.Rejections[transport.CodeInstanceExpired] != 1 || wokenState != registration.StateFailed {
		t.Fatalf("when CallUser returned: %s, stats %+v", wokenState, woken)
	}
	want(t, "alice", a, "credentials started failed:instance_expired")
	if alice.State() != registration.StateFailed || !errors.Is(alice.Err(), ErrInstanceExpired) {
		t.Fatalf("alice is %s (%v)", alice.State(), alice.Err())
	}
	if _, ok := alice.Instance(); ok {
		t.Fatal("the expired instance is still stored")
	}
	if st := alice.Stats(); st.Expiries != 1 || st.Rejections[transport.CodeInstanceExpired] != 1 {
		t.Fatalf("stats %+v", st)
	}
	// The next Start registers anew, and calls again.
	if err := alice.Start(); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	want(t, "alice", a, "credentials started failed:instance_expired credentials started")
	if st := alice.Stats(); st.InstancesCreated != 2 {
		t.Fatalf("stats %+v", st)
	}
	if _, err := alice.CallClient().CallUser(ctxT(t), "bob", nil); err != nil {
		t.Fatal(err)
	}
}

// TestCalleeExpiredIsUnavailable: bob's instance expired and he could not
// register again: alice's call ends with callee_unavailable.
func TestCalleeExpiredIsUnavailable(t *testing.T) {
	s := fakebackend.RunT(t)
	a := &party{}
	b := &party{showCreds: true}
	first := true
	b.creds = func(reg *ClientRegistration) {
		if first {
			first = false
			mintFor(s, "bob", 72*time.Hour)(reg)
			return
		}
		reg.RegisterFailed(errors.New("the auth server is down"))
	}
	alice, bob := user(t, s, "alice", 0, a), user(t, s, "bob", 72*time.Hour, b)
	s.Advance(72 * time.Hour)
	if bob.State() != registration.StateFailed {
		t.Fatalf("bob is %s", bob.State())
	}
	call := place(t, alice, "bob")
	settle(t, s)
	want(t, "alice", a, "started progressing ended:callee_unavailable")
	want(t, "bob", b, "credentials started credentials failed:registration_failed")
	endsWith(t, call, EndCauseCalleeUnavailable)
}

// TestPushedCalleeConnectsAndAnswers: bob's device is offline with a push
// token; alice's call sends a push and rings; bob's device starts (the
// same device store: it authenticates the same instance), gets the call
// and answers.
func TestPushedCalleeConnectsAndAnswers(t *testing.T) {
	s := fakebackend.RunT(t)
	store := NewMemoryDeviceStore()
	a, b := &party{}, &party{}
	alice := user(t, s, "alice", 0, a)
	bobOld, err := New(s.Application().Key, s.URL(), "bob", WithClock(s.Clock()), WithListener(b), WithDeviceStore(store))
	if err != nil {
		t.Fatal(err)
	}
	b.creds = mintFor(s, "bob", 0)
	bobOld.EnableManagedPush()
	bobOld.RegisterPushToken("fcm-bob")
	bobOld.Start()
	settle(t, s)
	bobOld.TerminateGracefully() // the app goes to the background
	settle(t, s)

	call, err := alice.CallClient().CallUser(ctxT(t), "bob", map[string]string{"subject": "wake up"})
	if err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	ps := s.Pushes()
	if len(ps) != 1 || ps[0].CallID != call.CallID() || ps[0].PushToken != "fcm-bob" || ps[0].CallerUserID != "alice" || ps[0].Headers["subject"] != "wake up" {
		t.Fatalf("pushes %+v", ps)
	}
	s.Advance(30 * time.Second) // the push wakes the app
	if call.State() != CallProgressing {
		t.Fatalf("call is %s", call.State())
	}
	b2 := &party{creds: mintFor(s, "bob", 0), onCall: func(call *Call) { call.Answer() }}
	user(t, s, "bob", 0, b2, WithDeviceStore(store))
	settle(t, s)
	want(t, "alice", a, "started progressing established")
	want(t, "bob (woken)", b2, "started incoming:alice established")
	if n := len(s.Instances()); n != 2 {
		t.Fatalf("%d instances: bob registered anew", n)
	}
}

func TestHangupWhileRingingCancels(t *testing.T) {
	s := fakebackend.RunT(t)
	a, b := &party{}, &party{}
	alice, _ := user(t, s, "alice", 0, a), user(t, s, "bob", 0, b)
	call := place(t, alice, "bob")
	settle(t, s)
	if err := call.Hangup(); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	want(t, "alice", a, "started progressing ended:canceled")
	want(t, "bob", b, "started incoming:alice ended:canceled")
}

// TestCallLimitsReachTheCaller: both limits come back from CallUser as
// retryable errors with their codes; the client stays started.
func TestCallLimitsReachTheCaller(t *testing.T) {
	s := fakebackend.RunT(t, fakebackend.Config{Policy: fakebackend.Policy{MaxCallsPerMinute: 3, MaxConcurrentCalls: 2}})
	alice := user(t, s, "alice", 0, &party{})
	user(t, s, "bob", 0, &party{})
	cc := alice.CallClient()
	var calls []*Call
	for range 2 {
		call, err := cc.CallUser(ctxT(t), "bob", nil)
		if err != nil {
			t.Fatal(err)
		}
		calls = append(calls, call)
	}
	_, err := cc.CallUser(ctxT(t), "bob", nil)
	var ce *Error
	if !errors.As(err, &ce) || ce.Code != transport.CodeConcurrentCallsExceeded || !ce.Retryable {
		t.Fatalf("third concurrent call: %v", err)
	}
	calls[0].Hangup()
	settle(t, s)
	if _, err := cc.CallUser(ctxT(t), "bob", nil); err != nil {
		t.Fatal(err)
	}
	calls[1].Hangup()
	settle(t, s)
	_, err = cc.CallUser(ctxT(t), "bob", nil)
	if !errors.As(err, &ce) || ce.Code != transport.CodeCallRateExceeded || !ce.Retryable || ce.RetryAfter != time.Minute {
		t.Fatalf("fourth call within a minute: %v", err)
	}
	if !alice.IsStarted() {
		t.Fatalf("alice is %s", alice.State())
	}
	if st := alice.Stats(); st.Rejections[transport.CodeConcurrentCallsExceeded] != 1 || st.Rejections[transport.CodeCallRateExceeded] != 1 {
		t.Fatalf("rejections %v", st.Rejections)
	}
}

// TestCallUserRefusesLocally: what CallUser refuses without the backend.
func TestCallUserRefusesLocally(t *testing.T) {
	s := fakebackend.RunT(t)
	idle, err := New(s.Application().Key, s.URL(), "carol", WithClock(s.Clock()))
	if err != nil {
		t.Fatal(err)
	}
	defer idle.TerminateGracefully()
	alice := user(t, s, "alice", 0, &party{})
	big := map[string]string{"k": strings.Repeat("v", 1024)}
	for _, tc := range []struct {
		name string
		c    *SinchClient
		to   string
		h    map[string]string
		code string
	}{
		{"never started", idle, "bob", nil, CodeNotStarted},
		{"invalid user id", alice, "b ob", nil, credentials.CodeUserIDInvalid},
		{"headers over 1024 bytes", alice, "bob", big, "invalid_argument"},
		{"an empty header name", alice, "bob", map[string]string{"": "v"}, "invalid_argument"},
	} {
		if _, err := tc.c.CallClient().CallUser(ctxT(t), tc.to, tc.h); CodeOf(err) != tc.code {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
		}
	}
	alice.TerminateGracefully()
	if _, err := alice.CallClient().CallUser(ctxT(t), "bob", nil); !errors.Is(err, ErrTerminated) {
		t.Errorf("terminated: %v", err)
	}
}

// TestCallsEndWhenTheClientGoes: a client that terminates during calls
// ends them (failure) and its peers' calls end too; nothing is left
// behind.
func TestCallsEndWhenTheClientGoes(t *testing.T) {
	defer goleak.VerifyNone(t)
	s, err := fakebackend.NewServer(fakebackend.Config{Clock: fakebackend.RunTClock(), Applications: []fakebackend.Application{fakebackend.NewApplication()}})
	if err != nil {
		t.Fatal(err)
	}
	a, b, c := &party{}, &party{onCall: func(call *Call) { call.Answer() }}, &party{}
	alice, bob, carol := user(t, s, "alice", 0, a), user(t, s, "bob", 0, b), user(t, s, "carol", 0, c)
	if _, err := alice.CallClient().CallUser(ctxT(t), "bob", nil); err != nil { // established
		t.Fatal(err)
	}
	settle(t, s)
	if _, err := alice.CallClient().CallUser(ctxT(t), "carol", nil); err != nil { // ringing
		t.Fatal(err)
	}
	settle(t, s)
	alice.TerminateGracefully()
	settle(t, s)
	want(t, "alice", a, "started progressing established progressing ended:failure ended:failure")
	want(t, "bob", b, "started incoming:alice established ended:hung_up")
	want(t, "carol", c, "started incoming:alice ended:canceled")
	for _, cl := range []*SinchClient{bob, carol} {
		cl.TerminateGracefully()
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestCallStateRules: Answer and Decline only for an incoming call that
// rings, once; Hangup of an ended call does nothing.
func TestCallStateRules(t *testing.T) {
	s := fakebackend.RunT(t)
	a, b := &party{}, &party{}
	alice, _ := user(t, s, "alice", 0, a), user(t, s, "bob", 0, b)
	out := place(t, alice, "bob")
	settle(t, s)
	in := b.lastCall(t)
	if err := out.Answer(); !errors.Is(err, ErrInvalidCallState) {
		t.Fatalf("Answer of an outgoing call: %v", err)
	}
	if err := out.Decline(); !errors.Is(err, ErrInvalidCallState) {
		t.Fatalf("Decline of an outgoing call: %v", err)
	}
	if err := in.Answer(); err != nil {
		t.Fatal(err)
	}
	if err := in.Decline(); !errors.Is(err, ErrInvalidCallState) {
		t.Fatalf("Decline while answering: %v", err)
	}
	settle(t, s)
	if in.State() != CallEstablished || out.State() != CallEstablished {
		t.Fatalf("states %s %s", in.State(), out.State())
	}
	if err := in.Hangup(); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	if err := in.Hangup(); err != nil {
		t.Fatalf("second Hangup: %v", err)
	}
	want(t, "alice", a, "started progressing established ended:hung_up")
	want(t, "bob", b, "started incoming:alice established ended:hung_up")
}

// TestManyCallsAreExact: ten pairs of clients call each other; every call
// is answered, held for a minute of virtual time and hung up; the
// backend's decisions are the same in every run.
func TestManyCallsAreExact(t *testing.T) {
	var first string
	for run := range 5 {
		s := fakebackend.RunT(t)
		var callers []*SinchClient
		for i := range 10 {
			callers = append(callers, user(t, s, fmt.Sprintf("caller-%d", i), 0, &party{}))
			user(t, s, fmt.Sprintf("callee-%d", i), 0, &party{onCall: func(call *Call) { call.Answer() }})
		}
		var calls []*Call
		for i, c := range callers {
			call, err := c.CallClient().CallUser(ctxT(t), fmt.Sprintf("callee-%d", i), nil)
			if err != nil {
				t.Fatal(err)
			}
			calls = append(calls, call)
		}
		s.Advance(time.Minute)
		for _, call := range calls {
			if call.State() != CallEstablished {
				t.Fatalf("run %d: call is %s", run, call.State())
			}
			call.Hangup()
		}
		settle(t, s)
		var b strings.Builder
		for _, e := range s.Events() {
			if e.Kind == fakebackend.KindCallEnd || strings.HasSuffix(e.Kind, "Call") || e.Kind == transport.TypeCallUser {
				fmt.Fprintf(&b, "%s/%s/%s@%s ", e.Kind, e.User, e.Code, e.Time.Sub(fakebackend.DefaultMockTime))
			}
		}
		got := sortedFields(b.String())
		if run == 0 {
			first = got
			if n := strings.Count(got, "callEnd/"); n != 10 {
				t.Fatalf("%d calls ended, want 10: %s", n, got)
			}
		} else if got != first {
			t.Fatalf("run %d differs:\n%s\nvs\n%s", run, got, first)
		}
	}
}

// sortedFields sorts the space-separated fields of s: clients act in
// parallel, so only the set of decisions, with their times, is exact.
func sortedFields(s string) string {
	f := strings.Fields(s)
	for i := range f {
		for j := i + 1; j < len(f); j++ {
			if f[j] < f[i] {
				f[i], f[j] = f[j], f[i]
			}
		}
	}
	return strings.Join(f, " ")
}

// place has from call the user to, and fails the test unless the backend
// placed the call.
func place(t *testing.T, from *SinchClient, to string) *Call {
	t.Helper()
	call, err := from.CallClient().CallUser(ctxT(t), to, nil)
	if err != nil {
		t.Fatal(err)
	}
	return call
}

// endsWith fails the test unless call ended with cause.
func endsWith(t *testing.T, call *Call, cause EndCause) {
	t.Helper()
	if call.EndCause() != cause {
		t.Fatalf("EndCause %s, want %s", call.EndCause(), cause)
	}
}

package client

import (
	"context"
	"errors"
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

func TestRevocationFailsTheClient(t *testing.T) {
	s := fakebackend.RunT(t)
	r := &recorder{answer: signer(s, 0)}
	c := newClient(t, s, r)
	startAndWait(t, c)
	s.RevokeInstance(s.Instances()[0].ID)
	if err := c.WaitState(ctxT(t), registration.StateFailed); err != nil {
		t.Fatal(err)
	}
	c.WaitIdle(ctxT(t))
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.failed) != 1 || !errors.Is(r.failed[0], ErrInstanceRevoked) {
		t.Fatalf("OnClientFailed got %v", r.failed)
	}
}

func TestDroppedConnectionReconnectsWithoutNewInstance(t *testing.T) {
	s := fakebackend.RunT(t)
	r := &recorder{answer: signer(s, 0)}
	c := newClient(t, s, r)
	startAndWait(t, c)
	sub := c.Subscribe()
	defer sub.Close()
	s.CloseClientConnections()
	if err := c.WaitState(ctxT(t), registration.StateReconnecting); err != nil {
		t.Fatal(err)
	}
	advance(t, s, c, time.Second) // the first backoff step
	if err := c.WaitStarted(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if n := len(s.Instances()); n != 1 {
		t.Fatalf("%d instances after reconnect, want 1", n)
	}
	if _, _, a := r.counts(); a != 1 {
		t.Fatalf("credentials asked %d times", a)
	}
	var got []registration.State
	for len(got) < 4 {
		tr, err := sub.Next(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, tr.To)
	}
	want := []registration.State{registration.StateReconnecting, registration.StateConnecting, registration.StateAuthenticating, registration.StateStarted}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("transitions %v, want %v", got, want)
		}
	}
}

func TestBackendRestartWithDataDir(t *testing.T) {
	s := fakebackend.RunT(t, fakebackend.Config{DataDir: t.TempDir(), Applications: []fakebackend.Application{fakebackend.NewApplication()}})
	c := newClient(t, s, &recorder{answer: signer(s, 0)})
	startAndWait(t, c)
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitState(ctxT(t), registration.StateReconnecting); err != nil {
		t.Fatal(err)
	}
	advance(t, s, c, time.Second)
	if err := c.WaitStarted(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if n := len(s.Instances()); n != 1 {
		t.Fatalf("%d instances, want 1", n)
	}
}

func TestUnreachableBackendGivesUp(t *testing.T) {
	s := fakebackend.RunT(t)
	url := s.URL()
	s.Close()
	c, _ := New(s.Application().Key, url, "alice", WithClock(s.Clock()), WithBackoff(fixedBackoff), WithReconnectLimit(2),
		WithListener(&recorder{answer: signer(s, 0)}))
	defer c.TerminateGracefully()
	c.Start()
	for i := 0; i < 3; i++ {
		c.WaitIdle(ctxT(t))
		s.Advance(10 * time.Second)
	}
	err := c.WaitStarted(ctxT(t))
	if !errors.Is(err, ErrConnectionFailed) {
		t.Fatalf("WaitStarted = %v", err)
	}
}

func TestProviderAnswersByItself(t *testing.T) {
	s := fakebackend.RunT(t)
	app := s.Application()
	p, err := credentials.NewSelfSignedProvider(credentials.MinterConfig{ApplicationKey: app.Key, Secret: app.Secret, Clock: s.Clock()})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := New(app.Key, s.URL(), "alice", WithClock(s.Clock()), WithCredentialsProvider(p))
	defer c.TerminateGracefully()
	startAndWait(t, c)
	// A provider that fails makes the client fail with ErrRegistrationFailed.
	bad := credentials.ProviderFunc(func(ctx context.Context, req credentials.Request) (string, error) {
		return "", errors.New("no tokens today")
	})
	c2, _ := New(app.Key, s.URL(), "bob", WithClock(s.Clock()), WithCredentialsProvider(bad))
	defer c2.TerminateGracefully()
	c2.Start()
	if err := c2.WaitStarted(ctxT(t)); !errors.Is(err, ErrRegistrationFailed) {
		t.Fatalf("WaitStarted = %v", err)
	}
}

func TestOnceLimitedTokenWithoutTTLIsAskedAgain(t *testing.T) {
	s := fakebackend.RunT(t)
	store := NewMemoryDeviceStore()
	c := newClient(t, s, &recorder{answer: signer(s, 3*day)}, WithDeviceStore(store), WithInstanceTTL(true))
	startAndWait(t, c)
	c.TerminateGracefully()
	// Lose the instance but keep the device: the next token must carry a TTL.
	rec, _, _ := store.Load(context.Background(), s.Application().Key, "alice")
	s.RevokeInstance(rec.InstanceID)
	r := &recorder{answer: signer(s, 3*day)}
	c2 := newClient(t, s, r, WithDeviceStore(store))
	startAndWait(t, c2)
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.asked) != 1 || !r.asked[0] {
		t.Fatalf("asked %v, want one request with InstanceTTLRequired", r.asked)
	}
}

func TestRateLimitRetriesAfterWindow(t *testing.T) {
	s := fakebackend.RunT(t, fakebackend.Config{Policy: fakebackend.Policy{RateLimit: 1, RateWindow: time.Hour}})
	// Use up alice's one creation with another device.
	m := s.Minter()
	jwt, _ := m.Mint("alice")
	conn, _, err := transport.Dial(ctxT(t), s.URL(), transport.DialConfig{})
	if err != nil {
		t.Fatal(err)
	}
	conn.Send(&transport.CreateInstance{ID: "1", ApplicationKey: s.Application().Key, UserID: "alice", DeviceID: "other", Capabilities: []string{}, SDKVersion: "t", JWT: jwt})
	if _, err := conn.Read(); err != nil {
		t.Fatal(err)
	}
	conn.Abort()
	r := &recorder{answer: signer(s, 0)}
	c := newClient(t, s, r)
	c.Start()
	c.WaitIdle(ctxT(t))
	if c.State() != registration.StateAwaitingCredentials {
		t.Fatalf("state %s, want awaiting_credentials during the rate-limit window", c.State())
	}
	advance(t, s, c, time.Hour)
	if err := c.WaitStarted(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if _, _, a := r.counts(); a != 2 {
		t.Fatalf("asked %d times, want 2", a)
	}
}

func TestManagedPush(t *testing.T) {
	s := fakebackend.RunT(t)
	r := &recorder{answer: signer(s, 0)}
	c := newClient(t, s, r)
	if err := c.RegisterPushToken("x"); !errors.Is(err, ErrPushNotEnabled) {
		t.Fatalf("RegisterPushToken before enabling = %v", err)
	}
	if err := c.EnableManagedPush(); err != nil {
		t.Fatal(err)
	}
	startAndWait(t, c)
	if err := c.RegisterPushToken("fcm-token-1"); err != nil {
		t.Fatal(err)
	}
	c.WaitIdle(ctxT(t))
	inst := s.Instances()[0]
	if inst.PushToken != "fcm-token-1" || len(inst.Capabilities) != 2 {
		t.Fatalf("instance %+v", inst)
	}
	r.mu.Lock()
	ok := len(r.pushOK) == 1 && r.pushOK[0] == "fcm-token-1"
	r.mu.Unlock()
	if !ok {
		t.Fatalf("push callbacks %v %v", r.pushOK, r.pushFail)
	}
	if err := c.UnregisterPushToken(); err != nil {
		t.Fatal(err)
	}
	c.WaitIdle(ctxT(t))
	if inst, _ := s.Instance(inst.ID); inst.PushToken != "" {
		t.Fatal("push token not removed")
	}
	if err := c.EnableManagedPush(); err == nil {
		t.Fatal("EnableManagedPush after Start accepted")
	}
}

func TestCallbacksMayCallBackIn(t *testing.T) {
	s := fakebackend.RunT(t)
	done := make(chan struct{})
	var c *SinchClient
	l := &ListenerFuncs{
		CredentialsRequired: func(cl *SinchClient, reg *ClientRegistration) {
			_ = cl.State()
			signer(s, 0)(reg)
		},
		ClientStarted: func(cl *SinchClient) {
			if err := cl.Start(); !errors.Is(err, ErrAlreadyStarted) {
				t.Errorf("Start from callback = %v", err)
			}
			cl.TerminateGracefully() // from the dispatcher: must not deadlock
			close(done)
		},
	}
	c, _ = New(s.Application().Key, s.URL(), "alice", WithClock(s.Clock()), WithListener(l))
	c.Start()
	select {
	case <-done:
	case <-ctxT(t).Done():
		t.Fatal("callback deadlocked")
	}
	c.TerminateGracefully()
	if c.State() != registration.StateTerminated {
		t.Fatalf("state %s", c.State())
	}
	if err := c.Start(); !errors.Is(err, ErrTerminated) {
		t.Fatalf("Start after terminate = %v", err)
	}
}

func TestConstructionValidates(t *testing.T) {
	for _, tc := range []struct{ app, env, user, code string }{
		{"", "127.0.0.1:1", "alice", "invalid_argument"},
		{"k", "127.0.0.1:1", "al ice", credentials.CodeUserIDInvalid},
		{"k", "127.0.0.1:1", "", credentials.CodeUserIDInvalid},
		{"k", "nohostport", "alice", "invalid_argument"},
		{"k", "ftp://x:1", "alice", "invalid_argument"},
		{"k", "ws://", "alice", "invalid_argument"},
	} {
		_, err := New(tc.app, tc.env, tc.user)
		if CodeOf(err) != tc.code {
			t.Errorf("New(%q,%q,%q) = %v, want code %s", tc.app, tc.env, tc.user, err, tc.code)
		}
	}
	for env, want := range map[string]string{
		"127.0.0.1:7443":         "ws://127.0.0.1:7443/ws/v1",
		"ws://h:1":               "ws://h:1/ws/v1",
		"wss://h:1/custom":       "wss://h:1/custom",
		"http://localhost:80/ws": "ws://localhost:80/ws",
	} {
		c, err := New("k", env, "alice")
		if err != nil || c.URL() != want {
			t.Errorf("New with %q: %v, URL %q want %q", env, err, c.URL(), want)
		}
	}
}

// TestTerminateInEveryStateLeavesNoGoroutine drives a client into each
// state, terminates it there and checks that nothing is left running.
func TestTerminateInEveryStateLeavesNoGoroutine(t *testing.T) {
	s := fakebackend.RunT(t)
	opt := goleak.IgnoreCurrent()            // the backend's own goroutines
	hold := func(reg *ClientRegistration) {} // never answers: stays awaiting
	cases := []struct {
		state registration.State
		setup func(t *testing.T) *SinchClient
	}{
		{registration.StateIdle, func(t *testing.T) *SinchClient { return newClient(t, s, &recorder{answer: hold}) }},
		{registration.StateAwaitingCredentials, func(t *testing.T) *SinchClient {
			c := newClient(t, s, &recorder{answer: hold})
			c.Start()
			c.WaitState(ctxT(t), registration.StateAwaitingCredentials)
			return c
		}},
		{registration.StateRegistering, func(t *testing.T) *SinchClient {
			s.DelayNext("createInstance", 1, 200*time.Millisecond)
			c := newClient(t, s, &recorder{answer: signer(s, 0)})
			c.Start()
			c.WaitState(ctxT(t), registration.StateRegistering)
			return c
		}},
		{registration.StateStarted, func(t *testing.T) *SinchClient {
			c := newClient(t, s, &recorder{answer: signer(s, 0)})
			startAndWait(t, c)
			return c
		}},
		{registration.StateRenewing, func(t *testing.T) *SinchClient {
			first := true
			c := newClient(t, s, &recorder{answer: func(reg *ClientRegistration) {
				if first {
					first = false
					signer(s, 3*day)(reg)
				}
			}}, WithInstanceTTL(true))
			startAndWait(t, c)
			// The listener never answers the renewal: the world waits for
			// it (outside work) within its bound, and says so.
			vclock.Of(s.Clock()).SetBounds(0, 20*time.Millisecond)
			defer vclock.Of(s.Clock()).SetBounds(0, vclock.DefaultOutsideBound)
			err := s.Advance(2 * day)
			if !errors.Is(err, vclock.ErrNotSettled) || !strings.Contains(err.Error(), "client alice") {
				t.Fatalf("Advance with an unanswered renewal: %v", err)
			}
			c.WaitState(ctxT(t), registration.StateRenewing)
			return c
		}},
		{registration.StateReconnecting, func(t *testing.T) *SinchClient {
			c := newClient(t, s, &recorder{answer: signer(s, 0)})
			startAndWait(t, c)
			s.CloseClientConnections()
			c.WaitState(ctxT(t), registration.StateReconnecting)
			return c
		}},
		{registration.StateFailed, func(t *testing.T) *SinchClient {
			c := newClient(t, s, &recorder{answer: func(reg *ClientRegistration) { reg.RegisterFailed(errors.New("no")) }})
			c.Start()
			c.WaitState(ctxT(t), registration.StateFailed)
			return c
		}},
	}
	for _, tc := range cases {
		t.Run(string(tc.state), func(t *testing.T) {
			c := tc.setup(t)
			if got := c.State(); got != tc.state {
				t.Fatalf("setup reached %s, want %s", got, tc.state)
			}
			c.TerminateGracefully()
			c.TerminateGracefully()
			if c.State() != registration.StateTerminated {
				t.Fatalf("state %s after terminate", c.State())
			}
			// The server side may still be finishing the close handshake.
			deadline := time.Now().Add(5 * time.Second)
			for {
				err := goleak.Find(opt, goleak.IgnoreTopFunction("github.com/sinchsim/sinchsim/transport.(*Conn).writeLoop"),
					goleak.IgnoreTopFunction("net/http.(*conn).serve"))
				if err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal(err)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}

func TestConcurrentStartAndTerminate(t *testing.T) {
	s := fakebackend.RunT(t)
	for round := 0; round < 20; round++ {
		c := newClient(t, s, &recorder{answer: signer(s, 0)})
		var wg sync.WaitGroup
		var started int32
		var mu sync.Mutex
		for i := 0; i < 8; i++ {
			wg.Add(2)
			go func() {
				defer wg.Done()
				if err := c.Start(); err == nil {
					mu.Lock()
					started++
					mu.Unlock()
				} else if !errors.Is(err, ErrAlreadyStarted) && !errors.Is(err, ErrTerminated) {
					t.Errorf("Start = %v", err)
				}
			}()
			go func() {
				defer wg.Done()
				if i%2 == 0 {
					c.TerminateGracefully()
				} else {
					_ = c.State()
				}
			}()
		}
		wg.Wait()
		if started > 1 {
			t.Fatalf("Start succeeded %d times", started)
		}
		if c.State() != registration.StateTerminated {
			t.Fatalf("state %s", c.State())
		}
	}
}

// The backend remembers a limited device that the client's store forgot:
// instance_ttl_required makes the client ask once more, for a limited token.
func TestInstanceTTLRequiredAsksAgainWithTTL(t *testing.T) {
	s := fakebackend.RunT(t)
	store := NewMemoryDeviceStore()
	c := newClient(t, s, &recorder{answer: signer(s, 3*day)}, WithDeviceStore(store), WithInstanceTTL(true))
	startAndWait(t, c)
	c.TerminateGracefully()
	rec, _, _ := store.Load(context.Background(), s.Application().Key, "alice")
	s.RevokeInstance(rec.InstanceID)
	rec.forget()
	rec.Limited = false
	store.Save(context.Background(), rec)

	r := &recorder{answer: signer(s, 3*day)}
	c2 := newClient(t, s, r, WithDeviceStore(store))
	startAndWait(t, c2)
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.asked) != 2 || r.asked[0] || !r.asked[1] {
		t.Fatalf("asked %v, want a request without a TTL, then one with", r.asked)
	}
	if st := c2.Stats(); st.Rejections[transport.CodeInstanceTTLRequired] != 1 {
		t.Fatalf("stats %+v", st)
	}
}

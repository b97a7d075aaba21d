package main

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sinchsim/sinchsim/client"
	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/fakebackend"
	"github.com/sinchsim/sinchsim/registration"
	"github.com/sinchsim/sinchsim/transport"
)

// Every test must leave no goroutine behind: the backend closes in RunT's
// cleanup, the bot in Stop.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newBot builds a Bot against srv: its URL, its application, its mock
// clock, and tokens from p (by default fresh ones from srv.Minter(), as
// an auth server would issue them).
func newBot(t *testing.T, srv *fakebackend.Server, user string, p credentials.Provider) *Bot {
	t.Helper()
	if p == nil {
		p = minterProvider(srv.Minter())
	}
	b, err := NewBot(BotConfig{URL: srv.URL(), ApplicationKey: srv.Application().Key, UserID: user, Provider: p, Clock: srv.Clock()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Stop) // runs before RunT's cleanup closes the backend
	return b
}

// decisions lists the backend's decisions as "kind=code".
func decisions(srv *fakebackend.Server) []string {
	var out []string
	for _, e := range srv.Events() {
		out = append(out, e.Kind+"="+e.Code)
	}
	return out
}

func wantDecisions(t *testing.T, srv *fakebackend.Server, want ...string) {
	t.Helper()
	if got := decisions(srv); !slices.Equal(got, want) {
		t.Fatalf("backend decisions %v, want %v", got, want)
	}
}

// advance moves the mock clock once the bot is idle, that is once its
// timers are armed: a mock timer armed after the move would not fire.
func advance(t *testing.T, srv *fakebackend.Server, b *Bot, d time.Duration) {
	t.Helper()
	if err := b.Client().WaitIdle(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if err := srv.Advance(d); err != nil {
		t.Fatal(err)
	}
}

func TestBotRegisters(t *testing.T) {
	srv := fakebackend.RunT(t)
	b := newBot(t, srv, "alice", nil)
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitOnline(ctxT(t)); err != nil {
		t.Fatalf("bot did not come online: %v", err)
	}
	if !b.Online() {
		t.Fatal("Online() = false after WaitOnline")
	}
	insts := srv.Instances()
	if len(insts) != 1 || insts[0].User != "alice" || insts[0].Device == "" || insts[0].Limited() {
		t.Fatalf("instances %+v, want one unlimited instance of alice", insts)
	}
	wantDecisions(t, srv, "createInstance=ok")
}

// Fault injection: the backend refuses the first registration as
// unavailable; the bot must retry after its backoff, not give up.
func TestBotRetriesWhenBackendUnavailable(t *testing.T) {
	srv := fakebackend.RunT(t)
	if err := srv.FailNext(transport.TypeCreateInstance, 1, transport.CodeUnavailable); err != nil {
		t.Fatal(err)
	}
	b := newBot(t, srv, "alice", nil)
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	if err := b.Client().WaitState(ctxT(t), registration.StateReconnecting); err != nil {
		t.Fatal(err)
	}
	advance(t, srv, b, time.Second) // past the first backoff (500 ms ± 20%)
	if err := b.WaitOnline(ctxT(t)); err != nil {
		t.Fatalf("bot did not recover: %v", err)
	}
	wantDecisions(t, srv, "createInstance=unavailable", "createInstance=ok")
}

// Fault injection: a network failure. The bot reconnects and
// authenticates with the instance it has; it must not register anew
// (which would count against "Instance creation rate exceeded").
func TestBotReconnectsWithoutNewInstance(t *testing.T) {
	srv := fakebackend.RunT(t)
	b := newBot(t, srv, "alice", nil)
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitOnline(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	id := srv.Instances()[0].ID
	srv.CloseClientConnections()
	if err := b.Client().WaitState(ctxT(t), registration.StateReconnecting); err != nil {
		t.Fatal(err)
	}
	advance(t, srv, b, time.Second)
	if err := b.Client().WaitState(ctxT(t), registration.StateStarted); err != nil {
		t.Fatal(err)
	}
	if insts := srv.Instances(); len(insts) != 1 || insts[0].ID != id {
		t.Fatalf("instances %+v, want only %s", insts, id)
	}
	wantDecisions(t, srv, "createInstance=ok", "authenticate=ok")
}

// Time control: a token is valid for 10 minutes. A bot that caches one
// and presents it later is refused with token_expired.
func TestBotWithStaleTokenIsRefused(t *testing.T) {
	srv := fakebackend.RunT(t)
	stale, err := srv.Minter().Mint("alice")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Advance(credentials.DefaultTokenTTL + time.Minute); err != nil {
		t.Fatal(err)
	}
	cached := credentials.ProviderFunc(func(context.Context, credentials.Request) (string, error) { return stale, nil })
	b := newBot(t, srv, "alice", cached)
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	err = b.WaitOnline(ctxT(t))
	if code := client.CodeOf(err); code != credentials.CodeTokenExpired {
		t.Fatalf("WaitOnline = %v (code %q), want %s", err, code, credentials.CodeTokenExpired)
	}
	if b.Online() || len(srv.Instances()) != 0 {
		t.Fatal("a stale token created an instance")
	}
	wantDecisions(t, srv, "createInstance="+credentials.CodeTokenExpired)
}

// The program's scenario runs as a test too.
func TestRun(t *testing.T) {
	var out strings.Builder
	if err := run(&out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out.String(), "\n")
	for _, want := range []string{"bot        harness-bot online: true", "decisions  createInstance=unavailable createInstance=ok", "instances  1"} {
		if !slices.Contains(lines, want) {
			t.Fatalf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// The provider honours Request.InstanceTTL: a client started with
// client.WithInstanceTTL(true) gets a limited instance (twelve months from
// the Minter), one without it an unlimited one. A provider that ignored
// the flag would give the first an unlimited instance, silently.
func TestProviderHonoursInstanceTTL(t *testing.T) {
	for _, limited := range []bool{false, true} {
		t.Run(map[bool]string{false: "unlimited", true: "limited"}[limited], func(t *testing.T) {
			srv := fakebackend.RunT(t)
			c, err := client.New(srv.Application().Key, srv.URL(), "alice", client.WithClock(srv.Clock()),
				client.WithCredentialsProvider(minterProvider(srv.Minter())), client.WithInstanceTTL(limited))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.TerminateGracefully)
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			if err := c.WaitStarted(ctxT(t)); err != nil {
				t.Fatal(err)
			}
			insts := srv.Instances()
			if len(insts) != 1 || insts[0].Limited() != limited {
				t.Fatalf("instances %+v, want one with Limited() = %v", insts, limited)
			}
			if want := insts[0].CreatedAt.Add(credentials.RecommendedInstanceTTL); limited && !insts[0].ExpireAt.Equal(want) {
				t.Errorf("expires at %v, want %v (twelve months)", insts[0].ExpireAt, want)
			}
		})
	}
}

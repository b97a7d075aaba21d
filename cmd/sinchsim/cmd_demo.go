package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/sinchsim/sinchsim/client"
	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/fakebackend"
)

var demoCommand = command{
	name:    "demo",
	summary: "show the whole thing in one run: backend, auth server, bots, restart, renewal, a bad token",
	run:     runDemo,
}

const demoAbout = `Starts an in-process fake backend on a mock clock and an auth server that
holds the application secret, then:
  1. registers three bots (each asks the auth server for a token);
  2. restarts one: it re-authenticates with its stored instance, no token;
  3. moves the clock: a bot with a 10-day instance TTL renews it;
  4. presents a token made with a classic mistake and shows the rejection.
The output is a timeline of state changes, callbacks and backend decisions.
Nothing to set up; exits 0 when every step behaved as described.`

// demoPrinter prints the timeline in causal order. State changes (client
// subscriptions) and backend decisions (the event log) are queued by their
// sources; every print first drains them: the clients' transitions, then
// the backend's decisions.
type demoPrinter struct {
	mu     sync.Mutex
	e      *env
	clock  clock.Clock
	events <-chan fakebackend.Event
	subs   []demoSub
}

type demoSub struct {
	user string
	sub  *client.Subscription
}

var drained = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

func (p *demoPrinter) drainLocked() {
	for _, s := range p.subs {
		for {
			t, err := s.sub.Next(drained)
			if err != nil {
				break
			}
			p.printLocked(s.user, fmt.Sprintf("%s -> %s (%s)", t.From, t.To, t.Event))
		}
	}
	for p.events != nil {
		select {
		case ev := <-p.events:
			msg := fmt.Sprintf("%s %s -> %s", ev.Kind, ev.User, ev.Code)
			if ev.Reason != "" && ev.Code != fakebackend.CodeOK {
				msg += " (" + ev.Reason + ")"
			}
			p.printLocked("backend", msg)
			continue
		default:
		}
		break
	}
}

func (p *demoPrinter) printLocked(who, msg string) {
	fmt.Fprintf(p.e.stdout, "  %s  %-9s %s\n", p.clock.Now().UTC().Format("Jan 02 15:04:05"), who, msg)
}

func (p *demoPrinter) line(who, format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.drainLocked()
	p.printLocked(who, fmt.Sprintf(format, args...))
}

func (p *demoPrinter) flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.drainLocked()
}

func (p *demoPrinter) watch(user string, c *client.SinchClient) {
	p.mu.Lock()
	p.subs = append(p.subs, demoSub{user: user, sub: c.Subscribe()})
	p.mu.Unlock()
}

func (p *demoPrinter) step(n int, title string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.drainLocked()
	fmt.Fprintf(p.e.stdout, "\n%d. %s\n", n, title)
}

func runDemo(ctx context.Context, e *env, args []string) int {
	fs := e.newFlags("[flags]", demoAbout)
	quiet := fs.Bool("quiet-backend", false, "leave the backend's decisions out of the timeline")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if code, ok := fs.maxArgs(0); !ok {
		return code
	}
	if err := demo(ctx, e, !*quiet); err != nil {
		e.errorf("%v", err)
		if ctx.Err() != nil {
			return exitInterrupted
		}
		return exitFail
	}
	return exitOK
}

func demo(ctx context.Context, e *env, showBackend bool) error {
	mock := fakebackend.RunTClock() // one virtual clock for the backend and every bot
	p := &demoPrinter{e: e, clock: mock}
	app := fakebackend.NewApplication()
	srv, err := fakebackend.NewServer(fakebackend.Config{Clock: mock, Applications: []fakebackend.Application{app}})
	if err != nil {
		return err
	}
	defer srv.Close()
	fmt.Fprintf(e.stdout, "sinchsim demo: fake backend at %s, mock clock at %s\n", srv.URL(), mock.Now().UTC().Format(time.RFC3339))

	if showBackend {
		events, cancel := srv.Subscribe(4096)
		defer cancel()
		p.events = events
	}

	// The auth server a team would write: it holds the secret and signs
	// tokens for its users, here for 30-day instances when asked.
	minter, err := credentials.NewMinter(credentials.MinterConfig{ApplicationKey: app.Key, Secret: app.Secret, Clock: mock})
	if err != nil {
		return err
	}
	authURL, stopAuth, err := startDemoAuthServer(minter)
	if err != nil {
		return err
	}
	defer stopAuth()
	fmt.Fprintf(e.stdout, "auth server at %s (holds the application secret)\n", authURL)
	provider, err := credentials.NewHTTPProvider(credentials.HTTPProviderConfig{URL: authURL + "/token?userId={userId}&ttl={instanceTtl}"})
	if err != nil {
		return err
	}

	stores := map[string]*client.MemoryDeviceStore{}
	newBot := func(user string, opts ...client.Option) (*client.SinchClient, error) {
		st := stores[user]
		if st == nil {
			st = client.NewMemoryDeviceStore()
			stores[user] = st
		}
		l := &client.ListenerFuncs{
			ClientStarted: func(c *client.SinchClient) { p.line(user, "OnClientStarted") },
			ClientFailed:  func(c *client.SinchClient, err error) { p.line(user, "OnClientFailed: %v", err) },
		}
		opts = append([]client.Option{client.WithClock(mock), client.WithDeviceStore(st), client.WithListener(l),
			client.WithCredentialsProvider(countingProvider(p, user, provider))}, opts...)
		c, err := client.New(app.Key, srv.URL(), user, opts...)
		if err != nil {
			return nil, err
		}
		p.watch(user, c)
		return c, nil
	}
	wait := func(c *client.SinchClient) error {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := c.WaitStarted(wctx); err != nil {
			return err
		}
		return c.WaitIdle(wctx)
	}

	p.step(1, "Three bots register: each asks the auth server for a token")
	var bots []*client.SinchClient
	for _, user := range []string{"alice", "bob", "carol"} {
		c, err := newBot(user)
		if err != nil {
			return err
		}
		defer c.TerminateGracefully()
		if err := c.Start(); err != nil {
			return err
		}
		if err := wait(c); err != nil {
			return fmt.Errorf("%s did not start: %w", user, err)
		}
		bots = append(bots, c)
	}
	p.line("backend", "%d instances", len(srv.Instances()))

	p.step(2, "bob restarts: his device store has the instance, no token is needed")
	bots[1].TerminateGracefully()
	bob, err := newBot("bob")
	if err != nil {
		return err
	}
	defer bob.TerminateGracefully()
	if err := bob.Start(); err != nil {
		return err
	}
	if err := wait(bob); err != nil {
		return fmt.Errorf("bob did not start again: %w", err)
	}
	if st := bob.Stats(); st.CredentialsRequests != 0 || st.Authentications != 1 {
		return fmt.Errorf("bob should have re-authenticated without a token, got %+v", st)
	}
	p.line("bob", "re-authenticated with the stored instance: 0 tokens asked, still %d instances", len(srv.Instances()))

	p.step(3, "dave registers with a 10-day instance TTL; the clock moves 4 days")
	dave, err := newBot("dave", client.WithInstanceTTL(true))
	if err != nil {
		return err
	}
	defer dave.TerminateGracefully()
	if err := dave.Start(); err != nil {
		return err
	}
	if err := wait(dave); err != nil {
		return fmt.Errorf("dave did not start: %w", err)
	}
	inst := instanceOf(srv, "dave")
	p.line("dave", "instance expires %s; renewal is due when 7 days remain", inst.ExpireAt.UTC().Format(time.RFC3339))
	for day := 1; day <= 4; day++ {
		if err := idleAll(ctx, append(bots, bob, dave)); err != nil {
			return err
		}
		srv.Advance(24 * time.Hour)
		p.line("clock", "day %d", day)
	}
	if err := idleAll(ctx, append(bots, bob, dave)); err != nil {
		return err
	}
	after := instanceOf(srv, "dave")
	if !after.ExpireAt.After(inst.ExpireAt) || dave.Stats().Renewals != 1 {
		return fmt.Errorf("dave's TTL was not renewed (expiry %v -> %v)", inst.ExpireAt, after.ExpireAt)
	}
	p.line("dave", "renewed: instance now expires %s", after.ExpireAt.UTC().Format(time.RFC3339))

	p.step(4, "eve's auth server keys the HMAC with the secret's text, not its base64 decoding")
	bad := credentials.ProviderFunc(func(ctx context.Context, req credentials.Request) (string, error) {
		return textKeyedToken(app, req.UserID, mock.Now()), nil
	})
	eve, err := newBot("eve", client.WithCredentialsProvider(bad))
	if err != nil {
		return err
	}
	defer eve.TerminateGracefully()
	if err := eve.Start(); err != nil {
		return err
	}
	werr := wait(eve)
	if !errors.Is(werr, credentials.ErrSignatureInvalid) {
		return fmt.Errorf("eve should have failed with signature_invalid, got %v", werr)
	}
	x := credentials.Explain(textKeyedToken(app, "eve", mock.Now()), credentials.ExplainOptions{Secret: app.Secret, Now: mock.Now()})
	for _, f := range x.Findings {
		if f.Code == credentials.DiagSecretNotBase64Decoded {
			p.line("explain", "%s: %s", f.Code, f.Message)
		}
	}
	if !x.Has(credentials.DiagSecretNotBase64Decoded) {
		return errors.New("explain did not name the mistake")
	}
	if err := idleAll(ctx, []*client.SinchClient{bob, dave, eve}); err != nil {
		return err
	}
	p.flush()
	fmt.Fprintf(e.stdout, "\nDone: %d instances on the backend, %d decisions logged. Run \"sinchsim --help\" for more.\n", len(srv.Instances()), len(srv.Events()))
	return nil
}

func idleAll(ctx context.Context, cs []*client.SinchClient) error {
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for _, c := range cs {
		if err := c.WaitIdle(wctx); err != nil {
			return err
		}
	}
	return nil
}

func instanceOf(srv *fakebackend.Server, user string) fakebackend.Instance {
	for _, i := range srv.Instances() {
		if i.User == user {
			return i
		}
	}
	return fakebackend.Instance{}
}

func countingProvider(p *demoPrinter, user string, inner credentials.Provider) credentials.Provider {
	return credentials.ProviderFunc(func(ctx context.Context, req credentials.Request) (string, error) {
		what := "a token"
		if req.InstanceTTL {
			what = "a token with an instance TTL"
		}
		p.line(user, "OnCredentialsRequired: asking the auth server for %s", what)
		return inner.Token(ctx, req)
	})
}

// textKeyedToken signs like an auth server that skipped the base64 decode.
func textKeyedToken(app fakebackend.Application, user string, now time.Time) string {
	wrong := credentials.MustParseSecret(base64.StdEncoding.EncodeToString([]byte(app.Secret.Text())))
	m, _ := credentials.NewMinter(credentials.MinterConfig{ApplicationKey: app.Key, Secret: wrong})
	tok, _ := m.MintWith(credentials.MintParams{UserID: user, Now: now})
	return tok
}

// startDemoAuthServer serves GET /token?userId=U[&ttl=true] on loopback.
func startDemoAuthServer(m *credentials.Minter) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /token", func(w http.ResponseWriter, r *http.Request) {
		params := credentials.MintParams{UserID: r.URL.Query().Get("userId")}
		if r.URL.Query().Get("ttl") == "true" {
			params.InstanceTTL = 10 * 24 * time.Hour
		}
		tok, err := m.MintWith(params)
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"token": tok})
	})
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go hs.Serve(ln)
	return "http://" + ln.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(ctx)
	}, nil
}

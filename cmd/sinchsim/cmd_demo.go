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
	"github.com/sinchsim/sinchsim/vclock"
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

// demoFlags holds demo's flags.
type demoFlags struct {
	quietBackend bool
}

func (f *demoFlags) define(fs *flagSet) {
	fs.BoolVar(&f.quietBackend, "quiet-backend", false, "leave the backend's decisions out of the timeline")
}

// validate checks the flags: demo has none that can be wrong.
func (f *demoFlags) validate() error { return nil }

// config returns the demo's configuration.
func (f *demoFlags) config() demoConfig {
	return demoConfig{showBackend: !f.quietBackend}
}

// demoConfig says how the demo runs.
type demoConfig struct {
	showBackend bool // print the backend's decisions in the timeline
}

func runDemo(ctx context.Context, e *env, args []string) int {
	var f demoFlags
	fs := e.newFlags("[flags]", demoAbout)
	f.define(fs)
	if code, ok := fs.parseAll(args, 0); !ok {
		return code
	}
	if err := f.validate(); err != nil {
		return fs.fail(err)
	}
	if err := demo(ctx, e, f.config()); err != nil {
		e.errorf("%v", err)
		if ctx.Err() != nil {
			return exitInterrupted
		}
		return exitFail
	}
	return exitOK
}

// demoWorld is what the demo runs: one virtual clock, the backend, the
// auth server and the bots, and what to undo at the end (in reverse).
type demoWorld struct {
	ctx      context.Context
	e        *env
	mock     *vclock.Clock
	p        *demoPrinter
	app      fakebackend.Application
	srv      *fakebackend.Server
	provider credentials.Provider
	stores   map[string]*client.MemoryDeviceStore
	undo     []func()
}

func demo(ctx context.Context, e *env, cfg demoConfig) error {
	mock := fakebackend.RunTClock() // one virtual clock for the backend and every bot
	w := &demoWorld{ctx: ctx, e: e, mock: mock, p: &demoPrinter{e: e, clock: mock}, stores: map[string]*client.MemoryDeviceStore{}}
	defer w.close()
	if err := w.setup(cfg); err != nil {
		return err
	}
	bots, err := w.registerThree()
	if err != nil {
		return err
	}
	bob, err := w.restartBob(bots[1])
	if err != nil {
		return err
	}
	dave, err := w.renewDave(append(bots, bob))
	if err != nil {
		return err
	}
	eve, err := w.badToken()
	if err != nil {
		return err
	}
	if err := idleAll(ctx, []*client.SinchClient{bob, dave, eve}); err != nil {
		return err
	}
	w.p.flush()
	fmt.Fprintf(e.stdout, "\nDone: %d instances on the backend, %d decisions logged. Run \"sinchsim --help\" for more.\n", len(w.srv.Instances()), len(w.srv.Events()))
	return nil
}

// close undoes what the demo set up, last first.
func (w *demoWorld) close() {
	for i := len(w.undo) - 1; i >= 0; i-- {
		w.undo[i]()
	}
}

// setup starts the backend and the auth server.
func (w *demoWorld) setup(cfg demoConfig) error {
	w.app = fakebackend.NewApplication()
	srv, err := fakebackend.NewServer(fakebackend.Config{Clock: w.mock, Applications: []fakebackend.Application{w.app}})
	if err != nil {
		return err
	}
	w.srv = srv
	w.undo = append(w.undo, func() { srv.Close() })
	fmt.Fprintf(w.e.stdout, "sinchsim demo: fake backend at %s, mock clock at %s\n", srv.URL(), w.mock.Now().UTC().Format(time.RFC3339))

	if cfg.showBackend {
		events, cancel := srv.Subscribe(4096)
		w.undo = append(w.undo, cancel)
		w.p.events = events
	}

	// The auth server a team would write: it holds the secret and signs
	// tokens for its users, here for 30-day instances when asked.
	minter, err := credentials.NewMinter(credentials.MinterConfig{ApplicationKey: w.app.Key, Secret: w.app.Secret, Clock: w.mock})
	if err != nil {
		return err
	}
	authURL, stopAuth, err := startDemoAuthServer(minter)
	if err != nil {
		return err
	}
	w.undo = append(w.undo, stopAuth)
	fmt.Fprintf(w.e.stdout, "auth server at %s (holds the application secret)\n", authURL)
	w.provider, err = credentials.NewHTTPProvider(credentials.HTTPProviderConfig{URL: authURL + "/token?userId={userId}&ttl={instanceTtl}"})
	return err
}

// newBot makes a client for user on the demo's clock, with the user's
// device store (kept across restarts) and the timeline's listeners.
func (w *demoWorld) newBot(user string, opts ...client.Option) (*client.SinchClient, error) {
	st := w.stores[user]
	if st == nil {
		st = client.NewMemoryDeviceStore()
		w.stores[user] = st
	}
	p := w.p
	l := &client.ListenerFuncs{
		ClientStarted: func(c *client.SinchClient) { p.line(user, "OnClientStarted") },
		ClientFailed:  func(c *client.SinchClient, err error) { p.line(user, "OnClientFailed: %v", err) },
	}
	opts = append([]client.Option{client.WithClock(w.mock), client.WithDeviceStore(st), client.WithListener(l),
		client.WithCredentialsProvider(countingProvider(p, user, w.provider))}, opts...)
	c, err := client.New(w.app.Key, w.srv.URL(), user, opts...)
	if err != nil {
		return nil, err
	}
	p.watch(user, c)
	return c, nil
}

// startBot makes and starts a client for user; it is terminated when the
// demo ends. The error of the start itself is returned as is.
func (w *demoWorld) startBot(user string, opts ...client.Option) (*client.SinchClient, error) {
	c, err := w.newBot(user, opts...)
	if err != nil {
		return nil, err
	}
	w.undo = append(w.undo, c.TerminateGracefully)
	if err := c.Start(); err != nil {
		return nil, err
	}
	return c, nil
}

// wait waits until c has started and is idle.
func (w *demoWorld) wait(c *client.SinchClient) error {
	wctx, cancel := context.WithTimeout(w.ctx, 10*time.Second)
	defer cancel()
	if err := c.WaitStarted(wctx); err != nil {
		return err
	}
	return c.WaitIdle(wctx)
}

// registerThree is step 1: alice, bob and carol register with tokens.
func (w *demoWorld) registerThree() ([]*client.SinchClient, error) {
	w.p.step(1, "Three bots register: each asks the auth server for a token")
	var bots []*client.SinchClient
	for _, user := range []string{"alice", "bob", "carol"} {
		c, err := w.startBot(user)
		if err != nil {
			return nil, err
		}
		if err := w.wait(c); err != nil {
			return nil, fmt.Errorf("%s did not start: %w", user, err)
		}
		bots = append(bots, c)
	}
	w.p.line("backend", "%d instances", len(w.srv.Instances()))
	return bots, nil
}

// restartBob is step 2: bob restarts and re-authenticates without a token.
func (w *demoWorld) restartBob(old *client.SinchClient) (*client.SinchClient, error) {
	w.p.step(2, "bob restarts: his device store has the instance, no token is needed")
	old.TerminateGracefully()
	bob, err := w.startBot("bob")
	if err != nil {
		return nil, err
	}
	if err := w.wait(bob); err != nil {
		return nil, fmt.Errorf("bob did not start again: %w", err)
	}
	if st := bob.Stats(); st.CredentialsRequests != 0 || st.Authentications != 1 {
		return nil, fmt.Errorf("bob should have re-authenticated without a token, got %+v", st)
	}
	w.p.line("bob", "re-authenticated with the stored instance: 0 tokens asked, still %d instances", len(w.srv.Instances()))
	return bob, nil
}

// renewDave is step 3: dave registers with a 10-day instance TTL and,
// as the clock moves 4 days (others idle first), renews it.
func (w *demoWorld) renewDave(others []*client.SinchClient) (*client.SinchClient, error) {
	w.p.step(3, "dave registers with a 10-day instance TTL; the clock moves 4 days")
	dave, err := w.startBot("dave", client.WithInstanceTTL(true))
	if err != nil {
		return nil, err
	}
	if err := w.wait(dave); err != nil {
		return nil, fmt.Errorf("dave did not start: %w", err)
	}
	inst := instanceOf(w.srv, "dave")
	w.p.line("dave", "instance expires %s; renewal is due when 7 days remain", inst.ExpireAt.UTC().Format(time.RFC3339))
	all := append(others, dave)
	for day := 1; day <= 4; day++ {
		if err := idleAll(w.ctx, all); err != nil {
			return nil, err
		}
		w.srv.Advance(24 * time.Hour)
		w.p.line("clock", "day %d", day)
	}
	if err := idleAll(w.ctx, all); err != nil {
		return nil, err
	}
	after := instanceOf(w.srv, "dave")
	if !after.ExpireAt.After(inst.ExpireAt) || dave.Stats().Renewals != 1 {
		return nil, fmt.Errorf("dave's TTL was not renewed (expiry %v -> %v)", inst.ExpireAt, after.ExpireAt)
	}
	w.p.line("dave", "renewed: instance now expires %s", after.ExpireAt.UTC().Format(time.RFC3339))
	return dave, nil
}

// badToken is step 4: eve's auth server keys the HMAC with the secret's
// text; the backend rejects her and explain names the mistake.
func (w *demoWorld) badToken() (*client.SinchClient, error) {
	w.p.step(4, "eve's auth server keys the HMAC with the secret's text, not its base64 decoding")
	app, mock := w.app, w.mock
	bad := credentials.ProviderFunc(func(ctx context.Context, req credentials.Request) (string, error) {
		return textKeyedToken(app, req.UserID, mock.Now()), nil
	})
	eve, err := w.startBot("eve", client.WithCredentialsProvider(bad))
	if err != nil {
		return nil, err
	}
	werr := w.wait(eve)
	if !errors.Is(werr, credentials.ErrSignatureInvalid) {
		return nil, fmt.Errorf("eve should have failed with signature_invalid, got %v", werr)
	}
	x := credentials.Explain(textKeyedToken(app, "eve", mock.Now()), credentials.ExplainOptions{Secret: app.Secret, Now: mock.Now()})
	for _, f := range x.Findings {
		if f.Code == credentials.DiagSecretNotBase64Decoded {
			w.p.line("explain", "%s: %s", f.Code, f.Message)
		}
	}
	if !x.Has(credentials.DiagSecretNotBase64Decoded) {
		return nil, errors.New("explain did not name the mistake")
	}
	return eve, nil
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

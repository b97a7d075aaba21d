package reliability

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sinchsim/sinchsim/client"
	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/fakebackend"
	"github.com/sinchsim/sinchsim/internal/syncbuf"
	"github.com/sinchsim/sinchsim/registration"
	"github.com/sinchsim/sinchsim/transport"
	"github.com/sinchsim/sinchsim/vclock"
)

// longEnv switches the long versions on: SINCHSIM_LONG=1 go test ./internal/reliability/
const longEnv = "SINCHSIM_LONG"

func TestMain(m *testing.M) {
	// The SIGKILL test re-executes this binary as the backend process.
	if os.Getenv(crashChildEnv) != "" {
		runCrashChild()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// seedFor returns the seed of a randomised test: SINCHSIM_SEED when set
// (to replay a failure), else a fresh one; it is logged either way.
func seedFor(t testing.TB) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("SINCHSIM_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("SINCHSIM_SEED=%q: %v", v, err)
		}
		seed = n
	}
	t.Logf("seed %d (replay with SINCHSIM_SEED=%d)", seed, seed)
	return seed
}

// long reports whether the long versions were asked for.
func long() bool { return os.Getenv(longEnv) != "" }

// size picks a test's scale: full under SINCHSIM_LONG, short under -short,
// and the default otherwise (reduced under the race detector when the
// default would not fit the package's one-minute budget).
func size(def, race, short, longN int) int {
	switch {
	case long():
		return longN
	case testing.Short():
		return short
	case raceEnabled:
		return race
	}
	return def
}

// fixedBackoff makes reconnect delays exact: 1s, 2s, 4s, 8s, 8s ...
var fixedBackoff = registration.Backoff{Initial: time.Second, Max: 8 * time.Second, Jitter: -1}

// debugLogger logs everything at Debug level and above into buf.
func debugLogger(buf *syncbuf.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func ctxFor(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// provider signs tokens for the server's first application on its clock.
func provider(t testing.TB, s *fakebackend.Server, instanceTTL time.Duration) credentials.Provider {
	t.Helper()
	app := s.Application()
	p, err := credentials.NewSelfSignedProvider(credentials.MinterConfig{
		ApplicationKey: app.Key, Secret: app.Secret, Clock: s.Clock(), InstanceTTL: instanceTTL,
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// bot is one client with its device store.
type bot struct {
	user  string
	c     *client.SinchClient
	store *client.MemoryDeviceStore
}

// record returns what the bot's device store holds.
func (b *bot) record(t testing.TB) client.DeviceRecord {
	t.Helper()
	rec, _, err := b.store.Load(context.Background(), b.c.ApplicationKey(), b.user)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// newBots builds n clients on the server's clock (users prefix0..prefixN-1);
// they are terminated when the test ends.
func newBots(t testing.TB, s *fakebackend.Server, n int, prefix string, opts ...client.Option) []*bot {
	t.Helper()
	bots := make([]*bot, n)
	for i := range bots {
		b := &bot{user: fmt.Sprintf("%s%d", prefix, i), store: client.NewMemoryDeviceStore()}
		o := append([]client.Option{client.WithClock(s.Clock()), client.WithBackoff(fixedBackoff), client.WithDeviceStore(b.store)}, opts...)
		c, err := client.New(s.Application().Key, s.URL(), b.user, o...)
		if err != nil {
			t.Fatal(err)
		}
		b.c = c
		bots[i] = b
	}
	t.Cleanup(func() { terminate(bots) })
	return bots
}

// terminate ends every bot, in parallel (each waits for its close handshake).
func terminate(bots []*bot) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for _, b := range bots {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			b.c.TerminateGracefully()
			<-sem
		}()
	}
	wg.Wait()
}

func startAll(t testing.TB, bots []*bot) {
	t.Helper()
	for _, b := range bots {
		if err := b.c.Start(); err != nil {
			t.Fatalf("%s: Start: %v", b.user, err)
		}
	}
}

// waitIdle waits until every bot is idle (nothing queued or in flight, no
// due timer unhandled).
//
// One case needs help: benbjohnson/clock's Add looks for due timers, then
// sets the final time; a timer a client arms in between (reacting to an
// earlier timer of the same Add) is left due but unfired, and the client
// stays busy until the clock moves again. A bot that is still busy after a
// while with an overdue timer gets Advance(0), which fires overdue timers
// without moving time.
// overdueFired counts the Advance(0) calls waitIdle needed.
var overdueFired atomic.Int64

func waitIdle(t testing.TB, s *fakebackend.Server, bots []*bot, d time.Duration) {
	t.Helper()
	// On the virtual clock, Advance(0) fires what is due now and returns
	// once the world has settled.
	if err := s.Advance(0); err != nil {
		t.Fatal(err)
	}
	overdueFired.Add(1)
	ctx := ctxFor(t, d)
	for _, b := range bots {
		if err := b.c.WaitIdle(ctx); err != nil {
			t.Fatalf("%s never became idle (state %s, clock %v, stats %+v)\n%s", b.user, b.c.State(), s.Now(), b.c.Stats(), histogram(bots))
		}
	}
}

// waitState waits until every bot is in one of states.
func waitState(t testing.TB, bots []*bot, d time.Duration, states ...registration.State) {
	t.Helper()
	ctx := ctxFor(t, d)
	for _, b := range bots {
		if err := b.c.WaitState(ctx, states...); err != nil {
			t.Fatalf("%s: %v\n%s", b.user, err, histogram(bots))
		}
	}
}

// histogram counts bots per state, for failure messages and figures.
func histogram(bots []*bot) string {
	n := map[registration.State]int{}
	for _, b := range bots {
		n[b.c.State()]++
	}
	var parts []string
	for st, k := range n {
		parts = append(parts, fmt.Sprintf("%s=%d", st, k))
	}
	sort.Strings(parts)
	return "states: " + strings.Join(parts, " ")
}

func final(st registration.State) bool {
	return st == registration.StateStarted || st == registration.StateFailed
}

// settle moves the shared mock clock until every bot is started or failed
// and idle. Time only moves while every bot is idle (its timers armed);
// each step goes to the earliest armed timer of a bot that is not done
// yet, at least minStep. It returns the number of steps taken.
func settle(t testing.TB, s *fakebackend.Server, bots []*bot, minStep time.Duration, maxSteps int) int {
	t.Helper()
	for step := 0; ; step++ {
		waitIdle(t, s, bots, 60*time.Second)
		now := s.Now()
		next, _ := vclock.Of(s.Clock()).NextTimer()
		done := true
		for _, b := range bots {
			if !final(b.c.State()) {
				done = false
			}
		}
		if done {
			return step
		}
		if step >= maxSteps {
			t.Fatalf("not settled after %d clock steps: %s", step, histogram(bots))
		}
		d := minStep
		if !next.IsZero() && next.Sub(now) > d {
			d = next.Sub(now)
		}
		if err := s.Advance(d); err != nil {
			t.Fatal(err)
		}
	}
}

// rawConn is a protocol connection that answers nothing by itself.
type rawConn struct {
	t       testing.TB
	c       *transport.Conn
	welcome *transport.Welcome
	seq     int
}

func dialRaw(t testing.TB, url string) *rawConn {
	t.Helper()
	c, w, err := transport.Dial(ctxFor(t, 10*time.Second), url, transport.DialConfig{})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	rc := &rawConn{t: t, c: c, welcome: w}
	t.Cleanup(rc.close)
	return rc
}

func (r *rawConn) close() {
	r.c.Close(transport.CloseNormal, "")
	for {
		if _, err := r.c.Read(); err != nil {
			if _, ok := err.(*transport.ProtocolError); !ok {
				break
			}
		}
	}
	<-r.c.Done()
}

func (r *rawConn) nextID() string {
	r.seq++
	return fmt.Sprintf("r%d", r.seq)
}

// do sends a request and returns its reply, skipping unsolicited messages.
// It returns nil when the connection ends first.
func (r *rawConn) do(req transport.Request) transport.Message {
	r.t.Helper()
	if err := r.c.Send(req); err != nil {
		return nil
	}
	for {
		m, err := r.c.Read()
		if err != nil {
			if _, ok := err.(*transport.ProtocolError); ok {
				continue
			}
			return nil
		}
		if rep, ok := m.(transport.Reply); ok && rep.RequestID() == req.RequestID() {
			return m
		}
	}
}

// create sends createInstance with jwt.
func (r *rawConn) create(app, user, device, jwt string) transport.Message {
	return r.do(&transport.CreateInstance{ID: r.nextID(), ApplicationKey: app, UserID: user, DeviceID: device,
		Capabilities: []string{"calling"}, SDKVersion: "reliability/1", JWT: jwt})
}

// codeOf returns the error code of a reply, "" for a success, "closed" for nil.
func codeOf(m transport.Message) string {
	switch m := m.(type) {
	case nil:
		return "closed"
	case *transport.ErrorMessage:
		return m.Error.Code
	}
	return ""
}

func mint(t testing.TB, s *fakebackend.Server, p credentials.MintParams) string {
	t.Helper()
	tok, err := s.Minter().MintWith(p)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// mockServer starts a backend on a mock clock at DefaultMockTime.
func mockServer(t testing.TB, cfg fakebackend.Config) *fakebackend.Server {
	t.Helper()
	if cfg.Clock == nil {
		cfg.Clock = fakebackend.RunTClock()
	}
	if len(cfg.Applications) == 0 {
		cfg.Applications = []fakebackend.Application{fakebackend.NewApplication()}
	}
	return fakebackend.RunT(t, cfg)
}

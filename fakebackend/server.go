package fakebackend

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/transport"
	"github.com/sinchsim/sinchsim/vclock"
)

// Policy holds the backend's configurable rules. The zero value is the
// documented default for every field.
type Policy struct {
	// Leeway is the clock skew tolerated on iat and exp. Default 30 s; negative: none.
	Leeway time.Duration
	// RateLimit is how many instances one user may create within
	// RateWindow (rule 11 in docs/RULES.md). Default 10; negative: unlimited.
	RateLimit int
	// RateWindow default 1 h.
	RateWindow time.Duration
	// DisableLegacy refuses legacy (signature + sequence) registrations with legacy_disabled.
	DisableLegacy bool
	// MaxNonces bounds the replay store (unexpired nonces held). Default 1,000,000.
	MaxNonces int
	// MaxConnectionsPerUser bounds simultaneous connections bound to one
	// user of one application. Default 64; negative: unlimited.
	MaxConnectionsPerUser int
	// MaxConnections bounds all WebSocket connections. Default 100,000.
	MaxConnections int
}

// Defaults of Policy.
const (
	DefaultRateLimit             = 10
	DefaultRateWindow            = time.Hour
	DefaultMaxNonces             = 1_000_000
	DefaultMaxConnectionsPerUser = 64
	DefaultMaxConnections        = 100_000
)

func (p Policy) withDefaults() Policy {
	if p.Leeway == 0 {
		p.Leeway = credentials.DefaultLeeway
	} else if p.Leeway < 0 {
		p.Leeway = 0
	}
	if p.RateLimit == 0 {
		p.RateLimit = DefaultRateLimit
	}
	if p.RateWindow <= 0 {
		p.RateWindow = DefaultRateWindow
	}
	if p.MaxNonces <= 0 {
		p.MaxNonces = DefaultMaxNonces
	}
	if p.MaxConnectionsPerUser == 0 {
		p.MaxConnectionsPerUser = DefaultMaxConnectionsPerUser
	}
	if p.MaxConnections <= 0 {
		p.MaxConnections = DefaultMaxConnections
	}
	return p
}

// Config configures a Server. The zero value is usable: a loopback
// listener on a random port, the real clock, no applications, memory only.
type Config struct {
	// Addr is the listen address; default "127.0.0.1:0".
	Addr string
	// Applications are added at start (and kept across Reset).
	Applications []Application
	// Clock is the backend's clock. A *vclock.Clock (a virtual clock)
	// enables Advance and SetTime, and every client created with
	// client.WithClock(srv.Clock()) joins its world, so that Advance
	// returns only when every consequence has happened. A *clock.Mock is
	// replaced by a virtual clock standing at the mock's time: move the
	// server's clock with Advance and SetTime, not the mock. nil: the real
	// clock (RunT: a virtual clock at DefaultMockTime).
	Clock clock.Clock
	// Seed seeds the random sources of a virtual clock that the server
	// creates (RunT, or in place of a *clock.Mock): clients in its world
	// draw their backoff jitter from it, so that a seeded run replays
	// exactly. Zero means 1.
	Seed uint64
	// Policy holds the rules' knobs.
	Policy Policy
	// DataDir, when set, keeps state on disk across restarts, a virtual
	// clock's time included: a server started again on it continues at the
	// saved time when that is later than its clock's.
	DataDir string
	// Store replaces the built-in store (DataDir is then ignored).
	Store Store
	// AdminToken is the bearer token of the admin API. It is required for
	// admin requests when Addr is not a loopback address; on loopback it is
	// optional but, when sent, must match.
	AdminToken string
	// Conn configures every WebSocket connection (read limit, keepalive,
	// send queue).
	Conn transport.Config
	// AllowedOrigins lists browser origins allowed besides the server's own
	// host; AllowAnyOrigin switches the origin check off.
	AllowedOrigins []string
	AllowAnyOrigin bool
	// TLSConfig, when set, serves wss:// and https://.
	TLSConfig *tls.Config
	// Logger receives decisions and lifecycle events; nil: discard. No
	// secret is ever logged.
	Logger *slog.Logger
	// EventLimit bounds the decision log; default 10,000.
	EventLimit int
	// InMemory also serves the WebSocket endpoint in memory, under the
	// server's address: a client created with client.WithInMemory (or
	// transport.Dial with DialConfig.InMemory) and URL() connects over an
	// in-memory pipe, with no socket and no file descriptor, through the
	// same handshake, framing and protocol. The TCP listener stays, for
	// other clients and the admin API. Ignored with TLSConfig.
	InMemory bool
}

// DefaultMockTime is where RunT's mock clock starts.
var DefaultMockTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Server is the fake Sinch registration backend: a WebSocket endpoint at
// URL(), an admin API under /admin/ and Prometheus metrics at /metrics.
type Server struct {
	cfg    Config
	policy Policy
	clock  clock.Clock
	world  *vclock.Clock // nil on the real clock
	log    *slog.Logger

	keys     *credentials.Keyring
	verifier *credentials.Verifier
	upgrader upgrader

	mu       sync.Mutex // guards the fields below
	store    Store
	ln       net.Listener
	srv      *http.Server
	addr     string
	started  bool
	closed   bool
	sessions map[*session]struct{}
	byInst   map[string]*session
	perUser  map[string]int
	wg       sync.WaitGroup // session handlers and the HTTP server

	userLocks [64]sync.Mutex // serialise rule sequences per user

	events  *eventLog
	faults  *faultTable
	metrics *metrics
}

// ErrNotMockClock is returned by time control on a server with a real clock.
var ErrNotMockClock = errors.New("fakebackend: the server does not run on a mock clock")

// ErrClosed is returned by Start on a closed server.
var ErrClosed = errors.New("fakebackend: server closed")

// New returns an unstarted server (httptest.NewUnstartedServer's manner).
func New(cfg Config) (*Server, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if m, ok := cfg.Clock.(*clock.Mock); ok {
		cfg.Clock = newWorld(m.Now(), cfg.Seed)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.New()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.EventLimit <= 0 {
		cfg.EventLimit = 10000
	}
	s := &Server{
		cfg:      cfg,
		policy:   cfg.Policy.withDefaults(),
		clock:    cfg.Clock,
		log:      cfg.Logger,
		keys:     credentials.NewKeyring(),
		sessions: map[*session]struct{}{},
		byInst:   map[string]*session{},
		perUser:  map[string]int{},
		events:   newEventLog(cfg.EventLimit),
		faults:   newFaultTable(),
		metrics:  newMetrics(),
	}
	s.world = vclock.Of(cfg.Clock)
	s.metrics.setInstanceGauge(func() float64 {
		insts, _ := s.store.Instances()
		return float64(len(insts))
	})
	s.upgrader = newUpgrader(cfg, s.world)
	s.verifier = s.newVerifier()
	if err := s.openStore(); err != nil {
		return nil, err
	}
	if err := s.restoreClock(); err != nil {
		s.store.Close()
		return nil, err
	}
	for _, a := range cfg.Applications {
		if err := s.AddApplication(a); err != nil {
			s.store.Close()
			return nil, err
		}
	}
	return s, nil
}

func (s *Server) openStore() error {
	var st Store
	switch {
	case s.cfg.Store != nil:
		st = s.cfg.Store
	case s.cfg.DataDir != "":
		fs, err := openFileStore(s.cfg.DataDir)
		if err != nil {
			return err
		}
		for _, w := range fs.warnings {
			s.log.Warn("state loaded with a repair", "detail", w)
		}
		st = fs
	default:
		st = newMemStore()
	}
	apps, err := st.Applications()
	if err != nil {
		return err
	}
	for _, a := range apps {
		s.keys.Add(a.Key, a.Secret)
	}
	s.store = st
	return nil
}

// NewServer returns a started server.
func NewServer(cfg Config) (*Server, error) {
	s, err := New(cfg)
	if err != nil {
		return nil, err
	}
	if err := s.Start(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// RunT starts a server for a test and closes it when the test ends. With
// no Config (or a zero Clock) it runs on a mock clock at DefaultMockTime
// that moves only when the test says so (Advance, SetTime), and with no
// applications it creates one (see Application). It fails the test on error.
func RunT(t testing.TB, cfg ...Config) *Server {
	t.Helper()
	var c Config
	if len(cfg) > 1 {
		t.Fatal("fakebackend.RunT: at most one Config")
	}
	if len(cfg) == 1 {
		c = cfg[0]
	}
	if c.Clock == nil {
		c.Clock = newWorld(DefaultMockTime, c.Seed)
	}
	if len(c.Applications) == 0 && c.Store == nil && c.DataDir == "" {
		c.Applications = []Application{NewApplication()}
	}
	s, err := NewServer(c)
	if err != nil {
		t.Fatalf("fakebackend.RunT: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// NewApplication returns an application with a random key (UUID form) and
// a random 16-byte secret, like the Sinch dashboard hands out.
func NewApplication() Application {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return Application{Key: credentials.NewNonce(), Secret: credentials.MustParseSecret(base64.StdEncoding.EncodeToString(b[:]))}
}

// Start listens and serves. Starting a started server is a no-op; a closed
// one returns ErrClosed.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.started {
		return nil
	}
	addr := s.cfg.Addr
	if s.addr != "" {
		addr = s.addr // Restart keeps the port
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("fakebackend: listen %s: %w", addr, err)
	}
	if s.cfg.TLSConfig != nil {
		ln = tls.NewListener(ln, s.cfg.TLSConfig)
	}
	s.ln = ln
	s.addr = ln.Addr().String()
	s.srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slogErrorLog(s.log)}
	s.started = true
	lns := []net.Listener{ln}
	if s.cfg.InMemory && s.cfg.TLSConfig == nil {
		mem, err := transport.ListenMem(s.addr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("fakebackend: %w", err)
		}
		lns = append(lns, mem)
	}
	for _, ln := range lns {
		s.wg.Add(1)
		go func(srv *http.Server, ln net.Listener) {
			defer s.wg.Done()
			_ = srv.Serve(ln)
		}(s.srv, ln)
	}
	s.log.Info("fake backend listening", "url", s.urlLocked(), "admin", s.adminURLLocked())
	return nil
}

// Close stops the server: the listener closes, every client connection is
// closed with 1001 (going away) after a clean close handshake, in-flight
// handlers finish, and the store is flushed. Close is idempotent and waits
// for everything it started.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.stopServing()
	return errors.Join(s.saveClock(), s.store.Close())
}

// stopServing closes the listener and all connections and waits.
func (s *Server) stopServing() {
	s.mu.Lock()
	srv := s.srv
	s.started = false
	s.srv = nil
	sessions := make([]*session, 0, len(s.sessions))
	for ss := range s.sessions {
		sessions = append(sessions, ss)
	}
	s.mu.Unlock()
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = srv.Shutdown(ctx)
		cancel()
	}
	for _, ss := range sessions {
		ss.close(closeGoingAway, "server shutting down")
	}
	s.wg.Wait()
}

// SetDown takes the backend down (true) or brings it back up (false), as
// an outage would, without losing any state: down, it stops listening, so
// that connections are refused, and drops every open connection without a
// close handshake (a dropped connection's instance expiry timer stops, as
// when its client goes away); up, it listens again on the same address.
// The admin API is down with it. SetDown returns at once; Close waits for
// the dropped connections' handlers.
func (s *Server) SetDown(down bool) error {
	if !down {
		return s.Start()
	}
	s.mu.Lock()
	if s.closed || !s.started {
		s.mu.Unlock()
		return nil
	}
	srv := s.srv
	s.started, s.srv = false, nil
	sessions := make([]*session, 0, len(s.sessions))
	for ss := range s.sessions {
		sessions = append(sessions, ss)
	}
	s.mu.Unlock()
	s.log.Info("fake backend down")
	_ = srv.Close() // listeners, and connections not upgraded yet
	for _, ss := range sessions {
		ss.drop()
	}
	return nil
}

// Restart stops serving and starts again on the same port, as a process
// restart would: with a DataDir the state is reloaded from disk; without
// one it is lost (applications given in Config are re-added).
func (s *Server) Restart() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.mu.Unlock()
	s.stopServing()
	if s.cfg.Store == nil {
		if err := s.store.Close(); err != nil {
			return err
		}
		s.keys = credentials.NewKeyring()
		s.verifier = s.newVerifier()
		if err := s.openStore(); err != nil {
			return err
		}
		for _, a := range s.cfg.Applications {
			if err := s.AddApplication(a); err != nil {
				return err
			}
		}
	}
	return s.Start()
}

// URL is the WebSocket URL clients connect to (ws://host:port/ws/v1).
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.urlLocked()
}

func (s *Server) urlLocked() string {
	scheme := "ws"
	if s.cfg.TLSConfig != nil {
		scheme = "wss"
	}
	return scheme + "://" + s.addr + transport.Path
}

// AdminURL is the base URL of the admin API (http://host:port/admin/).
func (s *Server) AdminURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.adminURLLocked()
}

func (s *Server) adminURLLocked() string {
	scheme := "http"
	if s.cfg.TLSConfig != nil {
		scheme = "https"
	}
	return scheme + "://" + s.addr + "/admin/"
}

// Addr is the listening host:port.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Clock is the backend's clock.
func (s *Server) Clock() clock.Clock { return s.clock }

// Now is the backend's current time.
func (s *Server) Now() time.Time { return s.clock.Now() }

// Advance moves the virtual clock forward by d. Every timer of the world
// due on the way fires at its deadline, in deadline order, the backend's
// and its clients' alike, and before each one the world settles: when
// Advance returns nil, every consequence up to the new time has happened
// (Stats, Instances, Events and listener callbacks are final). It returns
// ErrNotMockClock on a real clock, and a *vclock.SettleError (naming what
// was still busy) if the world did not settle within its bounds.
func (s *Server) Advance(d time.Duration) error {
	if s.world == nil {
		return ErrNotMockClock
	}
	if d < 0 {
		return fmt.Errorf("fakebackend: cannot advance by a negative duration %v", d)
	}
	return errors.Join(s.world.Advance(d), s.saveClock())
}

// SetTime moves the virtual clock to t: forward as Advance does, backward
// without firing anything.
func (s *Server) SetTime(t time.Time) error {
	if s.world == nil {
		return ErrNotMockClock
	}
	return errors.Join(s.world.Set(t), s.saveClock())
}

// settle waits until the world is quiescent (on a virtual clock), so that
// an action's consequences, such as a client told of a revocation, have
// happened when the action returns.
func (s *Server) settle() {
	if s.world != nil {
		if err := s.world.Settle(); err != nil {
			s.log.Warn("the world did not settle", "err", err)
		}
	}
}

// newWorld returns the virtual clock a server creates.
func newWorld(start time.Time, seed uint64) *vclock.Clock {
	if seed == 0 {
		seed = 1
	}
	return vclock.New(start, vclock.WithSeed(seed))
}

// AddApplication adds (or replaces) an application.
func (s *Server) AddApplication(a Application) error {
	if a.Key == "" || a.Secret.IsZero() {
		return errors.New("fakebackend: an application needs a key and a secret")
	}
	if err := s.store.PutApplication(a); err != nil {
		return err
	}
	s.keys.Add(a.Key, a.Secret)
	return nil
}

// Applications returns the known applications, sorted by key.
func (s *Server) Applications() []Application {
	apps, _ := s.store.Applications()
	return apps
}

// Application returns the first application of Config.Applications (with
// RunT's default configuration, the one it created), or else the first
// known one by key.
func (s *Server) Application() Application {
	if len(s.cfg.Applications) > 0 {
		if sec, ok := s.keys.Secret(s.cfg.Applications[0].Key); ok {
			return Application{Key: s.cfg.Applications[0].Key, Secret: sec}
		}
	}
	apps := s.Applications()
	if len(apps) == 0 {
		return Application{}
	}
	return apps[0]
}

// Minter returns a Minter for the first application on the backend's clock:
// what a test's auth server would use.
func (s *Server) Minter() *credentials.Minter {
	a := s.Application()
	m, err := credentials.NewMinter(credentials.MinterConfig{ApplicationKey: a.Key, Secret: a.Secret, Clock: s.clock})
	if err != nil {
		panic("fakebackend: no application to mint for: " + err.Error())
	}
	return m
}

// Instances returns every instance, oldest first.
func (s *Server) Instances() []Instance {
	insts, _ := s.store.Instances()
	return insts
}

// Instance returns one instance.
func (s *Server) Instance(id string) (Instance, bool) {
	i, err := s.store.Instance(id)
	return i, err == nil
}

// Reset drops every instance, device record, sequence, nonce, event and
// fault, and closes client connections; applications stay.
func (s *Server) Reset() error {
	s.CloseClientConnections()
	s.events.reset()
	s.faults.reset()
	return s.store.Reset()
}

// CloseClientConnections drops every client connection abruptly (no close
// handshake), as a network failure would.
func (s *Server) CloseClientConnections() {
	s.mu.Lock()
	sessions := make([]*session, 0, len(s.sessions))
	for ss := range s.sessions {
		sessions = append(sessions, ss)
	}
	s.mu.Unlock()
	for _, ss := range sessions {
		ss.drop()
	}
}

// ConnectedClients is the number of open WebSocket connections.
func (s *Server) ConnectedClients() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// lockUser serialises rule sequences for one user.
func (s *Server) lockUser(app, user string) func() {
	h := uint32(2166136261)
	for i := 0; i < len(app); i++ {
		h = (h ^ uint32(app[i])) * 16777619
	}
	for i := 0; i < len(user); i++ {
		h = (h ^ uint32(user[i])) * 16777619
	}
	m := &s.userLocks[h%uint32(len(s.userLocks))]
	m.Lock()
	return m.Unlock
}

// nonceHook plugs the store into credentials.Verifier as its replay guard;
// a full store answers ErrNonceStoreFull, which the rules turn into a
// retryable unavailable rather than calling a fresh token a replay.
type nonceHook struct{ s *Server }

func (h nonceHook) Use(app, nonce string, until time.Time) (bool, error) {
	return h.s.store.UseNonce(app, nonce, until, h.s.clock.Now(), h.s.policy.MaxNonces)
}

func (s *Server) newVerifier() *credentials.Verifier {
	return credentials.NewVerifier(s.keys, credentials.VerifierConfig{Clock: s.clock, Leeway: s.policy.Leeway, Nonces: nonceHook{s}})
}

// RunTClock returns a virtual clock set to DefaultMockTime, as RunT uses:
// give it to a Config and to clients to build a world before the server.
func RunTClock() *vclock.Clock { return newWorld(DefaultMockTime, 0) }

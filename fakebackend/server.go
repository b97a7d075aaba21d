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
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/transport"
	"github.com/sinchsim/sinchsim/vclock"
)

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
	// reading holds the connections whose first request is being read
	// (acceptLoop).
	reading map[net.Conn]struct{}
	// upgrading counts connections admitted and not yet registered, so
	// that concurrent upgrades cannot pass Policy.MaxConnections.
	upgrading int
	byInst    map[string]*session
	perUser   map[uKey]int
	wg        sync.WaitGroup // session handlers and the HTTP server

	userLocks [64]sync.Mutex // serialise rule sequences per user

	// shared is the store when other replicas share it (nil otherwise);
	// leave ends this replica's membership.
	shared     Shared
	leave      func()
	appsLoaded time.Time    // last reload of the applications (guarded by mu)
	connSeq    atomic.Int64 // numbers the connections

	events  *eventLog
	faults  *faultTable
	metrics *metrics
	calls   *callTable
	pushes  *pushOutbox
}

// ErrClosed is returned by Start on a closed server.
var ErrClosed = errors.New("fakebackend: server closed")

// NewUnstartedServer returns a server that does not listen yet, as
// httptest.NewUnstartedServer does: set it up (AddApplication, faults),
// then call Start. NewServer returns a started one.
func NewUnstartedServer(cfg Config) (*Server, error) {
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
	if cfg.PushWebhook != "" {
		// The message leaves the URL out: it may carry a token.
		if u, err := url.Parse(cfg.PushWebhook); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, errors.New("fakebackend: PushWebhook must be an http:// or https:// URL")
		}
	}
	s := &Server{
		cfg:      cfg,
		policy:   cfg.Policy.withDefaults(),
		clock:    cfg.Clock,
		log:      cfg.Logger,
		keys:     credentials.NewKeyring(),
		sessions: map[*session]struct{}{},
		reading:  map[net.Conn]struct{}{},
		byInst:   map[string]*session{},
		perUser:  map[uKey]int{},
		events:   newEventLog(cfg.EventLimit),
		faults:   newFaultTable(),
		metrics:  newMetrics(),
	}
	s.world = vclock.Of(cfg.Clock)
	s.calls = newCallTable(s)
	s.pushes = newPushOutbox(s, cfg.EventLimit, cfg.PushWebhook)
	s.metrics.setInstanceGauge(func() float64 {
		if s.shared != nil {
			n, _ := s.shared.InstanceCount()
			return float64(n)
		}
		insts, _ := s.store.Instances()
		return float64(len(insts))
	})
	s.upgrader = newUpgrader(cfg, s.world)
	s.verifier = s.newVerifier()
	if err := s.openStore(); err != nil {
		return nil, err
	}
	if err := s.restoreClock(); err != nil {
		s.abandon()
		return nil, err
	}
	for _, a := range cfg.Applications {
		if err := s.AddApplication(a); err != nil {
			s.abandon()
			return nil, err
		}
	}
	if err := s.joinShared(); err != nil {
		s.abandon()
		return nil, err
	}
	return s, nil
}

// abandon releases what New set up when it fails after opening the store.
func (s *Server) abandon() {
	s.events.closeOutbox()
	s.store.Close()
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
	s.shared, _ = st.(Shared)
	s.events.shared, s.events.log = s.shared, s.log
	if s.shared != nil && s.events.outbox == nil {
		s.events.startOutbox()
	}
	return nil
}

// NewServer returns a started server, as httptest.NewServer does. Close
// it when done; RunT does both for a test.
func NewServer(cfg Config) (*Server, error) {
	s, err := NewUnstartedServer(cfg)
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
	ln, err := transport.Listen(addr)
	if err != nil {
		return fmt.Errorf("fakebackend: listen %s: %w", addr, err)
	}
	if s.cfg.TLSConfig != nil {
		ln = tls.NewListener(ln, s.cfg.TLSConfig)
	}
	s.ln = ln
	s.addr = ln.Addr().String()
	s.srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slogErrorLog(s.log)}
	s.endOnShutdown(s.srv) // event streams and browsers' spare connections would hold Shutdown
	s.started = true
	lns := []net.Listener{ln}
	if s.cfg.InMemory && s.cfg.TLSConfig == nil {
		mem, err := transport.ListenMem(s.addr)
		if err != nil {
			ln.Close()
			s.started = false
			return fmt.Errorf("fakebackend: %w", err)
		}
		lns = append(lns, mem)
	}
	for _, ln := range lns {
		served := ln
		if s.cfg.TLSConfig == nil {
			h := newHandoff(ln)
			s.wg.Add(1)
			go s.acceptLoop(ln, h)
			served = h
		}
		s.wg.Add(1)
		go func(srv *http.Server) {
			defer s.wg.Done()
			_ = srv.Serve(served)
		}(s.srv)
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
	if s.pushes.hook != nil {
		s.pushes.hook.close()
	}
	if s.leave != nil {
		s.leave()
	}
	s.events.stopTail(true)
	s.events.closeOutbox()
	return errors.Join(s.saveClock(), s.store.Close())
}

// stopServing closes the listener and all connections and waits.
func (s *Server) stopServing() {
	s.mu.Lock()
	srv := s.srv
	s.started = false
	s.srv = nil
	s.closeReadingLocked()
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
	s.closeReadingLocked()
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

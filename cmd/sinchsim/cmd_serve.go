package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/fakebackend"
	"github.com/sinchsim/sinchsim/fakebackend/redisstore"
	"github.com/sinchsim/sinchsim/transport"
	"github.com/sinchsim/sinchsim/vclock"
)

var serveCommand = command{
	name:    "serve",
	summary: "run the fake Sinch registration backend (WebSocket, admin API, metrics)",
	run:     runServe,
}

const serveAbout = `Runs the fake backend until SIGINT or SIGTERM, then shuts down cleanly
(clients get a close frame; with --data the state is saved).

With no flags it listens on 127.0.0.1:7443, creates one application and
prints its key and secret, the WebSocket URL, the admin URL and the
console's URL (a live page of instances, decisions, clock and faults).
Every rule's policy has a flag; the defaults are the documented ones.

The admin API and the console need --admin-token when --addr is not a
loopback address. Once a token is set, every admin request needs it, from
loopback too; the console asks for it.

With --store redis://HOST:PORT/DB several serve processes (replicas, on
one machine or many) keep their state in one Redis and behave as one
backend: a client may register at one and authenticate at another, every
rule holds across them, a revocation reaches the client on whichever
replica holds its connection, and with --clock mock advancing the clock at
one replica advances them all. When Redis stops answering they refuse
requests with unavailable; serve does not start without it.
docs/SCALING.md says how to run them.`

// adminTokenEnv names the environment variable that gives serve its admin
// token when --admin-token does not.
const adminTokenEnv = "SINCHSIM_ADMIN_TOKEN"

// appsFlag collects --app KEY:SECRET values.
type appsFlag []fakebackend.Application

func (a *appsFlag) String() string { return "" }

func (a *appsFlag) Set(v string) error {
	key, secret, ok := strings.Cut(v, ":")
	if !ok || key == "" || secret == "" {
		return errors.New("want KEY:SECRET")
	}
	s, err := credentials.ParseSecret(secret)
	if err != nil {
		return fmt.Errorf("the secret of %s is not valid base64", key)
	}
	*a = append(*a, fakebackend.Application{Key: key, Secret: s})
	return nil
}

// listFlag collects repeated string values.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// serveFlags holds serve's flags. define registers them (in the order of
// the help), validate checks them without side effects, and config turns
// them into the backend's Config (opening the Redis store, with --store).
type serveFlags struct {
	addr, clock, dataDir, adminToken string
	store, storePrefix, replica      string
	tlsCert, tlsKey                  string
	logLevel                         string
	logJSON, legacy                  bool
	apps                             appsFlag
	origins                          listFlag
	startTime                        timeFlag
	leeway, rateWindow               time.Duration
	rateLimit, maxNonces             int
	maxConns, maxPerUser             int
	readLimit                        int64
	callsPerMinute, maxCalls         int
	callTimeout                      time.Duration
	pushWebhook                      string
	level                            slog.Level // set by validate from logLevel
}

func (f *serveFlags) define(fs *flagSet) {
	fs.StringVar(&f.addr, "addr", "127.0.0.1:7443", "listen address (host:port; port 0 picks a free one)")
	fs.Var(&f.apps, "app", "an application as KEY:SECRET (repeatable; default: one generated)")
	fs.StringVar(&f.clock, "clock", "real", "the backend's clock: real, or mock (moved only by POST /admin/clock)")
	fs.Var(&f.startTime, "start-time", "with --clock mock: the starting time, RFC 3339 (default now)")
	fs.StringVar(&f.dataDir, "data", "", "data directory: state survives restarts (default: memory only)")
	fs.StringVar(&f.store, "store", "", "keep the state in Redis, redis://HOST:PORT/DB (or rediss://), shared by\nevery replica started with the same --store and --store-prefix")
	fs.StringVar(&f.storePrefix, "store-prefix", redisstore.DefaultPrefix, "with --store: the prefix of every Redis key (backends with different\nprefixes share nothing)")
	fs.StringVar(&f.replica, "replica", "", "with --store: this replica's name (default: host name, process id and a\nrandom suffix)")
	fs.StringVar(&f.adminToken, "admin-token", "", "bearer token for /admin/ and the console; once set, every admin\nrequest needs it (required off loopback). Default $"+adminTokenEnv+",\nbetter than the flag: other users of the machine can read a command line")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "TLS certificate file (serves wss:// and https://)")
	fs.StringVar(&f.tlsKey, "tls-key", "", "TLS key file")
	fs.DurationVar(&f.leeway, "leeway", credentials.DefaultLeeway, "clock skew tolerated on iat and exp")
	fs.IntVar(&f.rateLimit, "rate-limit", fakebackend.DefaultRateLimit, "instance creations allowed per user per --rate-window (-1: unlimited)")
	fs.DurationVar(&f.rateWindow, "rate-window", fakebackend.DefaultRateWindow, "the rate limit's window")
	fs.BoolVar(&f.legacy, "legacy", true, "accept legacy (signature + sequence) registrations")
	fs.IntVar(&f.maxNonces, "max-nonces", fakebackend.DefaultMaxNonces, "unexpired nonces remembered for replay protection")
	fs.IntVar(&f.maxConns, "max-connections", fakebackend.DefaultMaxConnections, "simultaneous WebSocket connections")
	fs.IntVar(&f.maxPerUser, "max-connections-per-user", fakebackend.DefaultMaxConnectionsPerUser, "simultaneous registered connections per user (-1: unlimited)")
	fs.Int64Var(&f.readLimit, "read-limit", transport.DefaultReadLimit, "largest message accepted, in bytes")
	fs.IntVar(&f.callsPerMinute, "calls-per-minute", fakebackend.DefaultMaxCallsPerMinute, "calls one user may place within a minute (-1: unlimited)")
	fs.IntVar(&f.maxCalls, "max-concurrent-calls", fakebackend.DefaultMaxConcurrentCalls, "calls one user takes part in at once, as caller or callee (-1: unlimited)")
	fs.DurationVar(&f.callTimeout, "call-answer-timeout", fakebackend.DefaultCallAnswerTimeout, "how long a call rings before it ends with no_answer")
	fs.StringVar(&f.pushWebhook, "push-webhook", "", "http(s) URL to POST each push to, as JSON (a call to an offline callee\nwith a push token); the backend never waits for it")
	fs.Var(&f.origins, "allow-origin", "a browser origin allowed to connect, e.g. https://app.example (repeatable)")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.BoolVar(&f.logJSON, "log-json", false, "log as JSON lines instead of text")
}

// validate checks the flags; every error is a usageErr.
func (f *serveFlags) validate() error {
	if err := f.level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return usagef("--log-level must be debug, info, warn or error")
	}
	switch f.clock {
	case "real":
		if !f.startTime.t.IsZero() {
			return usagef("--start-time needs --clock mock")
		}
	case "mock":
	default:
		return usagef("--clock must be real or mock")
	}
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return usagef("--tls-cert and --tls-key go together")
	}
	if f.callTimeout <= 0 {
		return usagef("--call-answer-timeout must be positive")
	}
	if f.callsPerMinute == 0 || f.maxCalls == 0 {
		return usagef("--calls-per-minute and --max-concurrent-calls must be positive, or -1 for unlimited")
	}
	if f.pushWebhook != "" {
		if u, err := url.Parse(f.pushWebhook); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usagef("--push-webhook must be an http:// or https:// URL")
		}
	}
	switch {
	case f.store != "" && f.dataDir != "":
		return usagef("give --store or --data, not both")
	case f.store != "" && !strings.HasPrefix(f.store, "redis://") && !strings.HasPrefix(f.store, "rediss://"):
		return usagef("--store must be a redis:// or rediss:// URL")
	case f.store == "" && (f.replica != "" || f.storePrefix != redisstore.DefaultPrefix):
		return usagef("--store-prefix and --replica need --store")
	}
	return nil
}

// logger returns the logger the flags ask for, writing to w.
func (f *serveFlags) logger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: f.level}
	if f.logJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// config returns the backend's configuration. It reads the TLS key pair;
// now is the mock clock's start when --start-time is absent.
func (f *serveFlags) config(now func() time.Time, logger *slog.Logger) (fakebackend.Config, error) {
	cfg := fakebackend.Config{
		Addr:           f.addr,
		Applications:   f.apps,
		DataDir:        f.dataDir,
		AdminToken:     f.adminToken,
		AllowedOrigins: f.origins,
		Logger:         logger,
		Conn:           transport.Config{ReadLimit: f.readLimit},
		PushWebhook:    f.pushWebhook,
		Policy: fakebackend.Policy{
			Leeway: f.leeway, RateLimit: f.rateLimit, RateWindow: f.rateWindow, DisableLegacy: !f.legacy,
			MaxNonces: f.maxNonces, MaxConnections: f.maxConns, MaxConnectionsPerUser: f.maxPerUser,
			MaxCallsPerMinute: f.callsPerMinute, MaxConcurrentCalls: f.maxCalls, CallAnswerTimeout: f.callTimeout,
		},
	}
	if f.leeway == 0 {
		cfg.Policy.Leeway = -1 // the flag's 0 means none; Policy's 0 means default
	}
	if f.clock == "mock" {
		// With --data, a later time saved there wins: a restart continues
		// where the last run stopped.
		cfg.Clock = vclock.New(f.startTime.or(now).UTC())
	}
	if f.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey)
		if err != nil {
			return cfg, fmt.Errorf("loading the TLS key pair: %w", err)
		}
		cfg.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	if f.store != "" { // last: nothing after it can fail and leave it open
		st, err := redisstore.Open(f.store, redisstore.Options{Prefix: f.storePrefix, Replica: f.replica})
		if err != nil {
			return cfg, err
		}
		cfg.Store = st
	}
	return cfg, nil
}

func runServe(ctx context.Context, e *env, args []string) int {
	var f serveFlags
	fs := e.newFlags("[flags]", serveAbout)
	f.define(fs)
	if code, ok := fs.parseAll(args, 0); !ok {
		return code
	}
	if err := f.validate(); err != nil {
		return fs.fail(err)
	}
	if f.adminToken == "" {
		f.adminToken = e.lookupEnv(adminTokenEnv)
	}
	logger := f.logger(e.stderr)
	cfg, err := f.config(e.now, logger)
	if err != nil {
		return fs.fail(err)
	}
	srv, generated, err := startBackend(cfg)
	if err != nil {
		if cfg.Store != nil {
			cfg.Store.Close() // a server that did not start did not take it over
		}
		e.errorf("%v", err)
		return exitFail
	}
	f.printBanner(e.stdout, srv, generated)

	<-ctx.Done()
	logger.Info("shutting down")
	if err := srv.Close(); err != nil {
		e.errorf("shutting down: %v", err)
		return exitFail
	}
	logger.Info("stopped")
	return exitOK
}

// startBackend creates the backend, adds a generated application when cfg
// has none, and starts it. generated is that application, or nil.
func startBackend(cfg fakebackend.Config) (srv *fakebackend.Server, generated *fakebackend.Application, err error) {
	srv, err = fakebackend.NewUnstartedServer(cfg)
	if err != nil {
		return nil, nil, err
	}
	if len(srv.Applications()) == 0 {
		a := fakebackend.NewApplication()
		if err := srv.AddApplication(a); err != nil {
			srv.Close()
			return nil, nil, err
		}
		generated = &a
	}
	if err := srv.Start(); err != nil {
		srv.Close()
		return nil, nil, err
	}
	return srv, generated, nil
}

// printBanner prints where the backend serves, its applications and a
// generated secret.
func (f *serveFlags) printBanner(out io.Writer, srv *fakebackend.Server, generated *fakebackend.Application) {
	fmt.Fprintf(out, "sinchsim fake backend\n")
	fmt.Fprintf(out, "  websocket  %s\n", srv.URL())
	fmt.Fprintf(out, "  admin      %s\n", srv.AdminURL())
	fmt.Fprintf(out, "  console    %s\n", srv.ConsoleURL())
	fmt.Fprintf(out, "  metrics    %smetrics\n", strings.TrimSuffix(srv.AdminURL(), "admin/"))
	fmt.Fprintf(out, "  clock      %s (%s)\n", f.clock, srv.Now().UTC().Format(time.RFC3339))
	if f.dataDir != "" {
		fmt.Fprintf(out, "  data       %s\n", f.dataDir)
	}
	if st, ok := srv.Store().(*redisstore.Store); ok {
		fmt.Fprintf(out, "  store      %s\n", st)
	}
	for _, a := range srv.Applications() {
		fmt.Fprintf(out, "  application %s\n", a.Key)
	}
	if generated != nil {
		fmt.Fprintf(out, "  secret      %s  (generated for %s; give it to your auth server)\n", generated.Secret.Text(), generated.Key)
	}
	fmt.Fprintf(out, "Serving; press Ctrl-C to stop.\n")
	if file, ok := out.(*os.File); ok {
		file.Sync()
	}
}

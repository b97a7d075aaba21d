package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/fakebackend"
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
loopback too; the console asks for it.`

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

func runServe(ctx context.Context, e *env, args []string) int {
	fs := e.newFlags("[flags]", serveAbout)
	var (
		apps      appsFlag
		origins   listFlag
		startTime timeFlag
	)
	addr := fs.String("addr", "127.0.0.1:7443", "listen address (host:port; port 0 picks a free one)")
	fs.Var(&apps, "app", "an application as KEY:SECRET (repeatable; default: one generated)")
	clockKind := fs.String("clock", "real", "the backend's clock: real, or mock (moved only by POST /admin/clock)")
	fs.Var(&startTime, "start-time", "with --clock mock: the starting time, RFC 3339 (default now)")
	dataDir := fs.String("data", "", "data directory: state survives restarts (default: memory only)")
	adminToken := fs.String("admin-token", "", "bearer token for /admin/ and the console; once set, every admin\nrequest needs it (required off loopback). Default $"+adminTokenEnv+",\nbetter than the flag: other users of the machine can read a command line")
	tlsCert := fs.String("tls-cert", "", "TLS certificate file (serves wss:// and https://)")
	tlsKey := fs.String("tls-key", "", "TLS key file")
	leeway := fs.Duration("leeway", credentials.DefaultLeeway, "clock skew tolerated on iat and exp")
	rateLimit := fs.Int("rate-limit", fakebackend.DefaultRateLimit, "instance creations allowed per user per --rate-window (-1: unlimited)")
	rateWindow := fs.Duration("rate-window", fakebackend.DefaultRateWindow, "the rate limit's window")
	legacy := fs.Bool("legacy", true, "accept legacy (signature + sequence) registrations")
	maxNonces := fs.Int("max-nonces", fakebackend.DefaultMaxNonces, "unexpired nonces remembered for replay protection")
	maxConns := fs.Int("max-connections", fakebackend.DefaultMaxConnections, "simultaneous WebSocket connections")
	maxPerUser := fs.Int("max-connections-per-user", fakebackend.DefaultMaxConnectionsPerUser, "simultaneous registered connections per user (-1: unlimited)")
	readLimit := fs.Int64("read-limit", transport.DefaultReadLimit, "largest message accepted, in bytes")
	fs.Var(&origins, "allow-origin", "a browser origin allowed to connect, e.g. https://app.example (repeatable)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	logJSON := fs.Bool("log-json", false, "log as JSON lines instead of text")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if code, ok := fs.maxArgs(0); !ok {
		return code
	}
	if *adminToken == "" {
		*adminToken = os.Getenv(adminTokenEnv)
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fs.invalid("--log-level must be debug, info, warn or error")
	}
	var handler slog.Handler = slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level})
	if *logJSON {
		handler = slog.NewJSONHandler(e.stderr, &slog.HandlerOptions{Level: level})
	}
	logger := slog.New(handler)

	cfg := fakebackend.Config{
		Addr:           *addr,
		Applications:   apps,
		DataDir:        *dataDir,
		AdminToken:     *adminToken,
		AllowedOrigins: origins,
		Logger:         logger,
		Conn:           transport.Config{ReadLimit: *readLimit},
		Policy: fakebackend.Policy{
			Leeway: *leeway, RateLimit: *rateLimit, RateWindow: *rateWindow, DisableLegacy: !*legacy,
			MaxNonces: *maxNonces, MaxConnections: *maxConns, MaxConnectionsPerUser: *maxPerUser,
		},
	}
	if *leeway == 0 {
		cfg.Policy.Leeway = -1 // the flag's 0 means none; Policy's 0 means default
	}
	switch *clockKind {
	case "real":
		if !startTime.t.IsZero() {
			return fs.invalid("--start-time needs --clock mock")
		}
	case "mock":
		// With --data, a later time saved there wins: a restart continues
		// where the last run stopped.
		cfg.Clock = vclock.New(startTime.or(e.now).UTC())
	default:
		return fs.invalid("--clock must be real or mock")
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		return fs.invalid("--tls-cert and --tls-key go together")
	}
	if *tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(*tlsCert, *tlsKey)
		if err != nil {
			e.errorf("loading the TLS key pair: %v", err)
			return exitFail
		}
		cfg.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}

	srv, err := fakebackend.New(cfg)
	if err != nil {
		e.errorf("%v", err)
		return exitFail
	}
	var generated *fakebackend.Application
	if len(srv.Applications()) == 0 {
		a := fakebackend.NewApplication()
		if err := srv.AddApplication(a); err != nil {
			e.errorf("%v", err)
			srv.Close()
			return exitFail
		}
		generated = &a
	}
	if err := srv.Start(); err != nil {
		e.errorf("%v", err)
		srv.Close()
		return exitFail
	}

	out := e.stdout
	fmt.Fprintf(out, "sinchsim fake backend\n")
	fmt.Fprintf(out, "  websocket  %s\n", srv.URL())
	fmt.Fprintf(out, "  admin      %s\n", srv.AdminURL())
	fmt.Fprintf(out, "  console    %s\n", srv.ConsoleURL())
	fmt.Fprintf(out, "  metrics    %smetrics\n", strings.TrimSuffix(srv.AdminURL(), "admin/"))
	fmt.Fprintf(out, "  clock      %s (%s)\n", *clockKind, srv.Now().UTC().Format(time.RFC3339))
	if *dataDir != "" {
		fmt.Fprintf(out, "  data       %s\n", *dataDir)
	}
	for _, a := range srv.Applications() {
		fmt.Fprintf(out, "  application %s\n", a.Key)
	}
	if generated != nil {
		fmt.Fprintf(out, "  secret      %s  (generated for %s; give it to your auth server)\n", generated.Secret.Text(), generated.Key)
	}
	fmt.Fprintf(out, "Serving; press Ctrl-C to stop.\n")
	if f, ok := out.(*os.File); ok {
		f.Sync()
	}

	<-ctx.Done()
	logger.Info("shutting down")
	if err := srv.Close(); err != nil {
		e.errorf("shutting down: %v", err)
		return exitFail
	}
	logger.Info("stopped")
	return exitOK
}

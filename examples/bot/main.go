// Command bot is one user that registers with a Sinch (fake) backend and
// stays online: the smallest complete use of client.SinchClient.
//
// With no flags it starts an in-process fake backend on a loopback port,
// registers "bot-1" with a self-signed token, stays online until Ctrl-C and
// terminates gracefully. With --store the device record (device id and
// instance credentials) is kept in a directory, so that a second run
// against the same backend authenticates without asking for a token.
//
//	go run ./examples/bot --duration 2s
//	go run ./examples/bot --url ws://127.0.0.1:7443 --app-key KEY --app-secret SECRET --store /tmp/bot
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/sinchsim/sinchsim/client"
	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/fakebackend"
	"github.com/sinchsim/sinchsim/registration"
)

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1 // the client could not start, or failed while online
	exitUsage  = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

type config struct {
	url, appKey, appSecret, authURL, user, store string
	duration                                     time.Duration
	verbose                                      bool
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("bot", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.url, "url", "", "backend: host:port or ws:// URL (default: start an in-process fake backend)")
	fs.StringVar(&cfg.appKey, "app-key", "", "application key (required with --url)")
	fs.StringVar(&cfg.appSecret, "app-secret", "", "application secret, base64; the bot self-signs its tokens with it (tests and bots only); default $SINCH_APP_SECRET")
	fs.StringVar(&cfg.authURL, "auth-url", "", "fetch tokens from this auth server instead of self-signing, e.g. 'http://127.0.0.1:8080/token?userId={userId}'")
	fs.StringVar(&cfg.user, "user", "bot-1", "user id")
	fs.StringVar(&cfg.store, "store", "", "directory for the device record; a later run reuses the instance (default: memory only)")
	fs.DurationVar(&cfg.duration, "duration", 0, "how long to stay online (0: until Ctrl-C)")
	fs.BoolVar(&cfg.verbose, "v", false, "print the client's log messages too")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if cfg.appSecret == "" {
		cfg.appSecret = os.Getenv("SINCH_APP_SECRET")
	}
	if cfg.url != "" && cfg.appKey == "" {
		return cfg, errors.New("--url needs --app-key")
	}
	if cfg.duration < 0 {
		return cfg, errors.New("--duration must not be negative")
	}
	return cfg, nil
}

// printer serialises output from the subscription goroutine and from the
// client's callbacks, which run on the client's dispatcher goroutine.
type printer struct {
	mu sync.Mutex
	w  io.Writer
}

func (p *printer) printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, format+"\n", args...)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "bot: %v\n", err)
		return exitUsage
	}
	out := &printer{w: stdout}

	var secret credentials.Secret
	if cfg.appSecret != "" {
		// ParseSecret's errors never quote the secret.
		if secret, err = credentials.ParseSecret(cfg.appSecret); err != nil {
			fmt.Fprintf(stderr, "bot: --app-secret: %v\n", err)
			return exitUsage
		}
	}

	env := cfg.url
	if env == "" {
		srv, err := startBackend(&cfg, &secret)
		if err != nil {
			fmt.Fprintf(stderr, "bot: starting the fake backend: %v\n", err)
			return exitFailed
		}
		defer srv.Close()
		env = srv.URL()
		out.printf("backend: %s (in-process fake, application %s)", env, cfg.appKey)
	}

	provider, err := newProvider(cfg, secret)
	if err != nil {
		fmt.Fprintf(stderr, "bot: %v\n", err)
		return exitUsage
	}

	var store client.DeviceStore = client.NewMemoryDeviceStore()
	if cfg.store != "" {
		if store, err = client.NewDirDeviceStore(cfg.store); err != nil {
			fmt.Fprintf(stderr, "bot: %v\n", err)
			return exitFailed
		}
	}

	listener := newListener(ctx, out, provider, cfg.verbose)
	c, err := client.New(cfg.appKey, env, cfg.user, client.WithListener(listener), client.WithDeviceStore(store))
	if err != nil {
		fmt.Fprintf(stderr, "bot: %v\n", err)
		return exitUsage
	}

	sub := c.Subscribe()
	printed := printTransitions(sub, out)
	code := stayOnline(ctx, c, cfg, store, out)
	c.TerminateGracefully()
	<-printed
	sub.Close()
	out.printf("terminated gracefully")
	return code
}

// startBackend runs the fake backend in this process, for when no backend
// is given, with a fresh application (or the one given by --app-key and
// --app-secret), whose key and secret it writes back into cfg and secret.
func startBackend(cfg *config, secret *credentials.Secret) (*fakebackend.Server, error) {
	app := fakebackend.NewApplication()
	if cfg.appKey != "" && !secret.IsZero() {
		app = fakebackend.Application{Key: cfg.appKey, Secret: *secret}
	}
	srv, err := fakebackend.NewServer(fakebackend.Config{Applications: []fakebackend.Application{app}})
	if err != nil {
		return nil, err
	}
	cfg.appKey, *secret = app.Key, app.Secret
	return srv, nil
}

// newListener returns the bot's callbacks: it prints them and answers
// credential requests with a token from provider.
func newListener(ctx context.Context, out *printer, provider credentials.Provider, verbose bool) *client.ListenerFuncs {
	listener := &client.ListenerFuncs{
		ClientStarted: func(c *client.SinchClient) { out.printf("callback: client started") },
		ClientFailed:  func(c *client.SinchClient, err error) { out.printf("callback: client failed: %v", err) },
		// The SDK way: the client asks, the application fetches a token
		// and answers Register or RegisterFailed. The client only asks the
		// first time a user runs on a device, when the backend no longer
		// knows the instance, or to renew a limited TTL.
		CredentialsRequired: func(c *client.SinchClient, reg *client.ClientRegistration) {
			what := "new registration"
			if reg.IsRenewal() {
				what = "TTL renewal"
			}
			out.printf("callback: credentials required (%s)", what)
			if provider == nil {
				reg.RegisterFailed(errors.New("no --app-secret or --auth-url to get a registration token with"))
				return
			}
			jwt, err := provider.Token(ctx, credentials.Request{ApplicationKey: c.ApplicationKey(), UserID: c.UserID(), InstanceTTL: reg.InstanceTTLRequired()})
			if err != nil {
				reg.RegisterFailed(err)
				return
			}
			reg.Register(jwt)
		},
	}
	if verbose {
		listener.LogMessage = func(c *client.SinchClient, level slog.Level, msg string) { out.printf("log: %s %s", level, msg) }
	}
	return listener
}

// printTransitions prints every transition, in order, until the client is
// terminated; the channel is closed then.
func printTransitions(sub *client.Subscription, out *printer) <-chan struct{} {
	printed := make(chan struct{})
	go func() {
		defer close(printed)
		for {
			t, err := sub.Next(context.Background())
			if err != nil {
				return
			}
			out.printf("state: %s -> %s (%s)", t.From, t.To, t.Event)
			if t.To == registration.StateTerminated {
				return
			}
		}
	}()
	return printed
}

// newProvider returns where tokens come from: the auth server (--auth-url),
// the application secret (--app-secret), or nowhere (nil: the bot can only
// reuse a stored instance).
func newProvider(cfg config, secret credentials.Secret) (credentials.Provider, error) {
	if cfg.authURL != "" {
		return credentials.NewHTTPProvider(credentials.HTTPProviderConfig{URL: cfg.authURL, Field: "token"})
	}
	if secret.IsZero() {
		return nil, nil
	}
	// Self-signing puts the application secret in the bot. That is fine
	// for tests and bots; the Sinch documentation warns never to ship the
	// secret in a real client application: production clients get their
	// tokens from an auth server (see examples/authserver).
	return credentials.NewSelfSignedProvider(credentials.MinterConfig{ApplicationKey: cfg.appKey, Secret: secret})
}

// stayOnline starts the client, waits until it is registered and keeps it
// online for the duration, until ctx ends, or until it fails.
func stayOnline(ctx context.Context, c *client.SinchClient, cfg config, store client.DeviceStore, out *printer) int {
	if err := c.Start(); err != nil {
		out.printf("error: %v", err)
		return exitFailed
	}
	if err := c.WaitStarted(ctx); err != nil {
		if ctx.Err() != nil {
			out.printf("stopping: interrupted before the client started")
			return exitOK
		}
		out.printf("error: the client did not start: %v", err)
		return exitFailed
	}
	if rec, found, err := store.Load(ctx, c.ApplicationKey(), c.UserID()); err == nil && found {
		expires := "never"
		if !rec.ExpireAt.IsZero() {
			expires = rec.ExpireAt.UTC().Format(time.RFC3339)
		}
		out.printf("online: user %s, device %s, instance %s, expires %s", c.UserID(), rec.DeviceID, rec.InstanceID, expires)
	}

	wait := ctx
	if cfg.duration > 0 {
		var cancel context.CancelFunc
		wait, cancel = context.WithTimeout(ctx, cfg.duration)
		defer cancel()
	}
	// The client reconnects and renews by itself; it only gives up into
	// "failed" (for example when the instance is revoked).
	if err := c.WaitState(wait, registration.StateFailed); err == nil {
		out.printf("error: the client failed while online: %v", c.Err())
		return exitFailed
	}
	if ctx.Err() != nil {
		out.printf("stopping: interrupted")
	} else {
		out.printf("stopping: %v elapsed", cfg.duration)
	}
	return exitOK
}

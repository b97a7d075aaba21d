// Command authserver is the server a team writes next to its app: it holds
// the application secret and issues registration tokens (JWTs) over HTTP,
// so that the secret never ships inside a client (the setup the Sinch
// documentation recommends).
//
//	go run ./examples/authserver --app-key KEY --app-secret SECRET
//	curl 'http://127.0.0.1:8080/token?userId=alice'
//
// Clients fetch their tokens with credentials.NewHTTPProvider, URL template
// http://127.0.0.1:8080/token?userId={userId}, field "token".
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/sinchsim/sinchsim/credentials"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("authserver", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "listen address (port 0 picks a free one)")
	appKey := fs.String("app-key", "", "application key (required)")
	appSecret := fs.String("app-secret", "", "application secret, base64 (default $SINCH_APP_SECRET, which keeps it out of the process list)")
	instanceTTL := fs.Duration("instance-ttl", 0, "add sinch:rtc:instance:exp = iat + this to every token (at least 48h; 0: no instance TTL)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *appSecret == "" {
		*appSecret = os.Getenv("SINCH_APP_SECRET")
	}
	if *appKey == "" || *appSecret == "" {
		fmt.Fprintln(stderr, "authserver: --app-key and --app-secret (or $SINCH_APP_SECRET) are required")
		return 2
	}
	// Neither error below quotes the secret.
	secret, err := credentials.ParseSecret(*appSecret)
	if err != nil {
		fmt.Fprintf(stderr, "authserver: --app-secret: %v\n", err)
		return 2
	}
	minter, err := credentials.NewMinter(credentials.MinterConfig{ApplicationKey: *appKey, Secret: secret, InstanceTTL: *instanceTTL})
	if err != nil {
		fmt.Fprintf(stderr, "authserver: %v\n", err)
		return 2
	}

	slog.SetDefault(slog.New(slog.NewTextHandler(stderr, nil)))
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "authserver: %v\n", err)
		return 1
	}
	srv := &http.Server{Handler: newHandler(minter), ReadHeaderTimeout: 10 * time.Second}
	base := "http://" + ln.Addr().String()
	// The first line tells scripts (and the example's test) where to go.
	fmt.Fprintf(stdout, "authserver listening on %s\n", base)
	fmt.Fprintf(stdout, "token URL template: %s/token?userId={userId}\n", base)
	slog.Info("serving", "addr", ln.Addr().String(), "application", *appKey, "instanceTTL", *instanceTTL)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		slog.Error("serving failed", "err", err)
		return 1
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		slog.Error("shutting down", "err", err)
		return 1
	}
	slog.Info("stopped")
	return 0
}

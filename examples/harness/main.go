// Command harness shows how to test your own code that uses a SinchClient
// against fakebackend, the in-process fake Sinch backend. The code under
// test is Bot (bot.go); the tests are in harness_test.go:
//
//	go test ./examples/harness
//
// Run as a program, it plays one of those scenarios and prints what
// happened: the backend refuses the bot's first registration with an
// injected "unavailable" fault, the mock clock moves past the reconnect
// backoff, and the bot registers.
//
//	go run ./examples/harness
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/fakebackend"
	"github.com/sinchsim/sinchsim/registration"
	"github.com/sinchsim/sinchsim/transport"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "harness: %v\n", err)
		os.Exit(1)
	}
}

// minterProvider answers every token request with a fresh token from m (a
// new nonce each time, as the backend requires): what an auth server would
// answer, without the HTTP. When the request asks for an instance TTL
// (client.WithInstanceTTL, or an instance already limited), the token
// carries sinch:rtc:instance:exp: m's instance TTL, else twelve months.
func minterProvider(m *credentials.Minter) credentials.Provider {
	return credentials.ProviderFunc(func(ctx context.Context, req credentials.Request) (string, error) {
		return m.MintWith(credentials.MintParams{UserID: req.UserID, RequireInstanceTTL: req.InstanceTTL})
	})
}

func run(out io.Writer) error {
	// fakebackend.RunT(t) in a test; outside one, NewServer with the same
	// mock clock RunT uses.
	srv, err := fakebackend.NewServer(fakebackend.Config{Clock: fakebackend.RunTClock(), Applications: []fakebackend.Application{fakebackend.NewApplication()}})
	if err != nil {
		return err
	}
	defer srv.Close()
	fmt.Fprintf(out, "backend    %s, mock clock at %s\n", srv.URL(), srv.Now().UTC().Format(time.RFC3339))

	if err := srv.FailNext(transport.TypeCreateInstance, 1, transport.CodeUnavailable); err != nil {
		return err
	}
	fmt.Fprintf(out, "fault      the next %s answers %s\n", transport.TypeCreateInstance, transport.CodeUnavailable)

	bot, err := NewBot(BotConfig{URL: srv.URL(), ApplicationKey: srv.Application().Key, UserID: "harness-bot",
		Provider: minterProvider(srv.Minter()), Clock: srv.Clock()})
	if err != nil {
		return err
	}
	defer bot.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := bot.Start(); err != nil {
		return err
	}
	// The bot treats "unavailable" as transient: it waits out a backoff on
	// its clock, which is the backend's mock clock.
	c := bot.Client()
	if err := c.WaitState(ctx, registration.StateReconnecting); err != nil {
		return err
	}
	fmt.Fprintf(out, "bot        %s\n", c.State())
	if err := c.WaitIdle(ctx); err != nil { // the backoff timer is armed
		return err
	}
	if err := srv.Advance(time.Second); err != nil {
		return err
	}
	fmt.Fprintf(out, "clock      +1s\n")
	if err := bot.WaitOnline(ctx); err != nil {
		return err
	}
	fmt.Fprintf(out, "bot        %s online: %v\n", c.UserID(), bot.Online())

	var decisions []string
	for _, e := range srv.Events() {
		decisions = append(decisions, e.Kind+"="+e.Code)
	}
	fmt.Fprintf(out, "decisions  %s\n", strings.Join(decisions, " "))
	fmt.Fprintf(out, "instances  %d\n", len(srv.Instances()))
	return nil
}

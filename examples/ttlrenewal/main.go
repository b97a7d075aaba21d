// Command ttlrenewal runs a year of instance TTL renewals in about a second:
// one client with a limited instance TTL against an in-process fake backend,
// both on one mock clock that only this program moves.
//
//	go run ./examples/ttlrenewal                      # 365 days, 30-day TTL
//	go run ./examples/ttlrenewal --days 60 --instance-ttl 72h
//
// It prints one line per renewal (mock time, new expiry) and a summary. The
// output is the same on every run with the same flags: the clock starts at
// fakebackend.DefaultMockTime and every renewal happens at the exact time
// the client's renewal policy sets.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/sinchsim/sinchsim/client"
	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/fakebackend"
	"github.com/sinchsim/sinchsim/registration"
	"github.com/sinchsim/sinchsim/transport"
	"github.com/sinchsim/sinchsim/vclock"
)

const day = 24 * time.Hour

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ttlrenewal", flag.ContinueOnError)
	fs.SetOutput(stderr)
	days := fs.Int("days", 365, "how many days to simulate")
	ttl := fs.Duration("instance-ttl", 30*day, "the instance TTL every token asks for (sinch:rtc:instance:exp - iat; at least 48h)")
	step := fs.Duration("step", day, "the largest single move of the clock; renewals are stepped to exactly")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *days <= 0 || *step <= 0 {
		fmt.Fprintln(stderr, "ttlrenewal: --days and --step must be positive")
		return 2
	}
	if *ttl < credentials.MinInstanceTTL {
		fmt.Fprintf(stderr, "ttlrenewal: --instance-ttl %v is under the %v Sinch requires\n", *ttl, credentials.MinInstanceTTL)
		return 2
	}
	started := time.Now()
	sum, err := simulate(stdout, *days, *ttl, *step)
	if err != nil {
		fmt.Fprintf(stderr, "ttlrenewal: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "summary: days=%d renewals=%d expiries=%d re-registrations=%d final-expiry=%s\n",
		*days, sum.renewals, sum.expiries, sum.reRegistrations, stamp(sum.finalExpiry))
	// Wall time goes to stderr, so that stdout is the same on every run.
	fmt.Fprintf(stderr, "simulated %d days in %v of wall time\n", *days, time.Since(started).Round(time.Millisecond))
	if sum.expiries != 0 || sum.reRegistrations != 0 {
		return 1
	}
	return 0
}

type summary struct {
	renewals, expiries, reRegistrations int
	finalExpiry                         time.Time
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// simulate runs one client for length on a mock clock and prints its
// renewals.
func simulate(out io.Writer, days int, ttl, step time.Duration) (summary, error) {
	// One mock clock for the backend, the client's timers and the minter:
	// nothing moves unless Advance is called.
	clk := fakebackend.RunTClock()
	// The simulation computes renewal times with the client's own policy.
	policy := registration.DefaultRenewal{}
	store := client.NewMemoryDeviceStore()
	srv, c, err := startRenewer(clk, ttl, policy, store)
	if err != nil {
		return summary{}, err
	}
	defer srv.Close()
	defer c.TerminateGracefully()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := clk.Now()
	fmt.Fprintf(out, "simulating %d days on a mock clock from %s, instance TTL %v\n", days, stamp(start), ttl)
	if err := c.Start(); err != nil {
		return summary{}, err
	}
	if err := c.WaitStarted(ctx); err != nil {
		return summary{}, fmt.Errorf("registration: %w", err)
	}
	rec, err := record(ctx, c, store)
	if err != nil {
		return summary{}, err
	}
	fmt.Fprintf(out, "registered           %s  expires %s\n", stamp(clk.Now()), stamp(rec.ExpireAt))
	sub := c.Subscribe() // transitions from now on
	defer sub.Close()

	end := start.Add(time.Duration(days) * day)
	renewals := 0
	for now := clk.Now(); now.Before(end); now = clk.Now() {
		// Move to the next renewal or by one step, whichever comes first.
		// The client is idle here: its renewal timer is armed, so the mock
		// clock fires it on the way (arm, then move time).
		due := policy.RenewAt(rec.IssuedAt, rec.ExpireAt)
		if due.Before(now) {
			return summary{}, fmt.Errorf("at %s the renewal due at %s has not happened", stamp(now), stamp(due))
		}
		next, renewing := nextStop(now, end, due, step)
		if err := srv.Advance(next.Sub(now)); err != nil {
			return summary{}, err
		}
		if renewing {
			// The timer's function runs on its own goroutine; wait for
			// the outcome rather than for idleness, which could come
			// before it.
			if err := awaitRenewal(ctx, sub); err != nil {
				return summary{}, fmt.Errorf("at %s: %w", stamp(next), err)
			}
		}
		if rec, err = record(ctx, c, store); err != nil {
			return summary{}, err
		}
		if renewing {
			renewals++
			fmt.Fprintf(out, "renewal %3d  day %3d  %s  expires %s\n", renewals, int(next.Sub(start)/day), stamp(next), stamp(rec.ExpireAt))
		}
	}
	sum, err := tally(srv, rec.ExpireAt)
	if err == nil && sum.renewals != renewals {
		err = fmt.Errorf("the client saw %d renewals, the backend %d", renewals, sum.renewals)
	}
	return sum, err
}

// startRenewer starts a backend and one client on clk. The client asks
// for instances with a TTL and gets self-signed tokens (tests and
// simulations only: never ship the secret in a client), each with
// sinch:rtc:instance:exp = iat + ttl.
func startRenewer(clk *vclock.Clock, ttl time.Duration, policy registration.DefaultRenewal, store client.DeviceStore) (*fakebackend.Server, *client.SinchClient, error) {
	app := fakebackend.NewApplication()
	srv, err := fakebackend.NewServer(fakebackend.Config{Clock: clk, Applications: []fakebackend.Application{app}})
	if err != nil {
		return nil, nil, err
	}
	provider, err := credentials.NewSelfSignedProvider(credentials.MinterConfig{ApplicationKey: app.Key, Secret: app.Secret, Clock: clk, InstanceTTL: ttl})
	if err != nil {
		srv.Close()
		return nil, nil, err
	}
	c, err := client.New(app.Key, srv.URL(), "renewer", client.WithClock(clk), client.WithCredentialsProvider(provider),
		client.WithInstanceTTL(true), client.WithDeviceStore(store), client.WithRenewalPolicy(policy))
	if err != nil {
		srv.Close()
		return nil, nil, err
	}
	return srv, c, nil
}

// nextStop is where the clock moves next: the renewal when it is due
// within one step (renewing is then true), else one step, never past end.
func nextStop(now, end, due time.Time, step time.Duration) (next time.Time, renewing bool) {
	next = now.Add(step)
	if next.After(end) {
		next = end
	}
	if !due.After(next) {
		return due, true
	}
	return next, false
}

// record waits until the client is idle (every timer armed, the device
// record saved) and returns its device record.
func record(ctx context.Context, c *client.SinchClient, store client.DeviceStore) (client.DeviceRecord, error) {
	if err := c.WaitIdle(ctx); err != nil {
		return client.DeviceRecord{}, err
	}
	rec, found, err := store.Load(ctx, c.ApplicationKey(), c.UserID())
	if err != nil || !found || rec.ExpireAt.IsZero() {
		return client.DeviceRecord{}, fmt.Errorf("no limited instance in the device store (found %v): %v", found, err)
	}
	return rec, nil
}

// awaitRenewal waits for the client's renewing -> started transition.
func awaitRenewal(ctx context.Context, sub *client.Subscription) error {
	for {
		t, err := sub.Next(ctx)
		if err != nil {
			return fmt.Errorf("waiting for the renewal: %w", err)
		}
		switch {
		case t.Event == registration.EventRenewed:
			return nil
		case t.Event == registration.EventRenewFailed, t.To == registration.StateFailed, t.To == registration.StateAwaitingCredentials:
			return fmt.Errorf("renewal did not succeed: %s -> %s (%s)", t.From, t.To, t.Event)
		}
	}
}

// tally counts the backend's decisions: its view, independent of the
// client's.
func tally(srv *fakebackend.Server, finalExpiry time.Time) (summary, error) {
	sum := summary{finalExpiry: finalExpiry}
	creations := 0
	for _, e := range srv.Events() {
		switch {
		case e.Kind == fakebackend.KindExpire:
			sum.expiries++
		case e.Code != fakebackend.CodeOK:
			return sum, fmt.Errorf("the backend refused %s at %s: %s: %s", e.Kind, stamp(e.Time), e.Code, e.Reason)
		case e.Kind == transport.TypeCreateInstance:
			creations++
		case e.Kind == transport.TypeUpdateInstanceTTL:
			sum.renewals++
		}
	}
	sum.reRegistrations = max(creations-1, 0)
	insts := srv.Instances()
	if len(insts) != 1 || !insts[0].ExpireAt.Equal(finalExpiry) {
		return sum, fmt.Errorf("the backend holds %d instances; want one expiring at %s", len(insts), stamp(finalExpiry))
	}
	return sum, nil
}

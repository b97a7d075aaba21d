package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"time"

	"github.com/sinchsim/sinchsim/internal/sim"
)

var simulateCommand = command{
	name:    "simulate",
	summary: "simulate a fleet's instance TTL renewal for months, with outages, on a virtual clock",
	run:     runSimulate,
}

const simulateAbout = `Runs --bots real clients against the real backend, in process, on one
virtual clock, for --period of simulated time: each instance is created
with --instance-ttl and renewed by the renewal policy (--renewal-policy
default: on a timer, when 7 days remain for a TTL of 8 days or more, else
when 24 h remain; at-start: only when a client starts, as Sinch's Android
documentation describes, so --restart-every matters). A failed renewal is
retried after 0.5 s, 1 s, 2 s... up to 30 s (±20 %) until the instance
expires; the client then registers anew. Clients connect over an in-memory
transport (the same handshake, framing and protocol as WebSocket, without
a socket); --transport websocket uses loopback sockets, two open files per
client. Timers due at the same instant fire together, so 100,000 clients
for a year take about a minute. The same --seed gives the same results.

--outage START/DURATION (repeatable, e.g. 240h/36h): the auth server
refuses every token request at times t with START <= t < START+DURATION,
measured from the start. --backend-outage START/DURATION: the backend
refuses connections and drops the open ones. --renewal-failure-rate P: a
renewal cycle fails with probability P, and every retry of it fails too,
until the instance expires (or, at-start, the next start).

Reports renewals, failed renewal cycles, retries, expiries with their
times and users, re-registrations, time spent unregistered, and a per-day
series (--csv); --html FILE writes a timeline to look at.`

// simulateFlags holds simulate's flags.
type simulateFlags struct {
	bots                    int
	period, instanceTTL     time.Duration
	failRate, callsPerDay   float64
	outages, backendOutages windowsFlag
	policy, transport       string
	restartEvery, stagger   time.Duration
	seed                    uint64
	asJSON, asCSV           bool
	htmlFile                string
}

func (f *simulateFlags) define(fs *flagSet) {
	fs.IntVar(&f.bots, "bots", 100, "number of clients")
	fs.DurationVar(&f.period, "period", 8760*time.Hour, "simulated time")
	fs.DurationVar(&f.instanceTTL, "instance-ttl", 720*time.Hour, "instance TTL of every registration and renewal (at least 48h)")
	fs.Float64Var(&f.failRate, "renewal-failure-rate", 0, "probability that a renewal cycle fails, retries included, 0 to 1")
	fs.Var(&f.outages, "outage", "`START/DURATION` in which the auth server refuses token requests (repeatable)")
	fs.Var(&f.backendOutages, "backend-outage", "`START/DURATION` in which the backend refuses and drops connections (repeatable)")
	fs.StringVar(&f.policy, "renewal-policy", sim.PolicyDefault, "when clients renew: default (on a timer) or at-start (only when a client starts)")
	fs.DurationVar(&f.restartEvery, "restart-every", 0, "restart every client this often (0: never)")
	fs.DurationVar(&f.stagger, "stagger", 0, "spread the clients' starts evenly over this time (0: all at once)")
	fs.Float64Var(&f.callsPerDay, "calls-per-day", 0, "every client calls another one this often per simulated day (the callee\nanswers, the caller hangs up); expiries then show as failed calls")
	fs.Uint64Var(&f.seed, "seed", 1, "random seed; the same seed gives the same results")
	fs.StringVar(&f.transport, "transport", sim.TransportMemory, "memory (no socket) or websocket (two open files per client)")
	fs.BoolVar(&f.asJSON, "json", false, "print exactly one JSON object with the result")
	fs.BoolVar(&f.asCSV, "csv", false, "print the per-day series as CSV")
	fs.StringVar(&f.htmlFile, "html", "", "write the timeline page to `FILE`")
}

// windowsFlag is a repeatable START/DURATION flag.
type windowsFlag []sim.Window

func (w *windowsFlag) String() string {
	var parts []string
	for _, x := range *w {
		parts = append(parts, x.String())
	}
	return strings.Join(parts, ",")
}

func (w *windowsFlag) Set(s string) error {
	x, err := sim.ParseWindow(s)
	if err != nil {
		return err
	}
	*w = append(*w, x)
	return nil
}

// validate checks the flags; every error is a usageErr.
func (f *simulateFlags) validate() error {
	if f.asJSON && f.asCSV {
		return usagef("--json and --csv both print on stdout: choose one")
	}
	if err := f.config().Validate(); err != nil {
		return usagef("%v", err)
	}
	return nil
}

// config returns the simulation's configuration.
func (f *simulateFlags) config() sim.Config {
	return sim.Config{
		Bots: f.bots, Period: f.period, InstanceTTL: f.instanceTTL, RenewalFailureRate: f.failRate,
		Outages: f.outages, BackendOutages: f.backendOutages, Policy: f.policy, RestartEvery: f.restartEvery,
		Stagger: f.stagger, Seed: f.seed, Transport: f.transport, CallsPerDay: f.callsPerDay,
	}
}

func runSimulate(ctx context.Context, e *env, args []string) int {
	var f simulateFlags
	fs := e.newFlags("[flags]", simulateAbout)
	f.define(fs)
	if code, ok := fs.parseAll(args, 0); !ok {
		return code
	}
	if err := f.validate(); err != nil {
		return fs.fail(err)
	}
	defer tuneGC(e)()
	res, err := sim.Run(ctx, f.config())
	if err != nil {
		if ctx.Err() != nil {
			e.errorf("interrupted")
			return exitInterrupted
		}
		e.errorf("%v", err)
		return exitFail
	}
	if f.htmlFile != "" {
		if err := writeHTML(f.htmlFile, res); err != nil {
			e.errorf("%v", err)
			return exitFail
		}
	}
	switch {
	case f.asJSON:
		err = json.NewEncoder(e.stdout).Encode(res)
	case f.asCSV:
		err = sim.WriteCSV(e.stdout, res)
	default:
		printSimulation(e.stdout, res)
	}
	if err != nil {
		e.errorf("%v", err)
		return exitFail
	}
	if res.Failed > 0 {
		return exitFail
	}
	return exitOK
}

// writeHTML writes the timeline page to path.
func writeHTML(path string, res sim.Result) error {
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := sim.WriteHTML(out, res); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

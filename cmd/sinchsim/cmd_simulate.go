package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/internal/sim"
)

var simulateCommand = command{
	name:    "simulate",
	summary: "simulate instance TTL renewal for a fleet over months, on mock clocks",
	run:     runSimulate,
}

const simulateAbout = `Runs --bots real clients against the real backend, in process, on mock
clocks, for --period of simulated time: each instance is created with
--instance-ttl and renewed by the clients' renewal policy (TTL of 8 days or
more: renew when 7 days remain; otherwise when 24 h remain). With
--renewal-failure-rate the application answers that share of renewal
requests with RegisterFailed; the client keeps its expiry and retries with
backoff. Time moves only when every bot is idle, straight to the next
timer, so a year takes seconds. The same --seed gives the same counts.

Reports renewals, renewal failures, expiries, re-registrations, rejections
by code, and the wall time.`

// simulateFlags holds simulate's flags.
type simulateFlags struct {
	bots                int
	period, instanceTTL time.Duration
	failRate            float64
	seed                uint64
	asJSON              bool
}

func (f *simulateFlags) define(fs *flagSet) {
	fs.IntVar(&f.bots, "bots", 100, "number of clients")
	fs.DurationVar(&f.period, "period", 8760*time.Hour, "simulated time")
	fs.DurationVar(&f.instanceTTL, "instance-ttl", 720*time.Hour, "instance TTL of every registration and renewal (at least 48h)")
	fs.Float64Var(&f.failRate, "renewal-failure-rate", 0, "share of renewal requests the application fails, 0 to 1")
	fs.Uint64Var(&f.seed, "seed", 1, "random seed; the same seed gives the same counts")
	fs.BoolVar(&f.asJSON, "json", false, "print exactly one JSON object with the result")
}

// validate checks the flags; every error is a usageErr.
func (f *simulateFlags) validate() error {
	switch {
	case f.bots < 1:
		return usagef("--bots must be at least 1")
	case f.period <= 0:
		return usagef("--period must be positive")
	case f.instanceTTL < credentials.MinInstanceTTL:
		return usagef("--instance-ttl must be at least 48h (Sinch's minimum)")
	case f.failRate < 0 || f.failRate > 1 || f.failRate != f.failRate:
		return usagef("--renewal-failure-rate must be between 0 and 1")
	}
	return nil
}

// config returns the simulation's configuration.
func (f *simulateFlags) config() sim.Config {
	return sim.Config{Bots: f.bots, Period: f.period, InstanceTTL: f.instanceTTL, RenewalFailureRate: f.failRate, Seed: f.seed}
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
	res, err := sim.Run(ctx, f.config())
	if err != nil {
		if ctx.Err() != nil {
			e.errorf("interrupted")
			return exitInterrupted
		}
		e.errorf("%v", err)
		return exitFail
	}
	if f.asJSON {
		if err := json.NewEncoder(e.stdout).Encode(res); err != nil {
			e.errorf("%v", err)
			return exitFail
		}
	} else {
		f.print(e.stdout, res)
	}
	if res.Failed > 0 {
		return exitFail
	}
	return exitOK
}

// print writes the result as text.
func (f *simulateFlags) print(w io.Writer, res sim.Result) {
	fmt.Fprintf(w, "simulate: %d bots, %v of mock time, instance TTL %v, renewal failure rate %g, seed %d\n",
		res.Bots, f.period, f.instanceTTL, res.RenewalFailureRate, res.Seed)
	fmt.Fprintf(w, "  renewals            %d\n", res.Renewals)
	fmt.Fprintf(w, "  renewal failures    %d\n", res.Retries)
	fmt.Fprintf(w, "  expiries            %d\n", res.Expiries)
	fmt.Fprintf(w, "  re-registrations    %d\n", res.ReRegistrations)
	if len(res.RejectionsByCode) == 0 {
		fmt.Fprintf(w, "  rejections          none\n")
	} else {
		fmt.Fprintf(w, "  rejections\n")
		for _, c := range sim.SortedCodes(res.RejectionsByCode) {
			fmt.Fprintf(w, "    %-30s %d\n", c, res.RejectionsByCode[c])
		}
	}
	fmt.Fprintf(w, "  failed clients      %d\n", res.Failed)
	fmt.Fprintf(w, "  clock steps         %d\n", res.Steps)
	fmt.Fprintf(w, "  wall time           %v\n", res.WallSeconds)
}

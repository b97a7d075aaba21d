package main

import (
	"context"
	"encoding/json"
	"fmt"
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

func runSimulate(ctx context.Context, e *env, args []string) int {
	fs := e.newFlags("[flags]", simulateAbout)
	bots := fs.Int("bots", 100, "number of clients")
	period := fs.Duration("period", 8760*time.Hour, "simulated time")
	instanceTTL := fs.Duration("instance-ttl", 720*time.Hour, "instance TTL of every registration and renewal (at least 48h)")
	failRate := fs.Float64("renewal-failure-rate", 0, "share of renewal requests the application fails, 0 to 1")
	seed := fs.Uint64("seed", 1, "random seed; the same seed gives the same counts")
	asJSON := fs.Bool("json", false, "print exactly one JSON object with the result")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if code, ok := fs.maxArgs(0); !ok {
		return code
	}
	switch {
	case *bots < 1:
		return fs.invalid("--bots must be at least 1")
	case *period <= 0:
		return fs.invalid("--period must be positive")
	case *instanceTTL < credentials.MinInstanceTTL:
		return fs.invalid("--instance-ttl must be at least 48h (Sinch's minimum)")
	case *failRate < 0 || *failRate > 1 || *failRate != *failRate:
		return fs.invalid("--renewal-failure-rate must be between 0 and 1")
	}
	res, err := sim.Run(ctx, sim.Config{Bots: *bots, Period: *period, InstanceTTL: *instanceTTL, RenewalFailureRate: *failRate, Seed: *seed})
	if err != nil {
		if ctx.Err() != nil {
			e.errorf("interrupted")
			return exitInterrupted
		}
		e.errorf("%v", err)
		return exitFail
	}
	if *asJSON {
		if err := json.NewEncoder(e.stdout).Encode(res); err != nil {
			e.errorf("%v", err)
			return exitFail
		}
	} else {
		w := e.stdout
		fmt.Fprintf(w, "simulate: %d bots, %v of mock time, instance TTL %v, renewal failure rate %g, seed %d\n",
			res.Bots, *period, *instanceTTL, res.RenewalFailureRate, res.Seed)
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
	if res.Failed > 0 {
		return exitFail
	}
	return exitOK
}

package sim

import (
	"context"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"testing"
	"time"
)

// TestProfileRenewals profiles the renewals of SIM_PROFILE_BOTS clients
// (SIM_PROFILE_PERIOD, default 2000h) without their start, into
// SIM_PROFILE_OUT: a tool for performance work, skipped unless asked for.
func TestProfileRenewals(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("SIM_PROFILE_BOTS"))
	if n == 0 {
		t.Skip("set SIM_PROFILE_BOTS to profile a simulation's renewals")
	}
	period := 2000 * time.Hour
	if p, err := time.ParseDuration(os.Getenv("SIM_PROFILE_PERIOD")); err == nil {
		period = p
	}
	out := os.Getenv("SIM_PROFILE_OUT")
	if out == "" {
		out = "cpu.out"
	}
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var started time.Time
	hooks = phaseHooks{
		onStarted: func() { started = time.Now(); _ = pprof.StartCPUProfile(f) },
		onEnded:   pprof.StopCPUProfile,
	}
	defer func() { hooks = phaseHooks{} }()
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	res, err := Run(context.Background(), Config{Bots: n, Period: period, InstanceTTL: 720 * time.Hour, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d renewals in %v after the start; %v s in all", res.Renewals, time.Since(started), res.WallSeconds)
}

package sim

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"
)

func TestProfileRun(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("SIMN"))
	if n == 0 {
		t.Skip()
	}
	ttl := 720 * time.Hour
	if os.Getenv("SIMTTL") != "" {
		ttl, _ = time.ParseDuration(os.Getenv("SIMTTL"))
	}
	period := 8760 * time.Hour
	if os.Getenv("SIMPERIOD") != "" {
		period, _ = time.ParseDuration(os.Getenv("SIMPERIOD"))
	}
	res, err := Run(context.Background(), Config{Bots: n, Period: period, InstanceTTL: ttl, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("renewals %d wall %v", res.Renewals, res.WallSeconds)
}

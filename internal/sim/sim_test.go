package sim

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sinchsim/sinchsim/registration"
)

func TestSmallSimulationIsExactAndReproducible(t *testing.T) {
	cfg := Config{Bots: 5, Period: 60 * 24 * time.Hour, InstanceTTL: 72 * time.Hour, RenewalFailureRate: 0.3, Seed: 7}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", a)
	if a.Renewals != b.Renewals || a.RenewalFailures != b.RenewalFailures || a.Expiries != b.Expiries || a.ReRegistrations != b.ReRegistrations {
		t.Fatalf("not reproducible:\n%+v\n%+v", a, b)
	}
}

// Every renewal fails: the instance expires and the bot registers anew.
func TestFailingRenewalsExpireAndReRegister(t *testing.T) {
	hourly := registration.DefaultRenewal{Backoff: registration.Backoff{Initial: time.Hour, Max: time.Hour, Jitter: -1}}
	res, err := Run(context.Background(), Config{Bots: 2, Period: 80 * time.Hour, InstanceTTL: 72 * time.Hour, RenewalFailureRate: 1, Seed: 1, Renewal: hourly})
	if err != nil {
		t.Fatal(err)
	}
	// Renewal due at 48h, retried hourly until the expiry at 72h: 24 failed
	// attempts per bot (the last retry coincides with the expiry).
	if res.Renewals != 0 || res.Expiries != 2 || res.ReRegistrations != 2 || res.Failed != 0 {
		t.Fatalf("%+v, want 2 expiries and 2 re-registrations", res)
	}
	if res.RenewalFailures < 48 || res.RenewalFailures > 50 {
		t.Fatalf("renewal failures %d, want 24-25 per bot", res.RenewalFailures)
	}
}

// A bot that cannot start makes Run fail, naming it, instead of
// simulating without it.
func TestStartFailureIsReported(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Run(ctx, Config{Bots: 2, Period: time.Hour, InstanceTTL: 72 * time.Hour})
	if err == nil || !strings.Contains(err.Error(), "bot ") {
		t.Fatalf("Run with bots that cannot start = %v, want an error naming the bots", err)
	}
}

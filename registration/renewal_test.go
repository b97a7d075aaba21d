package registration

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestDefaultRenewalRenewAt(t *testing.T) {
	const day = 24 * time.Hour
	issued := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		ttl  time.Duration
		want time.Duration // renew time as an offset from issued
	}{
		{"1 year renews 7d before expiry", 365 * day, 358 * day},
		{"30 days renews 7d before expiry", 30 * day, 23 * day},
		{"8 days exactly renews 7d before expiry", 8 * day, 1 * day},
		{"just under 8 days renews 24h before expiry", 8*day - time.Nanosecond, 7*day - time.Nanosecond},
		{"7 days renews 24h before expiry", 7 * day, 6 * day},
		{"48h renews 24h before expiry", 48 * time.Hour, 24 * time.Hour},
		{"24h exactly renews at issue", 24 * time.Hour, 0},
		{"12h: computed time before issued, renew at issue", 12 * time.Hour, 0},
		{"zero TTL renews at issue", 0, 0},
		{"expiry before issue renews at issue", -time.Hour, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DefaultRenewal{}.RenewAt(issued, issued.Add(tt.ttl))
			if want := issued.Add(tt.want); !got.Equal(want) {
				t.Errorf("RenewAt(issued, issued+%v) = issued+%v, want issued+%v", tt.ttl, got.Sub(issued), tt.want)
			}
		})
	}
}

func TestDefaultRenewalRetryDelayFollowsBackoff(t *testing.T) {
	b := Backoff{Initial: time.Second, Max: time.Minute, Multiplier: 3, Jitter: 0.5, Rand: rand.New(rand.NewPCG(7, 7)).Float64}
	p := DefaultRenewal{Backoff: b}
	ref := b
	ref.Rand = rand.New(rand.NewPCG(7, 7)).Float64
	for attempt := range 12 {
		if got, want := p.RetryDelay(attempt), ref.Delay(attempt); got != want {
			t.Errorf("RetryDelay(%d) = %v, want Backoff.Delay = %v", attempt, got, want)
		}
	}

	// The zero value uses the default backoff: first retry 500ms ±20%.
	if d := (DefaultRenewal{}).RetryDelay(0); d < 400*time.Millisecond || d > 600*time.Millisecond {
		t.Errorf("zero DefaultRenewal.RetryDelay(0) = %v, want within 500ms±20%%", d)
	}
}

func TestAtStartRenewal(t *testing.T) {
	const day = 24 * time.Hour
	issued := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		policy RenewalPolicy
		atOnly bool
	}{
		{"default renews on a timer", DefaultRenewal{}, false},
		{"at-start renews only at start", AtStartRenewal{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RenewsOnlyAtStart(tt.policy); got != tt.atOnly {
				t.Fatalf("RenewsOnlyAtStart = %v, want %v", got, tt.atOnly)
			}
			for _, ttl := range []time.Duration{48 * time.Hour, 30 * day, 365 * day} {
				if got, want := tt.policy.RenewAt(issued, issued.Add(ttl)), (DefaultRenewal{}).RenewAt(issued, issued.Add(ttl)); !got.Equal(want) {
					t.Errorf("RenewAt for %v = %v, want DefaultRenewal's %v", ttl, got, want)
				}
			}
		})
	}
	b := Backoff{Jitter: -1}
	if got, want := (AtStartRenewal{Backoff: b}).RetryDelay(3), b.Delay(3); got != want {
		t.Errorf("RetryDelay(3) = %v, want %v", got, want)
	}
}

package registration

import (
	"math"
	"math/rand/v2"
	"time"
)

// Backoff is an exponential backoff with symmetric jitter, used to space
// reconnect attempts and retries of failed renewals. Its zero value is ready
// to use: 500ms, 1s, 2s, 4s, … capped at 30s, each ±20%.
type Backoff struct {
	// Initial is the delay before the first retry. Zero or negative means
	// 500ms.
	Initial time.Duration
	// Max caps the delay before jitter is applied. Zero or negative means
	// 30s. An Initial above Max is capped to Max.
	Max time.Duration
	// Multiplier grows the delay after each attempt. Zero or negative means
	// 2; values between 0 and 1 are raised to 1 (a constant delay), so
	// delays never shrink.
	Multiplier float64
	// Jitter is the relative spread around the delay: 0.2 means the delay is
	// scaled by a factor drawn uniformly from [0.8, 1.2]. Zero means 0.2; a
	// negative value turns jitter off; values above 1 are capped to 1, so a
	// delay is never negative.
	Jitter float64
	// Rand returns a number in [0, 1) that picks the jitter factor; values
	// outside [0, 1] are clamped. Nil means math/rand/v2's Float64. Set it
	// to make delays deterministic (for example in simulations); a constant
	// 0.5 yields the unjittered delay.
	Rand func() float64
}

const (
	defaultInitial    = 500 * time.Millisecond
	defaultMax        = 30 * time.Second
	defaultMultiplier = 2.0
	defaultJitter     = 0.2
)

// Delay returns how long to wait before retry number attempt (0 is the first
// retry; negative counts as 0):
//
//	min(Initial × Multiplier^attempt, Max) × (1 + Jitter × (2×Rand() − 1))
//
// The result is never negative and never above Max × (1 + Jitter). Huge
// attempt numbers do not overflow: they give Max, jittered.
func (b Backoff) Delay(attempt int) time.Duration {
	initial, maxDelay := b.Initial, b.Max
	if initial <= 0 {
		initial = defaultInitial
	}
	if maxDelay <= 0 {
		maxDelay = defaultMax
	}
	initial = min(initial, maxDelay)
	mult := b.Multiplier
	switch {
	case mult <= 0 || math.IsNaN(mult):
		mult = defaultMultiplier
	case mult < 1:
		mult = 1
	}
	jitter := b.Jitter
	switch {
	case jitter == 0 || math.IsNaN(jitter):
		jitter = defaultJitter
	case jitter < 0:
		jitter = 0
	case jitter > 1:
		jitter = 1
	}
	attempt = max(attempt, 0)

	// Float arithmetic: math.Pow saturates to +Inf instead of wrapping.
	d := float64(initial) * math.Pow(mult, float64(attempt))
	if d > float64(maxDelay) || math.IsInf(d, 0) || math.IsNaN(d) {
		d = float64(maxDelay)
	}
	if jitter > 0 {
		rnd := b.Rand
		if rnd == nil {
			rnd = rand.Float64
		}
		r := rnd()
		if math.IsNaN(r) {
			r = 0.5
		}
		r = min(max(r, 0), 1)
		d *= 1 + jitter*(2*r-1)
	}
	return toDuration(d, float64(maxDelay)*(1+jitter))
}

// toDuration converts d to a Duration in [0, upper], without the undefined
// float-to-int conversion for values beyond int64.
func toDuration(d, upper float64) time.Duration {
	d = min(max(d, 0), upper)
	if d >= math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(d)
}

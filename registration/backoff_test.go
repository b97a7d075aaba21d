package registration

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func constRand(v float64) func() float64 { return func() float64 { return v } }

func TestBackoffSequence(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name string
		b    Backoff
		want []time.Duration
	}{
		{
			name: "zero value, unjittered draw",
			b:    Backoff{Rand: constRand(0.5)},
			want: []time.Duration{500 * ms, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second},
		},
		{
			name: "negative jitter disables jitter",
			b:    Backoff{Jitter: -1, Rand: constRand(0)},
			want: []time.Duration{500 * ms, time.Second, 2 * time.Second, 4 * time.Second},
		},
		{
			name: "custom",
			b:    Backoff{Initial: 100 * ms, Max: time.Second, Multiplier: 3, Jitter: -1},
			want: []time.Duration{100 * ms, 300 * ms, 900 * ms, time.Second, time.Second},
		},
		{
			name: "multiplier below 1 gives a constant delay",
			b:    Backoff{Initial: 100 * ms, Multiplier: 0.5, Jitter: -1},
			want: []time.Duration{100 * ms, 100 * ms, 100 * ms},
		},
		{
			name: "initial above max is capped",
			b:    Backoff{Initial: time.Minute, Max: time.Second, Jitter: -1},
			want: []time.Duration{time.Second, time.Second},
		},
		{
			name: "lowest draw is -20%",
			b:    Backoff{Rand: constRand(0)},
			want: []time.Duration{400 * ms, 800 * ms, 1600 * ms},
		},
		{
			name: "highest draw is +20%",
			b:    Backoff{Rand: constRand(1)},
			want: []time.Duration{600 * ms, 1200 * ms, 2400 * ms},
		},
		{
			name: "out-of-range draws are clamped",
			b:    Backoff{Rand: constRand(-5)},
			want: []time.Duration{400 * ms, 800 * ms},
		},
		{
			name: "jitter above 1 is capped at 1, never negative",
			b:    Backoff{Jitter: 5, Rand: constRand(0)},
			want: []time.Duration{0, 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []time.Duration
			for attempt := range tt.want {
				got = append(got, tt.b.Delay(attempt))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("delays = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestBackoffExtremeAttempts(t *testing.T) {
	attempts := []int{-1, math.MinInt, 62, 63, 64, 1000, 1 << 40, math.MaxInt}
	for _, attempt := range attempts {
		if got := (Backoff{Rand: constRand(0.5)}).Delay(attempt); attempt < 0 && got != 500*time.Millisecond ||
			attempt >= 0 && got != 30*time.Second {
			t.Errorf("Delay(%d) = %v", attempt, got)
		}
	}
	// A Max near the int64 limit, with full jitter and the highest draw,
	// must not wrap around.
	b := Backoff{Initial: time.Hour, Max: math.MaxInt64, Jitter: 1, Rand: constRand(1)}
	for _, attempt := range attempts {
		if got := b.Delay(attempt); got < 0 {
			t.Errorf("Delay(%d) = %v, want non-negative", attempt, got)
		}
	}
	if got := b.Delay(math.MaxInt); got != math.MaxInt64 {
		t.Errorf("Delay(MaxInt) = %v, want MaxInt64", got)
	}
}

func TestBackoffRandomBounds(t *testing.T) {
	for _, b := range []Backoff{
		{},
		{Initial: time.Millisecond, Max: time.Hour, Multiplier: 1.5, Jitter: 0.9},
	} {
		for i := range 5000 {
			attempt := i % 40
			unjittered := b
			unjittered.Rand = constRand(0.5)
			base := float64(unjittered.Delay(attempt))
			j := b.Jitter
			if j == 0 {
				j = 0.2
			}
			maxDelay := b.Max
			if maxDelay == 0 {
				maxDelay = 30 * time.Second
			}
			d := b.Delay(attempt)
			lo, hi := time.Duration(base*(1-j)), time.Duration(base*(1+j))
			if d < lo-1 || d > hi+1 || d < 0 || d > time.Duration(float64(maxDelay)*(1+j)) {
				t.Fatalf("%+v Delay(%d) = %v, want within [%v, %v]", b, attempt, d, lo, hi)
			}
		}
	}
}

func TestBackoffDeterministic(t *testing.T) {
	seq := func() []time.Duration {
		b := Backoff{Rand: rand.New(rand.NewPCG(1, 2)).Float64}
		var out []time.Duration
		for attempt := range 50 {
			out = append(out, b.Delay(attempt))
		}
		return out
	}
	first := seq()
	for range 10 {
		if got := seq(); !slices.Equal(got, first) {
			t.Fatalf("same Rand gave different delays:\n%v\n%v", got, first)
		}
	}
}

func FuzzBackoffDelay(f *testing.F) {
	f.Add(int64(0), int64(0), 0.0, 0.0, 0.5, 0)
	f.Add(int64(time.Hour), int64(math.MaxInt64), 1e308, 1.0, 1.0, math.MaxInt)
	f.Add(int64(-1), int64(-1), -2.0, -1.0, math.NaN(), math.MinInt)
	f.Add(int64(1), int64(2), math.Inf(1), math.Inf(1), math.Inf(-1), 7)
	f.Fuzz(func(t *testing.T, initial, maxDelay int64, mult, jitter, r float64, attempt int) {
		b := Backoff{
			Initial: time.Duration(initial), Max: time.Duration(maxDelay),
			Multiplier: mult, Jitter: jitter, Rand: constRand(r),
		}
		d := b.Delay(attempt)
		effMax := time.Duration(maxDelay)
		if effMax <= 0 {
			effMax = 30 * time.Second
		}
		// Jitter is capped at 1, so twice the cap bounds every delay.
		upper := float64(effMax) * 2
		if d < 0 || float64(d) > upper {
			t.Fatalf("%+v Delay(%d) = %v, want within [0, %v]", b, attempt, d, time.Duration(min(upper, math.MaxInt64)))
		}
		if d2 := b.Delay(attempt); d2 != d {
			t.Fatalf("Delay not deterministic with a fixed Rand: %v then %v", d, d2)
		}
	})
}

package sim

import (
	"sync/atomic"
	"time"
)

// Counters of the per-day series.
const (
	cRenewals = iota
	cCyclesFailed
	cRetries
	cExpiries
	cReRegistrations
	nCounts
)

// Series counted per hour and per day: clients that were in that state at
// some time during the hour or day.
const (
	sRenewing = iota
	sUnregistered
	nSeries
)

// timeline collects the per-hour and per-day series from every client at
// once, without a lock: counters, and difference arrays over which the
// spans of time are summed at the end.
type timeline struct {
	start  time.Time
	period time.Duration
	nh, nd int

	counts  [nCounts][]atomic.Int64 // per day
	expHour []atomic.Int64          // expiries per hour
	unregNs []atomic.Int64          // per day: unregistered time, nanoseconds
	hours   [nSeries][]atomic.Int64 // difference arrays, len nh+1
	days    [nSeries][]atomic.Int64 // len nd+1
	// reg is a difference array over the hour ends k = 1..nh (the instant
	// min(k hours, period)): the clients registered at that instant.
	reg []atomic.Int64 // len nh+2
}

func newTimeline(start time.Time, period time.Duration) *timeline {
	t := &timeline{start: start, period: period}
	t.nh = int((period + time.Hour - 1) / time.Hour)
	t.nd = int((period + 24*time.Hour - 1) / (24 * time.Hour))
	for k := range t.counts {
		t.counts[k] = make([]atomic.Int64, t.nd)
	}
	t.unregNs = make([]atomic.Int64, t.nd)
	t.expHour = make([]atomic.Int64, t.nh)
	for k := range t.hours {
		t.hours[k] = make([]atomic.Int64, t.nh+1)
		t.days[k] = make([]atomic.Int64, t.nd+1)
	}
	t.reg = make([]atomic.Int64, t.nh+2)
	return t
}

// off returns at − start, clamped to [0, period].
func (t *timeline) off(at time.Time) time.Duration {
	return min(max(at.Sub(t.start), 0), t.period)
}

func (t *timeline) day(at time.Time) int { return min(int(t.off(at)/(24*time.Hour)), t.nd-1) }

// count adds n to counter k on the day of at (and expiries to their hour).
func (t *timeline) count(at time.Time, k, n int) {
	t.counts[k][t.day(at)].Add(int64(n))
	if k == cExpiries {
		t.expHour[min(int(t.off(at)/time.Hour), t.nh-1)].Add(int64(n))
	}
}

// bucket returns the first and last bucket of unit that [a, b) touches, or
// the bucket of a when b == a.
func (t *timeline) bucket(a, b time.Time, unit time.Duration, n int) (int, int) {
	oa, ob := t.off(a), t.off(b)
	first := min(int(oa/unit), n-1)
	last := first
	if ob > oa {
		last = min(int((ob-1)/unit), n-1)
	}
	return first, last
}

// span counts bot b in series s for every hour and day that [from, to)
// touches (the instant from when to == from), once per bot and bucket.
func (t *timeline) span(b *bot, s int, from, to time.Time) {
	h0, h1 := t.bucket(from, to, time.Hour, t.nh)
	if h0 = max(h0, b.lastHour[s]+1); h0 <= h1 {
		t.hours[s][h0].Add(1)
		t.hours[s][h1+1].Add(-1)
		b.lastHour[s] = h1
	}
	d0, d1 := t.bucket(from, to, 24*time.Hour, t.nd)
	if d0 = max(d0, b.lastDay[s]+1); d0 <= d1 {
		t.days[s][d0].Add(1)
		t.days[s][d1+1].Add(-1)
		b.lastDay[s] = d1
	}
}

// registered counts a client registered over [from, to); a zero to means
// until the end.
func (t *timeline) registered(from, to time.Time) {
	ceil := func(d time.Duration) int { return int((d + time.Hour - 1) / time.Hour) }
	k0 := max(ceil(t.off(from)), 1)
	k1 := t.nh
	if !to.IsZero() {
		k1 = ceil(t.off(to)) - 1
	}
	if k0 <= k1 {
		t.reg[k0].Add(1)
		t.reg[k1+1].Add(-1)
	}
}

// unregSeconds adds the unregistered stretch [from, to) to the days it
// overlaps.
func (t *timeline) unregSeconds(from, to time.Time) {
	a, b := t.off(from), t.off(to)
	const day = 24 * time.Hour
	for d := int(a / day); a < b && d < t.nd; d++ {
		end := min(time.Duration(d+1)*day, b)
		t.unregNs[d].Add(int64(end - a))
		a = end
	}
}

// series sums everything up.
func (t *timeline) series() ([]Day, []Hour) {
	hours := make([]Hour, t.nh)
	var run [nSeries]int64
	var reg int64
	regAt := make([]int, t.nh+1) // by hour end k
	for h := range hours {
		for s := range run {
			run[s] += t.hours[s][h].Load()
		}
		reg += t.reg[h+1].Load()
		regAt[h+1] = int(reg)
		hours[h] = Hour{Registered: int(reg), Renewing: int(run[sRenewing]), Unregistered: int(run[sUnregistered]),
			Expiries: int(t.expHour[h].Load())}
	}
	days := make([]Day, t.nd)
	run = [nSeries]int64{}
	for d := range days {
		for s := range run {
			run[s] += t.days[s][d].Load()
		}
		days[d] = Day{
			Day: d + 1, Date: t.start.Add(time.Duration(d) * 24 * time.Hour).Format("2006-01-02"),
			Registered: regAt[min(24*(d+1), t.nh)], Renewing: int(run[sRenewing]), Unregistered: int(run[sUnregistered]),
			Renewals: int(t.counts[cRenewals][d].Load()), RenewalCyclesFailed: int(t.counts[cCyclesFailed][d].Load()),
			Retries: int(t.counts[cRetries][d].Load()), Expiries: int(t.counts[cExpiries][d].Load()),
			ReRegistrations:     int(t.counts[cReRegistrations][d].Load()),
			UnregisteredSeconds: float64(t.unregNs[d].Load()) / 1e9,
		}
	}
	return days, hours
}

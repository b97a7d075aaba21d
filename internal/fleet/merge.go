package fleet

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/sinchsim/sinchsim/internal/callcount"
)

// Histogram counts latencies to the microsecond: Microseconds[k] was seen
// Counts[k] times, Microseconds ascending. Percentiles taken from it are
// those of the latencies themselves (to the microsecond), and from merged
// histograms those of every run together.
type Histogram struct {
	Microseconds []int64 `json:"us"`
	Counts       []int64 `json:"counts"`
}

func histogramOf(m map[int64]int64) Histogram {
	h := Histogram{Microseconds: make([]int64, 0, len(m)), Counts: make([]int64, 0, len(m))}
	for _, us := range slices.Sorted(maps.Keys(m)) {
		h.Microseconds = append(h.Microseconds, us)
		h.Counts = append(h.Counts, m[us])
	}
	return h
}

// total is the number of latencies counted.
func (h Histogram) total() int64 {
	var n int64
	for _, c := range h.Counts {
		n += c
	}
	return n
}

// percentile is the nearest-rank percentile p, in milliseconds (0 when
// the histogram is empty).
func (h Histogram) percentile(p int) float64 {
	n := h.total()
	if n == 0 {
		return 0
	}
	rank := max((int64(p)*n+99)/100, 1)
	var seen int64
	for k, c := range h.Counts {
		if seen += c; seen >= rank {
			return float64(h.Microseconds[k]) / 1000
		}
	}
	return float64(h.Microseconds[len(h.Microseconds)-1]) / 1000
}

// addTo adds h's counts to m (microseconds -> count).
func (h Histogram) addTo(m map[int64]int64) {
	for i, us := range h.Microseconds {
		m[us] += h.Counts[i]
	}
}

func (h Histogram) latency() Latency {
	return Latency{P50: h.percentile(50), P95: h.percentile(95), P99: h.percentile(99)}
}

// valid reports whether h is well formed: as many counts as values,
// values strictly ascending, counts positive.
func (h Histogram) valid() bool {
	if len(h.Microseconds) != len(h.Counts) {
		return false
	}
	for k := range h.Counts {
		if h.Counts[k] <= 0 || h.Microseconds[k] < 0 || (k > 0 && h.Microseconds[k] <= h.Microseconds[k-1]) {
			return false
		}
	}
	return true
}

// Merge adds up the results of fleets that ran at the same time (worker
// processes, or several machines against one backend) into one. Counts
// add up; percentiles come from the merged histograms, so they are exact;
// the registration rate is every start over the longest registration
// phase. A result whose histogram does not hold its started clients is an
// error: it does not come from sinchsim bots --json.
func Merge(results ...Result) (Result, error) {
	if len(results) == 0 {
		return Result{}, errors.New("no results to merge")
	}
	out := Result{FailuresByCode: map[string]int{}, FailuresAfterStartByCode: map[string]int{}, FailureExamples: map[string]string{}}
	h := map[int64]int64{}
	calls := callMerge{setup: map[int64]int64{}}
	var elapsed float64
	for k, r := range results {
		if !r.LatencyHistogram.valid() || r.LatencyHistogram.total() != int64(r.Started) {
			return Result{}, fmt.Errorf("result %d: its latency histogram does not hold its %d started clients", k+1, r.Started)
		}
		if c := r.Calls; c != nil && !c.SetupLatencyHistogram.valid() {
			return Result{}, fmt.Errorf("result %d: its call setup histogram is malformed", k+1)
		}
		out.Clients += r.Clients
		out.Started += r.Started
		out.InstancesCreated += r.InstancesCreated
		out.Reauthenticated += r.Reauthenticated
		out.Failed += r.Failed
		out.FailedAfterStart += r.FailedAfterStart
		out.Expiries += r.Expiries
		out.ConnectionLosses += r.ConnectionLosses
		out.RegisteredAgain += r.RegisteredAgain
		out.MemoryInUseBytes += r.MemoryInUseBytes
		for c, n := range r.FailuresByCode {
			out.FailuresByCode[c] += n
		}
		for c, n := range r.FailuresAfterStartByCode {
			out.FailuresAfterStartByCode[c] += n
		}
		for c, ex := range r.FailureExamples {
			if _, ok := out.FailureExamples[c]; !ok {
				out.FailureExamples[c] = ex // the first result's example of a code
			}
		}
		g, m := &out.GrantedInstanceTTL, r.GrantedInstanceTTL
		if m.Limited > 0 {
			if g.Limited == 0 || m.MinSeconds < g.MinSeconds {
				g.MinSeconds = m.MinSeconds
			}
			g.MaxSeconds = max(g.MaxSeconds, m.MaxSeconds)
		}
		g.Limited += m.Limited
		g.Unlimited += m.Unlimited
		r.LatencyHistogram.addTo(h)
		calls.add(r.Calls)
		elapsed = max(elapsed, r.ElapsedSeconds)
	}
	out.LatencyHistogram = histogramOf(h)
	out.LatencyMs = out.LatencyHistogram.latency()
	out.Calls = calls.result()
	out.ElapsedSeconds = elapsed
	if elapsed > 0 {
		out.RegistrationsPerSecond = float64(out.Started) / elapsed
	}
	return out, nil
}

// callMerge adds up the call summaries of several runs.
type callMerge struct {
	sum   *CallSummary
	setup map[int64]int64
}

func (m *callMerge) add(c *CallSummary) {
	if c == nil {
		return
	}
	if m.sum == nil {
		m.sum = &CallSummary{Counts: callcount.Counts{FailedByCause: map[string]int{}}}
	}
	m.sum.Add(c.Counts)
	c.SetupLatencyHistogram.addTo(m.setup)
}

// result is the merged summary (nil when no run placed calls).
func (m *callMerge) result() *CallSummary {
	if m.sum == nil {
		return nil
	}
	m.sum.SetupLatencyHistogram = histogramOf(m.setup)
	m.sum.SetupLatencyMs = m.sum.SetupLatencyHistogram.latency()
	return m.sum
}

package fleet

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/sinchsim/sinchsim/client"
	"github.com/sinchsim/sinchsim/internal/callcount"
)

// TestMergeIsExact: results split over several runs and merged have the
// percentiles and counts of one run over everything.
func TestMergeIsExact(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		name  string
		n     int
		parts int
	}{
		{"one part", 100, 1},
		{"three parts", 3001, 3},
		{"uneven", 17, 5},
		{"many", 20000, 8},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			all := make([]outcome, tc.n)
			for i := range all {
				o := outcome{started: i%7 != 0, created: i%2 == 0, reauth: i%2 == 1, latency: time.Duration(rnd.ExpFloat64() * float64(20*time.Millisecond)),
					final: client.Stats{Expiries: i % 3, ConnectionLosses: i % 4, InstancesCreated: i % 3}}
				if i%5 == 0 {
					o.limited, o.ttl = true, time.Duration(24+i%48)*time.Hour
				}
				if i%11 == 0 {
					o.b = &bot{code: "instance_revoked", message: "revoked"}
				}
				if !o.started {
					o = outcome{code: "timeout", message: "slow"}
				}
				all[i] = o
			}
			want := summarize(all)
			var parts []Result
			for p := range tc.parts {
				var mine []outcome
				for i := p; i < tc.n; i += tc.parts {
					mine = append(mine, all[i])
				}
				r := summarize(mine)
				// Through JSON, as bots merge reads them.
				b, err := json.Marshal(r)
				if err != nil {
					t.Fatal(err)
				}
				var back Result
				if err := json.Unmarshal(b, &back); err != nil {
					t.Fatal(err)
				}
				back.MemoryInUseBytes = uint64(1000 * (p + 1))
				want.MemoryInUseBytes += back.MemoryInUseBytes
				parts = append(parts, back)
			}
			got, err := Merge(parts...)
			if err != nil {
				t.Fatal(err)
			}
			if got.LatencyMs != want.LatencyMs {
				t.Fatalf("merged percentiles %+v, want %+v", got.LatencyMs, want.LatencyMs)
			}
			if !reflect.DeepEqual(got.LatencyHistogram, want.LatencyHistogram) {
				t.Fatal("merged histogram differs")
			}
			// Every count: the whole result but the rate and the times.
			got.RegistrationsPerSecond, got.ElapsedSeconds = 0, 0
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("merged\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

func TestMergeRate(t *testing.T) {
	a := summarize([]outcome{{started: true, latency: time.Millisecond}, {started: true, latency: 2 * time.Millisecond}})
	b := summarize([]outcome{{started: true, latency: 3 * time.Millisecond}})
	a.ElapsedSeconds, b.ElapsedSeconds = 2, 1
	got, err := Merge(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if got.RegistrationsPerSecond != 1.5 || got.ElapsedSeconds != 2 {
		t.Fatalf("rate %v over %vs, want 1.5 over 2s (concurrent runs)", got.RegistrationsPerSecond, got.ElapsedSeconds)
	}
	if got.LatencyMs != (Latency{P50: 2, P95: 3, P99: 3}) {
		t.Fatalf("latency %+v", got.LatencyMs)
	}
}

func TestMergeRefusesBadInput(t *testing.T) {
	good := summarize([]outcome{{started: true, latency: time.Millisecond}})
	tests := []struct {
		name string
		r    Result
	}{
		{"no histogram", Result{Started: 3}},
		{"short counts", Result{Started: 1, LatencyHistogram: Histogram{Microseconds: []int64{1, 2}, Counts: []int64{1}}}},
		{"unsorted", Result{Started: 2, LatencyHistogram: Histogram{Microseconds: []int64{5, 2}, Counts: []int64{1, 1}}}},
		{"zero count", Result{Started: 1, LatencyHistogram: Histogram{Microseconds: []int64{1, 2}, Counts: []int64{1, 0}}}},
		{"short call setup counts", Result{Started: 1, LatencyHistogram: Histogram{Microseconds: []int64{1}, Counts: []int64{1}},
			Calls: &CallSummary{Counts: callcount.Counts{Placed: 2}, SetupLatencyHistogram: Histogram{Microseconds: []int64{1, 2}, Counts: []int64{1}}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Merge(good, tc.r); err == nil {
				t.Fatal("merged a result that is not one")
			}
		})
	}
	if _, err := Merge(); err == nil {
		t.Fatal("merged nothing")
	}
}

// The calls of several runs add up, and their setup percentiles come from
// the merged histograms.
func TestMergeCalls(t *testing.T) {
	one := func(placed, answered int, cause string, us ...int64) Result {
		r := summarize([]outcome{{started: true, latency: time.Millisecond}})
		m := map[int64]int64{}
		for _, u := range us {
			m[u]++
		}
		h := histogramOf(m)
		r.Calls = &CallSummary{Counts: callcount.Counts{Placed: placed, Answered: answered, Failed: placed - answered,
			FailedByCause: map[string]int{cause: placed - answered}}, SetupLatencyHistogram: h, SetupLatencyMs: h.latency()}
		return r
	}
	got, err := Merge(one(3, 2, "no_answer", 1000, 2000), one(2, 2, "declined", 3000, 4000), summarize([]outcome{{started: true, latency: time.Millisecond}}))
	if err != nil {
		t.Fatal(err)
	}
	c := got.Calls
	if c == nil || c.Placed != 5 || c.Answered != 4 || c.Failed != 1 || !reflect.DeepEqual(c.FailedByCause, map[string]int{"no_answer": 1, "declined": 0}) {
		t.Fatalf("merged calls %+v", c)
	}
	if c.SetupLatencyMs != (Latency{P50: 2, P95: 4, P99: 4}) {
		t.Fatalf("merged setup latency %+v", c.SetupLatencyMs)
	}
	if got, _ := Merge(summarize([]outcome{{started: true, latency: time.Millisecond}})); got.Calls != nil {
		t.Fatalf("calls from runs without calls: %+v", got.Calls)
	}
}

// A code's example in the merged result is the first result's that has
// one, as one run keeps the example of its first failure.
func TestMergeKeepsTheFirstExample(t *testing.T) {
	a := summarize([]outcome{{code: "timeout", message: "slow at a"}, {started: true}})
	b := summarize([]outcome{{code: "timeout", message: "slow at b"}, {code: "signature_invalid", message: "bad key at b"}})
	for _, tc := range []struct {
		parts []Result
		want  map[string]string
	}{
		{[]Result{a, b}, map[string]string{"timeout": "slow at a", "signature_invalid": "bad key at b"}},
		{[]Result{b, a}, map[string]string{"timeout": "slow at b", "signature_invalid": "bad key at b"}},
	} {
		got, err := Merge(tc.parts...)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.FailureExamples, tc.want) {
			t.Errorf("examples %v, want %v", got.FailureExamples, tc.want)
		}
	}
}

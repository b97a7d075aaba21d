package fleet

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/fakebackend"
	"github.com/sinchsim/sinchsim/internal/callcount"
)

// TestRunCalls: bots online for a while call each other; every call is
// answered and hung up, its setup latency measured.
func TestRunCalls(t *testing.T) {
	srv := fakebackend.RunT(t, fakebackend.Config{Clock: clock.New(), Policy: fakebackend.Policy{MaxCallsPerMinute: -1, MaxConcurrentCalls: -1}})
	app := srv.Application()
	p, err := credentials.NewSelfSignedProvider(credentials.MinterConfig{ApplicationKey: app.Key, Secret: app.Secret})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := Run(ctx, Config{
		URL: srv.URL(), ApplicationKey: app.Key, Provider: p, N: 4, Concurrency: 4, Duration: time.Second, UserPrefix: "bot-",
		CallsPerMinute: 600, AnswerDelay: 20 * time.Millisecond, HoldTime: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	c := res.Calls
	if c == nil || c.Placed == 0 || c.Answered != c.Placed || c.Failed != 0 || len(c.FailedByCause) != 0 {
		t.Fatalf("calls %+v", c)
	}
	if c.SetupLatencyMs.P50 <= 0 || c.SetupLatencyMs.P99 < c.SetupLatencyMs.P50 {
		t.Fatalf("setup latency %+v", c.SetupLatencyMs)
	}
	if res.Failures() != 0 {
		t.Fatalf("failures %d: %+v", res.Failures(), res)
	}
	var ended int
	for _, e := range srv.Events() {
		if e.Kind == fakebackend.KindCallEnd {
			ended++
			if e.Code != "hung_up" {
				t.Errorf("a call ended with %s", e.Code)
			}
		}
	}
	if ended != c.Placed {
		t.Fatalf("%d calls ended at the backend, %d placed", ended, c.Placed)
	}
}

// TestRunCallsCountFailures: calls the backend refuses, or that nobody can
// answer, are failures by cause, and make the run fail.
func TestRunCallsCountFailures(t *testing.T) {
	// One call a minute per user: the second call of a bot is refused.
	srv := fakebackend.RunT(t, fakebackend.Config{Clock: clock.New(), Policy: fakebackend.Policy{MaxCallsPerMinute: 1}})
	app := srv.Application()
	p, err := credentials.NewSelfSignedProvider(credentials.MinterConfig{ApplicationKey: app.Key, Secret: app.Secret})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), Config{
		URL: srv.URL(), ApplicationKey: app.Key, Provider: p, N: 2, Concurrency: 2, Duration: 500 * time.Millisecond, UserPrefix: "bot-",
		CallsPerMinute: 1200, AnswerDelay: time.Millisecond, HoldTime: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	c := res.Calls
	if c == nil || c.Answered > 2 || c.Failed != c.Placed-c.Answered || c.FailedByCause["call_rate_exceeded"] == 0 || c.Failed != c.FailedByCause["call_rate_exceeded"] {
		t.Fatalf("calls %+v", c)
	}
	if res.Failures() != c.Failed {
		t.Fatalf("failures %d, want the %d failed calls", res.Failures(), c.Failed)
	}
}

// The calls of `bots --json` keep their fields at the top level of
// "calls", in this order: the counts, then the setup latencies.
func TestCallSummaryJSONIsFlat(t *testing.T) {
	b, err := json.Marshal(CallSummary{Counts: callcount.Counts{Placed: 2, Answered: 1, Failed: 1, FailedByCause: map[string]int{"no_answer": 1}}})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"placed":2,"answered":1,"failed":1,"failedByCause":{"no_answer":1},` +
		`"setupLatencyMs":{"p50":0,"p95":0,"p99":0},"setupLatencyHistogram":{"us":null,"counts":null}}`
	if string(b) != want {
		t.Fatalf("JSON %s, want %s", b, want)
	}
}

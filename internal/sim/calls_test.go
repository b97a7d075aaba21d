package sim

import (
	"fmt"
	"reflect"
	"testing"
	"time"
)

// Calls under an auth outage, worked out without the simulator: a client
// that lost its instance to the outage (expectedExpiries) is unregistered
// from its expiry until the outage ends and its next start succeeds (the
// start backoff is at most 30 s, ±20 %); a call it places meanwhile fails
// with not_started, a call to it with callee_unavailable. Every other
// call is answered. Call i of client b goes at the end of the stagger +
// (b+½)/n of the interval + i intervals, to the callee drawn from the seed
// as placeCall does.
func TestCallsShowExpiriesAsFailedCalls(t *testing.T) {
	const n = 8
	stagger, ttl, period := 48*time.Hour, 72*time.Hour, 20*day
	start, length := 240*time.Hour, 36*time.Hour
	cfg := Config{Bots: n, Period: period, InstanceTTL: ttl, Stagger: stagger, Seed: 5,
		Outages: []Window{{start, length}}, CallsPerDay: 24}
	res := run(t, cfg)

	unreg := map[string][2]time.Duration{}
	for _, e := range expectedExpiries(n, stagger, ttl, start, length, period) {
		unreg[e.user] = [2]time.Duration{e.at, start + length}
	}
	if len(unreg) == 0 {
		t.Fatal("the scenario expires nobody")
	}
	const backoff = 37 * time.Second // the start backoff's bound, jitter included, with a margin
	every := day / 24
	want := Calls{FailedByCause: map[string]int{}}
	for b := range n {
		user := fmt.Sprintf("sim-%d", b)
		k := 0
		for at := stagger + time.Duration(float64(every)*(float64(b)+0.5)/n); at < period; at += every {
			k++
			callee := (b + 1 + int(draw(cfg.Seed^0x63616c6c, b, k)*float64(n-1))) % n
			calleeUser := fmt.Sprintf("sim-%d", callee)
			for _, u := range []string{user, calleeUser} {
				if w, ok := unreg[u]; ok && at >= w[1] && at < w[1]+backoff {
					t.Fatalf("call %d of %s at start+%v falls in the start backoff after the outage: choose other parameters", k, user, at)
				}
			}
			want.Placed++
			if w, ok := unreg[user]; ok && at >= w[0] && at < w[1] {
				want.Failed++
				want.FailedByCause["not_started"]++
				continue
			}
			if w, ok := unreg[calleeUser]; ok && at >= w[0] && at < w[1] {
				want.Failed++
				want.FailedByCause["callee_unavailable"]++
				continue
			}
			want.Answered++
		}
	}
	if res.Calls == nil || !reflect.DeepEqual(*res.Calls, want) {
		t.Fatalf("calls %+v, want %+v", res.Calls, want)
	}
	if want.FailedByCause["not_started"] == 0 || want.FailedByCause["callee_unavailable"] == 0 {
		t.Fatalf("the scenario shows only some causes: %+v", want)
	}
	if again := run(t, cfg); !reflect.DeepEqual(again.Calls, res.Calls) {
		t.Fatalf("a seeded run does not replay its calls: %+v, then %+v", res.Calls, again.Calls)
	}
}

// Without an outage every call is answered, also with staggered starts.
func TestCallsWithoutOutageAllAnswered(t *testing.T) {
	res := run(t, Config{Bots: 6, Period: 5 * day, InstanceTTL: 72 * time.Hour, CallsPerDay: 12})
	if c := res.Calls; c == nil || c.Placed != 6*5*12 || c.Answered != c.Placed || c.Failed != 0 {
		t.Fatalf("calls %+v, want %d placed, all answered", res.Calls, 6*5*12)
	}
	res = run(t, Config{Bots: 6, Period: 5 * day, InstanceTTL: 72 * time.Hour, CallsPerDay: 12, Stagger: 2 * day})
	if c := res.Calls; c == nil || c.Placed != 6*3*12 || c.Answered != c.Placed || c.Failed != 0 {
		t.Fatalf("calls with staggered starts %+v, want %d placed, all answered", res.Calls, 6*3*12)
	}
	if res := run(t, Config{Bots: 2, Period: 2 * day, InstanceTTL: 72 * time.Hour}); res.Calls != nil {
		t.Fatalf("calls without CallsPerDay: %+v", res.Calls)
	}
}

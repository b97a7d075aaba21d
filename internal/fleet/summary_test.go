package fleet

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sinchsim/sinchsim/client"
)

func TestSummarize(t *testing.T) {
	var outs []outcome
	for i := 1; i <= 100; i++ { // latencies 1 ms ... 100 ms
		outs = append(outs, outcome{started: true, created: i%2 == 0, reauth: i%2 == 1, latency: time.Duration(i) * time.Millisecond})
	}
	outs = append(outs, outcome{code: "signature_invalid", message: "first"}, outcome{code: "signature_invalid", message: "second"}, outcome{})
	r := summarize(outs)
	if r.Clients != 103 || r.Started != 100 || r.InstancesCreated != 50 || r.Reauthenticated != 50 || r.Failed != 3 {
		t.Fatalf("counts %+v", r)
	}
	if r.FailuresByCode["signature_invalid"] != 2 || r.FailuresByCode["not_started"] != 1 {
		t.Fatalf("failures %v", r.FailuresByCode)
	}
	// One example per code, the first one met; none for a code without a message.
	if len(r.FailureExamples) != 1 || r.FailureExamples["signature_invalid"] != "first" {
		t.Fatalf("examples %v", r.FailureExamples)
	}
	// Nearest rank over the started clients only.
	if r.LatencyMs != (Latency{P50: 50, P95: 95, P99: 99}) {
		t.Fatalf("latency %+v", r.LatencyMs)
	}
	if got := summarize(nil); got.LatencyMs != (Latency{}) || got.Clients != 0 || got.Failures() != 0 {
		t.Fatalf("empty fleet %+v", got)
	}
}

// After the start: failures reported by OnClientFailed, expiries from the
// clients' stats and the TTLs granted.
func TestSummarizeAfterStart(t *testing.T) {
	on := &online{gone: make(chan struct{}, 1)}
	revoked := &bot{on: on}
	revoked.markStarted()
	revoked.failed(&client.Error{Code: "instance_not_found", Message: "the backend revoked the instance: the instance was revoked"})
	revoked.failed(errors.New("a second failure is not counted"))
	if on.n.Load() != 0 {
		t.Fatalf("online = %d after the only bot failed", on.n.Load())
	}
	// A failure reported before the fleet saw the start still counts once.
	early := &bot{on: on}
	early.failed(&client.Error{Code: client.CodeConnectionFailed, Message: "gave up after 10 reconnect attempts",
		Err: &client.Error{Code: client.CodeConnectionFailed, Message: "could not connect", Err: fmt.Errorf("transport: dial ws://x: refused")}})
	early.markStarted()
	if on.n.Load() != 0 {
		t.Fatalf("online = %d, want 0", on.n.Load())
	}
	fine := &bot{on: on}
	fine.markStarted()

	day := 24 * time.Hour
	outs := []outcome{
		{started: true, b: revoked, limited: true, ttl: 3 * day, final: client.Stats{Expiries: 1}},
		{started: true, b: early, limited: true, ttl: 2 * day},
		{started: true, b: fine, final: client.Stats{Expiries: 2}},
	}
	r := summarize(outs)
	if r.FailedAfterStart != 2 || r.FailuresAfterStartByCode["instance_not_found"] != 1 || r.FailuresAfterStartByCode[client.CodeConnectionFailed] != 1 || r.Failed != 0 {
		t.Fatalf("failures after start %+v", r)
	}
	if r.Expiries != 3 || r.Failures() != 5 {
		t.Fatalf("expiries %d, failures %d", r.Expiries, r.Failures())
	}
	if got := r.FailureExamples["instance_not_found"]; got != "the backend revoked the instance: the instance was revoked" {
		t.Errorf("example %q", got)
	}
	if got := r.FailureExamples[client.CodeConnectionFailed]; got != "gave up after 10 reconnect attempts: could not connect: dial ws://x: refused" {
		t.Errorf("example %q", got)
	}
	if r.GrantedInstanceTTL != (GrantedTTL{Limited: 2, MinSeconds: 2 * 86400, MaxSeconds: 3 * 86400, Unlimited: 1}) {
		t.Errorf("granted %+v", r.GrantedInstanceTTL)
	}
}

func TestFailureMessage(t *testing.T) {
	for _, tc := range []struct {
		err        error
		code, want string
	}{
		{&client.Error{Code: client.CodeRegistrationFailed, Message: "the application could not provide a registration token",
			Err: errors.New("credentials: auth server GET http://h/u answered 404 Not Found: no such page")},
			client.CodeRegistrationFailed, "auth server GET http://h/u answered 404 Not Found: no such page"},
		{&client.Error{Code: client.CodeConnectionFailed, Message: "could not connect", Err: errors.New("transport: dial ws://h: connection refused")},
			client.CodeConnectionFailed, "could not connect: dial ws://h: connection refused"},
		{client.ErrTerminated, client.CodeTerminated, "the client is terminated"},
		{errors.New("plain"), "not_started", "plain"},
	} {
		code, msg := failure(tc.err)
		if code != tc.code || msg != tc.want {
			t.Errorf("failure(%v) = %q, %q; want %q, %q", tc.err, code, msg, tc.code, tc.want)
		}
	}
}

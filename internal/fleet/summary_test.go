package fleet

import (
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	var outs []outcome
	for i := 1; i <= 100; i++ { // latencies 1 ms ... 100 ms
		outs = append(outs, outcome{started: true, created: i%2 == 0, reauth: i%2 == 1, latency: time.Duration(i) * time.Millisecond})
	}
	outs = append(outs, outcome{code: "signature_invalid"}, outcome{code: "signature_invalid"}, outcome{})
	r := summarize(outs)
	if r.Clients != 103 || r.Started != 100 || r.InstancesCreated != 50 || r.Reauthenticated != 50 || r.Failed != 3 {
		t.Fatalf("counts %+v", r)
	}
	if r.FailuresByCode["signature_invalid"] != 2 || r.FailuresByCode["not_started"] != 1 {
		t.Fatalf("failures %v", r.FailuresByCode)
	}
	// Nearest rank over the started clients only.
	if r.LatencyMs != (Latency{P50: 50, P95: 95, P99: 99}) {
		t.Fatalf("latency %+v", r.LatencyMs)
	}
	if got := summarize(nil); got.LatencyMs != (Latency{}) || got.Clients != 0 {
		t.Fatalf("empty fleet %+v", got)
	}
}

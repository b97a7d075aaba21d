package fleet

import (
	"cmp"
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/sinchsim/sinchsim/client"
	"github.com/sinchsim/sinchsim/internal/callcount"
)

// Defaults of the call load.
const (
	DefaultAnswerDelay = 2 * time.Second
	DefaultHoldTime    = 5 * time.Second
)

// CallSummary is what happened to the calls the bots placed. The JSON field
// names are a contract of sinchsim bots --json.
type CallSummary struct {
	// Counts are the calls placed, answered and failed by cause: the
	// backend's refusal code (call_rate_exceeded, instance_expired, ...),
	// the end cause of a call that was not answered (no_answer,
	// callee_unavailable, failure, ...), or timeout for a call that
	// CallUser gave up on without a code (StartTimeout passed, or the run
	// ended). Embedded, so that its fields are CallSummary's in JSON.
	callcount.Counts
	// SetupLatencyMs: from callUser until the backend's callProgressing
	// (by then the callee's connections have been rung), over the calls
	// the backend placed; all zero when it placed none.
	SetupLatencyMs Latency `json:"setupLatencyMs"`
	// SetupLatencyHistogram holds every setup latency to the microsecond,
	// so that merged runs (Merge) give exact percentiles.
	SetupLatencyHistogram Histogram `json:"setupLatencyHistogram"`
}

// callLoad makes the online bots call each other: it places calls from a
// random online bot to a random other one, the callee answers after a
// random delay, the caller hangs up after the hold time.
type callLoad struct {
	cfg Config

	tally callcount.Tally[*client.Call]

	mu       sync.Mutex
	rnd      *rand.Rand
	setupUs  map[int64]int64 // setup latencies: microseconds -> count
	inFlight sync.WaitGroup  // calls placed and not ended
	stopped  bool
}

func newCallLoad(cfg Config) *callLoad {
	if cfg.AnswerDelay <= 0 {
		cfg.AnswerDelay = DefaultAnswerDelay
	}
	if cfg.HoldTime <= 0 {
		cfg.HoldTime = DefaultHoldTime
	}
	return &callLoad{cfg: cfg, rnd: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())), setupUs: map[int64]int64{}}
}

// listener returns the call callbacks of one bot, to go with its
// ClientFailed.
func (l *callLoad) listener(f *client.ListenerFuncs) {
	f.IncomingCall = func(_ *client.CallClient, call *client.Call) {
		l.mu.Lock()
		d := time.Duration(l.rnd.Int64N(int64(l.cfg.AnswerDelay) + 1))
		l.mu.Unlock()
		time.AfterFunc(d, func() { _ = call.Answer() })
	}
	f.CallEstablished = func(call *client.Call) {
		if call.Direction() != client.CallOutgoing {
			return
		}
		l.tally.Answered(call)
		time.AfterFunc(l.cfg.HoldTime, func() { _ = call.Hangup() })
	}
	f.CallEnded = func(call *client.Call) {
		if call.Direction() != client.CallOutgoing {
			return
		}
		l.tally.Ended(call, string(call.EndCause()))
		l.inFlight.Done()
	}
}

// run places calls at cfg.CallsPerMinute among the bots that are online
// (online reports whether bot i still is) until ctx ends; each call's
// CallUser runs under callCtx.
func (l *callLoad) run(ctx, callCtx context.Context, bots []*client.SinchClient, online func(i int) bool) {
	if len(bots) < 2 || l.cfg.CallsPerMinute <= 0 {
		return
	}
	tick := time.NewTicker(time.Duration(float64(time.Minute) / l.cfg.CallsPerMinute))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		l.mu.Lock()
		from := l.rnd.IntN(len(bots))
		to := l.rnd.IntN(len(bots) - 1)
		l.mu.Unlock()
		if to >= from {
			to++
		}
		if !online(from) {
			continue
		}
		l.place(callCtx, bots[from], bots[to].UserID())
	}
}

// place calls callee from c on its own goroutine.
func (l *callLoad) place(ctx context.Context, c *client.SinchClient, callee string) {
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		return
	}
	l.inFlight.Add(1)
	l.mu.Unlock()
	l.tally.Placed()
	go func() {
		cctx, cancel := context.WithTimeout(ctx, l.cfg.StartTimeout)
		defer cancel()
		t0 := time.Now()
		_, err := c.CallClient().CallUser(cctx, callee, nil)
		lat := time.Since(t0)
		if err != nil {
			l.tally.Failed(cmp.Or(client.CodeOf(err), "timeout"))
			l.inFlight.Done()
			return
		}
		l.mu.Lock()
		l.setupUs[lat.Microseconds()]++
		l.mu.Unlock()
	}()
}

// start places calls among the started bots of outs until the returned
// stop is called; stop then waits for the calls in flight to end (at most
// the answer delay and the hold time, and a margin).
func (l *callLoad) start(ctx context.Context, outs []outcome) (stop func()) {
	var bots []*client.SinchClient
	var of []*bot
	for i := range outs {
		if outs[i].c != nil && outs[i].b != nil {
			bots = append(bots, outs[i].c)
			of = append(of, outs[i].b)
		}
	}
	online := func(i int) bool {
		of[i].mu.Lock()
		defer of[i].mu.Unlock()
		return of[i].code == ""
	}
	cctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		l.run(cctx, ctx, bots, online)
	}()
	return func() {
		cancel()
		wg.Wait()
		l.drain(l.cfg.AnswerDelay + l.cfg.HoldTime + 10*time.Second)
	}
}

// drain stops placing calls and waits up to max for the calls in flight
// to end (answered and held, or not).
func (l *callLoad) drain(max time.Duration) {
	l.mu.Lock()
	l.stopped = true
	l.mu.Unlock()
	done := make(chan struct{})
	go func() {
		l.inFlight.Wait()
		close(done)
	}()
	t := time.NewTimer(max)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

// summary returns the calls' summary; call it once the bots are
// terminated (every call has ended then).
func (l *callLoad) summary() *CallSummary {
	s := CallSummary{Counts: l.tally.Counts()}
	l.mu.Lock()
	defer l.mu.Unlock()
	s.SetupLatencyHistogram = histogramOf(l.setupUs)
	s.SetupLatencyMs = s.SetupLatencyHistogram.latency()
	return &s
}

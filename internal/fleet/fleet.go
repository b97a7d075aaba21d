// Package fleet runs many SinchClients at once (sinchsim bots) and
// reports what happened to them.
package fleet

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sinchsim/sinchsim/client"
	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/registration"
)

// Config describes a fleet.
type Config struct {
	// URL of the backend (ws://host:port/ws/v1 or host:port).
	URL string
	// Hosts are more URLs of the same backend (its other replicas): the
	// bots start at URL and Hosts in turn and reconnect to the next one
	// (client.WithEnvironmentHosts).
	Hosts          []string
	ApplicationKey string
	// Provider supplies registration tokens.
	Provider credentials.Provider
	// N clients; at most Concurrency start at a time.
	N           int
	Concurrency int
	// Duration the started clients stay online (0: terminate at once).
	Duration time.Duration
	// StoreDir, when set, gives each bot a DirDeviceStore in StoreDir/<user>.
	StoreDir string
	// UserPrefix: users are UserPrefix + index, the index counting from
	// FirstUser.
	UserPrefix string
	FirstUser  int
	// InstanceTTL asks for limited-TTL tokens.
	InstanceTTL bool
	// StartTimeout bounds one client's registration (default 30 s). A
	// client whose first connection attempt fails (refused, no such host)
	// fails at once with that error; it does not retry until the timeout.
	StartTimeout time.Duration
	// Progress, when set, is called as clients finish starting.
	Progress func(p Progress)
	// CallsPerMinute, when positive, makes the started bots call each
	// other while they stay online (Duration): the fleet places this many
	// calls a minute in all, each from a random online bot to a random
	// other bot. The callee answers after a random delay of up to
	// AnswerDelay (default 2 s); the caller hangs up after HoldTime
	// (default 5 s). Result.Calls summarizes them.
	CallsPerMinute float64
	AnswerDelay    time.Duration
	HoldTime       time.Duration
}

// Progress is a snapshot of a running fleet.
type Progress struct {
	Total, Done, Started, Failed int
}

// Latency percentiles, in milliseconds.
type Latency struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
}

// Result is the fleet's summary. The JSON field names are a contract of
// sinchsim bots --json.
type Result struct {
	Clients          int `json:"clients"`
	Started          int `json:"started"`
	InstancesCreated int `json:"instancesCreated"`
	Reauthenticated  int `json:"reauthenticated"`
	// Failed counts the clients that did not start, by code in
	// FailuresByCode.
	Failed         int            `json:"failed"`
	FailuresByCode map[string]int `json:"failuresByCode"`
	// FailureExamples gives one message for each code of FailuresByCode
	// and FailuresAfterStartByCode: what went wrong, e.g. the dial error
	// or the auth server's answer.
	FailureExamples map[string]string `json:"failureExamples"`
	// FailedAfterStart counts the started clients that failed while
	// online (revoked, gave up reconnecting, could not register again),
	// by code in FailuresAfterStartByCode.
	FailedAfterStart         int            `json:"failedAfterStart"`
	FailuresAfterStartByCode map[string]int `json:"failuresAfterStartByCode"`
	// Expiries counts instances of started clients lost to their TTL
	// (the client then registers anew).
	Expiries int `json:"expiries"`
	// GrantedInstanceTTL describes the instance TTLs the backend granted
	// to the started clients.
	GrantedInstanceTTL GrantedTTL `json:"grantedInstanceTtl"`
	// LatencyMs: registration latency of the started clients; all zero
	// when none started.
	LatencyMs              Latency `json:"latencyMs"`
	RegistrationsPerSecond float64 `json:"registrationsPerSecond"`
	// Calls summarizes the calls the bots placed (Config.CallsPerMinute);
	// absent without calls.
	Calls *CallSummary `json:"calls,omitempty"`
	// Floor, with bots --floor, is the same number of bare WebSocket
	// connections at the same concurrency (RunFloor), and Ratio the
	// fleet's registrations per second over the floor's connections per
	// second.
	Floor *FloorRatio `json:"floor,omitempty"`
	// LatencyHistogram holds every started client's registration latency
	// to the microsecond, so that the percentiles of several runs merged
	// (Merge) are exact.
	LatencyHistogram Histogram `json:"latencyHistogram"`
	// ElapsedSeconds is the wall time of the registration phase.
	ElapsedSeconds float64 `json:"elapsedSeconds"`
	// ConnectionLosses counts the connections the started clients lost
	// or could not make while online (each then reconnects, to the next
	// host when there are several).
	ConnectionLosses int `json:"connectionLosses"`
	// RegisteredAgain counts instances the started clients created after
	// their start, because the backend no longer knew theirs.
	RegisteredAgain int `json:"registeredAgain"`
	// MemoryInUseBytes is the heap and goroutine stacks in use in the
	// fleet's process (the sum over worker processes) once the clients
	// have registered, after a garbage collection: with a Duration only,
	// else 0.
	MemoryInUseBytes uint64 `json:"memoryInUseBytes"`
}

// GrantedTTL summarizes the instance TTLs granted at registration: expiry
// minus the time it was granted, rounded to the minute, in seconds.
type GrantedTTL struct {
	// Limited counts started clients whose instance has a TTL; MinSeconds
	// and MaxSeconds are the shortest and longest (0 when none has).
	Limited    int   `json:"limited"`
	MinSeconds int64 `json:"minSeconds"`
	MaxSeconds int64 `json:"maxSeconds"`
	// Unlimited counts started clients whose instance has no TTL.
	Unlimited int `json:"unlimited"`
}

// Failures counts what went wrong: clients that did not start, clients
// that failed after starting, instances lost to their TTL, and calls that
// failed. sinchsim bots exits 1 when it is not 0.
func (r Result) Failures() int {
	n := r.Failed + r.FailedAfterStart + r.Expiries
	if r.Calls != nil {
		n += r.Calls.Failed
	}
	return n
}

type outcome struct {
	started, created, reauth bool
	code, message            string
	latency                  time.Duration
	// ttl is the granted instance TTL; limited says whether there is one.
	ttl     time.Duration
	limited bool
	c       *client.SinchClient
	b       *bot
	// final is the client's Stats() once it is terminated.
	final client.Stats
}

// online counts the started clients that are still online; gone is
// signalled whenever one fails, so that the wait of Duration can end once
// none is left.
type online struct {
	n    atomic.Int64
	gone chan struct{}
}

// bot records the failure of one client (its OnClientFailed). Once the
// client has started, a failure is a failure after start.
type bot struct {
	on      *online
	mu      sync.Mutex
	started bool
	code    string // the client's failure, "" if none
	message string
}

// markStarted counts the bot as online, unless it has failed already (a
// failure can be reported before the fleet has seen the start).
func (b *bot) markStarted() {
	b.mu.Lock()
	b.started = true
	failed := b.code != ""
	b.mu.Unlock()
	if !failed {
		b.on.n.Add(1)
	}
}

func (b *bot) failed(err error) {
	b.mu.Lock()
	first := b.code == ""
	if first {
		b.code, b.message = failure(err)
	}
	wasOnline := first && b.started
	b.mu.Unlock()
	if wasOnline {
		b.on.n.Add(-1)
		select {
		case b.on.gone <- struct{}{}:
		default:
		}
	}
}

// failure returns err's code and a message to show for it: the error
// without the "sinchsim: code: " prefix; for an auth server's failure, the
// auth server's error (connection refused, HTTP 404 and a body excerpt).
func failure(err error) (code, message string) {
	code = client.CodeOf(err)
	if code == "" {
		code = "not_started"
	}
	return code, describe(err)
}

// describe is failure's message: a client error's message and cause,
// without the "sinchsim: code: " and package prefixes.
func describe(err error) string {
	var ce *client.Error
	if !errors.As(err, &ce) {
		msg := err.Error()
		for _, p := range []string{"credentials: ", "transport: "} {
			msg = strings.TrimPrefix(msg, p)
		}
		return msg
	}
	switch {
	case ce.Err == nil:
		return ce.Message
	case ce.Code == client.CodeRegistrationFailed, ce.Message == "":
		// "the application could not provide a registration token" says
		// less than the provider's error.
		return describe(ce.Err)
	default:
		return ce.Message + ": " + describe(ce.Err)
	}
}

// Run starts the fleet, waits Duration, terminates every client and
// returns the summary. Cancelling ctx ends the run early (clients are
// still terminated).
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.N < 0 {
		return Result{}, errors.New("fleet: negative client count")
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 32
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 30 * time.Second
	}
	outs := make([]outcome, cfg.N)
	var load *callLoad
	if cfg.CallsPerMinute > 0 && cfg.Duration > 0 {
		load = newCallLoad(cfg)
	}
	var next, done, started, failed atomic.Int64
	on := &online{gone: make(chan struct{}, 1)}
	var wg sync.WaitGroup
	begin := time.Now()
	var lastStart atomic.Int64
	report := func() {
		if cfg.Progress != nil {
			cfg.Progress(Progress{Total: cfg.N, Done: int(done.Load()), Started: int(started.Load()), Failed: int(failed.Load())})
		}
	}
	for w := 0; w < min(cfg.Concurrency, cfg.N); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dl := newStartDeadline(ctx, cfg.StartTimeout)
			defer dl.stop()
			for {
				i := int(next.Add(1)) - 1
				if i >= cfg.N || ctx.Err() != nil {
					return
				}
				b := &bot{on: on}
				o := startOne(ctx, dl, cfg, i, b, load)
				if o.started {
					started.Add(1)
					lastStart.Store(int64(time.Since(begin)))
					b.markStarted()
				} else {
					failed.Add(1)
				}
				if cfg.Duration == 0 && o.c != nil {
					o.final = terminate(o.c)
					o.c = nil
				}
				outs[i] = o
				done.Add(1)
				report()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Duration(lastStart.Load())
	var inUse uint64
	if cfg.Duration > 0 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		inUse = ms.HeapInuse + ms.StackInuse
		stayOnline(ctx, cfg, outs, on, load)
	}
	res := summarize(outs)
	res.MemoryInUseBytes = inUse
	if load != nil {
		res.Calls = load.summary()
	}
	res.ElapsedSeconds = elapsed.Seconds()
	if elapsed > 0 {
		res.RegistrationsPerSecond = float64(res.Started) / elapsed.Seconds()
	}
	return res, ctx.Err()
}

// stayOnline keeps the started clients online for Duration, or until
// none is left or ctx ends, calling each other meanwhile when load is
// set; then it terminates them all.
func stayOnline(ctx context.Context, cfg Config, outs []outcome, on *online, load *callLoad) {
	stopCalls := func() {}
	if load != nil {
		stopCalls = load.start(ctx, outs)
	}
	timer := time.NewTimer(cfg.Duration)
wait:
	for on.n.Load() > 0 {
		select {
		case <-timer.C:
			break wait
		case <-ctx.Done():
			break wait
		case <-on.gone:
		}
	}
	timer.Stop()
	stopCalls()
	terminateAll(outs, cfg.Concurrency)
}

// startOne starts client i; dl bounds its start.
func startOne(ctx context.Context, dl *startDeadline, cfg Config, i int, b *bot, load *callLoad) outcome {
	user := cfg.UserPrefix + strconv.Itoa(cfg.FirstUser+i)
	lis := &client.ListenerFuncs{ClientFailed: func(_ *client.SinchClient, err error) { b.failed(err) }}
	if load != nil {
		load.listener(lis)
	}
	opts := []client.Option{
		client.WithEnvironmentHosts(cfg.Hosts...),
		client.WithCredentialsProvider(cfg.Provider),
		client.WithInstanceTTL(cfg.InstanceTTL),
		client.WithListener(lis),
	}
	if cfg.StoreDir != "" {
		st, err := client.NewDirDeviceStore(filepath.Join(cfg.StoreDir, user))
		if err != nil {
			return outcome{code: client.CodeDeviceStore, message: err.Error()}
		}
		opts = append(opts, client.WithDeviceStore(st))
	}
	c, err := client.New(cfg.ApplicationKey, cfg.URL, user, opts...)
	if err != nil {
		code, msg := failure(err)
		return outcome{code: code, message: msg}
	}
	// The subscription sees every transition, even one that lasts a
	// moment, such as connecting -> reconnecting after a refused dial.
	sub := c.Subscribe()
	defer sub.Close()
	t0 := time.Now()
	if err := c.Start(); err != nil {
		c.TerminateGracefully()
		code, msg := failure(err)
		return outcome{code: code, message: msg}
	}
	wctx := dl.begin()
	defer dl.end()
	err = waitStarted(wctx, c, sub, 1+len(cfg.Hosts))
	lat := time.Since(t0)
	if err != nil {
		state := c.State()
		c.TerminateGracefully()
		switch {
		case ctx.Err() != nil:
			return outcome{code: "interrupted", message: "interrupted while " + string(state), latency: lat}
		case wctx.Err() != nil:
			return outcome{code: "timeout", message: fmt.Sprintf("not started within %v (state %s)", cfg.StartTimeout, state), latency: lat}
		}
		code, msg := failure(err)
		return outcome{code: code, message: msg, latency: lat}
	}
	// Instance is up to date once the client has finished handling the
	// answer that started it.
	_ = c.WaitIdle(wctx)
	st := c.Stats()
	o := outcome{started: true, created: st.InstancesCreated > 0, reauth: st.InstancesCreated == 0 && st.Authentications > 0, latency: lat, c: c, b: b}
	if inst, ok := c.Instance(); ok && !inst.ExpireAt.IsZero() {
		// The token's times are whole seconds and it travelled: to the
		// minute is what was granted.
		o.limited, o.ttl = true, inst.ExpireAt.Sub(inst.IssuedAt).Round(time.Minute)
	}
	return o
}

// waitStarted waits until c is started (nil), failed or terminated (the
// error), or its first connection attempt to each of its hosts failed
// (that error: a fleet measures registration, it does not wait out the
// reconnect backoff of a backend that is not there), or ctx ends
// (ctx.Err()).
func waitStarted(ctx context.Context, c *client.SinchClient, sub *client.Subscription, hosts int) error {
	refused := 0
	for {
		t, err := sub.Next(ctx)
		if err != nil {
			return err
		}
		switch t.To {
		case registration.StateStarted, registration.StateRenewing:
			return nil
		case registration.StateFailed:
			return c.Err()
		case registration.StateTerminated:
			return client.ErrTerminated
		case registration.StateReconnecting:
			if t.From == registration.StateConnecting {
				if refused++; refused < hosts {
					continue // the client tries the next host
				}
				if err := c.Err(); err != nil {
					return err
				}
				return client.ErrConnectionFailed
			}
		}
	}
}

// terminate ends a client and returns its final counters.
func terminate(c *client.SinchClient) client.Stats {
	c.TerminateGracefully()
	return c.Stats()
}

func terminateAll(outs []outcome, par int) {
	ch := make(chan *outcome)
	var wg sync.WaitGroup
	for w := 0; w < max(par, 1); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for o := range ch {
				o.final = terminate(o.c)
				o.c = nil
			}
		}()
	}
	for i := range outs {
		if outs[i].c != nil {
			ch <- &outs[i]
		}
	}
	close(ch)
	wg.Wait()
}

func summarize(outs []outcome) Result {
	res := Result{Clients: len(outs), FailuresByCode: map[string]int{}, FailuresAfterStartByCode: map[string]int{}, FailureExamples: map[string]string{}}
	example := func(code, msg string) {
		if _, ok := res.FailureExamples[code]; !ok && msg != "" {
			res.FailureExamples[code] = msg
		}
	}
	h := map[int64]int64{}
	for _, o := range outs {
		switch {
		case o.started:
			res.Started++
			h[o.latency.Microseconds()]++
			if o.created {
				res.InstancesCreated++
			}
			if o.reauth {
				res.Reauthenticated++
			}
			res.Expiries += o.final.Expiries
			res.ConnectionLosses += o.final.ConnectionLosses
			if again := o.final.InstancesCreated; o.created {
				res.RegisteredAgain += max(again-1, 0)
			} else {
				res.RegisteredAgain += again
			}
			if o.limited {
				g := &res.GrantedInstanceTTL
				secs := int64(o.ttl / time.Second)
				if g.Limited == 0 || secs < g.MinSeconds {
					g.MinSeconds = secs
				}
				g.MaxSeconds = max(g.MaxSeconds, secs)
				g.Limited++
			} else {
				res.GrantedInstanceTTL.Unlimited++
			}
			if o.b != nil {
				o.b.mu.Lock()
				code, msg := o.b.code, o.b.message
				o.b.mu.Unlock()
				if code != "" {
					res.FailedAfterStart++
					res.FailuresAfterStartByCode[code]++
					example(code, msg)
				}
			}
		default:
			res.Failed++
			code := o.code
			if code == "" {
				code = "not_started"
			}
			res.FailuresByCode[code]++
			example(code, o.message)
		}
	}
	res.LatencyHistogram = histogramOf(h)
	res.LatencyMs = res.LatencyHistogram.latency()
	return res
}

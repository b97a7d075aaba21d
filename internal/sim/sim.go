// Package sim simulates instance TTL renewal for a fleet of real clients
// against the real backend, in process, on mock clocks (sinchsim
// simulate): a year of renewals in seconds.
//
// Every bot has its own benbjohnson/clock Mock and the backend has one;
// the simulation moves them together. It only moves time when every bot is
// idle (nothing queued, no request in flight, no due timer unhandled), and
// it jumps straight to the earliest timer any bot has armed, so that a year
// takes as many steps as there are distinct renewal times. (One shared mock
// clock would also work, but benbjohnson/clock pauses a millisecond per
// fired timer, which a fleet cannot afford.)
package sim

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/sinchsim/sinchsim/client"
	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/fakebackend"
	"github.com/sinchsim/sinchsim/registration"
)

// Config describes a simulation.
type Config struct {
	Bots        int
	Period      time.Duration
	InstanceTTL time.Duration
	// RenewalFailureRate is the probability that the application answers a
	// renewal's credentials request with RegisterFailed.
	RenewalFailureRate float64
	// Seed makes the run reproducible: the same seed, the same counts.
	Seed uint64
	// Start is the simulated start time (default fakebackend.DefaultMockTime).
	Start time.Time
	// Quantum groups timers that fall this close together into one clock
	// step (default 1 minute).
	Quantum time.Duration
	// Renewal overrides the clients' renewal policy.
	Renewal registration.RenewalPolicy
	// Timeline, when set, receives one line per notable event.
	Timeline func(t time.Time, line string)
}

// Result is what happened. JSON names are a contract of sinchsim simulate --json.
type Result struct {
	Bots               int            `json:"bots"`
	Period             string         `json:"period"`
	InstanceTTL        string         `json:"instanceTtl"`
	RenewalFailureRate float64        `json:"renewalFailureRate"`
	Seed               uint64         `json:"seed"`
	Renewals           int            `json:"renewals"`
	RenewalFailures    int            `json:"renewalFailures"`
	Expiries           int            `json:"expiries"`
	ReRegistrations    int            `json:"reRegistrations"`
	RejectionsByCode   map[string]int `json:"rejectionsByCode"`
	Failed             int            `json:"failed"`
	Steps              int            `json:"steps"`
	WallTimeMs         int64          `json:"wallTimeMs"`
}

// backendTime gates token minting: a bot whose clock has moved ahead must
// not present a token before the backend's clock has caught up with it.
type backendTime struct {
	mu   sync.Mutex
	cond *sync.Cond
	now  time.Time
}

func newBackendTime(t time.Time) *backendTime {
	b := &backendTime{now: t}
	b.cond = sync.NewCond(&b.mu)
	return b
}

func (b *backendTime) set(t time.Time) {
	b.mu.Lock()
	b.now = t
	b.mu.Unlock()
	b.cond.Broadcast()
}

func (b *backendTime) waitFor(t time.Time) {
	b.mu.Lock()
	for b.now.Before(t) {
		b.cond.Wait()
	}
	b.mu.Unlock()
}

type bot struct {
	i     int
	c     *client.SinchClient
	clock *clock.Mock
	asks  int // credentials requests answered (dispatcher goroutine only)
}

// Run runs the simulation.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Bots < 1 {
		return Result{}, errors.New("sim: at least one bot")
	}
	if cfg.InstanceTTL < credentials.MinInstanceTTL {
		return Result{}, fmt.Errorf("sim: instance TTL %v is under 48h", cfg.InstanceTTL)
	}
	if cfg.RenewalFailureRate < 0 || cfg.RenewalFailureRate > 1 || math.IsNaN(cfg.RenewalFailureRate) {
		return Result{}, errors.New("sim: renewal failure rate must be within [0, 1]")
	}
	if cfg.Start.IsZero() {
		cfg.Start = fakebackend.DefaultMockTime
	}
	if cfg.Quantum <= 0 {
		cfg.Quantum = time.Minute
	}
	wall := time.Now()
	backClock := clock.NewMock()
	backClock.Set(cfg.Start)
	srv, err := fakebackend.NewServer(fakebackend.Config{
		Clock: backClock, Applications: []fakebackend.Application{fakebackend.NewApplication()},
		Policy: fakebackend.Policy{RateLimit: -1},
	})
	if err != nil {
		return Result{}, err
	}
	defer srv.Close()

	bots := make([]*bot, cfg.Bots)
	for i := range bots {
		bots[i] = &bot{i: i, clock: clock.NewMock()}
	}
	// Mock.Set pauses a millisecond: set the bots' clocks in parallel.
	var mkErr error
	var mkMu sync.Mutex
	gate := newBackendTime(cfg.Start)
	parallel(bots, func(b *bot) {
		b.clock.Set(cfg.Start)
		if err := newBot(b, cfg, srv, gate); err != nil {
			mkMu.Lock()
			mkErr = errors.Join(mkErr, err)
			mkMu.Unlock()
		}
	})
	if mkErr != nil {
		return Result{}, mkErr
	}
	defer parallel(bots, func(b *bot) { b.c.TerminateGracefully() })

	// Register everyone at the start time.
	var startErr error
	var mu sync.Mutex
	parallel(bots, func(b *bot) {
		err := b.c.Start()
		if err == nil {
			err = b.c.WaitStarted(ctx)
		}
		if err != nil {
			mu.Lock()
			startErr = errors.Join(startErr, fmt.Errorf("bot %d: %w", b.i, err))
			mu.Unlock()
		}
	})
	if startErr != nil {
		return Result{}, startErr
	}
	if err := waitIdle(ctx, bots); err != nil {
		return Result{}, err
	}

	end := cfg.Start.Add(cfg.Period)
	steps := 0
	for {
		if err := ctx.Err(); err != nil {
			return Result{}, err
		}
		next, ok := earliest(bots)
		if !ok || next.After(end) {
			break
		}
		// Step to the latest deadline within a quantum of the earliest, so
		// that nearly simultaneous timers share one step and none fires late.
		t := next
		for _, b := range bots {
			if at, ok := b.c.NextTimer(); ok && at.After(t) && !at.After(next.Add(cfg.Quantum)) {
				t = at
			}
		}
		if t.After(end) {
			t = end
		}
		// The due bots' clocks first, then the backend's; tokens wait (in
		// the listener) until the backend has caught up, so that none is
		// from the backend's future, and a bot told by the backend that its
		// instance expired already stands at the new time.
		var due []*bot
		for _, b := range bots {
			if at, ok := b.c.NextTimer(); ok && !at.After(t) {
				due = append(due, b)
			}
		}
		parallel(due, func(b *bot) { b.clock.Set(t) })
		if srv.Now().Before(t) {
			srv.SetTime(t)
		}
		gate.set(t)
		if err := waitIdle(ctx, due); err != nil {
			return Result{}, err
		}
		steps++
		if cfg.Timeline != nil {
			cfg.Timeline(t, fmt.Sprintf("%d bots acted", len(due)))
		}
	}

	res := Result{
		Bots: cfg.Bots, Period: cfg.Period.String(), InstanceTTL: cfg.InstanceTTL.String(),
		RenewalFailureRate: cfg.RenewalFailureRate, Seed: cfg.Seed, RejectionsByCode: map[string]int{}, Steps: steps,
	}
	for _, b := range bots {
		st := b.c.Stats()
		res.Renewals += st.Renewals
		res.RenewalFailures += st.RenewalFailures
		res.Expiries += st.Expiries
		res.ReRegistrations += max(st.InstancesCreated-1, 0)
		for code, n := range st.Rejections {
			res.RejectionsByCode[code] += n
		}
		if b.c.State() == registration.StateFailed {
			res.Failed++
		}
	}
	res.WallTimeMs = time.Since(wall).Milliseconds()
	return res, nil
}

// newBot builds bot b's client: its own mock clock, a listener that signs
// tokens (and fails renewals at the configured rate), seeded backoff.
func newBot(b *bot, cfg Config, srv *fakebackend.Server, gate *backendTime) error {
	i := b.i
	app := srv.Application()
	minter, err := credentials.NewMinter(credentials.MinterConfig{ApplicationKey: app.Key, Secret: app.Secret, Clock: b.clock, InstanceTTL: cfg.InstanceTTL})
	if err != nil {
		return err
	}
	user := fmt.Sprintf("sim-%d", i)
	listener := &client.ListenerFuncs{CredentialsRequired: func(c *client.SinchClient, reg *client.ClientRegistration) {
		b.asks++
		gate.waitFor(b.clock.Now())
		if reg.IsRenewal() && draw(cfg.Seed, i, b.asks) < cfg.RenewalFailureRate {
			reg.RegisterFailed(errors.New("simulated auth server failure"))
			return
		}
		jwt, err := minter.Mint(user)
		if err != nil {
			reg.RegisterFailed(err)
			return
		}
		reg.Register(jwt)
	}}
	rng := rand.New(rand.NewPCG(cfg.Seed, uint64(i)))
	backoff := registration.Backoff{Rand: rng.Float64}
	renewal := cfg.Renewal
	if renewal == nil {
		renewal = registration.DefaultRenewal{Backoff: backoff}
	}
	c, err := client.New(app.Key, srv.URL(), user, client.WithClock(b.clock), client.WithListener(listener),
		client.WithInstanceTTL(true), client.WithBackoff(backoff), client.WithRenewalPolicy(renewal), client.WithReconnectLimit(-1))
	if err != nil {
		return err
	}
	b.c = c
	return nil
}

// draw is a deterministic uniform number in [0, 1) for a bot's n-th
// credentials request: independent of scheduling, so runs reproduce.
func draw(seed uint64, bot, n int) float64 {
	return rand.New(rand.NewPCG(seed, uint64(bot)<<32|uint64(uint32(n)))).Float64()
}

func earliest(bots []*bot) (time.Time, bool) {
	var best time.Time
	found := false
	for _, b := range bots {
		if at, ok := b.c.NextTimer(); ok && (!found || at.Before(best)) {
			best, found = at, true
		}
	}
	return best, found
}

func waitIdle(ctx context.Context, bots []*bot) error {
	for _, b := range bots {
		if err := b.c.WaitIdle(ctx); err != nil {
			return err
		}
	}
	// A bot's work can wake another only through the backend; none does in
	// this simulation, but check once more that all stayed idle.
	for _, b := range bots {
		if !b.c.Idle() {
			return waitIdle(ctx, bots)
		}
	}
	return nil
}

// parallel runs f for every bot on a bounded pool.
func parallel(bots []*bot, f func(*bot)) {
	const workers = 64
	if len(bots) == 1 {
		f(bots[0])
		return
	}
	ch := make(chan *bot)
	var wg sync.WaitGroup
	for w := 0; w < min(workers, len(bots)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range ch {
				f(b)
			}
		}()
	}
	for _, b := range bots {
		ch <- b
	}
	close(ch)
	wg.Wait()
}

// SortedCodes returns the keys of m, sorted.
func SortedCodes(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

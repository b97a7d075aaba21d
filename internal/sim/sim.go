// Package sim simulates instance TTL renewal for a fleet of real clients
// against the real backend, in process, on one virtual clock (sinchsim
// simulate): a year of renewals in seconds.
//
// The backend and every bot share one vclock.Clock: advancing it fires
// every timer of the world in deadline order and waits for the world to
// settle before each, so a year takes as many steps as there are timers,
// and a seeded run gives the same counts every time.
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

	"github.com/sinchsim/sinchsim/client"
	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/fakebackend"
	"github.com/sinchsim/sinchsim/registration"
	"github.com/sinchsim/sinchsim/vclock"
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
	// Renewal overrides the clients' renewal policy.
	Renewal registration.RenewalPolicy
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

type bot struct {
	i    int
	c    *client.SinchClient
	asks int // credentials requests answered (dispatcher goroutine only)
}

// Run runs the simulation.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if err := cfg.check(); err != nil {
		return Result{}, err
	}
	if cfg.Start.IsZero() {
		cfg.Start = fakebackend.DefaultMockTime
	}
	wall := time.Now()
	world := vclock.New(cfg.Start, vclock.WithSeed(cfg.Seed))
	srv, err := fakebackend.NewServer(fakebackend.Config{
		Clock: world, Applications: []fakebackend.Application{fakebackend.NewApplication()},
		Policy: fakebackend.Policy{RateLimit: -1},
	})
	if err != nil {
		return Result{}, err
	}
	defer srv.Close()

	bots := make([]*bot, cfg.Bots)
	for i := range bots {
		bots[i] = &bot{i: i}
		if err := newBot(bots[i], cfg, srv, world); err != nil {
			return Result{}, err
		}
	}
	defer parallel(bots, func(b *bot) { b.c.TerminateGracefully() })

	if err := startAll(ctx, bots); err != nil {
		return Result{}, err
	}
	fired := world.Fired()
	if err := advance(ctx, srv, cfg.Period); err != nil {
		return Result{}, err
	}
	res := Result{
		Bots: cfg.Bots, Period: cfg.Period.String(), InstanceTTL: cfg.InstanceTTL.String(),
		RenewalFailureRate: cfg.RenewalFailureRate, Seed: cfg.Seed, RejectionsByCode: map[string]int{},
		Steps: int(world.Fired() - fired),
	}
	res.add(bots)
	res.WallTimeMs = time.Since(wall).Milliseconds()
	return res, nil
}

// check refuses a configuration Run cannot run.
func (cfg Config) check() error {
	if cfg.Bots < 1 {
		return errors.New("sim: at least one bot")
	}
	if cfg.InstanceTTL < credentials.MinInstanceTTL {
		return fmt.Errorf("sim: instance TTL %v is under 48h", cfg.InstanceTTL)
	}
	if cfg.RenewalFailureRate < 0 || cfg.RenewalFailureRate > 1 || math.IsNaN(cfg.RenewalFailureRate) {
		return errors.New("sim: renewal failure rate must be within [0, 1]")
	}
	return nil
}

// startAll registers every bot at the start time.
func startAll(ctx context.Context, bots []*bot) error {
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
	return startErr
}

// advance moves the world by period, a day at a time, so that a cancelled
// context stops the run soon; the outcome does not depend on the step,
// every timer fires at its time.
func advance(ctx context.Context, srv *fakebackend.Server, period time.Duration) error {
	for left := period; left > 0; {
		if err := ctx.Err(); err != nil {
			return err
		}
		d := min(left, 24*time.Hour)
		if err := srv.Advance(d); err != nil {
			return err
		}
		left -= d
	}
	return nil
}

// add counts the bots' renewals, failures, expiries, re-registrations and
// rejections into res.
func (res *Result) add(bots []*bot) {
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
}

// newBot builds bot b's client in the world: a listener that signs tokens
// (and fails renewals at the configured rate); backoff jitter comes from
// the world's seed.
func newBot(b *bot, cfg Config, srv *fakebackend.Server, world *vclock.Clock) error {
	i := b.i
	app := srv.Application()
	minter, err := credentials.NewMinter(credentials.MinterConfig{ApplicationKey: app.Key, Secret: app.Secret, Clock: world, InstanceTTL: cfg.InstanceTTL})
	if err != nil {
		return err
	}
	user := fmt.Sprintf("sim-%d", i)
	listener := &client.ListenerFuncs{CredentialsRequired: func(c *client.SinchClient, reg *client.ClientRegistration) {
		b.asks++
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
	opts := []client.Option{client.WithClock(world), client.WithListener(listener),
		client.WithInstanceTTL(true), client.WithReconnectLimit(-1)}
	if cfg.Renewal != nil {
		opts = append(opts, client.WithRenewalPolicy(cfg.Renewal))
	}
	c, err := client.New(app.Key, srv.URL(), user, opts...)
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

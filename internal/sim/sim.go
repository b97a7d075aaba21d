// Package sim simulates instance TTL renewal for a fleet of real clients
// against the real backend, in process, on one virtual clock (sinchsim
// simulate): a year of 100,000 clients in under a minute, with outages of
// the auth server and of the backend, and a timeline of what happened.
//
// The backend and every client share one vclock.Clock with tie batching:
// the timers due at the same instant (every client's renewal when they all
// started together) fire together, and the world settles once after them.
// Clients connect over the in-memory transport by default: the same
// handshake, framing and protocol as over WebSocket, without a socket.
// A seeded run gives the same counts and times every time.
package sim

import (
	"context"
	"math"
	"math/rand/v2"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sinchsim/sinchsim/client"
	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/fakebackend"
	"github.com/sinchsim/sinchsim/internal/callcount"
	"github.com/sinchsim/sinchsim/registration"
	"github.com/sinchsim/sinchsim/vclock"
)

// sim is one run.
type sim struct {
	cfg    Config
	world  *vclock.Clock
	srv    *fakebackend.Server
	minter *credentials.Minter
	store  client.DeviceStore
	policy registration.RenewalPolicy
	jobs   *jobs
	bots   []*bot
	start  time.Time
	end    time.Time
	ended  atomic.Bool // no more recording
	tl     *timeline

	expMu      sync.Mutex
	expFirst   []expiryRec // the earliest expiries, sorted, at most MaxExpiredUsers
	expCount   int
	expFirstAt time.Time
	expLastAt  time.Time

	regFailures atomic.Int64
	restarts    atomic.Int64
	calls       callcount.Tally[*client.Call]
}

type expiryRec struct {
	at  time.Time
	bot int
}

// Run runs the simulation.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	cfg = cfg.withDefaults()
	if cfg.Transport == TransportWebSocket {
		if err := CheckOpenFiles(cfg.Bots); err != nil {
			return Result{}, err
		}
	}
	wall := time.Now()
	s, err := newSim(cfg)
	if err != nil {
		return Result{}, err
	}
	defer s.srv.Close()
	defer s.jobs.stop()
	s.schedule()
	fired := s.world.Fired()
	if err := s.run(ctx); err != nil {
		s.ended.Store(true)
		s.terminateAll()
		return Result{}, err
	}
	steps := int(s.world.Fired() - fired)
	s.ended.Store(true)
	s.terminateAll()
	res := s.result()
	res.Steps = steps
	res.WallSeconds = math.Round(time.Since(wall).Seconds()*1000) / 1000
	return res, nil
}

// newSim builds the world: the clock, the backend, the minter and the bots.
func newSim(cfg Config) (*sim, error) {
	s := &sim{cfg: cfg, start: cfg.Start, end: cfg.Start.Add(cfg.Period), store: client.NewMemoryDeviceStore()}
	// Work inside the world ends by itself; with tie batching one settle
	// waits for every client of an instant, so its bound grows with them.
	s.world = vclock.New(cfg.Start, vclock.WithSeed(cfg.Seed), vclock.WithTieBatching(true),
		vclock.WithBounds(vclock.DefaultSettleBound+time.Duration(cfg.Bots)*time.Millisecond, 0))
	srv, err := fakebackend.NewServer(fakebackend.Config{
		Clock:        s.world,
		Applications: []fakebackend.Application{fakebackend.NewApplication()},
		Policy:       fakebackend.Policy{RateLimit: -1, MaxConnections: 2*cfg.Bots + 16},
		InMemory:     cfg.Transport == TransportMemory,
		EventLimit:   1000,
	})
	if err != nil {
		return nil, err
	}
	s.srv = srv
	app := srv.Application()
	s.minter, err = credentials.NewMinter(credentials.MinterConfig{ApplicationKey: app.Key, Secret: app.Secret, Clock: s.world, InstanceTTL: cfg.InstanceTTL})
	if err != nil {
		srv.Close()
		return nil, err
	}
	s.policy = cfg.renewalPolicy()
	s.tl = newTimeline(cfg.Start, cfg.Period)
	s.jobs = newJobs(s.world)
	s.bots = make([]*bot, cfg.Bots)
	for i := range s.bots {
		s.bots[i] = newBot(s, i)
	}
	return s, nil
}

// schedule arms the backend's outages and every bot's start: at once, or
// at i×Stagger/Bots.
func (s *sim) schedule() {
	for _, w := range s.cfg.BackendOutages {
		s.world.Schedule(w.Start, func() { _ = s.srv.SetDown(true) })
		s.world.Schedule(w.End(), func() { s.jobs.do(func() { _ = s.srv.SetDown(false) }) })
	}
	for _, b := range s.bots {
		at := time.Duration(0)
		if s.cfg.Stagger > 0 {
			at = time.Duration(float64(s.cfg.Stagger) * float64(b.i) / float64(s.cfg.Bots))
		}
		b.startAt = at
		b.armCalls()
		if at == 0 {
			s.jobs.do(b.first)
		} else {
			s.world.ScheduleKey(b.user, at, func() { s.jobs.do(b.first) })
		}
	}
}

// run moves the world through the period a day at a time, so that a
// cancelled context stops the run soon; the outcome does not depend on the
// step, every timer fires at its time.
func (s *sim) run(ctx context.Context) error {
	if err := s.world.Settle(); err != nil {
		return err
	}
	hooks.started()
	for left := s.cfg.Period; left > 0; {
		if err := ctx.Err(); err != nil {
			return err
		}
		d := min(left, 24*time.Hour)
		if err := s.world.Advance(d); err != nil {
			return err
		}
		left -= d
	}
	hooks.ended()
	return nil
}

// hooks lets a test see the phases of a run (a profile of the renewals
// alone, say); nil functions do nothing.
var hooks phaseHooks

type phaseHooks struct{ onStarted, onEnded func() }

func (h *phaseHooks) started() {
	if h.onStarted != nil {
		h.onStarted()
	}
}

func (h *phaseHooks) ended() {
	if h.onEnded != nil {
		h.onEnded()
	}
}

// terminateAll terminates every client, collecting its stats.
func (s *sim) terminateAll() {
	var wg sync.WaitGroup
	ch := make(chan *bot)
	for range max(runtime.GOMAXPROCS(0)*4, 8) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range ch {
				if c := b.current(); c != nil {
					c.TerminateGracefully()
					b.collect(c)
				}
			}
		}()
	}
	for _, b := range s.bots {
		ch <- b
	}
	close(ch)
	wg.Wait()
}

// authDown reports whether the auth server refuses token requests at t.
func (s *sim) authDown(t time.Time) bool {
	d := t.Sub(s.start)
	for _, w := range s.cfg.Outages {
		if w.contains(d) {
			return true
		}
	}
	return false
}

// expired records an expiry of bot i's instance at at.
func (s *sim) expired(i int, at time.Time) {
	s.expMu.Lock()
	defer s.expMu.Unlock()
	if s.expCount == 0 || at.Before(s.expFirstAt) {
		s.expFirstAt = at
	}
	if s.expCount == 0 || at.After(s.expLastAt) {
		s.expLastAt = at
	}
	s.expCount++
	r := expiryRec{at, i}
	less := func(a, b expiryRec) bool { return a.at.Before(b.at) || (a.at.Equal(b.at) && a.bot < b.bot) }
	if len(s.expFirst) == MaxExpiredUsers && !less(r, s.expFirst[len(s.expFirst)-1]) {
		return
	}
	k := sort.Search(len(s.expFirst), func(j int) bool { return less(r, s.expFirst[j]) })
	s.expFirst = append(s.expFirst, expiryRec{})
	copy(s.expFirst[k+1:], s.expFirst[k:])
	s.expFirst[k] = r
	if len(s.expFirst) > MaxExpiredUsers {
		s.expFirst = s.expFirst[:MaxExpiredUsers]
	}
}

// draw is a deterministic uniform number in [0, 1) for a bot's n-th
// renewal cycle: independent of scheduling, so runs reproduce.
func draw(seed uint64, bot, n int) float64 {
	return rand.New(rand.NewPCG(seed, uint64(bot)<<32|uint64(uint32(n)))).Float64()
}

// jobs runs work that blocks (starting, restarting and terminating clients)
// off the goroutine that moves the clock, counted as work of the world.
type jobs struct {
	w  *vclock.Work
	ch chan func()
	wg sync.WaitGroup
}

func newJobs(world *vclock.Clock) *jobs {
	j := &jobs{w: world.NewWork("simulation: starting and restarting clients", false), ch: make(chan func(), 4096)}
	for range max(runtime.GOMAXPROCS(0)*16, 32) {
		j.wg.Add(1)
		go func() {
			defer j.wg.Done()
			for f := range j.ch {
				f()
				j.w.End(1)
			}
		}()
	}
	return j
}

func (j *jobs) do(f func()) {
	j.w.Begin(1)
	j.ch <- f
}

func (j *jobs) stop() {
	close(j.ch)
	j.wg.Wait()
	j.w.Close()
}

package sim

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sinchsim/sinchsim/client"
	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/registration"
)

var (
	errAuthDown    = errors.New("simulated auth server outage")
	errCycleFailed = errors.New("simulated failure of this renewal cycle")
)

// bot is one simulated user: its current client (a new one after each
// restart, on the same device store) and what happened to it.
//
// Its fields are touched by its client's loop goroutine (the transition
// hook), its client's dispatcher (the listener) and the simulation's jobs
// (start, restart), never two at once: the client hands over between
// them through its own queues, and a restart replaces the client only
// once the old one has terminated.
type bot struct {
	s       *sim
	i       int
	user    string
	startAt time.Duration

	mu sync.Mutex // guards c
	c  *client.SinchClient

	registered     bool // started or renewing
	everRegistered bool
	regSince       time.Time
	unregOpen      bool // unregistered since unregSince, after the first registration
	unregSince     time.Time
	maxUnreg       time.Duration

	inCycle    bool // a renewal cycle has begun and not ended
	cycleStart time.Time
	cycles     int  // renewal cycles begun, for the failure draws
	cycleFails bool // the current cycle fails (RenewalFailureRate)

	expireAt     time.Time // the current instance's expiry
	seenExpiries int       // the current client's Stats().Expiries already recorded
	everExpired  bool

	startAttempts int // registrations refused in a row (auth outage)
	startBackoff  registration.Backoff

	// For the timeline: the last hour and day each series counted this
	// bot in, so that a bot counts once per hour and day.
	lastHour, lastDay [nSeries]int

	calls int // calls placed, for the callee draws

	state      registration.State // the client's, as the hook last saw it
	connLosses int
	rejections map[string]int

	lane *Lane
}

func newBot(s *sim, i int) *bot {
	b := &bot{s: s, i: i, user: fmt.Sprintf("sim-%d", i)}
	for k := range b.lastHour {
		b.lastHour[k], b.lastDay[k] = -1, -1
	}
	b.startBackoff = registration.Backoff{Rand: s.world.Rand("sim-start/" + b.user).Float64}
	if s.cfg.Bots <= MaxLanes {
		b.lane = &Lane{User: b.user}
	}
	return b
}

func (b *bot) current() *client.SinchClient {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.c
}

// newClient builds a client for the bot in the world.
func (b *bot) newClient() (*client.SinchClient, error) {
	s := b.s
	opts := []client.Option{
		client.WithClock(s.world), client.WithListener(b), client.WithInstanceTTL(true),
		client.WithReconnectLimit(-1), client.WithDeviceStore(s.store),
		client.WithRenewalPolicy(s.policy), client.WithTransitionHook(b.onTransition),
	}
	if s.cfg.Transport == TransportMemory {
		opts = append(opts, client.WithInMemory())
	}
	return client.New(s.srv.Application().Key, s.srv.URL(), b.user, opts...)
}

// first starts the bot's first client (a job) and arms its restarts.
func (b *bot) first() {
	c, err := b.newClient()
	if err != nil {
		panic("sim: building a client: " + err.Error()) // the config is ours: a bug
	}
	b.mu.Lock()
	b.c = c
	b.mu.Unlock()
	_ = c.Start()
	waitSteady(c)
	b.armRestart()
}

// waitSteady waits until c is in a state that only a timer can move it
// from (registered, failed, reconnecting): one start at a time per job
// worker, so that 100,000 clients starting at once are not 100,000
// connections in flight at once. No virtual time passes meanwhile.
func waitSteady(c *client.SinchClient) {
	_ = c.WaitState(context.Background(), registration.StateStarted, registration.StateRenewing,
		registration.StateFailed, registration.StateReconnecting, registration.StateTerminated)
}

func (b *bot) armRestart() {
	s := b.s
	if s.cfg.RestartEvery <= 0 || s.ended.Load() {
		return
	}
	s.world.ScheduleKey(b.user, s.cfg.RestartEvery, func() { s.jobs.do(b.restart) })
}

// restart terminates the bot's client and starts a new one on the same
// device store, as an application restart does (a job).
func (b *bot) restart() {
	s := b.s
	if s.ended.Load() {
		return
	}
	old := b.current()
	old.TerminateGracefully()
	b.collect(old)
	now := s.world.Now()
	if b.inCycle && s.cfg.Policy == PolicyAtStart {
		// With at-start renewal the next cycle is due at this start.
		b.endCycle(now, false)
	}
	if b.lane != nil {
		b.lane.Restarts = append(b.lane.Restarts, now)
	}
	s.restarts.Add(1)
	c, err := b.newClient()
	if err != nil {
		panic("sim: building a client: " + err.Error())
	}
	b.mu.Lock()
	b.c = c
	b.mu.Unlock()
	b.seenExpiries = 0
	b.startAttempts = 0
	_ = c.Start()
	waitSteady(c)
	b.armRestart()
}

// collect adds a terminated client's counters to the bot's.
func (b *bot) collect(c *client.SinchClient) {
	st := c.Stats()
	b.connLosses += st.ConnectionLosses
	for code, n := range st.Rejections {
		if b.rejections == nil {
			b.rejections = map[string]int{}
		}
		b.rejections[code] += n
	}
}

// OnCredentialsRequired implements client.Listener: the application asks
// its auth server for a token, which refuses it during an outage, and
// refuses every try of a failing renewal cycle.
func (b *bot) OnCredentialsRequired(c *client.SinchClient, reg *client.ClientRegistration) {
	s := b.s
	now := s.world.Now()
	switch {
	case s.authDown(now):
		if !reg.IsRenewal() {
			s.regFailures.Add(1)
		}
		reg.RegisterFailed(errAuthDown)
		return
	case reg.IsRenewal() && b.cycleFails:
		reg.RegisterFailed(errCycleFailed)
		return
	}
	jwt, err := s.minter.MintWith(credentials.MintParams{UserID: b.user})
	if err != nil {
		reg.RegisterFailed(err)
		return
	}
	reg.Register(jwt)
}

// OnClientStarted implements client.Listener.
func (b *bot) OnClientStarted(*client.SinchClient) {}

// OnClientFailed implements client.Listener: a registration the auth
// server refused fails the client; the application starts it again after
// a backoff (0.5 s doubling to 30 s, ±20 %).
func (b *bot) OnClientFailed(c *client.SinchClient, _ error) {
	s := b.s
	if s.ended.Load() {
		return
	}
	d := b.startBackoff.Delay(b.startAttempts)
	b.startAttempts++
	s.world.ScheduleKey(b.user, d, func() {
		s.jobs.do(func() {
			if b.current() == c && !s.ended.Load() {
				_ = c.Start()
			}
		})
	})
}

// onTransition is the clients' transition hook: it runs on the client's
// loop, with the world's clock at the time of the change.
func (b *bot) onTransition(t registration.Transition) {
	s := b.s
	if s.ended.Load() || t.To == registration.StateTerminated {
		return // a restart's end is not an unregistration; nor is the simulation's
	}
	now := s.world.Now()
	c := b.current()
	switch t.Event {
	case registration.EventRenew:
		if b.inCycle {
			s.tl.count(now, cRetries, 1)
		} else {
			b.inCycle, b.cycleStart = true, now
			b.cycles++
			b.cycleFails = s.cfg.RenewalFailureRate > 0 && draw(s.cfg.Seed, b.i, b.cycles) < s.cfg.RenewalFailureRate
		}
	case registration.EventRenewed:
		s.tl.count(now, cRenewals, 1)
		b.endCycle(now, true)
		b.noteInstance(c)
		if b.lane != nil {
			b.lane.Renewals = append(b.lane.Renewals, now)
		}
	case registration.EventRegistered:
		if b.everRegistered {
			s.tl.count(now, cReRegistrations, 1)
		}
		b.startAttempts = 0
		b.noteInstance(c)
		if b.lane != nil {
			b.lane.Instances = append(b.lane.Instances, Instance{Span: Span{From: now}})
		}
	case registration.EventAuthenticated:
		b.noteInstance(c)
	case registration.EventRequireCredentials:
		if n := c.Stats().Expiries; n > b.seenExpiries {
			b.seenExpiries = n
			b.expired(now)
		}
	}
	b.state = t.To
	isReg := t.To == registration.StateStarted || t.To == registration.StateRenewing
	switch {
	case isReg && !b.registered:
		b.registered, b.everRegistered = true, true
		b.regSince = now
		if b.unregOpen {
			b.endUnreg(now)
		}
	case !isReg && b.registered:
		b.registered = false
		s.tl.registered(b.regSince, now)
		b.unregOpen, b.unregSince = true, now
	}
}

// noteInstance records the expiry of the client's instance.
func (b *bot) noteInstance(c *client.SinchClient) {
	if inst, ok := c.Instance(); ok {
		b.expireAt = inst.ExpireAt
	}
}

// expired records that the bot's instance expired (the client learnt it
// now; the TTL ran out at expireAt, earlier if it was offline).
func (b *bot) expired(now time.Time) {
	s := b.s
	at := b.expireAt
	if at.IsZero() || at.After(now) {
		at = now
	}
	s.tl.count(at, cExpiries, 1)
	s.expired(b.i, at)
	b.everExpired = true
	if b.inCycle {
		b.endCycle(at, false)
	}
	if b.lane != nil {
		if n := len(b.lane.Instances); n > 0 && b.lane.Instances[n-1].To.IsZero() {
			b.lane.Instances[n-1].To = at
			b.lane.Instances[n-1].Expired = true
		}
	}
	b.expireAt = time.Time{}
}

// endCycle ends the current renewal cycle at t.
func (b *bot) endCycle(t time.Time, ok bool) {
	if !b.inCycle {
		return
	}
	b.inCycle = false
	s := b.s
	s.tl.span(b, sRenewing, b.cycleStart, t)
	if !ok {
		s.tl.count(t, cCyclesFailed, 1)
		if b.lane != nil {
			b.lane.FailedCycles = append(b.lane.FailedCycles, Span{b.cycleStart, t})
		}
	}
}

// endUnreg ends an unregistered stretch at t.
func (b *bot) endUnreg(t time.Time) {
	b.unregOpen = false
	d := t.Sub(b.unregSince)
	if d <= 0 {
		return // a restart: no time passed
	}
	b.maxUnreg = max(b.maxUnreg, d)
	s := b.s
	s.tl.span(b, sUnregistered, b.unregSince, t)
	s.tl.unregSeconds(b.unregSince, t)
	if b.lane != nil {
		b.lane.Unregistered = append(b.lane.Unregistered, Span{b.unregSince, t})
	}
}

// finish closes what is still open at the end of the simulation.
func (b *bot) finish(end time.Time) {
	s := b.s
	if b.registered {
		s.tl.registered(b.regSince, time.Time{})
	}
	if b.unregOpen {
		b.endUnreg(end)
	}
	if b.inCycle {
		s.tl.span(b, sRenewing, b.cycleStart, end) // still under way
	}
	if b.lane != nil {
		if n := len(b.lane.Instances); n > 0 && b.lane.Instances[n-1].To.IsZero() {
			b.lane.Instances[n-1].To = end
		}
	}
}

package client

import (
	"context"
	"log/slog"
	"maps"
	"time"

	"github.com/sinchsim/sinchsim/registration"
	"github.com/sinchsim/sinchsim/transport"
	"github.com/sinchsim/sinchsim/vclock"
)

// purpose says what a credentials request or a backend request is for.
type purpose uint8

const (
	forRegister purpose = iota + 1
	forRenew
	forAuthenticate
	forPush
	forCall    // callUser
	forCallAct // answerCall, declineCall, hangupCall
)

// slot names one kind of asynchronous operation of the loop. At most one
// operation per slot is current; whatever reports back for a slot with a
// ticket that is no longer current is stale and ignored. This is the one
// place that decides staleness.
type slot uint8

const (
	slotConn      slot = iota // the connection (dial result, reader messages)
	slotCreds                 // the outstanding credentials request
	slotRenew                 // TTL renewal, its retries, the rate-limit wait
	slotReconnect             // the reconnect backoff
	slotExpiry                // the instance's local expiry
	nSlots
)

// ticket identifies one operation in a slot.
type ticket struct {
	s slot
	n uint64
}

// pendingReq is a request sent to the backend and not answered yet.
type pendingReq struct {
	p       purpose
	outside bool  // counted as work outside the world (the backend is not in it)
	call    *Call // the call a call request is about
}

// loop is the client's state, owned by its loop goroutine (one at a time: it
// runs while commands are queued, see cmdQueue); every method runs
// there. Other goroutines talk to it through SinchClient.post, and read what
// it publishes (SinchClient.snap).
type loop struct {
	c   *SinchClient
	fsm *registration.Machine
	ctx context.Context // cancelled on terminate: dials and provider calls stop
	end context.CancelFunc

	seq    uint64
	cur    [nSlots]uint64
	timers [nSlots]vclock.Stopper

	dev    DeviceRecord
	loaded bool

	conn    *transport.Conn
	reqSeq  uint64
	pending map[string]pendingReq

	credPurpose purpose
	credTTL     bool   // the outstanding request asked for an instance TTL
	credWaiting bool   // a listener holds a ClientRegistration (outside work)
	pendingJWT  string // a token that arrived while not connected

	reconnects    int // consecutive failed connection attempts
	renewAttempts int
	failing       error // the error of a fail or connection_lost transition being fired

	earlyRevoke *transport.InstanceRevoked // a notice that came before its instance's reply

	pushOn      bool
	pushToken   string // wanted token ("" = none)
	pushSentFor string // instance the current token was registered with

	calls   map[string]*Call // by call id: placed or rung, not ended
	callSeq uint64

	stats    Stats
	lastErr  error
	dirty    bool // stats or instance changed since the last publish
	stopped  bool
	backoff  registration.Backoff
	renewal  registration.RenewalPolicy
	lastSnap *snapshot
	// wakes are the goroutines a command wakes (see wake), woken once it
	// has run and published.
	wakes []func()
}

func newLoop(c *SinchClient) *loop {
	l := &loop{c: c, pending: map[string]pendingReq{}, calls: map[string]*Call{}, backoff: c.o.backoff, renewal: c.o.renewal}
	l.ctx, l.end = context.WithCancel(context.Background())
	l.seedJitter()
	l.lastSnap = c.snap.Load()
	l.fsm = registration.NewMachine(l.onTransition)
	return l
}

// seedJitter gives the backoff jitter a seeded source when the client has a
// seed or lives in a virtual world, so that a seeded run replays exactly.
func (l *loop) seedJitter() {
	c := l.c
	var rnd func() float64
	switch {
	case c.o.seed != nil:
		rnd = seededRand(*c.o.seed, c.userID)
	case c.world != nil:
		rnd = c.world.Rand("client/" + c.userID).Float64
	default:
		return
	}
	if l.backoff.Rand == nil {
		l.backoff.Rand = rnd
	}
	switch d := l.renewal.(type) {
	case registration.DefaultRenewal:
		if d.Backoff.Rand == nil {
			d.Backoff.Rand = rnd
			l.renewal = d
		}
	case registration.AtStartRenewal:
		if d.Backoff.Rand == nil {
			d.Backoff.Rand = rnd
			l.renewal = d
		}
	}
}

// run runs the queued commands and ends when the queue is empty (the next
// command starts it again), or once terminated.
func (l *loop) run() {
	var items []func()
	for !l.stopped {
		items = l.c.cmds.take(items)
		if items == nil {
			return
		}
		for _, f := range items {
			l.do(f)
		}
	}
	// Commands accepted before the queue closed still run; after
	// terminate they find nothing to do, but they release what they hold.
	for _, f := range l.c.cmds.close() {
		l.do(f)
	}
	l.publish(l.state())
	close(l.c.loopDone)
}

func (l *loop) do(f func()) {
	f()
	l.publishIfDirty()
	for i, w := range l.wakes {
		w()
		l.wakes[i] = nil
	}
	l.wakes = l.wakes[:0]
	l.c.end(1)
}

// wake has w (a close or a send that wakes a goroutine waiting on the
// loop) run once the current command has run and its snapshot is
// published: the goroutine it wakes reads every change the command made
// (Stats, State, Instance), also those made after the wake was asked for.
func (l *loop) wake(w func()) { l.wakes = append(l.wakes, w) }

// publishIfDirty publishes the snapshot if the stats or the instance
// changed: after each command.
func (l *loop) publishIfDirty() {
	if l.dirty {
		l.publish(l.state())
	}
}

// publish replaces the client's snapshot with the loop's current view.
func (l *loop) publish(st registration.State) {
	l.dirty = false
	s := &snapshot{state: st, err: l.lastErr, stats: l.stats}
	if l.stats.Rejections != nil {
		s.stats.Rejections = maps.Clone(l.stats.Rejections)
	}
	if l.dev.HasInstance() {
		s.hasInstance = true
		s.instance = InstanceInfo{ID: l.dev.InstanceID, DeviceID: l.dev.DeviceID, ExpireAt: l.dev.ExpireAt, IssuedAt: l.dev.IssuedAt}
		if !s.instance.ExpireAt.IsZero() {
			s.instance.RenewAt = l.renewal.RenewAt(s.instance.IssuedAt, s.instance.ExpireAt)
		}
	} else {
		s.instance = InstanceInfo{DeviceID: l.dev.DeviceID}
	}
	prev := l.lastSnap
	l.lastSnap = s
	l.c.snap.Store(s)
	prev.supersede()
}

// count changes the loop's counters.
func (l *loop) count(f func(*Stats)) {
	f(&l.stats)
	l.dirty = true
}

func (l *loop) onTransition(t registration.Transition) {
	switch t.To {
	case registration.StateFailed, registration.StateReconnecting:
		if l.failing != nil {
			l.lastErr = l.failing
		}
	case registration.StateStarted:
		l.lastErr = nil
	}
	l.publish(t.To)
	for _, s := range l.c.subscribers() {
		s.push(t)
	}
	if h := l.c.o.onTransition; h != nil {
		h(t)
	}
}

func (l *loop) fire(e registration.Event) bool {
	if err := l.fsm.Fire(e); err != nil {
		l.c.logf(slog.LevelWarn, "lifecycle: %v", err)
		return false
	}
	return true
}

func (l *loop) state() registration.State { return l.fsm.Current() }

func (l *loop) now() time.Time { return l.c.o.clock.Now() }

// issue makes a new operation current in slot s, cancelling the previous.
func (l *loop) issue(s slot) ticket {
	l.cancel(s)
	l.seq++
	l.cur[s] = l.seq
	return ticket{s, l.seq}
}

// valid reports whether t is still the current operation of its slot.
func (l *loop) valid(t ticket) bool { return t.n != 0 && l.cur[t.s] == t.n }

// cancel makes nothing current in slot s: a timer there is stopped, a
// listener's credentials request stops being waited for.
func (l *loop) cancel(s slot) {
	l.cur[s] = 0
	if t := l.timers[s]; t != nil {
		t.Stop()
		l.timers[s] = nil
	}
	if s == slotCreds && l.credWaiting {
		l.credWaiting = false
		l.c.endOutside(1)
	}
}

// arm runs f on the loop after d (now if d ≤ 0), as slot s's operation.
func (l *loop) arm(s slot, d time.Duration, f func()) {
	tk := l.issue(s)
	c := l.c
	run := func() {
		if l.valid(tk) {
			l.timers[s], l.cur[s] = nil, 0
			f()
		}
	}
	if d <= 0 {
		c.post(run)
		return
	}
	// Keyed by user: a world with tie batching fires this user's timers
	// one settle apart, and other users' timers of the same instant with
	// them.
	l.timers[s] = vclock.AfterFuncKey(c.o.clock, c.userID, d, func() { c.post(run) })
}

// start handles Start.
func (l *loop) start() error {
	if !l.fsm.Can(registration.EventStart) {
		if l.state() == registration.StateTerminated {
			return ErrTerminated
		}
		return ErrAlreadyStarted
	}
	if !l.loaded {
		rec, found, err := l.c.o.store.Load(l.ctx, l.c.appKey, l.c.userID)
		if err != nil {
			return &Error{Code: CodeDeviceStore, Domain: DomainGeneric, Message: "loading the device record failed", Err: err}
		}
		if !found {
			rec = DeviceRecord{ApplicationKey: l.c.appKey, UserID: l.c.userID, DeviceID: newDeviceID()}
			if err := l.save(rec); err != nil {
				return err
			}
		}
		l.dev, l.loaded = rec, true
		l.dirty = true
	}
	l.reconnects = 0
	l.fire(registration.EventStart)
	l.connect()
	return nil
}

func (l *loop) save(rec DeviceRecord) error {
	l.dirty = true
	if err := l.c.o.store.Save(l.ctx, rec); err != nil {
		return &Error{Code: CodeDeviceStore, Domain: DomainGeneric, Message: "saving the device record failed", Err: err}
	}
	return nil
}

// saveOrLog saves the device record; a failure is logged, not fatal.
func (l *loop) saveOrLog() {
	if err := l.save(l.dev); err != nil {
		l.c.logf(slog.LevelError, "%v", err)
	}
}

// fail moves to failed and tells the listener.
func (l *loop) fail(e error) {
	l.failing = e
	ok := l.fire(registration.EventFail)
	l.failing = nil
	if !ok {
		return
	}
	l.stopAll()
	l.pendingJWT = ""
	l.dropConn()
	c := l.c
	c.logf(slog.LevelWarn, "client failed: %v", e)
	if lis := c.o.listener; lis != nil {
		c.dispatch(func() { lis.OnClientFailed(c, e) })
	}
}

// stopAll cancels every timer and the credentials request.
func (l *loop) stopAll() {
	for _, s := range []slot{slotCreds, slotRenew, slotReconnect, slotExpiry} {
		l.cancel(s)
	}
}

func (l *loop) terminate() {
	l.fire(registration.EventTerminate)
	l.stopAll()
	l.dropConn()
	l.end()
	l.stopped = true
}

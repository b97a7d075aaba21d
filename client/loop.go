package client

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/sinchsim/sinchsim/credentials"
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
	outside bool // counted as work outside the world (the backend is not in it)
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

	pushOn      bool
	pushToken   string // wanted token ("" = none)
	pushSentFor string // instance the current token was registered with

	stats    Stats
	lastErr  error
	dirty    bool // stats or instance changed since the last publish
	stopped  bool
	backoff  registration.Backoff
	renewal  registration.RenewalPolicy
	lastSnap *snapshot
}

func newLoop(c *SinchClient) *loop {
	l := &loop{c: c, pending: map[string]pendingReq{}, backoff: c.o.backoff, renewal: c.o.renewal}
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
	for !l.stopped {
		items := l.c.cmds.take()
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
	if l.dirty {
		l.publish(l.state())
	}
	l.c.end(1)
}

// publish replaces the client's snapshot with the loop's current view.
func (l *loop) publish(st registration.State) {
	l.dirty = false
	s := &snapshot{state: st, err: l.lastErr, stats: l.stats, changed: make(chan struct{})}
	if l.stats.Rejections != nil {
		s.stats.Rejections = maps(l.stats.Rejections)
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
	close(prev.changed)
}

func maps(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
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

func (l *loop) enablePush() error {
	switch l.state() {
	case registration.StateTerminated:
		return ErrTerminated
	case registration.StateIdle, registration.StateFailed:
		l.pushOn = true
		return nil
	}
	return &Error{Code: CodeAlreadyStarted, Domain: DomainGeneric, Message: "enable managed push before Start"}
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

// connect dials in a goroutine; the result comes back through the queue.
func (l *loop) connect() {
	tk := l.issue(slotConn)
	c := l.c
	dial := c.o.dial
	dial.World = c.world
	dial.InMemory = dial.InMemory || c.o.inMemory
	l.background(false, func(ctx context.Context) {
		conn, w, err := transport.Dial(ctx, c.url, dial)
		if !c.post(func() { l.onDialed(tk, conn, w, err) }) && conn != nil {
			conn.Discard()
		}
	})
}

// background runs f on its own goroutine with the loop's context, counted
// for TerminateGracefully (which waits for it), Idle and the world (outside:
// it waits on something outside the world).
func (l *loop) background(outside bool, f func(ctx context.Context)) {
	c := l.c
	c.wg.Add(1)
	if outside {
		c.beginOutside(1)
	} else {
		c.begin(1)
	}
	ctx := l.ctx
	go func() {
		defer c.wg.Done()
		if outside {
			defer c.endOutside(1)
		} else {
			defer c.end(1)
		}
		f(ctx)
	}()
}

func (l *loop) onDialed(tk ticket, conn *transport.Conn, w *transport.Welcome, err error) {
	if !l.valid(tk) || l.state() != registration.StateConnecting {
		if conn != nil {
			conn.Discard()
		}
		return
	}
	if err != nil {
		l.c.logf(slog.LevelWarn, "connecting to %s failed: %v", l.c.url, err)
		l.connectionLost(&Error{Code: CodeConnectionFailed, Domain: DomainNetwork, Message: "could not connect", Retryable: true, Err: err})
		return
	}
	l.conn = conn
	l.clearPending()
	l.startReader(tk, conn)
	l.c.logf(slog.LevelDebug, "connected to %s", l.c.url)
	switch {
	case l.dev.HasInstance():
		l.fire(registration.EventAuthenticate)
		proof, perr := transport.Proof(l.dev.InstanceSecret, w.Challenge, l.dev.InstanceID, l.dev.DeviceID)
		if perr != nil {
			l.registerAnew(false, "the stored instance credentials are unusable")
			return
		}
		l.send(forAuthenticate, func(id string) transport.Message {
			return &transport.Authenticate{ID: id, ApplicationKey: l.c.appKey, UserID: l.c.userID,
				InstanceID: l.dev.InstanceID, DeviceID: l.dev.DeviceID, Proof: proof}
		})
	case l.pendingJWT != "":
		l.fire(registration.EventRequireCredentials)
		jwt := l.pendingJWT
		l.pendingJWT = ""
		l.presentToken(jwt)
	default:
		l.requireCredentials(forRegister)
	}
}

// startReader reads conn until it ends, handing each message to the loop.
// Each message is handed over (counted as the loop's work) before it is
// released as handled on the connection, so that a virtual clock never sees
// a moment with nothing pending in between. Over an in-memory pipe the
// reading goroutine runs only while messages wait (transport.Conn.Serve).
func (l *loop) startReader(tk ticket, conn *transport.Conn) {
	c := l.c
	c.wg.Add(1)
	conn.Serve(func(m transport.Message, err error) {
		if err != nil {
			var pe *transport.ProtocolError
			if errors.As(err, &pe) {
				c.post(func() { l.c.logf(slog.LevelWarn, "backend sent a bad message: %v", pe) })
				if pe.Fatal {
					// Too big: close, and keep reading so that the
					// backend's close frame completes the handshake.
					conn.Close(transport.CloseMessageTooBig, "message too big")
				}
				conn.Handled()
				return
			}
			c.post(func() { l.onConnLost(tk, conn, err) })
			conn.Handled()
			c.wg.Done()
			return
		}
		c.post(func() { l.onMessage(tk, m) })
		conn.Handled()
	})
}

// send sends a request built by mk with a fresh id.
func (l *loop) send(p purpose, mk func(id string) transport.Message) {
	l.reqSeq++
	id := strconv.FormatUint(l.reqSeq, 10)
	if err := l.conn.Send(mk(id)); err != nil {
		l.c.logf(slog.LevelWarn, "sending failed: %v", err)
		return // the reader reports the lost connection
	}
	// The answer is awaited: Idle is false until it comes. Within one
	// world the connection counts it; from a backend outside the world,
	// the wait for it is outside work.
	r := pendingReq{p: p, outside: !l.conn.InWorld()}
	l.pending[id] = r
	if r.outside {
		l.c.beginOutside(1)
	} else {
		l.c.busy.Add(1)
	}
}

// answered removes a pending request and returns what it was for.
func (l *loop) answered(id string) (purpose, bool) {
	r, ok := l.pending[id]
	if ok {
		delete(l.pending, id)
		l.releasePending(r)
	}
	return r.p, ok
}

func (l *loop) releasePending(r pendingReq) {
	if r.outside {
		l.c.endOutside(1)
	} else {
		l.c.unbusy(1)
	}
}

func (l *loop) clearPending() {
	for id, r := range l.pending {
		delete(l.pending, id)
		l.releasePending(r)
	}
}

// requireCredentials moves to awaiting_credentials and asks for a token.
func (l *loop) requireCredentials(p purpose) {
	if p == forRegister && l.state() != registration.StateAwaitingCredentials {
		if !l.fire(registration.EventRequireCredentials) {
			return
		}
	}
	l.askCredentials(p)
}

// askCredentials asks the provider or the listener for a token.
func (l *loop) askCredentials(p purpose) {
	c := l.c
	tk := l.issue(slotCreds)
	l.credPurpose = p
	l.count(func(s *Stats) { s.CredentialsRequests++ })
	ttl := l.dev.Limited || p == forRenew || c.o.instanceTTL
	l.credTTL = ttl
	req := credentials.Request{ApplicationKey: c.appKey, UserID: c.userID, InstanceTTL: ttl}
	switch {
	case c.o.provider != nil:
		l.background(true, func(ctx context.Context) {
			jwt, err := c.o.provider.Token(ctx, req)
			c.post(func() { l.onCredentials(tk, jwt, err) })
		})
	case c.o.listener != nil:
		// Until the listener answers, the client waits on the application:
		// outside work, released by the answer or when the request is
		// no longer current.
		l.credWaiting = true
		c.beginOutside(1)
		reg := &ClientRegistration{c: c, tk: tk, ttl: ttl, renewal: p == forRenew}
		lis := c.o.listener
		c.dispatch(func() { lis.OnCredentialsRequired(c, reg) })
	default:
		l.cancel(slotCreds)
		if p == forRenew {
			l.renewFailed(ErrNoCredentials)
			return
		}
		l.fail(ErrNoCredentials)
	}
}

// onCredentials handles Register / RegisterFailed / a provider's answer.
func (l *loop) onCredentials(tk ticket, jwt string, err error) {
	if !l.valid(tk) {
		return // an answer to a request that is no longer current
	}
	l.cancel(slotCreds) // one answer per request
	st := l.state()
	if l.credPurpose == forRenew {
		if st != registration.StateRenewing {
			return
		}
		if err != nil {
			l.renewFailed(&Error{Code: CodeRegistrationFailed, Domain: DomainGeneric, Message: "no token for the TTL renewal", Err: err})
			return
		}
		l.send(forRenew, func(id string) transport.Message { return &transport.UpdateInstanceTTL{ID: id, JWT: jwt} })
		return
	}
	if err != nil {
		if st == registration.StateAwaitingCredentials || st == registration.StateReconnecting || st == registration.StateConnecting {
			l.fail(&Error{Code: CodeRegistrationFailed, Domain: DomainGeneric, Message: "the application could not provide a registration token", Err: err})
		}
		return
	}
	switch st {
	case registration.StateAwaitingCredentials:
		l.presentToken(jwt)
	case registration.StateReconnecting, registration.StateConnecting:
		l.pendingJWT = jwt // used once connected again
	}
}

// presentToken sends createInstance (awaiting_credentials -> registering).
func (l *loop) presentToken(jwt string) {
	if !l.fire(registration.EventRegister) {
		return
	}
	caps := slices.Clone(l.c.o.capabilities)
	if caps == nil {
		caps = []string{}
	}
	if l.pushOn && !slices.Contains(caps, "push") {
		caps = append(caps, "push")
	}
	l.send(forRegister, func(id string) transport.Message {
		return &transport.CreateInstance{ID: id, ApplicationKey: l.c.appKey, UserID: l.c.userID, DeviceID: l.dev.DeviceID,
			Capabilities: caps, SDKVersion: l.c.o.sdkVersion, JWT: jwt}
	})
}

func (l *loop) onMessage(tk ticket, m transport.Message) {
	if !l.valid(tk) || l.conn == nil {
		return
	}
	switch m := m.(type) {
	case *transport.InstanceCreated:
		if p, ok := l.answered(m.ID); ok && p == forRegister {
			l.onRegistered(m.Instance)
		}
	case *transport.Authenticated:
		if p, ok := l.answered(m.ID); ok && p == forAuthenticate {
			l.onAuthenticated(m)
		}
	case *transport.InstanceTTLUpdated:
		if p, ok := l.answered(m.ID); ok && p == forRenew {
			l.onRenewed(m)
		}
	case *transport.PushTokenRegistered:
		if _, ok := l.answered(m.ID); ok {
			l.pushResult(nil)
		}
	case *transport.PushTokenUnregistered:
		l.answered(m.ID)
	case *transport.ErrorMessage:
		p, ok := l.answered(m.ID)
		if !ok {
			l.c.logf(slog.LevelWarn, "backend error: %v", &m.Error)
			return
		}
		l.onError(p, fromWire(&m.Error))
	case *transport.InstanceRevoked:
		l.onRevoked(m)
	default:
		l.c.logf(slog.LevelWarn, "unexpected %s message from the backend", m.MessageType())
	}
}

func (l *loop) onRegistered(inst transport.Instance) {
	l.dev.InstanceID, l.dev.InstanceSecret = inst.ID, inst.Secret
	l.dev.ExpireAt, l.dev.IssuedAt = inst.ExpireAt, l.now()
	l.dev.Capabilities = inst.Capabilities
	if !inst.ExpireAt.IsZero() {
		l.dev.Limited = true
	}
	l.saveOrLog()
	l.count(func(s *Stats) { s.InstancesCreated++ })
	l.becomeStarted(registration.EventRegistered)
}

func (l *loop) onAuthenticated(m *transport.Authenticated) {
	if !m.ExpireAt.Equal(l.dev.ExpireAt) {
		l.dev.ExpireAt = m.ExpireAt
		if l.dev.IssuedAt.IsZero() {
			l.dev.IssuedAt = l.now()
		}
		l.saveOrLog()
	}
	// The backend says which push token it holds: one lost with an
	// earlier connection (sent, never answered) is sent again.
	if m.PushToken == l.pushToken {
		l.pushSentFor = l.dev.InstanceID
	} else {
		l.pushSentFor = ""
	}
	l.count(func(s *Stats) { s.Authentications++ })
	l.becomeStarted(registration.EventAuthenticated)
}

func (l *loop) becomeStarted(e registration.Event) {
	// Timers are armed before the transition is published, so that whoever
	// sees "started" finds them armed.
	l.armRenewal()
	l.armExpiry()
	if !l.fire(e) {
		return
	}
	l.reconnects, l.renewAttempts = 0, 0
	c := l.c
	if lis := c.o.listener; lis != nil {
		c.dispatch(func() { lis.OnClientStarted(c) })
	}
	c.logf(slog.LevelInfo, "client started (instance %s)", l.dev.InstanceID)
	l.syncPush()
}

// armRenewal schedules the next TTL renewal per the policy.
func (l *loop) armRenewal() {
	l.cancel(slotRenew)
	if l.dev.ExpireAt.IsZero() {
		return
	}
	at := l.renewal.RenewAt(l.dev.IssuedAt, l.dev.ExpireAt)
	if registration.RenewsOnlyAtStart(l.renewal) && at.After(l.now()) {
		// Checked when the client starts (or is started again by a
		// reconnect), never on a timer while it runs.
		return
	}
	l.arm(slotRenew, at.Sub(l.now()), l.onRenewDue)
}

func (l *loop) onRenewDue() {
	if l.state() != registration.StateStarted || l.dev.ExpireAt.IsZero() {
		return
	}
	l.c.logf(slog.LevelInfo, "renewing the instance TTL (expires %s)", l.dev.ExpireAt.Format(time.RFC3339))
	if l.fire(registration.EventRenew) {
		l.askCredentials(forRenew)
	}
}

func (l *loop) onRenewed(m *transport.InstanceTTLUpdated) {
	l.dev.ExpireAt, l.dev.IssuedAt = m.ExpireAt, l.now()
	if !m.ExpireAt.IsZero() {
		l.dev.Limited = true
	}
	l.saveOrLog()
	l.renewAttempts = 0
	l.count(func(s *Stats) { s.Renewals++ })
	l.armRenewal()
	l.armExpiry()
	if l.fire(registration.EventRenewed) {
		l.c.logf(slog.LevelInfo, "instance TTL extended to %s", m.ExpireAt.Format(time.RFC3339))
	}
}

// renewFailed keeps the old expiry and retries with backoff.
func (l *loop) renewFailed(err error) { l.renewFailedFor(err, 0) }

// renewFailedFor is renewFailed waiting at least atLeast.
func (l *loop) renewFailedFor(err error, atLeast time.Duration) {
	if !l.fire(registration.EventRenewFailed) {
		return
	}
	d := max(l.renewal.RetryDelay(l.renewAttempts), atLeast)
	l.renewAttempts++
	l.count(func(s *Stats) { s.RenewalFailures++ })
	if d <= 0 {
		d = time.Second
	}
	l.c.logf(slog.LevelWarn, "TTL renewal failed (%v); retrying in %v", err, d)
	l.arm(slotRenew, d, l.onRenewDue)
}

func (l *loop) onError(p purpose, e *Error) {
	code := e.Code
	l.count(func(s *Stats) {
		if s.Rejections == nil {
			s.Rejections = map[string]int{}
		}
		s.Rejections[code]++
	})
	switch p {
	case forAuthenticate:
		switch code {
		case transport.CodeInstanceNotFound, transport.CodeInstanceExpired, transport.CodeInstanceDeviceMismatch, credentials.CodeSignatureInvalid:
			l.registerAnew(code == transport.CodeInstanceExpired, "the backend refused the stored instance ("+code+")")
		default:
			l.retryOrFail(e)
		}
	case forRegister:
		switch {
		case code == transport.CodeInstanceTTLRequired && !l.credTTL:
			// A token without a TTL for a device that had one: ask again,
			// for a limited token this time (Limited makes credTTL true, so
			// a second refusal fails the client).
			l.dev.Limited = true
			l.saveOrLog()
			l.requireCredentials(forRegister)
		case code == transport.CodeInstanceCreationRateExceeded:
			l.rateLimited(e)
		case e.Retryable:
			l.retryOrFail(e)
		default:
			l.fail(e)
		}
	case forRenew:
		switch code {
		case transport.CodeInstanceExpired, transport.CodeInstanceNotFound:
			l.registerAnew(code == transport.CodeInstanceExpired, "the backend refused the renewal ("+code+")")
		case transport.CodeInstanceTTLShortened:
			// The token's instance TTL ends before the current expiry: a
			// token minted later reaches further, so wait for at least half
			// the time that remains rather than asking again at once.
			l.renewFailedFor(e, l.dev.ExpireAt.Sub(l.now())/2)
		default:
			l.renewFailed(e)
		}
	case forPush:
		l.pushResult(e)
	}
}

// rateLimited waits out the window, then asks for a new token.
func (l *loop) rateLimited(e *Error) {
	if !l.fire(registration.EventRequireCredentials) {
		return
	}
	wait := max(e.RetryAfter, 0)
	l.c.logf(slog.LevelWarn, "Instance creation rate exceeded; asking for a new token in %v", wait)
	l.arm(slotRenew, wait, func() {
		if l.state() == registration.StateAwaitingCredentials && l.cur[slotCreds] == 0 {
			l.askCredentials(forRegister)
		}
	})
}

func (l *loop) onRevoked(m *transport.InstanceRevoked) {
	if m.InstanceID != l.dev.InstanceID {
		return
	}
	msg := m.Message
	switch m.Code {
	case transport.CodeInstanceExpired:
		l.registerAnew(true, "the instance's TTL ran out")
	case transport.CodeInstanceReplaced:
		// Another connection (or a new registration of this user on this
		// device) took the instance over. The stored credentials may still
		// be good, so they are kept; and the client does not take the
		// instance back on its own, or two clients would keep taking it
		// from each other.
		if msg == "" {
			msg = "another connection took the instance over"
		}
		l.fail(&Error{Code: transport.CodeInstanceReplaced, Domain: DomainAPI, Message: msg})
	default:
		// Revocation is an administrator's decision, not a lapse: the
		// client fails (as the SDKs do when the backend no longer knows the
		// instance) and does not register again on its own; the next Start
		// does.
		if msg == "" {
			msg = "the backend revoked the instance"
		}
		code := m.Code
		if code == "" {
			code = transport.CodeInstanceNotFound
		}
		l.forgetInstance()
		l.fail(&Error{Code: code, Domain: DomainAPI, Message: msg})
	}
}

// registerAnew is the one path for "the instance is gone, register again":
// the instance is forgotten, requests for it are dropped and a token for a
// new one is asked for. expired counts an expiry.
func (l *loop) registerAnew(expired bool, why string) {
	if expired {
		l.count(func(s *Stats) { s.Expiries++ })
	}
	l.c.logf(slog.LevelWarn, "%s; registering anew", why)
	l.forgetInstance()
	l.clearPending()
	l.requireCredentials(forRegister)
}

func (l *loop) forgetInstance() {
	l.cancel(slotRenew)
	l.cancel(slotExpiry)
	l.dev.forget()
	l.pushSentFor = ""
	l.saveOrLog()
}

// retryOrFail treats a transient backend error like a lost connection.
func (l *loop) retryOrFail(e *Error) {
	if e.Retryable || e.Domain == DomainNetwork {
		l.dropConn()
		l.connectionLost(e)
		return
	}
	l.fail(e)
}

func (l *loop) onConnLost(tk ticket, conn *transport.Conn, err error) {
	if !l.valid(tk) {
		return
	}
	l.cancel(slotConn)
	l.conn = nil
	l.clearPending()
	switch l.state() {
	case registration.StateFailed, registration.StateTerminated, registration.StateIdle, registration.StateReconnecting:
		return
	}
	code, reason := conn.CloseCode()
	l.c.logf(slog.LevelWarn, "connection lost (%d %s): %v", code, reason, err)
	l.connectionLost(&Error{Code: CodeConnectionFailed, Domain: DomainNetwork, Message: "connection lost", Retryable: true, Err: err})
}

// connectionLost moves to reconnecting and schedules a reconnect, or fails
// after too many attempts in a row.
func (l *loop) connectionLost(e *Error) {
	l.count(func(s *Stats) { s.ConnectionLosses++ })
	l.cancel(slotRenew)
	l.reconnects++
	if lim := l.c.o.reconnectLimit; lim >= 0 && l.reconnects > lim {
		l.fail(&Error{Code: CodeConnectionFailed, Domain: DomainNetwork, Retryable: true,
			Message: "gave up after " + strconv.Itoa(l.reconnects-1) + " reconnect attempts", Err: e})
		return
	}
	if !l.fsm.Can(registration.EventConnectionLost) {
		return
	}
	// Arm the timer before the transition is published, so that whoever
	// sees "reconnecting" finds it armed.
	l.arm(slotReconnect, l.backoff.Delay(l.reconnects-1), func() {
		if l.state() == registration.StateReconnecting && l.fire(registration.EventReconnect) {
			l.connect()
		}
	})
	l.failing = e
	l.fire(registration.EventConnectionLost)
	l.failing = nil
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

// dropConn closes the current connection cleanly (its reader completes the
// handshake) and forgets it.
func (l *loop) dropConn() {
	if l.conn != nil {
		l.conn.Close(transport.CloseNormal, "")
		l.conn = nil
	}
	l.cancel(slotConn)
	l.clearPending()
}

func (l *loop) terminate() {
	l.fire(registration.EventTerminate)
	l.stopAll()
	l.dropConn()
	l.end()
	l.stopped = true
}

// armExpiry schedules the local end of the instance at its expireAt: the
// backend says so too (instanceRevoked), but a client that is offline or
// whose message is late must not keep using an expired instance.
func (l *loop) armExpiry() {
	l.cancel(slotExpiry)
	if l.dev.ExpireAt.IsZero() {
		return
	}
	l.arm(slotExpiry, l.dev.ExpireAt.Sub(l.now()), func() {
		if l.dev.ExpireAt.After(l.now()) {
			return
		}
		st := l.state()
		if st != registration.StateStarted && st != registration.StateRenewing {
			return // not registered right now: the next start finds out
		}
		l.registerAnew(true, "the instance's TTL ran out")
	})
}

// setPushToken records the wanted push token and registers it when possible.
func (l *loop) setPushToken(token string) error {
	switch {
	case l.state() == registration.StateTerminated:
		return ErrTerminated
	case !l.pushOn:
		return ErrPushNotEnabled
	}
	l.pushToken = token
	l.pushSentFor = ""
	l.syncPush()
	return nil
}

// syncPush sends the wanted push token (or its removal) when started.
func (l *loop) syncPush() {
	st := l.state()
	if l.conn == nil || (st != registration.StateStarted && st != registration.StateRenewing) {
		return
	}
	if !l.pushOn || l.pushSentFor == l.dev.InstanceID {
		return
	}
	l.pushSentFor = l.dev.InstanceID
	tok := l.pushToken
	if tok == "" {
		l.send(forPush, func(id string) transport.Message { return &transport.UnregisterPushToken{ID: id} })
		return
	}
	l.send(forPush, func(id string) transport.Message { return &transport.RegisterPushToken{ID: id, PushToken: tok} })
}

func (l *loop) pushResult(err error) {
	c := l.c
	pl, ok := c.o.listener.(PushListener)
	if !ok {
		return
	}
	tok := l.pushToken
	if err != nil {
		l.pushSentFor = ""
		c.dispatch(func() { pl.OnPushTokenRegistrationFailed(c, err) })
		return
	}
	c.dispatch(func() { pl.OnPushTokenRegistered(c, tok) })
}

package client

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/registration"
	"github.com/sinchsim/sinchsim/transport"
)

// purpose says what a credentials request or a backend request is for.
type purpose uint8

const (
	forRegister purpose = iota + 1
	forRenew
	forAuthenticate
	forPush
)

// loop is the client's state, owned by its one goroutine; every method runs
// there. Other goroutines talk to it through SinchClient.post.
type loop struct {
	c   *SinchClient
	fsm *registration.Machine
	ctx context.Context // cancelled on terminate: dials and provider calls stop
	end context.CancelFunc

	dev    DeviceRecord
	loaded bool

	conn          *transport.Conn
	connGen       uint64
	challengeTime time.Time
	reqSeq        uint64
	pending       map[string]purpose // request id -> what it is for

	credGen     uint64
	credPurpose purpose
	credTTL     bool   // the outstanding request asked for an instance TTL
	pendingJWT  string // a token that arrived while not connected

	renewTimer     timer // TTL renewal, its retries, and the rate-limit wait
	reconnectTimer timer
	expiryTimer    timer // the instance's own expiry, known from its expireAt
	reconnects     int   // consecutive failed connection attempts
	renewAttempts  int
	failing        error // the error of a fail or connection_lost transition being fired

	pushToken   string // wanted token ("" = none)
	pushSentFor string // instance the current token was registered with
	stopped     bool
}

func newLoop(c *SinchClient) *loop {
	l := &loop{c: c, pending: map[string]purpose{}}
	l.ctx, l.end = context.WithCancel(context.Background())
	l.fsm = registration.NewMachine(func(t registration.Transition) {
		err := l.failing
		if t.To != registration.StateFailed && t.To != registration.StateReconnecting {
			err = nil
		}
		c.setState(t, err)
	})
	return l
}

func (l *loop) run() {
	for !l.stopped {
		for _, f := range l.c.cmds.take() {
			l.do(f)
		}
	}
	// Commands accepted before the queue closed still run; after
	// terminate they find nothing to do, but they release what they hold
	// (a dialled connection, busy counts).
	for _, f := range l.c.cmds.close() {
		l.do(f)
	}
	close(l.c.loopDone)
}

func (l *loop) do(f func()) {
	f()
	l.publishTimers()
	l.c.unbusy(1)
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
	}
	l.reconnects = 0
	l.fire(registration.EventStart)
	l.connect()
	return nil
}

func (l *loop) save(rec DeviceRecord) error {
	if err := l.c.o.store.Save(l.ctx, rec); err != nil {
		return &Error{Code: CodeDeviceStore, Domain: DomainGeneric, Message: "saving the device record failed", Err: err}
	}
	return nil
}

// connect dials in a goroutine; the result comes back through the queue.
func (l *loop) connect() {
	l.connGen++
	gen := l.connGen
	c := l.c
	l.background(func(ctx context.Context) {
		conn, w, err := transport.Dial(ctx, c.url, c.o.dial)
		if !c.post(func() { l.onDialed(gen, conn, w, err) }) && conn != nil {
			conn.Abort()
		}
	})
}

// background runs f on its own goroutine with the loop's context, counted
// for TerminateGracefully (which waits for it) and Idle (which is false
// while it runs).
func (l *loop) background(f func(ctx context.Context)) {
	c := l.c
	c.wg.Add(1)
	c.busy.Add(1)
	ctx := l.ctx
	go func() {
		defer c.wg.Done()
		defer c.unbusy(1)
		f(ctx)
	}()
}

func (l *loop) onDialed(gen uint64, conn *transport.Conn, w *transport.Welcome, err error) {
	if gen != l.connGen || l.state() != registration.StateConnecting {
		if conn != nil {
			conn.Abort()
		}
		return
	}
	if err != nil {
		l.c.logf(slog.LevelWarn, "connecting to %s failed: %v", l.c.url, err)
		l.connectionLost(&Error{Code: CodeConnectionFailed, Domain: DomainNetwork, Message: "could not connect", Retryable: true, Err: err})
		return
	}
	l.conn = conn
	l.challengeTime = l.now()
	l.pending = map[string]purpose{}
	l.startReader(gen, conn)
	l.c.logf(slog.LevelDebug, "connected to %s", l.c.url)
	switch {
	case l.dev.HasInstance():
		l.fire(registration.EventAuthenticate)
		proof, perr := transport.Proof(l.dev.InstanceSecret, w.Challenge, l.dev.InstanceID, l.dev.DeviceID)
		if perr != nil {
			l.forgetInstance()
			l.requireCredentials(forRegister)
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

func (l *loop) startReader(gen uint64, conn *transport.Conn) {
	c := l.c
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for {
			m, err := conn.Read()
			if err != nil {
				var pe *transport.ProtocolError
				if errors.As(err, &pe) {
					c.post(func() { l.c.logf(slog.LevelWarn, "backend sent a bad message: %v", pe) })
					if pe.Fatal {
						// Too big: close, and keep reading so that the
						// backend's close frame completes the handshake.
						conn.Close(transport.CloseMessageTooBig, "message too big")
					}
					continue
				}
				c.post(func() { l.onConnLost(gen, conn, err) })
				return
			}
			c.post(func() { l.onMessage(gen, m) })
		}
	}()
}

// send sends a request built by mk with a fresh id.
func (l *loop) send(p purpose, mk func(id string) transport.Message) {
	l.reqSeq++
	id := strconv.FormatUint(l.reqSeq, 10)
	if err := l.conn.Send(mk(id)); err != nil {
		l.c.logf(slog.LevelWarn, "sending failed: %v", err)
		return // the reader reports the lost connection
	}
	l.pending[id] = p
	l.c.busy.Add(1)
}

// answered removes a pending request and returns what it was for.
func (l *loop) answered(id string) (purpose, bool) {
	p, ok := l.pending[id]
	if ok {
		delete(l.pending, id)
		l.c.unbusy(1)
	}
	return p, ok
}

func (l *loop) clearPending() {
	if n := len(l.pending); n > 0 {
		l.c.unbusy(int64(n))
	}
	l.pending = map[string]purpose{}
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
	l.credGen++
	gen := l.credGen
	l.credPurpose = p
	c.count(func(s *Stats) { s.CredentialsRequests++ })
	ttl := l.dev.Limited || p == forRenew || c.o.instanceTTL
	l.credTTL = ttl
	req := credentials.Request{ApplicationKey: c.appKey, UserID: c.userID, InstanceTTL: ttl}
	switch {
	case c.o.provider != nil:
		l.background(func(ctx context.Context) {
			jwt, err := c.o.provider.Token(ctx, req)
			c.post(func() { l.onCredentials(gen, jwt, err) })
		})
	case c.o.listener != nil:
		reg := &ClientRegistration{c: c, gen: gen, ttl: ttl, renewal: p == forRenew}
		lis := c.o.listener
		c.dispatch(func() { lis.OnCredentialsRequired(c, reg) })
	default:
		if p == forRenew {
			l.renewFailed(ErrNoCredentials)
			return
		}
		l.fail(ErrNoCredentials)
	}
}

// onCredentials handles Register / RegisterFailed / a provider's answer.
func (l *loop) onCredentials(gen uint64, jwt string, err error) {
	if gen != l.credGen {
		return // an answer to a request that is no longer current
	}
	l.credGen++ // one answer per request
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
	caps := l.capabilities()
	l.send(forRegister, func(id string) transport.Message {
		return &transport.CreateInstance{ID: id, ApplicationKey: l.c.appKey, UserID: l.c.userID, DeviceID: l.dev.DeviceID,
			Capabilities: caps, SDKVersion: l.c.o.sdkVersion, JWT: jwt}
	})
}

func (l *loop) capabilities() []string {
	caps := slices.Clone(l.c.o.capabilities)
	if caps == nil {
		caps = []string{}
	}
	l.c.mu.Lock()
	push := l.c.pushOn
	l.c.mu.Unlock()
	if push && !slices.Contains(caps, "push") {
		caps = append(caps, "push")
	}
	return caps
}

func (l *loop) onMessage(gen uint64, m transport.Message) {
	if gen != l.connGen || l.conn == nil {
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
	now := l.now()
	l.dev.InstanceID, l.dev.InstanceSecret = inst.ID, inst.Secret
	l.dev.ExpireAt, l.dev.IssuedAt = inst.ExpireAt, now
	l.dev.Capabilities = inst.Capabilities
	if !inst.ExpireAt.IsZero() {
		l.dev.Limited = true
	}
	if err := l.save(l.dev); err != nil {
		l.c.logf(slog.LevelError, "%v", err)
	}
	l.c.count(func(s *Stats) { s.InstancesCreated++ })
	l.becomeStarted(registration.EventRegistered)
}

func (l *loop) onAuthenticated(m *transport.Authenticated) {
	if !m.ExpireAt.Equal(l.dev.ExpireAt) {
		l.dev.ExpireAt = m.ExpireAt
		if l.dev.IssuedAt.IsZero() {
			l.dev.IssuedAt = l.now()
		}
		if err := l.save(l.dev); err != nil {
			l.c.logf(slog.LevelError, "%v", err)
		}
	}
	// The backend says which push token it holds: one lost with an
	// earlier connection (sent, never answered) is sent again.
	if m.PushToken == l.pushToken {
		l.pushSentFor = l.dev.InstanceID
	} else {
		l.pushSentFor = ""
	}
	l.c.count(func(s *Stats) { s.Authentications++ })
	l.becomeStarted(registration.EventAuthenticated)
}

func (l *loop) becomeStarted(e registration.Event) {
	if !l.fire(e) {
		return
	}
	l.reconnects, l.renewAttempts = 0, 0
	c := l.c
	if lis := c.o.listener; lis != nil {
		c.dispatch(func() { lis.OnClientStarted(c) })
	}
	c.logf(slog.LevelInfo, "client started (instance %s)", l.dev.InstanceID)
	l.armRenewal()
	l.armExpiry()
	l.syncPush()
}

// armRenewal schedules the next TTL renewal per the policy.
func (l *loop) armRenewal() {
	l.stopTimer(&l.renewTimer)
	if l.dev.ExpireAt.IsZero() {
		return
	}
	at := l.c.o.renewal.RenewAt(l.dev.IssuedAt, l.dev.ExpireAt)
	l.renewAfter(at.Sub(l.now()))
}

func (l *loop) renewAfter(d time.Duration) {
	l.arm(&l.renewTimer, max(d, 0), l.onRenewDue)
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
	if err := l.save(l.dev); err != nil {
		l.c.logf(slog.LevelError, "%v", err)
	}
	l.renewAttempts = 0
	l.c.count(func(s *Stats) { s.Renewals++ })
	if l.fire(registration.EventRenewed) {
		l.c.logf(slog.LevelInfo, "instance TTL extended to %s", m.ExpireAt.Format(time.RFC3339))
		l.armRenewal()
		l.armExpiry()
	}
}

// renewFailed keeps the old expiry and retries with backoff.
func (l *loop) renewFailed(err error) {
	if !l.fire(registration.EventRenewFailed) {
		return
	}
	d := l.c.o.renewal.RetryDelay(l.renewAttempts)
	l.renewAttempts++
	l.c.count(func(s *Stats) { s.RenewalFailures++ })
	l.c.logf(slog.LevelWarn, "TTL renewal failed (%v); retrying in %v", err, d)
	if d <= 0 {
		d = time.Second
	}
	l.renewAfter(d)
}

func (l *loop) onError(p purpose, e *Error) {
	code := e.Code
	l.c.count(func(s *Stats) {
		if s.Rejections == nil {
			s.Rejections = map[string]int{}
		}
		s.Rejections[code]++
	})
	switch p {
	case forAuthenticate:
		switch code {
		case transport.CodeInstanceNotFound, transport.CodeInstanceExpired, transport.CodeInstanceDeviceMismatch, credentials.CodeSignatureInvalid:
			if code == transport.CodeInstanceExpired {
				l.c.count(func(s *Stats) { s.Expiries++ })
			}
			l.c.logf(slog.LevelInfo, "stored instance refused (%s); registering anew", code)
			l.forgetInstance()
			l.requireCredentials(forRegister)
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
			_ = l.save(l.dev)
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
			if code == transport.CodeInstanceExpired {
				l.c.count(func(s *Stats) { s.Expiries++ })
			}
			l.forgetInstance()
			l.requireCredentials(forRegister)
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
	gen := l.credGen
	l.arm(&l.renewTimer, wait, func() {
		if gen == l.credGen && l.state() == registration.StateAwaitingCredentials {
			l.askCredentials(forRegister)
		}
	})
}

func (l *loop) onRevoked(m *transport.InstanceRevoked) {
	if m.InstanceID != l.dev.InstanceID {
		return
	}
	l.forgetInstance()
	if m.Code == transport.CodeInstanceExpired {
		l.c.count(func(s *Stats) { s.Expiries++ })
		l.c.logf(slog.LevelWarn, "instance TTL ran out; registering anew")
		l.clearPending()
		l.requireCredentials(forRegister)
		return
	}
	l.fail(&Error{Code: transport.CodeInstanceNotFound, Domain: DomainAPI, Message: "the backend revoked the instance: " + m.Message})
}

func (l *loop) forgetInstance() {
	l.stopTimer(&l.renewTimer)
	l.stopTimer(&l.expiryTimer)
	l.dev.forget()
	l.pushSentFor = ""
	if err := l.save(l.dev); err != nil {
		l.c.logf(slog.LevelError, "%v", err)
	}
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

func (l *loop) onConnLost(gen uint64, conn *transport.Conn, err error) {
	if gen != l.connGen {
		return
	}
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
	l.c.count(func(s *Stats) { s.ConnectionLosses++ })
	l.stopTimer(&l.renewTimer)
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
	// sees "reconnecting" and moves a mock clock finds it armed.
	d := l.c.o.backoff.Delay(l.reconnects - 1)
	gen := l.connGen
	l.arm(&l.reconnectTimer, d, func() {
		if gen == l.connGen && l.state() == registration.StateReconnecting && l.fire(registration.EventReconnect) {
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
	l.stopTimer(&l.renewTimer)
	l.stopTimer(&l.reconnectTimer)
	l.stopTimer(&l.expiryTimer)
	l.credGen++
	l.pendingJWT = ""
	l.dropConn()
	c := l.c
	c.logf(slog.LevelWarn, "client failed: %v", e)
	if lis := c.o.listener; lis != nil {
		c.dispatch(func() { lis.OnClientFailed(c, e) })
	}
}

// dropConn closes the current connection cleanly (its reader completes the
// handshake) and forgets it.
func (l *loop) dropConn() {
	if l.conn != nil {
		l.conn.Close(transport.CloseNormal, "")
		l.conn = nil
	}
	l.connGen++
	l.clearPending()
}

func (l *loop) terminate() {
	l.fire(registration.EventTerminate)
	l.stopTimer(&l.renewTimer)
	l.stopTimer(&l.reconnectTimer)
	l.stopTimer(&l.expiryTimer)
	l.credGen++
	l.dropConn()
	l.end()
	l.stopped = true
}

// timer is one of the loop's timers on the client's clock, with its
// deadline, so that NextTimer and Idle can tell a simulation when the
// client next needs time to move and whether a due timer is still being
// handled (a mock clock runs AfterFunc callbacks on their own goroutines).
type timer struct {
	t   *clock.Timer
	at  time.Time
	gen uint64
}

// arm (re)schedules tm to run f on the loop after d.
func (l *loop) arm(tm *timer, d time.Duration, f func()) {
	l.stopTimer(tm)
	tm.gen++
	gen := tm.gen
	c := l.c
	run := func() {
		if tm.gen != gen {
			return // stopped or re-armed since
		}
		tm.t, tm.at = nil, time.Time{}
		f()
	}
	if d <= 0 {
		// Due now: queue it. A mock clock fires a timer armed at its
		// current time only when it next moves, and Idle, which waits for
		// due timers, would wait for that step forever.
		c.post(run)
		return
	}
	tm.t = c.o.clock.AfterFunc(d, func() { c.post(run) })
	// Read the clock after arming: a shared mock clock moved by another
	// goroutine in between would otherwise put at before the timer's real
	// deadline, and Idle, waiting for a "due" timer the clock has not
	// fired, would wait forever.
	tm.at = l.now().Add(d)
}

func (l *loop) stopTimer(tm *timer) {
	if tm.t != nil {
		tm.t.Stop()
	}
	tm.t, tm.at = nil, time.Time{}
	tm.gen++
}

// publishTimers records the earliest armed deadline for NextTimer.
func (l *loop) publishTimers() {
	var next int64
	for _, tm := range []*timer{&l.renewTimer, &l.reconnectTimer, &l.expiryTimer} {
		if tm.t != nil && (next == 0 || tm.at.UnixNano() < next) {
			next = tm.at.UnixNano()
		}
	}
	l.c.nextTimer.Store(next)
	l.publishInstance()
}

// publishInstance records what Instance returns.
func (l *loop) publishInstance() {
	info := InstanceInfo{DeviceID: l.dev.DeviceID}
	ok := l.dev.HasInstance()
	if ok {
		info.ID, info.ExpireAt, info.IssuedAt = l.dev.InstanceID, l.dev.ExpireAt, l.dev.IssuedAt
		if !info.ExpireAt.IsZero() {
			info.RenewAt = l.c.o.renewal.RenewAt(info.IssuedAt, info.ExpireAt)
		}
	}
	c := l.c
	c.statsMu.Lock()
	c.instance, c.hasInstance = info, ok
	c.statsMu.Unlock()
}

// armExpiry schedules the local end of the instance at its expireAt: the
// backend says so too (instanceRevoked), but a client that is offline or
// whose message is late must not keep using an expired instance.
func (l *loop) armExpiry() {
	l.stopTimer(&l.expiryTimer)
	if l.dev.ExpireAt.IsZero() {
		return
	}
	id := l.dev.InstanceID
	l.arm(&l.expiryTimer, max(l.dev.ExpireAt.Sub(l.now()), 0), func() {
		if l.dev.InstanceID != id || l.dev.ExpireAt.After(l.now()) {
			return
		}
		st := l.state()
		if st != registration.StateStarted && st != registration.StateRenewing {
			return // not registered right now: the next start finds out
		}
		l.c.count(func(s *Stats) { s.Expiries++ })
		l.c.logf(slog.LevelWarn, "instance TTL ran out; registering anew")
		l.forgetInstance()
		l.clearPending()
		l.requireCredentials(forRegister)
	})
}

// setPushToken records the wanted push token and registers it when possible.
func (l *loop) setPushToken(token string) error {
	if l.state() == registration.StateTerminated {
		return ErrTerminated
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
	l.c.mu.Lock()
	on := l.c.pushOn
	l.c.mu.Unlock()
	if !on || l.pushSentFor == l.dev.InstanceID {
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

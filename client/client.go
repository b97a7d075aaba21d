package client

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sinchsim/sinchsim/codes"
	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/registration"
	"github.com/sinchsim/sinchsim/vclock"
)

// SinchClient is one user on one device, registered with the backend the
// way the Sinch SDKs do it: Start, OnCredentialsRequired, Register(jwt) or
// RegisterFailed, OnClientStarted / OnClientFailed, TerminateGracefully.
//
// Its lifecycle is a registration.Machine owned by one goroutine (the
// client's loop); every public method is safe for concurrent use and may be
// called from listener callbacks.
type SinchClient struct {
	appKey string
	// urls are the backend's WebSocket URLs; urlIdx is the one the next
	// connection attempt uses (see WithEnvironmentHosts).
	urls   []string
	urlIdx atomic.Uint32
	userID string
	o      options
	log    *slog.Logger

	// world is the virtual clock the client lives in (nil on other
	// clocks); work counts its loop commands, callbacks and goroutines
	// there, and wait what it waits for outside the world (a credentials
	// provider, a listener's answer, a backend outside the world).
	world *vclock.Clock
	work  *vclock.Work
	wait  *vclock.Work

	disp dispatcher

	// snap is what the loop last published: state, error, stats, instance.
	snap atomic.Pointer[snapshot]
	subs atomic.Pointer[[]*Subscription]

	// mu guards the fields below (never taken by the loop).
	mu         sync.Mutex
	loopOn     bool
	terminated bool

	cmds     cmdQueue
	loopDone chan struct{}
	termOnce sync.Once
	wg       sync.WaitGroup // goroutines besides the loop: reader, dialer, provider calls
	busy     atomic.Int64   // queued commands, requests in flight, background work, callbacks: for Idle
	idleMu   sync.Mutex
	idleCh   chan struct{} // made by a waiter, closed and dropped whenever the client may have become idle

	l *loop // owned by the loop goroutine
}

// snapshot is an immutable view of the loop's state, replaced (and its
// changed channel closed) whenever the loop publishes a newer one. The
// channel is made only when someone waits (changedChan): a renewal
// publishes three snapshots that nobody waits on.
type snapshot struct {
	state       registration.State
	err         error
	stats       Stats
	instance    InstanceInfo
	hasInstance bool
	changed     atomic.Pointer[chan struct{}]
}

// closedChan is the changed channel of a superseded snapshot nobody waited on.
var closedChan = func() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()

// changedChan returns a channel that is closed once s is superseded.
func (s *snapshot) changedChan() <-chan struct{} {
	if p := s.changed.Load(); p != nil {
		return *p
	}
	ch := make(chan struct{})
	if s.changed.CompareAndSwap(nil, &ch) {
		return ch
	}
	return *s.changed.Load()
}

// supersede closes s's changed channel, and makes later ones closed.
func (s *snapshot) supersede() {
	if p := s.changed.Swap(&closedChan); p != nil && *p != closedChan {
		close(*p)
	}
}

// Stats counts what happened to a client since New.
type Stats struct {
	// InstancesCreated counts registrations that created an instance.
	InstancesCreated int `json:"instancesCreated"`
	// Authentications counts starts with stored instance credentials.
	Authentications int `json:"authentications"`
	// Renewals counts successful TTL extensions; RenewalFailures the
	// attempts that failed (the old expiry was kept).
	Renewals        int `json:"renewals"`
	RenewalFailures int `json:"renewalFailures"`
	// Expiries counts instances lost to their TTL.
	Expiries int `json:"expiries"`
	// ConnectionLosses counts connections lost or refused.
	ConnectionLosses int `json:"connectionLosses"`
	// CredentialsRequests counts tokens asked of the provider or listener.
	CredentialsRequests int `json:"credentialsRequests"`
	// Rejections counts backend errors by code.
	Rejections map[string]int `json:"rejections,omitempty"`
}

// InstanceInfo describes the client's current instance.
type InstanceInfo struct {
	ID       string
	DeviceID string
	// ExpireAt is zero for an instance without a TTL; IssuedAt is when that
	// expiry was granted; RenewAt is when the renewal policy renews it.
	ExpireAt time.Time
	IssuedAt time.Time
	RenewAt  time.Time
}

// Instance returns the client's current instance, as last registered,
// authenticated or renewed (loaded from the device store at Start), and
// whether it has one.
func (c *SinchClient) Instance() (InstanceInfo, bool) {
	s := c.snap.Load()
	return s.instance, s.hasInstance
}

// Stats returns a copy of the client's counters.
func (c *SinchClient) Stats() Stats {
	s := c.snap.Load().stats
	if s.Rejections != nil {
		s.Rejections = maps.Clone(s.Rejections)
	}
	return s
}

// New builds a client for userID of the application applicationKey on the
// backend at environmentHost ("host:port", or a ws:// or wss:// URL). It
// validates its arguments (user ids: rule 5 in docs/RULES.md); no connection
// is made before Start.
func New(applicationKey, environmentHost, userID string, opts ...Option) (*SinchClient, error) {
	if applicationKey == "" {
		return nil, &Error{Code: codes.InvalidArgument, Domain: DomainGeneric, Message: "application key is empty"}
	}
	if err := credentials.ValidateUserID(userID); err != nil {
		return nil, &Error{Code: credentials.CodeUserIDInvalid, Domain: DomainGeneric, Message: credentials.ReasonOf(err)}
	}
	u, err := environmentURL(environmentHost)
	if err != nil {
		return nil, &Error{Code: codes.InvalidArgument, Domain: DomainGeneric, Message: err.Error()}
	}
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	urls := []string{u}
	for _, h := range o.hosts {
		hu, err := environmentURL(h)
		if err != nil {
			return nil, &Error{Code: codes.InvalidArgument, Domain: DomainGeneric, Message: err.Error()}
		}
		if !slices.Contains(urls, hu) {
			urls = append(urls, hu)
		}
	}
	if o.store == nil {
		o.store = NewMemoryDeviceStore()
	}
	if o.renewal == nil {
		o.renewal = registration.DefaultRenewal{}
	}
	c := &SinchClient{
		appKey:   applicationKey,
		urls:     urls,
		userID:   userID,
		o:        o,
		log:      o.logger,
		loopDone: make(chan struct{}),
	}
	if len(urls) > 1 {
		// Round-robin at start: the clients of a process spread over the hosts.
		c.urlIdx.Store(uint32(startHost.Add(1)-1) % uint32(len(urls)))
	}
	c.snap.Store(&snapshot{state: registration.StateIdle})
	if w := vclock.Of(o.clock); w != nil {
		c.world = w
		c.work = w.NewWork("client "+userID, false)
		c.wait = w.NewWork("client "+userID+": credentials or a backend outside the world", true)
	}
	c.disp.done = c.end
	c.disp.onIdle = c.kick
	c.disp.onPanic = func(r any) { c.logf(slog.LevelError, "listener callback panicked: %v", r) }
	return c, nil
}

// ApplicationKey returns the application key.
func (c *SinchClient) ApplicationKey() string { return c.appKey }

// UserID returns the user id.
func (c *SinchClient) UserID() string { return c.userID }

// State returns the current lifecycle state.
func (c *SinchClient) State() registration.State { return c.snap.Load().state }

// IsStarted reports whether the client is registered (started or renewing).
func (c *SinchClient) IsStarted() bool {
	s := c.State()
	return s == registration.StateStarted || s == registration.StateRenewing
}

// Err returns the error of the last failure or, while the client is
// reconnecting, why the connection was lost; nil once started again.
func (c *SinchClient) Err() error { return c.snap.Load().err }

// EnableManagedPush enables managed push notifications (Sinch's "Sinch Client" page): the
// instance registers with the "push" capability and RegisterPushToken
// becomes available. Call it before Start.
func (c *SinchClient) EnableManagedPush() error {
	if !c.ensureLoop() {
		return ErrTerminated
	}
	return c.call(func() error { return c.l.enablePush() })
}

// ensureLoop starts the loop goroutine unless it runs; false once terminated.
func (c *SinchClient) ensureLoop() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.terminated {
		return false
	}
	if !c.loopOn {
		c.loopOn = true
		c.l = newLoop(c)
		c.cmds.setRun(c.l.run)
	}
	return true
}

// Start starts the client: it connects, authenticates with stored instance
// credentials or asks for a registration token, and reports the outcome
// through OnClientStarted or OnClientFailed. It returns ErrAlreadyStarted
// unless the client is idle or failed, and ErrTerminated after
// TerminateGracefully.
func (c *SinchClient) Start() error {
	if !c.ensureLoop() {
		return ErrTerminated
	}
	return c.call(func() error { return c.l.start() })
}

// RegisterPushToken registers a push device token with the instance. The
// outcome arrives through PushListener. Before the client is started the
// token is kept and registered once it is.
func (c *SinchClient) RegisterPushToken(token string) error {
	if token == "" {
		return &Error{Code: codes.InvalidArgument, Domain: DomainGeneric, Message: "push token is empty"}
	}
	return c.pushCall(func() error { return c.l.setPushToken(token) })
}

// UnregisterPushToken removes the push device token: the preferred way to
// stop incoming calls temporarily (Sinch's "Sinch Client" page).
func (c *SinchClient) UnregisterPushToken() error {
	return c.pushCall(func() error { return c.l.setPushToken("") })
}

func (c *SinchClient) pushCall(f func() error) error {
	c.mu.Lock()
	terminated, loopOn := c.terminated, c.loopOn
	c.mu.Unlock()
	switch {
	case terminated:
		return ErrTerminated
	case !loopOn:
		return ErrPushNotEnabled // EnableManagedPush starts the loop
	}
	return c.call(f)
}

// Terminate asks the client to terminate and returns at once: the
// connection is closed cleanly, every timer and goroutine stops, and the
// client cannot be started again. It is idempotent and safe from any
// goroutine, including a listener callback.
func (c *SinchClient) Terminate() { c.terminate(c.post) }

// terminate is Terminate, with post queueing the loop's part.
func (c *SinchClient) terminate(post func(func()) bool) {
	c.termOnce.Do(func() {
		c.mu.Lock()
		c.terminated = true
		loopOn := c.loopOn
		c.mu.Unlock()
		if loopOn {
			post(func() { c.l.terminate() })
			return
		}
		prev := c.snap.Load()
		c.snap.Store(&snapshot{state: registration.StateTerminated, err: prev.err})
		prev.supersede()
		for _, s := range c.subscribers() {
			s.push(registration.Transition{From: prev.state, To: registration.StateTerminated, Event: registration.EventTerminate})
		}
		c.cmds.close()
		close(c.loopDone)
	})
}

// TerminateGracefully is Terminate followed by a wait until the loop, every
// goroutine of the client and its queued listener callbacks have finished.
// Called from a listener callback, it does not wait for the callbacks (the
// calling one included): they finish once it returns.
func (c *SinchClient) TerminateGracefully() {
	c.terminate(c.postHere) // it waits for the loop: it may as well run it
	<-c.loopDone
	c.wg.Wait()
	if !c.disp.inCallback() {
		c.disp.waitIdle()
		c.work.Close()
		c.wait.Close()
	}
}

// WaitStarted waits until the client is started (nil), failed (its error)
// or terminated (ErrTerminated), or ctx ends.
func (c *SinchClient) WaitStarted(ctx context.Context) error {
	for {
		s := c.snap.Load()
		st, err, ch := s.state, s.err, s.changedChan()
		switch st {
		case registration.StateStarted, registration.StateRenewing:
			return nil
		case registration.StateFailed:
			return err
		case registration.StateTerminated:
			return ErrTerminated
		case registration.StateIdle:
			return ErrNotStarted
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// WaitState waits until the client is in one of states, or ctx ends.
func (c *SinchClient) WaitState(ctx context.Context, states ...registration.State) error {
	for {
		snap := c.snap.Load()
		st, ch := snap.state, snap.changedChan()
		for _, s := range states {
			if s == st {
				return nil
			}
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("waiting for %v in state %s: %w", states, st, ctx.Err())
		}
	}
}

// Idle reports whether the client has nothing in flight: no queued work,
// no request waiting for its answer, no connection attempt or credentials
// call under way and no callback queued. Timers may be armed.
//
// On a virtual clock there is no need to wait for it: the server's Advance
// waits for every client in its world.
func (c *SinchClient) Idle() bool {
	return c.busy.Load() == 0 && !c.disp.busy()
}

// WaitIdle waits until Idle is true or ctx ends.
func (c *SinchClient) WaitIdle(ctx context.Context) error {
	for {
		c.idleMu.Lock()
		if c.idleCh == nil {
			c.idleCh = make(chan struct{})
		}
		ch := c.idleCh
		c.idleMu.Unlock()
		if c.Idle() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// begin and end count units of the client's own work (loop commands,
// callbacks, background goroutines): for Idle, and in its world.
func (c *SinchClient) begin(n int64) {
	c.busy.Add(n)
	c.work.Begin(n)
}

func (c *SinchClient) end(n int64) {
	c.work.End(n)
	c.unbusy(n)
}

// beginOutside and endOutside count what the client waits for outside its
// world: a credentials provider, a listener's answer, a backend outside it.
func (c *SinchClient) beginOutside(n int64) {
	c.busy.Add(n)
	c.wait.Begin(n)
}

func (c *SinchClient) endOutside(n int64) {
	c.wait.End(n)
	c.unbusy(n)
}

// unbusy ends n units counted for Idle only.
func (c *SinchClient) unbusy(n int64) {
	if c.busy.Add(-n) == 0 {
		c.kick()
	}
}

// kick wakes WaitIdle callers.
func (c *SinchClient) kick() {
	c.idleMu.Lock()
	if c.idleCh != nil {
		close(c.idleCh)
		c.idleCh = nil
	}
	c.idleMu.Unlock()
}

// post queues f on the loop; it returns false when the loop is gone (f
// will never run).
func (c *SinchClient) post(f func()) bool {
	c.begin(1)
	if !c.cmds.push(f) {
		c.end(1)
		return false
	}
	return true
}

// postHere is post from a goroutine that has nothing else to do: when no
// loop runs, it runs the loop itself rather than start one.
func (c *SinchClient) postHere(f func()) bool {
	c.begin(1)
	ok, run := c.cmds.add(f)
	if !ok {
		c.end(1)
		return false
	}
	if run != nil {
		run()
	}
	return true
}

// call runs f on the loop and returns its result. The caller waits, so
// when no loop runs it runs the loop itself.
func (c *SinchClient) call(f func() error) error {
	res := make(chan error, 1)
	if !c.postHere(func() {
		err := f()
		c.l.wake(func() { res <- err })
	}) {
		return ErrTerminated
	}
	select {
	case err := <-res:
		return err
	case <-c.loopDone:
		select {
		case err := <-res:
			return err
		default:
			return ErrTerminated
		}
	}
}

// dispatch queues a listener callback, counted as the client's work until
// it has run.
func (c *SinchClient) dispatch(f func()) {
	c.begin(1)
	c.disp.enqueue(f)
}

// logf logs to the logger and the LogListener. Messages never contain
// secrets or tokens.
func (c *SinchClient) logf(level slog.Level, format string, args ...any) {
	toLog := c.log != nil && c.log.Enabled(context.Background(), level)
	ll, toListener := wantsLogs(c.o.listener)
	if !toLog && !toListener {
		return // nobody reads it: do not format it
	}
	msg := fmt.Sprintf(format, args...)
	if toLog {
		c.log.Log(context.Background(), level, msg, "user", c.userID)
	}
	if toListener {
		c.dispatch(func() { ll.OnLogMessage(c, level, msg) })
	}
}

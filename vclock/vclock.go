package vclock

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	mrand "math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/clock"
)

// Default bounds of a wait for quiescence (wall-clock time).
const (
	// DefaultSettleBound bounds the wait for work inside the world. Work
	// inside the world always ends by itself; running into this bound means
	// a component is stuck, and the error names it.
	DefaultSettleBound = 30 * time.Second
	// DefaultOutsideBound bounds the wait for work that waits on something
	// outside the world (a real auth server, a listener that answers a
	// credentials request from another goroutine).
	DefaultOutsideBound = 5 * time.Second
)

// Clock is a virtual clock for one emulated world. Its time moves only
// through Advance and Set. It implements clock.Clock; the zero value is not
// usable: call New.
type Clock struct {
	mu  sync.Mutex
	now time.Time
	// nowAt is now for Now, which every part of the world asks all the
	// time: read without taking mu. Only setNowLocked changes now.
	nowAt       atomic.Pointer[time.Time]
	seq         uint64
	timers      timerHeap
	foreign     []*foreignTimer
	links       map[string]*Link
	id          string
	seed        uint64
	inner       *clock.Mock // owns the *clock.Timer values handed out through clock.Clock
	usedForeign bool        // inner's time is kept in step once it has handed out a timer

	inside  atomic.Int64 // pending units of work inside the world
	outside atomic.Int64 // pending units waiting on the outside world
	idleMu  sync.Mutex
	idleCh  chan struct{} // closed and replaced when a count reaches zero

	worksMu sync.Mutex
	works   map[*Work]struct{}
	flight  *Work // messages in flight on links

	fired        atomic.Uint64
	settles      atomic.Uint64       // waits for quiescence, for tests
	batching     bool                // WithTieBatching
	lowMark      atomic.Int64        // a tie batch waits for pending work to drop to this
	lowWait      atomic.Bool         // ... and is waiting: wake it
	batch        map[string]struct{} // keys fired in the current batch (moveMu)
	moveMu       sync.Mutex          // one goroutine moves time at a time
	settleBound  atomic.Int64
	outsideBound atomic.Int64
}

var _ clock.Clock = (*Clock)(nil)

// Option configures a Clock.
type Option func(*Clock)

// WithSeed sets the seed of the world's random sources (see Rand). Default 1.
func WithSeed(seed uint64) Option { return func(c *Clock) { c.seed = seed } }

// WithTieBatching makes Advance and Set fire together the timers that are
// due at the same instant and carry different keys (see ScheduleKey), and
// only then wait for the world to settle, instead of settling before each
// timer. A world whose components are independent of each other, such as
// a simulated fleet whose clients each touch only their own user at the
// backend, then runs its many simultaneous renewals at once: throughput
// instead of one round trip after another.
//
// What stays exact: the timers of one key fire in deadline and creation
// order, each with the clock at its deadline, and two timers of the same
// key due at the same instant are still separated by a settle; a timer
// without a key (Schedule, AfterFunc, the clock.Clock interface) fires
// alone, as without batching. What changes: the consequences of timers of
// different keys due at the same instant interleave, so anything shared
// between keys (a global event log's order) may differ from run to run.
// Off by default.
func WithTieBatching(on bool) Option { return func(c *Clock) { c.batching = on } }

// WithBounds sets how long a wait for quiescence may take, for work inside
// the world and for work waiting on the outside world (wall-clock time;
// zero keeps the default).
func WithBounds(inside, outside time.Duration) Option {
	return func(c *Clock) { c.SetBounds(inside, outside) }
}

// SetBounds changes the bounds of WithBounds; zero keeps a bound as it is.
func (c *Clock) SetBounds(inside, outside time.Duration) {
	if inside > 0 {
		c.settleBound.Store(int64(inside))
	}
	if outside > 0 {
		c.outsideBound.Store(int64(outside))
	}
}

// New returns a virtual clock standing at start.
func New(start time.Time, opts ...Option) *Clock {
	var id [8]byte
	_, _ = rand.Read(id[:])
	c := &Clock{
		now:    start,
		links:  map[string]*Link{},
		id:     hex.EncodeToString(id[:]),
		seed:   1,
		idleCh: make(chan struct{}),
		works:  map[*Work]struct{}{},
	}
	c.nowAt.Store(&start)
	c.SetBounds(DefaultSettleBound, DefaultOutsideBound)
	for _, o := range opts {
		o(c)
	}
	c.inner = clock.NewMock()
	c.inner.Set(start)
	c.flight = c.NewWork("messages in flight", false)
	return c
}

// Seed returns the seed of the world's random sources.
func (c *Clock) Seed() uint64 { return c.seed }

// Rand returns a random source for the component called name, derived from
// the world's seed and the name alone: the same seed and name give the same
// numbers whatever else runs, so a seeded world replays exactly.
func (c *Clock) Rand(name string) *mrand.Rand {
	h := fnv.New64a()
	_, _ = h.Write([]byte(name))
	return mrand.New(mrand.NewPCG(c.seed, h.Sum64()))
}

// Now returns the virtual time.
func (c *Clock) Now() time.Time { return *c.nowAt.Load() }

// Since returns the virtual time elapsed since t.
func (c *Clock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

// Until returns the virtual time until t.
func (c *Clock) Until(t time.Time) time.Duration { return t.Sub(c.Now()) }

// setNowLocked moves the time; c.mu is held.
func (c *Clock) setNowLocked(t time.Time) {
	c.now = t
	c.nowAt.Store(&t)
	if c.usedForeign {
		setMockNow(c.inner, t)
	}
}

// Advance moves the clock forward by d. Due timers fire in deadline order
// (ties in creation order), each with the clock standing at its deadline;
// before each timer and before returning, Advance waits until the world is
// quiescent. When it returns nil, every consequence up to the new time has
// happened. A wait that runs into its bound stops the advance where it
// stands and returns a *SettleError naming what was still busy.
func (c *Clock) Advance(d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("vclock: cannot advance by a negative duration %v", d)
	}
	c.moveMu.Lock()
	defer c.moveMu.Unlock()
	return c.runUntil(c.Now().Add(d))
}

// Set moves the clock to t. Forward, it is Advance(t − Now()); backward, it
// only sets the time (armed timers keep their deadlines) and waits for
// quiescence.
func (c *Clock) Set(t time.Time) error {
	c.moveMu.Lock()
	defer c.moveMu.Unlock()
	c.mu.Lock()
	if t.Before(c.now) {
		c.setNowLocked(t)
		c.mu.Unlock()
		return c.settle()
	}
	c.mu.Unlock()
	return c.runUntil(t)
}

// Add is Advance without the error, for code written against *clock.Mock.
// It panics if the world does not settle.
func (c *Clock) Add(d time.Duration) {
	if err := c.Advance(d); err != nil {
		panic(err)
	}
}

func (c *Clock) runUntil(target time.Time) error {
	for {
		if err := c.settle(); err != nil {
			return err
		}
		c.mu.Lock()
		native, foreign := c.nextDueLocked(target)
		switch {
		case native != nil:
			if native.at.After(c.now) {
				c.setNowLocked(native.at)
			}
			c.timers.pop()
			c.mu.Unlock()
			c.fired.Add(1)
			native.f()
			if c.batching && native.key != "" {
				c.fireTies(native)
			}
		case foreign != nil:
			if at := foreign.deadline(); at.After(c.now) {
				c.setNowLocked(at)
			}
			now := c.now
			c.mu.Unlock()
			c.fired.Add(1)
			foreign.fire(now)
		case c.now.Before(target):
			c.setNowLocked(target)
			c.mu.Unlock()
		default:
			c.mu.Unlock()
			return nil
		}
	}
}

// nextDueLocked returns the earliest timer due at or before target: a
// native one or a foreign one.
func (c *Clock) nextDueLocked(target time.Time) (*Timer, *foreignTimer) {
	var n *Timer
	if t := c.timers.top(); t != nil && !t.at.After(target) {
		n = t
	}
	f := c.nextForeignLocked(target)
	switch {
	case f == nil:
		return n, nil
	case n == nil:
		return nil, f
	}
	fa := f.deadline()
	if fa.Before(n.at) || (fa.Equal(n.at) && f.seq < n.seq) {
		return nil, f
	}
	return n, nil
}

// Fired returns how many timers have fired since New.
func (c *Clock) Fired() uint64 { return c.fired.Load() }

// NextTimer returns the earliest armed deadline, if any.
func (c *Clock) NextTimer() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, f := c.nextDueLocked(time.Unix(1<<62, 0))
	switch {
	case n != nil:
		return n.at, true
	case f != nil:
		return f.deadline(), true
	}
	return time.Time{}, false
}

// Settle waits until the world is quiescent, within the clock's bounds.
// Time does not move.
func (c *Clock) Settle() error { return c.settle() }

// SettleError says that a wait for quiescence ran into its bound.
type SettleError struct {
	// Waited is how long the wait took (wall-clock time).
	Waited time.Duration
	// Outside is true when only work waiting on the outside world was left.
	Outside bool
	// Busy names the components that still had work.
	Busy []string
}

func (e *SettleError) Error() string {
	where := "inside the world"
	if e.Outside {
		where = "waiting on the outside world"
	}
	return fmt.Sprintf("vclock: the world did not settle within %v; still busy (%s): %s",
		e.Waited.Round(time.Millisecond), where, strings.Join(e.Busy, ", "))
}

// ErrNotSettled is what a *SettleError matches with errors.Is.
var ErrNotSettled = errors.New("vclock: the world did not settle")

// Is makes errors.Is(err, ErrNotSettled) true.
func (e *SettleError) Is(target error) bool { return target == ErrNotSettled }

func (c *Clock) settle() error {
	c.settles.Add(1)
	start := time.Now()
	var outsideSince time.Time
	tick := time.NewTimer(time.Millisecond)
	defer tick.Stop()
	for backoff := time.Millisecond; ; backoff = min(backoff*2, 20*time.Millisecond) {
		c.idleMu.Lock()
		ch := c.idleCh
		c.idleMu.Unlock()
		in, out := c.inside.Load(), c.outside.Load()
		if in == 0 && out == 0 {
			return nil
		}
		now := time.Now()
		if in == 0 {
			if outsideSince.IsZero() {
				outsideSince = now
			} else if now.Sub(outsideSince) >= time.Duration(c.outsideBound.Load()) {
				return &SettleError{Waited: now.Sub(start), Outside: true, Busy: c.busyNames()}
			}
		} else {
			outsideSince = time.Time{}
			if now.Sub(start) >= time.Duration(c.settleBound.Load()) {
				return &SettleError{Waited: now.Sub(start), Busy: c.busyNames()}
			}
		}
		tick.Reset(backoff)
		select {
		case <-ch:
			backoff = time.Millisecond / 2
		case <-tick.C:
		}
	}
}

func (c *Clock) wake() {
	c.idleMu.Lock()
	close(c.idleCh)
	c.idleCh = make(chan struct{})
	c.idleMu.Unlock()
}

func (c *Clock) busyNames() []string {
	c.worksMu.Lock()
	defer c.worksMu.Unlock()
	var out []string
	for w := range c.works {
		if n := w.n.Load(); n != 0 {
			kind := ""
			if w.outside {
				kind = ", outside the world"
			}
			out = append(out, fmt.Sprintf("%s (%d%s)", w.name, n, kind))
		}
	}
	sort.Strings(out)
	if len(out) > 20 {
		out = append(out[:20], fmt.Sprintf("and %d more", len(out)-20))
	}
	return out
}

// Work counts the pending units of work of one component of the world: a
// client loop, a listener dispatcher, a backend session. A nil *Work counts
// nothing, so a component outside any world can call it freely.
type Work struct {
	c       *Clock
	name    string
	outside bool
	n       atomic.Int64
}

// NewWork registers a component called name (it appears in SettleError).
// outside marks work that waits on something outside the world: the wait
// for it is bounded by the outside bound.
func (c *Clock) NewWork(name string, outside bool) *Work {
	w := &Work{c: c, name: name, outside: outside}
	c.worksMu.Lock()
	c.works[w] = struct{}{}
	c.worksMu.Unlock()
	return w
}

// Begin adds n units of pending work.
func (w *Work) Begin(n int64) {
	if w == nil || n == 0 {
		return
	}
	w.n.Add(n)
	if w.outside {
		w.c.outside.Add(n)
	} else {
		w.c.inside.Add(n)
	}
}

// End removes n units of pending work.
func (w *Work) End(n int64) {
	if w == nil || n == 0 {
		return
	}
	w.n.Add(-n)
	var left int64
	if w.outside {
		left = w.c.outside.Add(-n)
	} else {
		left = w.c.inside.Add(-n)
	}
	if left == 0 {
		w.c.wake()
	} else if low := w.c.lowMark.Load(); low > 0 && left <= low && w.c.lowWait.CompareAndSwap(true, false) {
		w.c.wake()
	}
}

// Close unregisters the component; pending units it still holds are ended.
func (w *Work) Close() {
	if w == nil {
		return
	}
	if n := w.n.Load(); n != 0 {
		w.End(n)
	}
	w.c.worksMu.Lock()
	delete(w.c.works, w)
	w.c.worksMu.Unlock()
}

// Pending returns the component's pending units.
func (w *Work) Pending() int64 {
	if w == nil {
		return 0
	}
	return w.n.Load()
}

// After waits for d to elapse on the virtual clock, then sends the time.
func (c *Clock) After(d time.Duration) <-chan time.Time { return c.Timer(d).C }

// Tick is Ticker(d).C; the ticker cannot be stopped.
func (c *Clock) Tick(d time.Duration) <-chan time.Time { return c.Ticker(d).C }

// Sleep blocks until the virtual clock has moved by d. A goroutine that
// sleeps while it holds a unit of Work keeps the world from settling, and
// so time from moving: sleep only outside counted work.
func (c *Clock) Sleep(d time.Duration) {
	ch := make(chan struct{})
	c.Schedule(d, func() { close(ch) })
	<-ch
}

// WithTimeout is WithDeadline(parent, Now()+d).
func (c *Clock) WithTimeout(parent context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return c.WithDeadline(parent, c.Now().Add(d))
}

// WithDeadline returns a context that is cancelled with
// context.DeadlineExceeded when the virtual clock reaches deadline.
func (c *Clock) WithDeadline(parent context.Context, deadline time.Time) (context.Context, context.CancelFunc) {
	if cur, ok := parent.Deadline(); ok && cur.Before(deadline) {
		return context.WithCancel(parent)
	}
	ctx, cancel := context.WithCancelCause(parent)
	dc := &deadlineCtx{Context: ctx, deadline: deadline}
	d := deadline.Sub(c.Now())
	if d <= 0 {
		cancel(context.DeadlineExceeded)
		return dc, func() {}
	}
	t := c.Schedule(d, func() { cancel(context.DeadlineExceeded) })
	return dc, func() {
		t.Stop()
		cancel(context.Canceled)
	}
}

type deadlineCtx struct {
	context.Context
	deadline time.Time
}

func (d *deadlineCtx) Deadline() (time.Time, bool) { return d.deadline, true }

func (d *deadlineCtx) Err() error {
	err := d.Context.Err()
	if err != nil && errors.Is(context.Cause(d.Context), context.DeadlineExceeded) {
		return context.DeadlineExceeded
	}
	return err
}

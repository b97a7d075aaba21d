package vclock

import (
	"reflect"
	"sync"
	"time"
	"unsafe"
	"weak"

	"github.com/benbjohnson/clock"
)

// Timers created through the clock.Clock interface (AfterFunc, Timer,
// After, Ticker, Tick) must be *clock.Timer and *clock.Ticker values, whose
// Stop and Reset work on a *clock.Mock. The clock keeps one inner Mock that
// owns them and never moves it by itself: it keeps the Mock's time in step
// with its own (so that Reset measures from the right time), reads each
// timer's deadline, and fires it in the same order as its native timers.
// Reading those unexported fields needs their layout in
// github.com/benbjohnson/clock v1.3.5, its final release; a test checks it.

// mockLayout holds field offsets of clock.Mock, clock.Timer and clock.Ticker.
var mockLayout = func() (l struct {
	ok                                      bool
	mockMu, mockNow                         uintptr
	timerC, timerc, timerNext, timerStopped uintptr
	tickc, tickNext, tickD, tickStopped     uintptr
}) {
	field := func(t reflect.Type, name string, want reflect.Type) (uintptr, bool) {
		f, ok := t.FieldByName(name)
		return f.Offset, ok && f.Type == want
	}
	tt := reflect.TypeOf(time.Time{})
	ch := reflect.TypeOf(make(chan time.Time))
	rch := reflect.TypeOf((<-chan time.Time)(nil))
	bo := reflect.TypeOf(false)
	mock := reflect.TypeOf((*clock.Mock)(nil)).Elem()
	timer := reflect.TypeOf((*clock.Timer)(nil)).Elem()
	ticker := reflect.TypeOf((*clock.Ticker)(nil)).Elem()
	oks := make([]bool, 10)
	l.mockMu, oks[0] = field(mock, "mu", reflect.TypeOf(sync.Mutex{}))
	l.mockNow, oks[1] = field(mock, "now", tt)
	l.timerC, oks[2] = field(timer, "C", rch)
	l.timerc, oks[3] = field(timer, "c", ch)
	l.timerNext, oks[4] = field(timer, "next", tt)
	l.timerStopped, oks[5] = field(timer, "stopped", bo)
	l.tickc, oks[6] = field(ticker, "c", ch)
	l.tickNext, oks[7] = field(ticker, "next", tt)
	l.tickD, oks[8] = field(ticker, "d", reflect.TypeOf(time.Duration(0)))
	l.tickStopped, oks[9] = field(ticker, "stopped", bo)
	l.ok = true
	for _, ok := range oks {
		l.ok = l.ok && ok
	}
	return l
}()

func at[T any](base unsafe.Pointer, off uintptr) *T { return (*T)(unsafe.Add(base, off)) }

func mockMu(m *clock.Mock) *sync.Mutex { return at[sync.Mutex](unsafe.Pointer(m), mockLayout.mockMu) }

func setMockNow(m *clock.Mock, t time.Time) {
	mu := mockMu(m)
	mu.Lock()
	*at[time.Time](unsafe.Pointer(m), mockLayout.mockNow) = t
	mu.Unlock()
}

func mustLayout() {
	if !mockLayout.ok {
		panic("vclock: timers through clock.Clock need github.com/benbjohnson/clock v1.3.5; use Schedule")
	}
}

type foreignKind uint8

const (
	kindFunc foreignKind = iota + 1
	kindChan
	kindTicker
)

// foreignTimer is a timer handed out through the clock.Clock interface.
// The clock holds it weakly: the inner Mock holds it while it is armed, and
// a stopped one that nobody references any more can never fire again.
type foreignTimer struct {
	c      *Clock
	seq    uint64
	kind   foreignKind
	timer  weak.Pointer[clock.Timer]
	ticker weak.Pointer[clock.Ticker]
	fn     func()
}

// state reads the timer's deadline and whether it is armed; alive is false
// once nobody references it.
func (f *foreignTimer) state() (next time.Time, armed, alive bool) {
	mu := mockMu(f.c.inner)
	mu.Lock()
	defer mu.Unlock()
	if f.kind == kindTicker {
		t := f.ticker.Value()
		if t == nil {
			return time.Time{}, false, false
		}
		p := unsafe.Pointer(t)
		return *at[time.Time](p, mockLayout.tickNext), !*at[bool](p, mockLayout.tickStopped), true
	}
	t := f.timer.Value()
	if t == nil {
		return time.Time{}, false, false
	}
	p := unsafe.Pointer(t)
	return *at[time.Time](p, mockLayout.timerNext), !*at[bool](p, mockLayout.timerStopped), true
}

func (f *foreignTimer) deadline() time.Time {
	next, _, _ := f.state()
	return next
}

// nextForeignLocked returns the earliest armed foreign timer due at or
// before target, dropping those nobody can use any more.
func (c *Clock) nextForeignLocked(target time.Time) *foreignTimer {
	var best *foreignTimer
	var bestAt time.Time
	kept := c.foreign[:0]
	for _, f := range c.foreign {
		next, armed, alive := f.state()
		if !alive {
			continue
		}
		kept = append(kept, f)
		if !armed || next.After(target) {
			continue
		}
		if best == nil || next.Before(bestAt) || (next.Equal(bestAt) && f.seq < best.seq) {
			best, bestAt = f, next
		}
	}
	clear(c.foreign[len(kept):])
	c.foreign = kept
	return best
}

// fire runs the timer at now: an AfterFunc function on its own goroutine
// (counted as work until it returns), a channel send, or a tick.
func (f *foreignTimer) fire(now time.Time) {
	switch f.kind {
	case kindTicker:
		t := f.ticker.Value()
		if t == nil {
			return
		}
		p := unsafe.Pointer(t)
		mu := mockMu(f.c.inner)
		mu.Lock()
		*at[time.Time](p, mockLayout.tickNext) = now.Add(*at[time.Duration](p, mockLayout.tickD))
		ch := *at[chan time.Time](p, mockLayout.tickc)
		mu.Unlock()
		select {
		case ch <- now:
		default: // a ticker with no reader drops ticks
		}
	default:
		t := f.timer.Value()
		if t == nil || !t.Stop() {
			return
		}
		if f.kind == kindFunc {
			w := f.c.flight
			w.Begin(1)
			go func() {
				defer w.End(1)
				f.fn()
			}()
			return
		}
		ch := *at[chan time.Time](unsafe.Pointer(t), mockLayout.timerc)
		select {
		case ch <- now:
		default:
		}
	}
}

func (c *Clock) addForeign(kind foreignKind, d time.Duration, fn func()) (*clock.Timer, *clock.Ticker) {
	mustLayout()
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.usedForeign {
		c.usedForeign = true
		setMockNow(c.inner, c.now)
	}
	c.seq++
	f := &foreignTimer{c: c, seq: c.seq, kind: kind, fn: fn}
	c.foreign = append(c.foreign, f)
	if kind == kindTicker {
		t := c.inner.Ticker(d)
		f.ticker = weak.Make(t)
		return nil, t
	}
	// The inner Mock never fires anything itself: AfterFunc just builds an
	// armed *clock.Timer without running due timers, as Mock.Timer would.
	t := c.inner.AfterFunc(d, func() {})
	if kind == kindChan {
		p := unsafe.Pointer(t)
		*at[<-chan time.Time](p, mockLayout.timerC) = *at[chan time.Time](p, mockLayout.timerc)
	}
	f.timer = weak.Make(t)
	return t, nil
}

// AfterFunc implements clock.Clock: f runs on its own goroutine when the
// clock reaches now+d, counted as work of the world until it returns. The
// *clock.Timer's Stop and Reset work as on a *clock.Mock. Code of this
// module uses Schedule, which is cheaper at scale.
func (c *Clock) AfterFunc(d time.Duration, f func()) *clock.Timer {
	t, _ := c.addForeign(kindFunc, d, f)
	return t
}

// Timer implements clock.Clock: the time is sent on C when the clock
// reaches now+d. What the receiver does with it is not counted as work of
// the world unless the receiver counts it (see Work).
func (c *Clock) Timer(d time.Duration) *clock.Timer {
	t, _ := c.addForeign(kindChan, d, nil)
	return t
}

// Ticker implements clock.Clock: a tick every d of virtual time; a tick
// nobody has read yet makes the next one drop, as with a real ticker.
func (c *Clock) Ticker(d time.Duration) *clock.Ticker {
	if d <= 0 {
		panic("vclock: non-positive interval for Ticker")
	}
	_, t := c.addForeign(kindTicker, d, nil)
	return t
}

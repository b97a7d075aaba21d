package vclock

import (
	"time"

	"github.com/benbjohnson/clock"
)

// Timer is a timer of the virtual clock made by Schedule.
type Timer struct {
	c     *Clock
	at    time.Time
	seq   uint64
	key   string // "" fires alone (see WithTieBatching)
	f     func()
	armed bool // guarded by c.mu
}

// Stop disarms the timer. It reports whether the timer was armed.
func (t *Timer) Stop() bool {
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if !t.armed {
		return false
	}
	t.armed = false
	c.timers.dead++
	c.timers.compact()
	return true
}

// When returns the timer's deadline.
func (t *Timer) When() time.Time { return t.at }

// Schedule arms a timer that calls f when the clock reaches now+d (d ≤ 0:
// at the next Advance or Set, even by zero). f runs on the goroutine that
// moves the clock, with the world quiescent around it (but see
// WithTieBatching); it must not block (hand longer work to a component
// that counts it as Work).
func (c *Clock) Schedule(d time.Duration, f func()) *Timer { return c.ScheduleKey("", d, f) }

// ScheduleKey is Schedule for a timer of one component, named by key (a
// user id, say): with WithTieBatching, timers due at the same instant with
// different keys fire together before the world settles. Give the same key
// to every timer whose consequences may touch the same state: all the
// timers of one user, the client's and the backend's alike. An empty key is
// Schedule's: the timer fires alone.
func (c *Clock) ScheduleKey(key string, d time.Duration, f func()) *Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &Timer{c: c, at: c.now.Add(max(d, 0)), seq: c.seq, key: key, f: f, armed: true}
	c.timers.push(t)
	return t
}

// Stopper is a timer that can be stopped: a *Timer or a *clock.Timer.
type Stopper interface{ Stop() bool }

// AfterFunc arms a timer on clk: a native timer of the virtual clock when
// clk is a *Clock (f then runs on the goroutine that moves the clock and
// must not block), and clk.AfterFunc otherwise.
func AfterFunc(clk clock.Clock, d time.Duration, f func()) Stopper {
	return AfterFuncKey(clk, "", d, f)
}

// AfterFuncKey is AfterFunc with ScheduleKey's key when clk is a *Clock.
func AfterFuncKey(clk clock.Clock, key string, d time.Duration, f func()) Stopper {
	if c, ok := clk.(*Clock); ok {
		return c.ScheduleKey(key, d, f)
	}
	return clk.AfterFunc(d, f)
}

// Of returns the virtual clock behind clk, or nil if clk is another clock.
func Of(clk clock.Clock) *Clock {
	c, _ := clk.(*Clock)
	return c
}

// timerHeap orders native timers by deadline, then creation: a 4-ary heap
// whose entries carry their sort key, so that sifting reads one array and
// never the timers themselves. A stopped timer stays in the heap, marked,
// until it reaches the top or the heap is compacted: a world that re-arms
// 300,000 timers per renewal cycle pays no removal from the middle.
type timerHeap struct {
	h    []heapEntry
	dead int // stopped timers still in h
}

type heapEntry struct {
	at  int64 // deadline, Unix nanoseconds
	seq uint64
	t   *Timer
}

func (a heapEntry) less(b heapEntry) bool {
	return a.at < b.at || (a.at == b.at && a.seq < b.seq)
}

func (h *timerHeap) push(t *Timer) {
	h.h = append(h.h, heapEntry{at: t.at.UnixNano(), seq: t.seq, t: t})
	h.up(len(h.h) - 1)
}

// top returns the earliest armed timer, dropping stopped ones from the top.
func (h *timerHeap) top() *Timer {
	for len(h.h) > 0 {
		if t := h.h[0].t; t.armed {
			return t
		}
		h.removeTop()
		h.dead--
	}
	return nil
}

// pop disarms and removes the top timer; call it right after top.
func (h *timerHeap) pop() {
	h.h[0].t.armed = false
	h.removeTop()
}

func (h *timerHeap) removeTop() {
	n := len(h.h) - 1
	h.h[0] = h.h[n]
	h.h[n] = heapEntry{}
	h.h = h.h[:n]
	if n > 0 {
		h.down(0)
	}
}

// compact drops the stopped timers once they outnumber the armed ones.
func (h *timerHeap) compact() {
	if h.dead < 1024 || h.dead < len(h.h)/2 {
		return
	}
	kept := h.h[:0]
	for _, e := range h.h {
		if e.t.armed {
			kept = append(kept, e)
		}
	}
	clear(h.h[len(kept):])
	h.h, h.dead = kept, 0
	for i := (len(h.h) - 2) / 4; len(h.h) > 1 && i >= 0; i-- { // none left: nothing to order
		h.down(i)
	}
}

func (h *timerHeap) up(i int) {
	e := h.h[i]
	for i > 0 {
		p := (i - 1) / 4
		if !e.less(h.h[p]) {
			break
		}
		h.h[i] = h.h[p]
		i = p
	}
	h.h[i] = e
}

func (h *timerHeap) down(i int) {
	n := len(h.h)
	e := h.h[i]
	for {
		c := 4*i + 1
		if c >= n {
			break
		}
		best := c
		for k := c + 1; k < c+4 && k < n; k++ {
			if h.h[k].less(h.h[best]) {
				best = k
			}
		}
		if !h.h[best].less(e) {
			break
		}
		h.h[i] = h.h[best]
		i = best
	}
	h.h[i] = e
}

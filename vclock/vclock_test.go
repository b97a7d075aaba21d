package vclock

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestLayoutOfBenbjohnsonClock(t *testing.T) {
	if !mockLayout.ok {
		t.Fatal("github.com/benbjohnson/clock's Mock, Timer or Ticker changed layout: the foreign timers need v1.3.5")
	}
}

func TestScheduleFiresInDeadlineThenCreationOrder(t *testing.T) {
	c := New(t0)
	var got []string
	add := func(name string, d time.Duration) {
		c.Schedule(d, func() { got = append(got, fmt.Sprintf("%s@%s", name, c.Since(t0))) })
	}
	add("c", 2*time.Hour)
	add("a", time.Hour)
	add("b", time.Hour)
	stopped := c.Schedule(time.Hour, func() { got = append(got, "stopped") })
	add("late", 5*time.Hour)
	if !stopped.Stop() || stopped.Stop() {
		t.Fatal("Stop must report true once, then false")
	}
	if err := c.Advance(3 * time.Hour); err != nil {
		t.Fatal(err)
	}
	want := "a@1h0m0s b@1h0m0s c@2h0m0s"
	if s := strings.Join(got, " "); s != want {
		t.Fatalf("fired %q, want %q", s, want)
	}
	if !c.Now().Equal(t0.Add(3 * time.Hour)) {
		t.Fatalf("now %v", c.Now())
	}
	if at, ok := c.NextTimer(); !ok || !at.Equal(t0.Add(5*time.Hour)) {
		t.Fatalf("NextTimer %v %v", at, ok)
	}
}

// Work started by a timer, handed between goroutines, arms the next timer;
// one Advance runs the whole chain.
func TestAdvanceWaitsForWorkBeforeEachTimer(t *testing.T) {
	c := New(t0)
	w := c.NewWork("pinger", false)
	var mu sync.Mutex
	var fired []time.Duration
	var step func()
	step = func() {
		w.Begin(1) // handed to a goroutine: counted before the hand-off
		go func() {
			defer w.End(1)
			time.Sleep(time.Millisecond) // real work takes real time
			mu.Lock()
			fired = append(fired, c.Since(t0))
			n := len(fired)
			mu.Unlock()
			if n < 10 {
				c.Schedule(time.Hour, step)
			}
		}()
	}
	c.Schedule(time.Hour, step)
	if err := c.Advance(100 * time.Hour); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(fired) != 10 {
		t.Fatalf("%d steps ran, want 10", len(fired))
	}
	for i, d := range fired {
		if d != time.Duration(i+1)*time.Hour {
			t.Fatalf("step %d at %v", i, d)
		}
	}
}

func TestOutsideWorkIsBoundedAndNamed(t *testing.T) {
	c := New(t0, WithBounds(0, 50*time.Millisecond))
	w := c.NewWork("client alice: credentials provider", true)
	w.Begin(1)
	err := c.Advance(time.Hour)
	var se *SettleError
	if !errors.As(err, &se) || !se.Outside || !errors.Is(err, ErrNotSettled) {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(err.Error(), "client alice: credentials provider") {
		t.Fatalf("error does not name the component: %v", err)
	}
	w.End(1)
	if err := c.Advance(time.Hour); err != nil {
		t.Fatal(err)
	}
	w.Close()
}

func TestStuckInsideWorkIsBounded(t *testing.T) {
	c := New(t0, WithBounds(50*time.Millisecond, 0))
	w := c.NewWork("session 1", false)
	w.Begin(2)
	err := c.Settle()
	var se *SettleError
	if !errors.As(err, &se) || se.Outside || !strings.Contains(err.Error(), "session 1 (2)") {
		t.Fatalf("err = %v", err)
	}
	w.Close()
	if err := c.Settle(); err != nil {
		t.Fatal(err)
	}
}

func TestForeignTimersThroughClockInterface(t *testing.T) {
	c := New(t0)
	var mu sync.Mutex
	var got []string
	note := func(s string) {
		mu.Lock()
		got = append(got, s)
		mu.Unlock()
	}
	c.AfterFunc(2*time.Hour, func() { note("func@" + c.Since(t0).String()) })
	stopped := c.AfterFunc(time.Hour, func() { note("stopped") })
	if !stopped.Stop() {
		t.Fatal("Stop of an armed timer")
	}
	reset := c.AfterFunc(10*time.Hour, func() { note("reset@" + c.Since(t0).String()) })
	tm := c.Timer(3 * time.Hour)
	tk := c.Ticker(90 * time.Minute)
	native := c.Schedule(2*time.Hour, func() { note("native@" + c.Since(t0).String()) })
	_ = native
	if err := c.Advance(30 * time.Minute); err != nil {
		t.Fatal(err)
	}
	reset.Reset(time.Hour) // measured from 00:30
	if err := c.Advance(4 * time.Hour); err != nil {
		t.Fatal(err)
	}
	select {
	case at := <-tm.C:
		if !at.Equal(t0.Add(3 * time.Hour)) {
			t.Fatalf("timer sent %v", at)
		}
	default:
		t.Fatal("channel timer did not fire")
	}
	select {
	case at := <-tk.C: // 01:30 and 03:00 ticked; the second was dropped
		if !at.Equal(t0.Add(90 * time.Minute)) {
			t.Fatalf("ticker sent %v", at)
		}
	default:
		t.Fatal("ticker did not tick")
	}
	tk.Stop()
	mu.Lock()
	defer mu.Unlock()
	want := "reset@1h30m0s func@2h0m0s native@2h0m0s"
	if s := strings.Join(got, " "); s != want {
		t.Fatalf("got %q, want %q", s, want)
	}
}

func TestWithTimeoutAndSleep(t *testing.T) {
	c := New(t0)
	ctx, cancel := c.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if dl, ok := ctx.Deadline(); !ok || !dl.Equal(t0.Add(time.Minute)) {
		t.Fatalf("deadline %v", dl)
	}
	woke := make(chan time.Time)
	go func() {
		c.Sleep(2 * time.Minute)
		woke <- c.Now()
	}()
	for {
		if _, ok := c.NextTimer(); ok {
			break
		}
		time.Sleep(time.Millisecond) // the sleeper arms its timer
	}
	if err := c.Advance(time.Minute); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("ctx.Err() = %v", ctx.Err())
	}
	// The sleeper's timer may have been armed after the ctx's, so advance
	// until it wakes.
	for i := 0; ; i++ {
		if err := c.Advance(time.Minute); err != nil {
			t.Fatal(err)
		}
		select {
		case at := <-woke:
			if at.Before(t0.Add(2 * time.Minute)) {
				t.Fatalf("woke at %v", at)
			}
			return
		case <-time.After(time.Second):
			if i > 3 {
				t.Fatal("sleeper never woke")
			}
		}
	}
}

func TestLinkCountsMessagesUntilHandled(t *testing.T) {
	c := New(t0, WithBounds(100*time.Millisecond, 0))
	id, l := c.Offer()
	if c.Claim("other") != nil || c.Claim(id) != l || c.Claim(id) != nil {
		t.Fatal("Claim must find the offer once")
	}
	for range 2 {
		if !l.Sent(ToAcceptor) {
			t.Fatal("Sent on an open link")
		}
	}
	if err := c.Settle(); err == nil {
		t.Fatal("two messages in flight: the world is not quiescent")
	}
	l.Handled(ToAcceptor)
	l.Closed(ToAcceptor)
	if l.Sent(ToAcceptor) {
		t.Fatal("Sent towards a closed end must count nothing")
	}
	if err := c.Settle(); err != nil {
		t.Fatal(err)
	}
}

func TestSetBackwardKeepsTimers(t *testing.T) {
	c := New(t0)
	n := 0
	c.Schedule(time.Hour, func() { n++ })
	if err := c.Set(t0.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(t0.Add(30 * time.Minute)); err != nil || n != 0 {
		t.Fatalf("err %v, fired %d", err, n)
	}
	if err := c.Set(t0.Add(time.Hour)); err != nil || n != 1 {
		t.Fatalf("err %v, fired %d", err, n)
	}
}

func TestRandIsSeededPerName(t *testing.T) {
	a, b := New(t0, WithSeed(7)), New(t0, WithSeed(7))
	if a.Rand("x").Uint64() != b.Rand("x").Uint64() {
		t.Fatal("same seed and name must give the same numbers")
	}
	if a.Rand("x").Uint64() == a.Rand("y").Uint64() {
		t.Fatal("different names should give different numbers")
	}
}

// With tie batching, timers of different keys due at the same instant fire
// before the world settles; two of one key, and any timer without a key,
// are separated by a settle; a timer stopped by an earlier one of the
// batch does not fire; without batching every timer has its own settle.
func TestTieBatching(t *testing.T) {
	tests := []struct {
		batching bool
		want     string // name/settles before it fired
	}{
		{false, "a1/1 b1/2 a2/3 d1/4 nokey/5 e1/6 later/7"},
		{true, "a1/1 b1/1 a2/2 d1/2 nokey/3 e1/4 later/5"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint("batching=", tt.batching), func(t *testing.T) {
			c := New(t0, WithTieBatching(tt.batching))
			var got []string
			var stopMe *Timer
			add := func(key, name string, d time.Duration) *Timer {
				return c.ScheduleKey(key, d, func() {
					got = append(got, fmt.Sprintf("%s/%d", name, c.settles.Load()))
					if name == "a1" {
						stopMe.Stop()
					}
				})
			}
			add("a", "a1", time.Hour)
			add("b", "b1", time.Hour)
			stopMe = add("c", "c-stopped", time.Hour)
			add("a", "a2", time.Hour) // same key as a1: after a settle
			add("d", "d1", time.Hour)
			add("", "nokey", time.Hour) // alone
			add("e", "e1", time.Hour)
			add("d", "later", 90*time.Minute) // another instant
			if err := c.Advance(2 * time.Hour); err != nil {
				t.Fatal(err)
			}
			if s := strings.Join(got, " "); s != tt.want {
				t.Fatalf("fired %q, want %q", s, tt.want)
			}
		})
	}
}

// Many timers, two thirds of them stopped (enough to compact the heap:
// more stopped than armed), fire exactly in deadline then creation order.
func TestTimerHeapOrder(t *testing.T) {
	c := New(t0)
	rnd := c.Rand("heap")
	type armed struct {
		at  time.Duration
		seq int
	}
	var want []armed
	var got []int
	var timers []*Timer
	for i := range 6000 {
		at := time.Duration(rnd.IntN(500)) * time.Minute
		timers = append(timers, c.Schedule(at, func() { got = append(got, i) }))
		want = append(want, armed{at, i})
	}
	stopped := map[int]bool{}
	for i := range timers {
		if i%3 == 0 {
			continue
		}
		if !timers[i].Stop() || timers[i].Stop() {
			t.Fatal("Stop must report true once, then false")
		}
		stopped[i] = true
	}
	var order []int
	for _, w := range want {
		if !stopped[w.seq] {
			order = append(order, w.seq)
		}
	}
	sort.SliceStable(order, func(i, j int) bool { return want[order[i]].at < want[order[j]].at })
	if err := c.Advance(1000 * time.Minute); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(order) {
		t.Fatalf("%d timers fired, want %d", len(got), len(order))
	}
	for i := range got {
		if got[i] != order[i] {
			t.Fatalf("timer %d fired in place %d, want timer %d", got[i], i, order[i])
		}
	}
}

// Stopping every timer empties the heap through a compaction (1,024 is
// the least number of stopped timers that compacts); the clock then moves
// with nothing to fire.
func TestStoppingEveryTimer(t *testing.T) {
	c := New(t0)
	fired := 0
	var timers []*Timer
	for i := range 1024 {
		timers = append(timers, c.Schedule(time.Duration(i)*time.Second, func() { fired++ }))
	}
	for _, tm := range timers {
		tm.Stop()
	}
	if err := c.Advance(time.Hour); err != nil {
		t.Fatal(err)
	}
	if fired != 0 {
		t.Fatalf("%d stopped timers fired", fired)
	}
	c.Schedule(time.Minute, func() { fired++ })
	if err := c.Advance(time.Minute); err != nil || fired != 1 {
		t.Fatalf("a timer armed after: fired %d, %v", fired, err)
	}
}

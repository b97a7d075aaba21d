package vclock

import "time"

// tieWindow is how many timers of one instant a tie batch fires before it
// lets the work they caused drain to as many pending units: enough to keep
// every core busy, few enough that 100,000 clients of one instant never
// hold 100,000 goroutines at once.
const tieWindow = 256

// fireTies fires, without settling, the timers due at first's instant
// whose keys have not fired since first, in heap order; it stops at a
// timer without a key, a key that fired already, or a foreign timer due
// first. Every tieWindow timers it waits for pending work to drop to
// tieWindow units.
func (c *Clock) fireTies(first *Timer) {
	if c.batch == nil {
		c.batch = map[string]struct{}{}
	}
	defer clear(c.batch)
	c.batch[first.key] = struct{}{}
	for n := 1; ; n++ {
		if n%tieWindow == 0 {
			c.drainTo(tieWindow)
		}
		c.mu.Lock()
		native, _ := c.nextDueLocked(first.at)
		if native == nil || !native.at.Equal(first.at) || native.key == "" {
			c.mu.Unlock()
			return
		}
		if _, dup := c.batch[native.key]; dup {
			c.mu.Unlock()
			return
		}
		c.batch[native.key] = struct{}{}
		c.timers.pop()
		c.mu.Unlock()
		c.fired.Add(1)
		native.f()
	}
}

// drainTo waits until at most n units of work are pending, or the settle
// bound passes (the settle that follows then reports what is stuck).
func (c *Clock) drainTo(n int64) {
	c.lowMark.Store(n)
	defer c.lowMark.Store(0)
	deadline := time.Now().Add(time.Duration(c.settleBound.Load()))
	tick := time.NewTimer(time.Millisecond)
	defer tick.Stop()
	for {
		c.idleMu.Lock()
		ch := c.idleCh
		c.idleMu.Unlock()
		c.lowWait.Store(true)
		if c.inside.Load()+c.outside.Load() <= n || time.Now().After(deadline) {
			c.lowWait.Store(false)
			return
		}
		tick.Reset(time.Millisecond)
		select {
		case <-ch:
		case <-tick.C:
		}
	}
}

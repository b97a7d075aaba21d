// Package gopool runs short tasks on reused goroutines.
//
// An in-memory connection or an idle client holds no goroutine: one is
// started when there is something to do, and ends when it is done. Over a
// year of 100,000 simulated clients that is millions of goroutines, and a
// new goroutine's stack grows by copying as it calls deep into the
// WebSocket and JSON code. Go hands the task to a goroutine that has just
// finished one, whose stack has grown already, and starts a new goroutine
// only when none is idle. An idle goroutine ends after IdleTimeout of wall
// time (to twice that), so none is left behind for long once the work
// stops.
package gopool

import (
	"sync"
	"sync/atomic"
	"time"
)

// IdleTimeout is how long a goroutine waits for its next task before it
// ends: at least this long and at most twice as long (wall-clock time).
const IdleTimeout = 50 * time.Millisecond

// maxIdle bounds the idle goroutines kept.
const maxIdle = 1024

type worker struct {
	ch chan func() // a task, or nil: end
	// gen is the reaping generation in which the worker went idle.
	gen uint64
}

// The idle goroutines are reaped together, by one timer, rather than each
// by a timer of its own: a task then costs no timer at all.
var (
	mu   sync.Mutex
	idle []*worker // most recently idle last, so gen never decreases
	gen  uint64    // counts the reaps
	// reaper is armed while a goroutine is idle.
	reaper *time.Timer
	armed  bool
)

// Go runs f on an idle goroutine of the pool, or on a new one. f may block:
// the pool never waits for a goroutine to become idle.
func Go(f func()) {
	mu.Lock()
	if n := len(idle); n > 0 {
		w := idle[n-1]
		idle[n-1] = nil
		idle = idle[:n-1]
		mu.Unlock()
		w.ch <- f // buffered: never blocks
		return
	}
	mu.Unlock()
	spawned.Add(1)
	go run(f)
}

// spawned counts the goroutines Go started (for the tests).
var spawned atomic.Int64

func run(f func()) {
	w := &worker{ch: make(chan func(), 1)}
	for f != nil {
		f()
		mu.Lock()
		if len(idle) >= maxIdle {
			mu.Unlock()
			return
		}
		w.gen = gen
		idle = append(idle, w)
		if !armed {
			armed = true
			if reaper == nil {
				reaper = time.AfterFunc(IdleTimeout, reap)
			} else {
				reaper.Reset(IdleTimeout)
			}
		}
		mu.Unlock()
		f = <-w.ch
	}
}

// reap ends the goroutines that have been idle since before the previous
// reap, so for at least IdleTimeout, and rearms while any is left.
func reap() {
	mu.Lock()
	defer mu.Unlock()
	reapLocked()
}

func reapLocked() {
	n := 0
	for n < len(idle) && idle[n].gen < gen {
		idle[n].ch <- nil
		n++
	}
	left := copy(idle, idle[n:])
	clear(idle[left:])
	idle = idle[:left]
	gen++
	if armed = len(idle) > 0; armed {
		reaper.Reset(IdleTimeout)
	}
}

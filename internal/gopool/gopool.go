// Package gopool runs short tasks on reused goroutines.
//
// An in-memory connection or an idle client holds no goroutine: one is
// started when there is something to do, and ends when it is done. Over a
// year of 100,000 simulated clients that is millions of goroutines, and a
// new goroutine's stack grows by copying as it calls deep into the
// WebSocket and JSON code. Go hands the task to a goroutine that has just
// finished one, whose stack has grown already, and starts a new goroutine
// only when none is idle. An idle goroutine ends after IdleTimeout of wall
// time, so none is left behind for long once the work stops.
package gopool

import (
	"sync"
	"sync/atomic"
	"time"
)

// IdleTimeout is how long a goroutine waits for its next task before it
// ends (wall-clock time).
const IdleTimeout = 50 * time.Millisecond

// maxIdle bounds the idle goroutines kept.
const maxIdle = 1024

type worker struct {
	ch chan func()
}

var (
	mu   sync.Mutex
	idle []*worker // most recently idle last
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
	var t *time.Timer
	for {
		f()
		f = nil
		mu.Lock()
		if len(idle) >= maxIdle {
			mu.Unlock()
			return
		}
		idle = append(idle, w)
		mu.Unlock()
		if t == nil {
			t = time.NewTimer(IdleTimeout)
		} else {
			t.Reset(IdleTimeout)
		}
		select {
		case f = <-w.ch:
			t.Stop()
		case <-t.C:
			mu.Lock()
			for i, x := range idle {
				if x == w {
					copy(idle[i:], idle[i+1:])
					idle[len(idle)-1] = nil
					idle = idle[:len(idle)-1]
					mu.Unlock()
					return
				}
			}
			mu.Unlock()
			f = <-w.ch // taken just now: its task is on the way
		}
	}
}

package gopool

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

// Tasks run, also ones that block while others are started, and once the
// work stops the idle goroutines end by themselves.
func TestGo(t *testing.T) {
	tests := []struct {
		name  string
		tasks int
		block bool // every task waits until all have started
	}{
		{"sequential reuse", 1000, false},
		{"blocking tasks get goroutines of their own", 300, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := runtime.NumGoroutine()
			var wg sync.WaitGroup
			release := make(chan struct{})
			var started sync.WaitGroup
			started.Add(tt.tasks)
			for range tt.tasks {
				wg.Add(1)
				Go(func() {
					defer wg.Done()
					started.Done()
					if tt.block {
						<-release
					}
				})
				if !tt.block {
					wg.Wait()
				}
			}
			started.Wait()
			close(release)
			wg.Wait()
			deadline := time.Now().Add(5 * time.Second)
			for runtime.NumGoroutine() > base {
				if time.Now().After(deadline) {
					t.Fatalf("%d goroutines left, %d before", runtime.NumGoroutine(), base)
				}
				time.Sleep(IdleTimeout / 5) // waiting for the idle timeout, not for correctness
			}
		})
	}
}

// A task handed over while a goroutine of the pool is idle runs on it: a
// thousand tasks in a row, each after the last one's goroutine went idle,
// start one goroutine.
func TestGoReusesIdleGoroutines(t *testing.T) {
	waitIdle := func() {
		for deadline := time.Now().Add(5 * time.Second); ; runtime.Gosched() {
			mu.Lock()
			n := len(idle)
			mu.Unlock()
			if n > 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatal("no goroutine of the pool went idle")
			}
		}
	}
	Go(func() {})
	waitIdle()
	before := spawned.Load()
	for range 1000 {
		done := make(chan struct{})
		Go(func() { close(done) })
		<-done
		waitIdle()
	}
	if n := spawned.Load() - before; n != 0 {
		t.Fatalf("%d goroutines started for 1,000 tasks handed to an idle one", n)
	}
}

// A reap ends the goroutines idle since before the previous reap and
// keeps those that went idle after it: every goroutine waits at least
// IdleTimeout for its next task.
func TestReapKeepsTheRecentlyIdle(t *testing.T) {
	mu.Lock()
	defer mu.Unlock()
	if reaper != nil {
		reaper.Stop() // this test reaps by itself
	}
	saved := idle
	gen++ // so that gen-1 is a generation
	old := &worker{ch: make(chan func(), 1), gen: gen - 1}
	recent := &worker{ch: make(chan func(), 1), gen: gen}
	idle = []*worker{old, recent}
	if reaper == nil {
		reaper = time.AfterFunc(time.Hour, reap)
	}
	reapLocked()
	reaper.Stop()
	select {
	case f := <-old.ch:
		if f != nil {
			t.Fatal("the old worker got a task, not the end")
		}
	default:
		t.Fatal("the worker idle since before the previous reap was kept")
	}
	select {
	case <-recent.ch:
		t.Fatal("the worker that went idle after the previous reap was ended")
	default:
	}
	if len(idle) != 1 || idle[0] != recent {
		t.Fatalf("idle after the reap: %d workers", len(idle))
	}
	// Back to the pool's own workers, reaped as usual.
	idle = saved
	if armed = len(idle) > 0; armed {
		reaper.Reset(IdleTimeout)
	}
}

package client

import (
	"sync"
	"sync/atomic"

	"github.com/sinchsim/sinchsim/internal/gopool"
)

// dispatcher runs listener callbacks one at a time, in order, outside every
// client lock. Its goroutine exists only while callbacks are queued, so an
// idle client (a bot among thousands) costs no goroutine for it.
type dispatcher struct {
	mu      sync.Mutex
	queue   []func()
	running bool
	idle    chan struct{} // closed when the current run ends
	calling atomic.Bool   // a callback is running
	onPanic func(any)
	done    func(n int64) // called after each callback: the client's work count
	onIdle  func()        // called when the queue has run dry
	runFn   func()        // run, made once
}

func (d *dispatcher) enqueue(f func()) {
	d.mu.Lock()
	d.queue = append(d.queue, f)
	if !d.running {
		d.running = true
		d.idle = make(chan struct{})
		if d.runFn == nil {
			d.runFn = d.run
		}
		gopool.Go(d.runFn)
	}
	d.mu.Unlock()
}

func (d *dispatcher) run() {
	for {
		d.mu.Lock()
		if len(d.queue) == 0 {
			d.running = false
			d.queue = nil
			close(d.idle)
			d.mu.Unlock()
			if d.onIdle != nil {
				d.onIdle()
			}
			return
		}
		f := d.queue[0]
		d.queue[0] = nil
		d.queue = d.queue[1:]
		d.mu.Unlock()
		d.call(f)
		if d.done != nil {
			d.done(1)
		}
	}
}

func (d *dispatcher) call(f func()) {
	d.calling.Store(true)
	defer d.calling.Store(false)
	defer func() {
		if r := recover(); r != nil && d.onPanic != nil {
			d.onPanic(r)
		}
	}()
	f()
}

// busy reports whether callbacks are queued or running.
func (d *dispatcher) busy() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.running
}

// inCallback reports whether a callback is running. TerminateGracefully
// asks it before waiting for the dispatcher: called from a callback, that
// wait would wait for itself.
func (d *dispatcher) inCallback() bool { return d.calling.Load() }

// waitIdle waits until no callback is queued or running.
func (d *dispatcher) waitIdle() {
	d.mu.Lock()
	if !d.running {
		d.mu.Unlock()
		return
	}
	ch := d.idle
	d.mu.Unlock()
	<-ch
	d.waitIdle()
}

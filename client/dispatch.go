package client

import (
	"bytes"
	"runtime"
	"strconv"
	"sync"
)

// dispatcher runs listener callbacks one at a time, in order, outside every
// client lock. Its goroutine exists only while callbacks are queued, so an
// idle client (a bot among thousands) costs no goroutine for it.
type dispatcher struct {
	mu      sync.Mutex
	queue   []func()
	running bool
	gid     uint64
	idle    chan struct{} // closed when the current run ends
	onPanic func(any)
	onIdle  func()
}

func (d *dispatcher) enqueue(f func()) {
	d.mu.Lock()
	d.queue = append(d.queue, f)
	if !d.running {
		d.running = true
		d.idle = make(chan struct{})
		go d.run()
	}
	d.mu.Unlock()
}

func (d *dispatcher) run() {
	gid := goroutineID()
	d.mu.Lock()
	d.gid = gid
	d.mu.Unlock()
	for {
		d.mu.Lock()
		if len(d.queue) == 0 {
			d.running, d.gid = false, 0
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
	}
}

func (d *dispatcher) call(f func()) {
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

// waitIdle waits until no callback is queued or running, unless it is
// called from a callback (which would wait for itself).
func (d *dispatcher) waitIdle() {
	me := goroutineID()
	for {
		d.mu.Lock()
		if !d.running || d.gid == me {
			d.mu.Unlock()
			return
		}
		ch := d.idle
		d.mu.Unlock()
		<-ch
	}
}

// goroutineID parses the current goroutine's id from its stack header. It
// is only used to detect a callback calling TerminateGracefully, which must
// not wait for its own dispatcher.
func goroutineID() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		b = b[:i]
	}
	n, _ := strconv.ParseUint(string(b), 10, 64)
	return n
}

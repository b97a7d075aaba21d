package client

import (
	"sync"

	"github.com/sinchsim/sinchsim/internal/gopool"
)

// cmdQueue is the loop's input: unbounded, so that no poster (a reader, a
// timer, a callback) ever blocks on the loop, and closable, so that nothing
// is accepted once the loop has finished: whatever was accepted runs. The
// loop runs only while commands are queued: push starts it on a goroutine
// of the pool when it does not run (add leaves that to its caller), and
// take stops it when the queue is empty, so an idle client holds no
// goroutine for its loop.
type cmdQueue struct {
	mu      sync.Mutex
	items   []func()
	spare   []func() // the slice the loop ran last, emptied: items' next backing
	closed  bool
	running bool   // a loop goroutine runs
	run     func() // the loop; nil until the loop exists
}

// push queues f, and starts a loop goroutine unless one runs.
func (q *cmdQueue) push(f func()) bool {
	ok, run := q.add(f)
	if run != nil {
		gopool.Go(run)
	}
	return ok
}

// add queues f. Unless a loop runs it returns the loop's run, which the
// caller must run on its goroutine or start on another.
func (q *cmdQueue) add(f func()) (ok bool, run func()) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return false, nil
	}
	if q.items == nil {
		q.items, q.spare = q.spare, nil
	}
	q.items = append(q.items, f)
	if q.running || q.run == nil {
		return true, nil
	}
	q.running = true
	return true, q.run
}

// setRun installs the loop and starts it if commands wait.
func (q *cmdQueue) setRun(run func()) {
	q.mu.Lock()
	q.run = run
	start := len(q.items) > 0 && !q.running
	if start {
		q.running = true
	}
	q.mu.Unlock()
	if start {
		gopool.Go(run)
	}
}

// take returns the queued commands; when there are none it returns nil
// and the calling loop goroutine must end (the next push starts another).
// ran is what the previous take returned, run: its backing array is
// reused.
func (q *cmdQueue) take(ran []func()) []func() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if ran != nil && q.spare == nil {
		clear(ran)
		q.spare = ran[:0]
	}
	items := q.items
	q.items = nil
	if len(items) == 0 {
		q.running = false
	}
	return items
}

// close refuses further commands and returns those still queued.
func (q *cmdQueue) close() []func() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	items := q.items
	q.items = nil
	return items
}

package transport

import (
	"time"

	"github.com/sinchsim/sinchsim/internal/gopool"
)

// A Conn over an in-memory pipe (see ListenMem) has no writer goroutine of
// its own and, read through Serve, no reader goroutine either: a Send
// writes at once when nothing else is being written and the pipe has
// room, else it queues and a writer runs until the queue is empty; the
// pipe wakes a reader when bytes arrive. An idle connection holds no
// goroutine, and 100,000 of them hold none.

// sendMem writes bp over a pipe at once when nothing else is being written
// and the pipe has room for it (so that it cannot block), or queues it for
// a writer goroutine. It reports false when the queue is full.
func (c *Conn) sendMem(bp *[]byte) bool {
	c.qmu.Lock()
	if len(c.memQ) >= c.cfg.SendQueue {
		c.qmu.Unlock()
		return false
	}
	inline := len(c.memQ) == 0 && len(*bp) <= writeBufferSize-maxFrameHeader &&
		c.mc.room(writeBufferSize) && !isDone(c.closing) && c.writing.CompareAndSwap(false, true)
	if !inline {
		c.memQ = append(c.memQ, bp)
	}
	c.qmu.Unlock()
	if inline {
		if err := c.write(bp, time.Now().Add(c.cfg.WriteWait)); err != nil {
			c.begin(modeEnd, 0, "")
		}
		c.writing.Store(false)
		if c.queued() || isDone(c.closing) {
			c.kickWriter()
		}
		return true
	}
	c.kickWriter()
	return true
}

// maxFrameHeader is the largest WebSocket frame header a server or client
// writes (with a mask and a 64-bit length).
const maxFrameHeader = 14

// next takes the oldest queued message, or returns nil.
func (c *Conn) next() *[]byte {
	if c.mc == nil {
		select {
		case bp := <-c.queue:
			return bp
		default:
			return nil
		}
	}
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if len(c.memQ) == 0 {
		return nil
	}
	bp := c.memQ[0]
	c.memQ[0] = nil
	if c.memQ = c.memQ[1:]; len(c.memQ) == 0 {
		c.memQ = nil
	}
	return bp
}

// queued reports whether messages wait in a pipe's queue.
func (c *Conn) queued() bool {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	return len(c.memQ) > 0
}

// kickWriter starts a writer goroutine over a pipe unless one runs.
func (c *Conn) kickWriter() {
	if c.mc != nil && c.writing.CompareAndSwap(false, true) {
		gopool.Go(c.writeSome)
	}
}

// writeSome is the writer over a pipe: it writes what is queued and ends
// when the queue is empty, or ends the connection once it is closing (then
// it never runs again).
func (c *Conn) writeSome() {
	for {
		if isDone(c.closing) {
			c.finish()
			close(c.done)
			return
		}
		if bp := c.next(); bp != nil {
			if err := c.write(bp, time.Now().Add(c.cfg.WriteWait)); err != nil {
				c.begin(modeEnd, 0, "")
			}
			continue
		}
		c.writing.Store(false)
		// A Send or a close after the looks above found no writer running.
		if !c.queued() && !isDone(c.closing) || !c.writing.CompareAndSwap(false, true) {
			return
		}
	}
}

func isDone(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// Serve hands every result of Read to handle, in order and one at a time,
// until Read returns a terminal error (handle gets it too, and is not
// called again); it returns at once. It is the reading loop for an owner
// that would otherwise run one itself: over a socket one goroutine reads
// all along; over an in-memory pipe a goroutine runs only while something
// is waiting to be read, so an idle connection holds none. handle runs on
// the reading goroutine: it calls Handled as a Read loop would, and may
// block as long as a Read loop may.
func (c *Conn) Serve(handle func(m Message, err error)) {
	if c.mc == nil {
		go func() {
			for {
				m, err := c.Read()
				handle(m, err)
				if err != nil && c.readErr != nil {
					return
				}
			}
		}()
		return
	}
	c.handle = handle
	c.mc.onData(c.kickReader)
	c.kickReader() // something may be waiting already
}

// kickReader starts a reader goroutine over a pipe unless one runs.
func (c *Conn) kickReader() {
	if c.reading.CompareAndSwap(false, true) {
		gopool.Go(c.readSome)
	}
}

// readSome reads what is waiting on the pipe and hands it to the handler;
// after a terminal error it never runs again (reading stays true).
func (c *Conn) readSome() {
	for {
		if !c.mc.readable() {
			c.reading.Store(false)
			// Data that arrived after the look above found no reader running.
			if !c.mc.readable() || !c.reading.CompareAndSwap(false, true) {
				return
			}
		}
		m, err := c.Read()
		c.handle(m, err)
		if err != nil && c.readErr != nil {
			return
		}
	}
}

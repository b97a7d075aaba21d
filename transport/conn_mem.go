package transport

import (
	"time"

	"github.com/gorilla/websocket"
	"github.com/sinchsim/sinchsim/internal/gopool"
)

// A Conn has no writer goroutine of its own: a Send queues, and a writer
// runs until the queue is empty (over an in-memory pipe a Send writes at
// once when nothing else is being written and the pipe has room); the
// ping timer starts a writer for each ping. Over a pipe, read through
// Serve, there is no reader goroutine either: the pipe wakes a reader
// when bytes arrive. An idle connection over a socket holds one goroutine,
// its reader; over a pipe it holds none, and 100,000 of them hold none.

// enqueue queues bp for a writer goroutine or, over a pipe, writes it at
// once when nothing else is being written and the pipe has room for it
// (so that it cannot block). It reports false when the queue is full.
func (c *Conn) enqueue(bp *[]byte) bool {
	c.qmu.Lock()
	if len(c.queue) >= c.cfg.SendQueue {
		c.qmu.Unlock()
		return false
	}
	inline := c.mc != nil && len(c.queue) == 0 && len(*bp) <= writeBufferSize-maxFrameHeader &&
		c.mc.room(writeBufferSize) && !isDone(c.closing) && c.writing.CompareAndSwap(false, true)
	if !inline {
		c.queue = append(c.queue, bp)
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
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if len(c.queue) == 0 {
		return nil
	}
	bp := c.queue[0]
	c.queue[0] = nil
	if c.queue = c.queue[1:]; len(c.queue) == 0 {
		c.queue = nil // an idle connection holds no queue
	}
	return bp
}

// queued reports whether messages, or a ping, wait to be written.
func (c *Conn) queued() bool {
	if c.pingDue.Load() {
		return true
	}
	c.qmu.Lock()
	defer c.qmu.Unlock()
	return len(c.queue) > 0
}

// kickWriter starts a writer goroutine unless one runs.
func (c *Conn) kickWriter() {
	if c.writing.CompareAndSwap(false, true) {
		gopool.Go(c.writer)
	}
}

// writeSome is the writer: it writes what is queued, and a ping when one
// is due, and ends when nothing is left, or ends the connection once it
// is closing (then it never runs again).
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
		if c.pingDue.CompareAndSwap(true, false) {
			c.ws.SetWriteDeadline(time.Now().Add(c.cfg.WriteWait))
			if err := c.ws.WriteMessage(websocket.PingMessage, nil); err != nil {
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
		gopool.Go(c.reader)
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

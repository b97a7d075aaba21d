package transport

import (
	"errors"
	"sync"
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
		c.writeHeld(bp)
		return true
	}
	c.kickWriter()
	return true
}

// writeHeld writes bp (if any) on the calling goroutine, which holds the
// writer (it set c.writing), then lets the writer go and starts one for
// what was queued, or for the end, meanwhile.
func (c *Conn) writeHeld(bp *[]byte) {
	if bp != nil {
		if err := c.write(bp, time.Now().Add(c.cfg.WriteWait)); err != nil {
			c.begin(modeEnd, 0, "")
		}
	}
	c.writing.Store(false)
	if c.queued() || isDone(c.closing) {
		c.kickWriter()
	}
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

func (c *Conn) write(bp *[]byte, deadline time.Time) error {
	defer putMsgBuf(bp)
	c.ws.SetWriteDeadline(deadline)
	return c.ws.WriteMessage(websocket.TextMessage, *bp)
}

// finish runs on the writer goroutine once the connection is closing.
func (c *Conn) finish() {
	c.mu.Lock()
	mode, code, reason := c.mode, c.sendCode, c.sendReason
	c.mu.Unlock()
	switch mode {
	case modeHandshake:
		// One WriteWait bounds flushing the queue and the close frame
		// together, however much is queued.
		deadline := time.Now().Add(c.cfg.WriteWait)
		var err error
		for err == nil {
			bp := c.next()
			if bp == nil {
				break
			}
			err = c.write(bp, deadline)
		}
		if err == nil {
			err = c.writeClose(code, reason, deadline)
		}
		// ErrCloseSent: the WebSocket layer sent a close frame of its own
		// meanwhile (see linger), so the reader is draining: wait for it
		// all the same.
		if err == nil || errors.Is(err, websocket.ErrCloseSent) {
			c.awaitReader(c.cfg.CloseGrace)
		}
	case modeAbort:
		c.writeClose(code, reason, time.Now().Add(min(c.cfg.WriteWait, c.cfg.CloseGrace)))
	case modeLinger:
		// The reader drains for at most CloseGrace; this bound only
		// matters if it is stuck.
		c.awaitReader(c.cfg.CloseGrace + time.Second)
	}
	c.qmu.Lock()
	if c.ping != nil {
		c.ping.Stop()
	}
	c.qmu.Unlock()
	_ = c.ws.Close()
	for bp := c.next(); bp != nil; bp = c.next() {
		putMsgBuf(bp)
	}
}

// awaitReader waits until the reader has finished, for at most d.
func (c *Conn) awaitReader(d time.Duration) {
	select {
	case <-c.readDone:
		return
	default:
	}
	t, _ := graceTimers.Get().(*time.Timer)
	if t == nil {
		t = time.NewTimer(d)
	} else {
		t.Reset(d)
	}
	select {
	case <-c.readDone:
	case <-t.C:
	}
	t.Stop() // nothing is left to receive (Go 1.23 timers)
	graceTimers.Put(t)
}

// graceTimers are stopped timers for awaitReader: two connections end per
// registration.
var graceTimers sync.Pool

func (c *Conn) writeClose(code int, reason string, deadline time.Time) error {
	c.ws.SetWriteDeadline(deadline)
	return c.ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason))
}

// encodeMsg encodes m into a pooled buffer: give it back with putMsgBuf,
// or to Conn.write, which does.
func encodeMsg(m Message) (*[]byte, error) {
	bp := getMsgBuf()
	b, err := appendMessage((*bp)[:0], m)
	*bp = b
	if err != nil {
		putMsgBuf(bp)
		return nil, err
	}
	return bp, nil
}

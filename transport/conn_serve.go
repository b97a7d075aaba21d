package transport

import (
	"github.com/sinchsim/sinchsim/internal/gopool"
)

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

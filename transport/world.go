package transport

import (
	"github.com/sinchsim/sinchsim/vclock"
)

// WorldHeader is the opening-handshake header by which a dialler whose
// clock is a virtual clock (package vclock) offers to count the messages of
// the connection with that clock; a server on the same clock answers it
// with "1", and from then on both ends count every message from its send
// until the receiver has handled it, so that moving the clock waits for
// messages in flight. Dialers and servers on other clocks ignore it.
const WorldHeader = "Sinchsim-World"

// attach makes c count its messages on l as end me (vclock.ToDialer or
// vclock.ToAcceptor).
func (c *Conn) attach(l *vclock.Link, me int) {
	c.link, c.me = l, me
}

func (c *Conn) peer() int { return 1 - c.me }

// InWorld reports whether the connection's messages are counted by a
// virtual clock (both ends are in the same emulated world).
func (c *Conn) InWorld() bool { return c.link != nil }

// Handled tells a virtual clock that the message Read last returned has
// been handled, including any work queued in answer to it; after Read
// returned a terminal error, it says that this end reads no more. Call it
// from the reading goroutine after handling each result of Read. On a
// connection outside any world it does nothing.
func (c *Conn) Handled() {
	if c.link == nil {
		return
	}
	if c.readErr != nil {
		c.link.Closed(c.me)
		return
	}
	c.link.Handled(c.me)
}

// Shutdown closes cleanly and synchronously: Close, read until the end,
// Handled, wait for Done. It is for the goroutine that would otherwise
// read; messages that arrive meanwhile are discarded.
func (c *Conn) Shutdown(code int, reason string) { c.shutdown(code, reason) }

// Discard ends a connection that nobody reads: Abort, and on a world
// connection release what is in flight towards this end. Use it instead of
// Abort when no goroutine reads the connection (one dialled but no longer
// wanted).
func (c *Conn) Discard() {
	_ = c.Abort()
	c.link.Closed(c.me)
}

// ReadDone says that this end will read no more, whatever Read last
// returned (a reader that stops early, say because its welcome could not
// be sent): on a world connection, what is in flight towards this end is
// released and nothing more is counted towards it.
func (c *Conn) ReadDone() { c.link.Closed(c.me) }

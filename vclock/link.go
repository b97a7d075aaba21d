package vclock

import (
	"strconv"
	"sync"
)

// Ends of a Link.
const (
	// ToDialer is the direction of messages the accepting side sends.
	ToDialer = 0
	// ToAcceptor is the direction of messages the dialling side sends.
	ToAcceptor = 1
)

// Link counts the messages in flight on one connection whose two ends are
// both in the world. The sender counts a message before it writes it
// (Sent); the receiver releases it once it has handled it, including the
// work it queued in answer (Handled). When one end will read no more
// (Closed), what is still in flight towards it is released and further
// messages towards it are not counted: they will never be handled.
type Link struct {
	c      *Clock
	mu     sync.Mutex
	n      [2]int64
	closed [2]bool
}

// Offer creates a link for a connection about to be dialled; the accepting
// side finds it with Claim(id). The dialler calls Withdraw(id) once the
// handshake is over, whatever its outcome.
func (c *Clock) Offer() (id string, l *Link) {
	l = &Link{c: c}
	c.mu.Lock()
	c.seq++
	id = c.id + "-" + strconv.FormatUint(c.seq, 36)
	c.links[id] = l
	c.mu.Unlock()
	return id, l
}

// Claim returns the link offered under id on this clock, or nil: an id
// from another clock, or none, means the dialler is not in this world.
func (c *Clock) Claim(id string) *Link {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.links[id]
	delete(c.links, id)
	return l
}

// Withdraw forgets an offer that was not claimed.
func (c *Clock) Withdraw(id string) {
	c.mu.Lock()
	delete(c.links, id)
	c.mu.Unlock()
}

// Sent counts one message towards end to. It reports false, counting
// nothing, when that end reads no more.
func (l *Link) Sent(to int) bool {
	if l == nil {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed[to] {
		return false
	}
	l.n[to]++
	l.c.flight.Begin(1)
	return true
}

// Unsent takes back a count of Sent whose message was not written after all.
func (l *Link) Unsent(to int) { l.Handled(to) }

// Handled releases one message that end to has handled.
func (l *Link) Handled(to int) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n[to] > 0 {
		l.n[to]--
		l.c.flight.End(1)
	}
}

// Closed says that end to reads no more: everything in flight towards it
// is released.
func (l *Link) Closed(to int) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed[to] = true
	if n := l.n[to]; n > 0 {
		l.n[to] = 0
		l.c.flight.End(n)
	}
}

// InFlight returns the messages in flight towards end to.
func (l *Link) InFlight(to int) int64 {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n[to]
}

package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// In-memory connections. A MemListener accepts connections from Dial in
// the same process (DialConfig.InMemory) over an in-memory duplex pipe:
// no socket and no file descriptor, but everything above the socket is
// the same — the HTTP upgrade, WebSocket framing, the protocol v1 codec
// and Conn. A server passes the listener to http.Server.Serve next to its
// TCP listener; a dialler reaches it by the address it was registered
// under, normally the server's TCP address, so that one URL serves both.
//
// A Conn over an in-memory pipe sends no pings and sets no read deadline:
// both are wall-clock keepalives of a network, and an emulated world of
// 100,000 clients would pay for 200,000 tickers that can never fire
// usefully.

// memNetwork is the Network of an in-memory address.
const memNetwork = "mem"

// memBufMax bounds the bytes buffered in one direction of a pipe: a writer
// beyond it waits for the reader, as on a socket with a full buffer.
const memBufMax = 256 << 10

// ErrNoMemListener is returned by Dial with DialConfig.InMemory when no
// in-memory listener is registered under the URL's host in this process.
var ErrNoMemListener = errors.New("transport: no in-memory listener at this address in this process")

var memRegistry = struct {
	sync.Mutex
	m map[string]*MemListener
}{m: map[string]*MemListener{}}

// MemListener is a net.Listener for in-memory connections; see ListenMem.
type MemListener struct {
	addr memAddr
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

var _ net.Listener = (*MemListener)(nil)

// ListenMem registers an in-memory listener under addr (any string, usually
// the host:port of the server's TCP listener): Dial with
// DialConfig.InMemory and a URL whose host is addr reaches it. An address
// can have one listener at a time; Close frees it.
func ListenMem(addr string) (*MemListener, error) {
	if addr == "" {
		return nil, errors.New("transport: an in-memory listener needs an address")
	}
	l := &MemListener{addr: memAddr(addr), ch: make(chan net.Conn), done: make(chan struct{})}
	memRegistry.Lock()
	defer memRegistry.Unlock()
	if memRegistry.m[addr] != nil {
		return nil, fmt.Errorf("transport: an in-memory listener at %s exists already", addr)
	}
	memRegistry.m[addr] = l
	return l, nil
}

// Accept waits for the next in-memory connection.
func (l *MemListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, &net.OpError{Op: "accept", Net: memNetwork, Addr: l.addr, Err: net.ErrClosed}
	}
}

// Close unregisters the listener; connections already accepted stay open.
func (l *MemListener) Close() error {
	l.once.Do(func() {
		memRegistry.Lock()
		if memRegistry.m[string(l.addr)] == l {
			delete(memRegistry.m, string(l.addr))
		}
		memRegistry.Unlock()
		close(l.done)
	})
	return nil
}

// Addr returns the address the listener is registered under (network "mem").
func (l *MemListener) Addr() net.Addr { return l.addr }

// dialMem connects to the in-memory listener registered under addr.
func dialMem(ctx context.Context, addr string) (net.Conn, error) {
	memRegistry.Lock()
	l := memRegistry.m[addr]
	memRegistry.Unlock()
	if l == nil {
		return nil, &net.OpError{Op: "dial", Net: memNetwork, Addr: memAddr(addr), Err: ErrNoMemListener}
	}
	client, server := memPipe(memAddr("client"), l.addr)
	select {
	case l.ch <- server:
		return client, nil
	case <-l.done:
		return nil, &net.OpError{Op: "dial", Net: memNetwork, Addr: l.addr, Err: errors.New("connection refused: listener closed")}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type memAddr string

func (a memAddr) Network() string { return memNetwork }
func (a memAddr) String() string  { return string(a) }

// memBuffer is one direction of a pipe: bytes written and not read yet.
type memBuffer struct {
	mu       sync.Mutex
	buf      []byte
	off      int
	eof      bool          // the writing end closed: the reader gets io.EOF once drained
	broken   bool          // the reading end closed: writes fail
	readable chan struct{} // signalled when bytes arrive or eof is set
	writable chan struct{} // signalled when room is made or broken is set
}

func newMemBuffer() *memBuffer {
	return &memBuffer{readable: make(chan struct{}, 1), writable: make(chan struct{}, 1)}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// memConn is one end of an in-memory pipe. One goroutine reads and one
// writes at a time, as gorilla/websocket does.
type memConn struct {
	in, out       *memBuffer
	local, remote memAddr
	rdl, wdl      atomic.Int64  // deadlines in Unix nanoseconds; 0: none
	rkick, wkick  chan struct{} // a deadline changed: a waiting Read or Write looks again
	done          chan struct{} // closed by Close
	closeOnce     sync.Once
}

// memPipe returns the two ends of a new in-memory pipe.
func memPipe(a, b memAddr) (*memConn, *memConn) {
	ab, ba := newMemBuffer(), newMemBuffer()
	x := &memConn{in: ba, out: ab, local: a, remote: b, rkick: make(chan struct{}, 1), wkick: make(chan struct{}, 1), done: make(chan struct{})}
	y := &memConn{in: ab, out: ba, local: b, remote: a, rkick: make(chan struct{}, 1), wkick: make(chan struct{}, 1), done: make(chan struct{})}
	return x, y
}

func (c *memConn) closed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

func (c *memConn) opErr(op string, err error) error {
	return &net.OpError{Op: op, Net: memNetwork, Source: c.local, Addr: c.remote, Err: err}
}

// wait blocks until ch is signalled, the deadline dl passes (a timeout),
// the deadline changes (kick) or the connection is closed.
func (c *memConn) wait(ch, kick chan struct{}, dl *atomic.Int64) (timedOut bool) {
	var expiry <-chan time.Time
	if at := dl.Load(); at != 0 {
		d := time.Until(time.Unix(0, at))
		if d <= 0 {
			return true
		}
		t := time.NewTimer(d)
		defer t.Stop()
		expiry = t.C
	}
	select {
	case <-ch:
	case <-kick:
	case <-expiry:
	case <-c.done:
	}
	return false
}

func expired(dl *atomic.Int64) bool {
	at := dl.Load()
	return at != 0 && time.Now().UnixNano() >= at
}

// Read implements net.Conn.
func (c *memConn) Read(p []byte) (int, error) {
	b := c.in
	for {
		if c.closed() {
			return 0, c.opErr("read", net.ErrClosed)
		}
		if expired(&c.rdl) {
			return 0, c.opErr("read", os.ErrDeadlineExceeded)
		}
		b.mu.Lock()
		if b.off < len(b.buf) {
			n := copy(p, b.buf[b.off:])
			b.off += n
			if b.off == len(b.buf) {
				b.off = 0
				if cap(b.buf) > 16<<10 {
					b.buf = nil // a big message passed: do not keep its room
				} else {
					b.buf = b.buf[:0]
				}
			}
			b.mu.Unlock()
			signal(b.writable)
			return n, nil
		}
		eof := b.eof
		b.mu.Unlock()
		if eof {
			return 0, io.EOF
		}
		if len(p) == 0 {
			return 0, nil
		}
		if c.wait(b.readable, c.rkick, &c.rdl) {
			return 0, c.opErr("read", os.ErrDeadlineExceeded)
		}
	}
}

// Write implements net.Conn.
func (c *memConn) Write(p []byte) (int, error) {
	b := c.out
	written := 0
	for {
		if c.closed() {
			return written, c.opErr("write", net.ErrClosed)
		}
		if expired(&c.wdl) {
			return written, c.opErr("write", os.ErrDeadlineExceeded)
		}
		b.mu.Lock()
		if b.broken {
			b.mu.Unlock()
			return written, c.opErr("write", io.ErrClosedPipe)
		}
		if room := memBufMax - (len(b.buf) - b.off); room > 0 {
			if b.off > 0 && b.off >= len(b.buf)/2 {
				b.buf = b.buf[:copy(b.buf, b.buf[b.off:])]
				b.off = 0
			}
			n := min(room, len(p)-written)
			b.buf = append(b.buf, p[written:written+n]...)
			b.mu.Unlock()
			signal(b.readable)
			written += n
			if written == len(p) {
				return written, nil
			}
			continue
		}
		b.mu.Unlock()
		if c.wait(b.writable, c.wkick, &c.wdl) {
			return written, c.opErr("write", os.ErrDeadlineExceeded)
		}
	}
}

// Close implements net.Conn: the peer reads what was written, then io.EOF;
// its writes fail.
func (c *memConn) Close() error {
	first := false
	c.closeOnce.Do(func() {
		first = true
		close(c.done)
		c.out.mu.Lock()
		c.out.eof = true
		c.out.mu.Unlock()
		signal(c.out.readable)
		c.in.mu.Lock()
		c.in.broken = true
		c.in.buf, c.in.off = nil, 0
		c.in.mu.Unlock()
		signal(c.in.writable)
	})
	if !first {
		return c.opErr("close", net.ErrClosed)
	}
	return nil
}

func (c *memConn) LocalAddr() net.Addr  { return c.local }
func (c *memConn) RemoteAddr() net.Addr { return c.remote }

func setDeadline(dl *atomic.Int64, kick chan struct{}, t time.Time) {
	var at int64
	if !t.IsZero() {
		at = max(t.UnixNano(), 1)
	}
	if dl.Swap(at) != at {
		signal(kick)
	}
}

// SetDeadline implements net.Conn.
func (c *memConn) SetDeadline(t time.Time) error {
	setDeadline(&c.rdl, c.rkick, t)
	setDeadline(&c.wdl, c.wkick, t)
	return nil
}

// SetReadDeadline implements net.Conn.
func (c *memConn) SetReadDeadline(t time.Time) error {
	setDeadline(&c.rdl, c.rkick, t)
	return nil
}

// SetWriteDeadline implements net.Conn. It costs no timer unless a write
// has to wait for room.
func (c *memConn) SetWriteDeadline(t time.Time) error {
	setDeadline(&c.wdl, c.wkick, t)
	return nil
}

// isMem reports whether nc is one end of an in-memory pipe.
func isMem(nc net.Conn) bool {
	_, ok := nc.(*memConn)
	return ok
}

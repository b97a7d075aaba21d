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

// memReadBufferSize is the WebSocket read buffer of a connection over a
// pipe: the pipe holds what is not read yet, so a small buffer costs
// nothing but a few more reads of large messages, and 200,000 ends of
// 100,000 clients keep 150 MiB less.
const memReadBufferSize = 256

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

// memBuffer is one direction of a pipe: the records written and not read
// yet. A record is what one Write call carried (up to the room there was);
// Read never returns bytes of two records at once, so a reader that reads
// one WebSocket frame at a time never holds bytes of the next one in its
// own buffer: when the pipe is empty, there is nothing left to read.
//
// An idle pipe holds no channel: a Read or Write that has to wait makes
// one, and whoever changes what it waits for closes it.
type memBuffer struct {
	mu     sync.Mutex
	recs   []*[]byte // records, oldest first, from recs[head]
	head   int
	off    int           // bytes of recs[head] read already
	size   int           // bytes buffered
	eof    bool          // the writing end closed: the reader gets io.EOF once drained
	broken bool          // the reading end closed: writes fail
	rwait  chan struct{} // a Read waits for bytes, the end, or a change of deadline
	wwait  chan struct{} // a Write waits for room, the end, or a change of deadline
	onData func()        // the reading Conn's wake-up (Serve), called outside mu
}

// recPool holds record buffers: a connection holds one only while a
// message is in flight.
var recPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

const maxPooledRec = 8 << 10

// pending reports whether a Read would return at once: bytes, or the end.
func (b *memBuffer) pending() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.size > 0 || b.eof || b.broken
}

// wakeLocked releases the waiting Read and Write.
func (b *memBuffer) wakeLocked() {
	if b.rwait != nil {
		close(b.rwait)
		b.rwait = nil
	}
	if b.wwait != nil {
		close(b.wwait)
		b.wwait = nil
	}
}

// wake releases waiters and runs onData.
func (b *memBuffer) wake() {
	b.mu.Lock()
	b.wakeLocked()
	f := b.onData
	b.mu.Unlock()
	if f != nil {
		f()
	}
}

// readLocked copies the rest of the oldest record, or what fits of it.
func (b *memBuffer) readLocked(p []byte) int {
	r := b.recs[b.head]
	n := copy(p, (*r)[b.off:])
	b.off += n
	b.size -= n
	if b.off == len(*r) {
		b.recs[b.head] = nil
		b.head++
		b.off = 0
		if b.head == len(b.recs) {
			b.recs, b.head = b.recs[:0], 0
		}
		if cap(*r) <= maxPooledRec {
			*r = (*r)[:0]
			recPool.Put(r)
		}
	}
	if b.wwait != nil {
		close(b.wwait)
		b.wwait = nil
	}
	return n
}

// writeLocked appends a record of p.
func (b *memBuffer) writeLocked(p []byte) {
	var r *[]byte
	if len(p) <= maxPooledRec {
		r = recPool.Get().(*[]byte)
		*r = append((*r)[:0], p...)
	} else {
		c := append([]byte(nil), p...)
		r = &c
	}
	if b.head > 0 && len(b.recs) == cap(b.recs) {
		b.recs = b.recs[:copy(b.recs, b.recs[b.head:])]
		b.head = 0
	}
	b.recs = append(b.recs, r)
	b.size += len(p)
	if b.rwait != nil {
		close(b.rwait)
		b.rwait = nil
	}
}

// dropLocked forgets every record (the reading end closed).
func (b *memBuffer) dropLocked() {
	for i := b.head; i < len(b.recs); i++ {
		b.recs[i] = nil
	}
	b.recs, b.head, b.off, b.size = nil, 0, 0, 0
}

// memConn is one end of an in-memory pipe. One goroutine reads and one
// writes at a time, as gorilla/websocket does. A deadline only bounds a
// wait: a Read that finds bytes, or a Write that finds room, succeeds
// whatever the time. Deadlines are wall-clock time, and a simulation that
// keeps two cores busy with 100,000 clients may leave a goroutine waiting
// for a core between setting its write deadline and writing; with nothing
// to wait for, a pipe has nothing to time out.
type memConn struct {
	in, out       *memBuffer
	local, remote memAddr
	rdl, wdl      atomic.Int64 // deadlines in Unix nanoseconds; 0: none
	done          atomic.Bool  // Close was called
	closeOnce     sync.Once
}

// memPipe returns the two ends of a new in-memory pipe.
func memPipe(a, b memAddr) (*memConn, *memConn) {
	ab, ba := &memBuffer{}, &memBuffer{}
	return &memConn{in: ba, out: ab, local: a, remote: b}, &memConn{in: ab, out: ba, local: b, remote: a}
}

func (c *memConn) closed() bool { return c.done.Load() }

func (c *memConn) opErr(op string, err error) error {
	return &net.OpError{Op: op, Net: memNetwork, Source: c.local, Addr: c.remote, Err: err}
}

// wait blocks until ch is closed or the deadline dl passes (a timeout).
func wait(ch chan struct{}, dl *atomic.Int64) (timedOut bool) {
	at := dl.Load()
	if at == 0 {
		<-ch
		return false
	}
	d := time.Until(time.Unix(0, at))
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
		return false
	case <-t.C:
		return true
	}
}

func expired(dl *atomic.Int64) bool {
	at := dl.Load()
	return at != 0 && time.Now().UnixNano() >= at
}

// Read implements net.Conn. It returns at most the rest of one record.
func (c *memConn) Read(p []byte) (int, error) {
	b := c.in
	for {
		if c.closed() {
			return 0, c.opErr("read", net.ErrClosed)
		}
		b.mu.Lock()
		if b.size > 0 {
			if len(p) == 0 {
				b.mu.Unlock()
				return 0, nil
			}
			n := b.readLocked(p)
			b.mu.Unlock()
			return n, nil
		}
		if b.eof {
			b.mu.Unlock()
			return 0, io.EOF
		}
		if len(p) == 0 {
			b.mu.Unlock()
			return 0, nil
		}
		if expired(&c.rdl) {
			b.mu.Unlock()
			return 0, c.opErr("read", os.ErrDeadlineExceeded)
		}
		if b.rwait == nil {
			b.rwait = make(chan struct{})
		}
		ch := b.rwait
		b.mu.Unlock()
		if wait(ch, &c.rdl) {
			return 0, c.opErr("read", os.ErrDeadlineExceeded)
		}
	}
}

// Write implements net.Conn. Each call makes one record (or several, when
// the pipe has less room than p).
func (c *memConn) Write(p []byte) (int, error) {
	b := c.out
	written := 0
	for {
		if c.closed() {
			return written, c.opErr("write", net.ErrClosed)
		}
		b.mu.Lock()
		if b.broken {
			b.mu.Unlock()
			return written, c.opErr("write", io.ErrClosedPipe)
		}
		if room := memBufMax - b.size; room > 0 {
			n := min(room, len(p)-written)
			b.writeLocked(p[written : written+n])
			f := b.onData
			b.mu.Unlock()
			if f != nil {
				f()
			}
			written += n
			if written == len(p) {
				return written, nil
			}
			continue
		}
		if expired(&c.wdl) {
			b.mu.Unlock()
			return written, c.opErr("write", os.ErrDeadlineExceeded)
		}
		if b.wwait == nil {
			b.wwait = make(chan struct{})
		}
		ch := b.wwait
		b.mu.Unlock()
		if wait(ch, &c.wdl) {
			return written, c.opErr("write", os.ErrDeadlineExceeded)
		}
	}
}

// Close implements net.Conn: the peer reads what was written, then io.EOF;
// its writes fail. A reader of this end (Serve) is woken to see the end.
func (c *memConn) Close() error {
	first := false
	c.closeOnce.Do(func() {
		first = true
		c.done.Store(true)
		c.out.mu.Lock()
		c.out.eof = true
		c.out.mu.Unlock()
		c.out.wake()
		c.in.mu.Lock()
		c.in.broken = true
		c.in.dropLocked()
		c.in.mu.Unlock()
		c.in.wake()
	})
	if !first {
		return c.opErr("close", net.ErrClosed)
	}
	return nil
}

func (c *memConn) LocalAddr() net.Addr  { return c.local }
func (c *memConn) RemoteAddr() net.Addr { return c.remote }

// setDeadline sets dl and releases a Read (read) or a Write of b waiting
// under the old deadline, so that it looks again.
func setDeadline(dl *atomic.Int64, b *memBuffer, read bool, t time.Time) {
	var at int64
	if !t.IsZero() {
		at = max(t.UnixNano(), 1)
	}
	if dl.Swap(at) == at {
		return
	}
	b.mu.Lock()
	w := &b.wwait
	if read {
		w = &b.rwait
	}
	if *w != nil {
		close(*w)
		*w = nil
	}
	b.mu.Unlock()
}

// SetDeadline implements net.Conn.
func (c *memConn) SetDeadline(t time.Time) error {
	setDeadline(&c.rdl, c.in, true, t)
	setDeadline(&c.wdl, c.out, false, t)
	return nil
}

// SetReadDeadline implements net.Conn.
func (c *memConn) SetReadDeadline(t time.Time) error {
	setDeadline(&c.rdl, c.in, true, t)
	return nil
}

// SetWriteDeadline implements net.Conn. It costs no timer unless a write
// has to wait for room.
func (c *memConn) SetWriteDeadline(t time.Time) error {
	setDeadline(&c.wdl, c.out, false, t)
	return nil
}

// isMem reports whether nc is one end of an in-memory pipe.
func isMem(nc net.Conn) bool {
	_, ok := nc.(*memConn)
	return ok
}

// onData makes f run whenever this end has something to read (bytes, the
// peer's close, its own Close); f must not block.
func (c *memConn) onData(f func()) {
	c.in.mu.Lock()
	c.in.onData = f
	c.in.mu.Unlock()
}

// room reports whether n more bytes fit in the pipe towards the peer.
func (c *memConn) room(n int) bool {
	b := c.out
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.size+n <= memBufMax
}

// readable reports whether a Read would return at once.
func (c *memConn) readable() bool { return c.closed() || c.in.pending() }

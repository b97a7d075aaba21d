package fakebackend

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/sinchsim/sinchsim/internal/gopool"
	"github.com/sinchsim/sinchsim/transport"
)

// The server accepts its connections itself. A connection whose first
// request is for the WebSocket endpoint is upgraded here; every other
// connection (the admin API, the console, metrics) goes to the
// http.Server with the bytes read so far, and keeps it for good.
//
// net/http would give each connection a new goroutine, a 4 KiB reader and
// a 4 KiB writer that an upgrade throws away, a context, and a background
// read that the hijack has to stop and wait for: a good part of what a
// registration costs the backend, for a connection that leaves HTTP after
// one request. Here the request is read on a pooled goroutine through a
// pooled reader, both reused by the next connection.
//
// Over TLS the http.Server serves every connection, as it handles the
// handshake and knows the TLS state of its requests.

// headerTimeout bounds the reading of a connection's first request, as the
// http.Server's ReadHeaderTimeout bounds the others.
const headerTimeout = 10 * time.Second

// wsLine is how a request line for the WebSocket endpoint starts; a space
// or a '?' follows it.
const wsLine = "GET " + transport.Path

// firstBuf is what reads a connection's first request: pooled, since an
// upgraded connection reads through a buffer of its own.
type firstBuf struct {
	lim io.LimitedReader // the connection, up to http.DefaultMaxHeaderBytes
	r   *bufio.Reader    // reads lim
	w   *bufio.Writer    // only for the hijack, which needs one
}

var firstBufs = sync.Pool{New: func() any {
	return &firstBuf{r: bufio.NewReaderSize(nil, 4096), w: bufio.NewWriterSize(nil, 512)}
}}

// headerLimit bounds a first request's head as the http.Server bounds
// the others'.
const headerLimit = http.DefaultMaxHeaderBytes

// acceptLoop accepts connections on ln until it is closed: the first
// request of each is read on a goroutine of its own (firstRequest).
func (s *Server) acceptLoop(ln net.Listener, h *handoff) {
	defer s.wg.Done()
	defer h.Close()
	ctx := listenerContext(ln)
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// As net/http does: out of file descriptors, say, is worth
			// waiting out.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.log.Warn("accept failed; retrying", "err", err, "in", delay)
			select {
			case <-time.After(delay):
			case <-h.done:
				return
			}
			continue
		}
		delay = 0
		if !s.track(c) {
			_ = c.Close()
			continue
		}
		gopool.Go(func() { s.firstRequest(ctx, c, h) })
	}
}

// track counts c, whose first request is about to be read, in s.wg and
// s.reading (stopServing closes those), unless the server has stopped.
func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		return false
	}
	s.wg.Add(1)
	s.reading[c] = struct{}{}
	return true
}

// untrack ends track: it reports false if the server closed c meanwhile.
func (s *Server) untrack(c net.Conn) bool {
	s.mu.Lock()
	_, ok := s.reading[c]
	delete(s.reading, c)
	s.mu.Unlock()
	return ok
}

// closeReadingLocked closes the connections whose first request is being
// read: the server is stopping.
func (s *Server) closeReadingLocked() {
	for c := range s.reading {
		_ = c.Close()
		delete(s.reading, c)
	}
}

// firstRequest reads c's first request: one for the WebSocket endpoint is
// served (serveWS) with ctx, any other connection goes to the http.Server.
func (s *Server) firstRequest(ctx context.Context, c net.Conn, h *handoff) {
	defer s.wg.Done()
	b := firstBufs.Get().(*firstBuf)
	b.lim = io.LimitedReader{R: c, N: headerLimit}
	b.r.Reset(&b.lim)
	defer func() {
		b.lim.R = nil
		b.r.Reset(nil)
		b.w.Reset(nil)
		firstBufs.Put(b)
	}()
	_ = c.SetReadDeadline(time.Now().Add(headerTimeout))
	line, err := b.r.Peek(len(wsLine) + 1)
	if err != nil || !isWSLine(line) {
		// Not ours: the http.Server reads it all again, from the start.
		seen, _ := b.r.Peek(b.r.Buffered())
		seen = bytes.Clone(seen)
		if !s.untrack(c) {
			return
		}
		if len(seen) == 0 { // closed, or silent for headerTimeout
			_ = c.Close()
			return
		}
		_ = c.SetReadDeadline(time.Time{})
		h.give(&replayConn{Conn: c, seen: seen})
		return
	}
	req, err := http.ReadRequest(b.r)
	if !s.untrack(c) {
		return
	}
	if err != nil {
		// As net/http answers a request it cannot read.
		code := http.StatusBadRequest
		if b.lim.N <= 0 {
			code = http.StatusRequestHeaderFieldsTooLarge
		}
		w := &firstResponse{c: c}
		http.Error(w, strconv.Itoa(code)+" "+http.StatusText(code), code)
		w.finish(nil)
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	req.RemoteAddr = c.RemoteAddr().String()
	w := &firstResponse{c: c, buf: b}
	s.serveWS(w, req.WithContext(ctx))
	if !w.hijacked {
		w.finish(req)
	}
}

// isWSLine reports whether a request line that starts with line is for
// the WebSocket endpoint.
func isWSLine(line []byte) bool {
	n := len(wsLine)
	return string(line[:n]) == wsLine && (line[n] == ' ' || line[n] == '?')
}

// firstResponse is the http.ResponseWriter of a first request that
// firstRequest serves: hijacked by the upgrade, or else answered once and
// closed (finish).
type firstResponse struct {
	c        net.Conn
	buf      *firstBuf
	header   http.Header
	status   int
	body     bytes.Buffer
	hijacked bool
}

func (w *firstResponse) Header() http.Header {
	if w.header == nil {
		w.header = http.Header{}
	}
	return w.header
}

func (w *firstResponse) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *firstResponse) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(p)
}

// Hijack hands over the connection with the reader of the request, which
// holds nothing more (the WebSocket layer checks), and a writer it uses
// for the handshake's answer only: both go back to the pool once the
// handler returns, transport.Upgrader's buffer sizes being set.
func (w *firstResponse) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.hijacked {
		return nil, nil, http.ErrHijacked
	}
	w.hijacked = true
	w.buf.w.Reset(w.c)
	return w.c, bufio.NewReadWriter(w.buf.r, w.buf.w), nil
}

// finish answers a request that was not upgraded (req: nil if it could
// not be read) and closes the connection.
func (w *firstResponse) finish(req *http.Request) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	resp := &http.Response{
		StatusCode:    w.status,
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        w.Header(),
		Body:          io.NopCloser(&w.body),
		ContentLength: int64(w.body.Len()),
		Close:         true,
		Request:       req,
	}
	_ = w.c.SetWriteDeadline(time.Now().Add(headerTimeout))
	_ = resp.Write(w.c)
	_ = w.c.Close()
}

// handoff is the listener the http.Server serves: the connections that
// firstRequest gives it.
type handoff struct {
	ln    net.Listener
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newHandoff(ln net.Listener) *handoff {
	return &handoff{ln: ln, conns: make(chan net.Conn), done: make(chan struct{})}
}

// Accept returns the next connection given to the http.Server.
func (h *handoff) Accept() (net.Conn, error) {
	select {
	case c := <-h.conns:
		return c, nil
	case <-h.done:
		return nil, &net.OpError{Op: "accept", Net: h.ln.Addr().Network(), Addr: h.ln.Addr(), Err: net.ErrClosed}
	}
}

// Close closes the listener underneath too, which ends acceptLoop.
func (h *handoff) Close() error {
	h.once.Do(func() { close(h.done) })
	return h.ln.Close()
}

// Addr is the listener's address.
func (h *handoff) Addr() net.Addr { return h.ln.Addr() }

// give hands c to the http.Server, or closes it once that has stopped.
func (h *handoff) give(c net.Conn) {
	select {
	case h.conns <- c:
	case <-h.done:
		_ = c.Close()
	}
}

// replayConn is a connection given to the http.Server: it reads the bytes
// firstRequest read first.
type replayConn struct {
	net.Conn
	seen []byte
}

func (c *replayConn) Read(p []byte) (int, error) {
	if len(c.seen) > 0 {
		n := copy(p, c.seen)
		c.seen = c.seen[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// listenerContext is the base of the context of the requests firstRequest
// serves: like the http.Server's, it holds the listener's address.
func listenerContext(ln net.Listener) context.Context {
	return context.WithValue(context.Background(), http.LocalAddrContextKey, ln.Addr())
}

package transport

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/sinchsim/sinchsim/vclock"
)

// Config tunes a Conn. The zero value gives the defaults; every duration is
// wall-clock time (these are socket deadlines, never a mock clock's).
type Config struct {
	// ReadLimit is the largest message Read accepts (default 64 KiB). A
	// larger one gives a fatal *ProtocolError; the owner answers it and
	// closes with CloseMessageTooBig. Past 16×ReadLimit (at once for a
	// message in one frame, whose header shows its size) the WebSocket
	// layer closes with 1009 by itself and Read returns a terminal error,
	// after reading and discarding what the peer still sends for up to
	// CloseGrace, so that the peer can finish its write and read the close
	// frame instead of meeting a reset.
	ReadLimit int64
	// PingInterval is how often the writer pings the peer (default 20 s).
	// One that is not shorter than PongWait is taken as PongWait/2.
	PingInterval time.Duration
	// PongWait is how long Read waits for any message, pong or ping from the
	// peer before it gives the connection up (default 60 s), to within a
	// sixteenth: the deadline is moved at most that often.
	PongWait time.Duration
	// WriteWait bounds each write to the socket (default 10 s).
	WriteWait time.Duration
	// SendQueue is how many encoded messages may wait for the writer
	// (default 64). A full queue means a slow consumer: see Send.
	SendQueue int
	// CloseGrace bounds how long Close waits for the peer's close frame
	// after sending its own (default 2 s).
	CloseGrace time.Duration
}

// Defaults of Config.
const (
	DefaultReadLimit    = 64 << 10         // bytes
	DefaultPingInterval = 20 * time.Second // between pings
	DefaultPongWait     = 60 * time.Second // silence before giving up
	DefaultWriteWait    = 10 * time.Second // per write
	DefaultSendQueue    = 64               // messages
	DefaultCloseGrace   = 2 * time.Second  // wait for the peer's close frame
)

// hardLimitFactor sets gorilla's own read limit at a multiple of ReadLimit,
// so that a message somewhat over the limit can still be answered with a
// protocol_error before the connection is closed.
const hardLimitFactor = 16

func (c Config) withDefaults() Config {
	if c.ReadLimit <= 0 {
		c.ReadLimit = DefaultReadLimit
	}
	if c.PingInterval <= 0 {
		c.PingInterval = DefaultPingInterval
	}
	if c.PongWait <= 0 {
		c.PongWait = DefaultPongWait
	}
	if c.WriteWait <= 0 {
		c.WriteWait = DefaultWriteWait
	}
	if c.SendQueue <= 0 {
		c.SendQueue = DefaultSendQueue
	}
	if c.CloseGrace <= 0 {
		c.CloseGrace = DefaultCloseGrace
	}
	if c.PingInterval >= c.PongWait {
		c.PingInterval = c.PongWait / 2
	}
	return c
}

// Close codes used by this package (RFC 6455 section 7.4.1); any code
// gorilla/websocket accepts may be passed to Close.
const (
	CloseNormal          = websocket.CloseNormalClosure     // 1000
	CloseGoingAway       = websocket.CloseGoingAway         // 1001: shutting down
	CloseProtocolError   = websocket.CloseProtocolError     // 1002: not speaking protocol v1
	ClosePolicyViolation = websocket.ClosePolicyViolation   // 1008: send queue full
	CloseMessageTooBig   = websocket.CloseMessageTooBig     // 1009: over the read limit
	CloseInternalError   = websocket.CloseInternalServerErr // 1011
	CloseAbnormal        = websocket.CloseAbnormalClosure   // 1006: ended without a close frame (never sent)
)

// closeMode says how the writer ends the connection.
type closeMode uint8

const (
	modeHandshake closeMode = iota + 1 // Close: flush, close frame, wait for the peer's
	modeAbort                          // slow consumer: drop the queue, try a close frame
	modeEnd                            // reader or writer failed, peer closed, Abort: just close
	modeLinger                         // the WebSocket layer sent close 1009: wait for the reader's drain
)

// Conn is one WebSocket connection carrying protocol v1 messages, for either
// side. Its writer, which also sends the pings (except over an in-memory
// pipe, see [ListenMem]: no pings, no PongWait), is a goroutine that runs
// only while there is something to write or the connection is ending: an
// idle connection holds no writer goroutine.
//
// Use: one goroutine calls Read in a loop; any goroutine may call Send,
// Close, Abort, Done and CloseCode. Control frames (pong, close) are only
// seen while Read is being called, so keep reading until Read returns an
// error that is not a *ProtocolError — also after calling Close.
type Conn struct {
	ws  *websocket.Conn
	cfg Config

	closing  chan struct{} // closed once the connection starts to end
	readDone chan struct{} // closed once the reader has seen the end
	done     chan struct{} // closed once the socket is closed and the writer has exited

	closeOnce    sync.Once
	readDoneOnce sync.Once

	mu         sync.Mutex
	mode       closeMode
	sendCode   int
	sendReason string
	peerClosed bool
	peerCode   int
	peerReason string

	readErr  error     // only touched by the reader goroutine
	extended time.Time // when extend last moved the read deadline (reader only)
	// extendEvery is how old the last move must be before extend moves
	// the deadline again.
	extendEvery time.Duration

	link *vclock.Link // counts messages in flight when both ends are in one virtual world
	me   int          // this end of link

	// keepalive is false on an in-memory pipe: no pings, no read deadline.
	keepalive bool
	// mc is the in-memory pipe under ws, or nil. Over a pipe the reader
	// (Serve) is a goroutine too that runs only while there is something
	// to read, and a Send may write at once.
	mc      *memConn
	qmu     sync.Mutex  // guards queue and ping
	queue   []*[]byte   // the send queue (at most Config.SendQueue)
	ping    *time.Timer // asks the writer for a ping every PingInterval (keepalive only)
	pingDue atomic.Bool // a ping is to be written
	writing atomic.Bool // a writer runs: a Send writing inline, or writeSome
	reading atomic.Bool // a reader goroutine runs (Serve over a pipe)
	handle  func(Message, error)
	// writer and reader are writeSome and readSome as func values, made
	// once: each kick hands one to the pool.
	writer, reader func()
}

// Buffers shared by all connections: a connection holds one only while it
// reads or writes a message, which keeps idle connections small.
var (
	writeBufferPool sync.Pool // gorilla frame buffers (websocket.BufferPool)
	msgPool         = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}
)

const (
	readBufferSize  = 1024 // per connection, held for its lifetime
	writeBufferSize = 4096 // pooled
	maxPooledMsg    = 128 << 10
)

func getMsgBuf() *[]byte { return msgPool.Get().(*[]byte) }

func putMsgBuf(b *[]byte) {
	if cap(*b) <= maxPooledMsg {
		*b = (*b)[:0]
		msgPool.Put(b)
	}
}

// NewConn wraps an established WebSocket connection and starts its writer
// goroutine. The caller must not use ws directly afterwards. Upgrader.Upgrade
// and Dial call it; use it directly only for a connection made elsewhere.
func NewConn(ws *websocket.Conn, cfg Config) *Conn {
	cfg = cfg.withDefaults()
	c := &Conn{
		ws:       ws,
		cfg:      cfg,
		closing:  make(chan struct{}),
		readDone: make(chan struct{}),
		done:     make(chan struct{}),
		// Pings and the read deadline detect a dead network; an in-memory
		// pipe has none, and their tickers would cost more than the rest.
		keepalive: !isMem(ws.NetConn()),
	}
	c.mc, _ = ws.NetConn().(*memConn)
	c.extendEvery = extendInterval(cfg)
	c.writer = c.writeSome
	if c.mc != nil {
		c.reader = c.readSome
	}
	ws.SetReadLimit(hardLimitFactor * cfg.ReadLimit)
	c.extend()
	ws.SetPongHandler(func(string) error {
		c.extend()
		return nil
	})
	ws.SetPingHandler(func(data string) error {
		c.extend()
		// A failed pong is not the reader's problem: the writer or the
		// read deadline notices a dead connection.
		_ = ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(cfg.WriteWait))
		return nil
	})
	ws.SetCloseHandler(func(code int, text string) error {
		c.mu.Lock()
		c.peerClosed, c.peerCode, c.peerReason = true, code, text
		c.mu.Unlock()
		// Echo the close frame; when we sent ours first this fails with
		// ErrCloseSent, which is fine.
		_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, ""), time.Now().Add(cfg.WriteWait))
		return nil
	})
	if c.keepalive {
		c.qmu.Lock() // pingTick reads c.ping
		c.ping = time.AfterFunc(cfg.PingInterval, c.pingTick)
		c.qmu.Unlock()
	}
	return c
}

// pingTick runs on the ping timer: the writer sends a ping, and the timer
// is armed for the next one.
func (c *Conn) pingTick() {
	if isDone(c.closing) {
		return
	}
	c.pingDue.Store(true)
	c.kickWriter()
	c.qmu.Lock()
	if !isDone(c.closing) { // finish stops the timer under qmu, after closing
		c.ping.Reset(c.cfg.PingInterval)
	}
	c.qmu.Unlock()
}

// extend moves the read deadline: the peer has shown it is alive. It runs
// on the reader (and in NewConn, before there is one). Moving a deadline
// costs a timer update, so it moves only once the last move is a
// sixteenth of PongWait old (less when pings leave less room: see
// extendInterval): a quiet peer is given up between 15/16 of PongWait and
// PongWait after its last sign of life.
func (c *Conn) extend() {
	if !c.keepalive {
		return
	}
	now := time.Now()
	if now.Sub(c.extended) < c.extendEvery { // the zero time is long ago
		return
	}
	c.extended = now
	_ = c.ws.SetReadDeadline(now.Add(c.cfg.PongWait))
}

// Send encodes m and queues it for the writer without blocking. It returns
// the encoding error, ErrClosed once the connection is closing, or
// ErrSlowConsumer when the queue is full — the connection is then closed
// with ClosePolicyViolation ("send queue full") and queued messages dropped.
// Send is safe from any goroutine.
func (c *Conn) Send(m Message) error {
	select {
	case <-c.closing:
		return ErrClosed
	default:
	}
	bp, err := encodeMsg(m)
	if err != nil {
		return err
	}
	counted := c.link.Sent(c.peer())
	if c.enqueue(bp) {
		return nil
	}
	if counted {
		c.link.Unsent(c.peer())
	}
	putMsgBuf(bp)
	if c.begin(modeAbort, ClosePolicyViolation, "send queue full") {
		// Unblock a writer stuck on a peer that does not read. (A write
		// that starts just after sets its own deadline: WriteWait bounds
		// it; then the writer sees the end.)
		_ = c.ws.NetConn().SetWriteDeadline(time.Now())
	}
	return ErrSlowConsumer
}

// Read returns the next message. It is called by one goroutine only.
//
// A *ProtocolError means the peer sent something that is not a valid
// message (a binary frame, bad JSON, an unknown type...): answer it with
// err.Reply() and read on, unless err.Fatal is set (the message was larger
// than ReadLimit), in which case answer and Close with CloseMessageTooBig.
// Any other error is terminal: the connection has ended (peer's close frame,
// network failure, no sign of life within PongWait) and the error wraps
// ErrClosed; every later call returns it again.
func (c *Conn) Read() (Message, error) {
	if c.readErr != nil {
		return nil, c.readErr
	}
	typ, r, err := c.ws.NextReader()
	if err != nil {
		if errors.Is(err, websocket.ErrReadLimit) {
			c.linger()
		}
		return nil, c.readFailed(err)
	}
	c.extend()
	if typ != websocket.TextMessage {
		return nil, &ProtocolError{Reason: "binary frames are not part of the protocol; send JSON text frames"}
	}
	bp := getMsgBuf()
	defer putMsgBuf(bp)
	buf, over, err := readLimited(r, (*bp)[:0], c.cfg.ReadLimit)
	*bp = buf
	if err != nil {
		return nil, c.readFailed(err)
	}
	if over {
		return nil, &ProtocolError{
			Reason: fmt.Sprintf("message exceeds the read limit of %d bytes", c.cfg.ReadLimit),
			Fatal:  true,
		}
	}
	return Decode(buf)
}

// readLimited appends at most limit+1 bytes of r to buf; over reports that
// the message is larger than limit. The rest of the message stays unread
// (gorilla discards it on the next NextReader).
func readLimited(r io.Reader, buf []byte, limit int64) (_ []byte, over bool, _ error) {
	max := int(limit) + 1
	for {
		if len(buf) >= max {
			return buf, true, nil
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):min(cap(buf), max)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, len(buf) >= max, nil
		}
		if err != nil {
			return buf, false, err
		}
	}
}

// drainCap bounds how much of an oversized message linger reads and
// discards (at least this, or 4×16×ReadLimit when that is more).
const drainCap = 8 << 20

// linger runs on the reader when the WebSocket layer refused a message over
// its own limit: it has sent close 1009 and stopped reading, but the peer
// may still be writing that message. Closing the socket now would leave
// unread bytes behind, and the kernel would answer with a reset, which many
// peers report as 1006 without ever reading the close frame. So the socket
// stays open while linger reads and discards whatever the peer still sends,
// until the peer closes, CloseGrace ends (wall clock) or drainCap bytes
// have passed; then the caller ends the connection.
func (c *Conn) linger() {
	// The writer sends nothing more (the close frame is out) and waits for
	// the reader before it closes the socket.
	c.begin(modeLinger, 0, "")
	nc := c.ws.NetConn()
	_ = nc.SetReadDeadline(time.Now().Add(c.cfg.CloseGrace))
	budget := max(int64(drainCap), 4*hardLimitFactor*c.cfg.ReadLimit)
	buf := make([]byte, 32<<10) // rare: not worth a pool
	for budget > 0 {
		n, err := nc.Read(buf[:min(int64(len(buf)), budget)])
		budget -= int64(n)
		if err != nil {
			return
		}
	}
}

// readFailed records the reader's terminal error and ends the connection.
func (c *Conn) readFailed(err error) error {
	c.readErr = &closedError{[2]error{ErrClosed, err}}
	c.readDoneOnce.Do(func() { close(c.readDone) })
	c.begin(modeEnd, 0, "")
	return c.readErr
}

// extendInterval is how often extend moves the read deadline at most: a
// sixteenth of PongWait, but never more than half the room pings leave
// (PongWait − PingInterval), so that the pong to our next ping always
// moves the deadline before it passes.
func extendInterval(cfg Config) time.Duration {
	return min(cfg.PongWait/16, (cfg.PongWait-cfg.PingInterval)/2)
}

// closedError is the reader's terminal error: ErrClosed and why. Its text
// is only made when asked for: most connections end without anyone
// reading it.
type closedError struct{ errs [2]error } // ErrClosed, why

func (e *closedError) Error() string   { return ErrClosed.Error() + ": " + e.errs[1].Error() }
func (e *closedError) Unwrap() []error { return e.errs[:] }

// Close starts a clean close: the writer sends what is queued, then a close
// frame with code and reason, waits up to CloseGrace for the peer's close
// frame (which the Read loop observes) and closes the socket. Close returns
// at once; wait on Done. An invalid code is replaced by CloseNormal; reason
// is cut to 123 bytes. Only the first Close, Abort or failure counts: later
// calls return ErrClosed and change nothing. Safe from any goroutine.
func (c *Conn) Close(code int, reason string) error {
	if !validCloseCode(code) {
		code = CloseNormal
	}
	if !c.begin(modeHandshake, code, truncateReason(reason)) {
		return ErrClosed
	}
	return nil
}

// Abort closes the socket at once, without a close handshake, as a network
// failure would; queued messages are dropped. It is meant for fault
// injection and for giving up. It returns ErrClosed if the connection was
// already ending.
func (c *Conn) Abort() error {
	if !c.begin(modeEnd, 0, "") {
		return ErrClosed
	}
	// The writer closes the socket too; whoever is second gets an error
	// that means nothing here.
	_ = c.ws.Close()
	return nil
}

// Done is closed when the connection is fully closed: socket closed and the
// writer goroutine gone.
func (c *Conn) Done() <-chan struct{} { return c.done }

// CloseCode returns the close code and reason the peer sent, or
// CloseAbnormal and "" if no close frame came from it (yet). It is final
// once Done is closed.
func (c *Conn) CloseCode() (code int, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.peerClosed {
		return CloseAbnormal, ""
	}
	return c.peerCode, c.peerReason
}

// RemoteAddr returns the peer's network address.
func (c *Conn) RemoteAddr() net.Addr { return c.ws.RemoteAddr() }

// InMemory reports whether the connection runs over an in-memory pipe (see
// ListenMem) rather than a socket.
func (c *Conn) InMemory() bool { return c.mc != nil }

// begin starts ending the connection; only the first call takes effect and
// reports true.
func (c *Conn) begin(mode closeMode, code int, reason string) bool {
	started := false
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.mode, c.sendCode, c.sendReason = mode, code, reason
		c.mu.Unlock()
		close(c.closing)
		started = true
		// The peer will see the end and handle it: count that as a
		// message in flight.
		c.link.Sent(c.peer())
	})
	if !started {
		return false
	}
	if mode == modeEnd {
		c.endHere()
	} else {
		c.kickWriter()
	}
	return true
}

// endHere ends the connection on the calling goroutine unless a writer
// runs (which then sees the end and ends it): an end writes nothing and
// waits for nothing, so there is no need to wake a goroutine for it.
func (c *Conn) endHere() {
	if c.writing.CompareAndSwap(false, true) {
		c.writeSome()
	}
}

func validCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// truncateReason cuts reason to the 123 bytes a close frame has room for,
// on a UTF-8 boundary.
func truncateReason(reason string) string {
	const max = 123
	if len(reason) <= max {
		return reason
	}
	n := max
	for n > 0 && !utf8.RuneStart(reason[n]) {
		n--
	}
	return reason[:n]
}

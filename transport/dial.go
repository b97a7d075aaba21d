package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sinchsim/sinchsim/vclock"
)

// DialConfig configures Dial. The zero value dials with default connection
// settings.
type DialConfig struct {
	// Config applies to the connection.
	Config
	// TLSConfig is used for wss:// URLs; nil means the system defaults.
	TLSConfig *tls.Config
	// HandshakeTimeout bounds the opening handshake (default 10 s); ctx
	// bounds the whole of Dial as well.
	HandshakeTimeout time.Duration
	// Header is sent with the opening handshake (e.g. an Origin).
	Header http.Header
	// World, when set, is the dialler's virtual clock: if the server runs
	// on the same clock, the connection's messages are counted with it
	// (see WorldHeader).
	World *vclock.Clock
	// InMemory dials the in-memory listener registered under the URL's
	// host in this process (see ListenMem) instead of opening a socket:
	// the same handshake, framing and Conn, over an in-memory pipe. Dial
	// fails with ErrNoMemListener if there is none. Not for wss:// URLs.
	InMemory bool
}

// Dial connects to a protocol v1 server and reads its Welcome. rawURL may be
// "ws://host:port/path" or "wss://…" ("http" and "https" are taken as "ws"
// and "wss"), or a bare "host:port"; a URL without a path gets Path (see
// [URL]). ctx bounds the handshake and the wait for the Welcome. The server
// must accept Subprotocol and speak Protocol.
func Dial(ctx context.Context, rawURL string, cfg DialConfig) (_ *Conn, _ *Welcome, err error) {
	target, err := URL(rawURL)
	if err != nil {
		return nil, nil, err
	}
	st := &dialing{}
	d, err := dialer(cfg, target, st)
	if err != nil {
		return nil, nil, err
	}
	// A cancelled ctx ends the dial at any step: the WebSocket layer
	// bounds its opening handshake by a deadline only, which a cancelled
	// context does not move.
	stop := context.AfterFunc(ctx, st.abort)
	defer stop()
	header := cfg.Header
	var link *vclock.Link
	if cfg.World != nil {
		var id string
		id, link = cfg.World.Offer()
		defer cfg.World.Withdraw(id)
		// The server may claim the link and count its welcome: every
		// failure below releases what is in flight towards this end.
		defer func() {
			if err != nil {
				link.Closed(vclock.ToDialer)
			}
		}()
		header = header.Clone()
		if header == nil {
			header = http.Header{}
		}
		header.Set(WorldHeader, id)
	}
	ws, resp, err := d.DialContext(ctx, target, header)
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, fmt.Errorf("transport: dial %s: %w", target, ctx.Err())
		}
		if resp != nil {
			return nil, nil, fmt.Errorf("transport: dial %s: %w (HTTP %s)", target, err, resp.Status)
		}
		return nil, nil, fmt.Errorf("transport: dial %s: %w", target, err)
	}
	if ws.Subprotocol() != Subprotocol {
		_ = ws.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(CloseProtocolError, "subprotocol "+Subprotocol+" required"),
			time.Now().Add(time.Second))
		_ = ws.Close()
		return nil, nil, fmt.Errorf("transport: dial %s: server did not accept subprotocol %s", target, Subprotocol)
	}
	c := NewConn(ws, cfg.Config)
	if link != nil && resp != nil && resp.Header.Get(WorldHeader) == "1" {
		c.attach(link, vclock.ToDialer)
	}
	st.upgraded(c)
	m, err := c.Read()
	c.Handled()
	if ctx.Err() != nil {
		_ = c.Abort()
		<-c.Done()
		return nil, nil, fmt.Errorf("transport: dial %s: waiting for welcome: %w", target, ctx.Err())
	}
	if err != nil {
		c.shutdown(CloseProtocolError, "expected welcome")
		return nil, nil, fmt.Errorf("transport: dial %s: waiting for welcome: %w", target, err)
	}
	w, ok := m.(*Welcome)
	if !ok {
		c.shutdown(CloseProtocolError, "expected welcome")
		return nil, nil, fmt.Errorf("transport: dial %s: first message is %s, not welcome", target, m.MessageType())
	}
	if w.Protocol != Protocol {
		c.shutdown(CloseProtocolError, "unsupported protocol version")
		return nil, nil, fmt.Errorf("transport: dial %s: server speaks protocol %d, not %d", target, w.Protocol, Protocol)
	}
	return c, w, nil
}

// dialing is what a Dial has made so far, for abort.
type dialing struct {
	mu        sync.Mutex
	nc        net.Conn // the socket, once dialled
	c         *Conn    // the connection, once upgraded
	cancelled bool
}

// abort ends the dial: the connection if there is one, else the socket's
// handshake (a deadline in the past fails its reads and writes).
func (d *dialing) abort() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.cancelled = true
	switch {
	case d.c != nil:
		_ = d.c.Abort()
	case d.nc != nil:
		_ = d.nc.SetDeadline(time.Unix(1, 0))
	}
}

// dialled records the socket, and fails its handshake if the dial was
// cancelled meanwhile.
func (d *dialing) dialled(nc net.Conn) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.nc = nc
	if d.cancelled {
		_ = nc.SetDeadline(time.Unix(1, 0))
	}
}

// upgraded records the connection, and aborts it if the dial was
// cancelled meanwhile.
func (d *dialing) upgraded(c *Conn) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.c = c
	if d.cancelled {
		_ = c.Abort()
	}
}

// dialer returns the WebSocket dialer of cfg for target; its sockets are
// recorded in st.
func dialer(cfg DialConfig, target string, st *dialing) (*websocket.Dialer, error) {
	timeout := cfg.HandshakeTimeout
	if timeout <= 0 {
		timeout = DefaultHandshakeTimeout
	}
	d := &websocket.Dialer{
		HandshakeTimeout: timeout,
		TLSClientConfig:  cfg.TLSConfig,
		ReadBufferSize:   readBufferSize,
		WriteBufferSize:  writeBufferSize,
		WriteBufferPool:  &writeBufferPool,
		Subprotocols:     []string{Subprotocol},
	}
	dial := dialTCP
	switch {
	case cfg.InMemory:
		if strings.HasPrefix(target, "wss:") {
			return nil, fmt.Errorf("transport: dial %s: an in-memory connection has no TLS; use a ws:// URL", target)
		}
		dial = func(ctx context.Context, _, addr string) (net.Conn, error) { return dialMem(ctx, addr) }
		d.ReadBufferSize = memReadBufferSize
	case !strings.HasPrefix(target, "ws:"):
		dial = tcpDialer.DialContext // under TLS: nothing to hold back
	}
	d.NetDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := dial(ctx, network, addr)
		if err == nil {
			st.dialled(nc)
		}
		return nc, err
	}
	return d, nil
}

// Sockets of either end go without TCP keepalive: the connection's pings
// and PongWait find a dead peer, and the four socket options of keepalive
// are as many system calls per connection.
var (
	tcpDialer   = net.Dialer{KeepAlive: -1}
	tcpListener = net.ListenConfig{KeepAlive: -1}
)

// Listen listens on the TCP address addr for connections to upgrade
// (Upgrader), with the socket options Dial uses: no TCP keepalive.
func Listen(addr string) (net.Listener, error) {
	return tcpListener.Listen(context.Background(), "tcp", addr)
}

// dialTCP opens the socket of a ws:// connection, as the WebSocket layer
// would, wrapped in a handshakeConn.
func dialTCP(ctx context.Context, network, addr string) (net.Conn, error) {
	nc, err := tcpDialer.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &handshakeConn{Conn: nc, held: getMsgBuf()}, nil
}

// handshakeConn is a dialled socket that holds what is written to it
// until it is first read from: the opening handshake's request, which
// goes out in one write. Being a byte writer, it spares net/http the
// 4 KiB buffer it would make to write the request. After the first read
// it is the socket. (WriteString spares net/http a copy of each string.)
type handshakeConn struct {
	net.Conn
	held *[]byte // nil once sent
}

func (c *handshakeConn) Write(p []byte) (int, error) {
	if c.held == nil {
		return c.Conn.Write(p)
	}
	*c.held = append(*c.held, p...)
	return len(p), nil
}

func (c *handshakeConn) WriteString(s string) (int, error) {
	if c.held == nil {
		return c.Conn.Write([]byte(s))
	}
	*c.held = append(*c.held, s...)
	return len(s), nil
}

func (c *handshakeConn) WriteByte(b byte) error {
	_, err := c.Write([]byte{b})
	return err
}

func (c *handshakeConn) Read(p []byte) (int, error) {
	if bp := c.held; bp != nil {
		c.held = nil
		_, err := c.Conn.Write(*bp)
		putMsgBuf(bp)
		if err != nil {
			return 0, err
		}
	}
	return c.Conn.Read(p)
}

// shutdown closes cleanly and synchronously: Close, read until the end, wait
// for Done. For use by the goroutine that would otherwise read.
func (c *Conn) shutdown(code int, reason string) {
	_ = c.Close(code, reason)
	for {
		var pe *ProtocolError
		_, err := c.Read()
		if err != nil && !errors.As(err, &pe) {
			break
		}
		c.Handled()
	}
	c.Handled()
	<-c.Done()
}

// URL normalises the forms Dial accepts to the ws:// or wss:// URL it
// dials: "ws://host:port/path" and "wss://…" are kept, "http" and "https"
// become "ws" and "wss", a bare "host:port" (or "host") gets "ws://", and a
// URL without a path gets Path. An explicit path, "/" included, is kept.
func URL(raw string) (string, error) {
	if p := lastURL.Load(); p != nil && p.raw == raw {
		return p.url, nil
	}
	u, err := normalizeURL(raw)
	if err == nil {
		lastURL.Store(&urlMemo{raw, u})
	}
	return u, err
}

// lastURL is URL's last answer: the clients of a fleet, each of which
// normalises its URL when it is made and again when it dials, all have
// the same one.
var lastURL atomic.Pointer[urlMemo]

type urlMemo struct{ raw, url string }

func normalizeURL(raw string) (string, error) {
	s := raw
	if !strings.Contains(s, "://") {
		s = "ws://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("transport: invalid URL %q: %w", raw, err)
	}
	switch u.Scheme {
	case "ws", "wss":
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("transport: invalid URL %q: scheme must be ws or wss", raw)
	}
	if u.Host == "" {
		return "", fmt.Errorf("transport: invalid URL %q: no host", raw)
	}
	if u.Path == "" {
		u.Path = Path
	}
	return u.String(), nil
}

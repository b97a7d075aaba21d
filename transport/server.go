package transport

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sinchsim/sinchsim/vclock"
)

// Path is the HTTP path of the protocol v1 WebSocket endpoint.
const Path = "/ws/v1"

// Subprotocol is the WebSocket subprotocol of protocol v1. Dial offers it
// and requires it back; the Upgrader accepts it (and also clients that offer
// no subprotocol at all).
const Subprotocol = "sinchsim.v1"

// DefaultHandshakeTimeout bounds the opening handshake when the config gives
// none.
const DefaultHandshakeTimeout = 10 * time.Second

// UpgradeConfig configures an Upgrader. The zero value is a strict origin
// check with default connection settings.
type UpgradeConfig struct {
	// Config applies to every accepted connection.
	Config
	// AllowedOrigins lists extra browser origins to accept, as
	// "scheme://host[:port]" (compared case-insensitively). An origin equal
	// to the request's own host is accepted without listing when that host
	// is an IP address or localhost; DNS names must be listed (a rebound
	// name would otherwise pass).
	AllowedOrigins []string
	// AllowAnyOrigin switches the origin check off.
	AllowAnyOrigin bool
	// HandshakeTimeout bounds the opening handshake (default 10 s).
	HandshakeTimeout time.Duration
	// World, when set, is the server's virtual clock: a dialler on the same
	// clock has its connection's messages counted with it (WorldHeader).
	World *vclock.Clock
}

// Upgrader turns HTTP requests into protocol v1 connections on the server
// side. It is safe for concurrent use.
type Upgrader struct {
	up      websocket.Upgrader
	memUp   websocket.Upgrader // for connections over an in-memory pipe
	cfg     Config
	any     bool
	allowed map[string]bool
	world   *vclock.Clock
}

// NewUpgrader returns an Upgrader with a strict origin check: a request
// without an Origin header (any non-browser client) is accepted; one with an
// Origin header is accepted only if the origin is http(s) on the request's
// own Host and that Host is an IP address or localhost, or is listed in
// AllowedOrigins, unless AllowAnyOrigin is set.
func NewUpgrader(cfg UpgradeConfig) *Upgrader {
	u := &Upgrader{cfg: cfg.Config.withDefaults(), any: cfg.AllowAnyOrigin, allowed: map[string]bool{}, world: cfg.World}
	for _, o := range cfg.AllowedOrigins {
		u.allowed[normalizeOrigin(o)] = true
	}
	timeout := cfg.HandshakeTimeout
	if timeout <= 0 {
		timeout = DefaultHandshakeTimeout
	}
	u.up = websocket.Upgrader{
		HandshakeTimeout: timeout,
		ReadBufferSize:   readBufferSize,
		WriteBufferSize:  writeBufferSize,
		WriteBufferPool:  &writeBufferPool,
		Subprotocols:     []string{Subprotocol},
		CheckOrigin:      u.checkOrigin,
	}
	u.memUp = u.up
	u.memUp.ReadBufferSize = memReadBufferSize
	return u
}

// Upgrade performs the WebSocket handshake and returns the connection. On
// failure (not a WebSocket request, origin refused...) it has already
// answered the HTTP request with an error status and returns the error.
// The server sends its Welcome next.
func (u *Upgrader) Upgrade(w http.ResponseWriter, r *http.Request) (*Conn, error) {
	return u.UpgradeWith(w, r, nil, nil)
}

// UpgradeWith is Upgrade with the server's first message, first, sent
// before anything else on the connection; over a socket it goes out in
// the same write as the handshake's answer, so that a client reads the two
// together, with one wake-up and one read where there would be two.
//
// ready, when not nil, is called with the connection once it is upgraded
// and before first (or anything) is sent: what the peer may do once it
// has first, such as find its session in the server's tables, is in place
// by then. Whatever is sent on the connection from inside ready, or from
// elsewhere meanwhile, goes out after first.
//
// An error encoding first is returned before the upgrade (the request is
// answered with 500). A failed write of first ends the connection, as any
// failed write does; the reader sees the end.
func (u *Upgrader) UpgradeWith(w http.ResponseWriter, r *http.Request, first Message, ready func(*Conn)) (*Conn, error) {
	var bp *[]byte
	if first != nil {
		var err error
		if bp, err = encodeMsg(first); err != nil {
			http.Error(w, "the server could not encode its first message", http.StatusInternalServerError)
			return nil, err
		}
	}
	c, err := u.upgrade(w, r, bp != nil)
	if err != nil {
		if bp != nil {
			putMsgBuf(bp)
		}
		return nil, err
	}
	c.writing.Store(true) // no writer until first is out
	if ready != nil {
		ready(c)
	}
	c.writeFirst(bp)
	return c, nil
}

// upgrade is UpgradeWith's handshake. With corked set, a socket's answer
// is held back for the first write after it. It keeps its frame small: it
// runs at the bottom of net/http's stack, where a deeper stack would have
// to be copied to grow on every connection.
func (u *Upgrader) upgrade(w http.ResponseWriter, r *http.Request, corked bool) (*Conn, error) {
	var link *vclock.Link
	var header http.Header
	if id := r.Header.Get(WorldHeader); id != "" && u.world != nil {
		if link = u.world.Claim(id); link != nil {
			header = http.Header{WorldHeader: {"1"}}
		}
	}
	up := &u.up
	if _, mem := r.Context().Value(http.LocalAddrContextKey).(memAddr); mem {
		up = &u.memUp
	} else if corked {
		w = &corkedResponse{ResponseWriter: w}
	}
	ws, err := up.Upgrade(w, r, header)
	if err != nil {
		return nil, err
	}
	c := NewConn(ws, u.cfg)
	if link != nil {
		c.attach(link, vclock.ToAcceptor)
	}
	return c, nil
}

// writeFirst writes bp (if any) while the writer is held (c.writing set
// by UpgradeWith), then lets the writer have what was sent meanwhile.
func (c *Conn) writeFirst(bp *[]byte) {
	if bp != nil {
		c.link.Sent(c.peer())
	}
	c.writeHeld(bp)
}

// corkedResponse hands the WebSocket layer a hijacked connection that
// holds back its first write (the handshake's answer) until the second.
type corkedResponse struct {
	http.ResponseWriter
}

func (cr *corkedResponse) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := cr.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("transport: the response cannot be hijacked")
	}
	nc, brw, err := h.Hijack()
	if err != nil {
		return nil, nil, err
	}
	return &corkConn{Conn: nc, corked: true}, brw, nil
}

// corkConn is a net.Conn whose first Write is held and sent together with
// the second, as one write (one system call, and over TLS one record).
// Only the goroutine that upgrades writes while it is corked.
type corkConn struct {
	net.Conn
	corked bool
	held   []byte
}

func (c *corkConn) Write(p []byte) (int, error) {
	switch {
	case !c.corked:
		return c.Conn.Write(p)
	case c.held == nil:
		// Room for a welcome frame too.
		c.held = append(make([]byte, 0, len(p)+256), p...)
		return len(p), nil
	}
	held := len(c.held)
	buf := append(c.held, p...)
	c.corked, c.held = false, nil
	n, err := c.Conn.Write(buf)
	return max(n-held, 0), err
}

func (u *Upgrader) checkOrigin(r *http.Request) bool {
	origins := r.Header["Origin"]
	if len(origins) == 0 || u.any {
		return true
	}
	if len(origins) != 1 {
		return false
	}
	origin := origins[0]
	if u.allowed[normalizeOrigin(origin)] {
		return true
	}
	o, err := url.Parse(origin)
	if err != nil || (o.Scheme != "http" && o.Scheme != "https") ||
		o.User != nil || o.Opaque != "" || (o.Path != "" && o.Path != "/") || o.RawQuery != "" || o.Fragment != "" {
		return false
	}
	if o.Host == "" || !strings.EqualFold(o.Host, r.Host) {
		return false
	}
	// Same origin is only trusted for an IP literal or localhost: a page
	// on a DNS name that an attacker rebinds to this server would have an
	// Origin equal to its Host too. DNS names must be listed in
	// AllowedOrigins.
	host := o.Hostname()
	return host == "localhost" || net.ParseIP(host) != nil
}

func normalizeOrigin(o string) string {
	return strings.ToLower(strings.TrimSuffix(strings.TrimSpace(o), "/"))
}

package transport

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// failAfter bounds every wait in these tests; it is a failure deadline, never
// a way to synchronise.
const failAfter = 5 * time.Second

// serve starts a loopback server at Path whose handler upgrades and passes
// the connection to fn, then waits until the connection is fully closed.
// It returns the ws:// URL.
func serve(t *testing.T, cfg UpgradeConfig, fn func(c *Conn)) string {
	t.Helper()
	up := NewUpgrader(cfg)
	mux := http.NewServeMux()
	mux.HandleFunc(Path, func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r)
		if err != nil {
			return
		}
		fn(c)
		<-c.Done()
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http") + Path
}

func welcome() *Welcome {
	return &Welcome{Protocol: Protocol, Challenge: NewChallenge(), ServerTime: time.Now()}
}

// drain reads until the connection ends and returns the terminal error.
func drain(c *Conn) error {
	for {
		var pe *ProtocolError
		if _, err := c.Read(); err != nil && !errors.As(err, &pe) {
			return err
		}
	}
}

func waitDone(t *testing.T, c *Conn) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(failAfter):
		t.Fatal("connection did not close")
	}
}

// rawDial opens a bare gorilla connection offering the subprotocol.
func rawDial(t *testing.T, url string, header http.Header) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{Subprotocol}}
	ws, _, err := d.Dial(url, header)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	return ws
}

// rawRead reads one text message from a bare connection and decodes it.
func rawRead(t *testing.T, ws *websocket.Conn) Message {
	t.Helper()
	ws.SetReadDeadline(time.Now().Add(failAfter))
	typ, data, err := ws.ReadMessage()
	if err != nil {
		t.Fatalf("raw read: %v", err)
	}
	if typ != websocket.TextMessage {
		t.Fatalf("raw read: frame type %d", typ)
	}
	m, err := Decode(data)
	if err != nil {
		t.Fatalf("raw read: %v", err)
	}
	return m
}

// rawCloseCode reads until the bare connection's close frame and returns it.
func rawCloseCode(t *testing.T, ws *websocket.Conn) (int, string) {
	t.Helper()
	ws.SetReadDeadline(time.Now().Add(failAfter))
	for {
		_, _, err := ws.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code, ce.Text
		}
		if err != nil {
			t.Fatalf("raw read ended without a close frame: %v", err)
		}
	}
}

func TestConnExchange(t *testing.T) {
	serverErr := make(chan error, 1)
	var server *Conn
	url := serve(t, UpgradeConfig{}, func(c *Conn) {
		server = c
		_ = c.Send(welcome())
		for {
			m, err := c.Read()
			if err != nil {
				serverErr <- err
				return
			}
			req := m.(*CreateInstance)
			_ = c.Send(&InstanceCreated{ID: req.ID, Instance: Instance{ID: "inst-1", Secret: NewInstanceSecret(),
				DeviceID: req.DeviceID, Capabilities: req.Capabilities}})
		}
	})
	c, w, err := Dial(t.Context(), url, DialConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if w.Protocol != Protocol || len(w.Challenge) != 43 {
		t.Errorf("welcome = %+v", w)
	}
	for i := range 3 {
		id := NewID("req-")
		if err := c.Send(&CreateInstance{ID: id, ApplicationKey: "app", UserID: "alice", DeviceID: "dev",
			Capabilities: []string{"calling"}, SDKVersion: "1", JWT: testJWT}); err != nil {
			t.Fatal(err)
		}
		m, err := c.Read()
		if err != nil {
			t.Fatal(err)
		}
		got, ok := m.(*InstanceCreated)
		if !ok || got.ID != id || got.Instance.DeviceID != "dev" {
			t.Fatalf("reply %d = %#v", i, m)
		}
	}
	if c.RemoteAddr() == nil {
		t.Error("no remote address")
	}
	// Client-initiated close: the server sees the code and reason.
	if err := c.Close(CloseNormal, "bye"); err != nil {
		t.Fatal(err)
	}
	if err := drain(c); !errors.Is(err, ErrClosed) {
		t.Errorf("client terminal error = %v, want ErrClosed", err)
	}
	waitDone(t, c)
	err = <-serverErr
	if !errors.Is(err, ErrClosed) {
		t.Errorf("server terminal error = %v", err)
	}
	if code, reason := server.CloseCode(); code != CloseNormal || reason != "bye" {
		t.Errorf("server saw close %d %q, want 1000 \"bye\"", code, reason)
	}
	if code, _ := c.CloseCode(); code != CloseNormal {
		t.Errorf("client saw echo %d, want 1000", code)
	}
	if err := c.Send(&UnregisterPushToken{ID: "r"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after close = %v", err)
	}
}

func TestServerInitiatedClose(t *testing.T) {
	var server *Conn
	serverDone := make(chan struct{})
	url := serve(t, UpgradeConfig{}, func(c *Conn) {
		server = c
		_ = c.Send(welcome())
		_ = c.Send(&InstanceRevoked{InstanceID: "i", Code: CodeInstanceExpired, Message: "TTL ran out"})
		_ = c.Close(CloseGoingAway, "server shutting down")
		_ = drain(c)
		close(serverDone)
	})
	c, _, err := Dial(t.Context(), url, DialConfig{})
	if err != nil {
		t.Fatal(err)
	}
	// Queued messages are flushed before the close frame.
	m, err := c.Read()
	if r, ok := m.(*InstanceRevoked); err != nil || !ok || r.Code != CodeInstanceExpired {
		t.Fatalf("Read = %#v, %v", m, err)
	}
	err = drain(c)
	var ce *websocket.CloseError
	if !errors.Is(err, ErrClosed) || !errors.As(err, &ce) || ce.Code != CloseGoingAway {
		t.Errorf("terminal error = %v", err)
	}
	waitDone(t, c)
	if code, reason := c.CloseCode(); code != CloseGoingAway || reason != "server shutting down" {
		t.Errorf("client saw close %d %q", code, reason)
	}
	<-serverDone
	waitDone(t, server)
	if code, _ := server.CloseCode(); code != CloseGoingAway {
		t.Errorf("server saw echo %d", code)
	}
}

func TestBinaryFrameKeepsConnection(t *testing.T) {
	url := serve(t, UpgradeConfig{}, func(c *Conn) {
		for {
			m, err := c.Read()
			var pe *ProtocolError
			if errors.As(err, &pe) {
				if pe.Fatal {
					t.Error("binary frame reported as fatal")
				}
				_ = c.Send(pe.Reply())
				continue
			}
			if err != nil {
				return
			}
			_ = c.Send(&PushTokenUnregistered{ID: m.(*UnregisterPushToken).ID, InstanceID: "i"})
		}
	})
	ws := rawDial(t, url, nil)
	if err := ws.WriteMessage(websocket.BinaryMessage, []byte(`{"type":"unregisterPushToken","id":"r1"}`)); err != nil {
		t.Fatal(err)
	}
	if e, ok := rawRead(t, ws).(*ErrorMessage); !ok || e.Error.Code != CodeProtocolError || !strings.Contains(e.Error.Message, "binary") {
		t.Fatalf("reply to a binary frame = %#v", e)
	}
	// Malformed JSON: answered, with the id when it can be read.
	ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"unregisterPushToken","id":"r2","x":1}`))
	if e, ok := rawRead(t, ws).(*ErrorMessage); !ok || e.ID != "r2" || e.Error.Code != CodeProtocolError {
		t.Fatalf("reply to an unknown member = %#v", e)
	}
	// Still usable.
	ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"unregisterPushToken","id":"r3"}`))
	if r, ok := rawRead(t, ws).(*PushTokenUnregistered); !ok || r.ID != "r3" {
		t.Fatalf("reply = %#v", r)
	}
	ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(CloseNormal, ""))
	if code, _ := rawCloseCode(t, ws); code != CloseNormal {
		t.Errorf("echo code %d", code)
	}
}

func TestOversizedMessage(t *testing.T) {
	const limit = 1024
	results := make(chan error, 2)
	url := serve(t, UpgradeConfig{Config: Config{ReadLimit: limit}}, func(c *Conn) {
		_, err := c.Read()
		results <- err
		var pe *ProtocolError
		if errors.As(err, &pe) && pe.Fatal {
			_ = c.Send(pe.Reply())
			_ = c.Close(CloseMessageTooBig, "message too big")
		}
		results <- drain(c)
	})

	t.Run("over ReadLimit is answered, then closed with 1009", func(t *testing.T) {
		ws := rawDial(t, url, nil)
		big := `{"type":"updateInstanceTtl","id":"r1","jwt":"` + strings.Repeat("x", 4*limit) + `"}`
		if err := ws.WriteMessage(websocket.TextMessage, []byte(big)); err != nil {
			t.Fatal(err)
		}
		var pe *ProtocolError
		if err := <-results; !errors.As(err, &pe) || !pe.Fatal || !strings.Contains(pe.Reason, "1024") {
			t.Fatalf("Read = %v, want a fatal ProtocolError", err)
		}
		if e, ok := rawRead(t, ws).(*ErrorMessage); !ok || e.Error.Code != CodeProtocolError {
			t.Fatalf("reply = %#v", e)
		}
		if code, _ := rawCloseCode(t, ws); code != CloseMessageTooBig {
			t.Errorf("close code %d, want 1009", code)
		}
		ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(CloseMessageTooBig, ""))
		if err := <-results; !errors.Is(err, ErrClosed) {
			t.Errorf("terminal error = %v", err)
		}
	})

	t.Run("over the hard cap is closed by the WebSocket layer", func(t *testing.T) {
		// One frame, so that its header already shows the size.
		d := websocket.Dialer{Subprotocols: []string{Subprotocol}, WriteBufferSize: 64 << 10}
		ws, _, err := d.Dial(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		huge := strings.Repeat("x", hardLimitFactor*limit+1)
		if err := ws.WriteMessage(websocket.TextMessage, []byte(huge)); err != nil {
			t.Fatal(err)
		}
		if code, _ := rawCloseCode(t, ws); code != CloseMessageTooBig {
			t.Errorf("close code %d, want 1009", code)
		}
		// Read returns once the peer has gone (or after CloseGrace): it
		// drains what the peer still sends first.
		ws.Close()
		err = <-results
		if !errors.Is(err, ErrClosed) || !errors.Is(err, websocket.ErrReadLimit) {
			t.Fatalf("Read = %v, want a terminal read-limit error", err)
		}
		<-results
	})
}

func TestSlowConsumer(t *testing.T) {
	var server *Conn
	sendErr := make(chan error, 1)
	url := serve(t, UpgradeConfig{Config: Config{SendQueue: 2, WriteWait: 2 * time.Second}}, func(c *Conn) {
		server = c
		go func() {
			// The peer never reads; messages big enough to fill the socket
			// buffers quickly.
			m := &ErrorMessage{Error: Error{Code: CodeUnavailable, Domain: DomainNetwork, Message: strings.Repeat("x", 32<<10)}}
			var err error
			for range 100_000 {
				if err = c.Send(m); err != nil {
					break
				}
			}
			sendErr <- err
		}()
		_ = drain(c)
	})
	ws := rawDial(t, url, nil) // never reads
	select {
	case err := <-sendErr:
		if !errors.Is(err, ErrSlowConsumer) {
			t.Fatalf("Send = %v, want ErrSlowConsumer", err)
		}
	case <-time.After(failAfter):
		t.Fatal("Send never reported a slow consumer")
	}
	waitDone(t, server)
	if err := server.Send(&UnregisterPushToken{ID: "r"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after slow consumer = %v", err)
	}
	_ = ws
}

func TestOriginCheck(t *testing.T) {
	tests := []struct {
		name   string
		cfg    UpgradeConfig
		origin string // "" sends none; "HOST" is replaced by the server's host
		ok     bool
	}{
		{"no origin", UpgradeConfig{}, "", true},
		{"same host http", UpgradeConfig{}, "http://HOST", true},
		{"same host https", UpgradeConfig{}, "https://HOST", true},
		{"same host upper case", UpgradeConfig{}, "HTTP://HOST", true},
		{"other host", UpgradeConfig{}, "http://evil.example", false},
		{"other port", UpgradeConfig{}, "http://127.0.0.1:1", false},
		{"null origin", UpgradeConfig{}, "null", false},
		{"ws scheme", UpgradeConfig{}, "ws://HOST", false},
		{"with path", UpgradeConfig{}, "http://HOST/app", false},
		{"listed", UpgradeConfig{AllowedOrigins: []string{"https://app.example/"}}, "https://APP.example", true},
		{"not listed", UpgradeConfig{AllowedOrigins: []string{"https://app.example"}}, "https://other.example", false},
		{"any origin", UpgradeConfig{AllowAnyOrigin: true}, "http://evil.example", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := serve(t, tt.cfg, func(c *Conn) {
				_ = c.Send(welcome())
				_ = drain(c)
			})
			host := strings.TrimPrefix(strings.TrimSuffix(url, Path), "ws://")
			h := http.Header{}
			if tt.origin != "" {
				h.Set("Origin", strings.Replace(tt.origin, "HOST", host, 1))
			}
			c, _, err := Dial(t.Context(), url, DialConfig{Header: h})
			if tt.ok != (err == nil) {
				t.Fatalf("Dial with Origin %q: err = %v, want ok=%v", h.Get("Origin"), err, tt.ok)
			}
			if err != nil {
				if !strings.Contains(err.Error(), "403") {
					t.Errorf("refusal does not say 403: %v", err)
				}
				return
			}
			c.shutdown(CloseNormal, "")
		})
	}
}

func TestDialURLForms(t *testing.T) {
	tests := []struct{ in, want string }{
		{"127.0.0.1:8080", "ws://127.0.0.1:8080/ws/v1"},
		{"localhost:8080/custom", "ws://localhost:8080/custom"},
		{"ws://example.com", "ws://example.com/ws/v1"},
		{"wss://example.com:443/", "wss://example.com:443/"},
		{"ws://example.com/ws/v1?x=1", "ws://example.com/ws/v1?x=1"},
		{"http://127.0.0.1:1", "ws://127.0.0.1:1/ws/v1"},
		{"https://example.com", "wss://example.com/ws/v1"},
	}
	for _, tt := range tests {
		got, err := URL(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("URL(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
		if again, err := URL(got); err != nil || again != got {
			t.Errorf("URL(%q) = %q, %v; want it unchanged", got, again, err)
		}
	}
	for _, bad := range []string{"ftp://example.com", "ws://", "", "ws://exa mple.com"} {
		if got, err := URL(bad); err == nil {
			t.Errorf("URL(%q) = %q, want an error", bad, got)
		}
	}

	url := serve(t, UpgradeConfig{}, func(c *Conn) {
		_ = c.Send(welcome())
		_ = drain(c)
	})
	hostPort := strings.TrimPrefix(strings.TrimSuffix(url, Path), "ws://")
	for _, form := range []string{hostPort, "ws://" + hostPort, "ws://" + hostPort + Path, "http://" + hostPort} {
		c, w, err := Dial(t.Context(), form, DialConfig{})
		if err != nil {
			t.Errorf("Dial(%q): %v", form, err)
			continue
		}
		if w.Protocol != Protocol {
			t.Errorf("Dial(%q): welcome %+v", form, w)
		}
		c.shutdown(CloseNormal, "")
	}
	if _, _, err := Dial(t.Context(), "ws://"+hostPort+"/elsewhere", DialConfig{}); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("Dial to a wrong path: %v", err)
	}
}

func TestDialRefusesBadServers(t *testing.T) {
	t.Run("first message not welcome", func(t *testing.T) {
		url := serve(t, UpgradeConfig{}, func(c *Conn) {
			_ = c.Send(&UnregisterPushToken{ID: "r"})
			_ = drain(c)
		})
		if _, _, err := Dial(t.Context(), url, DialConfig{}); err == nil || !strings.Contains(err.Error(), "not welcome") {
			t.Errorf("Dial = %v", err)
		}
	})
	t.Run("other protocol version", func(t *testing.T) {
		url := serve(t, UpgradeConfig{}, func(c *Conn) {
			_ = c.Send(&Welcome{Protocol: 2, Challenge: "c", ServerTime: time.Now()})
			_ = drain(c)
		})
		if _, _, err := Dial(t.Context(), url, DialConfig{}); err == nil || !strings.Contains(err.Error(), "protocol 2") {
			t.Errorf("Dial = %v", err)
		}
	})
	t.Run("no welcome before the deadline", func(t *testing.T) {
		url := serve(t, UpgradeConfig{}, func(c *Conn) { _ = drain(c) })
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()
		if _, _, err := Dial(ctx, url, DialConfig{}); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Dial = %v, want DeadlineExceeded", err)
		}
	})
	t.Run("no subprotocol", func(t *testing.T) {
		var up websocket.Upgrader
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ws, err := up.Upgrade(w, r, nil)
			if err != nil {
				return
			}
			ws.ReadMessage()
			ws.Close()
		}))
		defer srv.Close()
		if _, _, err := Dial(t.Context(), srv.URL, DialConfig{}); err == nil || !strings.Contains(err.Error(), "subprotocol") {
			t.Errorf("Dial = %v", err)
		}
	})
	t.Run("nothing listening", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		if _, _, err := Dial(t.Context(), addr, DialConfig{}); err == nil {
			t.Error("Dial to a closed port succeeded")
		}
	})
}

func TestCloseIdempotentAndConcurrent(t *testing.T) {
	url := serve(t, UpgradeConfig{}, func(c *Conn) {
		_ = c.Send(welcome())
		_ = drain(c)
	})
	c, _, err := Dial(t.Context(), url, DialConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			switch i % 3 {
			case 0:
				err = c.Close(CloseNormal, "bye")
			case 1:
				err = c.Close(4000+i, "other")
			default:
				_ = c.Send(&UnregisterPushToken{ID: "r"})
				err = c.Close(0, "invalid code") // replaced by 1000
			}
			if err == nil {
				wins.Add(1)
			} else if !errors.Is(err, ErrClosed) {
				t.Errorf("Close = %v", err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Errorf("%d Close calls took effect, want 1", wins.Load())
	}
	_ = drain(c)
	waitDone(t, c)
	if err := c.Close(CloseNormal, ""); !errors.Is(err, ErrClosed) {
		t.Errorf("Close after Done = %v", err)
	}
	if err := c.Abort(); !errors.Is(err, ErrClosed) {
		t.Errorf("Abort after Done = %v", err)
	}
	// Reading a finished connection keeps returning the same error (gorilla
	// would panic after 1000 reads of a failed connection).
	first := drain(c)
	for range 1500 {
		if _, err := c.Read(); err != first {
			t.Fatalf("Read = %v, want %v", err, first)
		}
	}
}

func TestAbort(t *testing.T) {
	serverErr := make(chan error, 1)
	var server *Conn
	url := serve(t, UpgradeConfig{}, func(c *Conn) {
		server = c
		_ = c.Send(welcome())
		serverErr <- drain(c)
	})
	c, _, err := Dial(t.Context(), url, DialConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Abort(); err != nil {
		t.Fatal(err)
	}
	waitDone(t, c)
	if err := <-serverErr; !errors.Is(err, ErrClosed) {
		t.Errorf("server terminal error = %v", err)
	}
	waitDone(t, server)
	if code, _ := server.CloseCode(); code != CloseAbnormal {
		t.Errorf("server saw close %d, want 1006", code)
	}
}

func TestKeepaliveDetectsDeadPeer(t *testing.T) {
	serverErr := make(chan error, 1)
	var server *Conn
	// A ping every 20 ms and a second of silence allowed: however loaded
	// the machine, pings go out long before the peer is given up on.
	url := serve(t, UpgradeConfig{Config: Config{PingInterval: 20 * time.Millisecond, PongWait: time.Second}}, func(c *Conn) {
		server = c
		serverErr <- drain(c)
	})
	ws := rawDial(t, url, nil)
	var pings atomic.Int32
	ws.SetPingHandler(func(string) error { pings.Add(1); return nil }) // never answers
	go func() {
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
	}()
	select {
	case err := <-serverErr:
		var ne net.Error
		if !errors.Is(err, ErrClosed) || !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("server terminal error = %v, want a timeout", err)
		}
	case <-time.After(failAfter):
		t.Fatal("a peer that does not answer pings was not detected")
	}
	waitDone(t, server)
	if pings.Load() == 0 {
		t.Error("the server never pinged")
	}
}

func TestKeepaliveKeepsLivePeer(t *testing.T) {
	// Generous margins: other test binaries may load the machine.
	const interval, wait = 25 * time.Millisecond, 500 * time.Millisecond
	serverErr := make(chan error, 1)
	servers := make(chan *Conn, 1)
	url := serve(t, UpgradeConfig{Config: Config{PingInterval: interval, PongWait: wait}}, func(c *Conn) {
		servers <- c
		serverErr <- drain(c)
	})
	ws := rawDial(t, url, nil)
	enough := make(chan struct{})
	var pings atomic.Int32
	ws.SetPingHandler(func(data string) error {
		// Pongs keep the server's read deadline moving: thirty pings span
		// 750 ms, well past PongWait, with no other traffic.
		if pings.Add(1) == 30 {
			close(enough)
		}
		return ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	go func() {
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
	}()
	select {
	case <-enough:
	case err := <-serverErr:
		t.Fatalf("server gave up on a live peer: %v", err)
	case <-time.After(failAfter):
		t.Fatal("too few pings")
	}
	server := <-servers
	select {
	case <-server.Done():
		t.Fatal("server closed a live connection")
	default:
	}
	_ = server.Close(CloseNormal, "")
	<-serverErr
	waitDone(t, server)
}

func TestConnPingPongBothConns(t *testing.T) {
	// Two Conns with short keepalive settings stay up on pings alone.
	cfg := Config{PingInterval: 25 * time.Millisecond, PongWait: 400 * time.Millisecond}
	serverErr := make(chan error, 1)
	url := serve(t, UpgradeConfig{Config: cfg}, func(c *Conn) {
		_ = c.Send(welcome())
		serverErr <- drain(c)
	})
	c, _, err := Dial(t.Context(), url, DialConfig{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	readErr := make(chan error, 1)
	go func() { readErr <- drain(c) }()
	// Observe for one and a half PongWaits; a timeout would end a read.
	select {
	case err := <-readErr:
		t.Fatalf("client connection ended: %v", err)
	case err := <-serverErr:
		t.Fatalf("server connection ended: %v", err)
	case <-time.After(3 * cfg.PongWait / 2):
	}
	_ = c.Close(CloseNormal, "")
	<-readErr
	<-serverErr
	waitDone(t, c)
}

func TestNoGoroutineLeak(t *testing.T) {
	var servers sync.WaitGroup
	url := serve(t, UpgradeConfig{}, func(c *Conn) {
		servers.Add(1)
		defer servers.Done()
		_ = c.Send(welcome())
		for {
			m, err := c.Read()
			if err != nil {
				return
			}
			_ = c.Send(&PushTokenUnregistered{ID: m.(Request).RequestID(), InstanceID: "i"})
		}
	})
	ignore := goleak.IgnoreCurrent() // after the server's own goroutines
	var conns []*Conn
	for range 20 {
		c, _, err := Dial(t.Context(), url, DialConfig{})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Send(&UnregisterPushToken{ID: "r"}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Read(); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	for i, c := range conns {
		if i%2 == 0 {
			_ = c.Close(CloseNormal, "")
		} else {
			_ = c.Abort()
		}
		_ = drain(c)
		waitDone(t, c)
	}
	servers.Wait()
	goleak.VerifyNone(t, ignore)
}

func TestConfigDefaults(t *testing.T) {
	got := Config{}.withDefaults()
	want := Config{ReadLimit: 64 << 10, PingInterval: 20 * time.Second, PongWait: 60 * time.Second,
		WriteWait: 10 * time.Second, SendQueue: 64, CloseGrace: 2 * time.Second}
	if got != want {
		t.Errorf("defaults = %+v, want %+v", got, want)
	}
	if got := (Config{PongWait: time.Second}).withDefaults(); got.PingInterval != 500*time.Millisecond {
		t.Errorf("PingInterval not clamped below PongWait: %v", got.PingInterval)
	}
	if got := (Config{ReadLimit: 10, SendQueue: 1}).withDefaults(); got.ReadLimit != 10 || got.SendQueue != 1 {
		t.Errorf("explicit values changed: %+v", got)
	}
}

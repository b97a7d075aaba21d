package fakebackend

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/sinchsim/sinchsim/transport"
)

// rawHTTP opens a TCP connection to s, writes req and returns the answer's
// status and whether the server then closed the connection (rather than
// keep it for another request).
func rawHTTP(t *testing.T, s *Server, req string) (status int, closed bool) {
	t.Helper()
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(wireTimeout))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the answer to %q: %v", req, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	// The end of the connection: EOF, or a reset where the server closed
	// with bytes of the request unread (a head over the limit).
	_, err = br.ReadByte()
	ne, timeout := err.(net.Error)
	return resp.StatusCode, err != nil && !(timeout && ne.Timeout())
}

func newAcceptServer(t *testing.T) *Server {
	t.Helper()
	s, err := NewServer(Config{Applications: []Application{NewApplication()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// The WebSocket endpoint's first requests are read by the server's own
// loop: whatever is wrong with one is answered as net/http would, and the
// connection closed.
func TestFirstRequestRefusals(t *testing.T) {
	s := newAcceptServer(t)
	cases := []struct {
		name, req string
		want      int
	}{
		{"not an upgrade", "GET /ws/v1 HTTP/1.1\r\nHost: x\r\n\r\n", http.StatusBadRequest},
		{"not an upgrade, with a query", "GET /ws/v1?a=1 HTTP/1.1\r\nHost: x\r\n\r\n", http.StatusBadRequest},
		{"broken header", "GET /ws/v1 HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n", http.StatusBadRequest},
		{"broken request line", "GET /ws/v1 HTTP/one\r\n\r\n", http.StatusBadRequest},
		{"foreign origin", "GET /ws/v1 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
			"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://evil.example\r\n\r\n", http.StatusForbidden},
		{"headers over the limit", "GET /ws/v1 HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", headerLimit) + "\r\n\r\n", http.StatusRequestHeaderFieldsTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, closed := rawHTTP(t, s, tc.req)
			if status != tc.want || !closed {
				t.Fatalf("status %d, closed %v; want %d and closed", status, closed, tc.want)
			}
		})
	}
}

// A connection whose first request is not for the WebSocket endpoint is
// the http.Server's, with every byte of it, for as many requests as it
// makes; a later upgrade on it still works.
func TestOtherConnectionsGoToHTTP(t *testing.T) {
	s := newAcceptServer(t)
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(wireTimeout))
	br := bufio.NewReader(c)
	for i := 0; i < 2; i++ {
		// Written in two parts: the server has seen only the start of
		// the request line when it hands the connection over.
		if _, err := io.WriteString(c, "GET /adm"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
		if _, err := io.WriteString(c, "in/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "ok") {
			t.Fatalf("request %d: %d %s", i, resp.StatusCode, body)
		}
	}
	// A WebSocket handshake on the same connection, now net/http's.
	key := "dGhlIHNhbXBsZSBub25jZQ=="
	if _, err := io.WriteString(c, "GET /ws/v1 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: "+transport.Subprotocol+"\r\nSec-WebSocket-Key: "+key+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade on a handed-over connection: %d", resp.StatusCode)
	}
}

// The first request's line may carry a query; the upgrade is served.
func TestFirstRequestWithQueryUpgrades(t *testing.T) {
	s := newAcceptServer(t)
	d := websocket.Dialer{Subprotocols: []string{transport.Subprotocol}}
	ws, resp, err := d.Dial(s.URL()+"?from=test", nil)
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, resp)
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(wireTimeout))
	if _, msg, err := ws.ReadMessage(); err != nil || !strings.Contains(string(msg), `"welcome"`) {
		t.Fatalf("first message %s, %v", msg, err)
	}
}

// Close does not wait for a connection that has not finished its first
// request: it is closed, and nothing of the server is left.
func TestCloseEndsUnfinishedFirstRequests(t *testing.T) {
	defer goleak.VerifyNone(t)
	s, err := NewServer(Config{Applications: []Application{NewApplication()}})
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	for _, start := range []string{"", "GET /w", "GET /ws/v1 HTTP/1.1\r\nHost: x\r\n"} {
		c, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := io.WriteString(c, start); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	// Until the server has the connections, Close would find nothing.
	for deadline := time.Now().Add(wireTimeout); ; time.Sleep(time.Millisecond) {
		s.mu.Lock()
		n := len(s.reading)
		s.mu.Unlock()
		if n == len(conns) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections reading their first request, want %d", n, len(conns))
		}
	}
	done := make(chan error, 1)
	go func() { done <- s.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(wireTimeout):
		t.Fatal("Close waits for connections that have not finished their first request")
	}
	for i, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(wireTimeout))
		_, err := c.Read(make([]byte, 1))
		if ne, ok := err.(net.Error); err == nil || ok && ne.Timeout() {
			t.Errorf("connection %d: read %v after Close, want the end of the connection", i, err)
		}
	}
}

package reliability

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/fakebackend"
	"github.com/sinchsim/sinchsim/transport"
)

// rawWS dials with gorilla directly, to send exact bytes and see close codes.
func rawWS(t testing.TB, url string, h http.Header) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, Subprotocols: []string{transport.Subprotocol}}
	ws, resp, err := d.Dial(url, h)
	if ws != nil {
		t.Cleanup(func() { ws.Close() })
		ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, _, err := ws.ReadMessage(); err != nil { // the welcome
			t.Fatal(err)
		}
	}
	return ws, resp, err
}

// readReply reads one JSON message and returns its error code ("" for a
// success, "closed N" when the connection ends with close code N).
func readReply(t testing.TB, ws *websocket.Conn) string {
	t.Helper()
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, data, err := ws.ReadMessage()
	if err != nil {
		if ce, ok := err.(*websocket.CloseError); ok {
			return fmt.Sprintf("closed %d", ce.Code)
		}
		t.Fatalf("read: %v", err)
	}
	var m struct {
		Type  string `json:"type"`
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("not JSON: %q", data)
	}
	return m.Error.Code
}

// createJSON is a createInstance message padded to exactly size bytes
// with spaces (JSON whitespace) before its closing brace.
func createJSON(t testing.TB, app, user, jwt string, size int) []byte {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"type": "createInstance", "id": "big", "applicationKey": app, "userId": user,
		"deviceId": "d1", "capabilities": []string{}, "sdkVersion": "t", "jwt": jwt})
	if len(b) > size {
		t.Fatalf("message is %d bytes already", len(b))
	}
	return append(append(b[:len(b)-1], strings.Repeat(" ", size-len(b))...), '}')
}

// TestLimits shows each documented limit refusing with its code.
func TestLimits(t *testing.T) {
	t.Run("message size", func(t *testing.T) {
		s := mockServer(t, fakebackend.Config{})
		app := s.Application()
		ws, _, err := rawWS(t, s.URL(), nil)
		if err != nil {
			t.Fatal(err)
		}
		jwt := mint(t, s, credentials.MintParams{UserID: "alice"})
		// Exactly the limit: read and judged on its merits.
		if err := ws.WriteMessage(websocket.TextMessage, createJSON(t, app.Key, "alice", jwt, transport.DefaultReadLimit)); err != nil {
			t.Fatal(err)
		}
		if got := readReply(t, ws); got != "" {
			t.Fatalf("a %d-byte message: %q, want success", transport.DefaultReadLimit, got)
		}
		// One byte more: protocol_error, then close 1009.
		if err := ws.WriteMessage(websocket.TextMessage, createJSON(t, app.Key, "alice", jwt, transport.DefaultReadLimit+1)); err != nil {
			t.Fatal(err)
		}
		if got := readReply(t, ws); got != transport.CodeProtocolError {
			t.Fatalf("a %d-byte message: %q, want protocol_error", transport.DefaultReadLimit+1, got)
		}
		if got := readReply(t, ws); got != fmt.Sprintf("closed %d", websocket.CloseMessageTooBig) {
			t.Fatalf("after the oversized message: %q, want close 1009", got)
		}
	})

	t.Run("connections per user", func(t *testing.T) {
		s := mockServer(t, fakebackend.Config{Policy: fakebackend.Policy{MaxConnectionsPerUser: 2}})
		app := s.Application()
		var conns []*rawConn
		for i := 0; i < 3; i++ {
			rc := dialRaw(t, s.URL())
			conns = append(conns, rc)
			got := codeOf(rc.create(app.Key, "alice", fmt.Sprintf("d%d", i), mint(t, s, credentials.MintParams{UserID: "alice"})))
			want := ""
			if i == 2 {
				want = transport.CodeUnavailable
			}
			if got != want {
				t.Fatalf("connection %d of alice: %q, want %q", i+1, got, want)
			}
		}
		// The refused registration left nothing behind.
		if n := len(s.Instances()); n != 2 {
			t.Fatalf("%d instances after a refused third connection, want 2", n)
		}
		// Another user is not affected.
		if got := codeOf(conns[2].create(app.Key, "bob", "d1", mint(t, s, credentials.MintParams{UserID: "bob"}))); got != "" {
			t.Fatalf("bob: %q", got)
		}
		// A slot frees when a connection ends (a socket event: polled).
		conns[0].close()
		rc := dialRaw(t, s.URL())
		deadline := time.Now().Add(10 * time.Second)
		for {
			got := codeOf(rc.create(app.Key, "alice", "d9", mint(t, s, credentials.MintParams{UserID: "alice"})))
			if got == "" {
				break
			}
			if got != transport.CodeUnavailable || time.Now().After(deadline) {
				t.Fatalf("after one of alice's connections closed: %q", got)
			}
			time.Sleep(10 * time.Millisecond)
		}
	})

	t.Run("total connections", func(t *testing.T) {
		s := mockServer(t, fakebackend.Config{Policy: fakebackend.Policy{MaxConnections: 3}})
		var conns []*rawConn
		for i := 0; i < 3; i++ {
			conns = append(conns, dialRaw(t, s.URL()))
		}
		_, resp, err := rawWS(t, s.URL(), nil)
		if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("fourth connection: %v (response %v), want HTTP 503", err, resp)
		}
		conns[0].close()
		deadline := time.Now().Add(10 * time.Second)
		for s.ConnectedClients() > 2 {
			if time.Now().After(deadline) {
				t.Fatal("the closed connection is still counted")
			}
			time.Sleep(10 * time.Millisecond)
		}
		if _, _, err := rawWS(t, s.URL(), nil); err != nil {
			t.Fatalf("a connection after one closed: %v", err)
		}
	})

	t.Run("pending nonces", func(t *testing.T) {
		s := mockServer(t, fakebackend.Config{Policy: fakebackend.Policy{MaxNonces: 3}})
		app := s.Application()
		rc := dialRaw(t, s.URL())
		for i := 0; i < 3; i++ {
			user := fmt.Sprintf("u%d", i)
			if got := codeOf(rc.create(app.Key, user, "d", mint(t, s, credentials.MintParams{UserID: user}))); got != "" {
				t.Fatalf("token %d: %q", i+1, got)
			}
		}
		// Full: a fourth valid token is refused as retryable, not accepted
		// with its nonce unchecked, nor called a replay.
		fourth := mint(t, s, credentials.MintParams{UserID: "u3"})
		rep := rc.create(app.Key, "u3", "d", fourth)
		if got := codeOf(rep); got != transport.CodeUnavailable {
			t.Fatalf("token with the nonce store full: %q, want unavailable", got)
		}
		if e := rep.(*transport.ErrorMessage); !e.Error.Retryable {
			t.Fatalf("refusal is not retryable: %+v", e.Error)
		}
		if n := len(s.Instances()); n != 3 {
			t.Fatalf("%d instances, want 3", n)
		}
		// Once the held tokens can no longer be valid (exp + leeway), their
		// nonces are dropped and the same token goes through: its nonce
		// was not spent by the refusal.
		if err := s.Advance(credentials.DefaultTokenTTL - time.Minute); err != nil {
			t.Fatal(err)
		}
		if got := codeOf(rc.create(app.Key, "u3", "d", fourth)); got != transport.CodeUnavailable {
			t.Fatalf("before the held nonces lapse: %q", got)
		}
		if err := s.Advance(time.Minute + credentials.DefaultLeeway); err != nil {
			t.Fatal(err)
		}
		if got := codeOf(rc.create(app.Key, "u3", "d", mint(t, s, credentials.MintParams{UserID: "u3"}))); got != "" {
			t.Fatalf("after the held nonces lapsed: %q", got)
		}
	})

	t.Run("protocol fields", func(t *testing.T) {
		s := mockServer(t, fakebackend.Config{})
		app := s.Application()
		rc := dialRaw(t, s.URL())
		long := func(n int) string { return strings.Repeat("a", n) }
		for _, tc := range []struct {
			name, user, device, jwt, want string
		}{
			{"user id 255 bytes", long(255), "d", "", ""},
			{"user id 256 bytes", long(256), "d", "", credentials.CodeUserIDInvalid},
			{"device id 128 bytes", "u1", long(128), "", ""},
			{"device id 129 bytes", "u2", long(129), "", transport.CodeProtocolError},
			{"token over 8 KiB", "u3", "d", strings.Repeat("x", credentials.MaxTokenLength+1), credentials.CodeTokenMalformed},
		} {
			jwt := tc.jwt
			if jwt == "" && tc.want != credentials.CodeUserIDInvalid {
				jwt = mint(t, s, credentials.MintParams{UserID: tc.user})
			}
			if got := codeOf(rc.create(app.Key, tc.user, tc.device, jwt)); got != tc.want {
				t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
			}
		}
		// Push tokens: at most 4096 bytes.
		if got := codeOf(rc.do(&transport.RegisterPushToken{ID: rc.nextID(), PushToken: long(4096)})); got != "" {
			t.Errorf("push token of 4096 bytes: %q", got)
		}
		if got := codeOf(rc.do(&transport.RegisterPushToken{ID: rc.nextID(), PushToken: long(4097)})); got != transport.CodeProtocolError {
			t.Errorf("push token of 4097 bytes: %q, want protocol_error", got)
		}
	})
}

package fakebackend

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/benbjohnson/clock"
	"github.com/gorilla/websocket"

	"github.com/sinchsim/sinchsim/transport"
)

// closeAndDrain completes a clean close from the client side: Close sends
// the close frame, Read observes the server's answer.
func closeAndDrain(c *transport.Conn) {
	c.Close(websocket.CloseNormalClosure, "")
	for {
		if _, err := c.Read(); err != nil {
			break
		}
	}
	<-c.Done()
}

// BenchmarkRegister: connect, create an instance with a fresh JWT, close
// cleanly. Compare with BenchmarkWebSocketEchoFloor.
func BenchmarkRegister(b *testing.B) {
	s := benchServer(b)
	app := s.Application()
	m := s.Minter()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		conn, _, err := transport.Dial(ctx, s.URL(), transport.DialConfig{})
		if err != nil {
			b.Fatal(err)
		}
		user := "u" + itoa(int64(i))
		jwt, err := m.Mint(user)
		if err != nil {
			b.Fatal(err)
		}
		if err := conn.Send(&transport.CreateInstance{ID: "1", ApplicationKey: app.Key, UserID: user, DeviceID: "d", Capabilities: []string{}, SDKVersion: "bench", JWT: jwt}); err != nil {
			b.Fatal(err)
		}
		r, err := conn.Read()
		if err != nil {
			b.Fatal(err)
		}
		if _, ok := r.(*transport.InstanceCreated); !ok {
			b.Fatalf("reply %#v", r)
		}
		closeAndDrain(conn)
	}
}

// BenchmarkAuthenticate: connect and authenticate with a stored instance
// (the later-start path: no JWT), close cleanly.
func BenchmarkAuthenticate(b *testing.B) {
	s := benchServer(b)
	app := s.Application()
	ctx := context.Background()
	conn, _, err := transport.Dial(ctx, s.URL(), transport.DialConfig{})
	if err != nil {
		b.Fatal(err)
	}
	jwt, _ := s.Minter().Mint("alice")
	conn.Send(&transport.CreateInstance{ID: "1", ApplicationKey: app.Key, UserID: "alice", DeviceID: "d", Capabilities: []string{}, SDKVersion: "bench", JWT: jwt})
	r, err := conn.Read()
	if err != nil {
		b.Fatal(err)
	}
	inst := r.(*transport.InstanceCreated).Instance
	closeAndDrain(conn)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		conn, w, err := transport.Dial(ctx, s.URL(), transport.DialConfig{})
		if err != nil {
			b.Fatal(err)
		}
		proof, _ := transport.Proof(inst.Secret, w.Challenge, inst.ID, "d")
		conn.Send(&transport.Authenticate{ID: "1", ApplicationKey: app.Key, UserID: "alice", InstanceID: inst.ID, DeviceID: "d", Proof: proof})
		r, err := conn.Read()
		if err != nil {
			b.Fatal(err)
		}
		if _, ok := r.(*transport.Authenticated); !ok {
			b.Fatalf("reply %#v", r)
		}
		closeAndDrain(conn)
	}
}

// BenchmarkWebSocketEchoFloor is the floor for BenchmarkRegister: a bare
// gorilla/websocket connect, one echo round trip of a message of the same
// size as a createInstance request, and a clean close, on loopback.
func BenchmarkWebSocketEchoFloor(b *testing.B) {
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		for {
			mt, msg, err := ws.ReadMessage()
			if err != nil {
				return // the close frame was answered by gorilla's default handler
			}
			if err := ws.WriteMessage(mt, msg); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	payload := []byte(`{"type":"createInstance","id":"1","applicationKey":"a32e5a8d-f7d8-411c-9645-9038e8dd051d","userId":"u1","deviceId":"d","capabilities":[],"sdkVersion":"bench","jwt":"` + strings.Repeat("x", 420) + `"}`)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ws, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := ws.WriteMessage(websocket.TextMessage, payload); err != nil {
			b.Fatal(err)
		}
		if _, _, err := ws.ReadMessage(); err != nil {
			b.Fatal(err)
		}
		ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				break
			}
		}
		ws.Close()
	}
}

func benchServer(b *testing.B) *Server {
	b.Helper()
	m := clock.NewMock()
	m.Set(DefaultMockTime)
	// Registration benchmarks create many instances for fresh users; the
	// rate limit is per user, so it does not interfere.
	s := RunT(b, Config{Clock: m})
	return s
}

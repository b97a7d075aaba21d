package transport

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

func benchCreateInstance() *CreateInstance {
	return &CreateInstance{
		ID:             NewID("req-"),
		ApplicationKey: "a50ce42e-f66d-4f77-b6fa-2ec301c231d5",
		UserID:         "alice",
		DeviceID:       "3f1c9a52-8d1e-4b6a-9c7e-2b1f0e6d5a4c",
		Capabilities:   []string{"calling", "push"},
		SDKVersion:     "sinchsim/0.1 (go)",
		JWT:            testJWT,
	}
}

func BenchmarkEncode(b *testing.B) {
	m := benchCreateInstance()
	data, _ := Encode(m)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	data, err := Encode(benchCreateInstance())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeEncodingJSONFloor is the floor for BenchmarkDecode:
// encoding/json into a tagged struct, with none of Decode's strictness
// (duplicate keys, UTF-8, required members, id rules).
func BenchmarkDecodeEncodingJSONFloor(b *testing.B) {
	type createInstance struct {
		Type           string   `json:"type"`
		ID             string   `json:"id"`
		ApplicationKey string   `json:"applicationKey"`
		UserID         string   `json:"userId"`
		DeviceID       string   `json:"deviceId"`
		Capabilities   []string `json:"capabilities"`
		SDKVersion     string   `json:"sdkVersion"`
		JWT            string   `json:"jwt"`
	}
	data, _ := Encode(benchCreateInstance())
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var m createInstance
		if err := json.Unmarshal(data, &m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConnRoundTrip sends a createInstance through a client Conn to an
// echoing server Conn and reads it back: the transport's share of a
// registration round trip. Compare with BenchmarkWebSocketEchoFloor.
func BenchmarkConnRoundTrip(b *testing.B) {
	up := NewUpgrader(UpgradeConfig{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r)
		if err != nil {
			return
		}
		_ = c.Send(&Welcome{Protocol: Protocol, Challenge: NewChallenge(), ServerTime: testTime})
		for {
			m, err := c.Read()
			if err != nil {
				break
			}
			_ = c.Send(m)
		}
		<-c.Done()
	}))
	defer srv.Close()
	c, _, err := Dial(b.Context(), srv.URL, DialConfig{})
	if err != nil {
		b.Fatal(err)
	}
	m := benchCreateInstance()
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Send(m); err != nil {
			b.Fatal(err)
		}
		if _, err := c.Read(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	c.shutdown(CloseNormal, "")
}

// BenchmarkWebSocketEchoFloor is the floor for BenchmarkConnRoundTrip: the
// same bytes echoed over bare gorilla/websocket connections, no decoding.
func BenchmarkWebSocketEchoFloor(b *testing.B) {
	var upgrader websocket.Upgrader
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		for {
			typ, p, err := ws.ReadMessage()
			if err != nil {
				return
			}
			if ws.WriteMessage(typ, p) != nil {
				return
			}
		}
	}))
	defer srv.Close()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer ws.Close()
	data, _ := Encode(benchCreateInstance())
	b.ReportAllocs()
	for b.Loop() {
		if err := ws.WriteMessage(websocket.TextMessage, data); err != nil {
			b.Fatal(err)
		}
		if _, _, err := ws.ReadMessage(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIdleConnMemory reports the heap and goroutine stacks that one idle
// connection costs, both ends counted (client Conn with its writer; server
// Conn with its writer and reader goroutine), measured once over 500
// connections whatever -benchtime says; ns/op is meaningless here.
// The server handler returns right after Upgrade and serves the connection
// from a new goroutine, so that net/http frees its per-request buffers.
func BenchmarkIdleConnMemory(b *testing.B) {
	const n = 500
	up := NewUpgrader(UpgradeConfig{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r)
		if err != nil {
			return
		}
		go func() {
			_ = c.Send(&Welcome{Protocol: Protocol, Challenge: NewChallenge(), ServerTime: testTime})
			for {
				if _, err := c.Read(); err != nil {
					break
				}
			}
		}()
	}))
	defer srv.Close()
	before := memInUse()
	conns := make([]*Conn, 0, n)
	for range n {
		c, _, err := Dial(b.Context(), srv.URL, DialConfig{})
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, c)
	}
	perConn := float64(int64(memInUse())-int64(before)) / n
	for _, c := range conns {
		c.shutdown(CloseNormal, "")
	}
	for b.Loop() {
	}
	b.ReportMetric(perConn, "B/conn")
}

func memInUse() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc + ms.StackInuse
}

package fleet

import (
	"cmp"
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// The floor of a fleet: what N registrations would cost if a registration
// were nothing but a WebSocket connection, one message each way and a
// close. It is measured against an echo server on loopback, at the same
// concurrency as the fleet, in the same process: a fleet's registrations
// per second divided by the floor's connections per second says how close
// the whole registration (tokens, rules, store, state machine) comes to
// the bare transport.

// floorPayload is as long as a createInstance request with its token.
var floorPayload = []byte(`{"type":"createInstance","id":"1","applicationKey":"a32e5a8d-f7d8-411c-9645-9038e8dd051d","userId":"bot-1","deviceId":"8c3f2c51-1f0b-4d9a-9e61-2f4f7f5b6c1d","capabilities":["calling"],"sdkVersion":"sinchsim-go/1","jwt":"` + strings.Repeat("x", 560) + `"}`)

// Floor is the outcome of RunFloor.
type Floor struct {
	// Connections counts the connections that completed their echo.
	Connections int `json:"connections"`
	// PerSecond is Connections over the time the run took.
	PerSecond float64 `json:"connectionsPerSecond"`
}

// FloorRatio is a floor and a fleet's ratio to it.
type FloorRatio struct {
	Floor
	Ratio float64 `json:"ratio"`
}

// SetFloor records f as r's floor, with r's ratio to it.
func (r *Result) SetFloor(f Floor) {
	fr := &FloorRatio{Floor: f}
	if f.PerSecond > 0 {
		fr.Ratio = r.RegistrationsPerSecond / f.PerSecond
	}
	r.Floor = fr
}

// RunFloor makes n bare gorilla/websocket connections to an echo server
// on loopback, at most concurrency at a time: connect, send one message of
// a registration's size, read its echo, close cleanly.
func RunFloor(ctx context.Context, n, concurrency int) (Floor, error) {
	if n < 1 {
		return Floor{}, errors.New("fleet: the floor needs at least one connection")
	}
	concurrency = max(min(concurrency, n), 1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return Floor{}, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(echo), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	url := "ws://" + ln.Addr().String() + "/"

	var next, done atomic.Int64
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for int(next.Add(1)) <= n && ctx.Err() == nil {
				if err := echoOnce(ctx, url); err != nil {
					mu.Lock()
					firstErr = cmp.Or(firstErr, err)
					mu.Unlock()
					continue
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	f := Floor{Connections: int(done.Load())}
	if elapsed := time.Since(start); elapsed > 0 {
		f.PerSecond = float64(f.Connections) / elapsed.Seconds()
	}
	if err := ctx.Err(); err != nil {
		return f, err
	}
	return f, firstErr
}

// echo answers every message with itself until the peer closes.
func echo(w http.ResponseWriter, r *http.Request) {
	up := websocket.Upgrader{}
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
}

// echoOnce is one connection of the floor.
func echoOnce(ctx context.Context, url string) error {
	ws, _, err := websocket.DefaultDialer.DialContext(ctx, url, nil)
	if err != nil {
		return err
	}
	defer ws.Close()
	if err := ws.WriteMessage(websocket.TextMessage, floorPayload); err != nil {
		return err
	}
	if _, _, err := ws.ReadMessage(); err != nil {
		return err
	}
	_ = ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			return nil // the server's close frame, or the end
		}
	}
}

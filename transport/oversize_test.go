package transport

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestOverHardLimitPeerSeesClose sends messages over 16×ReadLimit from a
// bare gorilla client, many times: the WebSocket layer refuses them with
// close 1009, and the peer must be able to finish its write and read that
// close frame every time, not meet a reset connection (1006).
func TestOverHardLimitPeerSeesClose(t *testing.T) {
	// The owner loop Read documents: answer a fatal ProtocolError, close
	// with 1009, read on until the end.
	// A long grace: the drain ends at the peer's close anyway, and a
	// loaded machine must not turn a slow write into a reset.
	url := serve(t, UpgradeConfig{Config: Config{CloseGrace: failAfter}}, func(c *Conn) {
		_ = c.Send(welcome())
		for {
			_, err := c.Read()
			var pe *ProtocolError
			if !errors.As(err, &pe) {
				if err == nil {
					continue
				}
				return
			}
			_ = c.Send(pe.Reply())
			if pe.Fatal {
				_ = c.Close(CloseMessageTooBig, "message too big")
			}
		}
	})
	cases := []struct {
		name  string
		size  int
		wbuf  int // client write buffer: the frame size of its fragments
		tries int
	}{
		// In 4 KiB fragments (gorilla's default): the first 64 KiB are read
		// and answered, the WebSocket layer refuses the rest.
		{"2 MiB", 2 << 20, 0, 20},
		{"1.5 MiB", 3 << 19, 0, 20},
		// In one frame: its header shows the size, nothing is read.
		{"2 MiB in one frame", 2 << 20, 4 << 20, 10},
		{"1.5 MiB in one frame", 3 << 19, 4 << 20, 10},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msg := []byte(`{"type":"updateInstanceTtl","id":"r1","jwt":"` + strings.Repeat("x", tc.size) + `"}`)
			for i := range tc.tries {
				d := websocket.Dialer{Subprotocols: []string{Subprotocol}, WriteBufferSize: tc.wbuf}
				ws, _, err := d.Dial(url, nil)
				if err != nil {
					t.Fatal(err)
				}
				rawRead(t, ws) // welcome
				werr := ws.WriteMessage(websocket.TextMessage, msg)
				code, rerr := closeCodeOf(ws)
				ws.Close()
				// A reset connection shows as a failed write here; many
				// WebSocket clients report it as 1006 and never read on.
				if werr != nil || code != CloseMessageTooBig {
					t.Errorf("try %d: write error %v; close code %d (read error %v), want 1009", i+1, werr, code, rerr)
				}
			}
		})
	}
}

// closeCodeOf reads until the bare connection's close frame (skipping the
// protocol_error answer that may come first); without one it returns
// CloseAbnormal and the read error.
func closeCodeOf(ws *websocket.Conn) (int, error) {
	_ = ws.SetReadDeadline(time.Now().Add(failAfter))
	for {
		_, _, err := ws.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code, nil
		}
		if err != nil {
			return CloseAbnormal, err
		}
	}
}

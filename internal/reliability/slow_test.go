package reliability

import (
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sinchsim/sinchsim/client"
	"github.com/sinchsim/sinchsim/fakebackend"
	"github.com/sinchsim/sinchsim/internal/syncbuf"
	"github.com/sinchsim/sinchsim/registration"
	"github.com/sinchsim/sinchsim/transport"
)

// TestStalledClientDoesNotDelayOthers: a raw WebSocket client floods the
// backend with requests and never reads an answer. Its bounded send queue
// fills, the backend drops that connection (1008, slow consumer), and the
// clients registering meanwhile all complete.
func TestStalledClientDoesNotDelayOthers(t *testing.T) {
	others := size(50, 50, 10, 500)
	const queue = transport.DefaultSendQueue
	var logs syncbuf.Buffer
	s := mockServer(t, fakebackend.Config{Logger: debugLogger(&logs)})

	// A small receive buffer (no autotuning) so that the kernel stops
	// taking the backend's answers early.
	dialer := websocket.Dialer{NetDialContext: (&net.Dialer{Control: smallReceiveBuffer}).DialContext}
	ws, _, err := dialer.Dial(s.URL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()

	// Flood: each bad request gets a protocol_error answer the stalled
	// client never reads.
	flooded := make(chan int, 1)
	stalled := make(chan struct{})
	go func() {
		n := 0
		defer func() { flooded <- n }()
		defer func() {
			if n < 200 {
				close(stalled)
			}
		}()
		req := []byte(`{"type":"authenticate","id":"x","applicationKey":"k","userId":"u","instanceId":"i","deviceId":"d","proof":"` + strings.Repeat("p", 200) + `"}`)
		for ; n < 2_000_000; n++ {
			ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if err := ws.WriteMessage(websocket.TextMessage, req); err != nil {
				return // the backend dropped us
			}
			if n == 200 {
				close(stalled) // the backend's writer is about to block on us
			}
		}
	}()

	// Meanwhile, registrations go on.
	<-stalled
	bots := newBots(t, s, others, "busy-", client.WithCredentialsProvider(provider(t, s, 0)))
	startAll(t, bots)
	waitState(t, bots, 60*time.Second, registration.StateStarted, registration.StateFailed)
	for _, b := range bots {
		if b.c.State() != registration.StateStarted {
			t.Fatalf("%s: %v", b.user, b.c.Err())
		}
	}

	// The stalled connection is gone: a socket event, observed by polling
	// with a deadline.
	var sent int
	select {
	case sent = <-flooded:
	case <-time.After(60 * time.Second):
		t.Fatal("the backend never dropped the stalled client")
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.ConnectedClients() != others {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections, want %d", s.ConnectedClients(), others)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), "slow consumer") {
		t.Error("the backend did not log the slow consumer")
	}
	// The registrations were not held up by the stalled one: all done, and
	// one more still goes through at once.
	late := newBots(t, s, 1, "late-", client.WithCredentialsProvider(provider(t, s, 0)))
	startAll(t, late)
	if err := late[0].c.WaitStarted(ctxFor(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	t.Logf("stalled client dropped after %d unread requests (send queue %d); %d other registrations completed meanwhile", sent, queue, others)
}

// smallReceiveBuffer sets SO_RCVBUF to 4 KiB.
func smallReceiveBuffer(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) { serr = setRcvBuf(fd, 4096) })
	if err != nil {
		return err
	}
	return serr
}

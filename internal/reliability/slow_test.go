package reliability

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sinchsim/sinchsim/client"
	"github.com/sinchsim/sinchsim/fakebackend"
	"github.com/sinchsim/sinchsim/internal/syncbuf"
	"github.com/sinchsim/sinchsim/registration"
	"github.com/sinchsim/sinchsim/transport"
)

// TestStalledClientDoesNotDelayOthers: a client floods the backend with
// requests and never reads an answer. The backend's bounded send queue
// fills, it drops that connection (1008, slow consumer), and the clients
// registering meanwhile all complete.
//
// The stalled client is connected in memory, whose pipe holds 256 KiB
// each way and then makes the writer wait, as a socket's buffers would.
// Over a real socket the kernel gets in the way: a Linux client that never
// reads, its receive buffer full, drops the incoming segments that carry
// the backend's acknowledgements, so its requests trickle in on
// retransmission timeouts; the backend, never blocked on a send buffer
// that grows to 4 MiB, has no slow consumer to find, and the trickle
// keeps the connection alive.
func TestStalledClientDoesNotDelayOthers(t *testing.T) {
	others := size(50, 50, 10, 500)
	const queue = transport.DefaultSendQueue
	var logs syncbuf.Buffer
	s := mockServer(t, fakebackend.Config{Logger: debugLogger(&logs), InMemory: true})

	// Our own send queue holds what the backend has not read yet, so that
	// the flood never waits and it is the backend that finds a slow
	// consumer, not we.
	conn, _, err := transport.Dial(ctxFor(t, 10*time.Second), s.URL(), transport.DialConfig{InMemory: true, Config: transport.Config{SendQueue: 1 << 16}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Abort()

	// Flood: each bad request gets an answer the stalled client never
	// reads.
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
		req := &transport.Authenticate{ApplicationKey: "k", UserID: "u", InstanceID: "i", DeviceID: "d", Proof: strings.Repeat("p", 200)}
		for ; n < 2_000_000; n++ {
			req.ID = "x" + strconv.Itoa(n%1000)
			if err := conn.Send(req); err != nil {
				if errors.Is(err, transport.ErrSlowConsumer) {
					t.Errorf("our own send queue filled after %d requests", n)
				}
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

	// The stalled connection is gone: observed by polling with a deadline.
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
	t.Logf("stalled client dropped after %d requests sent (send queue %d); %d other registrations completed meanwhile", sent, queue, others)
}

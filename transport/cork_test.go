package transport

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingListener counts the writes on the connections it accepts.
type countingListener struct {
	net.Listener
	writes atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, n: &l.writes}, nil
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.n.Add(1)
	return c.Conn.Write(p)
}

// UpgradeWith sends the handshake's answer and the first message in one
// write; the client reads that message as usual, and the connection goes on
// as any other. Upgrade with a later Send takes two writes.
func TestUpgradeWithWritesHandshakeAndFirstMessageAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name   string
		corked bool
		writes int64
	}{
		{"UpgradeWith", true, 1},
		{"Upgrade then Send", false, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inner, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ln := &countingListener{Listener: inner}
			up := NewUpgrader(UpgradeConfig{})
			w := welcome()
			upgraded := make(chan int64, 1)
			var conns sync.WaitGroup
			srv := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				var c *Conn
				var err error
				if tc.corked {
					c, err = up.UpgradeWith(rw, r, w, nil)
				} else if c, err = up.Upgrade(rw, r); err == nil {
					err = c.Send(w)
				}
				if err != nil {
					t.Error(err)
					return
				}
				conns.Add(1)
				go func() {
					defer conns.Done()
					// The welcome is written (inline, or by the writer)
					// before the client's echo arrives.
					m, err := c.Read()
					if err != nil {
						t.Error(err)
						return
					}
					upgraded <- ln.writes.Load()
					c.Send(m)
					drain(c)
				}()
			}), ReadHeaderTimeout: failAfter}
			go srv.Serve(ln)
			t.Cleanup(func() { srv.Close(); conns.Wait() })

			c, got, err := Dial(t.Context(), "ws://"+inner.Addr().String()+Path, DialConfig{})
			if err != nil {
				t.Fatal(err)
			}
			if got.Challenge != w.Challenge || got.Protocol != Protocol {
				t.Fatalf("welcome %+v, want %+v", got, w)
			}
			if err := c.Send(&UnregisterPushToken{ID: "1"}); err != nil {
				t.Fatal(err)
			}
			select {
			case n := <-upgraded:
				if n != tc.writes {
					t.Errorf("the handshake's answer and the welcome took %d writes, want %d", n, tc.writes)
				}
			case <-time.After(failAfter):
				t.Fatal("the server did not read the message")
			}
			if m, err := c.Read(); err != nil || m.MessageType() != (&UnregisterPushToken{}).MessageType() {
				t.Fatalf("echo: %v %v", m, err)
			}
			c.Close(CloseNormal, "")
			drain(c)
			waitDone(t, c)
		})
	}
}

// A first message that cannot be encoded fails UpgradeWith before the
// upgrade (the request is answered with 500), so the client's dial fails.
func TestUpgradeWithUnencodableFirstMessage(t *testing.T) {
	up := NewUpgrader(UpgradeConfig{})
	failed := make(chan error, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		_, err := up.UpgradeWith(rw, r, &Welcome{Protocol: Protocol, Challenge: "\xff", ServerTime: time.Now()}, nil) // not UTF-8
		failed <- err
	}), ReadHeaderTimeout: failAfter}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	if c, _, err := Dial(t.Context(), "ws://"+ln.Addr().String()+Path, DialConfig{}); err == nil {
		c.Abort()
		t.Fatal("dial succeeded though the welcome could not be sent")
	}
	select {
	case err := <-failed:
		if err == nil || !strings.Contains(err.Error(), "challenge") {
			t.Fatalf("UpgradeWith = %v, want the encoding error", err)
		}
	case <-time.After(failAfter):
		t.Fatal("the handler did not return")
	}
}

// The read deadline moves at most every sixteenth of PongWait, and never
// so seldom that the pong to the next ping could come too late.
func TestExtendInterval(t *testing.T) {
	for _, tc := range []struct {
		ping, pong, want time.Duration
	}{
		{20 * time.Second, 60 * time.Second, 3750 * time.Millisecond},
		{58 * time.Second, 60 * time.Second, time.Second},
		{0, 0, DefaultPongWait / 16},
	} {
		cfg := Config{PingInterval: tc.ping, PongWait: tc.pong}.withDefaults()
		if got := extendInterval(cfg); got != tc.want {
			t.Errorf("PingInterval %v, PongWait %v: every %v, want %v", tc.ping, tc.pong, got, tc.want)
		}
	}
}

// What is sent from ready, before UpgradeWith has sent first, goes out
// after first, for every kind of connection: a message, then a close.
func TestUpgradeWithReadyRunsBeforeFirst(t *testing.T) {
	for _, mem := range []bool{false, true} {
		t.Run(map[bool]string{false: "socket", true: "in memory"}[mem], func(t *testing.T) {
			up := NewUpgrader(UpgradeConfig{})
			w := welcome()
			note := &UnregisterPushToken{ID: "from-ready"}
			handler := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				c, err := up.UpgradeWith(rw, r, w, func(c *Conn) {
					if err := c.Send(note); err != nil {
						t.Error(err)
					}
					c.Close(CloseNormal, "bye")
				})
				if err != nil {
					t.Error(err)
					return
				}
				drain(c)
				<-c.Done()
			})
			addr := serveHTTP(t, mem, "ready-first:1", handler)
			c, got, err := Dial(t.Context(), "ws://"+addr+Path, DialConfig{InMemory: mem})
			if err != nil {
				t.Fatal(err)
			}
			if got.Challenge != w.Challenge {
				t.Fatalf("first message %+v, want the welcome", got)
			}
			if m, err := c.Read(); err != nil || m.MessageType() != note.MessageType() {
				t.Fatalf("second message: %v %v, want what ready sent", m, err)
			}
			drain(c)
			waitDone(t, c)
			if code, reason := c.CloseCode(); code != CloseNormal || reason != "bye" {
				t.Fatalf("close %d %q, want %d bye", code, reason, CloseNormal)
			}
		})
	}
}

// ready runs before first is written, on either kind of connection: while
// ready runs, the client has no welcome to read (over a socket, not even
// the handshake's answer, which waits for first); once ready returns, the
// welcome arrives. A server that registers its session in ready is
// therefore never found wanting by a client that has its welcome.
func TestUpgradeWithFirstWaitsForReady(t *testing.T) {
	for _, mem := range []bool{false, true} {
		t.Run(map[bool]string{false: "socket", true: "in memory"}[mem], func(t *testing.T) {
			up := NewUpgrader(UpgradeConfig{})
			var client net.Conn
			var early []byte
			readyDone, finished := make(chan struct{}), make(chan struct{})
			handler := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				c, err := up.UpgradeWith(rw, r, welcome(), func(*Conn) {
					// What the client can read now was sent before first.
					client.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
					early, _ = io.ReadAll(client)
					close(readyDone)
				})
				if err != nil {
					t.Error(err)
					return
				}
				<-finished
				c.Abort()
			})
			defer close(finished)
			addr := serveHTTP(t, mem, "ready-waits:1", handler)
			var err error
			if mem {
				client, err = dialMem(t.Context(), addr)
			} else {
				client, err = net.Dial("tcp", addr)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			req := "GET " + Path + " HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
				"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
				"Sec-WebSocket-Protocol: " + Subprotocol + "\r\n\r\n"
			if _, err := io.WriteString(client, req); err != nil {
				t.Fatal(err)
			}
			<-readyDone // ready reads first, then lets go of the client
			var late []byte
			buf := make([]byte, 4096)
			client.SetReadDeadline(time.Now().Add(failAfter))
			for !strings.Contains(string(late), `"welcome"`) {
				n, err := client.Read(buf)
				if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Fatalf("reading the welcome: %v (read %q)", err, late)
				}
				late = append(late, buf[:n]...)
				if err != nil {
					break
				}
			}
			if strings.Contains(string(early), `"welcome"`) || !mem && len(early) > 0 {
				t.Fatalf("the client read %q while ready ran", early)
			}
			if !strings.Contains(string(late), `"welcome"`) {
				t.Fatalf("no welcome once ready returned: %q", late)
			}
		})
	}
}

// serveHTTP serves handler until the test ends, in memory under memAddr
// or on a loopback port, and returns the address to dial.
func serveHTTP(t *testing.T, mem bool, memAddr string, handler http.Handler) string {
	t.Helper()
	var ln net.Listener
	var err error
	if mem {
		ln, err = ListenMem(memAddr)
	} else {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: failAfter}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

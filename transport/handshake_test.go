package transport

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// A dialled socket holds the handshake's request until the response is
// read, and is the plain socket afterwards.
func TestHandshakeConnHoldsUntilRead(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	c := &handshakeConn{Conn: a, held: getMsgBuf()}
	defer c.Close()
	// The peer reads from the start: net.Pipe gives one Read per Write, so
	// writes that went through would arrive one by one.
	got := make(chan string, 8)
	go func() {
		buf := make([]byte, 64)
		for i := 0; ; i++ {
			n, err := b.Read(buf)
			if err != nil {
				return
			}
			got <- string(buf[:n])
			if i == 0 {
				go b.Write([]byte("ok")) // the handshake's answer
			}
		}
	}()
	if _, err := c.WriteString("GET / "); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("HTTP/1.1\r\n")); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteByte('\r'); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("\n")); err != nil {
		t.Fatal(err)
	}
	// The first read sends what is held, in one write.
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2)
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ok" {
			t.Errorf("read %q, %v", buf, err)
		}
	}()
	if s := <-got; s != "GET / HTTP/1.1\r\n\r\n" {
		t.Fatalf("first write %q", s)
	}
	if _, err := c.Write([]byte("after")); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s != "after" {
		t.Fatalf("write after the first read: %q", s)
	}
	<-done
	if c.held != nil {
		t.Fatal("still holding after the first read")
	}
}

// URL remembers its last answer; asked again, or in between about another
// URL, it answers the same as the first time.
func TestURLMemo(t *testing.T) {
	for _, raw := range []string{"127.0.0.1:1", "127.0.0.1:1", "http://h:2", "127.0.0.1:1", "bad://x", "127.0.0.1:1"} {
		got, err := URL(raw)
		want, werr := normalizeURL(raw)
		if got != want || (err == nil) != (werr == nil) {
			t.Fatalf("URL(%q) = %q, %v; want %q, %v", raw, got, err, want, werr)
		}
	}
}

// A dialled socket has no TCP keepalive: pings find a dead peer.
func TestDialledSocketHasNoKeepalive(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	nc, err := dialTCP(t.Context(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if on := keepalive(t, nc.(*handshakeConn).Conn); on {
		t.Fatal("SO_KEEPALIVE is set on a dialled socket")
	}
}

// An accepted socket has no TCP keepalive either.
func TestListenedSocketHasNoKeepalive(t *testing.T) {
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if keepalive(t, sc) {
		t.Fatal("SO_KEEPALIVE is set on an accepted socket")
	}
}

// keepalive reports whether SO_KEEPALIVE is set on nc, a TCP socket.
func keepalive(t *testing.T, nc net.Conn) bool {
	t.Helper()
	raw, err := nc.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var gerr error
	if err := raw.Control(func(fd uintptr) { v, gerr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_KEEPALIVE) }); err != nil || gerr != nil {
		t.Fatal(err, gerr)
	}
	return v != 0
}

// A Dial whose context is cancelled while the server sits on the opening
// handshake returns at once, not after its HandshakeTimeout.
func TestDialCancelledDuringHandshake(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			accepted <- c // held open, never answered
		}
	}()
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		_, _, err := Dial(ctx, ln.Addr().String(), DialConfig{HandshakeTimeout: time.Hour})
		errc <- err
	}()
	select {
	case c := <-accepted:
		defer c.Close()
		// The request has been written once the socket is read from.
		buf := make([]byte, 1)
		if _, err := c.Read(buf); err != nil {
			t.Fatal(err)
		}
	case <-time.After(failAfter):
		t.Fatal("no connection")
	}
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Dial = %v, want context.Canceled", err)
		}
	case <-time.After(failAfter):
		t.Fatal("Dial waits for its handshake timeout after its context was cancelled")
	}
}

package transport

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// serveMem is like serve over an in-memory listener registered under addr,
// but its handler returns as soon as fn does. It returns the URL to dial with DialConfig.InMemory.
func serveMem(t *testing.T, addr string, cfg UpgradeConfig, fn func(c *Conn)) string {
	t.Helper()
	ln, err := ListenMem(addr)
	if err != nil {
		t.Fatal(err)
	}
	up := NewUpgrader(cfg)
	mux := http.NewServeMux()
	mux.HandleFunc(Path, func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r)
		if err != nil {
			return
		}
		fn(c)
	})
	srv := &http.Server{Handler: mux}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return "ws://" + addr + Path
}

// The whole stack over an in-memory pipe: upgrade, welcome, a request and
// its answer, a clean close with its code, and no keepalive.
func TestMemConnExchange(t *testing.T) {
	url := serveMem(t, "mem-exchange:1", UpgradeConfig{}, func(c *Conn) {
		if c.keepalive {
			t.Error("server end over a pipe has keepalive on")
		}
		_ = c.Send(welcome())
		for {
			m, err := c.Read()
			if err != nil {
				return
			}
			if r, ok := m.(*CreateInstance); ok {
				_ = c.Send(&ErrorMessage{ID: r.ID, Error: *NewError(CodeUnavailable, "try later")})
				_ = c.Close(CloseGoingAway, "bye")
			}
		}
	})
	c, w, err := Dial(t.Context(), url, DialConfig{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	if w.Protocol != Protocol || c.keepalive {
		t.Fatalf("welcome %+v, keepalive %v", w, c.keepalive)
	}
	if got := c.RemoteAddr().Network(); got != "mem" {
		t.Fatalf("remote network %q, want mem", got)
	}
	if err := c.Send(benchCreateInstance()); err != nil {
		t.Fatal(err)
	}
	m, err := c.Read()
	if err != nil {
		t.Fatal(err)
	}
	if e, ok := m.(*ErrorMessage); !ok || e.Error.Code != CodeUnavailable {
		t.Fatalf("got %#v", m)
	}
	if err := drain(c); !errors.Is(err, ErrClosed) {
		t.Fatalf("drain: %v", err)
	}
	waitDone(t, c)
	if code, reason := c.CloseCode(); code != CloseGoingAway || reason != "bye" {
		t.Fatalf("close %d %q", code, reason)
	}
}

func TestMemDialErrors(t *testing.T) {
	tests := []struct {
		name, url, want string
	}{
		{"no listener", "ws://mem-nowhere:1/ws/v1", ErrNoMemListener.Error()},
		{"tls", "wss://mem-nowhere:1/ws/v1", "no TLS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Dial(t.Context(), tt.url, DialConfig{InMemory: true})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Dial = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestListenMemAddressInUse(t *testing.T) {
	ln, err := ListenMem("mem-twice:1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ListenMem("mem-twice:1"); err == nil {
		t.Fatal("a second listener at the same address was accepted")
	}
	ln.Close()
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close = %v", err)
	}
	again, err := ListenMem("mem-twice:1")
	if err != nil {
		t.Fatalf("address not freed by Close: %v", err)
	}
	again.Close()
}

// The pipe itself behaves as a net.Conn: ordered bytes, a writer that
// waits for room, EOF after the peer's Close, deadlines that interrupt a
// blocked Read or Write.
func TestMemPipe(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, a, b net.Conn)
	}{
		{"large write arrives whole and in order", func(t *testing.T, a, b net.Conn) {
			msg := bytes.Repeat([]byte("0123456789"), memBufMax/5) // twice the buffer
			go func() {
				_, _ = a.Write(msg)
				a.Close()
			}()
			got, err := io.ReadAll(b)
			if err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("read %d bytes, err %v; want %d bytes", len(got), err, len(msg))
			}
		}},
		{"read deadline in the past interrupts a blocked read", func(t *testing.T, a, b net.Conn) {
			errc := make(chan error, 1)
			go func() {
				_, err := b.Read(make([]byte, 8))
				errc <- err
			}()
			b.SetReadDeadline(time.Unix(1, 0))
			select {
			case err := <-errc:
				if !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Fatalf("Read = %v, want a timeout", err)
				}
			case <-time.After(failAfter):
				t.Fatal("Read was not interrupted")
			}
			b.SetReadDeadline(time.Time{})
			go a.Write([]byte("x"))
			if n, err := b.Read(make([]byte, 8)); n != 1 || err != nil {
				t.Fatalf("Read after clearing the deadline = %d, %v", n, err)
			}
		}},
		{"a full pipe makes the writer wait until its deadline", func(t *testing.T, a, b net.Conn) {
			a.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
			n, err := a.Write(make([]byte, memBufMax+1))
			if n != memBufMax || !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("Write = %d, %v; want %d and a timeout", n, err, memBufMax)
			}
		}},
		{"writes to a closed peer fail, reads on a closed end fail", func(t *testing.T, a, b net.Conn) {
			b.Close()
			if _, err := a.Write([]byte("x")); err == nil {
				t.Fatal("Write to a closed peer succeeded")
			}
			if _, err := b.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
				t.Fatalf("Read on a closed end = %v", err)
			}
			if err := b.Close(); err == nil {
				t.Fatal("second Close returned nil")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := memPipe("a", "b")
			defer a.Close()
			defer b.Close()
			tt.run(t, a, b)
		})
	}
}

// Over a pipe, Serve delivers every message in order and then the end;
// once the traffic stops, neither end holds a goroutine.
func TestMemServeIdleHoldsNoGoroutine(t *testing.T) {
	const conns, msgs = 20, 30
	url := serveMem(t, "mem-serve:1", UpgradeConfig{}, func(c *Conn) {
		_ = c.Send(welcome())
		c.Serve(func(m Message, err error) {
			if err == nil {
				_ = c.Send(m) // echo
			}
		})
	})
	base := runtime.NumGoroutine()
	type result struct {
		ids []string
		end error
	}
	results := make([]chan result, conns)
	var cs []*Conn
	for i := range conns {
		c, _, err := Dial(t.Context(), url, DialConfig{InMemory: true})
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
		ch := make(chan result, 1)
		results[i] = ch
		var got []string
		c.Serve(func(m Message, err error) {
			if err != nil {
				ch <- result{got, err}
				return
			}
			got = append(got, m.(*CreateInstance).ID)
			if len(got) == msgs {
				ch <- result{got, nil}
			}
		})
		for j := range msgs {
			ci := benchCreateInstance()
			ci.ID = fmt.Sprint(j)
			if err := c.Send(ci); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, ch := range results {
		r := <-ch
		if r.end != nil || len(r.ids) != msgs {
			t.Fatalf("conn %d: %d echoes, end %v", i, len(r.ids), r.end)
		}
		for j, id := range r.ids {
			if id != fmt.Sprint(j) {
				t.Fatalf("conn %d: echo %d is %s: out of order", i, j, id)
			}
		}
	}
	// Idle now: the goroutines of both ends end by themselves.
	deadline := time.Now().Add(failAfter)
	for runtime.NumGoroutine() > base+2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines with %d idle connections, %d before them", runtime.NumGoroutine(), conns, base)
		}
		runtime.Gosched()
	}
	for i, c := range cs {
		c.Close(CloseNormal, "")
		if r := <-results[i]; !errors.Is(r.end, ErrClosed) {
			t.Fatalf("conn %d ended with %v", i, r.end)
		}
		waitDone(t, c)
	}
}

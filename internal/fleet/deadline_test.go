package fleet

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/fakebackend"
)

// A backend that accepts and never answers: every start times out, one
// after another on the same worker, each after its own StartTimeout (the
// worker's context is made anew after one has timed out), and each
// client, terminated, abandons its opening handshake at once.
func TestRunStartTimeouts(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	app := fakebackend.NewApplication()
	p, err := credentials.NewSelfSignedProvider(credentials.MinterConfig{ApplicationKey: app.Key, Secret: app.Secret})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), Config{URL: ln.Addr().String(), ApplicationKey: app.Key, Provider: p,
		N: 3, Concurrency: 1, UserPrefix: "slow-", StartTimeout: 50 * time.Millisecond})
	if err != nil || res.Failed != 3 || res.FailuresByCode["timeout"] != 3 {
		t.Fatalf("Run = %+v, %v; want 3 timeouts", res.FailuresByCode, err)
	}
	if ex := res.FailureExamples["timeout"]; !strings.Contains(ex, "not started within 50ms") {
		t.Fatalf("timeout example %q", ex)
	}
}

// The context of a start ends StartTimeout after it begins, and is the
// same for the next start unless it ended.
func TestStartDeadline(t *testing.T) {
	dl := newStartDeadline(context.Background(), time.Hour)
	defer dl.stop()
	a := dl.begin()
	dl.end()
	if b := dl.begin(); b != a {
		t.Fatal("a new context for a start after one that did not time out")
	}
	dl.end()
	dl.d = time.Millisecond
	c := dl.begin()
	select {
	case <-c.Done():
	case <-time.After(wireWait):
		t.Fatal("the start's context did not end")
	}
	dl.end()
	if d := dl.begin(); d == c || d.Err() != nil {
		t.Fatal("the context that timed out was given to the next start")
	}
	dl.end()
}

// wireWait bounds a wait that must end, so that a bug fails instead of
// hanging.
const wireWait = 5 * time.Second

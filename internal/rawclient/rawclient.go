package rawclient

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/sinchsim/sinchsim/transport"
)

// Conn is a protocol v1 connection whose messages are queued as they
// arrive, for a test to take one by one. Every wait fails the test after
// Wait instead of hanging it.
type Conn struct {
	t testing.TB
	// Conn is the connection itself (to Send without waiting, or Abort).
	Conn *transport.Conn
	// Welcome is the backend's first message.
	Welcome *transport.Welcome
	// Msgs delivers every later message in order; it is closed once the
	// connection has ended.
	Msgs <-chan transport.Message
	// App is the application key Create and Authenticate send.
	App string
	// Wait bounds Next.
	Wait time.Duration
	seq  int
}

// Dial connects to url (a backend's WebSocket URL) and starts queueing its
// messages; the connection is aborted when the test ends.
func Dial(t testing.TB, url, app string, wait time.Duration) *Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	conn, w, err := transport.Dial(ctx, url, transport.DialConfig{})
	if err != nil {
		t.Fatal(err)
	}
	msgs := make(chan transport.Message, 1024)
	go func() {
		defer close(msgs)
		for {
			m, err := conn.Read()
			if err != nil {
				return
			}
			conn.Handled()
			msgs <- m
		}
	}()
	t.Cleanup(func() { conn.Abort() })
	return &Conn{t: t, Conn: conn, Welcome: w, Msgs: msgs, App: app, Wait: wait}
}

// Next returns the next message, or nil if the connection ended first.
func (r *Conn) Next() transport.Message {
	r.t.Helper()
	return r.NextWithin(r.Wait)
}

// NextWithin is Next with a bound of its own.
func (r *Conn) NextWithin(d time.Duration) transport.Message {
	r.t.Helper()
	select {
	case m := <-r.Msgs:
		return m
	case <-time.After(d):
		r.t.Fatalf("no message within %v", d)
		return nil
	}
}

// ID returns a new request id.
func (r *Conn) ID() string {
	r.seq++
	return "r" + strconv.Itoa(r.seq)
}

// Request sends m and returns the next message: its answer, unless the
// backend said something else first (the test sees what).
func (r *Conn) Request(m transport.Message) transport.Message {
	r.t.Helper()
	if err := r.Conn.Send(m); err != nil {
		r.t.Fatal(err)
	}
	return r.Next()
}

// Create asks for an instance of user on device with the token jwt.
func (r *Conn) Create(user, device, jwt string) transport.Message {
	r.t.Helper()
	return r.Request(&transport.CreateInstance{ID: r.ID(), ApplicationKey: r.App, UserID: user, DeviceID: device, SDKVersion: "rawclient", JWT: jwt})
}

// MustCreate is Create, failing the test unless the instance is created.
func (r *Conn) MustCreate(user, device, jwt string) transport.Instance {
	r.t.Helper()
	m := r.Create(user, device, jwt)
	ic, ok := m.(*transport.InstanceCreated)
	if !ok {
		r.t.Fatalf("createInstance: %#v", m)
	}
	return ic.Instance
}

// Authenticate authenticates as user with inst, answering this
// connection's challenge.
func (r *Conn) Authenticate(user string, inst transport.Instance) transport.Message {
	r.t.Helper()
	proof, err := transport.Proof(inst.Secret, r.Welcome.Challenge, inst.ID, inst.DeviceID)
	if err != nil {
		r.t.Fatal(err)
	}
	return r.Request(&transport.Authenticate{ID: r.ID(), ApplicationKey: r.App, UserID: user, InstanceID: inst.ID, DeviceID: inst.DeviceID, Proof: proof})
}

// ErrorCode returns the code of an error message, "" for anything else.
func ErrorCode(m transport.Message) string {
	if e, ok := m.(*transport.ErrorMessage); ok {
		return e.Error.Code
	}
	return ""
}

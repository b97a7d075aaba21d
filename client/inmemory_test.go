package client_test

import (
	"errors"
	"testing"

	"github.com/sinchsim/sinchsim/client"
	"github.com/sinchsim/sinchsim/fakebackend"
	"github.com/sinchsim/sinchsim/transport"
)

// memWorld is world over the in-memory transport: RunT with InMemory and
// clients with WithInMemory.
func memWorld(t testing.TB, n int) (*fakebackend.Server, []*client.SinchClient) {
	t.Helper()
	return worldOn(t, fakebackend.Config{InMemory: true}, n, client.WithInMemory())
}

// The newcomer's month over the in-memory transport is exact too, and
// gives the same per-user events as over WebSocket.
func TestAdvanceAMonthInMemory(t *testing.T) {
	srv, cs := memWorld(t, 20)
	if err := srv.Advance(30 * day); err != nil {
		t.Fatal(err)
	}
	checkMonth(t, cs)
	ws, _ := world(t, 20)
	if err := ws.Advance(30 * day); err != nil {
		t.Fatal(err)
	}
	if a, b := perUser(srv), perUser(ws); a != b {
		t.Fatalf("in memory and over WebSocket differ:\n%s\nvs\n%s", a, b)
	}
}

// A client that asks for the in-memory transport of a backend that does
// not serve one fails to connect, saying why.
func TestInMemoryWithoutMemoryBackend(t *testing.T) {
	srv := fakebackend.RunT(t)
	app := srv.Application()
	c, err := client.New(app.Key, srv.URL(), "alice", client.WithClock(srv.Clock()), client.WithInMemory(),
		client.WithReconnectLimit(0), client.WithListener(failRenewals{srv.Minter()}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.TerminateGracefully)
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Advance(0); err != nil {
		t.Fatal(err)
	}
	if err := c.Err(); !errors.Is(err, transport.ErrNoMemListener) {
		t.Fatalf("Err = %v, want ErrNoMemListener", err)
	}
}

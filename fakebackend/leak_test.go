package fakebackend

import (
	"context"
	"testing"

	"go.uber.org/goleak"

	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/transport"
)

// TestNoGoroutinesLeftAfterClose: connected clients, an expiry timer armed,
// a client that never answers the close handshake; after Close nothing of
// the server remains.
func TestNoGoroutinesLeftAfterClose(t *testing.T) {
	defer goleak.VerifyNone(t)
	s, err := NewServer(Config{Clock: RunTClock(), Applications: []Application{NewApplication()}, Conn: quickClose})
	if err != nil {
		t.Fatal(err)
	}
	app := s.Application()
	var conns []*transport.Conn
	for i := 0; i < 5; i++ {
		c, _, err := transport.Dial(context.Background(), s.URL(), transport.DialConfig{})
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		jwt, _ := s.Minter().MintWith(credentials.MintParams{UserID: "u" + itoa(int64(i)), InstanceTTL: 72 * 3600e9})
		c.Send(&transport.CreateInstance{ID: "1", ApplicationKey: app.Key, UserID: "u" + itoa(int64(i)), DeviceID: "d", Capabilities: []string{}, SDKVersion: "t", JWT: jwt})
		if _, err := c.Read(); err != nil {
			t.Fatal(err)
		}
	}
	// One raw client that will never read again.
	dialRaw(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, c := range conns {
		for {
			if _, err := c.Read(); err != nil {
				break
			}
		}
		<-c.Done()
		if code, _ := c.CloseCode(); code != 1001 {
			t.Errorf("client saw close code %d, want 1001 (going away)", code)
		}
	}
}

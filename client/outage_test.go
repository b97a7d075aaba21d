package client_test

import (
	"testing"
	"time"

	"github.com/sinchsim/sinchsim/client"
	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/fakebackend"
	"github.com/sinchsim/sinchsim/registration"
)

// A backend that is down refuses connections and drops the open ones; its
// clients keep trying with backoff, and once it is up again they
// authenticate with the instance they had, over either transport.
func TestBackendDownAndUp(t *testing.T) {
	for _, inMemory := range []bool{false, true} {
		name := "websocket"
		if inMemory {
			name = "in memory"
		}
		t.Run(name, func(t *testing.T) {
			srv := fakebackend.RunT(t, fakebackend.Config{InMemory: inMemory})
			app := srv.Application()
			p, err := credentials.NewSelfSignedProvider(credentials.MinterConfig{
				ApplicationKey: app.Key, Secret: app.Secret, Clock: srv.Clock(), InstanceTTL: 72 * time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			opts := []client.Option{client.WithClock(srv.Clock()), client.WithCredentialsProvider(p),
				client.WithInstanceTTL(true), client.WithReconnectLimit(-1)}
			if inMemory {
				opts = append(opts, client.WithInMemory())
			}
			c, err := client.New(app.Key, srv.URL(), "alice", opts...)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.TerminateGracefully)
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			if err := srv.Advance(time.Hour); err != nil {
				t.Fatal(err)
			}
			before, _ := c.Instance()
			if err := srv.SetDown(true); err != nil {
				t.Fatal(err)
			}
			if err := srv.Advance(time.Hour); err != nil {
				t.Fatal(err)
			}
			// Backoff 0.5 s, 1 s, ... capped at 30 s: an hour is well over
			// 100 refused attempts.
			if st := c.Stats(); c.State() != registration.StateReconnecting || st.ConnectionLosses < 100 || srv.ConnectedClients() != 0 {
				t.Fatalf("down: state %s, %d connection losses, %d connected", c.State(), st.ConnectionLosses, srv.ConnectedClients())
			}
			if err := srv.SetDown(false); err != nil {
				t.Fatal(err)
			}
			if err := srv.Advance(time.Minute); err != nil {
				t.Fatal(err)
			}
			after, _ := c.Instance()
			if st := c.Stats(); c.State() != registration.StateStarted || st.Authentications != 1 || st.InstancesCreated != 1 || after.ID != before.ID {
				t.Fatalf("up again: state %s, stats %+v, instance %s then %s", c.State(), st, before.ID, after.ID)
			}
		})
	}
}

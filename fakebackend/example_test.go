package fakebackend_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/fakebackend"
	"github.com/sinchsim/sinchsim/transport"
)

// A backend on a mock clock, one registration over the raw protocol, and
// the decision log.
func ExampleNewServer() {
	app := fakebackend.Application{Key: "example-app", Secret: credentials.MustParseSecret("ax8hTTQJF0OPXL32r1LHMA==")}
	srv, err := fakebackend.NewServer(fakebackend.Config{Clock: fakebackend.RunTClock(), Applications: []fakebackend.Application{app}})
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	ctx := context.Background()
	conn, welcome, err := transport.Dial(ctx, srv.URL(), transport.DialConfig{})
	if err != nil {
		panic(err)
	}
	fmt.Println("server time:", welcome.ServerTime.Format(time.RFC3339))

	jwt, _ := srv.Minter().MintWith(credentials.MintParams{UserID: "alice", InstanceTTL: 72 * time.Hour})
	conn.Send(&transport.CreateInstance{ID: "1", ApplicationKey: app.Key, UserID: "alice", DeviceID: "phone",
		Capabilities: []string{"calling"}, SDKVersion: "example", JWT: jwt})
	reply, _ := conn.Read()
	created := reply.(*transport.InstanceCreated)
	fmt.Println("instance expires:", created.Instance.ExpireAt.Format(time.RFC3339))

	// The same token again: its nonce is spent.
	conn.Send(&transport.CreateInstance{ID: "2", ApplicationKey: app.Key, UserID: "alice", DeviceID: "phone",
		Capabilities: []string{"calling"}, SDKVersion: "example", JWT: jwt})
	reply, _ = conn.Read()
	fmt.Println("replay:", reply.(*transport.ErrorMessage).Error.Code)

	for _, e := range srv.Events() {
		fmt.Println("event:", e.Kind, e.User, e.Code)
	}
	conn.Close(transport.CloseNormal, "")
	for {
		if _, err := conn.Read(); err != nil {
			break
		}
	}
	// Output:
	// server time: 2026-01-01T00:00:00Z
	// instance expires: 2026-01-04T00:00:00Z
	// replay: nonce_reused
	// event: createInstance alice ok
	// event: createInstance alice nonce_reused
}

// An unstarted server is set up before it listens, as with
// httptest.NewUnstartedServer: here an application is added, then Start
// opens the port.
func ExampleNewUnstartedServer() {
	srv, err := fakebackend.NewUnstartedServer(fakebackend.Config{Clock: fakebackend.RunTClock()})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	if err := srv.AddApplication(fakebackend.NewApplication()); err != nil {
		panic(err)
	}
	fmt.Println("listening before Start:", strings.HasPrefix(srv.URL(), "ws://127.0.0.1:"))
	if err := srv.Start(); err != nil {
		panic(err)
	}
	fmt.Println("listening after Start:", strings.HasPrefix(srv.URL(), "ws://127.0.0.1:"))
	fmt.Println("applications:", len(srv.Applications()))
	// Output:
	// listening before Start: false
	// listening after Start: true
	// applications: 1
}

// Time control: an instance with a 3-day TTL is gone after Advance.
func ExampleServer_Advance() {
	srv, err := fakebackend.NewServer(fakebackend.Config{Clock: fakebackend.RunTClock(), Applications: []fakebackend.Application{fakebackend.NewApplication()}})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	conn, _, _ := transport.Dial(context.Background(), srv.URL(), transport.DialConfig{})
	defer conn.Abort()
	jwt, _ := srv.Minter().MintWith(credentials.MintParams{UserID: "bob", InstanceTTL: 72 * time.Hour})
	conn.Send(&transport.CreateInstance{ID: "1", ApplicationKey: srv.Application().Key, UserID: "bob", DeviceID: "d",
		Capabilities: []string{}, SDKVersion: "example", JWT: jwt})
	conn.Read()

	srv.Advance(72 * time.Hour)
	push, _ := conn.Read() // the backend tells the connected client
	revoked := push.(*transport.InstanceRevoked)
	fmt.Println(revoked.Code)
	fmt.Println("expired:", srv.Instances()[0].ExpiredAt(srv.Now()))
	// Output:
	// instance_expired
	// expired: true
}

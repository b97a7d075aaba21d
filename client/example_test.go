package client_test

import (
	"context"
	"fmt"
	"time"

	"github.com/sinchsim/sinchsim/client"
	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/fakebackend"
)

// One client, its tokens from a provider, against an in-process backend.
// A second client with the same device store starts without a token.
func ExampleSinchClient() {
	srv, err := fakebackend.NewServer(fakebackend.Config{Clock: fakebackend.RunTClock(), Applications: []fakebackend.Application{fakebackend.NewApplication()}})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	app := srv.Application()
	tokens := credentials.ProviderFunc(func(ctx context.Context, r credentials.Request) (string, error) {
		fmt.Println("token requested for", r.UserID)
		return srv.Minter().Mint(r.UserID)
	})
	store := client.NewMemoryDeviceStore()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	for run := 1; run <= 2; run++ {
		c, err := client.New(app.Key, srv.URL(), "alice",
			client.WithClock(srv.Clock()), client.WithCredentialsProvider(tokens), client.WithDeviceStore(store))
		if err != nil {
			panic(err)
		}
		if err := c.Start(); err != nil {
			panic(err)
		}
		if err := c.WaitStarted(ctx); err != nil {
			panic(err)
		}
		st := c.Stats()
		fmt.Printf("run %d: %s, instances created %d, authentications %d\n", run, c.State(), st.InstancesCreated, st.Authentications)
		c.TerminateGracefully()
	}
	fmt.Println("instances on the backend:", len(srv.Instances()))
	// Output:
	// token requested for alice
	// run 1: started, instances created 1, authentications 0
	// run 2: started, instances created 0, authentications 1
	// instances on the backend: 1
}

// Every state change, in order, from a Subscription; the listener answers
// OnCredentialsRequired itself.
func ExampleSinchClient_Subscribe() {
	srv, err := fakebackend.NewServer(fakebackend.Config{Clock: fakebackend.RunTClock(), Applications: []fakebackend.Application{fakebackend.NewApplication()}})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	listener := &client.ListenerFuncs{
		CredentialsRequired: func(c *client.SinchClient, reg *client.ClientRegistration) {
			jwt, err := srv.Minter().Mint(c.UserID())
			if err != nil {
				reg.RegisterFailed(err)
				return
			}
			reg.Register(jwt)
		},
	}
	c, _ := client.New(srv.Application().Key, srv.URL(), "bob", client.WithClock(srv.Clock()), client.WithListener(listener))
	sub := c.Subscribe()
	c.Start()
	c.WaitStarted(context.Background())
	c.TerminateGracefully()
	for {
		t, err := sub.Next(context.Background())
		if err != nil {
			break
		}
		fmt.Printf("%s -> %s (%s)\n", t.From, t.To, t.Event)
		if t.To.Terminal() {
			sub.Close()
		}
	}
	// Output:
	// idle -> connecting (start)
	// connecting -> awaiting_credentials (require_credentials)
	// awaiting_credentials -> registering (register)
	// registering -> started (registered)
	// started -> terminated (terminate)
}

// A month on the backend's virtual clock, in one call: when Advance
// returns, every renewal has happened and the counts are final.
func ExampleSinchClient_month() {
	srv, err := fakebackend.NewServer(fakebackend.Config{Clock: fakebackend.RunTClock(), Applications: []fakebackend.Application{fakebackend.NewApplication()}})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	app := srv.Application()
	p, err := credentials.NewSelfSignedProvider(credentials.MinterConfig{
		ApplicationKey: app.Key, Secret: app.Secret, Clock: srv.Clock(), InstanceTTL: 72 * time.Hour})
	if err != nil {
		panic(err)
	}
	c, err := client.New(app.Key, srv.URL(), "alice", client.WithClock(srv.Clock()),
		client.WithCredentialsProvider(p), client.WithInstanceTTL(true))
	if err != nil {
		panic(err)
	}
	defer c.TerminateGracefully()
	if err := c.Start(); err != nil {
		panic(err)
	}
	if err := srv.Advance(30 * 24 * time.Hour); err != nil {
		panic(err)
	}
	st := c.Stats()
	inst, _ := c.Instance()
	fmt.Printf("renewals %d, expiries %d, instances %d\n", st.Renewals, st.Expiries, st.InstancesCreated)
	fmt.Println("expires", inst.ExpireAt.Format(time.RFC3339))
	// Output:
	// renewals 15, expiries 0, instances 1
	// expires 2026-02-03T00:00:00Z
}

// Two registered users call each other on a virtual clock: bob answers
// what rings, alice hangs up after a minute on the line. Advance returns
// once every consequence has happened, so the calls' states are final.
func ExampleCallClient_CallUser() {
	srv, err := fakebackend.NewServer(fakebackend.Config{Clock: fakebackend.RunTClock(), Applications: []fakebackend.Application{fakebackend.NewApplication()}})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	app := srv.Application()
	tokens := credentials.ProviderFunc(func(ctx context.Context, r credentials.Request) (string, error) {
		return srv.Minter().Mint(r.UserID)
	})
	bobs := &client.ListenerFuncs{
		IncomingCall: func(cc *client.CallClient, call *client.Call) {
			fmt.Println("bob: incoming call from", call.RemoteUserID(), call.Headers()["subject"])
			call.Answer()
		},
		CallEnded: func(call *client.Call) { fmt.Println("bob: call ended,", call.EndCause()) },
	}
	var clients []*client.SinchClient
	for _, u := range []struct {
		user string
		lis  client.Listener
	}{{"alice", &client.ListenerFuncs{}}, {"bob", bobs}} {
		c, err := client.New(app.Key, srv.URL(), u.user, client.WithClock(srv.Clock()), client.WithCredentialsProvider(tokens), client.WithListener(u.lis))
		if err != nil {
			panic(err)
		}
		defer c.TerminateGracefully()
		c.Start()
		clients = append(clients, c)
	}
	srv.Advance(0) // both register

	call, err := clients[0].CallClient().CallUser(context.Background(), "bob", map[string]string{"subject": "lunch?"})
	if err != nil {
		panic(err)
	}
	srv.Advance(time.Minute)
	fmt.Println("alice: call", call.State())
	call.Hangup()
	srv.Advance(0)
	fmt.Println("alice: call", call.State(), call.EndCause())
	// Output:
	// bob: incoming call from alice lunch?
	// alice: call established
	// bob: call ended, hung_up
	// alice: call ended hung_up
}

package redisstore_test

import (
	"context"
	"testing"

	"github.com/sinchsim/sinchsim/client"
	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/registration"
)

// TestClientFailsOverToAnotherReplica: a client with two hosts whose
// replica goes away reconnects to the other one and authenticates there
// with its stored instance: no new instance.
func TestClientFailsOverToAnotherReplica(t *testing.T) {
	c := newCluster(t, 2, clusterOpts{})
	provider, err := credentials.NewSelfSignedProvider(credentials.MinterConfig{ApplicationKey: testApp.Key, Secret: testApp.Secret})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := client.New(testApp.Key, c.srvs[0].URL(), "mia",
		client.WithEnvironmentHosts(c.srvs[1].URL()), client.WithCredentialsProvider(provider),
		client.WithBackoff(registration.Backoff{Jitter: -1}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.TerminateGracefully()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	sub := cl.Subscribe()
	defer sub.Close()
	if err := cl.Start(); err != nil {
		t.Fatal(err)
	}
	if err := cl.WaitStarted(ctx); err != nil {
		t.Fatal(err)
	}
	first := cl.URL()
	gone, other := c.srvs[0], c.srvs[1]
	if first == other.URL() {
		gone, other = other, gone
	}
	gone.Close()
	// Wait for the way back: reconnecting, then started again.
	for reconnecting := false; ; {
		tr, err := sub.Next(ctx)
		if err != nil {
			t.Fatalf("waiting for the client to come back: %v (state %s)", err, cl.State())
		}
		if tr.To == registration.StateReconnecting {
			reconnecting = true
		}
		if reconnecting && tr.To == registration.StateStarted {
			break
		}
	}
	if cl.URL() != other.URL() {
		t.Fatalf("the client came back on %s, want %s", cl.URL(), other.URL())
	}
	_ = cl.WaitIdle(ctx)
	st := cl.Stats()
	if st.InstancesCreated != 1 || st.Authentications != 1 {
		t.Fatalf("stats %+v: want 1 instance created, then 1 authentication on the other replica", st)
	}
	if n := len(other.Instances()); n != 1 {
		t.Fatalf("%d instances", n)
	}
}

package reliability

import (
	"testing"
	"time"

	"github.com/sinchsim/sinchsim/client"
	"github.com/sinchsim/sinchsim/fakebackend"
	"github.com/sinchsim/sinchsim/registration"
	"github.com/sinchsim/sinchsim/transport"
)

// TestRestartWithDataDirUnderLoad restarts a backend with a data directory
// while N clients are connected: every client reconnects and
// authenticates with its stored instance, no instance is created twice and
// none is lost.
func TestRestartWithDataDirUnderLoad(t *testing.T) {
	n := size(500, 500, 100, 500)
	restarts := size(3, 3, 1, 10)
	s := mockServer(t, fakebackend.Config{DataDir: t.TempDir()})
	bots := newBots(t, s, n, "restart-", client.WithCredentialsProvider(provider(t, s, 0)))
	startAll(t, bots)
	waitState(t, bots, 120*time.Second, registration.StateStarted, registration.StateFailed)
	waitIdle(t, s, bots, 60*time.Second)
	for _, b := range bots {
		if b.c.State() != registration.StateStarted {
			t.Fatalf("%s did not start: %v", b.user, b.c.Err())
		}
	}
	before := map[string]string{} // user -> instance id
	for _, in := range s.Instances() {
		before[in.User] = in.ID
	}
	if len(before) != n {
		t.Fatalf("%d users have an instance, want %d", len(before), n)
	}

	for r := 1; r <= restarts; r++ {
		if err := s.Restart(); err != nil {
			t.Fatal(err)
		}
		// Every client has seen its connection go (Restart waited for the
		// close handshakes); none can reconnect before the clock moves.
		waitState(t, bots, 60*time.Second, registration.StateReconnecting)
		steps := settle(t, s, bots, time.Second, 20)
		t.Logf("restart %d: %d clients reconnected in %d clock steps", r, n, steps)
	}

	// Outcome: every client started again on its old instance.
	created, authenticated := 0, 0
	for _, b := range bots {
		if b.c.State() != registration.StateStarted {
			t.Errorf("%s ended %s: %v", b.user, b.c.State(), b.c.Err())
			continue
		}
		st := b.c.Stats()
		created += st.InstancesCreated
		authenticated += st.Authentications
		if st.InstancesCreated != 1 || st.Authentications != restarts {
			t.Errorf("%s: %d instances created, %d authentications; want 1 and %d", b.user, st.InstancesCreated, st.Authentications, restarts)
		}
		if rec := b.record(t); rec.InstanceID != before[b.user] {
			t.Errorf("%s holds instance %q, the backend gave it %q", b.user, rec.InstanceID, before[b.user])
		}
	}
	after := s.Instances()
	lost := 0
	for user, id := range before {
		if in, ok := s.Instance(id); !ok || in.User != user {
			lost++
		}
	}
	perUser := map[string]int{}
	for _, e := range s.Events() {
		if e.Kind == transport.TypeCreateInstance && e.Code == fakebackend.CodeOK {
			perUser[e.User]++
		}
	}
	twice := 0
	for _, k := range perUser {
		if k > 1 {
			twice++
		}
	}
	if len(after) != n || lost != 0 || twice != 0 || created != n || authenticated != n*restarts || s.ConnectedClients() != n {
		t.Fatalf("after %d restarts: %d instances (want %d), %d lost, %d users created twice, %d creations, %d authentications (want %d), %d connected",
			restarts, len(after), n, lost, twice, created, authenticated, n*restarts, s.ConnectedClients())
	}
	t.Logf("%d clients survive %d restarts with a data dir: %d reconnected each time, 0 instances created twice, 0 lost", n, restarts, n)
}

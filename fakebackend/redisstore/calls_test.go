package redisstore_test

import (
	"testing"
	"time"

	"github.com/sinchsim/sinchsim/fakebackend"
	"github.com/sinchsim/sinchsim/internal/rawclient"
	"github.com/sinchsim/sinchsim/transport"
)

// The tests of calls whose caller and callee are on different replicas:
// the call lives on the caller's replica and reaches the callee's
// connection over the bus, and the callee's answers travel back.

// want fails the test unless m is a message of type T; it returns it.
func want[T transport.Message](t *testing.T, m transport.Message) T {
	t.Helper()
	v, ok := m.(T)
	if !ok {
		var zero T
		t.Fatalf("got %#v, want a %T", m, zero)
	}
	return v
}

// callAcross places a call from caller on A to callee on B and returns
// the call id, once the callee's connection rings.
func callAcross(t *testing.T, onA, onB *rawclient.Conn, callee string) string {
	t.Helper()
	prog := want[*transport.CallProgressing](t, onA.Request(&transport.CallUser{ID: onA.ID(), CalleeUserID: callee}))
	in := want[*transport.IncomingCall](t, onB.Next())
	if in.CallID != prog.CallID || in.CallerUserID != "alice" {
		t.Fatalf("incomingCall %#v for call %s", in, prog.CallID)
	}
	return prog.CallID
}

// aliceCalls starts n replicas, registers alice at the first and callee
// at replica at, and places alice's call to callee.
func aliceCalls(t *testing.T, n, at int, callee string) (onA, onCallee *rawclient.Conn, id string) {
	t.Helper()
	c := newCluster(t, n, clusterOpts{})
	onA, onCallee = dial(t, c.srvs[0]), dial(t, c.srvs[at])
	onA.MustCreate("alice", "phone", c.token(t, "alice", 0))
	onCallee.MustCreate(callee, "phone", c.token(t, callee, 0))
	return onA, onCallee, callAcross(t, onA, onCallee, callee)
}

func TestReplicasCallAnsweredAndHungUpAcross(t *testing.T) {
	onA, onB, id := aliceCalls(t, 2, 1, "bob")

	est := want[*transport.CallEstablished](t, onB.Request(&transport.AnswerCall{ID: onB.ID(), CallID: id}))
	if est.ID == "" || est.CallID != id {
		t.Fatalf("the answer's reply: %#v", est)
	}
	if est := want[*transport.CallEstablished](t, onA.Next()); est.CallID != id || est.ID != "" {
		t.Fatalf("the caller is told: %#v", est)
	}
	// The callee hangs up, from its replica.
	end := want[*transport.CallEnded](t, onB.Request(&transport.HangupCall{ID: onB.ID(), CallID: id}))
	if end.Reason != transport.EndHungUp || end.ID == "" {
		t.Fatalf("the hangup's reply: %#v", end)
	}
	if end := want[*transport.CallEnded](t, onA.Next()); end.Reason != transport.EndHungUp {
		t.Fatalf("the caller is told: %#v", end)
	}
	// The call is over everywhere: its home (A) refuses to act on it, and
	// B no longer knows it.
	if code := rawclient.ErrorCode(onA.Request(&transport.HangupCall{ID: onA.ID(), CallID: id})); code != transport.CodeCallNotFound {
		t.Fatalf("hanging up an ended call at its home: %q", code)
	}
	if code := rawclient.ErrorCode(onB.Request(&transport.HangupCall{ID: onB.ID(), CallID: id})); code != transport.CodeCallNotFound {
		t.Fatalf("hanging up an ended call: %q", code)
	}
}

func TestReplicasCallDeclinedAcross(t *testing.T) {
	onA, onC, id := aliceCalls(t, 3, 2, "carol")
	end := want[*transport.CallEnded](t, onC.Request(&transport.DeclineCall{ID: onC.ID(), CallID: id}))
	if end.Reason != transport.EndDeclined {
		t.Fatalf("the decline's reply: %#v", end)
	}
	if end := want[*transport.CallEnded](t, onA.Next()); end.Reason != transport.EndDeclined || end.CallID != id {
		t.Fatalf("the caller is told: %#v", end)
	}
}

// TestReplicasCallCalleeConnectionLostAcross: the callee's connection on
// another replica drops during the call; the caller's call ends.
func TestReplicasCallCalleeConnectionLostAcross(t *testing.T) {
	onA, onB, id := aliceCalls(t, 2, 1, "bob")
	want[*transport.CallEstablished](t, onB.Request(&transport.AnswerCall{ID: onB.ID(), CallID: id}))
	want[*transport.CallEstablished](t, onA.Next())
	onB.Conn.Abort()
	if end := want[*transport.CallEnded](t, onA.Next()); end.Reason != transport.EndHungUp || end.CallID != id {
		t.Fatalf("the caller is told: %#v", end)
	}
}

// TestReplicasCallPushedCalleeComesUpElsewhere: the callee has no
// connection, only a push token; the call rings on A with a push, and the
// callee's connection that comes up on B is rung and answers.
func TestReplicasCallPushedCalleeComesUpElsewhere(t *testing.T) {
	c := newCluster(t, 2, clusterOpts{})
	onA := dial(t, c.srvs[0])
	onA.MustCreate("alice", "phone", c.token(t, "alice", 0))
	first := dial(t, c.srvs[1])
	bob := first.MustCreate("bob", "phone", c.token(t, "bob", 0))
	want[*transport.PushTokenRegistered](t, first.Request(&transport.RegisterPushToken{ID: first.ID(), PushToken: "tok-bob", PushType: "fcm"}))
	first.Conn.Abort()
	waitReleased(t, c, bob.ID)

	prog := want[*transport.CallProgressing](t, onA.Request(&transport.CallUser{ID: onA.ID(), CalleeUserID: "bob"}))
	pushes := c.srvs[0].Pushes()
	if len(pushes) != 1 || pushes[0].CallID != prog.CallID || pushes[0].PushToken != "tok-bob" {
		t.Fatalf("pushes on A: %+v", pushes)
	}
	onB := dial(t, c.srvs[1])
	want[*transport.Authenticated](t, onB.Authenticate("bob", bob))
	in := want[*transport.IncomingCall](t, onB.Next())
	if in.CallID != prog.CallID {
		t.Fatalf("incomingCall %#v, want call %s", in, prog.CallID)
	}
	want[*transport.CallEstablished](t, onB.Request(&transport.AnswerCall{ID: onB.ID(), CallID: in.CallID}))
	want[*transport.CallEstablished](t, onA.Next())
}

// waitReleased waits until no connection holds instance id: the replica
// that held it has seen its connection end. Each look is a round trip to
// Redis, so the loop needs no pause of its own.
func waitReleased(t *testing.T, c *cluster, id string) {
	t.Helper()
	sh := c.srvs[0].Store().(fakebackend.Shared)
	for deadline := time.Now().Add(wait); time.Now().Before(deadline); {
		hs, err := sh.Holders([]string{id})
		if err != nil {
			t.Fatal(err)
		}
		if hs[0].Replica == "" {
			return
		}
	}
	t.Fatalf("instance %s is still held after %v", id, wait)
}

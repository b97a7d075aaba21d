package fakebackend

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/transport"
)

// The tests in this file drive calls over the wire with raw protocol
// clients (rule 15 in docs/RULES.md; "Calls" in docs/PROTOCOL.md).

// party is a raw connection registered as a user.
type party struct {
	*rawClient
	user, device, inst, secret string
}

// register connects and registers user on device; ttl 0: unlimited.
func register(t testing.TB, s *Server, user, device string, ttl time.Duration) *party {
	t.Helper()
	c := dialRaw(t, s)
	inst, secret, _ := instanceOf(t, c.create(s.Application().Key, user, device, mint(t, s, credentials.MintParams{UserID: user, InstanceTTL: ttl})))
	return &party{rawClient: c, user: user, device: device, inst: inst, secret: secret}
}

// reconnect is the party on a new connection, authenticated with its
// instance; the answer must be authenticated.
func (p *party) reconnect(t testing.TB, s *Server) *party {
	t.Helper()
	c := dialRaw(t, s)
	wantOK(t, c.authenticate(s.Application().Key, p.user, p.device, p.inst, p.secret), "authenticated")
	return &party{rawClient: c, user: p.user, device: p.device, inst: p.inst, secret: p.secret}
}

// offline registers user on device with a push token (none when token is
// ""), then closes the connection and waits until the backend has
// handled the close: the connection is in the world of s, so settling
// waits for it. It returns the party, to reconnect later.
func offline(t testing.TB, s *Server, user, device string, ttl time.Duration, token string) *party {
	t.Helper()
	c, _, err := transport.Dial(context.Background(), s.URL(), transport.DialConfig{World: s.world})
	if err != nil {
		t.Fatal(err)
	}
	if !c.InWorld() {
		t.Fatal("the connection is not in the server's world")
	}
	read := func() transport.Message {
		t.Helper()
		m, err := c.Read()
		if err != nil {
			t.Fatal(err)
		}
		c.Handled()
		return m
	}
	c.Send(&transport.CreateInstance{ID: "r1", ApplicationKey: s.Application().Key, UserID: user, DeviceID: device, Capabilities: []string{"calling", "push"},
		SDKVersion: "test", JWT: mint(t, s, credentials.MintParams{UserID: user, InstanceTTL: ttl})})
	created, ok := read().(*transport.InstanceCreated)
	if !ok {
		t.Fatal("createInstance was refused")
	}
	if token != "" {
		c.Send(&transport.RegisterPushToken{ID: "r2", PushToken: token, PushType: "fcm"})
		if _, ok := read().(*transport.PushTokenRegistered); !ok {
			t.Fatal("registerPushToken was refused")
		}
	}
	c.Shutdown(transport.CloseNormal, "")
	s.settle()
	if inst, _ := s.Instance(created.Instance.ID); s.views([]Instance{inst})[0].Connected {
		t.Fatal("the backend still counts the connection")
	}
	return &party{user: user, device: device, inst: created.Instance.ID, secret: created.Instance.Secret}
}

// call sends callUser and returns the call id of its callProgressing.
func (p *party) call(t testing.TB, callee string, headers map[string]string) string {
	t.Helper()
	m := map[string]any{"type": "callUser", "calleeUserId": callee}
	if headers != nil {
		m["headers"] = headers
	}
	r := p.request(m)
	wantOK(t, r, "callProgressing")
	id, _ := r["callId"].(string)
	if id == "" {
		t.Fatalf("callProgressing without callId: %v", r)
	}
	return id
}

// callRefused sends callUser and returns the error code of its answer.
func (p *party) callRefused(t testing.TB, callee string) map[string]any {
	t.Helper()
	r := p.request(map[string]any{"type": "callUser", "calleeUserId": callee})
	if r["type"] != "error" {
		t.Fatalf("callUser answered %v, want an error", r)
	}
	return r
}

// act sends answerCall, declineCall or hangupCall for callID.
func (p *party) act(typ, callID string) map[string]any {
	return p.request(map[string]any{"type": typ, "callId": callID})
}

// next reads the next message, which must be of type typ for callID.
func (p *party) next(t testing.TB, typ, callID string) map[string]any {
	t.Helper()
	m := p.recv()
	if m["type"] != typ || m["callId"] != callID {
		t.Fatalf("%s got %v, want %s for %s", p.user, m, typ, callID)
	}
	return m
}

// ended reads the next message, which must be callEnded for callID with
// reason (and no id: not an answer).
func (p *party) ended(t testing.TB, callID, reason string) {
	t.Helper()
	m := p.next(t, "callEnded", callID)
	if m["reason"] != reason {
		t.Fatalf("%s: callEnded reason %v, want %s", p.user, m["reason"], reason)
	}
	if _, ok := m["id"]; ok {
		t.Fatalf("%s: unsolicited callEnded carries an id: %v", p.user, m)
	}
}

// quiet checks that nothing is queued for p: the answer to a probe request
// is the next message.
func (p *party) quiet(t testing.TB) {
	t.Helper()
	wantCode(t, p.act("hangupCall", "call-probe"), "call_not_found")
}

// answered reads the answer to an act, which must be typ for callID with
// reason (callEnded) and the request's id.
func wantAnswer(t testing.TB, r map[string]any, typ, callID, reason string) {
	t.Helper()
	if r["type"] != typ || r["callId"] != callID || (reason != "" && r["reason"] != reason) {
		t.Fatalf("answer %v, want %s for %s %s", r, typ, callID, reason)
	}
}

func TestCallAnswered(t *testing.T) {
	s := RunT(t)
	alice, bob := register(t, s, "alice", "a1", 0), register(t, s, "bob", "b1", 0)
	id := alice.call(t, "bob", map[string]string{"subject": "lunch?", "x-id": "7"})
	in := bob.next(t, "incomingCall", id)
	if in["callerUserId"] != "alice" || in["headers"].(map[string]any)["subject"] != "lunch?" || len(in["headers"].(map[string]any)) != 2 {
		t.Fatalf("incomingCall = %v", in)
	}
	wantAnswer(t, bob.act("answerCall", id), "callEstablished", id, "")
	if m := alice.next(t, "callEstablished", id); m["id"] != nil {
		t.Fatalf("the caller's callEstablished carries an id: %v", m)
	}
	wantAnswer(t, alice.act("hangupCall", id), "callEnded", id, "hung_up")
	bob.ended(t, id, "hung_up")
	alice.quiet(t)
	bob.quiet(t)
	if ev := lastEvent(s, KindCallEnd); ev.Code != "hung_up" || ev.Call != id || ev.User != "alice" {
		t.Fatalf("callEnd event = %+v", ev)
	}
	if ev := lastEvent(s, transport.TypeAnswerCall); ev.Code != CodeOK || ev.User != "bob" || ev.Call != id {
		t.Fatalf("answerCall event = %+v", ev)
	}
}

func TestCallDeclined(t *testing.T) {
	for _, typ := range []string{"declineCall", "hangupCall"} {
		t.Run(typ, func(t *testing.T) {
			s := RunT(t)
			alice, bob := register(t, s, "alice", "a1", 0), register(t, s, "bob", "b1", 0)
			id := alice.call(t, "bob", nil)
			if in := bob.next(t, "incomingCall", id); in["headers"] != nil {
				t.Fatalf("incomingCall has headers the caller did not send: %v", in)
			}
			wantAnswer(t, bob.act(typ, id), "callEnded", id, "declined")
			alice.ended(t, id, "declined")
			// Over: nobody can act on it.
			wantCode(t, bob.act("answerCall", id), "call_not_found")
			wantCode(t, alice.act("hangupCall", id), "call_not_found")
		})
	}
}

// TestCallNoAnswer: on the virtual clock, a call rings for exactly the
// answer timeout.
func TestCallNoAnswer(t *testing.T) {
	s := RunT(t)
	alice, bob := register(t, s, "alice", "a1", 0), register(t, s, "bob", "b1", 0)
	id := alice.call(t, "bob", nil)
	bob.next(t, "incomingCall", id)
	if err := s.Advance(DefaultCallAnswerTimeout - time.Second); err != nil {
		t.Fatal(err)
	}
	alice.quiet(t)
	bob.quiet(t)
	if err := s.Advance(time.Second); err != nil {
		t.Fatal(err)
	}
	alice.ended(t, id, "no_answer")
	bob.ended(t, id, "no_answer")
	wantCode(t, bob.act("answerCall", id), "call_not_found")
	if ev := lastEvent(s, KindCallEnd); ev.Code != "no_answer" || !ev.Time.Equal(DefaultMockTime.Add(DefaultCallAnswerTimeout)) {
		t.Fatalf("callEnd event = %+v", ev)
	}

	// A policy sets the timeout; an answered call has none.
	s2 := RunT(t, Config{Policy: Policy{CallAnswerTimeout: 10 * time.Second}})
	alice, bob = register(t, s2, "alice", "a1", 0), register(t, s2, "bob", "b1", 0)
	id = alice.call(t, "bob", nil)
	bob.next(t, "incomingCall", id)
	s2.Advance(10 * time.Second)
	alice.ended(t, id, "no_answer")
	bob.ended(t, id, "no_answer")
	id = alice.call(t, "bob", nil)
	bob.next(t, "incomingCall", id)
	bob.act("answerCall", id)
	alice.next(t, "callEstablished", id)
	s2.Advance(time.Hour)
	alice.quiet(t)
	bob.quiet(t)
}

// TestCallerExpired: a connection whose instance expired cannot call:
// instance_expired, also after the expiry unbound it; a connection never
// bound gets not_authenticated.
func TestCallerExpired(t *testing.T) {
	s := RunT(t)
	alice := register(t, s, "alice", "a1", 3*day)
	register(t, s, "bob", "b1", 0)
	s.Advance(3 * day)
	if got := pushCode(t, alice.rawClient, alice.inst); got != "instance_expired" {
		t.Fatalf("instanceRevoked code %s", got)
	}
	// A refusal is published after its answer is queued: wait for it.
	events, stop := s.Subscribe(16)
	defer stop()
	r := alice.callRefused(t, "bob")
	wantCode(t, r, "instance_expired")
	for done := false; !done; {
		select {
		case ev := <-events:
			if ev.Kind == transport.TypeCallUser {
				if ev.Code != "instance_expired" || ev.Instance != alice.inst {
					t.Fatalf("callUser event = %+v", ev)
				}
				done = true
			}
		case <-time.After(wireTimeout):
			t.Fatal("no callUser event")
		}
	}
	wantCode(t, (&party{rawClient: dialRaw(t, s)}).callRefused(t, "bob"), "not_authenticated")
	// Registering anew lifts it.
	instanceOf(t, alice.create(s.Application().Key, "alice", "a1", mint(t, s, credentials.MintParams{UserID: "alice", InstanceTTL: 3 * day})))
	alice.call(t, "bob", nil)
}

// TestCalleeUnavailable: an expired instance never rings, whether its
// connection is open (unbound by the expiry) or it is offline with a push
// token; neither does a user without instances.
func TestCalleeUnavailable(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T, s *Server)
	}{
		{"expired while connected", func(t *testing.T, s *Server) {
			bob := register(t, s, "bob", "b1", 3*day)
			s.Advance(3 * day)
			pushCode(t, bob.rawClient, bob.inst)
		}},
		{"expired while offline with a push token", func(t *testing.T, s *Server) {
			offline(t, s, "bob", "b1", 3*day, "tok-b")
			s.Advance(3 * day)
		}},
		{"offline without a push token", func(t *testing.T, s *Server) {
			offline(t, s, "bob", "b1", 0, "")
		}},
		{"never registered", func(t *testing.T, s *Server) {}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := RunT(t)
			alice := register(t, s, "alice", "a1", 0)
			tc.setup(t, s)
			id := alice.call(t, "bob", nil)
			alice.ended(t, id, "callee_unavailable")
			if n := len(s.Pushes()); n != 0 {
				t.Fatalf("%d pushes sent", n)
			}
			wantCode(t, alice.act("hangupCall", id), "call_not_found")
		})
	}
}

// TestPushThenConnectAndAnswer: the callee is offline with a live instance
// and a push token: a push is recorded and posted, the call rings, the
// callee connects and answers.
func TestPushThenConnectAndAnswer(t *testing.T) {
	posted := make(chan Push, 1)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p Push
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&p) != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		posted <- p
	}))
	defer hook.Close()
	s := RunT(t, Config{PushWebhook: hook.URL})
	alice, bob := register(t, s, "alice", "a1", 0), offline(t, s, "bob", "b1", 3*day, "tok-b")

	id := alice.call(t, "bob", map[string]string{"subject": "hi"})
	ps := s.Pushes()
	want := Push{Seq: 1, Time: DefaultMockTime, CallID: id, Application: s.Application().Key, User: "bob", Instance: bob.inst, Device: "b1",
		PushToken: "tok-b", PushType: "fcm", CallerUserID: "alice", Headers: map[string]string{"subject": "hi"}}
	if len(ps) != 1 || !pushEqual(ps[0], want) {
		t.Fatalf("Pushes() = %+v, want %+v", ps, want)
	}
	select {
	case p := <-posted:
		if !pushEqual(p, want) {
			t.Fatalf("webhook got %+v, want %+v", p, want)
		}
	case <-time.After(wireTimeout):
		t.Fatal("the webhook got no push")
	}
	code, body := adminDo(t, s, "GET", "/admin/pushes", "", "")
	if list, _ := body["pushes"].([]any); code != 200 || len(list) != 1 || list[0].(map[string]any)["callId"] != id {
		t.Fatalf("GET /admin/pushes = %d %v", code, body)
	}
	if code, body := adminDo(t, s, "GET", "/admin/pushes?since=1", "", ""); code != 200 || len(body["pushes"].([]any)) != 0 {
		t.Fatalf("GET /admin/pushes?since=1 = %d %v", code, body)
	}

	s.Advance(30 * time.Second) // the device wakes up within the timeout
	bob2 := bob.reconnect(t, s)
	bob2.next(t, "incomingCall", id)
	wantAnswer(t, bob2.act("answerCall", id), "callEstablished", id, "")
	alice.next(t, "callEstablished", id)
	s.Advance(time.Minute)
	alice.quiet(t)
}

func pushEqual(a, b Push) bool {
	return a.Seq == b.Seq && a.Time.Equal(b.Time) && a.CallID == b.CallID && a.Application == b.Application && a.User == b.User &&
		a.Instance == b.Instance && a.Device == b.Device && a.PushToken == b.PushToken && a.PushType == b.PushType &&
		a.CallerUserID == b.CallerUserID && strings.Join(mapPairs(a.Headers), ",") == strings.Join(mapPairs(b.Headers), ",")
}

func mapPairs(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

// TestHangupWhileRinging: the caller hangs up before an answer: canceled.
func TestHangupWhileRinging(t *testing.T) {
	s := RunT(t)
	alice, bob := register(t, s, "alice", "a1", 0), register(t, s, "bob", "b1", 0)
	id := alice.call(t, "bob", nil)
	bob.next(t, "incomingCall", id)
	wantAnswer(t, alice.act("hangupCall", id), "callEnded", id, "canceled")
	bob.ended(t, id, "canceled")
	wantCode(t, bob.act("answerCall", id), "call_not_found")
	// The timeout that was armed does nothing any more.
	s.Advance(time.Minute)
	alice.quiet(t)
	bob.quiet(t)
}

// TestCallRateLimit: the calls one user places within a minute.
func TestCallRateLimit(t *testing.T) {
	s := RunT(t, Config{Policy: Policy{MaxCallsPerMinute: 2}})
	alice := register(t, s, "alice", "a1", 0)
	offline(t, s, "bob", "b1", 0, "")
	alice.ended(t, alice.call(t, "bob", nil), "callee_unavailable") // counts
	s.Advance(20 * time.Second)
	alice.ended(t, alice.call(t, "bob", nil), "callee_unavailable")
	r := alice.callRefused(t, "bob")
	wantCode(t, r, "call_rate_exceeded")
	e := r["error"].(map[string]any)
	if e["retryable"] != true || e["retryAfterMs"] != float64(40_000) {
		t.Fatalf("error = %v, want retryable with retryAfterMs 40000", e)
	}
	// A refused call does not count: 40 s later the first one left the
	// minute.
	s.Advance(40*time.Second - time.Millisecond)
	wantCode(t, alice.callRefused(t, "bob"), "call_rate_exceeded")
	s.Advance(time.Millisecond)
	alice.ended(t, alice.call(t, "bob", nil), "callee_unavailable")
	// Another user has a minute of its own.
	register(t, s, "carol", "c1", 0).call(t, "bob", nil)
}

// TestConcurrentCallLimit: the calls a user takes part in at once, as
// caller or callee.
func TestConcurrentCallLimit(t *testing.T) {
	s := RunT(t, Config{Policy: Policy{MaxConcurrentCalls: 2}})
	alice, bob, carol := register(t, s, "alice", "a1", 0), register(t, s, "bob", "b1", 0), register(t, s, "carol", "c1", 0)
	first := alice.call(t, "bob", nil)
	bob.next(t, "incomingCall", first)
	second := alice.call(t, "carol", nil)
	carol.next(t, "incomingCall", second)
	r := alice.callRefused(t, "bob")
	wantCode(t, r, "concurrent_calls_exceeded")
	if e := r["error"].(map[string]any); e["retryable"] != true {
		t.Fatalf("error = %v, want retryable", e)
	}
	// bob takes part in one call, carol in one: carol may call bob, who is
	// then at the limit.
	third := carol.call(t, "bob", nil)
	bob.next(t, "incomingCall", third)
	dave := register(t, s, "dave", "d1", 0)
	dave.ended(t, dave.call(t, "bob", nil), "callee_unavailable") // bob is busy
	bob.quiet(t)
	// One call ends: alice may call again.
	bob.act("declineCall", first)
	alice.ended(t, first, "declined")
	alice.call(t, "dave", nil)
}

// TestCallOnManyConnections: the callee's connections all ring; the first
// to answer wins and the others stop ringing (canceled).
func TestCallOnManyConnections(t *testing.T) {
	s := RunT(t)
	alice := register(t, s, "alice", "a1", 0)
	phone, tablet := register(t, s, "bob", "b1", 0), register(t, s, "bob", "b2", 0)
	id := alice.call(t, "bob", nil)
	phone.next(t, "incomingCall", id)
	tablet.next(t, "incomingCall", id)
	wantAnswer(t, tablet.act("answerCall", id), "callEstablished", id, "")
	phone.ended(t, id, "canceled")
	alice.next(t, "callEstablished", id)
	wantCode(t, phone.act("answerCall", id), "call_not_found")
	wantCode(t, phone.act("hangupCall", id), "call_not_found")
	wantAnswer(t, tablet.act("hangupCall", id), "callEnded", id, "hung_up")
	alice.ended(t, id, "hung_up")
	phone.quiet(t)
}

// TestPartyGoesAway: a closed or unbound connection ends its part as a
// hang-up would; an expiry during the call ends it with instance_expired,
// before the instanceRevoked.
func TestPartyGoesAway(t *testing.T) {
	t.Run("caller closes while ringing", func(t *testing.T) {
		s := RunT(t)
		alice, bob := register(t, s, "alice", "a1", 0), register(t, s, "bob", "b1", 0)
		id := alice.call(t, "bob", nil)
		bob.next(t, "incomingCall", id)
		alice.ws.Close()
		bob.ended(t, id, "canceled")
	})
	t.Run("callee closes once established", func(t *testing.T) {
		s := RunT(t)
		alice, bob := register(t, s, "alice", "a1", 0), register(t, s, "bob", "b1", 0)
		id := alice.call(t, "bob", nil)
		bob.next(t, "incomingCall", id)
		bob.act("answerCall", id)
		alice.next(t, "callEstablished", id)
		bob.ws.Close()
		alice.ended(t, id, "hung_up")
	})
	t.Run("a ringing callee connection closes: the call rings on", func(t *testing.T) {
		s := RunT(t)
		alice, bob := register(t, s, "alice", "a1", 0), register(t, s, "bob", "b1", 0)
		id := alice.call(t, "bob", nil)
		bob.next(t, "incomingCall", id)
		bob.ws.Close()
		alice.quiet(t)
		bob2 := bob.reconnect(t, s)
		bob2.next(t, "incomingCall", id)
		bob2.act("answerCall", id)
		alice.next(t, "callEstablished", id)
	})
	t.Run("revoked caller, established", func(t *testing.T) {
		s := RunT(t)
		alice, bob := register(t, s, "alice", "a1", 0), register(t, s, "bob", "b1", 0)
		id := alice.call(t, "bob", nil)
		bob.next(t, "incomingCall", id)
		bob.act("answerCall", id)
		alice.next(t, "callEstablished", id)
		s.RevokeInstance(alice.inst)
		alice.ended(t, id, "hung_up")
		pushCode(t, alice.rawClient, alice.inst)
		bob.ended(t, id, "hung_up")
	})
	t.Run("callee expires during the call", func(t *testing.T) {
		s := RunT(t)
		alice, bob := register(t, s, "alice", "a1", 0), register(t, s, "bob", "b1", 3*day)
		s.Advance(3*day - time.Minute)
		id := alice.call(t, "bob", nil)
		bob.next(t, "incomingCall", id)
		bob.act("answerCall", id)
		alice.next(t, "callEstablished", id)
		s.Advance(time.Minute)
		bob.ended(t, id, "instance_expired")
		if got := pushCode(t, bob.rawClient, bob.inst); got != "instance_expired" {
			t.Fatalf("instanceRevoked code %s", got)
		}
		alice.ended(t, id, "instance_expired")
	})
	t.Run("a ringing callee connection expires or is revoked: the call rings on", func(t *testing.T) {
		s := RunT(t)
		alice := register(t, s, "alice", "a1", 0)
		phone, watch, tablet := register(t, s, "bob", "b1", 3*day), register(t, s, "bob", "b2", 0), register(t, s, "bob", "b3", 0)
		s.Advance(3*day - 10*time.Second)
		id := alice.call(t, "bob", nil)
		phone.next(t, "incomingCall", id)
		watch.next(t, "incomingCall", id)
		tablet.next(t, "incomingCall", id)
		s.Advance(10 * time.Second)
		phone.ended(t, id, "instance_expired")
		pushCode(t, phone.rawClient, phone.inst)
		s.RevokeInstance(watch.inst)
		watch.ended(t, id, "canceled")
		pushCode(t, watch.rawClient, watch.inst)
		alice.quiet(t)
		tablet.act("answerCall", id)
		alice.next(t, "callEstablished", id)
	})
	t.Run("caller expires while ringing", func(t *testing.T) {
		s := RunT(t)
		alice, bob := register(t, s, "alice", "a1", 3*day), register(t, s, "bob", "b1", 0)
		s.Advance(3*day - time.Second)
		id := alice.call(t, "bob", nil)
		bob.next(t, "incomingCall", id)
		s.Advance(time.Second)
		alice.ended(t, id, "instance_expired")
		pushCode(t, alice.rawClient, alice.inst)
		bob.ended(t, id, "instance_expired")
	})
}

// TestCallNotFound: answerCall, declineCall and hangupCall of a call this
// connection cannot act on that way.
func TestCallNotFound(t *testing.T) {
	s := RunT(t)
	alice, bob, carol := register(t, s, "alice", "a1", 0), register(t, s, "bob", "b1", 0), register(t, s, "carol", "c1", 0)
	id := alice.call(t, "bob", nil)
	bob.next(t, "incomingCall", id)
	for _, tc := range []struct {
		name string
		p    *party
		typ  string
		id   string
	}{
		{"unknown call", bob, "answerCall", "call-none"},
		{"empty id", bob, "answerCall", ""},
		{"the caller answers", alice, "answerCall", id},
		{"the caller declines", alice, "declineCall", id},
		{"a stranger answers", carol, "answerCall", id},
		{"a stranger hangs up", carol, "hangupCall", id},
	} {
		if got := errCode(tc.p.act(tc.typ, tc.id)); got != "call_not_found" {
			t.Errorf("%s: %q, want call_not_found", tc.name, got)
		}
	}
	unbound := &party{rawClient: dialRaw(t, s)}
	wantCode(t, unbound.act("answerCall", id), "not_authenticated")
	// Still ringing.
	bob.act("answerCall", id)
	alice.next(t, "callEstablished", id)
}

// TestCallHeadersLimit checks the headers row of the limits table: at
// most 16 headers, names of 1 to 64 bytes, 1024 bytes in all.
func TestCallHeadersLimit(t *testing.T) {
	s := RunT(t)
	alice := register(t, s, "alice", "a1", 0)
	register(t, s, "bob", "b1", 0)
	send := func(h map[string]string) string {
		r := alice.request(map[string]any{"type": "callUser", "calleeUserId": "bob", "headers": h})
		if id, ok := r["callId"].(string); ok {
			// Hang up what rings, so that the call limits stay out of it.
			wantAnswer(t, alice.act("hangupCall", id), "callEnded", id, "canceled")
		}
		return errCode(r)
	}
	sixteen := map[string]string{}
	for i := range 16 {
		sixteen["h"+strconv.Itoa(i)] = "v"
	}
	seventeen := map[string]string{"h16": "v"}
	for k, v := range sixteen {
		seventeen[k] = v
	}
	for _, tc := range []struct {
		name string
		h    map[string]string
		code string
	}{
		{"1024 bytes", map[string]string{"k": strings.Repeat("v", 1023)}, ""},
		{"1025 bytes", map[string]string{"k": strings.Repeat("v", 1024)}, "protocol_error"},
		{"a 64-byte name", map[string]string{strings.Repeat("k", 64): ""}, ""},
		{"a 65-byte name", map[string]string{strings.Repeat("k", 65): ""}, "protocol_error"},
		{"an empty name", map[string]string{"": "v"}, "protocol_error"},
		{"16 headers", sixteen, ""},
		{"17 headers", seventeen, "protocol_error"},
	} {
		if got := send(tc.h); got != tc.code {
			t.Errorf("%s: code %q, want %q", tc.name, got, tc.code)
		}
	}
	docSays(t, "| `headers` (`callUser`) | at most 16 headers; each name 1 to 64 bytes; names and values together at most 1024 bytes | `protocol_error` |")
}

// TestCallLimitsDocumented: the call limits table of docs/PROTOCOL.md gives
// the policy defaults.
func TestCallLimitsDocumented(t *testing.T) {
	rows := regexp.MustCompile("(?m)^\\| [^|]*\\(`--([a-z-]+)`\\) \\| ([^|]+) \\|").FindAllStringSubmatch(docSection(t, "call-limits"), -1)
	want := map[string]string{
		"calls-per-minute":     strconv.Itoa(DefaultMaxCallsPerMinute),
		"max-concurrent-calls": strconv.Itoa(DefaultMaxConcurrentCalls),
		"call-answer-timeout":  strconv.Itoa(int(DefaultCallAnswerTimeout/time.Second)) + " s",
	}
	if len(rows) != len(want) {
		t.Fatalf("call-limits table has %d rows, want %d", len(rows), len(want))
	}
	for _, r := range rows {
		if got := strings.TrimSpace(r[2]); got != want[r[1]] {
			t.Errorf("--%s: documented default %q, the policy's is %q", r[1], got, want[r[1]])
		}
	}
	p := Policy{}.withDefaults()
	if p.MaxCallsPerMinute != DefaultMaxCallsPerMinute || p.MaxConcurrentCalls != DefaultMaxConcurrentCalls || p.CallAnswerTimeout != DefaultCallAnswerTimeout {
		t.Errorf("Policy defaults %+v", p)
	}
}

// TestCallEndReasonsOverTheWire drives every reason of the callEnded table
// of docs/PROTOCOL.md (the tests above show each in context; this one
// checks that the table and the backend agree).
func TestCallEndReasonsOverTheWire(t *testing.T) {
	// Each case ends the call; it returns the caller's callEnded when it
	// read it as an answer.
	cases := map[string]func(t *testing.T, s *Server, alice, bob *party, id string) map[string]any{
		"declined": func(t *testing.T, s *Server, alice, bob *party, id string) map[string]any {
			bob.act("declineCall", id)
			return nil
		},
		"hung_up": func(t *testing.T, s *Server, alice, bob *party, id string) map[string]any {
			bob.act("answerCall", id)
			alice.next(t, "callEstablished", id)
			bob.act("hangupCall", id)
			return nil
		},
		"no_answer": func(t *testing.T, s *Server, alice, bob *party, id string) map[string]any {
			s.Advance(DefaultCallAnswerTimeout)
			return nil
		},
		"canceled": func(t *testing.T, s *Server, alice, bob *party, id string) map[string]any {
			return alice.act("hangupCall", id)
		},
		"instance_expired": func(t *testing.T, s *Server, alice, bob *party, id string) map[string]any {
			bob.act("answerCall", id)
			alice.next(t, "callEstablished", id)
			s.Advance(3 * day)
			return nil
		},
	}
	for _, reason := range transport.EndReasons() {
		t.Run(reason, func(t *testing.T) {
			s := RunT(t)
			alice := register(t, s, "alice", "a1", 0)
			if reason == "callee_unavailable" {
				alice.ended(t, alice.call(t, "bob", nil), reason)
				return
			}
			bob := register(t, s, "bob", "b1", 3*day)
			id := alice.call(t, "bob", nil)
			bob.next(t, "incomingCall", id)
			f, ok := cases[reason]
			if !ok {
				t.Fatalf("no case for reason %s", reason)
			}
			m := f(t, s, alice, bob, id)
			if m == nil {
				m = alice.next(t, "callEnded", id)
			}
			if m["type"] != "callEnded" || m["reason"] != reason {
				t.Fatalf("callEnded %v, want reason %s", m, reason)
			}
		})
	}
	var documented []string
	for _, r := range tableCodes(docSection(t, "reasons")) {
		if r != "reason" {
			documented = append(documented, r)
		}
	}
	if got, want := strings.Join(documented, ","), strings.Join(transport.EndReasons(), ","); got != want {
		t.Errorf("callEnded reasons in docs/PROTOCOL.md: %s, want %s", got, want)
	}
}

// TestPushWebhookNeverBlocks: a webhook that does not answer delays no
// call, and Close ends its posts: no goroutine is left.
func TestPushWebhookNeverBlocks(t *testing.T) {
	defer goleak.VerifyNone(t)
	release := make(chan struct{})
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hook.Close()
	defer close(release)
	s, err := NewServer(Config{Clock: RunTClock(), Applications: []Application{NewApplication()}, Conn: quickClose, PushWebhook: hook.URL})
	if err != nil {
		t.Fatal(err)
	}
	alice := register(t, s, "alice", "a1", 0)
	offline(t, s, "bob", "b1", 0, "tok")
	for i := range 3 {
		id := alice.call(t, "bob", nil)
		wantAnswer(t, alice.act("hangupCall", id), "callEnded", id, "canceled")
		if n := len(s.Pushes()); n != i+1 {
			t.Fatalf("%d pushes, want %d", n, i+1)
		}
	}
	alice.ws.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	hook.CloseClientConnections()
}

func TestPushWebhookMustBeHTTP(t *testing.T) {
	for _, u := range []string{"ftp://h/?k=sekrit", "not a url sekrit", "http://?k=sekrit", "/relative?k=sekrit"} {
		if _, err := NewUnstartedServer(Config{PushWebhook: u}); err == nil {
			t.Errorf("PushWebhook %q accepted", u)
		} else if strings.Contains(err.Error(), "sekrit") {
			t.Errorf("the error repeats the URL: %v", err)
		}
	}
}

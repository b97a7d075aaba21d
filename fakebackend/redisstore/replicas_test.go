package redisstore_test

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/fakebackend"
	"github.com/sinchsim/sinchsim/fakebackend/redisstore"
	"github.com/sinchsim/sinchsim/fakebackend/redisstore/redistest"
	"github.com/sinchsim/sinchsim/internal/rawclient"
	"github.com/sinchsim/sinchsim/transport"
	"github.com/sinchsim/sinchsim/vclock"
)

// wait bounds every wait for a message, so that a bug fails the test
// instead of hanging it.
const wait = 5 * time.Second

var testApp = fakebackend.Application{Key: "replica-app", Secret: credentials.MustParseSecret("ax8hTTQJF0OPXL32r1LHMA==")}

type cluster struct {
	redis  *redistest.Redis
	srvs   []*fakebackend.Server
	minter *credentials.Minter
}

type clusterOpts struct {
	mock   bool
	policy fakebackend.Policy
	// wrap, when set, wraps replica i's store.
	wrap func(i int, st *redisstore.Store) fakebackend.Store
}

// newCluster starts n replicas A, B, C, ... on one Redis.
func newCluster(t *testing.T, n int, o clusterOpts) *cluster {
	t.Helper()
	c := &cluster{redis: redistest.New(t)}
	for i := range n {
		st := c.redis.Open(t, string(rune('A'+i)))
		cfg := fakebackend.Config{Store: st, Applications: []fakebackend.Application{testApp}, Policy: o.policy}
		if o.wrap != nil {
			cfg.Store = o.wrap(i, st)
		}
		if o.mock {
			cfg.Clock = vclock.New(fakebackend.DefaultMockTime)
		}
		srv, err := fakebackend.NewServer(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Close() })
		c.srvs = append(c.srvs, srv)
	}
	var clk clock.Clock
	if o.mock {
		clk = c.srvs[0].Clock()
	}
	m, err := credentials.NewMinter(credentials.MinterConfig{ApplicationKey: testApp.Key, Secret: testApp.Secret, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	c.minter = m
	return c
}

func (c *cluster) token(t *testing.T, user string, instanceTTL time.Duration) string {
	t.Helper()
	tok, err := c.minter.MintWith(credentials.MintParams{UserID: user, InstanceTTL: instanceTTL})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// dial connects to one replica.
func dial(t *testing.T, srv *fakebackend.Server) *rawclient.Conn {
	t.Helper()
	return rawclient.Dial(t, srv.URL(), testApp.Key, wait)
}

func revokedCode(t *testing.T, m transport.Message, id string) string {
	t.Helper()
	rv, ok := m.(*transport.InstanceRevoked)
	if !ok || rv.InstanceID != id {
		t.Fatalf("got %#v, want instanceRevoked for %s", m, id)
	}
	return rv.Code
}

func TestReplicasRegisterAtOneAuthenticateAtAnother(t *testing.T) {
	c := newCluster(t, 3, clusterOpts{})
	a, b := dial(t, c.srvs[0]), dial(t, c.srvs[1])
	inst := a.MustCreate("alice", "phone", c.token(t, "alice", 0))
	if m := b.Authenticate("alice", inst); m.(*transport.Authenticated).InstanceID != inst.ID {
		t.Fatalf("authenticate at B: %#v", m)
	}
	// The connection at A was told that B took the instance over.
	if code := revokedCode(t, a.Next(), inst.ID); code != transport.CodeInstanceReplaced {
		t.Fatalf("A's connection got %s, want %s", code, transport.CodeInstanceReplaced)
	}
	for _, srv := range c.srvs {
		if got, ok := srv.Instance(inst.ID); !ok || got.User != "alice" {
			t.Fatalf("replica %s does not see the instance", srv.URL())
		}
	}
}

func TestReplicasNonceReusedAcrossReplicas(t *testing.T) {
	c := newCluster(t, 3, clusterOpts{})
	tok := c.token(t, "bob", 0)
	dial(t, c.srvs[0]).MustCreate("bob", "phone", tok)
	if code := rawclient.ErrorCode(dial(t, c.srvs[2]).Create("bob", "phone", tok)); code != credentials.CodeNonceReused {
		t.Fatalf("the token again at C: %q, want %s", code, credentials.CodeNonceReused)
	}
}

// TestReplicasRateLimitExact: creations for one user, at the same time on
// three replicas, create exactly the rate limit's number of instances.
func TestReplicasRateLimitExact(t *testing.T) {
	const conns, each, limit = 30, 10, 10
	c := newCluster(t, 3, clusterOpts{policy: fakebackend.Policy{RateLimit: limit, MaxConnectionsPerUser: -1}})
	var created, limited atomic.Int32
	var wg sync.WaitGroup
	for k := range conns {
		r := dial(t, c.srvs[k%3])
		toks := make([]string, each)
		for j := range toks {
			toks[j] = c.token(t, "carol", 0)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j, tok := range toks {
				if err := r.Conn.Send(&transport.CreateInstance{ID: r.ID(), ApplicationKey: testApp.Key, UserID: "carol", DeviceID: fmt.Sprintf("d%d-%d", k, j), JWT: tok}); err != nil {
					t.Error(err)
					return
				}
				var m transport.Message
				for m = range r.Msgs {
					if _, notice := m.(*transport.InstanceRevoked); !notice {
						break
					}
				}
				switch {
				case rawclient.ErrorCode(m) == transport.CodeInstanceCreationRateExceeded:
					limited.Add(1)
				case rawclient.ErrorCode(m) != "":
					t.Errorf("createInstance: %v", m.(*transport.ErrorMessage).Error)
				default:
					created.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	insts := c.srvs[1].Instances()
	if created.Load() != limit || limited.Load() != conns*each-limit || len(insts) != limit {
		t.Fatalf("%d creations over 3 replicas with limit %d: %d created, %d refused, %d instances", conns*each, limit, created.Load(), limited.Load(), len(insts))
	}
}

func TestReplicasRevocationReachesHolder(t *testing.T) {
	c := newCluster(t, 3, clusterOpts{})
	onC := dial(t, c.srvs[2])
	inst := onC.MustCreate("dave", "phone", c.token(t, "dave", 0))
	start := time.Now()
	if !c.srvs[0].RevokeInstance(inst.ID) {
		t.Fatal("A does not find the instance")
	}
	m := onC.Next()
	if code := revokedCode(t, m, inst.ID); code != transport.CodeInstanceNotFound {
		t.Fatalf("revoked with %s", code)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("the revocation took %v to reach the client on C", d)
	}
	if code := rawclient.ErrorCode(onC.Authenticate("dave", inst)); code != transport.CodeInstanceNotFound {
		t.Fatalf("authenticating a revoked instance: %q", code)
	}
}

func TestReplicasRegistrationReplacesAcrossReplicas(t *testing.T) {
	c := newCluster(t, 2, clusterOpts{})
	onA, onB := dial(t, c.srvs[0]), dial(t, c.srvs[1])
	first := onA.MustCreate("erin", "phone", c.token(t, "erin", 0))
	second := onB.MustCreate("erin", "phone", c.token(t, "erin", 0))
	if code := revokedCode(t, onA.Next(), first.ID); code != transport.CodeInstanceReplaced {
		t.Fatalf("replaced instance: %s", code)
	}
	if _, ok := c.srvs[0].Instance(first.ID); ok {
		t.Fatal("the replaced instance is still there")
	}
	if insts := c.srvs[0].Instances(); len(insts) != 1 || insts[0].ID != second.ID {
		t.Fatalf("instances: %v", insts)
	}
}

// droppingStore loses every notice it sends, as a replica whose
// subscription was down would.
type droppingStore struct{ *redisstore.Store }

func (droppingStore) Send(string, fakebackend.Notice) error { return nil }

// TestReplicasMissedNoticeCaughtOnNextRequest: a revocation whose notice
// is lost reaches the client with its connection's next request.
func TestReplicasMissedNoticeCaughtOnNextRequest(t *testing.T) {
	c := newCluster(t, 2, clusterOpts{wrap: func(i int, st *redisstore.Store) fakebackend.Store {
		if i == 1 {
			return droppingStore{st}
		}
		return st
	}})
	onA := dial(t, c.srvs[0])
	inst := onA.MustCreate("frank", "phone", c.token(t, "frank", 0))
	if !c.srvs[1].RevokeInstance(inst.ID) {
		t.Fatal("B does not find the instance")
	}
	if err := onA.Conn.Send(&transport.RegisterPushToken{ID: onA.ID(), PushToken: "tok"}); err != nil {
		t.Fatal(err)
	}
	if code := revokedCode(t, onA.Next(), inst.ID); code != transport.CodeInstanceNotFound {
		t.Fatalf("caught up with %s", code)
	}
	if code := rawclient.ErrorCode(onA.Next()); code != transport.CodeNotAuthenticated {
		t.Fatalf("the request after the notice: %q", code)
	}
	// A replacement whose notice is lost, the same way.
	inst2 := onA.MustCreate("frank", "phone", c.token(t, "frank", 0))
	onB := dial(t, c.srvs[1])
	if _, ok := onB.Authenticate("frank", inst2).(*transport.Authenticated); !ok {
		t.Fatal("authenticate at B failed")
	}
	if err := onA.Conn.Send(&transport.RegisterPushToken{ID: onA.ID(), PushToken: "tok"}); err != nil {
		t.Fatal(err)
	}
	if code := revokedCode(t, onA.Next(), inst2.ID); code != transport.CodeInstanceReplaced {
		t.Fatalf("caught up with %s", code)
	}
	if code := rawclient.ErrorCode(onA.Next()); code != transport.CodeNotAuthenticated {
		t.Fatalf("the request after the notice: %q", code)
	}
	// A new registration of the device, elsewhere, deletes the instance
	// with instance_replaced: the catch-up finds how it ended.
	inst3 := onA.MustCreate("gus", "phone", c.token(t, "gus", 0))
	dial(t, c.srvs[1]).MustCreate("gus", "phone", c.token(t, "gus", 0))
	if err := onA.Conn.Send(&transport.RegisterPushToken{ID: onA.ID(), PushToken: "tok"}); err != nil {
		t.Fatal(err)
	}
	if code := revokedCode(t, onA.Next(), inst3.ID); code != transport.CodeInstanceReplaced {
		t.Fatalf("caught up with %s, want how the instance ended", code)
	}
}

// TestReplicasSharedClockEnforcesExpiry: advancing the mock clock at B
// moves A and C, and their connections see their instances expire.
func TestReplicasSharedClockEnforcesExpiry(t *testing.T) {
	c := newCluster(t, 3, clusterOpts{mock: true})
	onA, onC := dial(t, c.srvs[0]), dial(t, c.srvs[2])
	ia := onA.MustCreate("gina", "phone", c.token(t, "gina", 48*time.Hour))
	ic := onC.MustCreate("hank", "phone", c.token(t, "hank", 72*time.Hour))
	if err := c.srvs[1].Advance(49 * time.Hour); err != nil {
		t.Fatal(err)
	}
	want := fakebackend.DefaultMockTime.Add(49 * time.Hour)
	for i, srv := range c.srvs {
		if !srv.Now().Equal(want) {
			t.Fatalf("replica %d stands at %v, want %v", i, srv.Now(), want)
		}
	}
	if code := revokedCode(t, onA.Next(), ia.ID); code != transport.CodeInstanceExpired {
		t.Fatalf("at A: %s", code)
	}
	if code := rawclient.ErrorCode(dial(t, c.srvs[2]).Authenticate("gina", ia)); code != transport.CodeInstanceExpired {
		t.Fatalf("authenticating the expired instance at C: %q", code)
	}
	// hank's instance lives until 72h: nothing yet; then C expires it.
	if err := c.srvs[0].Advance(24 * time.Hour); err != nil {
		t.Fatal(err)
	}
	if code := revokedCode(t, onC.Next(), ic.ID); code != transport.CodeInstanceExpired {
		t.Fatalf("at C: %s", code)
	}
	// A replica that starts later starts at the shared time.
	st := c.redis.Open(t, "late")
	late, err := fakebackend.NewServer(fakebackend.Config{Store: st, Clock: vclock.New(fakebackend.DefaultMockTime)})
	if err != nil {
		t.Fatal(err)
	}
	defer late.Close()
	if !late.Now().Equal(want.Add(24 * time.Hour)) {
		t.Fatalf("a late replica starts at %v", late.Now())
	}
}

func TestReplicasShareTheDecisionLog(t *testing.T) {
	c := newCluster(t, 3, clusterOpts{})
	events, cancel := c.srvs[2].Subscribe(16)
	defer cancel()
	inst := dial(t, c.srvs[0]).MustCreate("ivy", "phone", c.token(t, "ivy", 0))
	select {
	case e := <-events:
		if e.Kind != "createInstance" || e.Instance != inst.ID || e.Code != fakebackend.CodeOK {
			t.Fatalf("C's subscriber got %+v", e)
		}
	case <-time.After(wait):
		t.Fatal("C's subscriber did not see A's decision")
	}
	evs := c.srvs[1].Events()
	if len(evs) != 1 || evs[0].Instance != inst.ID || evs[0].Seq != 1 {
		t.Fatalf("B's log: %+v", evs)
	}
}

func TestReplicasShareApplications(t *testing.T) {
	c := newCluster(t, 2, clusterOpts{})
	app := fakebackend.NewApplication()
	if err := c.srvs[0].AddApplication(app); err != nil {
		t.Fatal(err)
	}
	m, err := credentials.NewMinter(credentials.MinterConfig{ApplicationKey: app.Key, Secret: app.Secret})
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := m.Mint("jack")
	r := dial(t, c.srvs[1])
	if _, ok := r.Request(&transport.CreateInstance{ID: "1", ApplicationKey: app.Key, UserID: "jack", DeviceID: "d", JWT: tok}).(*transport.InstanceCreated); !ok {
		t.Fatal("B does not know the application added at A")
	}
}

func TestReplicasResetEverywhere(t *testing.T) {
	c := newCluster(t, 2, clusterOpts{})
	onB := dial(t, c.srvs[1])
	onB.MustCreate("kim", "phone", c.token(t, "kim", 0))
	// A push recorded at B: kim calls lee, who has only a push token.
	lee := dial(t, c.srvs[1])
	lee.MustCreate("lee", "phone", c.token(t, "lee", 0))
	want[*transport.PushTokenRegistered](t, lee.Request(&transport.RegisterPushToken{ID: lee.ID(), PushToken: "tok-lee"}))
	lee.Conn.Abort()
	waitReleased(t, c, c.srvs[1].Instances()[1].ID)
	want[*transport.CallProgressing](t, onB.Request(&transport.CallUser{ID: onB.ID(), CalleeUserID: "lee"}))
	if n := len(c.srvs[1].Pushes()); n != 1 {
		t.Fatalf("%d pushes at B before the reset", n)
	}
	if err := c.srvs[0].Reset(); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(wait)
	for open := true; open; {
		select {
		case _, open = <-onB.Msgs:
		case <-deadline:
			t.Fatal("B's connection was not closed by the reset at A")
		}
	}
	if n := len(c.srvs[1].Instances()); n != 0 {
		t.Fatalf("%d instances after a reset", n)
	}
	// B forgets its pushes too, right after closing its connections.
	for deadline := time.Now().Add(wait); len(c.srvs[1].Pushes()) != 0; {
		if time.Now().After(deadline) {
			t.Fatalf("B still has %d pushes after the reset at A", len(c.srvs[1].Pushes()))
		}
		runtime.Gosched()
	}
}

// TestRedisDownRefusesWithUnavailable: without Redis, the backend refuses
// with unavailable, and accepts again once Redis is back.
func TestRedisDownRefusesWithUnavailable(t *testing.T) {
	if redistest.New(t).Real() {
		t.Skip("stops the server: runs on miniredis only")
	}
	c := newCluster(t, 1, clusterOpts{})
	r := dial(t, c.srvs[0])
	inst := r.MustCreate("liz", "phone", c.token(t, "liz", 0))
	mini := c.redis.Miniredis()
	mini.Close()
	for name, m := range map[string]transport.Message{
		"createInstance": dial(t, c.srvs[0]).Create("liz", "tablet", c.token(t, "liz", 0)),
		"authenticate":   dial(t, c.srvs[0]).Authenticate("liz", inst),
	} {
		if code := rawclient.ErrorCode(m); code != transport.CodeUnavailable {
			t.Errorf("%s without Redis: %#v, want %s", name, m, transport.CodeUnavailable)
		}
	}
	if err := mini.Restart(); err != nil {
		t.Fatal(err)
	}
	if _, ok := dial(t, c.srvs[0]).Authenticate("liz", inst).(*transport.Authenticated); !ok {
		t.Fatal("not accepted again once Redis is back")
	}
}

// holdFailing fails to record holders while fail is set, as Redis gone
// mid-bind would.
type holdFailing struct {
	*redisstore.Store
	fail *atomic.Bool
}

func (h holdFailing) Hold(id, conn string) (fakebackend.Holder, error) {
	if h.fail.Load() {
		return fakebackend.Holder{}, fakebackend.ErrUnavailable
	}
	return h.Store.Hold(id, conn)
}

// TestReplicasFailedBindKeepsTheOlderConnection: a second connection of an
// instance whose bind cannot be recorded is refused, and the connection
// that held the instance is neither told it was replaced nor forgotten: a
// revocation still reaches it.
func TestReplicasFailedBindKeepsTheOlderConnection(t *testing.T) {
	var fail atomic.Bool
	c := newCluster(t, 1, clusterOpts{wrap: func(_ int, st *redisstore.Store) fakebackend.Store {
		return holdFailing{st, &fail}
	}})
	first := dial(t, c.srvs[0])
	inst := first.MustCreate("olga", "phone", c.token(t, "olga", 0))
	fail.Store(true)
	if code := rawclient.ErrorCode(dial(t, c.srvs[0]).Authenticate("olga", inst)); code != transport.CodeUnavailable {
		t.Fatalf("the second connection's authenticate: %q, want %s", code, transport.CodeUnavailable)
	}
	fail.Store(false)
	if !c.srvs[0].RevokeInstance(inst.ID) {
		t.Fatal("the instance could not be revoked")
	}
	// The first message the older connection gets is the revocation, not
	// a replacement.
	if code := revokedCode(t, first.Next(), inst.ID); code == transport.CodeInstanceReplaced {
		t.Fatalf("the older connection was told it was replaced")
	}
}

// holdStalled is a store whose next Hold waits until release is closed,
// then fails: a Redis that stops answering while a bind waits on it.
type holdStalled struct {
	*redisstore.Store
	armed   *atomic.Bool
	waiting chan struct{} // closed once the stalled Hold waits
	release chan struct{}
}

func (h holdStalled) Hold(id, conn string) (fakebackend.Holder, error) {
	if h.armed.CompareAndSwap(true, false) {
		close(h.waiting)
		<-h.release
		return fakebackend.Holder{}, fakebackend.ErrUnavailable
	}
	return h.Store.Hold(id, conn)
}

// TestReplicasFailedBindForgetsAClosedConnection: when the older
// connection of an instance closes while a newer one's bind waits on a
// store that then fails, the older one is not made the instance's
// connection again: a revocation goes on to whichever replica holds the
// instance afterwards.
func TestReplicasFailedBindForgetsAClosedConnection(t *testing.T) {
	var armed atomic.Bool
	stall := holdStalled{armed: &armed, waiting: make(chan struct{}), release: make(chan struct{})}
	c := newCluster(t, 2, clusterOpts{wrap: func(i int, st *redisstore.Store) fakebackend.Store {
		if i > 0 {
			return st
		}
		stall.Store = st
		return stall
	}})
	first := dial(t, c.srvs[0])
	inst := first.MustCreate("olga", "phone", c.token(t, "olga", 0))
	armed.Store(true)
	second := dial(t, c.srvs[0])
	refused := make(chan string, 1)
	go func() { refused <- rawclient.ErrorCode(second.Authenticate("olga", inst)) }()
	<-stall.waiting
	// The older connection goes while the bind waits.
	first.Conn.Abort()
	for deadline := time.Now().Add(wait); c.srvs[0].ConnectedClients() > 1; runtime.Gosched() {
		if time.Now().After(deadline) {
			t.Fatal("the older connection's end was not handled")
		}
	}
	close(stall.release)
	if code := <-refused; code != transport.CodeUnavailable {
		t.Fatalf("the second connection's authenticate: %q, want %s", code, transport.CodeUnavailable)
	}
	// The instance is held on B now; A revokes it, and B's connection hears.
	third := dial(t, c.srvs[1])
	if m := third.Authenticate("olga", inst); rawclient.ErrorCode(m) != "" {
		t.Fatalf("authenticate at B: %#v", m)
	}
	if !c.srvs[0].RevokeInstance(inst.ID) {
		t.Fatal("the instance could not be revoked")
	}
	revokedCode(t, third.Next(), inst.ID)
}

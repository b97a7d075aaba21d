// Package storetest is the contract every fakebackend.Store keeps: one
// suite that runs against the memory store, the file store and the Redis
// store (on miniredis and on a real server), so that they behave alike.
//
// A store's tests call RunStoreTests with a function that returns a new,
// empty store for one test:
//
//	func TestContract(t *testing.T) {
//		storetest.RunStoreTests(t, func(t *testing.T) fakebackend.Store { return fakebackend.NewMemoryStore() })
//	}
package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/fakebackend"
)

// Option adjusts the suite to what a store documents.
type Option func(*options)

type options struct {
	nonceLimit bool
}

// WithoutNonceLimit skips the check of UseNonce's max argument, for a
// store that documents another bound (the Redis store leaves it to the
// server's memory limit).
func WithoutNonceLimit() Option { return func(o *options) { o.nonceLimit = false } }

// base is the time the suite's records are made at.
var base = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)

// RunStoreTests runs the contract suite. newStore returns a new, empty
// store for one subtest; the suite closes it.
func RunStoreTests(t *testing.T, newStore func(t *testing.T) fakebackend.Store, opts ...Option) {
	t.Helper()
	o := options{nonceLimit: true}
	for _, opt := range opts {
		opt(&o)
	}
	open := func(t *testing.T) fakebackend.Store {
		t.Helper()
		st := newStore(t)
		t.Cleanup(func() { st.Close() })
		return st
	}
	tests := []struct {
		name string
		run  func(t *testing.T, st fakebackend.Store)
	}{
		{"Applications", testApplications},
		{"InstanceRoundTrip", testInstanceRoundTrip},
		{"InstancesSorted", testInstancesSorted},
		{"Delete", testDelete},
		{"UserInstances", testUserInstances},
		{"Devices", testDevices},
		{"LegacySequence", testLegacySequence},
		{"ReadUser", testReadUser},
		{"VersionConflict", testVersionConflict},
		{"VersionsPerUser", testVersionsPerUser},
		{"CreationLimit", testCreationLimit},
		{"CreationUnlimited", testCreationUnlimited},
		{"Nonces", testNonces},
		{"Reset", testReset},
		{"ConcurrentCommits", testConcurrentCommits},
		{"ConcurrentCreations", testConcurrentCreations},
		{"ConcurrentNonces", testConcurrentNonces},
	}
	if o.nonceLimit {
		tests = append(tests, struct {
			name string
			run  func(t *testing.T, st fakebackend.Store)
		}{"NonceLimit", testNonceLimit})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, open(t)) })
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func secret(t *testing.T, s string) credentials.Secret {
	t.Helper()
	sec, err := credentials.ParseSecret(s)
	must(t, err)
	return sec
}

// instance returns a full instance of app/user/device created at.
func instance(id, app, user, device string, at time.Time) fakebackend.Instance {
	return fakebackend.Instance{
		ID: id, Application: app, User: user, Device: device,
		Secret:       fakebackend.InstanceSecret("c2VjcmV0LW9mLSIrK2lkKyI"),
		Capabilities: []string{"calling", "push"}, SDKVersion: "test/1",
		CreatedAt: at, ExpireAt: at.Add(72 * time.Hour),
		PushToken: "tok", PushType: "fcm",
		History: []fakebackend.TTLChange{{At: at, ExpireAt: at.Add(72 * time.Hour), Reason: "created"}},
	}
}

// put commits instances for one user at its current version.
func put(t *testing.T, st fakebackend.Store, insts ...fakebackend.Instance) {
	t.Helper()
	for _, i := range insts {
		v, err := st.UserVersion(i.Application, i.User)
		must(t, err)
		_, err = st.Commit(fakebackend.Change{Application: i.Application, User: i.User, Version: v, Put: []fakebackend.Instance{i}})
		must(t, err)
	}
}

func sameInstance(t *testing.T, got, want fakebackend.Instance) {
	t.Helper()
	g, w := fmt.Sprintf("%+v|%s", norm(got), got.Secret.String()), fmt.Sprintf("%+v|%s", norm(want), want.Secret.String())
	if g != w || got.Secret != want.Secret {
		t.Fatalf("instance\n got %s\nwant %s", g, w)
	}
}

// norm makes times comparable by value (UTC, no monotonic reading).
func norm(i fakebackend.Instance) fakebackend.Instance {
	i.CreatedAt = i.CreatedAt.UTC()
	i.ExpireAt = i.ExpireAt.UTC()
	h := make([]fakebackend.TTLChange, len(i.History))
	for k, c := range i.History {
		h[k] = fakebackend.TTLChange{At: c.At.UTC(), ExpireAt: c.ExpireAt.UTC(), Reason: c.Reason}
	}
	i.History = h
	return i
}

func testApplications(t *testing.T, st fakebackend.Store) {
	apps, err := st.Applications()
	must(t, err)
	if len(apps) != 0 {
		t.Fatalf("a new store has applications %v", apps)
	}
	must(t, st.PutApplication(fakebackend.Application{Key: "b-app", Secret: secret(t, "AAAAAAAAAAAAAAAAAAAAAA==")}))
	must(t, st.PutApplication(fakebackend.Application{Key: "a-app", Secret: secret(t, "AQEBAQEBAQEBAQEBAQEBAQ==")}))
	must(t, st.PutApplication(fakebackend.Application{Key: "b-app", Secret: secret(t, "AgICAgICAgICAgICAgICAg==")}))
	apps, err = st.Applications()
	must(t, err)
	if len(apps) != 2 || apps[0].Key != "a-app" || apps[1].Key != "b-app" {
		t.Fatalf("applications = %v, want a-app, b-app", apps)
	}
	if apps[1].Secret.Text() != "AgICAgICAgICAgICAgICAg==" || apps[0].Secret.Text() != "AQEBAQEBAQEBAQEBAQEBAQ==" {
		t.Fatal("an application's secret was not kept, or not replaced")
	}
}

func testInstanceRoundTrip(t *testing.T, st fakebackend.Store) {
	if _, err := st.Instance("nope"); !errors.Is(err, fakebackend.ErrNotFound) {
		t.Fatalf("Instance(missing) = %v, want ErrNotFound", err)
	}
	want := instance("inst-1", "app", "alice", "dev:1/with odd\x00chars", base)
	put(t, st, want)
	got, err := st.Instance("inst-1")
	must(t, err)
	sameInstance(t, got, want)
	// Unlimited, no optional fields.
	bare := fakebackend.Instance{ID: "inst-2", Application: "app", User: "alice", Device: "d2", Secret: "s2", CreatedAt: base}
	put(t, st, bare)
	got, err = st.Instance("inst-2")
	must(t, err)
	sameInstance(t, got, bare)
	if got.Limited() {
		t.Fatal("an instance without expiry came back limited")
	}
	// Replace.
	want.ExpireAt = base.Add(96 * time.Hour)
	want.History = append(want.History, fakebackend.TTLChange{At: base.Add(time.Hour), ExpireAt: want.ExpireAt, Reason: "extended"})
	put(t, st, want)
	got, err = st.Instance("inst-1")
	must(t, err)
	sameInstance(t, got, want)
}

func testInstancesSorted(t *testing.T, st fakebackend.Store) {
	put(t, st,
		instance("c", "app", "u1", "d", base.Add(time.Second)),
		instance("b", "app", "u2", "d", base),
		instance("a", "app", "u3", "d", base.Add(time.Second)),
		instance("z", "other", "u1", "d", base.Add(-time.Hour)),
	)
	insts, err := st.Instances()
	must(t, err)
	var ids []string
	for _, i := range insts {
		ids = append(ids, i.ID)
	}
	if fmt.Sprint(ids) != "[z b a c]" {
		t.Fatalf("Instances order = %v, want [z b a c] (creation time, then id)", ids)
	}
}

func testDelete(t *testing.T, st fakebackend.Store) {
	put(t, st, instance("i1", "app", "bob", "d", base), instance("i2", "app", "bob", "d2", base))
	v, err := st.UserVersion("app", "bob")
	must(t, err)
	_, err = st.Commit(fakebackend.Change{Application: "app", User: "bob", Version: v,
		Delete: []fakebackend.Ended{{Instance: "i1", Code: "instance_not_found", Message: "revoked"}, {Instance: "never-was"}}})
	must(t, err)
	if _, err := st.Instance("i1"); !errors.Is(err, fakebackend.ErrNotFound) {
		t.Fatalf("deleted instance: %v, want ErrNotFound", err)
	}
	insts, err := st.Instances()
	must(t, err)
	if len(insts) != 1 || insts[0].ID != "i2" {
		t.Fatalf("Instances after a delete = %v", insts)
	}
}

// testUserInstances: a store that lists one user's instances (calls use
// it for the callee) lists exactly theirs, in creation order, and forgets
// a deleted one. A store without the method is not checked.
func testUserInstances(t *testing.T, st fakebackend.Store) {
	l, ok := st.(interface {
		UserInstances(app, user string) ([]fakebackend.Instance, error)
	})
	if !ok {
		t.Skip("the store does not list one user's instances")
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	put(t, st, instance("u2", "app", "una", "tablet", t0.Add(time.Minute)), instance("u1", "app", "una", "phone", t0),
		instance("v1", "app", "vic", "phone", t0), instance("u3", "other", "una", "phone", t0))
	ids := func() []string {
		insts, err := l.UserInstances("app", "una")
		must(t, err)
		var out []string
		for _, i := range insts {
			out = append(out, i.ID)
		}
		return out
	}
	if got := fmt.Sprint(ids()); got != "[u1 u2]" {
		t.Fatalf("UserInstances = %s, want [u1 u2]", got)
	}
	v, err := st.UserVersion("app", "una")
	must(t, err)
	_, err = st.Commit(fakebackend.Change{Application: "app", User: "una", Version: v, Delete: []fakebackend.Ended{{Instance: "u1"}}})
	must(t, err)
	if got := fmt.Sprint(ids()); got != "[u2]" {
		t.Fatalf("UserInstances after a delete = %s, want [u2]", got)
	}
	// Written again (its TTL extended): listed once, as it is now.
	u2 := instance("u2", "app", "una", "tablet", t0.Add(time.Minute))
	u2.ExpireAt = t0.Add(time.Hour)
	put(t, st, u2)
	insts, err := l.UserInstances("app", "una")
	must(t, err)
	if len(insts) != 1 || !insts[0].ExpireAt.Equal(u2.ExpireAt) {
		t.Fatalf("UserInstances after a rewrite = %+v, want u2 once, expiring at %v", insts, u2.ExpireAt)
	}
	must(t, st.Reset())
	if got := fmt.Sprint(ids()); got != "[]" {
		t.Fatalf("UserInstances after Reset = %s, want none", got)
	}
}

func testDevices(t *testing.T, st fakebackend.Store) {
	d, err := st.Device("app", "carol", "phone")
	must(t, err)
	if d != (fakebackend.Device{Application: "app", User: "carol", Device: "phone"}) {
		t.Fatalf("unknown device = %+v, want its identity only", d)
	}
	v, err := st.UserVersion("app", "carol")
	must(t, err)
	rec := fakebackend.Device{Application: "app", User: "carol", Device: "phone", Limited: true, InstanceID: "i9"}
	other := fakebackend.Device{Application: "app", User: "carol", Device: "phone:2", InstanceID: "i10"}
	_, err = st.Commit(fakebackend.Change{Application: "app", User: "carol", Version: v, Devices: []fakebackend.Device{rec, other}})
	must(t, err)
	for _, want := range []fakebackend.Device{rec, other} {
		got, err := st.Device("app", "carol", want.Device)
		must(t, err)
		if got != want {
			t.Fatalf("device = %+v, want %+v", got, want)
		}
	}
	// Another user's device of the same name is separate.
	if d, _ := st.Device("app", "carol2", "phone"); d.Limited || d.InstanceID != "" {
		t.Fatalf("another user's device = %+v", d)
	}
}

func testLegacySequence(t *testing.T, st fakebackend.Store) {
	seq, err := st.LegacySequence("app", "dave")
	must(t, err)
	if seq != 0 {
		t.Fatalf("no sequence yet = %d", seq)
	}
	for _, want := range []uint64{7, 1 << 62, 18446744073709551615} {
		v, err := st.UserVersion("app", "dave")
		must(t, err)
		_, err = st.Commit(fakebackend.Change{Application: "app", User: "dave", Version: v, Sequence: want})
		must(t, err)
		got, err := st.LegacySequence("app", "dave")
		must(t, err)
		if got != want {
			t.Fatalf("sequence = %d, want %d", got, want)
		}
	}
	// A Change without a sequence keeps it.
	v, _ := st.UserVersion("app", "dave")
	_, err = st.Commit(fakebackend.Change{Application: "app", User: "dave", Version: v})
	must(t, err)
	if got, _ := st.LegacySequence("app", "dave"); got != 18446744073709551615 {
		t.Fatalf("sequence after a commit without one = %d", got)
	}
}

// testReadUser: ReadUser gives what the single reads give, at once.
func testReadUser(t *testing.T, st fakebackend.Store) {
	empty, err := st.ReadUser("app", "lou", "phone", "nope")
	must(t, err)
	if empty.Version != 0 || empty.Sequence != 0 || empty.Instance != nil ||
		empty.Device != (fakebackend.Device{Application: "app", User: "lou", Device: "phone"}) {
		t.Fatalf("ReadUser of nothing = %+v", empty)
	}
	inst := instance("l1", "app", "lou", "phone", base)
	dev := fakebackend.Device{Application: "app", User: "lou", Device: "phone", Limited: true, InstanceID: "l1"}
	v, _ := st.UserVersion("app", "lou")
	_, err = st.Commit(fakebackend.Change{Application: "app", User: "lou", Version: v, Put: []fakebackend.Instance{inst}, Devices: []fakebackend.Device{dev}, Sequence: 12})
	must(t, err)
	got, err := st.ReadUser("app", "lou", "phone", "l1")
	must(t, err)
	v, _ = st.UserVersion("app", "lou")
	if got.Version != v || got.Sequence != 12 || got.Device != dev || got.Instance == nil {
		t.Fatalf("ReadUser = %+v, want version %d, sequence 12, %+v and the instance", got, v, dev)
	}
	sameInstance(t, *got.Instance, inst)
	only, err := st.ReadUser("app", "lou", "", "")
	must(t, err)
	if only.Version != v || only.Instance != nil || only.Device != (fakebackend.Device{}) {
		t.Fatalf("ReadUser without device and instance = %+v", only)
	}
}

func testVersionConflict(t *testing.T, st fakebackend.Store) {
	v0, err := st.UserVersion("app", "erin")
	must(t, err)
	_, err = st.Commit(fakebackend.Change{Application: "app", User: "erin", Version: v0, Put: []fakebackend.Instance{instance("e1", "app", "erin", "d", base)}})
	must(t, err)
	v1, err := st.UserVersion("app", "erin")
	must(t, err)
	if v1 == v0 {
		t.Fatal("a commit did not move the user's version")
	}
	// A decision made at v0 is stale now: nothing of it is applied.
	_, err = st.Commit(fakebackend.Change{Application: "app", User: "erin", Version: v0,
		Put:      []fakebackend.Instance{instance("e2", "app", "erin", "d", base)},
		Delete:   []fakebackend.Ended{{Instance: "e1"}},
		Devices:  []fakebackend.Device{{Application: "app", User: "erin", Device: "d", Limited: true}},
		Sequence: 5, Creation: &fakebackend.Creation{At: base, Window: time.Hour, Limit: 1}})
	if !errors.Is(err, fakebackend.ErrConflict) {
		t.Fatalf("stale commit = %v, want ErrConflict", err)
	}
	if _, err := st.Instance("e2"); !errors.Is(err, fakebackend.ErrNotFound) {
		t.Fatal("a conflicting commit put an instance")
	}
	if _, err := st.Instance("e1"); err != nil {
		t.Fatal("a conflicting commit deleted an instance")
	}
	if d, _ := st.Device("app", "erin", "d"); d.Limited {
		t.Fatal("a conflicting commit wrote a device")
	}
	if s, _ := st.LegacySequence("app", "erin"); s != 0 {
		t.Fatal("a conflicting commit wrote a sequence")
	}
	if v, _ := st.UserVersion("app", "erin"); v != v1 {
		t.Fatal("a conflicting commit moved the version")
	}
	// The conflicting commit counted no creation: one is still allowed.
	res, err := st.Commit(fakebackend.Change{Application: "app", User: "erin", Version: v1, Creation: &fakebackend.Creation{At: base, Window: time.Hour, Limit: 1}})
	must(t, err)
	if res.RateLimited {
		t.Fatal("a conflicting commit counted a creation")
	}
}

func testVersionsPerUser(t *testing.T, st fakebackend.Store) {
	va, _ := st.UserVersion("app", "u-a")
	vb, _ := st.UserVersion("app", "u-b")
	vo, _ := st.UserVersion("other", "u-a")
	_, err := st.Commit(fakebackend.Change{Application: "app", User: "u-a", Version: va})
	must(t, err)
	if v, _ := st.UserVersion("app", "u-b"); v != vb {
		t.Fatal("a commit for one user moved another user's version")
	}
	if v, _ := st.UserVersion("other", "u-a"); v != vo {
		t.Fatal("a commit in one application moved the same user's version in another")
	}
}

func testCreationLimit(t *testing.T, st fakebackend.Store) {
	const limit = 3
	window := time.Hour
	create := func(at time.Time, id string) fakebackend.Committed {
		t.Helper()
		v, err := st.UserVersion("app", "frank")
		must(t, err)
		res, err := st.Commit(fakebackend.Change{Application: "app", User: "frank", Version: v,
			Creation: &fakebackend.Creation{At: at, Window: window, Limit: limit},
			Put:      []fakebackend.Instance{instance(id, "app", "frank", "d", at)}})
		must(t, err)
		return res
	}
	for k := range limit {
		if res := create(base.Add(time.Duration(k)*time.Minute), fmt.Sprintf("f%d", k)); res.RateLimited {
			t.Fatalf("creation %d of %d refused", k+1, limit)
		}
	}
	v, _ := st.UserVersion("app", "frank")
	now := base.Add(10 * time.Minute)
	res := create(now, "over")
	if !res.RateLimited {
		t.Fatal("a creation over the limit was allowed")
	}
	if want := base.Add(window).Sub(now); res.RetryAfter != want {
		t.Fatalf("RetryAfter = %v, want %v (the oldest creation leaves the window)", res.RetryAfter, want)
	}
	if _, err := st.Instance("over"); !errors.Is(err, fakebackend.ErrNotFound) {
		t.Fatal("a rate-limited commit put its instance")
	}
	if v2, _ := st.UserVersion("app", "frank"); v2 != v {
		t.Fatal("a rate-limited commit moved the version")
	}
	// Exactly when the oldest leaves the window, one more is allowed.
	if res := create(base.Add(window), "later"); res.RateLimited {
		t.Fatal("a creation once the oldest left the window was refused")
	}
	if res := create(base.Add(window), "again"); !res.RateLimited {
		t.Fatal("the limit was not kept after the window moved")
	}
	// Another user has a limit of their own.
	v, _ = st.UserVersion("app", "grace")
	res, err := st.Commit(fakebackend.Change{Application: "app", User: "grace", Version: v, Creation: &fakebackend.Creation{At: now, Window: window, Limit: limit}})
	must(t, err)
	if res.RateLimited {
		t.Fatal("one user's creations limited another user")
	}
}

func testCreationUnlimited(t *testing.T, st fakebackend.Store) {
	for k := range 50 {
		v, err := st.UserVersion("app", "heidi")
		must(t, err)
		res, err := st.Commit(fakebackend.Change{Application: "app", User: "heidi", Version: v, Creation: &fakebackend.Creation{At: base, Window: time.Hour, Limit: -1}})
		must(t, err)
		if res.RateLimited {
			t.Fatalf("creation %d refused without a limit", k)
		}
	}
}

func testNonces(t *testing.T, st fakebackend.Store) {
	until := base.Add(time.Hour)
	use := func(app, nonce string, until, now time.Time) bool {
		t.Helper()
		ok, err := st.UseNonce(app, nonce, until, now, 1000)
		must(t, err)
		return ok
	}
	if !use("app", "n1", until, base) {
		t.Fatal("a fresh nonce was refused")
	}
	if use("app", "n1", until, base.Add(time.Minute)) {
		t.Fatal("a replayed nonce was accepted")
	}
	if !use("other", "n1", until, base) {
		t.Fatal("the same nonce in another application was refused")
	}
	if !use("app", "n2", until, base) {
		t.Fatal("a second nonce was refused")
	}
	// Just before validUntil it still counts; at validUntil it no longer
	// does: the stored time decides, whatever the store's own expiry.
	if use("app", "n1", until, until.Add(-time.Nanosecond)) {
		t.Fatal("a nonce was forgotten before its validUntil")
	}
	if !use("app", "n1", until.Add(time.Hour), until) {
		t.Fatal("a nonce was not forgotten at its validUntil")
	}
	if use("app", "n1", until.Add(time.Hour), until.Add(time.Minute)) {
		t.Fatal("a nonce recorded again was not remembered")
	}
}

func testNonceLimit(t *testing.T, st fakebackend.Store) {
	for k := range 3 {
		ok, err := st.UseNonce("app", fmt.Sprint("m", k), base.Add(time.Hour), base, 3)
		must(t, err)
		if !ok {
			t.Fatalf("nonce %d refused", k)
		}
	}
	if _, err := st.UseNonce("app", "m3", base.Add(time.Hour), base, 3); !errors.Is(err, fakebackend.ErrNonceStoreFull) {
		t.Fatalf("a fourth nonce with max 3 = %v, want ErrNonceStoreFull", err)
	}
	// Once they expire, there is room again.
	ok, err := st.UseNonce("app", "m3", base.Add(3*time.Hour), base.Add(2*time.Hour), 3)
	must(t, err)
	if !ok {
		t.Fatal("no room once the nonces expired")
	}
}

func testReset(t *testing.T, st fakebackend.Store) {
	must(t, st.PutApplication(fakebackend.Application{Key: "keep", Secret: secret(t, "AAAAAAAAAAAAAAAAAAAAAA==")}))
	put(t, st, instance("r1", "app", "ivan", "d", base))
	v, _ := st.UserVersion("app", "ivan")
	_, err := st.Commit(fakebackend.Change{Application: "app", User: "ivan", Version: v, Sequence: 9,
		Devices:  []fakebackend.Device{{Application: "app", User: "ivan", Device: "d", Limited: true, InstanceID: "r1"}},
		Creation: &fakebackend.Creation{At: base, Window: time.Hour, Limit: 1}})
	must(t, err)
	if ok, _ := st.UseNonce("app", "rn", base.Add(time.Hour), base, 100); !ok {
		t.Fatal("nonce refused")
	}
	stale, _ := st.UserVersion("app", "ivan")
	must(t, st.Reset())
	// A decision made before the reset cannot be committed after it.
	if _, err := st.Commit(fakebackend.Change{Application: "app", User: "ivan", Version: stale, Sequence: 10}); !errors.Is(err, fakebackend.ErrConflict) {
		t.Fatalf("a commit at the version read before Reset: %v, want ErrConflict", err)
	}
	if apps, _ := st.Applications(); len(apps) != 1 || apps[0].Key != "keep" {
		t.Fatalf("applications after Reset = %v, want kept", apps)
	}
	if insts, _ := st.Instances(); len(insts) != 0 {
		t.Fatalf("instances after Reset = %v", insts)
	}
	if d, _ := st.Device("app", "ivan", "d"); d.Limited || d.InstanceID != "" {
		t.Fatalf("device after Reset = %+v", d)
	}
	if s, _ := st.LegacySequence("app", "ivan"); s != 0 {
		t.Fatalf("sequence after Reset = %d", s)
	}
	if ok, _ := st.UseNonce("app", "rn", base.Add(time.Hour), base, 100); !ok {
		t.Fatal("a nonce survived Reset")
	}
	v, _ = st.UserVersion("app", "ivan")
	res, err := st.Commit(fakebackend.Change{Application: "app", User: "ivan", Version: v, Creation: &fakebackend.Creation{At: base, Window: time.Hour, Limit: 1}})
	must(t, err)
	if res.RateLimited {
		t.Fatal("creations survived Reset")
	}
}

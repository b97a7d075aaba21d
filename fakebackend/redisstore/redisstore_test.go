package redisstore_test

import (
	"time"

	"testing"

	"github.com/sinchsim/sinchsim/fakebackend"
	"github.com/sinchsim/sinchsim/fakebackend/redisstore/redistest"
	"github.com/sinchsim/sinchsim/fakebackend/storetest"
)

// TestContract runs the store contract on miniredis, or on the server at
// SINCHSIM_REDIS_URL.
func TestContract(t *testing.T) {
	storetest.RunStoreTests(t, func(t *testing.T) fakebackend.Store {
		return redistest.New(t).Open(t, "")
	}, storetest.WithoutNonceLimit())
}

// HolderOf gives an instance's holder and whether the instance exists,
// each as Holders and Instance would.
func TestHolderOf(t *testing.T) {
	r := redistest.New(t)
	a, b := r.Open(t, "A"), r.Open(t, "B")
	id := "inst-1"
	if h, exists, err := a.HolderOf(id); err != nil || exists || h != (fakebackend.Holder{}) {
		t.Fatalf("unknown instance: %+v %v %v", h, exists, err)
	}
	if _, err := a.Hold(id, "7"); err != nil {
		t.Fatal(err)
	}
	if h, exists, err := b.HolderOf(id); err != nil || exists || h != (fakebackend.Holder{Replica: a.Replica(), Conn: "7"}) {
		t.Fatalf("held, not stored: %+v %v %v", h, exists, err)
	}
	v, err := a.UserVersion("app", "ann")
	if err != nil {
		t.Fatal(err)
	}
	inst := fakebackend.Instance{ID: id, Application: "app", User: "ann", Device: "phone", CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	if _, err := a.Commit(fakebackend.Change{Application: "app", User: "ann", Version: v, Put: []fakebackend.Instance{inst}}); err != nil {
		t.Fatal(err)
	}
	if h, exists, err := b.HolderOf(id); err != nil || !exists || h.Conn != "7" {
		t.Fatalf("held and stored: %+v %v %v", h, exists, err)
	}
	if err := a.Release(id, "7"); err != nil {
		t.Fatal(err)
	}
	if h, exists, err := b.HolderOf(id); err != nil || !exists || h != (fakebackend.Holder{}) {
		t.Fatalf("released: %+v %v %v", h, exists, err)
	}
}

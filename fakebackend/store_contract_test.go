package fakebackend_test

import (
	"testing"
	"time"

	"github.com/sinchsim/sinchsim/fakebackend"
	"github.com/sinchsim/sinchsim/fakebackend/storetest"
)

func TestMemoryStoreContract(t *testing.T) {
	storetest.RunStoreTests(t, func(t *testing.T) fakebackend.Store { return fakebackend.NewMemoryStore() })
}

func TestFileStoreContract(t *testing.T) {
	storetest.RunStoreTests(t, func(t *testing.T) fakebackend.Store {
		st, err := fakebackend.OpenFileStore(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return st
	})
}

// TestFileStoreReplaysCommits: a commit is in the journal before Commit
// returns, whole; a process that dies without Close loses none of it.
func TestFileStoreReplaysCommits(t *testing.T) {
	dir := t.TempDir()
	st, err := fakebackend.OpenFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	at := fakebackend.DefaultMockTime
	inst := fakebackend.Instance{ID: "i1", Application: "app", User: "u", Device: "d", Secret: "sec", CreatedAt: at}
	ch := fakebackend.Change{Application: "app", User: "u",
		Creation: &fakebackend.Creation{At: at, Window: time.Hour, Limit: 1},
		Put:      []fakebackend.Instance{inst, {ID: "i0", Application: "app", User: "u", Device: "d0", Secret: "s0", CreatedAt: at}},
		Devices:  []fakebackend.Device{{Application: "app", User: "u", Device: "d", Limited: true, InstanceID: "i1"}},
		Sequence: 4,
	}
	if _, err := st.Commit(ch); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Commit(fakebackend.Change{Application: "app", User: "u", Version: 1, Delete: []fakebackend.Ended{{Instance: "i0"}}}); err != nil {
		t.Fatal(err)
	}
	// Not closed: as after a kill -9. Opening again replays the journal.
	again, err := fakebackend.OpenFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	got, err := again.Instance("i1")
	if err != nil || got.Secret != "sec" || got.Device != "d" {
		t.Fatalf("instance after replay = %+v, %v", got, err)
	}
	if _, err := again.Instance("i0"); err == nil {
		t.Fatal("a deleted instance came back")
	}
	if d, _ := again.Device("app", "u", "d"); !d.Limited || d.InstanceID != "i1" {
		t.Fatalf("device after replay = %+v", d)
	}
	if s, _ := again.LegacySequence("app", "u"); s != 4 {
		t.Fatalf("sequence after replay = %d", s)
	}
	v, _ := again.UserVersion("app", "u")
	res, err := again.Commit(fakebackend.Change{Application: "app", User: "u", Version: v, Creation: &fakebackend.Creation{At: at, Window: time.Hour, Limit: 1}})
	if err != nil || !res.RateLimited {
		t.Fatalf("the replayed creation does not count: %+v %v", res, err)
	}
	st.Close()
}

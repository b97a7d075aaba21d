package storetest

// The contract under concurrency: commits, creations and nonces from many
// goroutines at once, as from several replicas.

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sinchsim/sinchsim/fakebackend"
)

// testConcurrentCommits: many deciders on one version; exactly one wins.
func testConcurrentCommits(t *testing.T, st fakebackend.Store) {
	const n = 16
	v, err := st.UserVersion("app", "judy")
	must(t, err)
	var wins, conflicts atomic.Int32
	var wg sync.WaitGroup
	for k := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := st.Commit(fakebackend.Change{Application: "app", User: "judy", Version: v,
				Put: []fakebackend.Instance{instance(fmt.Sprint("j", k), "app", "judy", "d", base)}})
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, fakebackend.ErrConflict):
				conflicts.Add(1)
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 || conflicts.Load() != n-1 {
		t.Fatalf("%d commits on one version: %d won, %d conflicted; want 1 and %d", n, wins.Load(), conflicts.Load(), n-1)
	}
	if insts, _ := st.Instances(); len(insts) != 1 {
		t.Fatalf("%d instances, want 1", len(insts))
	}
}

// testConcurrentCreations: deciders that retry on conflict, as the rules
// do, create exactly the limit.
func testConcurrentCreations(t *testing.T, st fakebackend.Store) {
	const n, limit = 40, 10
	var created, limited atomic.Int32
	var wg sync.WaitGroup
	for k := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				v, err := st.UserVersion("app", "ken")
				if err != nil {
					t.Error(err)
					return
				}
				res, err := st.Commit(fakebackend.Change{Application: "app", User: "ken", Version: v,
					Creation: &fakebackend.Creation{At: base, Window: time.Hour, Limit: limit},
					Put:      []fakebackend.Instance{instance(fmt.Sprint("k", k), "app", "ken", fmt.Sprint("d", k), base)}})
				if errors.Is(err, fakebackend.ErrConflict) {
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				if res.RateLimited {
					limited.Add(1)
				} else {
					created.Add(1)
				}
				return
			}
		}()
	}
	wg.Wait()
	insts, _ := st.Instances()
	if created.Load() != limit || limited.Load() != n-limit || len(insts) != limit {
		t.Fatalf("%d concurrent creations with limit %d: %d created, %d limited, %d instances", n, limit, created.Load(), limited.Load(), len(insts))
	}
}

func testConcurrentNonces(t *testing.T, st fakebackend.Store) {
	const n = 32
	var fresh atomic.Int32
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := st.UseNonce("app", "shared-nonce", base.Add(time.Hour), base, 1000)
			if err != nil {
				t.Error(err)
			}
			if ok {
				fresh.Add(1)
			}
		}()
	}
	wg.Wait()
	if fresh.Load() != 1 {
		t.Fatalf("one nonce used %d times at once: %d accepted, want 1", n, fresh.Load())
	}
}

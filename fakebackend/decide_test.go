package fakebackend

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/transport"
)

// commitFailing is a Store whose Commit fails with *fail, when set.
type commitFailing struct {
	Store
	fail *atomic.Pointer[error]
}

func (c commitFailing) Commit(ch Change) (Committed, error) {
	if err := c.fail.Load(); err != nil {
		return Committed{}, *err
	}
	return c.Store.Commit(ch)
}

// Every decision answers a store that fails its commit: unavailable (the
// client retries) when the store cannot be reached, internal_error for
// anything else. None is left without an answer.
func TestDecisionsAnswerStoreFailures(t *testing.T) {
	var fail atomic.Pointer[error]
	s := RunT(t, Config{Store: commitFailing{NewMemoryStore(), &fail}, Applications: []Application{NewApplication()}})
	app := s.Application()
	c := dialRaw(t, s)
	instanceOf(t, c.create(app.Key, "alice", "d1", mint(t, s, credentials.MintParams{UserID: "alice", InstanceTTL: 72 * time.Hour})))
	requests := map[string]func() map[string]any{
		"createInstance": func() map[string]any {
			return dialRaw(t, s).create(app.Key, "bob", "d1", mint(t, s, credentials.MintParams{UserID: "bob"}))
		},
		"updateInstanceTtl": func() map[string]any {
			return c.request(map[string]any{"type": "updateInstanceTtl", "jwt": mint(t, s, credentials.MintParams{UserID: "alice", InstanceTTL: 96 * time.Hour})})
		},
		"registerPushToken": func() map[string]any {
			return c.request(map[string]any{"type": "registerPushToken", "pushToken": "apns-1"})
		},
	}
	for _, tc := range []struct {
		err  error
		code string
	}{
		{ErrUnavailable, transport.CodeUnavailable},
		{errors.New("disk on fire"), transport.CodeInternalError},
	} {
		fail.Store(&tc.err)
		for kind, req := range requests {
			if got := errCode(req()); got != tc.code {
				t.Errorf("%s with a commit failing with %v: %q, want %s", kind, tc.err, got, tc.code)
			}
		}
	}
}

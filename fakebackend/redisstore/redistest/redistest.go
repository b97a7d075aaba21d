// Package redistest gives tests a Redis to run the Redis store on: the
// server named by SINCHSIM_REDIS_URL when that is set (CI sets it), or
// else a miniredis started for the test, so that go test needs no Redis.
// Each test gets a key prefix of its own, removed when it ends, so that
// test binaries running at the same time never share a key.
package redistest

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/alicebob/miniredis/v2"

	"github.com/sinchsim/sinchsim/fakebackend/redisstore"
)

// EnvURL names the environment variable with a real server's URL, e.g.
// redis://127.0.0.1:6379/0.
const EnvURL = "SINCHSIM_REDIS_URL"

// Redis is a Redis server and a key prefix for one test.
type Redis struct {
	// URL is the server's URL; Prefix the test's key prefix.
	URL    string
	Prefix string
	mini   *miniredis.Miniredis
}

// New returns the Redis for a test. At the end of the test its keys are
// removed (and a miniredis stopped).
func New(tb testing.TB) *Redis {
	tb.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	r := &Redis{Prefix: "sinchsim-test-" + hex.EncodeToString(b[:]) + ":"}
	if u := os.Getenv(EnvURL); u != "" {
		r.URL = u
	} else {
		r.mini = miniredis.RunT(tb)
		r.URL = "redis://" + r.mini.Addr()
	}
	tb.Cleanup(func() {
		if r.mini != nil {
			return // stopped by RunT
		}
		st, err := redisstore.Open(r.URL, redisstore.Options{Prefix: r.Prefix})
		if err != nil {
			tb.Logf("redistest: removing the test's keys: %v", err)
			return
		}
		defer st.Close()
		if err := st.Purge(); err != nil {
			tb.Logf("redistest: removing the test's keys: %v", err)
		}
	})
	return r
}

// Real reports whether the tests run against a real server.
func (r *Redis) Real() bool { return r.mini == nil }

// Miniredis returns the miniredis, or nil on a real server.
func (r *Redis) Miniredis() *miniredis.Miniredis { return r.mini }

// Open returns a store on the test's prefix, as replica (default: a
// generated name). It is closed at the end of the test if nothing else
// closed it.
func (r *Redis) Open(tb testing.TB, replica string) *redisstore.Store {
	tb.Helper()
	st, err := redisstore.Open(r.URL, redisstore.Options{Prefix: r.Prefix, Replica: replica})
	if err != nil {
		tb.Fatalf("redistest: %v", err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}

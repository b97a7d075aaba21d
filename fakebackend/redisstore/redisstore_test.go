package redisstore_test

import (
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

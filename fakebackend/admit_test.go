package fakebackend

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

// A connection admitted and still being upgraded holds its place under
// Policy.MaxConnections, so that connections upgraded at once cannot pass
// the limit; a failed upgrade gives the place back.
func TestAdmitCountsUpgradesUnderWay(t *testing.T) {
	s := RunT(t, Config{Applications: []Application{NewApplication()}, Policy: Policy{MaxConnections: 3}})
	held := 0 // admitted, not yet released
	admit := func() (bool, int) {
		rec := httptest.NewRecorder()
		ok := s.admit(rec)
		if ok {
			held++
		}
		return ok, rec.Code
	}
	release := func() {
		s.upgradeFailed(httptest.NewRequest("GET", "/", nil), errors.New("test"))
		s.wg.Done()
		held--
	}
	t.Cleanup(func() { // before the server closes, which waits for them
		for held > 0 {
			release()
		}
	})
	for i := range 3 {
		if ok, _ := admit(); !ok {
			t.Fatalf("connection %d refused", i+1)
		}
	}
	if ok, code := admit(); ok || code != http.StatusServiceUnavailable {
		t.Fatalf("a fourth connection while three upgrade: admitted %v (%d), want 503", ok, code)
	}
	release()
	if ok, _ := admit(); !ok {
		t.Fatal("a failed upgrade did not give its place back")
	}
}

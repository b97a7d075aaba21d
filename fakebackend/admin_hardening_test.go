package fakebackend

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sinchsim/sinchsim/credentials"
)

// TestAdminRefusesOffLoopbackOnEveryRoute completes TestAdminAuth: off
// loopback, every admin route (not only health) refuses a request without
// the token, with a near miss of it or with another scheme, and a refused
// request changes nothing.
func TestAdminRefusesOffLoopbackOnEveryRoute(t *testing.T) {
	const token = "s3cret-admin-token"
	s := RunT(t, Config{AdminToken: token})
	app := s.Application()
	c := dialRaw(t, s)
	id, _, _ := instanceOf(t, c.create(app.Key, "alice", "d1", mint(t, s, credentials.MintParams{UserID: "alice"})))
	s.mu.Lock()
	s.addr = "0.0.0.0:1" // judged as if listening on every interface
	s.mu.Unlock()
	h := s.Handler()
	routes := []struct{ method, path, body string }{
		{"GET", "/admin/health", ""},
		{"GET", "/admin/applications", ""},
		{"POST", "/admin/applications", `{"key":"intruder"}`},
		{"GET", "/admin/instances", ""},
		{"GET", "/admin/instances/" + id, ""},
		{"DELETE", "/admin/instances/" + id, ""},
		{"GET", "/admin/clock", ""},
		{"POST", "/admin/clock", `{"advance":"240h"}`},
		{"POST", "/admin/reset", ""},
		{"GET", "/admin/events", ""},
		{"GET", "/admin/faults", ""},
		{"POST", "/admin/faults", `{"kind":"*","count":1000,"drop":true}`},
		{"DELETE", "/admin/faults", ""},
		{"GET", "/admin/nope", ""},
	}
	auths := []string{
		"",
		"Bearer ",
		"Bearer wrong",
		"Bearer " + token[:len(token)-1],
		"Bearer " + token + "x",
		"Bearer  " + token,
		"bearer " + token, // the scheme is matched exactly
		"Basic " + token,
		token,
	}
	now := s.Now()
	for _, r := range routes {
		for _, auth := range auths {
			req := httptest.NewRequest(r.method, r.path, strings.NewReader(r.body))
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusUnauthorized || strings.Contains(rec.Body.String(), token) {
				t.Errorf("%s %s with Authorization %q: %d %s", r.method, r.path, auth, rec.Code, rec.Body)
			}
		}
	}
	if _, ok := s.Instance(id); !ok || len(s.Applications()) != 1 || !s.Now().Equal(now) || len(s.Faults()) != 0 {
		t.Fatal("a refused admin request changed the backend")
	}
	// The token itself still works there.
	req := httptest.NewRequest("GET", "/admin/instances/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("the admin token off loopback: %d", rec.Code)
	}
}

// TestAdminTokenlessOnlyFromThisMachine: on loopback the admin API needs
// no token, so a web page the developer has open must not be able to use
// it: browsers send a cross-site POST to 127.0.0.1 without asking (no
// preflight for a text/plain body), and DNS rebinding makes a page's
// requests same-origin under the attacker's host name. Without a token,
// only requests naming a loopback host and carrying no foreign Origin are
// served.
func TestAdminTokenlessOnlyFromThisMachine(t *testing.T) {
	s := RunT(t, Config{AdminToken: "tok-123456"})
	h := s.Handler()
	port := s.Addr()[strings.LastIndexByte(s.Addr(), ':'):]
	for _, tc := range []struct {
		name, host, origin, auth string
		want                     int
	}{
		{"loopback IP", "127.0.0.1" + port, "", "", 200},
		{"localhost", "localhost" + port, "", "", 200},
		{"IPv6 loopback", "[::1]" + port, "", "", 200},
		{"same-origin page", "127.0.0.1" + port, "http://127.0.0.1" + port, "", 200},
		{"cross-site page", "127.0.0.1" + port, "https://evil.example", "", 403},
		{"null origin", "127.0.0.1" + port, "null", "", 403},
		{"DNS rebinding", "evil.example" + port, "http://evil.example" + port, "", 403},
		{"foreign host name", "evil.example" + port, "", "", 403},
		{"cross-site page with the token", "evil.example" + port, "https://evil.example", "Bearer tok-123456", 200},
	} {
		req := httptest.NewRequest("POST", "/admin/clock", strings.NewReader(`{"advance":"1h"}`))
		req.Host = tc.host
		req.Header.Set("Content-Type", "text/plain")
		if tc.origin != "" {
			req.Header.Set("Origin", tc.origin)
		}
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		before := s.Now()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, rec.Code, rec.Body, tc.want)
		}
		if moved := !s.Now().Equal(before); moved != (tc.want == 200) {
			t.Errorf("%s: clock moved = %v", tc.name, moved)
		}
	}
}

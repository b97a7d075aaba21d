package fakebackend

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sinchsim/sinchsim/credentials"
)

// TestAdminTokenNeededOnEveryRoute completes TestAdminAuth: with an admin
// token set, every admin route (not only health), on loopback and off it,
// refuses a request without the token, with a near miss of it or with
// another scheme, and a refused request changes nothing.
func TestAdminTokenNeededOnEveryRoute(t *testing.T) {
	for _, where := range []string{"loopback", "every interface"} {
		t.Run(where, func(t *testing.T) { testAdminTokenNeeded(t, where == "loopback") })
	}
}

func testAdminTokenNeeded(t *testing.T, loopback bool) {
	t.Helper()
	const token = "s3cret-admin-token"
	s := RunT(t, Config{AdminToken: token})
	app := s.Application()
	c := dialRaw(t, s)
	id, _, _ := instanceOf(t, c.create(app.Key, "alice", "d1", mint(t, s, credentials.MintParams{UserID: "alice"})))
	if !loopback {
		s.mu.Lock()
		s.addr = "0.0.0.0:1" // judged as if listening on every interface
		s.mu.Unlock()
	}
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
		{"GET", "/admin/events/stream", ""},
		{"GET", "/admin/codes", ""},
		{"GET", "/admin/stats", ""},
		{"POST", "/admin/explain", `{"token":"x.y.z"}`},
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
			req.Host = "127.0.0.1" + s.Addr()[strings.LastIndexByte(s.Addr(), ':'):]
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
	req.Host = "127.0.0.1"
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("the admin token off loopback: %d", rec.Code)
	}
}

// TestAdminTokenlessOnlyFromThisMachine: without an admin token, the admin
// API answers on loopback, so a web page the developer has open must not be
// able to use it: browsers send a cross-site POST to 127.0.0.1 without
// asking (no preflight for a text/plain body), and DNS rebinding makes a
// page's requests same-origin under the attacker's host name. Without a
// token, only requests naming a loopback host and carrying no foreign
// Origin are served. With a token set, the token decides, from anywhere.
func TestAdminTokenlessOnlyFromThisMachine(t *testing.T) {
	open := RunT(t)
	guarded := RunT(t, Config{AdminToken: "tok-123456"})
	for _, tc := range []struct {
		name         string
		s            *Server
		host, origin string
		auth         string
		want         int
	}{
		{"loopback IP", open, "127.0.0.1", "", "", 200},
		{"localhost", open, "localhost", "", "", 200},
		{"IPv6 loopback", open, "[::1]", "", "", 200},
		{"same-origin page", open, "127.0.0.1", "http://127.0.0.1", "", 200},
		{"cross-site page", open, "127.0.0.1", "https://evil.example", "", 403},
		{"null origin", open, "127.0.0.1", "null", "", 403},
		{"DNS rebinding", open, "evil.example", "http://evil.example", "", 403},
		{"foreign host name", open, "evil.example", "", "", 403},
		{"a bearer token where none is set", open, "127.0.0.1", "", "Bearer tok-123456", 401},
		{"token set: loopback without it", guarded, "127.0.0.1", "", "", 401},
		{"token set: same-origin page without it", guarded, "127.0.0.1", "http://127.0.0.1", "", 401},
		{"token set: loopback with it", guarded, "127.0.0.1", "", "Bearer tok-123456", 200},
		{"token set: cross-site page with it", guarded, "evil.example", "https://evil.example", "Bearer tok-123456", 200},
	} {
		port := tc.s.Addr()[strings.LastIndexByte(tc.s.Addr(), ':'):]
		req := httptest.NewRequest("POST", "/admin/clock", strings.NewReader(`{"advance":"1h"}`))
		req.Host = tc.host + port
		req.Header.Set("Content-Type", "text/plain")
		switch {
		case strings.HasPrefix(tc.origin, "http"):
			req.Header.Set("Origin", tc.origin+port)
		case tc.origin != "":
			req.Header.Set("Origin", tc.origin)
		}
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		before := tc.s.Now()
		rec := httptest.NewRecorder()
		tc.s.Handler().ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, rec.Code, rec.Body, tc.want)
		}
		if moved := !tc.s.Now().Equal(before); moved != (tc.want == 200) {
			t.Errorf("%s: clock moved = %v", tc.name, moved)
		}
		if rec.Code == 401 && rec.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("%s: 401 without WWW-Authenticate", tc.name)
		}
	}
}

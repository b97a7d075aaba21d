package main

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestServeConsole: serve prints the console's URL; with --admin-token the
// page is served (it asks for the token) and every admin request needs the
// token, from loopback too.
func TestServeConsole(t *testing.T) {
	for _, how := range []string{"flag", "environment"} {
		t.Run(how, func(t *testing.T) { testServeConsole(t, how == "flag") })
	}
}

func testServeConsole(t *testing.T, flag bool) {
	t.Helper()
	const token = "serve-admin-token-77"
	var args []string
	getenv := noEnv
	if flag {
		args = []string{"--admin-token", token}
	} else {
		getenv = func(k string) string {
			if k == adminTokenEnv {
				return token
			}
			return ""
		}
	}
	_, out := startServeEnv(t, getenv, args...)
	m := regexp.MustCompile(`(?m)^  console    (http://127\.0\.0\.1:\d+/console)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no console line in:\n%s", out)
	}
	base := strings.TrimSuffix(m[1], "/console")
	for _, tc := range []struct {
		path, token string
		want        int
	}{
		{"/console", "", 200},
		{"/admin/health", "", 401},
		{"/admin/health", "wrong", 401},
		{"/admin/health", token, 200},
		{"/admin/events/stream?since=0", "", 401},
	} {
		req, _ := http.NewRequest("GET", base+tc.path, nil)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("GET %s with token %q: %d, want %d", tc.path, tc.token, resp.StatusCode, tc.want)
		}
	}
}

package reliability

import (
	"net/http"
	"strings"
	"testing"

	"github.com/sinchsim/sinchsim/fakebackend"
)

// TestOriginCheck: the backend's WebSocket endpoint refuses browser origins
// from other hosts with 403 and accepts its own host, the listed origins,
// and clients that send no Origin (every non-browser client).
func TestOriginCheck(t *testing.T) {
	strict := mockServer(t, fakebackend.Config{})
	listed := mockServer(t, fakebackend.Config{AllowedOrigins: []string{"https://app.example.com"}})
	open := mockServer(t, fakebackend.Config{AllowAnyOrigin: true})
	own := func(s *fakebackend.Server) string { return "http://" + s.Addr() }
	for _, tc := range []struct {
		name    string
		s       *fakebackend.Server
		origins []string // "OWN" is replaced by the server's own origin
		ok      bool
	}{
		{"no origin", strict, nil, true},
		{"own host", strict, []string{"OWN"}, true},
		{"own host over https", strict, []string{"https://HOST"}, true},
		{"another host", strict, []string{"https://evil.example"}, false},
		{"null", strict, []string{"null"}, false},
		{"own host as a prefix", strict, []string{"OWN.evil.example"}, false},
		{"own host, other port", strict, []string{"http://127.0.0.1:1"}, false},
		{"own host with a path", strict, []string{"OWN/app"}, false},
		{"own host with user info", strict, []string{"http://user@HOST"}, false},
		{"ws scheme", strict, []string{"ws://HOST"}, false},
		{"two origins", strict, []string{"OWN", "https://evil.example"}, false},
		{"listed", listed, []string{"https://app.example.com"}, true},
		{"listed, other case and slash", listed, []string{"HTTPS://APP.example.COM/"}, true},
		{"listed as a prefix", listed, []string{"https://app.example.com.evil.example"}, false},
		{"not listed", listed, []string{"https://evil.example"}, false},
		{"any origin allowed", open, []string{"https://evil.example"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for _, o := range tc.origins {
				o = strings.Replace(o, "OWN", own(tc.s), 1)
				h.Add("Origin", strings.Replace(o, "HOST", tc.s.Addr(), 1))
			}
			before := tc.s.ConnectedClients()
			ws, resp, err := rawWS(t, tc.s.URL(), h)
			if tc.ok {
				if err != nil {
					t.Fatalf("Origin %q refused: %v", h["Origin"], err)
				}
				ws.Close()
				return
			}
			if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
				t.Fatalf("Origin %q: err %v, response %v; want 403", h["Origin"], err, resp)
			}
			if n := tc.s.ConnectedClients(); n > before {
				t.Fatalf("a refused upgrade became a connection: %d, was %d", n, before)
			}
		})
	}
}

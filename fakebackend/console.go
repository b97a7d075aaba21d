package fakebackend

import (
	"net/http"
	"strings"

	"github.com/sinchsim/sinchsim/fakebackend/console"
)

// ConsoleURL is the address of the live console, a page in the browser
// over the admin API: instances with their TTLs, decisions as they happen,
// the clock, faults and applications (http://host:port/console).
func (s *Server) ConsoleURL() string {
	return strings.TrimSuffix(s.AdminURL(), "admin/") + strings.TrimPrefix(console.Path, "/")
}

// consoleGate serves the page under the admin API's rules. With an admin
// token the page is served to anyone: it holds no data and asks for the
// token, which every request for data then carries. Without one, the page
// answers where the tokenless admin API does, and nowhere else.
func (s *Server) consoleGate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.AdminToken == "" {
			if !s.loopback() || !localRequest(r) {
				http.Error(w, "the console answers on a loopback address to this machine only, unless the server has an admin token", http.StatusForbidden)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

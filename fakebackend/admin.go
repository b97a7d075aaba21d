package fakebackend

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sinchsim/sinchsim/fakebackend/console"
	"github.com/sinchsim/sinchsim/internal/excerpt"
	"github.com/sinchsim/sinchsim/transport"
)

// Handler returns the server's HTTP handler: the WebSocket endpoint at
// transport.Path, the admin API under /admin/, the console at /console and
// metrics at /metrics. It can be mounted in another server; Start uses it.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(transport.Path, s.serveWS)
	mux.Handle("GET /metrics", s.metricsHandler())
	page := s.consoleGate(console.Handler())
	mux.Handle("GET "+console.Path, page)
	mux.Handle("GET "+console.Path+"/", page)
	admin := http.NewServeMux()
	admin.HandleFunc("GET /admin/health", s.adminHealth)
	admin.HandleFunc("GET /admin/applications", s.adminListApps)
	admin.HandleFunc("POST /admin/applications", s.adminAddApp)
	admin.HandleFunc("GET /admin/instances", s.adminListInstances)
	admin.HandleFunc("GET /admin/instances/{id}", s.adminGetInstance)
	admin.HandleFunc("DELETE /admin/instances/{id}", s.adminRevoke)
	admin.HandleFunc("GET /admin/clock", s.adminGetClock)
	admin.HandleFunc("POST /admin/clock", s.adminSetClock)
	admin.HandleFunc("POST /admin/reset", s.adminReset)
	admin.HandleFunc("GET /admin/events", s.adminEvents)
	admin.HandleFunc("GET /admin/pushes", s.adminPushes)
	admin.HandleFunc("GET /admin/events/stream", s.adminEventStream)
	admin.HandleFunc("GET /admin/stats", s.adminStats)
	admin.HandleFunc("GET /admin/codes", s.adminCodes)
	admin.HandleFunc("POST /admin/explain", s.adminExplain)
	admin.HandleFunc("GET /admin/faults", s.adminListFaults)
	admin.HandleFunc("POST /admin/faults", s.adminAddFault)
	admin.HandleFunc("DELETE /admin/faults", s.adminClearFaults)
	admin.HandleFunc("/admin/", func(w http.ResponseWriter, r *http.Request) {
		adminError(w, http.StatusNotFound, "not_found", "no admin endpoint "+r.Method+" "+r.URL.Path)
	})
	mux.Handle("/admin/", s.adminAuth(admin))
	return mux
}

func (s *Server) metricsHandler() http.Handler { return s.metrics.handler }

// loopback reports whether the server listens on a loopback address only.
func (s *Server) loopback() bool {
	host, _, err := net.SplitHostPort(s.Addr())
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// adminAuth guards the admin API. With an admin token set, every request
// must carry it as a bearer token, from loopback too: a token that loopback
// requests could skip would protect nothing from the other users of the
// same machine. Without one, only a loopback listener serves the API, and
// only to this machine's own tools (localRequest).
func (s *Server) adminAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if status, code, msg := s.adminRefusal(r); status != 0 {
			if status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="sinchsim admin"`)
			}
			adminError(w, status, code, msg)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// adminRefusal says why r may not use the admin API (status 0: it may).
func (s *Server) adminRefusal(r *http.Request) (status int, code, msg string) {
	auth := r.Header.Get("Authorization")
	token, hasBearer := strings.CutPrefix(auth, "Bearer ")
	switch {
	case s.cfg.AdminToken != "" && auth == "":
		return http.StatusUnauthorized, "unauthorized", "send Authorization: Bearer <admin token>"
	case s.cfg.AdminToken != "" && (!hasBearer || !sameSecret(token, s.cfg.AdminToken)):
		return http.StatusUnauthorized, "unauthorized", "the bearer token is not the admin token"
	case s.cfg.AdminToken != "":
		return 0, "", ""
	case auth != "":
		return http.StatusUnauthorized, "unauthorized", "this server has no admin token; send no Authorization header"
	case !s.loopback():
		return http.StatusForbidden, "forbidden", "the admin API is off on a non-loopback address unless an admin token is set"
	case !localRequest(r):
		return http.StatusForbidden, "forbidden", "without an admin token, only requests to a loopback host (127.0.0.1, ::1, localhost) that do not come from another web origin are served"
	}
	return 0, "", ""
}

// localRequest reports whether a tokenless request comes from this
// machine's own tools rather than from a web page: browsers send any
// page's requests to 127.0.0.1 too (a cross-site POST with a text/plain
// body needs no preflight), and DNS rebinding makes a page's requests
// same-origin under the attacker's host name. So the request must name a
// loopback host and carry no Origin but its own.
func localRequest(r *http.Request) bool {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if ip := net.ParseIP(host); (ip == nil || !ip.IsLoopback()) && !strings.EqualFold(host, "localhost") {
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && strings.EqualFold(u.Host, r.Host)
}

// sameSecret compares two secrets in a time that depends on neither their
// contents nor their lengths: subtle.ConstantTimeCompare returns at once
// when the lengths differ, which would tell the admin token's length.
func sameSecret(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

type adminErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func adminError(w http.ResponseWriter, status int, code, msg string) {
	var b adminErrorBody
	b.Error.Code, b.Error.Message = code, msg
	writeJSON(w, status, b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// maxAdminBody bounds admin request bodies.
const maxAdminBody = 64 << 10

// decodeAdmin strictly decodes one JSON object: unknown fields, trailing
// data and oversized bodies are refused.
func decodeAdmin(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := DecodeAdminJSON(http.MaxBytesReader(w, r.Body, maxAdminBody), v); err != nil {
		adminError(w, http.StatusBadRequest, "bad_request", err.Error())
		return false
	}
	return true
}

// DecodeAdminJSON is the admin API's strict JSON decoding, exported for
// fuzzing and for tools that build admin requests: exactly one JSON object
// (not null, not another value), no unknown field, nothing after it. Its
// errors are one line starting with "body ", at most a few hundred bytes,
// whatever the input.
func DecodeAdminJSON(r io.Reader, v any) error {
	data, err := io.ReadAll(r)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return fmt.Errorf("body larger than %d bytes", mbe.Limit)
		}
		return fmt.Errorf("body could not be read: %s", excerpt.Line(err.Error(), 160))
	}
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 {
		return errors.New("body is empty; a JSON object is expected")
	}
	if trimmed[0] != '{' {
		return errors.New("body is not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		// The decoder's message can quote a field name of any length.
		return fmt.Errorf("body is not the expected JSON: %s", excerpt.Line(err.Error(), 160))
	}
	if dec.More() {
		return errors.New("body has data after the JSON object")
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return errors.New("body has data after the JSON object")
	}
	return nil
}

func (s *Server) adminHealth(w http.ResponseWriter, r *http.Request) {
	body := map[string]any{
		"status":           "ok",
		"time":             s.clock.Now().UTC().Format(time.RFC3339Nano),
		"mockClock":        s.world != nil,
		"applications":     len(s.Applications()),
		"connectedClients": s.ConnectedClients(),
		"url":              s.URL(),
	}
	if s.shared == nil {
		body["instances"] = len(s.Instances())
		writeJSON(w, http.StatusOK, body)
		return
	}
	// One replica of several: the shared store must answer.
	body["replica"] = s.shared.Replica()
	n, err := s.shared.InstanceCount()
	reps, rerr := s.shared.Replicas()
	if err = errors.Join(err, rerr); err != nil {
		body["status"] = "unavailable"
		body["error"] = unavailableReason
		writeJSON(w, http.StatusServiceUnavailable, body)
		return
	}
	body["instances"], body["replicas"] = n, reps
	writeJSON(w, http.StatusOK, body)
}

package fakebackend

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sinchsim/sinchsim/codes"
	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/fakebackend/console"
	"github.com/sinchsim/sinchsim/registration"
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
		return fmt.Errorf("body could not be read: %s", clipReason(err.Error()))
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
		return fmt.Errorf("body is not the expected JSON: %s", clipReason(err.Error()))
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

// clipReason keeps an error detail to one printable line of at most 160
// bytes.
func clipReason(s string) string {
	const max = 160
	var b strings.Builder
	for _, r := range s {
		if !unicode.IsPrint(r) {
			r = ' '
		}
		if b.Len()+utf8.RuneLen(r) > max {
			b.WriteString("...")
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (s *Server) adminHealth(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"status":           "ok",
		"time":             s.clock.Now().UTC().Format(time.RFC3339Nano),
		"mockClock":        s.world != nil,
		"applications":     len(s.Applications()),
		"instances":        len(s.Instances()),
		"connectedClients": s.ConnectedClients(),
		"url":              s.URL(),
	})
}

type appView struct {
	Key    string `json:"key"`
	Secret string `json:"secret,omitempty"`
}

func (s *Server) adminListApps(w http.ResponseWriter, r *http.Request) {
	out := []appView{}
	for _, a := range s.Applications() {
		out = append(out, appView{Key: a.Key})
	}
	writeJSON(w, http.StatusOK, map[string]any{"applications": out})
}

// adminAddApp creates an application; a missing key or secret is generated.
// The answer carries the secret: it is the only place it is shown.
func (s *Server) adminAddApp(w http.ResponseWriter, r *http.Request) {
	var req appView
	if !decodeAdmin(w, r, &req) {
		return
	}
	gen := NewApplication()
	if req.Key == "" {
		req.Key = gen.Key
	}
	secret := gen.Secret
	if req.Secret != "" {
		var err error
		if secret, err = credentials.ParseSecret(req.Secret); err != nil {
			adminError(w, http.StatusBadRequest, "bad_request", err.Error())
			return
		}
	}
	if len(req.Key) > 128 || strings.ContainsAny(req.Key, "/\x00") {
		adminError(w, http.StatusBadRequest, "bad_request", "key must be at most 128 bytes without '/'")
		return
	}
	if err := s.AddApplication(Application{Key: req.Key, Secret: secret}); err != nil {
		adminError(w, http.StatusInternalServerError, "internal_error", err.Error())
		return
	}
	writeJSON(w, http.StatusCreated, appView{Key: req.Key, Secret: secret.Text()})
}

// InstanceView is an instance as the admin API shows it (no secret).
type InstanceView struct {
	Instance
	Limited   bool `json:"limited"`
	Expired   bool `json:"expired"`
	Connected bool `json:"connected"`
	// RenewAt is when a client with the default renewal policy renews the
	// TTL (registration.DefaultRenewal); zero for an unlimited instance.
	RenewAt time.Time `json:"renewAt,omitzero"`
}

func (s *Server) view(i Instance) InstanceView {
	s.mu.Lock()
	_, connected := s.byInst[i.ID]
	s.mu.Unlock()
	v := InstanceView{Instance: i, Limited: i.Limited(), Expired: i.ExpiredAt(s.clock.Now()), Connected: connected}
	if v.Limited {
		issued := i.CreatedAt
		if n := len(i.History); n > 0 {
			issued = i.History[n-1].At // the TTL's last grant
		}
		v.RenewAt = registration.DefaultRenewal{}.RenewAt(issued, i.ExpireAt)
	}
	return v
}

// instanceOrders are the sort keys of GET /admin/instances.
var instanceOrders = map[string]func(a, b *Instance) int{
	"created":     func(a, b *Instance) int { return a.CreatedAt.Compare(b.CreatedAt) },
	"expireAt":    func(a, b *Instance) int { return expiryOf(a).Compare(expiryOf(b)) },
	"user":        func(a, b *Instance) int { return humanOrder(a.User, b.User) },
	"device":      func(a, b *Instance) int { return humanOrder(a.Device, b.Device) },
	"id":          func(a, b *Instance) int { return strings.Compare(a.ID, b.ID) },
	"application": func(a, b *Instance) int { return strings.Compare(a.Application, b.Application) },
}

// humanOrder sorts names regardless of case, then by bytes.
func humanOrder(a, b string) int {
	return cmp.Or(strings.Compare(strings.ToLower(a), strings.ToLower(b)), strings.Compare(a, b))
}

// expiryOf sorts unlimited instances after every limited one.
func expiryOf(i *Instance) time.Time {
	if !i.Limited() {
		return time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	return i.ExpireAt
}

// adminListInstances lists instances. Filters: applicationKey and userId
// (exact), userContains (a part of the user id, any case). Order: sort (a
// key of instanceOrders, default created) and order (asc or desc). Paging:
// offset, and limit (default: all). total counts the filtered instances.
func (s *Server) adminListInstances(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	offset, okOff := queryInt(q.Get("offset"), 0)
	limit, okLim := queryInt(q.Get("limit"), -1)
	key := cmp.Or(q.Get("sort"), "created")
	compare, okSort := instanceOrders[key]
	order := cmp.Or(q.Get("order"), "asc")
	switch {
	case !okOff || !okLim:
		adminError(w, http.StatusBadRequest, "bad_request", "offset and limit must be non-negative integers")
		return
	case !okSort:
		adminError(w, http.StatusBadRequest, "bad_request", "sort must be created, expireAt, user, device, id or application")
		return
	case order != "asc" && order != "desc":
		adminError(w, http.StatusBadRequest, "bad_request", "order must be asc or desc")
		return
	}
	app, user, part := q.Get("applicationKey"), q.Get("userId"), strings.ToLower(q.Get("userContains"))
	all := s.Instances() // in creation order
	match := make([]*Instance, 0, len(all))
	for k := range all {
		i := &all[k]
		if (user != "" && i.User != user) || (app != "" && i.Application != app) ||
			(part != "" && !strings.Contains(strings.ToLower(i.User), part)) {
			continue
		}
		match = append(match, i)
	}
	if key != "created" { // Instances is in creation order already
		slices.SortStableFunc(match, compare)
	}
	if order == "desc" {
		slices.Reverse(match)
	}
	total := len(match)
	match = match[min(offset, total):]
	if limit >= 0 {
		match = match[:min(limit, len(match))]
	}
	out := make([]InstanceView, 0, len(match))
	for _, i := range match {
		out = append(out, s.view(*i))
	}
	writeJSON(w, http.StatusOK, map[string]any{"instances": out, "total": total, "offset": offset, "time": s.clock.Now().UTC().Format(time.RFC3339Nano)})
}

// queryInt parses a non-negative integer query parameter ("" gives def).
func queryInt(v string, def int) (int, bool) {
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	return n, err == nil && n >= 0
}

func (s *Server) adminGetInstance(w http.ResponseWriter, r *http.Request) {
	i, ok := s.Instance(r.PathValue("id"))
	if !ok {
		adminError(w, http.StatusNotFound, "instance_not_found", "no instance "+strconv.Quote(r.PathValue("id")))
		return
	}
	writeJSON(w, http.StatusOK, s.view(i))
}

func (s *Server) adminRevoke(w http.ResponseWriter, r *http.Request) {
	if !s.RevokeInstance(r.PathValue("id")) {
		adminError(w, http.StatusNotFound, "instance_not_found", "no instance "+strconv.Quote(r.PathValue("id")))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"revoked": r.PathValue("id")})
}

func (s *Server) adminGetClock(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"time": s.clock.Now().UTC().Format(time.RFC3339Nano), "mock": s.world != nil})
}

type clockRequest struct {
	Advance string `json:"advance,omitempty"`
	Set     string `json:"set,omitempty"`
}

func (s *Server) adminSetClock(w http.ResponseWriter, r *http.Request) {
	var req clockRequest
	if !decodeAdmin(w, r, &req) {
		return
	}
	if s.world == nil {
		adminError(w, http.StatusConflict, "not_mock_clock", "the server runs on the real clock (start it with --clock mock)")
		return
	}
	switch {
	case (req.Advance == "") == (req.Set == ""):
		adminError(w, http.StatusBadRequest, "bad_request", `give exactly one of {"advance":"24h"} or {"set":"RFC3339"}`)
		return
	case req.Advance != "":
		d, err := time.ParseDuration(req.Advance)
		if err != nil || d < 0 {
			adminError(w, http.StatusBadRequest, "bad_request", "advance must be a non-negative Go duration such as 24h or 90m")
			return
		}
		if err := s.Advance(d); err != nil {
			adminError(w, http.StatusServiceUnavailable, "not_settled", err.Error())
			return
		}
	default:
		t, err := time.Parse(time.RFC3339, req.Set)
		if err != nil {
			adminError(w, http.StatusBadRequest, "bad_request", "set must be an RFC 3339 time such as 2026-01-02T03:04:05Z")
			return
		}
		if err := s.SetTime(t); err != nil {
			adminError(w, http.StatusServiceUnavailable, "not_settled", err.Error())
			return
		}
	}
	s.adminGetClock(w, r)
}

func (s *Server) adminReset(w http.ResponseWriter, r *http.Request) {
	if err := s.Reset(); err != nil {
		adminError(w, http.StatusInternalServerError, "internal_error", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"reset": true})
}

func (s *Server) adminEvents(w http.ResponseWriter, r *http.Request) {
	evs, ok := sinceLimit(w, r, s.Events(), func(e Event) uint64 { return e.Seq }, "an event")
	if ok {
		writeJSON(w, http.StatusOK, map[string]any{"events": evs})
	}
}

// adminPushes lists the pushes sent (managed push), oldest first, with
// the same since and limit parameters as the events.
func (s *Server) adminPushes(w http.ResponseWriter, r *http.Request) {
	ps, ok := sinceLimit(w, r, s.Pushes(), func(p Push) uint64 { return p.Seq }, "a push")
	if ok {
		writeJSON(w, http.StatusOK, map[string]any{"pushes": ps})
	}
}

// sinceLimit applies the query parameters since (the items after that
// sequence number) and limit (the last n of them) to items in sequence
// order; on a bad parameter it answers 400 and returns false.
func sinceLimit[T any](w http.ResponseWriter, r *http.Request, items []T, seq func(T) uint64, what string) ([]T, bool) {
	if v := r.URL.Query().Get("since"); v != "" {
		since, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			adminError(w, http.StatusBadRequest, "bad_request", "since must be "+what+" sequence number")
			return nil, false
		}
		i := 0
		for i < len(items) && seq(items[i]) <= since {
			i++
		}
		items = items[i:]
	}
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			adminError(w, http.StatusBadRequest, "bad_request", "limit must be a non-negative integer")
			return nil, false
		}
		if len(items) > n {
			items = items[len(items)-n:]
		}
	}
	return items, true
}

type faultRequest struct {
	Kind        string  `json:"kind"`
	Count       int     `json:"count"`
	Probability float64 `json:"probability,omitempty"`
	Code        string  `json:"code,omitempty"`
	Delay       string  `json:"delay,omitempty"`
	Drop        bool    `json:"drop,omitempty"`
	Message     string  `json:"message,omitempty"`
}

// faultKinds are the values a fault's kind can usefully take: "*" (any
// request) and each request type.
var faultKinds = []string{"*",
	transport.TypeCreateInstance, transport.TypeAuthenticate, transport.TypeUpdateInstanceTTL,
	transport.TypeLegacyRegister, transport.TypeRegisterPushToken, transport.TypeUnregisterPushToken,
}

func (s *Server) adminListFaults(w http.ResponseWriter, r *http.Request) {
	out := []faultRequest{}
	for _, f := range s.Faults() {
		fr := faultRequest{Kind: f.Kind, Count: f.Count, Probability: f.Probability, Code: f.Code, Drop: f.Drop, Message: f.Message}
		if f.Delay > 0 {
			fr.Delay = f.Delay.String()
		}
		out = append(out, fr)
	}
	writeJSON(w, http.StatusOK, map[string]any{"faults": out, "kinds": faultKinds})
}

func (s *Server) adminAddFault(w http.ResponseWriter, r *http.Request) {
	var req faultRequest
	if !decodeAdmin(w, r, &req) {
		return
	}
	f := Fault{Kind: req.Kind, Count: req.Count, Probability: req.Probability, Code: req.Code, Drop: req.Drop, Message: req.Message}
	if req.Delay != "" {
		d, err := time.ParseDuration(req.Delay)
		if err != nil {
			adminError(w, http.StatusBadRequest, "bad_request", "delay must be a Go duration such as 250ms")
			return
		}
		f.Delay = d
	}
	if err := s.InjectFault(f); err != nil {
		adminError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	writeJSON(w, http.StatusCreated, req)
}

func (s *Server) adminClearFaults(w http.ResponseWriter, r *http.Request) {
	s.ClearFaults()
	writeJSON(w, http.StatusOK, map[string]any{"faults": []faultRequest{}})
}

// adminStats answers the console's overview: the numbers /metrics shows,
// the registrations of the last minute and the last hour, per minute, in
// backend time.
func (s *Server) adminStats(w http.ResponseWriter, r *http.Request) {
	now := s.clock.Now()
	hour := s.metrics.hour.at(now)
	// Per minute: the current minute so far, plus the share of the
	// previous one that falls within the last 60 seconds.
	cur, prev := hour[len(hour)-1], hour[len(hour)-2]
	into := now.Sub(cur.Minute).Minutes()
	perMinute := float64(cur.Registrations) + float64(prev.Registrations)*(1-into)
	writeJSON(w, http.StatusOK, map[string]any{
		"time":                   now.UTC().Format(time.RFC3339Nano),
		"numbers":                s.metrics.numbers(),
		"registrationsPerMinute": perMinute,
		"lastHour":               hour,
	})
}

// adminCodes answers the code table: each code's meaning and typical fix,
// as docs/ERRORS.md and docs/PROTOCOL.md give them.
func (s *Server) adminCodes(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"codes": codes.All()})
}

type explainRequest struct {
	Token string `json:"token"`
	User  string `json:"userId,omitempty"`
}

// adminExplain says what `sinchsim token explain` says of a token, judged
// at the backend's time with the secret of the application its iss names
// (when the backend knows it). The answer never holds a secret.
func (s *Server) adminExplain(w http.ResponseWriter, r *http.Request) {
	var req explainRequest
	if !decodeAdmin(w, r, &req) {
		return
	}
	opt := credentials.ExplainOptions{User: req.User, Now: s.clock.Now(), Leeway: s.policy.Leeway}
	if s.policy.Leeway == 0 {
		opt.Leeway = -1 // Policy's 0 is already "none" here; Explain's 0 is its default
	}
	x := credentials.Explain(req.Token, opt)
	iss, _ := x.Claims["iss"].(string)
	key, named := strings.CutPrefix(iss, credentials.IssuerPrefix)
	secret, known := s.keys.Secret(key)
	if named && known {
		opt.ApplicationKey, opt.Secret = key, secret
		x = credentials.Explain(req.Token, opt)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"text":             x.String(),
		"verified":         x.Verified,
		"failed":           x.Failed(),
		"findings":         x.Findings,
		"header":           x.Header,
		"claims":           x.Claims,
		"applicationKnown": named && known,
	})
}

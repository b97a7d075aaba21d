package fakebackend

// The admin endpoints that watch and steer a running backend: the decision
// log, fault injection, stats, the code table and the token explainer (the
// console uses all of them).

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sinchsim/sinchsim/codes"
	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/transport"
)

func (s *Server) adminEvents(w http.ResponseWriter, r *http.Request) {
	if s.shared != nil {
		s.adminSharedEvents(w, r)
		return
	}
	evs, ok := sinceLimit(w, r, s.Events(), func(e Event) uint64 { return e.Seq }, "an event")
	if ok {
		writeJSON(w, http.StatusOK, map[string]any{"events": evs})
	}
}

// adminSharedEvents answers GET /admin/events from the shared decision
// log, which holds every replica's decisions.
func (s *Server) adminSharedEvents(w http.ResponseWriter, r *http.Request) {
	since, limit, ok := sinceLimitParams(w, r, "an event")
	if !ok {
		return
	}
	evs := []Event{}
	if limit != 0 {
		var err error
		if evs, err = s.shared.Events(since, max(limit, 0)); err != nil {
			storeError(w, err)
			return
		}
		if evs == nil {
			evs = []Event{}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": evs})
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
	since, limit, ok := sinceLimitParams(w, r, what)
	if !ok {
		return nil, false
	}
	i := 0
	for i < len(items) && seq(items[i]) <= since {
		i++
	}
	items = items[i:]
	if limit >= 0 && len(items) > limit {
		items = items[len(items)-limit:]
	}
	return items, true
}

// sinceLimitParams parses the query parameters since (default 0) and
// limit (default -1: no limit); on a bad one it answers 400 and returns
// false.
func sinceLimitParams(w http.ResponseWriter, r *http.Request, what string) (since uint64, limit int, ok bool) {
	limit = -1
	if v := r.URL.Query().Get("since"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			adminError(w, http.StatusBadRequest, "bad_request", "since must be "+what+" sequence number")
			return 0, 0, false
		}
		since = n
	}
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			adminError(w, http.StatusBadRequest, "bad_request", "limit must be a non-negative integer")
			return 0, 0, false
		}
		limit = n
	}
	return since, limit, true
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
	transport.TypeCallUser, transport.TypeAnswerCall, transport.TypeDeclineCall, transport.TypeHangupCall,
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
	secret, known := s.appSecret(key) // with a shared store, also one another replica added
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

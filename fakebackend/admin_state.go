package fakebackend

// The admin endpoints over the backend's state: applications, instances
// (list, get, revoke), the clock and reset. Routing, authentication and
// the JSON helpers are in admin.go.

import (
	"cmp"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/registration"
	"github.com/sinchsim/sinchsim/transport"
)

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

// views returns the admin view of instances. Connected says whether a
// connection holds the instance: on this replica, or with a shared store,
// on any replica.
func (s *Server) views(insts []Instance) []InstanceView {
	out := make([]InstanceView, len(insts))
	now := s.clock.Now()
	s.mu.Lock()
	for k, i := range insts {
		_, connected := s.byInst[i.ID]
		out[k] = viewAt(i, now, connected)
	}
	s.mu.Unlock()
	if s.shared != nil && len(insts) > 0 {
		ids := make([]string, len(insts))
		for k, i := range insts {
			ids[k] = i.ID
		}
		if hs, err := s.shared.Holders(ids); err == nil && len(hs) == len(ids) {
			for k, h := range hs {
				out[k].Connected = out[k].Connected || h.Replica != ""
			}
		}
	}
	return out
}

// viewAt is the admin view of one instance at time now.
func viewAt(i Instance, now time.Time, connected bool) InstanceView {
	v := InstanceView{Instance: i, Limited: i.Limited(), Expired: i.ExpiredAt(now), Connected: connected}
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
	all, err := s.store.Instances() // in creation order
	if err != nil {
		storeError(w, err)
		return
	}
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
	page := make([]Instance, len(match))
	for k, i := range match {
		page[k] = *i
	}
	out := s.views(page)
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

// storeError answers an admin request that the store could not serve.
func storeError(w http.ResponseWriter, err error) {
	if errors.Is(err, ErrUnavailable) {
		adminError(w, http.StatusServiceUnavailable, transport.CodeUnavailable, unavailableReason)
		return
	}
	adminError(w, http.StatusInternalServerError, "internal_error", "the store failed")
}

func (s *Server) adminGetInstance(w http.ResponseWriter, r *http.Request) {
	i, err := s.store.Instance(r.PathValue("id"))
	if errors.Is(err, ErrNotFound) {
		adminError(w, http.StatusNotFound, "instance_not_found", "no instance "+strconv.Quote(r.PathValue("id")))
		return
	}
	if err != nil {
		storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.views([]Instance{i})[0])
}

func (s *Server) adminRevoke(w http.ResponseWriter, r *http.Request) {
	ok, err := s.revoke(r.PathValue("id"))
	if err != nil {
		storeError(w, err)
		return
	}
	if !ok {
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

package fakebackend

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sinchsim/sinchsim/credentials"
)

// adminDo sends one admin request and decodes the JSON answer.
func adminDo(t *testing.T, s *Server, method, path, body, token string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, strings.TrimSuffix(s.AdminURL(), "/admin/")+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: wireTimeout}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("%s %s: not JSON: %s", method, path, data)
		}
	} else {
		m = map[string]any{"text": string(data)}
	}
	return resp.StatusCode, m
}

func TestAdminAPI(t *testing.T) {
	s := RunT(t)
	app := s.Application()

	if code, m := adminDo(t, s, "GET", "/admin/health", "", ""); code != 200 || m["status"] != "ok" || m["mockClock"] != true {
		t.Fatalf("health = %d %v", code, m)
	}
	// Applications: list shows keys only; POST creates and shows the secret once.
	code, m := adminDo(t, s, "POST", "/admin/applications", `{"key":"app-2","secret":"ax8hTTQJF0OPXL32r1LHMA=="}`, "")
	if code != 201 || m["key"] != "app-2" || m["secret"] != "ax8hTTQJF0OPXL32r1LHMA==" {
		t.Fatalf("add app = %d %v", code, m)
	}
	_, m = adminDo(t, s, "GET", "/admin/applications", "", "")
	if b, _ := json.Marshal(m); strings.Contains(string(b), "ax8hTTQJF0OPXL32r1LHMA==") || !strings.Contains(string(b), "app-2") {
		t.Fatalf("list apps = %s", b)
	}
	if code, m := adminDo(t, s, "POST", "/admin/applications", `{"key":"x","secret":"not base64!"}`, ""); code != 400 || strings.Contains(m["error"].(map[string]any)["message"].(string), "not base64!") {
		t.Fatalf("bad secret = %d %v", code, m)
	}
	if code, _ := adminDo(t, s, "POST", "/admin/applications", `{"key":"x","bogus":1}`, ""); code != 400 {
		t.Fatalf("unknown field accepted: %d", code)
	}

	// Instances and revocation.
	c := dialRaw(t, s)
	id, _, _ := instanceOf(t, c.create(app.Key, "alice", "d1", mint(t, s, credentials.MintParams{UserID: "alice", InstanceTTL: 72 * time.Hour})))
	wantOK(t, c.request(map[string]any{"type": "registerPushToken", "pushToken": "apns-1"}), "pushTokenRegistered")
	_, m = adminDo(t, s, "GET", "/admin/instances", "", "")
	insts := m["instances"].([]any)
	if len(insts) != 1 {
		t.Fatalf("instances = %v", m)
	}
	inst := insts[0].(map[string]any)
	if inst["id"] != id || inst["pushToken"] != "apns-1" || inst["limited"] != true || inst["connected"] != true || inst["secret"] != nil || inst["expireAt"] == nil {
		t.Fatalf("instance view = %v", inst)
	}
	if code, _ := adminDo(t, s, "DELETE", "/admin/instances/"+id, "", ""); code != 200 {
		t.Fatalf("revoke = %d", code)
	}
	if r := c.recv(); r["type"] != "instanceRevoked" {
		t.Fatalf("push = %v", r)
	}
	if code, _ := adminDo(t, s, "DELETE", "/admin/instances/"+id, "", ""); code != 404 {
		t.Fatalf("second revoke = %d", code)
	}

	// Clock.
	before := s.Now()
	if code, m := adminDo(t, s, "POST", "/admin/clock", `{"advance":"24h"}`, ""); code != 200 || !s.Now().Equal(before.Add(24*time.Hour)) {
		t.Fatalf("advance = %d %v", code, m)
	}
	if code, _ := adminDo(t, s, "POST", "/admin/clock", `{"set":"2030-01-02T03:04:05Z"}`, ""); code != 200 || !s.Now().Equal(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Fatalf("set = %d, now %v", code, s.Now())
	}
	for _, bad := range []string{`{}`, `{"advance":"-1h"}`, `{"advance":"soon"}`, `{"set":"tomorrow"}`, `{"advance":"1h","set":"2030-01-02T03:04:05Z"}`, `[]`, ``, `{"advance":"1h"} x`} {
		if code, _ := adminDo(t, s, "POST", "/admin/clock", bad, ""); code != 400 {
			t.Errorf("clock %q = %d, want 400", bad, code)
		}
	}

	// Events, newest last.
	_, m = adminDo(t, s, "GET", "/admin/events", "", "")
	evs := m["events"].([]any)
	last := evs[len(evs)-1].(map[string]any)
	if last["kind"] != "revoke" || last["instanceId"] != id {
		t.Fatalf("last event = %v", last)
	}
	_, m = adminDo(t, s, "GET", "/admin/events?limit=1", "", "")
	if len(m["events"].([]any)) != 1 {
		t.Fatalf("limit=1 gave %v", m)
	}

	// Faults.
	if code, m := adminDo(t, s, "POST", "/admin/faults", `{"kind":"createInstance","count":2,"code":"unavailable","delay":"1ms"}`, ""); code != 201 {
		t.Fatalf("fault = %d %v", code, m)
	}
	if _, m := adminDo(t, s, "GET", "/admin/faults", "", ""); len(m["faults"].([]any)) != 1 {
		t.Fatalf("faults = %v", m)
	}
	if code, _ := adminDo(t, s, "POST", "/admin/faults", `{"kind":"createInstance","count":0,"code":"unavailable"}`, ""); code != 400 {
		t.Fatalf("zero count accepted")
	}
	adminDo(t, s, "DELETE", "/admin/faults", "", "")
	if len(s.Faults()) != 0 {
		t.Fatal("faults not cleared")
	}

	// Reset.
	if code, _ := adminDo(t, s, "POST", "/admin/reset", "", ""); code != 200 || len(s.Instances()) != 0 {
		t.Fatalf("reset = %d", code)
	}
	if code, _ := adminDo(t, s, "GET", "/admin/nope", "", ""); code != 404 {
		t.Fatalf("unknown endpoint = %d", code)
	}
	// Oversized body.
	if code, _ := adminDo(t, s, "POST", "/admin/applications", `{"key":"`+strings.Repeat("k", 70<<10)+`"}`, ""); code != 400 {
		t.Fatalf("oversized body = %d", code)
	}
}

func TestAdminAuth(t *testing.T) {
	s := RunT(t, Config{AdminToken: "s3cret"})
	// Loopback: once a token is set it is needed there too; the right token
	// is accepted, a wrong one refused.
	if code, _ := adminDo(t, s, "GET", "/admin/health", "", ""); code != 401 {
		t.Fatalf("no token on loopback = %d, want 401", code)
	}
	if code, _ := adminDo(t, s, "GET", "/admin/health", "", "s3cret"); code != 200 {
		t.Fatalf("right token = %d", code)
	}
	if code, m := adminDo(t, s, "GET", "/admin/health", "", "wrong"); code != 401 || strings.Contains(toJSON(m), "s3cret") {
		t.Fatalf("wrong token = %d %v", code, m)
	}
	// Off loopback (the handler judged as if listening on 0.0.0.0).
	s.mu.Lock()
	s.addr = "0.0.0.0:1"
	s.mu.Unlock()
	h := s.Handler()
	for _, tc := range []struct {
		token string
		want  int
	}{{"", 401}, {"wrong", 401}, {"s3cret", 200}} {
		req, _ := http.NewRequest("GET", "/admin/health", nil)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("token %q off loopback = %d, want %d", tc.token, rec.Code, tc.want)
		}
	}
	open := RunT(t)
	open.mu.Lock()
	open.addr = "0.0.0.0:1"
	open.mu.Unlock()
	rec := httptest.NewRecorder()
	req, _ := http.NewRequest("GET", "/admin/health", nil)
	open.Handler().ServeHTTP(rec, req)
	if rec.Code != 403 {
		t.Fatalf("no admin token off loopback = %d, want 403", rec.Code)
	}
}

func TestClockControlNeedsMockClock(t *testing.T) {
	s, err := NewServer(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Advance(time.Hour); err != ErrNotMockClock {
		t.Fatalf("Advance on a real clock = %v", err)
	}
	if code, _ := adminDo(t, s, "POST", "/admin/clock", `{"advance":"1h"}`, ""); code != 409 {
		t.Fatalf("admin clock on a real clock = %d", code)
	}
}

func TestMetrics(t *testing.T) {
	s := RunT(t)
	app := s.Application()
	c := dialRaw(t, s)
	instanceOf(t, c.create(app.Key, "alice", "d1", mint(t, s, credentials.MintParams{UserID: "alice"})))
	wantCode(t, c.create(app.Key, "alice", "d1", "x.y.z"), "token_malformed")
	code, m := adminDo(t, s, "GET", "/metrics", "", "")
	text, _ := m["text"].(string)
	for _, want := range []string{
		`sinchsim_registrations_total{kind="createInstance"} 1`,
		`sinchsim_rejections_total{code="token_malformed"} 1`,
		`sinchsim_connected_clients 1`,
		`sinchsim_instances 1`,
	} {
		if code != 200 || !strings.Contains(text, want) {
			t.Errorf("metrics lack %q:\n%s", want, text)
		}
	}
}

func toJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

package fakebackend

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/registration"
)

// adminGet decodes the JSON answer of a GET into v.
func adminGet(t *testing.T, s *Server, path string, v any) {
	t.Helper()
	code, m := adminDo(t, s, "GET", path, "", "")
	if code != 200 {
		t.Fatalf("GET %s: %d %v", path, code, m)
	}
	b, _ := json.Marshal(m)
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

func TestAdminInstancesPaging(t *testing.T) {
	s := RunT(t)
	t0 := s.Now()
	users := []string{"carol", "alice", "Bob", "dave", "erin"}
	for k, u := range users {
		created := t0.Add(time.Duration(k) * time.Hour)
		inst := Instance{ID: fmt.Sprintf("i%d", k), Application: "app-" + string(rune('a'+k%2)), User: u, Device: "d",
			CreatedAt: created, ExpireAt: created.Add(time.Duration(10-k) * 24 * time.Hour)}
		if k == 4 {
			inst.ExpireAt = time.Time{} // unlimited: sorts last by expiry
		}
		if err := putInstance(s.store, inst); err != nil {
			t.Fatal(err)
		}
	}
	type page struct {
		Instances []InstanceView `json:"instances"`
		Total     int            `json:"total"`
		Offset    int            `json:"offset"`
	}
	for _, tc := range []struct {
		query string
		total int
		users string
	}{
		{"", 5, "carol,alice,Bob,dave,erin"},
		{"?limit=2", 5, "carol,alice"},
		{"?offset=2&limit=2", 5, "Bob,dave"},
		{"?offset=4&limit=2", 5, "erin"},
		{"?offset=9&limit=2", 5, ""},
		{"?order=desc&limit=2", 5, "erin,dave"},
		{"?sort=user", 5, "alice,Bob,carol,dave,erin"},
		{"?sort=user&order=desc&limit=1", 5, "erin"},
		{"?sort=expireAt", 5, "dave,Bob,alice,carol,erin"},
		{"?userContains=A", 3, "carol,alice,dave"},
		{"?userContains=b", 1, "Bob"},
		{"?userId=Bob", 1, "Bob"},
		{"?applicationKey=app-a", 3, "carol,Bob,erin"},
		{"?applicationKey=app-b&sort=id&order=desc", 2, "dave,alice"},
	} {
		var p page
		adminGet(t, s, "/admin/instances"+tc.query, &p)
		var got []string
		for _, i := range p.Instances {
			got = append(got, i.User)
		}
		if strings.Join(got, ",") != tc.users || p.Total != tc.total {
			t.Errorf("%s: %v of %d, want %s of %d", tc.query, got, p.Total, tc.users, tc.total)
		}
	}
	for _, q := range []string{"?offset=-1", "?limit=x", "?sort=secret", "?order=up"} {
		if code, _ := adminDo(t, s, "GET", "/admin/instances"+q, "", ""); code != 400 {
			t.Errorf("%s: %d, want 400", q, code)
		}
	}
}

// TestAdminInstanceRenewAt: the view says when the default renewal policy
// renews, from the last grant of the TTL.
func TestAdminInstanceRenewAt(t *testing.T) {
	s := RunT(t)
	t0 := s.Now()
	grant := t0.Add(48 * time.Hour)
	inst := Instance{ID: "i1", Application: "a", User: "u", Device: "d", CreatedAt: t0, ExpireAt: grant.Add(30 * 24 * time.Hour),
		History: []TTLChange{{At: t0, ExpireAt: t0.Add(72 * time.Hour), Reason: "created"}, {At: grant, ExpireAt: grant.Add(30 * 24 * time.Hour), Reason: "extended"}}}
	if err := putInstance(s.store, inst); err != nil {
		t.Fatal(err)
	}
	var v InstanceView
	adminGet(t, s, "/admin/instances/i1", &v)
	if want := (registration.DefaultRenewal{}).RenewAt(grant, inst.ExpireAt); !v.RenewAt.Equal(want) {
		t.Fatalf("renewAt %v, want %v", v.RenewAt, want)
	}
}

func TestAdminStats(t *testing.T) {
	s := RunT(t)
	app := s.Application()
	c := dialRaw(t, s)
	instanceOf(t, c.create(app.Key, "alice", "d1", mint(t, s, credentials.MintParams{UserID: "alice"})))
	wantCode(t, c.create(app.Key, "alice", "d2", "x.y.z"), credentials.CodeTokenMalformed)
	type stats struct {
		Numbers   Numbers       `json:"numbers"`
		PerMinute float64       `json:"registrationsPerMinute"`
		LastHour  []MinuteCount `json:"lastHour"`
	}
	var st stats
	adminGet(t, s, "/admin/stats", &st)
	want := Numbers{Connections: 1, Instances: 1, Registrations: 1, Refusals: map[string]int{credentials.CodeTokenMalformed: 1}}
	if fmt.Sprint(st.Numbers) != fmt.Sprint(want) || st.PerMinute != 1 || len(st.LastHour) != 60 {
		t.Fatalf("stats %+v", st)
	}
	if last := st.LastHour[59]; !last.Minute.Equal(s.Now()) || last.Registrations != 1 || last.Refusals != 1 {
		t.Fatalf("this minute: %+v", last)
	}
	// Half a minute later, half of the previous minute still counts; an
	// hour later, nothing does.
	s.Advance(90 * time.Second)
	adminGet(t, s, "/admin/stats", &st)
	if st.PerMinute != 0.5 || st.LastHour[58].Registrations != 1 {
		t.Fatalf("90 s later: %v per minute, %+v", st.PerMinute, st.LastHour[57:])
	}
	s.Advance(time.Hour)
	adminGet(t, s, "/admin/stats", &st)
	for _, m := range st.LastHour {
		if m.Registrations+m.Refusals != 0 {
			t.Fatalf("an hour later: %+v", m)
		}
	}
}

func TestLastHourRing(t *testing.T) {
	var h lastHour
	for _, at := range []time.Time{
		time.Date(1969, 12, 31, 23, 59, 30, 0, time.UTC), // before 1970: no negative slot
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 1, 1, 0, 0, 0, time.UTC), // same slot, an hour later: replaces
		time.Date(2026, 1, 1, 1, 0, 59, 0, time.UTC),
	} {
		h.add(at, 1, 0)
	}
	got := h.at(time.Date(2026, 1, 1, 1, 0, 30, 0, time.UTC))
	if got[59].Registrations != 2 || !got[0].Minute.Equal(time.Date(2026, 1, 1, 0, 1, 0, 0, time.UTC)) {
		t.Fatalf("ring: first %+v, last %+v", got[0], got[59])
	}
	if old := h.at(time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)); old[58].Registrations != 1 {
		t.Fatalf("before 1970: %+v", old[58])
	}
}

func TestAdminCodes(t *testing.T) {
	s := RunT(t)
	var answer struct {
		Codes []struct{ Code, Meaning, Fix string } `json:"codes"`
	}
	adminGet(t, s, "/admin/codes", &answer)
	found := false
	for _, c := range answer.Codes {
		if c.Code == credentials.CodeSignatureInvalid {
			found = c.Meaning != "" && strings.Contains(c.Fix, "HMAC-SHA256")
		}
	}
	if !found {
		t.Fatalf("no meaning and fix for signature_invalid in %d codes", len(answer.Codes))
	}
}

func TestAdminExplain(t *testing.T) {
	s := RunT(t)
	app := s.Application()
	other := NewApplication()
	wrong, _ := credentials.NewMinter(credentials.MinterConfig{ApplicationKey: app.Key, Secret: other.Secret, Clock: s.Clock()})
	badSig, _ := wrong.Mint("alice")
	unknown, _ := credentials.NewMinter(credentials.MinterConfig{ApplicationKey: other.Key, Secret: other.Secret, Clock: s.Clock()})
	strange, _ := unknown.Mint("alice")
	for _, tc := range []struct {
		name, token, user string
		code              string // the first finding
		verified, known   bool
	}{
		{"valid", mint(t, s, credentials.MintParams{UserID: "alice"}), "alice", "valid", true, true},
		{"wrong secret", badSig, "", credentials.CodeSignatureInvalid, false, true},
		{"wrong user", mint(t, s, credentials.MintParams{UserID: "alice"}), "bob", credentials.CodeSubjectMismatch, false, true},
		{"unknown application", strange, "", "valid", false, false},
		{"garbage", "x.y.z", "", credentials.CodeTokenMalformed, false, false},
	} {
		body, _ := json.Marshal(map[string]string{"token": tc.token, "userId": tc.user})
		code, m := adminDo(t, s, "POST", "/admin/explain", string(body), "")
		raw := toJSON(m)
		findings, _ := m["findings"].([]any)
		first := ""
		if len(findings) > 0 {
			first, _ = findings[0].(map[string]any)["code"].(string)
		}
		if code != 200 || first != tc.code || m["verified"] != tc.verified || m["applicationKnown"] != tc.known {
			t.Errorf("%s: %d %s", tc.name, code, raw)
		}
		if strings.Contains(raw, app.Secret.Text()) || strings.Contains(raw, other.Secret.Text()) {
			t.Errorf("%s: the answer holds a secret", tc.name)
		}
	}
}

// TestConsoleGate: the page answers where the admin API does; with an
// admin token it is served to anyone (it holds no data and asks for the
// token).
func TestConsoleGate(t *testing.T) {
	open := RunT(t)
	guarded := RunT(t, Config{AdminToken: "t0ken"})
	for _, tc := range []struct {
		name, path, host, origin string
		s                        *Server
		want                     int
		ctype                    string
	}{
		{"the page", "/console", "127.0.0.1", "", open, 200, "text/html; charset=utf-8"},
		{"the page with a slash", "/console/", "localhost", "", open, 200, "text/html; charset=utf-8"},
		{"its script", "/console/console.js", "127.0.0.1", "", open, 200, "text/javascript; charset=utf-8"},
		{"its style", "/console/console.css", "127.0.0.1", "", open, 200, "text/css; charset=utf-8"},
		{"no such file", "/console/nope.js", "127.0.0.1", "", open, 404, ""},
		{"a dot file", "/console/.hidden", "127.0.0.1", "", open, 404, ""},
		{"DNS rebinding", "/console", "evil.example", "", open, 403, ""},
		{"another origin", "/console", "127.0.0.1", "https://evil.example", open, 403, ""},
		{"with a token, from anywhere", "/console", "console.example", "", guarded, 200, "text/html; charset=utf-8"},
	} {
		req := httptest.NewRequest("GET", tc.path, nil)
		req.Host = tc.host
		if tc.origin != "" {
			req.Header.Set("Origin", tc.origin)
		}
		rec := httptest.NewRecorder()
		tc.s.Handler().ServeHTTP(rec, req)
		if rec.Code != tc.want || (tc.ctype != "" && rec.Header().Get("Content-Type") != tc.ctype) {
			t.Errorf("%s: %d %q", tc.name, rec.Code, rec.Header().Get("Content-Type"))
		}
		if rec.Code == 200 && !strings.Contains(rec.Header().Get("Content-Security-Policy"), "default-src 'none'") {
			t.Errorf("%s: no content security policy", tc.name)
		}
	}
	off := RunT(t)
	off.mu.Lock()
	off.addr = "0.0.0.0:1"
	off.mu.Unlock()
	rec := httptest.NewRecorder()
	off.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/console", nil))
	if rec.Code != http.StatusForbidden {
		t.Fatalf("off loopback without a token: %d", rec.Code)
	}
	if u := open.ConsoleURL(); u != "http://"+open.Addr()+"/console" {
		t.Fatalf("ConsoleURL = %s", u)
	}
}

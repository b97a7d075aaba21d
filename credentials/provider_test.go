package credentials

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
)

func TestSelfSignedProvider(t *testing.T) {
	mc := clock.NewMock()
	mc.Set(seedTime)
	p, err := NewSelfSignedProvider(MinterConfig{ApplicationKey: seedAppKey, Secret: seedSecretValue, Clock: mc})
	if err != nil {
		t.Fatal(err)
	}
	var _ Provider = p
	v, _ := seedVerifier(newMemNonces(mc))
	ctx := context.Background()

	jwt, err := p.Token(ctx, Request{ApplicationKey: seedAppKey, UserID: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	tk, err := v.Verify(jwt, VerifyOptions{User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if tk.Claims.InstanceExpiresAt != 0 {
		t.Fatal("instance expiry without a request for one")
	}
	// An empty application key means the provider's own.
	if _, err := p.Token(ctx, Request{UserID: "alice"}); err != nil {
		t.Fatal(err)
	}

	// A limited instance: sinch:rtc:instance:exp = iat + 365 d, verified.
	jwt, err = p.Token(ctx, Request{ApplicationKey: seedAppKey, UserID: "alice", InstanceTTL: true})
	if err != nil {
		t.Fatal(err)
	}
	tk, err = v.Verify(jwt, VerifyOptions{User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if tk.Claims.InstanceExpiresAt != seedTime.Unix()+365*86400 || tk.Claims.InstanceTTL() != RecommendedInstanceTTL {
		t.Fatalf("instance exp = %d", tk.Claims.InstanceExpiresAt)
	}
	// A configured instance TTL wins over the default.
	p2, _ := NewSelfSignedProvider(MinterConfig{ApplicationKey: seedAppKey, Secret: seedSecretValue, Clock: mc, InstanceTTL: 30 * 24 * time.Hour})
	jwt, _ = p2.Token(ctx, Request{UserID: "bob", InstanceTTL: true})
	if tk, err := v.Verify(jwt, VerifyOptions{}); err != nil || tk.Claims.InstanceTTL() != 30*24*time.Hour {
		t.Fatalf("configured instance TTL: %v", err)
	}

	// Another application's request is refused.
	if _, err := p.Token(ctx, Request{ApplicationKey: otherAppKey, UserID: "alice"}); err == nil || !strings.Contains(err.Error(), otherAppKey) {
		t.Fatalf("other application: %v", err)
	} else {
		assertNoSecret(t, "error", err.Error())
	}
	// A bad user id, a cancelled context.
	if _, err := p.Token(ctx, Request{UserID: "a b"}); CodeOf(err) != CodeUserIDInvalid {
		t.Fatalf("bad user: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := p.Token(cctx, Request{UserID: "alice"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	if _, err := NewSelfSignedProvider(MinterConfig{ApplicationKey: seedAppKey}); !errors.Is(err, ErrConfig) {
		t.Fatalf("no secret: %v", err)
	}
}

func TestProviderFunc(t *testing.T) {
	var got Request
	var p Provider = ProviderFunc(func(ctx context.Context, req Request) (string, error) {
		got = req
		return "tok", ctx.Err()
	})
	req := Request{ApplicationKey: "k", UserID: "u", InstanceTTL: true}
	if tok, err := p.Token(context.Background(), req); tok != "tok" || err != nil || got != req {
		t.Fatalf("%q %v %+v", tok, err, got)
	}
}

// authServer is an httptest auth server that records the last request.
type authServer struct {
	*httptest.Server
	last   *http.Request
	body   string
	answer func(w http.ResponseWriter, r *http.Request)
}

func newAuthServer(t *testing.T, answer func(w http.ResponseWriter, r *http.Request)) *authServer {
	t.Helper()
	s := &authServer{answer: answer}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.last, s.body = r, string(b)
		s.answer(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func newHTTPProvider(t *testing.T, cfg HTTPProviderConfig) *HTTPProvider {
	t.Helper()
	p, err := NewHTTPProvider(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const apiKeyInQuery = "QUERYSECRET123"

func TestHTTPProviderGET(t *testing.T) {
	s := newAuthServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"token":"`+seedJWT+`","expiresIn":600}`)
	})
	p := newHTTPProvider(t, HTTPProviderConfig{
		URL:    s.URL + "/users/{userId}/token?app={applicationKey}&ttl={instanceTtl}&u={userId}&key=" + apiKeyInQuery,
		Header: http.Header{"Authorization": {"Bearer abc"}, "X-Custom": {"1", "2"}},
	})
	var _ Provider = p
	tok, err := p.Token(context.Background(), Request{ApplicationKey: seedAppKey, UserID: "a b/c", InstanceTTL: true})
	if err != nil {
		t.Fatal(err)
	}
	if tok != seedJWT {
		t.Fatalf("token = %q", tok)
	}
	r := s.last
	if r.Method != http.MethodGet || r.URL.EscapedPath() != "/users/a%20b%2Fc/token" {
		t.Errorf("request %s %s", r.Method, r.URL.EscapedPath())
	}
	q := r.URL.Query()
	if q.Get("u") != "a b/c" || q.Get("app") != seedAppKey || q.Get("ttl") != "true" || q.Get("key") != apiKeyInQuery {
		t.Errorf("query = %v", q)
	}
	if r.Header.Get("Authorization") != "Bearer abc" || strings.Join(r.Header.Values("X-Custom"), ",") != "1,2" || !strings.Contains(r.Header.Get("Accept"), "application/json") {
		t.Errorf("headers = %v", r.Header)
	}
}

func TestHTTPProviderPOST(t *testing.T) {
	s := newAuthServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"jwt":"`+seedJWT+`"}`)
	})
	// The default body.
	p := newHTTPProvider(t, HTTPProviderConfig{URL: s.URL + "/token", Method: "post", Field: "jwt"})
	if _, err := p.Token(context.Background(), Request{ApplicationKey: seedAppKey, UserID: `q"uote`}); err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(s.body), &body); err != nil {
		t.Fatalf("default body %q: %v", s.body, err)
	}
	if body["userId"] != `q"uote` || body["applicationKey"] != seedAppKey || body["instanceTtl"] != false {
		t.Errorf("default body = %v", body)
	}
	if s.last.Method != http.MethodPost || s.last.Header.Get("Content-Type") != "application/json" {
		t.Errorf("request %s %v", s.last.Method, s.last.Header)
	}
	// A custom template and content type.
	p = newHTTPProvider(t, HTTPProviderConfig{
		URL: s.URL + "/token", Method: http.MethodPost, Field: "jwt",
		Body:   "user={userId}&limited={instanceTtl}",
		Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
	})
	tok, body2, err := p.Fetch(context.Background(), Request{UserID: "bob", InstanceTTL: true})
	if err != nil || tok != seedJWT || !strings.Contains(string(body2), seedJWT) {
		t.Fatalf("%q %v", tok, err)
	}
	if s.body != "user=bob&limited=true" || s.last.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		t.Errorf("custom body %q, headers %v", s.body, s.last.Header)
	}
}

// With InstanceTTL set, {instanceTtl} is the TTL in seconds whenever the
// request needs a limited TTL, in the URL and in the POST body.
func TestHTTPProviderInstanceTTLSeconds(t *testing.T) {
	s := newAuthServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"token":"`+seedJWT+`"}`)
	})
	tests := []struct {
		name      string
		method    string
		limited   bool
		wantQuery string // the ttl query parameter
		wantBody  any    // the default POST body's instanceTtl
	}{
		{"GET limited", http.MethodGet, true, "259200", nil},
		{"GET unlimited", http.MethodGet, false, "false", nil},
		{"POST limited", http.MethodPost, true, "259200", float64(259200)},
		{"POST unlimited", http.MethodPost, false, "false", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newHTTPProvider(t, HTTPProviderConfig{URL: s.URL + "/token?ttl={instanceTtl}", Method: tt.method, InstanceTTL: 72 * time.Hour})
			if _, err := p.Token(context.Background(), Request{UserID: "bob", InstanceTTL: tt.limited}); err != nil {
				t.Fatal(err)
			}
			if got := s.last.URL.Query().Get("ttl"); got != tt.wantQuery {
				t.Errorf("ttl query = %q, want %q", got, tt.wantQuery)
			}
			if tt.method != http.MethodPost {
				return
			}
			var body map[string]any
			if err := json.Unmarshal([]byte(s.body), &body); err != nil {
				t.Fatalf("body %q: %v", s.body, err)
			}
			if body["instanceTtl"] != tt.wantBody {
				t.Errorf("body instanceTtl = %v, want %v", body["instanceTtl"], tt.wantBody)
			}
		})
	}
	if _, err := NewHTTPProvider(HTTPProviderConfig{URL: s.URL, InstanceTTL: -time.Hour}); !errors.Is(err, ErrConfig) {
		t.Errorf("negative InstanceTTL: %v", err)
	}
}

func TestHTTPProviderAnswers(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		token       string // the token wanted, or "" for an error
		noToken     bool   // the error wraps ErrNoToken
		httpErr     bool   // the error is an *HTTPError
	}{
		{name: "JSON", status: 200, body: `{"token":"` + seedJWT + `"}`, token: seedJWT},
		{name: "JSON with spaces around the token", status: 200, body: "{\"token\":\" " + seedJWT + "\\n\"}", token: seedJWT},
		{name: "plain text", status: 200, contentType: "text/plain", body: seedJWT + "\n", token: seedJWT},
		{name: "application/jwt", status: 200, contentType: "application/jwt", body: seedJWT, token: seedJWT},
		{name: "JSON string", status: 200, body: `"` + seedJWT + `"`, token: seedJWT},
		{name: "201 Created", status: 201, body: `{"token":"` + seedJWT + `"}`, token: seedJWT},
		{name: "HTML", status: 200, contentType: "text/html", body: "<!DOCTYPE html><html><body>Login</body></html>", noToken: true},
		{name: "empty body", status: 200, body: "", noToken: true},
		{name: "whitespace body", status: 200, body: " \n", noToken: true},
		{name: "204 No Content", status: 204, noToken: true},
		{name: "JSON without the field", status: 200, body: `{"access_token":"x","jwt":"y"}`, noToken: true},
		{name: "JSON field not a string", status: 200, body: `{"token":{"value":"x"}}`, noToken: true},
		{name: "JSON field empty", status: 200, body: `{"token":""}`, noToken: true},
		{name: "broken JSON", status: 200, body: `{"token":`, noToken: true},
		{name: "text with spaces", status: 200, body: "user not found", noToken: true},
		{name: "over 64 KiB", status: 200, body: strings.Repeat("a", MaxAuthResponse+1), noToken: true},
		{name: "401", status: 401, body: `{"error":"unauthorized"}`, httpErr: true},
		{name: "403 HTML", status: 403, body: "<html>\n<body>\tForbidden</body></html>", httpErr: true},
		{name: "500 long body", status: 500, body: strings.Repeat("stack trace line\n", 100), httpErr: true},
		{name: "302 without location", status: 302, body: "moved", httpErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newAuthServer(t, func(w http.ResponseWriter, r *http.Request) {
				if tt.contentType != "" {
					w.Header().Set("Content-Type", tt.contentType)
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			})
			p := newHTTPProvider(t, HTTPProviderConfig{URL: s.URL + "/token/{userId}?apikey=" + apiKeyInQuery})
			tok, err := p.Token(context.Background(), Request{UserID: "alice"})
			if tt.token != "" {
				if err != nil || tok != tt.token {
					t.Fatalf("token %q, err %v", tok, err)
				}
				return
			}
			if err == nil || tok != "" {
				t.Fatalf("token %q, no error", tok)
			}
			if strings.Contains(err.Error(), apiKeyInQuery) || strings.ContainsAny(err.Error(), "\n\t") {
				t.Fatalf("error shows the query string or breaks lines: %v", err)
			}
			if tt.noToken && !errors.Is(err, ErrNoToken) {
				t.Fatalf("want ErrNoToken, got %v", err)
			}
			var he *HTTPError
			if errors.As(err, &he) != tt.httpErr {
				t.Fatalf("HTTPError = %v, want %v: %v", he != nil, tt.httpErr, err)
			}
			if he != nil {
				if he.StatusCode != tt.status || he.Method != http.MethodGet || he.URL != s.URL+"/token/alice" {
					t.Fatalf("HTTPError = %+v", he)
				}
				if len([]rune(he.Body)) > 203 || !strings.HasPrefix(strings.Join(strings.Fields(tt.body), " "), strings.TrimSuffix(he.Body, "...")) {
					t.Fatalf("body excerpt %q", he.Body)
				}
				if !strings.Contains(err.Error(), he.Status) {
					t.Fatalf("error %q lacks the status", err)
				}
			}
		})
	}
}

func TestHTTPProviderTimeout(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 1)
	s := newAuthServer(t, func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(release) }) // runs before s.Close: cleanups are LIFO
	p := newHTTPProvider(t, HTTPProviderConfig{URL: s.URL + "/t?key=" + apiKeyInQuery, Timeout: 50 * time.Millisecond})
	_, err := p.Token(context.Background(), Request{UserID: "alice"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), apiKeyInQuery) || !strings.Contains(err.Error(), "50ms") {
		t.Fatalf("err = %v", err)
	}
	<-arrived
}

func TestHTTPProviderCancel(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 1)
	s := newAuthServer(t, func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(release) })
	p := newHTTPProvider(t, HTTPProviderConfig{URL: s.URL + "/t?key=" + apiKeyInQuery})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-arrived
		cancel()
	}()
	_, err := p.Token(ctx, Request{UserID: "alice"})
	if !errors.Is(err, context.Canceled) || strings.Contains(err.Error(), apiKeyInQuery) {
		t.Fatalf("err = %v", err)
	}
}

func TestHTTPProviderUnreachable(t *testing.T) {
	s := httptest.NewServer(http.NotFoundHandler())
	url := s.URL
	s.Close()
	p := newHTTPProvider(t, HTTPProviderConfig{URL: url + "/t?key=" + apiKeyInQuery})
	_, err := p.Token(context.Background(), Request{UserID: "alice"})
	if err == nil || strings.Contains(err.Error(), apiKeyInQuery) {
		t.Fatalf("err = %v", err)
	}
}

func TestNewHTTPProviderErrors(t *testing.T) {
	for _, cfg := range []HTTPProviderConfig{
		{},
		{URL: "ftp://auth.example.com/token?key=" + apiKeyInQuery},
		{URL: "/relative?key=" + apiKeyInQuery},
		{URL: "http://%zz/?key=" + apiKeyInQuery},
		{URL: "https://user:" + apiKeyInQuery + "@/token"},
		{URL: "https://auth.example.com/token", Method: "PUT"},
	} {
		p, err := NewHTTPProvider(cfg)
		if !errors.Is(err, ErrConfig) || p != nil {
			t.Errorf("%+v: err = %v", cfg, err)
			continue
		}
		if strings.Contains(err.Error(), apiKeyInQuery) {
			t.Errorf("error shows a credential: %v", err)
		}
	}
}

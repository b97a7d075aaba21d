package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/sinchsim/sinchsim/client"
	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/fakebackend"
)

// The application of the example on Sinch's Application authentication page.
const (
	testKey    = "a32e5a8d-f7d8-411c-9645-9038e8dd051d"
	testSecret = "ax8hTTQJF0OPXL32r1LHMA=="
)

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func testClock() *clock.Mock {
	m := clock.NewMock()
	m.Set(testNow)
	return m
}

func newTestMinter(t *testing.T, clk clock.Clock, instanceTTL time.Duration) *credentials.Minter {
	t.Helper()
	m, err := credentials.NewMinter(credentials.MinterConfig{ApplicationKey: testKey, Secret: credentials.MustParseSecret(testSecret), Clock: clk, InstanceTTL: instanceTTL})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// verify checks a token the way the backend would, for user.
func verify(t *testing.T, clk clock.Clock, jwt, user string) *credentials.Token {
	t.Helper()
	keys := credentials.NewKeyring()
	keys.Add(testKey, credentials.MustParseSecret(testSecret))
	tok, err := credentials.NewVerifier(keys, credentials.VerifierConfig{Clock: clk}).Verify(jwt, credentials.VerifyOptions{User: user})
	if err != nil {
		t.Fatalf("the issued token does not verify: %v", err)
	}
	return tok
}

func TestHandler(t *testing.T) {
	clk := testClock()
	h := newHandler(newTestMinter(t, clk, 0))
	tests := []struct {
		name        string
		method      string
		target      string
		contentType string
		body        string
		status      int
		user        string // for 200: the token's user
		code        string // otherwise: the error code
	}{
		{name: "GET", method: "GET", target: "/token?userId=alice", status: 200, user: "alice"},
		{name: "POST", method: "POST", target: "/token", contentType: "application/json", body: `{"userId":"bob"}`, status: 200, user: "bob"},
		{name: "POST without content type", method: "POST", target: "/token", body: `{"userId":"bob"}`, status: 200, user: "bob"},
		{name: "HTTPProvider's default POST body", method: "POST", target: "/token", contentType: "application/json; charset=utf-8",
			body: `{"userId":"carol","applicationKey":"` + testKey + `","instanceTtl":false}`, status: 200, user: "carol"},
		{name: "GET with our application key", method: "GET", target: "/token?userId=dave&applicationKey=" + testKey, status: 200, user: "dave"},
		{name: "missing user id", method: "GET", target: "/token", status: 400, code: credentials.CodeUserIDInvalid},
		{name: "user id with a space", method: "GET", target: "/token?userId=bad%20id", status: 400, code: credentials.CodeUserIDInvalid},
		{name: "user id too long", method: "POST", target: "/token", body: `{"userId":"` + strings.Repeat("u", 256) + `"}`, status: 400, code: credentials.CodeUserIDInvalid},
		{name: "another application", method: "GET", target: "/token?userId=alice&applicationKey=other", status: 400, code: credentials.CodeUnknownApplication},
		{name: "body not JSON", method: "POST", target: "/token", body: `userId=alice`, status: 400, code: codeBadRequest},
		{name: "POST form", method: "POST", target: "/token", contentType: "application/x-www-form-urlencoded", body: `userId=erin`, status: 200, user: "erin"},
		{name: "form with a bad user id", method: "POST", target: "/token", contentType: "application/x-www-form-urlencoded", body: `userId=a/b`, status: 400, code: credentials.CodeUserIDInvalid},
		{name: "text body", method: "POST", target: "/token", contentType: "text/plain", body: `alice`, status: 400, code: codeBadRequest},
		{name: "form too large", method: "POST", target: "/token", contentType: "application/x-www-form-urlencoded", body: `userId=alice&pad=` + strings.Repeat("x", maxBody), status: 400, code: codeBadRequest},
		{name: "body too large", method: "POST", target: "/token", body: `{"userId":"alice","pad":"` + strings.Repeat("x", maxBody) + `"}`, status: 400, code: codeBadRequest},
		{name: "PUT", method: "PUT", target: "/token?userId=alice", status: 405, code: codeMethodNotAllowed},
		{name: "DELETE", method: "DELETE", target: "/token?userId=alice", status: 405, code: codeMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.target, strings.NewReader(tt.body))
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d; body %s", rec.Code, tt.status, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q", cc)
			}
			if tt.status == http.StatusMethodNotAllowed && rec.Header().Get("Allow") != "GET, POST" {
				t.Errorf("Allow %q", rec.Header().Get("Allow"))
			}
			if tt.status == http.StatusOK {
				var resp tokenResponse
				if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
					t.Fatal(err)
				}
				tok := verify(t, clk, resp.Token, tt.user)
				if tok.Claims.IssuedAt != testNow.Unix() {
					t.Errorf("iat %d, want %d", tok.Claims.IssuedAt, testNow.Unix())
				}
				if _, limited := tok.Claims.InstanceExpiry(); limited {
					t.Error("instance TTL claim without --instance-ttl")
				}
				return
			}
			var resp errorResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
				t.Fatalf("error body is not JSON: %s", rec.Body)
			}
			if resp.Error != tt.code || resp.Message == "" {
				t.Fatalf("error %+v, want code %s with a message", resp, tt.code)
			}
		})
	}
}

func TestHandlerOnlyServesToken(t *testing.T) {
	rec := httptest.NewRecorder()
	newHandler(newTestMinter(t, testClock(), 0)).ServeHTTP(rec, httptest.NewRequest("GET", "/tokens?userId=alice", nil))
	if rec.Code != http.StatusNotFound {
		t.Fatalf("status %d, want 404", rec.Code)
	}
}

func TestHandlerInstanceTTL(t *testing.T) {
	clk := testClock()
	rec := httptest.NewRecorder()
	newHandler(newTestMinter(t, clk, 30*24*time.Hour)).ServeHTTP(rec, httptest.NewRequest("GET", "/token?userId=alice", nil))
	var resp tokenResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || rec.Code != 200 {
		t.Fatalf("status %d body %s", rec.Code, rec.Body)
	}
	exp, limited := verify(t, clk, resp.Token, "alice").Claims.InstanceExpiry()
	if want := testNow.Add(30 * 24 * time.Hour); !limited || !exp.Equal(want) {
		t.Fatalf("instance expiry %v (limited %v), want %v", exp, limited, want)
	}
}

// The handler is what credentials.HTTPProvider expects, by GET and by POST.
func TestHTTPProviderFetchesTokens(t *testing.T) {
	clk := testClock()
	srv := httptest.NewServer(newHandler(newTestMinter(t, clk, 0)))
	defer srv.Close()
	for _, method := range []string{"GET", "POST"} {
		p, err := credentials.NewHTTPProvider(credentials.HTTPProviderConfig{URL: srv.URL + "/token?userId={userId}", Method: method, Field: "token"})
		if err != nil {
			t.Fatal(err)
		}
		jwt, err := p.Token(context.Background(), credentials.Request{ApplicationKey: testKey, UserID: "alice"})
		if err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		verify(t, clk, jwt, "alice")
	}
	p, _ := credentials.NewHTTPProvider(credentials.HTTPProviderConfig{URL: srv.URL + "/token?userId={userId}"})
	_, err := p.Token(context.Background(), credentials.Request{ApplicationKey: testKey, UserID: "not valid"})
	if he, ok := err.(*credentials.HTTPError); !ok || he.StatusCode != 400 || !strings.Contains(he.Body, credentials.CodeUserIDInvalid) {
		t.Fatalf("bad user id: %v", err)
	}
}

// The whole path: a client asks the auth server for its token and the fake
// backend accepts it.
func TestClientRegistersThroughAuthServer(t *testing.T) {
	backend := fakebackend.RunT(t)
	auth := httptest.NewServer(newHandler(backend.Minter()))
	defer auth.Close()
	p, err := credentials.NewHTTPProvider(credentials.HTTPProviderConfig{URL: auth.URL + "/token?userId={userId}", Field: "token"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(backend.Application().Key, backend.URL(), "alice", client.WithClock(backend.Clock()), client.WithCredentialsProvider(p))
	if err != nil {
		t.Fatal(err)
	}
	defer c.TerminateGracefully()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitStarted(ctx); err != nil {
		t.Fatalf("the backend refused the auth server's token: %v", err)
	}
	if insts := backend.Instances(); len(insts) != 1 || insts[0].User != "alice" {
		t.Fatalf("instances %+v", insts)
	}
}

func TestInstanceTTLOnRequest(t *testing.T) {
	srv := httptest.NewServer(newHandler(newTestMinter(t, testClock(), 0)))
	defer srv.Close()
	for _, tc := range []struct {
		url     string
		limited bool
	}{
		{srv.URL + "/token?userId=alice", false},
		{srv.URL + "/token?userId=alice&instanceTtl=true", true},
	} {
		p, _ := credentials.NewHTTPProvider(credentials.HTTPProviderConfig{URL: tc.url})
		tok, err := p.Token(context.Background(), credentials.Request{UserID: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		x := credentials.Explain(tok, credentials.ExplainOptions{})
		_, has := x.Claims[credentials.InstanceExpiryClaim]
		if has != tc.limited {
			t.Errorf("%s: instance claim present = %v, want %v", tc.url, has, tc.limited)
		}
	}
}

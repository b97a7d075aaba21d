package fakebackend

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sinchsim/sinchsim/credentials"
)

// rawClient speaks protocol v1 as raw JSON over gorilla/websocket, so the
// tests check the wire, not a client library.
type rawClient struct {
	t         testing.TB
	ws        *websocket.Conn
	welcome   map[string]any
	challenge string
	seq       atomic.Int64
}

// wireTimeout bounds every read in tests, so a bug fails instead of hanging.
const wireTimeout = 5 * time.Second

func dialRaw(t testing.TB, s *Server) *rawClient {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(s.URL(), nil)
	if err != nil {
		t.Fatalf("dial %s: %v", s.URL(), err)
	}
	c := &rawClient{t: t, ws: ws}
	t.Cleanup(func() { ws.Close() })
	c.welcome = c.recv()
	if c.welcome["type"] != "welcome" {
		t.Fatalf("first message = %v, want welcome", c.welcome)
	}
	c.challenge, _ = c.welcome["challenge"].(string)
	return c
}

func (c *rawClient) sendRaw(data string) {
	c.t.Helper()
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(data)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// request sends m (adding an id) and returns the reply.
func (c *rawClient) request(m map[string]any) map[string]any {
	c.t.Helper()
	if _, ok := m["id"]; !ok {
		m["id"] = fmt.Sprintf("r%d", c.seq.Add(1))
	}
	b, err := json.Marshal(m)
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(string(b))
	r := c.recv()
	if r["type"] != "instanceRevoked" && r["id"] != m["id"] {
		c.t.Fatalf("reply id %v, want %v: %v", r["id"], m["id"], r)
	}
	return r
}

func (c *rawClient) recv() map[string]any {
	c.t.Helper()
	c.ws.SetReadDeadline(time.Now().Add(wireTimeout))
	_, data, err := c.ws.ReadMessage()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		c.t.Fatalf("reply is not JSON: %q", data)
	}
	return m
}

func (c *rawClient) create(app, user, device, jwt string) map[string]any {
	c.t.Helper()
	return c.request(map[string]any{
		"type": "createInstance", "applicationKey": app, "userId": user, "deviceId": device,
		"capabilities": []string{"calling"}, "sdkVersion": "sinchsim-test/1", "jwt": jwt,
	})
}

func (c *rawClient) authenticate(app, user, device, instanceID, secret string) map[string]any {
	c.t.Helper()
	return c.request(map[string]any{
		"type": "authenticate", "applicationKey": app, "userId": user, "deviceId": device,
		"instanceId": instanceID, "proof": proofFor(secret, c.challenge, instanceID, device),
	})
}

// proofFor computes the authentication proof independently of package
// transport, from docs/PROTOCOL.md.
func proofFor(secret, challenge, instanceID, deviceID string) string {
	key, err := base64.RawURLEncoding.DecodeString(secret)
	if err != nil {
		panic(err)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("sinchsim-auth-v1\n" + challenge + "\n" + instanceID + "\n" + deviceID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// errCode returns the error code of a reply ("" for a success).
func errCode(r map[string]any) string {
	if r["type"] != "error" {
		return ""
	}
	e, _ := r["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func wantOK(t testing.TB, r map[string]any, typ string) {
	t.Helper()
	if r["type"] != typ {
		t.Fatalf("reply = %v, want %s", r, typ)
	}
}

func wantCode(t testing.TB, r map[string]any, code string) {
	t.Helper()
	if got := errCode(r); got != code {
		t.Fatalf("reply = %v, want error %s", r, code)
	}
}

func instanceOf(t testing.TB, r map[string]any) (id, secret, expireAt string) {
	t.Helper()
	wantOK(t, r, "instanceCreated")
	inst := r["instance"].(map[string]any)
	id, _ = inst["id"].(string)
	secret, _ = inst["secret"].(string)
	expireAt, _ = inst["expireAt"].(string)
	return
}

// minter returns a Minter for the server's first application.
func mint(t testing.TB, s *Server, p credentials.MintParams) string {
	t.Helper()
	tok, err := s.Minter().MintWith(p)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func lastEvent(s *Server, kind string) Event {
	evs := s.Events()
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Kind == kind {
			return evs[i]
		}
	}
	return Event{}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func signRaw(header, payload string, key []byte) string {
	enc := base64.RawURLEncoding
	in := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload))
	m := hmac.New(sha256.New, key)
	m.Write([]byte(in))
	return in + "." + enc.EncodeToString(m.Sum(nil))
}

// putInstance writes an instance straight into the store, as a decision
// of the rules would.
func putInstance(st Store, inst Instance) error {
	v, err := st.UserVersion(inst.Application, inst.User)
	if err != nil {
		return err
	}
	_, err = st.Commit(Change{Application: inst.Application, User: inst.User, Version: v, Put: []Instance{inst}})
	return err
}

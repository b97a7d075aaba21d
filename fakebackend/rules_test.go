package fakebackend

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/transport"
)

const day = 24 * time.Hour

// quickClose shortens the close handshake wait: the raw test clients do not
// read while the server restarts, so they never answer its close frame.
var quickClose = transport.Config{CloseGrace: 50 * time.Millisecond}

func TestFirstRegistrationThenLaterAuthentication(t *testing.T) {
	s := RunT(t)
	app := s.Application()
	c := dialRaw(t, s)
	if c.welcome["protocol"] != float64(1) || c.challenge == "" {
		t.Fatalf("welcome = %v", c.welcome)
	}
	id, secret, exp := instanceOf(t, c.create(app.Key, "alice", "dev-1", mint(t, s, credentials.MintParams{UserID: "alice"})))
	if id == "" || secret == "" || exp != "" {
		t.Fatalf("instance id=%q secret set=%v expireAt=%q", id, secret != "", exp)
	}
	if ev := lastEvent(s, "createInstance"); ev.Code != CodeOK || ev.Instance != id || ev.User != "alice" {
		t.Fatalf("event = %+v", ev)
	}
	// A later start: a new connection authenticates with the stored
	// instance, no JWT.
	c2 := dialRaw(t, s)
	r := c2.authenticate(app.Key, "alice", "dev-1", id, secret)
	wantOK(t, r, "authenticated")
	if r["instanceId"] != id {
		t.Fatalf("authenticated = %v", r)
	}
	if got := len(s.Instances()); got != 1 {
		t.Fatalf("instances = %d, want 1", got)
	}
}

func TestReferenceTokenAcceptedAtItsTime(t *testing.T) {
	m := clock.NewMock()
	m.Set(time.Date(2018, 1, 2, 3, 4, 5, 0, time.UTC))
	s := RunT(t, Config{Clock: m, Applications: []Application{{
		Key: "a32e5a8d-f7d8-411c-9645-9038e8dd051d", Secret: credentials.MustParseSecret("ax8hTTQJF0OPXL32r1LHMA=="),
	}}})
	c := dialRaw(t, s)
	const seedJWT = "eyJhbGciOiJIUzI1NiIsImtpZCI6ImhrZGZ2MS0yMDE4MDEwMiJ9.eyJpc3MiOiIvL3J0Yy5zaW5jaC5jb20vYXBwbGljYXRpb25zL2EzMmU1YThkLWY3ZDgtNDExYy05NjQ1LTkwMzhlOGRkMDUxZCIsInN1YiI6Ii8vcnRjLnNpbmNoLmNvbS9hcHBsaWNhdGlvbnMvYTMyZTVhOGQtZjdkOC00MTFjLTk2NDUtOTAzOGU4ZGQwNTFkL3VzZXJzL2ZvbyIsImlhdCI6MTUxNDg2MjI0NSwiZXhwIjoxNTE0ODYyODQ1LCJub25jZSI6IjZiNDM4YmRhLTJkNWMtNGU4Yy05MmIwLTM5ZjIwYTk0YjM0ZSJ9.EUltTTD4fxhkwCgLgj6qSQXKawpwQ952Ywm3OwQSARo"
	instanceOf(t, c.create("a32e5a8d-f7d8-411c-9645-9038e8dd051d", "foo", "d1", seedJWT))
	// The same token again: its nonce is spent.
	wantCode(t, c.create("a32e5a8d-f7d8-411c-9645-9038e8dd051d", "foo", "d2", seedJWT), "nonce_reused")
}

// TestTokenRulesOverTheWire shows every token rule's code on the wire.
func TestTokenRulesOverTheWire(t *testing.T) {
	s := RunT(t)
	app := s.Application()
	now := s.Now()
	other := NewApplication()
	otherMinter, _ := credentials.NewMinter(credentials.MinterConfig{ApplicationKey: other.Key, Secret: other.Secret, Clock: s.Clock()})
	otherTok, _ := otherMinter.Mint("alice")
	wrongSecret, _ := credentials.NewMinter(credentials.MinterConfig{ApplicationKey: app.Key, Secret: other.Secret, Clock: s.Clock()})
	badSig, _ := wrongSecret.Mint("alice")
	cases := []struct {
		name, user, jwt, code string
	}{
		{"malformed", "alice", "not-a-jwt", "token_malformed"},
		{"unknown app", "alice", otherTok, "unknown_application"},
		{"bad signature", "alice", badSig, "signature_invalid"},
		{"other user", "bob", mint(t, s, credentials.MintParams{UserID: "alice"}), "subject_mismatch"},
		{"expired", "alice", mint(t, s, credentials.MintParams{UserID: "alice", Now: now.Add(-time.Hour)}), "kid_date_mismatch_or_expired"},
		{"not yet valid", "alice", mint(t, s, credentials.MintParams{UserID: "alice", Now: now.Add(10 * time.Minute)}), "token_not_yet_valid"},
		{"instance ttl ok", "alice", mint(t, s, credentials.MintParams{UserID: "alice", InstanceTTL: 48 * time.Hour}), ""},
		{"bad user id", "al ice", mint(t, s, credentials.MintParams{UserID: "alice"}), "user_id_invalid"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, s)
			r := c.create(app.Key, tc.user, "dev-"+string(rune('a'+i)), tc.jwt)
			got := errCode(r)
			switch tc.code {
			case "":
				wantOK(t, r, "instanceCreated")
			case "kid_date_mismatch_or_expired":
				if got != "token_expired" && got != "kid_date_mismatch" {
					t.Fatalf("reply = %v", r)
				}
			default:
				wantCode(t, r, tc.code)
			}
			if tc.code != "" {
				e := r["error"].(map[string]any)
				if e["domain"] != "api" || e["message"] == "" {
					t.Fatalf("error = %v", e)
				}
				if ev := lastEvent(s, "createInstance"); ev.Code != got || ev.Reason == "" {
					t.Fatalf("event = %+v, want code %s with a reason", ev, got)
				}
			}
		})
	}
}

func TestWrongDeviceIsRefused(t *testing.T) {
	s := RunT(t)
	app := s.Application()
	c := dialRaw(t, s)
	id, secret, _ := instanceOf(t, c.create(app.Key, "alice", "phone", mint(t, s, credentials.MintParams{UserID: "alice"})))
	// The credentials copied to another device: the proof is right (the
	// secret is known) but the device is not the instance's.
	wantCode(t, dialRaw(t, s).authenticate(app.Key, "alice", "laptop", id, secret), "instance_device_mismatch")
	// A wrong secret is a bad proof.
	wantCode(t, dialRaw(t, s).authenticate(app.Key, "alice", "phone", id, "AAAA"), "signature_invalid")
	// Unknown instance, or an instance of another user.
	wantCode(t, dialRaw(t, s).authenticate(app.Key, "alice", "phone", "inst-nope", secret), "instance_not_found")
	wantCode(t, dialRaw(t, s).authenticate(app.Key, "bob", "phone", id, secret), "instance_not_found")
}

func TestExpiryAndExtension(t *testing.T) {
	s := RunT(t)
	app := s.Application()
	c := dialRaw(t, s)
	id, secret, exp := instanceOf(t, c.create(app.Key, "alice", "d1", mint(t, s, credentials.MintParams{UserID: "alice", InstanceTTL: 3 * day})))
	want := s.Now().Add(3 * day).UTC().Format(time.RFC3339)
	if exp != want {
		t.Fatalf("expireAt = %s, want %s", exp, want)
	}
	// Extension on the bound connection.
	s.Advance(2 * day)
	r := c.request(map[string]any{"type": "updateInstanceTtl", "jwt": mint(t, s, credentials.MintParams{UserID: "alice", InstanceTTL: 5 * day})})
	wantOK(t, r, "instanceTtlUpdated")
	newExp := s.Now().Add(5 * day)
	if r["expireAt"] != newExp.UTC().Format(time.RFC3339) || r["instanceId"] != id {
		t.Fatalf("updated = %v", r)
	}
	inst, _ := s.Instance(id)
	if len(inst.History) != 2 || inst.History[1].Reason != "extended" || !inst.ExpireAt.Equal(newExp) {
		t.Fatalf("history = %+v", inst.History)
	}
	// At the expiry instant the backend tells the bound client and refuses
	// the instance.
	s.Advance(5 * day)
	rev := c.recv()
	if rev["type"] != "instanceRevoked" || rev["code"] != "instance_expired" || rev["instanceId"] != id {
		t.Fatalf("push = %v", rev)
	}
	wantCode(t, dialRaw(t, s).authenticate(app.Key, "alice", "d1", id, secret), "instance_expired")
	wantCode(t, c.request(map[string]any{"type": "updateInstanceTtl", "jwt": mint(t, s, credentials.MintParams{UserID: "alice", InstanceTTL: 5 * day})}), "not_authenticated")
}

func TestOnceLimitedAlwaysLimited(t *testing.T) {
	s := RunT(t)
	app := s.Application()
	c := dialRaw(t, s)
	instanceOf(t, c.create(app.Key, "alice", "d1", mint(t, s, credentials.MintParams{UserID: "alice", InstanceTTL: 3 * day})))
	// Same user and device, no TTL claim: refused, on creation and on extension.
	wantCode(t, dialRaw(t, s).create(app.Key, "alice", "d1", mint(t, s, credentials.MintParams{UserID: "alice"})), "instance_ttl_required")
	wantCode(t, c.request(map[string]any{"type": "updateInstanceTtl", "jwt": mint(t, s, credentials.MintParams{UserID: "alice"})}), "instance_ttl_required")
	// Another device of the same user is unaffected.
	instanceOf(t, dialRaw(t, s).create(app.Key, "alice", "d2", mint(t, s, credentials.MintParams{UserID: "alice"})))
	// The rule survives the instance's expiry.
	s.Advance(4 * day)
	wantCode(t, dialRaw(t, s).create(app.Key, "alice", "d1", mint(t, s, credentials.MintParams{UserID: "alice"})), "instance_ttl_required")
	instanceOf(t, dialRaw(t, s).create(app.Key, "alice", "d1", mint(t, s, credentials.MintParams{UserID: "alice", InstanceTTL: 3 * day})))
}

func TestInstanceTTLTooShort(t *testing.T) {
	s := RunT(t)
	app := s.Application()
	// Minter refuses short instance TTLs, so sign the claim by hand.
	tok := signClaims(t, app, s.Now(), `,"sinch:rtc:instance:exp":`+itoa(s.Now().Add(47*time.Hour).Unix()))
	wantCode(t, dialRaw(t, s).create(app.Key, "alice", "d1", tok), "instance_ttl_too_short")
}

func TestNonceReplay(t *testing.T) {
	s := RunT(t)
	app := s.Application()
	tok := mint(t, s, credentials.MintParams{UserID: "alice"})
	instanceOf(t, dialRaw(t, s).create(app.Key, "alice", "d1", tok))
	wantCode(t, dialRaw(t, s).create(app.Key, "alice", "d2", tok), "nonce_reused")
}

func TestRateLimit(t *testing.T) {
	s := RunT(t, Config{Policy: Policy{RateLimit: 3, RateWindow: time.Hour}})
	app := s.Application()
	for i := 0; i < 3; i++ {
		instanceOf(t, dialRaw(t, s).create(app.Key, "alice", "d"+itoa(int64(i)), mint(t, s, credentials.MintParams{UserID: "alice"})))
	}
	r := dialRaw(t, s).create(app.Key, "alice", "d9", mint(t, s, credentials.MintParams{UserID: "alice"}))
	wantCode(t, r, "instance_creation_rate_exceeded")
	e := r["error"].(map[string]any)
	if e["message"] != "Instance creation rate exceeded" || e["retryable"] != true || e["retryAfterMs"] != float64(time.Hour/time.Millisecond) {
		t.Fatalf("error = %v", e)
	}
	// Another user is not limited; after the window the user may create again.
	instanceOf(t, dialRaw(t, s).create(app.Key, "bob", "d1", mint(t, s, credentials.MintParams{UserID: "bob"})))
	s.Advance(time.Hour)
	instanceOf(t, dialRaw(t, s).create(app.Key, "alice", "d9", mint(t, s, credentials.MintParams{UserID: "alice"})))
}

func TestLegacyRegistration(t *testing.T) {
	s := RunT(t)
	app := s.Application()
	legacy := func(c *rawClient, seq uint64, sig string) map[string]any {
		if sig == "" {
			sig = credentials.LegacySignature("alice", app.Key, seq, app.Secret)
		}
		return c.request(map[string]any{"type": "legacyRegister", "applicationKey": app.Key, "userId": "alice", "deviceId": "d1",
			"sdkVersion": "x", "capabilities": []string{}, "signature": sig, "sequence": seq})
	}
	c := dialRaw(t, s)
	instanceOf(t, legacy(c, 1, ""))
	wantCode(t, legacy(c, 1, ""), "sequence_not_increasing")
	wantCode(t, legacy(c, 2, "bm9wZQ=="), "signature_invalid")
	instanceOf(t, legacy(c, 5, ""))
	wantCode(t, legacy(c, 3, ""), "sequence_not_increasing")

	off := RunT(t, Config{Policy: Policy{DisableLegacy: true}})
	wantCode(t, dialRaw(t, off).request(map[string]any{"type": "legacyRegister", "applicationKey": off.Application().Key, "userId": "alice",
		"deviceId": "d1", "sdkVersion": "x", "capabilities": []string{}, "signature": "x", "sequence": 1}), "legacy_disabled")
}

func TestRevocationIsPushed(t *testing.T) {
	s := RunT(t)
	app := s.Application()
	c := dialRaw(t, s)
	id, secret, _ := instanceOf(t, c.create(app.Key, "alice", "d1", mint(t, s, credentials.MintParams{UserID: "alice"})))
	if !s.RevokeInstance(id) {
		t.Fatal("RevokeInstance = false")
	}
	r := c.recv()
	if r["type"] != "instanceRevoked" || r["code"] != "instance_not_found" || r["instanceId"] != id {
		t.Fatalf("push = %v", r)
	}
	wantCode(t, dialRaw(t, s).authenticate(app.Key, "alice", "d1", id, secret), "instance_not_found")
	if ev := lastEvent(s, "revoke"); ev.Instance != id {
		t.Fatalf("event = %+v", ev)
	}
}

func TestPushTokens(t *testing.T) {
	s := RunT(t)
	app := s.Application()
	c := dialRaw(t, s)
	wantCode(t, c.request(map[string]any{"type": "registerPushToken", "pushToken": "tok"}), "not_authenticated")
	id, _, _ := instanceOf(t, c.create(app.Key, "alice", "d1", mint(t, s, credentials.MintParams{UserID: "alice"})))
	wantOK(t, c.request(map[string]any{"type": "registerPushToken", "pushToken": "fcm-123", "pushType": "fcm"}), "pushTokenRegistered")
	if inst, _ := s.Instance(id); inst.PushToken != "fcm-123" || inst.PushType != "fcm" {
		t.Fatalf("instance = %+v", inst)
	}
	wantOK(t, c.request(map[string]any{"type": "unregisterPushToken"}), "pushTokenUnregistered")
	if inst, _ := s.Instance(id); inst.PushToken != "" {
		t.Fatalf("instance = %+v", inst)
	}
}

func TestMalformedFramesAndOversizedMessages(t *testing.T) {
	s := RunT(t)
	c := dialRaw(t, s)
	for _, bad := range []string{"{", "[]", `{"type":"nope","id":"1"}`, `{"type":"createInstance"}`, "\xff\xfe", `{"type":"welcome","protocol":1,"challenge":"x","serverTime":"2020-01-01T00:00:00Z"}`} {
		c.sendRaw(bad)
		wantCode(t, c.recv(), "protocol_error")
	}
	// Still usable after all that.
	wantCode(t, c.request(map[string]any{"type": "unregisterPushToken"}), "not_authenticated")
	// An oversized message gets protocol_error, then the connection closes.
	c.sendRaw(`{"type":"createInstance","id":"big","jwt":"` + strings.Repeat("a", 70<<10) + `"}`)
	wantCode(t, c.recv(), "protocol_error")
	c.ws.SetReadDeadline(time.Now().Add(wireTimeout))
	if _, _, err := c.ws.ReadMessage(); err == nil {
		t.Fatal("connection still open after an oversized message")
	}
	// The server lives on.
	dialRaw(t, s)
}

func TestFaultInjection(t *testing.T) {
	s := RunT(t)
	app := s.Application()
	if err := s.FailNext("createInstance", 1, "unavailable"); err != nil {
		t.Fatal(err)
	}
	c := dialRaw(t, s)
	wantCode(t, c.create(app.Key, "alice", "d1", mint(t, s, credentials.MintParams{UserID: "alice"})), "unavailable")
	instanceOf(t, c.create(app.Key, "alice", "d1", mint(t, s, credentials.MintParams{UserID: "alice"})))
	if err := s.DropNext("authenticate", 1); err != nil {
		t.Fatal(err)
	}
	c2 := dialRaw(t, s)
	c2.sendRaw(`{"type":"authenticate","id":"1","applicationKey":"a","userId":"alice","instanceId":"i","deviceId":"d","proof":"p"}`)
	c2.ws.SetReadDeadline(time.Now().Add(wireTimeout))
	if _, _, err := c2.ws.ReadMessage(); err == nil {
		t.Fatal("connection not dropped")
	}
	if err := s.FailNext("createInstance", 1, "no_such_code"); err == nil {
		t.Fatal("unknown code accepted")
	}
}

func TestRestartWithDataDirKeepsInstances(t *testing.T) {
	dir := t.TempDir()
	s := RunT(t, Config{DataDir: dir, Applications: []Application{NewApplication()}, Conn: quickClose})
	app := s.Application()
	c := dialRaw(t, s)
	id, secret, _ := instanceOf(t, c.create(app.Key, "alice", "d1", mint(t, s, credentials.MintParams{UserID: "alice", InstanceTTL: 3 * day})))
	addr := s.Addr()
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if s.Addr() != addr {
		t.Fatalf("restart moved from %s to %s", addr, s.Addr())
	}
	wantOK(t, dialRaw(t, s).authenticate(app.Key, "alice", "d1", id, secret), "authenticated")
	// A whole new server on the same directory sees the same state.
	s.Close()
	s2 := RunT(t, Config{DataDir: dir, Clock: s.Clock(), Conn: quickClose})
	inst, ok := s2.Instance(id)
	if !ok || !inst.Limited() || len(inst.History) != 1 {
		t.Fatalf("instance after reopen = %+v, %v", inst, ok)
	}
	// Once limited survives too.
	wantCode(t, dialRaw(t, s2).create(app.Key, "alice", "d1", mint(t, s2, credentials.MintParams{UserID: "alice"})), "instance_ttl_required")
}

func TestRestartWithoutDataDirForgets(t *testing.T) {
	s := RunT(t, Config{Conn: quickClose})
	app := s.Application()
	id, secret, _ := instanceOf(t, dialRaw(t, s).create(app.Key, "alice", "d1", mint(t, s, credentials.MintParams{UserID: "alice"})))
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	wantCode(t, dialRaw(t, s).authenticate(app.Key, "alice", "d1", id, secret), "instance_not_found")
}

func TestCloseIsIdempotentAndResetKeepsApplications(t *testing.T) {
	s := RunT(t)
	app := s.Application()
	instanceOf(t, dialRaw(t, s).create(app.Key, "alice", "d1", mint(t, s, credentials.MintParams{UserID: "alice"})))
	if err := s.Reset(); err != nil {
		t.Fatal(err)
	}
	if len(s.Instances()) != 0 || len(s.Events()) != 0 || s.Application().Key != app.Key {
		t.Fatalf("after reset: %d instances, %d events, app %q", len(s.Instances()), len(s.Events()), s.Application().Key)
	}
	s.Close()
	s.Close()
	if err := s.Start(); err != ErrClosed {
		t.Fatalf("Start after Close = %v", err)
	}
}

// signClaims signs a payload for app with the correct key, for claims
// Minter refuses to make. extra is appended inside the claims object.
func signClaims(t testing.TB, app Application, now time.Time, extra string) string {
	t.Helper()
	iat := now.Unix()
	payload := `{"iss":"` + credentials.Issuer(app.Key) + `","sub":"` + credentials.Subject(app.Key, "alice") +
		`","iat":` + itoa(iat) + `,"exp":` + itoa(iat+600) + `,"nonce":"` + credentials.NewNonce() + `"` + extra + `}`
	return signRaw(`{"alg":"HS256","kid":"`+credentials.Kid(now)+`"}`, payload, credentials.SigningKey(app.Secret, now))
}

func TestInstanceSecretNeverPrints(t *testing.T) {
	s := RunT(t)
	instanceOf(t, dialRaw(t, s).create(s.Application().Key, "alice", "d1", mint(t, s, credentials.MintParams{UserID: "alice"})))
	inst := s.Instances()[0]
	for _, f := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		if out := fmt.Sprintf(f, inst); strings.Contains(out, string(inst.Secret)) {
			t.Errorf("%s shows the instance secret: %s", f, out)
		}
	}
}

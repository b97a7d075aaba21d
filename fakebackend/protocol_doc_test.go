package fakebackend

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/transport"
)

// The tests in this file check, over the wire, the behaviour that
// docs/PROTOCOL.md states, and that the document states it.

// protocolDoc returns docs/PROTOCOL.md with every run of white space turned
// into one space, so that a phrase matches however the lines wrap.
func protocolDoc(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("../docs/PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(strings.Fields(string(b)), " ")
}

// docSays fails the test unless docs/PROTOCOL.md contains every phrase.
func docSays(t testing.TB, phrases ...string) {
	t.Helper()
	doc := protocolDoc(t)
	for _, p := range phrases {
		if !strings.Contains(doc, strings.Join(strings.Fields(p), " ")) {
			t.Errorf("docs/PROTOCOL.md does not say %q", p)
		}
	}
}

// docSection returns the text between the markers <!-- name:begin ... -->
// and <!-- name:end -->.
func docSection(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile("../docs/PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i := strings.Index(doc, "<!-- "+name+":begin")
	j := strings.Index(doc, "<!-- "+name+":end -->")
	if i < 0 || j < i {
		t.Fatalf("docs/PROTOCOL.md has no %s:begin/%s:end markers", name, name)
	}
	return doc[i:j]
}

// tableCodes returns the first backquoted word of each table row of section.
func tableCodes(section string) []string {
	var out []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-zA-Z_]+)`").FindAllStringSubmatch(section, -1) {
		if m[1] != "code" { // the header row
			out = append(out, m[1])
		}
	}
	return out
}

// pushCode reads the next message, which must be instanceRevoked for id,
// and returns its code.
func pushCode(t testing.TB, c *rawClient, id string) string {
	t.Helper()
	r := c.recv()
	if r["type"] != "instanceRevoked" || r["instanceId"] != id {
		t.Fatalf("message = %v, want instanceRevoked for %s", r, id)
	}
	if m, _ := r["message"].(string); m == "" {
		t.Fatalf("instanceRevoked without a message: %v", r)
	}
	code, _ := r["code"].(string)
	return code
}

func registerPush(c *rawClient, tok string) map[string]any {
	c.t.Helper()
	return c.request(map[string]any{"type": "registerPushToken", "pushToken": tok})
}

// TestInstanceRevokedCodes drives each reason for instanceRevoked over the
// wire (two raw connections where another connection is the cause) and
// checks that the told connection is unbound but open, and that the table
// in docs/PROTOCOL.md lists exactly these codes.
func TestInstanceRevokedCodes(t *testing.T) {
	cases := []struct {
		name  string
		code  string
		cause func(t *testing.T, s *Server, app Application, id, secret string)
		// gone: the instance no longer authenticates afterwards.
		gone bool
	}{
		{"expired", "instance_expired", func(t *testing.T, s *Server, _ Application, _, _ string) {
			s.Advance(3 * day)
		}, true},
		{"revoked", "instance_not_found", func(t *testing.T, s *Server, _ Application, id, _ string) {
			if !s.RevokeInstance(id) {
				t.Fatal("RevokeInstance = false")
			}
		}, true},
		{"takeover by a second connection", "instance_replaced", func(t *testing.T, s *Server, app Application, id, secret string) {
			c2 := dialRaw(t, s)
			wantOK(t, c2.authenticate(app.Key, "alice", "d1", id, secret), "authenticated")
			// The newest connection is the bound one.
			wantOK(t, registerPush(c2, "tok-2"), "pushTokenRegistered")
		}, false},
		{"replaced by a new registration", "instance_replaced", func(t *testing.T, s *Server, app Application, _, _ string) {
			c2 := dialRaw(t, s)
			instanceOf(t, c2.create(app.Key, "alice", "d1", mint(t, s, credentials.MintParams{UserID: "alice", InstanceTTL: 3 * day})))
			// The registering connection is not told anything: its next
			// message is the answer to its next request.
			wantOK(t, registerPush(c2, "tok-2"), "pushTokenRegistered")
		}, true},
		{"replaced by a legacy registration", "instance_replaced", func(t *testing.T, s *Server, app Application, _, _ string) {
			c2 := dialRaw(t, s)
			instanceOf(t, c2.request(map[string]any{"type": "legacyRegister", "applicationKey": app.Key, "userId": "alice", "deviceId": "d2",
				"sdkVersion": "x", "capabilities": []string{}, "signature": credentials.LegacySignature("alice", app.Key, 1, app.Secret), "sequence": 1}))
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := RunT(t)
			app := s.Application()
			c := dialRaw(t, s)
			p := credentials.MintParams{UserID: "alice", InstanceTTL: 3 * day}
			device := "d1"
			if strings.Contains(tc.name, "legacy") {
				// Legacy instances are unlimited, so the device must never
				// have had a limited TTL.
				p, device = credentials.MintParams{UserID: "alice"}, "d2"
			}
			id, secret, _ := instanceOf(t, c.create(app.Key, "alice", device, mint(t, s, p)))
			tc.cause(t, s, app, id, secret)
			if got := pushCode(t, c, id); got != tc.code {
				t.Fatalf("instanceRevoked code = %s, want %s", got, tc.code)
			}
			// Unbound, but open: a bound request is refused, the connection
			// answers.
			wantCode(t, registerPush(c, "tok-1"), "not_authenticated")
			r := dialRaw(t, s).authenticate(app.Key, "alice", device, id, secret)
			if tc.gone && r["type"] == "authenticated" {
				t.Fatalf("the instance still authenticates: %v", r)
			}
			if !tc.gone {
				wantOK(t, r, "authenticated")
			}
			if tc.code == "instance_replaced" {
				if ev := lastEvent(s, KindReplace); ev.Code != tc.code || ev.Instance != id || ev.User != "alice" {
					t.Fatalf("replace event = %+v", ev)
				}
			}
		})
	}
	documented := tableCodes(docSection(t, "revoked"))
	if got, want := strings.Join(documented, ","), "instance_expired,instance_not_found,instance_replaced"; got != want {
		t.Errorf("instanceRevoked codes in docs/PROTOCOL.md: %s, want %s", got, want)
	}
	docSays(t, "`instance_replaced` | another connection took the instance over (it authenticated the same instance), or a new registration of the same user and device replaced the instance")
}

// TestTakeoverNeedsNoRequestToNotice is issue 17 exactly: the first
// connection learns of the takeover at once, before it sends anything.
func TestTakeoverNeedsNoRequestToNotice(t *testing.T) {
	s := RunT(t)
	app := s.Application()
	c1 := dialRaw(t, s)
	id, secret, _ := instanceOf(t, c1.create(app.Key, "alice", "d1", mint(t, s, credentials.MintParams{UserID: "alice"})))
	c2 := dialRaw(t, s)
	wantOK(t, c2.authenticate(app.Key, "alice", "d1", id, secret), "authenticated")
	if got := pushCode(t, c1, id); got != "instance_replaced" {
		t.Fatalf("code = %s, want instance_replaced", got)
	}
	// The first connection takes it back: now the second one is told.
	wantOK(t, c1.authenticate(app.Key, "alice", "d1", id, secret), "authenticated")
	if got := pushCode(t, c2, id); got != "instance_replaced" {
		t.Fatalf("code = %s, want instance_replaced", got)
	}
	docSays(t, "When a second connection authenticates an instance that is bound elsewhere, the newest connection wins: the older one is unbound and gets `instanceRevoked` with code `instance_replaced`.")
}

// TestUpdateInstanceTTLOnlyProlongs: an earlier expiry is refused with
// instance_ttl_shortened and changes nothing; the same or a later one is
// accepted; an unlimited instance may get a first limit.
func TestUpdateInstanceTTLOnlyProlongs(t *testing.T) {
	s := RunT(t)
	app := s.Application()
	c := dialRaw(t, s)
	id, _, _ := instanceOf(t, c.create(app.Key, "alice", "d1", mint(t, s, credentials.MintParams{UserID: "alice", InstanceTTL: 10 * day})))
	inst, _ := s.Instance(id)
	current := inst.ExpireAt
	update := func(instanceExp time.Time) map[string]any {
		return c.request(map[string]any{"type": "updateInstanceTtl", "jwt": signToken(t, app, "alice", s.Now(), s.Now().Unix(), s.Now().Unix()+600,
			`,"sinch:rtc:instance:exp":`+itoa(instanceExp.Unix()))})
	}
	cases := []struct {
		name string
		exp  time.Time
		code string // "" = accepted
	}{
		{"earlier", current.Add(-day), "instance_ttl_shortened"},
		{"a second earlier", current.Add(-time.Second), "instance_ttl_shortened"},
		{"the same", current, ""},
		{"later", current.Add(day), ""},
	}
	for _, tc := range cases {
		before, _ := s.Instance(id)
		r := update(tc.exp)
		after, _ := s.Instance(id)
		if tc.code != "" {
			wantCode(t, r, tc.code)
			if !after.ExpireAt.Equal(before.ExpireAt) || len(after.History) != len(before.History) {
				t.Fatalf("%s: refused update changed the instance: %v -> %v", tc.name, before.ExpireAt, after.ExpireAt)
			}
			continue
		}
		wantOK(t, r, "instanceTtlUpdated")
		if !after.ExpireAt.Equal(tc.exp) || r["expireAt"] != tc.exp.UTC().Format(time.RFC3339) {
			t.Fatalf("%s: expiry %v, answer %v, want %v", tc.name, after.ExpireAt, r["expireAt"], tc.exp)
		}
	}
	// An unlimited instance gets a first limit, and its device is limited
	// from then on.
	c2 := dialRaw(t, s)
	instanceOf(t, c2.create(app.Key, "alice", "d2", mint(t, s, credentials.MintParams{UserID: "alice"})))
	wantOK(t, c2.request(map[string]any{"type": "updateInstanceTtl", "jwt": mint(t, s, credentials.MintParams{UserID: "alice", InstanceTTL: 3 * day})}), "instanceTtlUpdated")
	wantCode(t, dialRaw(t, s).create(app.Key, "alice", "d2", mint(t, s, credentials.MintParams{UserID: "alice"})), "instance_ttl_required")

	docSays(t,
		"An update only prolongs: an expiry **earlier** than the instance's current one is refused with `instance_ttl_shortened` and changes nothing. The same expiry is accepted.",
		"An unlimited instance may be given a first expiry this way",
	)
}

// TestOnceLimitedScope: the mark belongs to the application, user and
// device, and survives the instance's expiry, revocation and replacement;
// it also refuses legacy registrations.
func TestOnceLimitedScope(t *testing.T) {
	s := RunT(t)
	app := s.Application()
	limited := func() string { return mint(t, s, credentials.MintParams{UserID: "alice", InstanceTTL: 3 * day}) }
	unlimited := func() string { return mint(t, s, credentials.MintParams{UserID: "alice"}) }
	id, _, _ := instanceOf(t, dialRaw(t, s).create(app.Key, "alice", "d1", limited()))

	cases := []struct {
		name  string
		after func()
	}{
		{"replacement", func() { id, _, _ = instanceOf(t, dialRaw(t, s).create(app.Key, "alice", "d1", limited())) }},
		{"revocation", func() { s.RevokeInstance(id) }},
		{"expiry", func() {
			id, _, _ = instanceOf(t, dialRaw(t, s).create(app.Key, "alice", "d1", limited()))
			s.Advance(4 * day)
		}},
	}
	for _, tc := range cases {
		tc.after()
		wantCode(t, dialRaw(t, s).create(app.Key, "alice", "d1", unlimited()), "instance_ttl_required")
		wantCode(t, dialRaw(t, s).request(map[string]any{"type": "legacyRegister", "applicationKey": app.Key, "userId": "alice", "deviceId": "d1",
			"sdkVersion": "x", "capabilities": []string{}, "signature": credentials.LegacySignature("alice", app.Key, 7, app.Secret), "sequence": 7}), "instance_ttl_required")
	}
	// Another device of the user, and the same device of another user, are
	// not affected.
	instanceOf(t, dialRaw(t, s).create(app.Key, "alice", "d2", unlimited()))
	instanceOf(t, dialRaw(t, s).create(app.Key, "bob", "d1", mint(t, s, credentials.MintParams{UserID: "bob"})))

	docSays(t,
		"every later JWT for that **application, user and device** must carry `sinch:rtc:instance:exp`",
		"it **survives the instance's expiry, revocation and replacement**",
		"Other devices of the same user are not affected.",
	)
}

// TestUnstatedCases covers what an independent client could not find in
// the document before: authenticate naming another user, a registration on
// a bound connection, and a connection after a non-fatal protocol_error.
func TestUnstatedCases(t *testing.T) {
	t.Run("authenticate naming another user", func(t *testing.T) {
		s := RunT(t)
		app := s.Application()
		id, secret, _ := instanceOf(t, dialRaw(t, s).create(app.Key, "alice", "d1", mint(t, s, credentials.MintParams{UserID: "alice"})))
		for _, tc := range []struct{ name, app, user, inst string }{
			{"another user", app.Key, "bob", id},
			{"an invalid user id", app.Key, "al ice", id},
			{"an unknown application", "no-such-app", "alice", id},
			{"an unknown instance", app.Key, "alice", "inst-none"},
		} {
			if got := errCode(dialRaw(t, s).authenticate(tc.app, tc.user, "d1", tc.inst, secret)); got != "instance_not_found" {
				t.Errorf("%s: code %s, want instance_not_found", tc.name, got)
			}
		}
		docSays(t, "An instance of **another user** (or application) gets the same answer as an unknown id, and so does an invalid `userId` or an unknown `applicationKey`")
	})

	t.Run("registration on a bound connection", func(t *testing.T) {
		s := RunT(t)
		app := s.Application()
		c := dialRaw(t, s)
		first, secret1, _ := instanceOf(t, c.create(app.Key, "alice", "d1", mint(t, s, credentials.MintParams{UserID: "alice"})))
		// Another device: the connection is rebound, the old instance lives.
		second, _, _ := instanceOf(t, c.create(app.Key, "alice", "d2", mint(t, s, credentials.MintParams{UserID: "alice"})))
		wantOK(t, registerPush(c, "tok"), "pushTokenRegistered")
		if a, _ := s.Instance(first); a.PushToken != "" {
			t.Fatalf("push token went to the old instance")
		}
		if b, _ := s.Instance(second); b.PushToken != "tok" {
			t.Fatalf("push token not on the new instance")
		}
		wantOK(t, dialRaw(t, s).authenticate(app.Key, "alice", "d1", first, secret1), "authenticated")
		// authenticate rebinds too.
		wantOK(t, c.authenticate(app.Key, "alice", "d1", first, secret1), "authenticated")
		wantOK(t, registerPush(c, "tok-first"), "pushTokenRegistered")
		if a, _ := s.Instance(first); a.PushToken != "tok-first" {
			t.Fatalf("push token not on the authenticated instance")
		}
		// Same user and device: the old instance is replaced; this
		// connection is not told (its next message answers its request).
		third, _, _ := instanceOf(t, c.create(app.Key, "alice", "d2", mint(t, s, credentials.MintParams{UserID: "alice"})))
		wantOK(t, registerPush(c, "tok"), "pushTokenRegistered")
		if _, ok := s.Instance(second); ok || third == second {
			t.Fatalf("instance %s not replaced by %s", second, third)
		}
		docSays(t,
			"so they are also allowed on a connection that is already bound",
			"Nothing is sent about the old binding (the client asked for the change); the old instance lives on unless the request replaced it.",
		)
	})

	t.Run("after a non-fatal protocol_error", func(t *testing.T) {
		s := RunT(t)
		app := s.Application()
		c := dialRaw(t, s)
		instanceOf(t, c.create(app.Key, "alice", "d1", mint(t, s, credentials.MintParams{UserID: "alice"})))
		c.sendRaw(`{"type":"registerPushToken","id":"bad-1","pushToken":7}`)
		r := c.recv()
		wantCode(t, r, "protocol_error")
		if r["id"] != "bad-1" {
			t.Fatalf("protocol_error does not echo the id: %v", r)
		}
		c.sendRaw("not json")
		wantCode(t, c.recv(), "protocol_error")
		// Open and still bound.
		wantOK(t, registerPush(c, "tok"), "pushTokenRegistered")
		// A server-to-client type gets an answer without id.
		c.sendRaw(`{"type":"pushTokenRegistered","id":"bad-2","instanceId":"x"}`)
		r = c.recv()
		wantCode(t, r, "protocol_error")
		if id, _ := r["id"].(string); id != "" {
			t.Fatalf("answer to a server message carries id %q", id)
		}
		// Open and still bound.
		wantOK(t, registerPush(c, "tok2"), "pushTokenRegistered")
		docSays(t, "A `protocol_error` is **not fatal**: the connection stays open, keeps its binding, and the next message is read as usual. The `error` answer echoes the request's `id` when it could be read (a message of a server-to-client type gets an answer without `id`).")
	})
}

// TestLimitsTable checks each row of the limits table in docs/PROTOCOL.md
// that gives a byte range: the largest value is accepted, one byte more
// (and, for a range from 1, an empty value) gets the documented code.
func TestLimitsTable(t *testing.T) {
	s := RunT(t)
	app := s.Application()
	n := 0
	next := func() string { n++; return "u" + strconv.Itoa(n) }
	send := map[string]func(v string) map[string]any{
		"userId": func(v string) map[string]any {
			now := s.Now().Unix()
			return dialRaw(t, s).create(app.Key, v, "d1", signToken(t, app, v, s.Now(), now, now+600, ""))
		},
		"deviceId": func(v string) map[string]any {
			user := next()
			return dialRaw(t, s).create(app.Key, user, v, mint(t, s, credentials.MintParams{UserID: user}))
		},
		"calleeUserId": func(v string) map[string]any {
			c := dialRaw(t, s)
			user := next()
			instanceOf(t, c.create(app.Key, user, "d1", mint(t, s, credentials.MintParams{UserID: user})))
			return c.request(map[string]any{"type": "callUser", "calleeUserId": v})
		},
		"pushToken": func(v string) map[string]any {
			c := dialRaw(t, s)
			user := next()
			instanceOf(t, c.create(app.Key, user, "d1", mint(t, s, credentials.MintParams{UserID: user})))
			return registerPush(c, v)
		},
	}
	row := regexp.MustCompile("(?m)^\\| `(\\w+)`[^|]*\\| (\\d+)–(\\d+) bytes[^|]*\\| `(\\w+)`")
	rows := row.FindAllStringSubmatch(docSection(t, "limits"), -1)
	if len(rows) != len(send) {
		t.Fatalf("limits table has %d byte-range rows, the test knows %d members", len(rows), len(send))
	}
	for _, m := range rows {
		member, lo, hi, code := m[1], m[2], m[3], m[4]
		t.Run(member, func(t *testing.T) {
			f, ok := send[member]
			if !ok {
				t.Fatalf("no test for member %s", member)
			}
			max, _ := strconv.Atoi(hi)
			long := strings.Repeat("a", max)
			if r := f(long); r["type"] == "error" {
				t.Fatalf("%d bytes refused: %v", max, r)
			}
			if got := errCode(f(long + "a")); got != code {
				t.Errorf("%d bytes: code %q, want %s", max+1, got, code)
			}
			if lo == "1" {
				if got := errCode(f("")); got != code {
					t.Errorf("empty: code %q, want %s", got, code)
				}
			}
		})
	}
}

// TestTokenTimesDocumented: iat in milliseconds, and the kid date around
// midnight UTC, give the codes docs/PROTOCOL.md names.
func TestTokenTimesDocumented(t *testing.T) {
	s := RunT(t) // DefaultMockTime: 2026-01-01 00:00:00 UTC
	app := s.Application()
	now := func() int64 { return s.Now().Unix() }
	n := 0
	create := func(c *rawClient, kidDay time.Time, iat, exp int64) string {
		n++
		return errCode(c.create(app.Key, "alice", "d"+strconv.Itoa(n), signToken(t, app, "alice", kidDay, iat, exp, "")))
	}
	s.Advance(time.Hour)
	ms := s.Now().UnixMilli()
	if got := create(dialRaw(t, s), s.Now(), ms, ms+600_000); got != "token_not_yet_valid" {
		t.Errorf("iat and exp in ms: %s", got)
	}
	if got := create(dialRaw(t, s), s.Now(), ms, now()+600); got != "token_ttl_too_short" {
		t.Errorf("iat in ms, exp in s: %s", got)
	}
	if got := create(dialRaw(t, s), s.Now(), now(), s.Now().Add(time.Hour).UnixMilli()); got != "" {
		t.Errorf("exp in ms: %s, want accepted", got)
	}

	jan1 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	dec31, jan2 := jan1.AddDate(0, 0, -1), jan1.AddDate(0, 0, 1)
	s.Advance(jan2.Add(-31 * time.Second).Sub(s.Now()))
	early := dialRaw(t, s) // its welcome is dated Jan 1
	for _, tc := range []struct {
		name   string
		before time.Duration // before midnight at the end of Jan 1; in increasing time order
		c      *rawClient    // nil: a new connection
		kid    time.Time
		code   string
	}{
		{"tomorrow's date at 23:59:29", 31 * time.Second, nil, jan2, "kid_date_mismatch"},
		{"tomorrow's date at 23:59:30", 30 * time.Second, nil, jan2, ""},
		{"yesterday's date at 23:59:30", 30 * time.Second, nil, dec31, "kid_date_mismatch"},
		{"yesterday's date at 00:00:29", -29 * time.Second, nil, jan1, ""},
		{"yesterday's date at 00:00:30", -30 * time.Second, nil, jan1, "kid_date_mismatch"},
		{"the welcome's date an hour later", -time.Hour, early, jan1, ""},
	} {
		s.Advance(jan2.Add(-tc.before).Sub(s.Now()))
		c := tc.c
		if c == nil {
			c = dialRaw(t, s)
		}
		if got := create(c, tc.kid, now(), now()+600); got != tc.code {
			t.Errorf("%s: code %q, want %q", tc.name, got, tc.code)
		}
	}
	docSays(t,
		"A JWT whose `iat` is in **milliseconds** is refused with `token_not_yet_valid` when `exp` is in milliseconds too, and with `token_ttl_too_short` when `exp` is in seconds",
		"With the default leeway a token may carry tomorrow's date from 23:59:30 UTC and still carry yesterday's until 00:00:30 UTC; a connection opened before midnight may use its `welcome` date all along.",
	)
}

// TestLegacyExampleOverTheWire sends the legacyRegister example of
// docs/PROTOCOL.md, byte for byte, to a backend holding the test vector's
// application: the documented signature is accepted.
func TestLegacyExampleOverTheWire(t *testing.T) {
	doc := protocolDoc(t)
	key := regexp.MustCompile("Test vector: user `bob`, application key `([^`]+)`, sequence `42`, secret `([^`]+)`").FindStringSubmatch(doc)
	if key == nil {
		t.Fatal("no legacy test vector in docs/PROTOCOL.md")
	}
	example := regexp.MustCompile(`\{"type":"legacyRegister"[^}]*\}`).FindString(doc)
	if example == "" {
		t.Fatal("no legacyRegister example in docs/PROTOCOL.md")
	}
	s := RunT(t, Config{Applications: []Application{{Key: key[1], Secret: credentials.MustParseSecret(key[2])}}})
	c := dialRaw(t, s)
	c.sendRaw(example)
	r := c.recv()
	instanceOf(t, r)
	if r["id"] != "req-4" {
		t.Fatalf("answer = %v", r)
	}
	// The same again: the sequence is used up.
	c.sendRaw(example)
	wantCode(t, c.recv(), "sequence_not_increasing")
}

// TestOversizedMessageOverTheWire: a 2 MiB message (over 16×ReadLimit),
// sent to the backend by a plain gorilla client in 4 KiB fragments, ends
// with a close 1009 that the client reads, every time, whether or not the
// protocol_error answer came first.
func TestOversizedMessageOverTheWire(t *testing.T) {
	// A long grace: the drain ends at the peer's close anyway, and a
	// loaded machine must not turn a slow write into a reset.
	s := RunT(t, Config{Conn: transport.Config{CloseGrace: wireTimeout}})
	msg := []byte(`{"type":"updateInstanceTtl","id":"r1","jwt":"` + strings.Repeat("x", 2<<20) + `"}`)
	for i := range 20 {
		c := dialRaw(t, s)
		werr := c.ws.WriteMessage(websocket.TextMessage, msg)
		c.ws.SetReadDeadline(time.Now().Add(wireTimeout))
		var err error
		for err == nil {
			var data []byte
			if _, data, err = c.ws.ReadMessage(); err == nil && !strings.Contains(string(data), `"protocol_error"`) {
				t.Fatalf("try %d: unexpected message %s", i+1, data)
			}
		}
		if ce, ok := err.(*websocket.CloseError); werr != nil || !ok || ce.Code != websocket.CloseMessageTooBig {
			t.Errorf("try %d: write error %v, read %v; want close 1009", i+1, werr, err)
		}
		c.ws.Close()
	}
}

// signToken signs a token for user of app by hand, with the kid and key of
// kidDay and the given iat and exp (any unit); extra is appended inside the
// claims object.
func signToken(t testing.TB, app Application, user string, kidDay time.Time, iat, exp int64, extra string) string {
	t.Helper()
	payload := `{"iss":"` + credentials.Issuer(app.Key) + `","sub":"` + credentials.Subject(app.Key, user) +
		`","iat":` + itoa(iat) + `,"exp":` + itoa(exp) + `,"nonce":"` + credentials.NewNonce() + `"` + extra + `}`
	return signRaw(`{"alg":"HS256","kid":"`+credentials.Kid(kidDay)+`"}`, payload, credentials.SigningKey(app.Secret, kidDay))
}

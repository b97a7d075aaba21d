package transport

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sinchsim/sinchsim/codes"
)

var (
	testTime = time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)
	// testJWT is a realistic registration token (the reference vector's shape).
	testJWT = "eyJhbGciOiJIUzI1NiIsImtpZCI6ImhrZGZ2MS0yMDI0MDEwMSJ9." +
		"eyJpc3MiOiIvL3J0Yy5zaW5jaC5jb20vYXBwbGljYXRpb25zL2E1MGNlNDJlLWY2NmQtNGY3Ny1iNmZhLTJlYzMwMWMyMzFkNSIs" +
		"InN1YiI6Ii8vcnRjLnNpbmNoLmNvbS9hcHBsaWNhdGlvbnMvYTUwY2U0MmUtZjY2ZC00Zjc3LWI2ZmEtMmVjMzAxYzIzMWQ1L3Vz" +
		"ZXJzL2FsaWNlIiwiaWF0IjoxNzA0MDY3MjAwLCJleHAiOjE3MDQwNjkwMDAsIm5vbmNlIjoiNmI4ZjZkM2UtNGFlYi00YzFmLWI0" +
		"YjMtM2JmYTk2ZGRjYmQxIiwic2luY2g6cnRjOmluc3RhbmNlOmV4cCI6MTcwNjY1OTIwMH0." +
		"o0Hh6D0Cz5dJX6sN7cFYk2wU8Yx0u0cZ1o9kQ6p0b3E"
)

// sampleMessages holds one fully populated value of every message type.
func sampleMessages() []Message {
	return []Message{
		&Welcome{Protocol: 1, Challenge: "q1xJ0n3LrW6wU8o3cCjvXk3o3wq7N6xK8H3YQpJz2aE", ServerTime: testTime},
		&CreateInstance{ID: "r1", ApplicationKey: "a50ce42e-f66d-4f77-b6fa-2ec301c231d5", UserID: "alice",
			DeviceID: "device-1", Capabilities: []string{"calling", "push"}, SDKVersion: "sinchsim/0.1", JWT: testJWT},
		&InstanceCreated{ID: "r1", Instance: Instance{ID: "inst-1", Secret: "c2VjcmV0", DeviceID: "device-1",
			ExpireAt: testTime, Capabilities: []string{"calling"}}},
		&InstanceCreated{ID: "r1", Instance: Instance{ID: "inst-1", Secret: "c2VjcmV0", DeviceID: "device-1",
			Capabilities: []string{}}}, // unlimited TTL
		&Authenticate{ID: "r2", ApplicationKey: "app", UserID: "alice", InstanceID: "inst-1", DeviceID: "device-1", Proof: "p"},
		&Authenticated{ID: "r2", InstanceID: "inst-1", ExpireAt: testTime, Capabilities: []string{"calling"}, PushToken: "tok"},
		&Authenticated{ID: "r2", InstanceID: "inst-1", Capabilities: []string{}},
		&UpdateInstanceTTL{ID: "r3", JWT: testJWT},
		&InstanceTTLUpdated{ID: "r3", InstanceID: "inst-1", ExpireAt: testTime},
		&LegacyRegister{ID: "r4", ApplicationKey: "app", UserID: "bob", DeviceID: "d", Capabilities: []string{},
			SDKVersion: "1", Signature: "c2ln", Sequence: 18446744073709551615},
		&RegisterPushToken{ID: "r5", PushToken: "tok", PushType: "fcm"},
		&RegisterPushToken{ID: "r5", PushToken: "tok"},
		&PushTokenRegistered{ID: "r5", InstanceID: "inst-1"},
		&UnregisterPushToken{ID: "r6"},
		&PushTokenUnregistered{ID: "r6", InstanceID: "inst-1"},
		&ErrorMessage{ID: "r7", Error: Error{Code: CodeInstanceCreationRateExceeded, Domain: DomainAPI,
			Message: "Instance creation rate exceeded", Retryable: true, RetryAfterMs: 1500}},
		&ErrorMessage{Error: Error{Code: CodeProtocolError, Domain: DomainHTTP, Message: "bad \"json\"\n\x01 ✓"}},
		&InstanceRevoked{InstanceID: "inst-1", Code: CodeInstanceExpired, Message: "TTL ran out"},
		&CallUser{ID: "r8", CalleeUserID: "bob", Headers: map[string]string{"subject": "lunch ✓", "": "", "b": "\"q\""}},
		&CallUser{ID: "r8", CalleeUserID: "bob"},
		&CallProgressing{ID: "r8", CallID: "call-1"},
		&IncomingCall{CallID: "call-1", CallerUserID: "alice", Headers: map[string]string{"subject": "lunch"}},
		&IncomingCall{CallID: "call-1", CallerUserID: "alice"},
		&AnswerCall{ID: "r9", CallID: "call-1"},
		&DeclineCall{ID: "r9", CallID: "call-1"},
		&HangupCall{ID: "r9", CallID: "call-1"},
		&CallEstablished{ID: "r9", CallID: "call-1"},
		&CallEstablished{CallID: "call-1"},
		&CallEnded{ID: "r9", CallID: "call-1", Reason: EndDeclined},
		&CallEnded{CallID: "call-1", Reason: EndNoAnswer},
	}
}

func TestRoundTrip(t *testing.T) {
	seen := map[string]bool{}
	for _, m := range sampleMessages() {
		seen[m.MessageType()] = true
		t.Run(m.MessageType(), func(t *testing.T) {
			data, err := Encode(m)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if !strings.HasPrefix(string(data), `{"type":"`+m.MessageType()+`",`) {
				t.Errorf("encoding does not start with its type: %s", data)
			}
			got, err := Decode(data)
			if err != nil {
				t.Fatalf("Decode(%s): %v", data, err)
			}
			if !reflect.DeepEqual(got, m) {
				t.Errorf("round trip changed the message:\n got %#v\nwant %#v\njson %s", got, m, data)
			}
		})
	}
	for typ := range knownTypes() {
		if !seen[typ] {
			t.Errorf("no sample of %q", typ)
		}
	}
}

func knownTypes() map[string]bool {
	m := map[string]bool{}
	for _, typ := range []string{TypeWelcome, TypeCreateInstance, TypeInstanceCreated, TypeAuthenticate,
		TypeAuthenticated, TypeUpdateInstanceTTL, TypeInstanceTTLUpdated, TypeLegacyRegister,
		TypeRegisterPushToken, TypePushTokenRegistered, TypeUnregisterPushToken,
		TypePushTokenUnregistered, TypeError, TypeInstanceRevoked, TypeCallUser, TypeCallProgressing,
		TypeIncomingCall, TypeAnswerCall, TypeDeclineCall, TypeHangupCall, TypeCallEstablished, TypeCallEnded} {
		m[typ] = true
	}
	return m
}

func TestMessageInterfaces(t *testing.T) {
	for _, m := range sampleMessages() {
		_, isReq := m.(Request)
		_, isRep := m.(Reply)
		switch m.(type) {
		case *Welcome, *InstanceRevoked, *IncomingCall:
			if isReq || isRep {
				t.Errorf("%s is unsolicited, yet Request=%v Reply=%v", m.MessageType(), isReq, isRep)
			}
		case *CreateInstance, *Authenticate, *UpdateInstanceTTL, *LegacyRegister, *RegisterPushToken, *UnregisterPushToken,
			*CallUser, *AnswerCall, *DeclineCall, *HangupCall:
			if !isReq || isRep {
				t.Errorf("%s: Request=%v Reply=%v", m.MessageType(), isReq, isRep)
			}
		default:
			if isReq || !isRep {
				t.Errorf("%s: Request=%v Reply=%v", m.MessageType(), isReq, isRep)
			}
		}
	}
}

func TestEncodeExact(t *testing.T) {
	got, err := Encode(&Authenticated{ID: "r2", InstanceID: "i", Capabilities: nil})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"authenticated","id":"r2","instanceId":"i","capabilities":[]}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	// Times go out in UTC, truncated to the second.
	local := time.Date(2025, 3, 14, 16, 9, 26, 999_999_999, time.FixedZone("CET", 3600))
	got, err = Encode(&InstanceTTLUpdated{ID: "r", InstanceID: "i", ExpireAt: local})
	if err != nil {
		t.Fatal(err)
	}
	want = `{"type":"instanceTtlUpdated","id":"r","instanceId":"i","expireAt":"2025-03-14T15:09:26Z"}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestEncodeRefuses(t *testing.T) {
	tests := []struct {
		name string
		m    Message
	}{
		{"nil", nil},
		{"typed nil", (*Welcome)(nil)},
		{"empty request id", &UnregisterPushToken{}},
		{"long request id", &UnregisterPushToken{ID: strings.Repeat("x", 65)}},
		{"space in id", &UnregisterPushToken{ID: "a b"}},
		{"invalid UTF-8", &UpdateInstanceTTL{ID: "r", JWT: "\xff"}},
		{"invalid UTF-8 capability", &Authenticated{ID: "r", InstanceID: "i", Capabilities: []string{"\xc3"}}},
		{"empty error code", &ErrorMessage{Error: Error{Domain: DomainAPI}}},
		{"bad domain", &ErrorMessage{Error: Error{Code: "x", Domain: "db"}}},
		{"negative retryAfterMs", &ErrorMessage{Error: Error{Code: "x", Domain: DomainAPI, RetryAfterMs: -1}}},
		{"protocol 0", &Welcome{ServerTime: testTime}},
		{"year 10000", &InstanceTTLUpdated{ID: "r", InstanceID: "i", ExpireAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{"empty revoke code", &InstanceRevoked{InstanceID: "i"}},
		{"empty call id", &CallProgressing{ID: "r"}},
		{"empty end reason", &CallEnded{CallID: "c"}},
		{"invalid UTF-8 header value", &CallUser{ID: "r", CalleeUserID: "b", Headers: map[string]string{"k": "\xff"}}},
		{"invalid UTF-8 header name", &IncomingCall{CallID: "c", Headers: map[string]string{"\xff": "v"}}},
		{"17 headers", &CallUser{ID: "r", CalleeUserID: "b", Headers: manyHeaders(17)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if b, err := Encode(tt.m); err == nil {
				t.Errorf("Encode succeeded: %s", b)
			}
		})
	}
}

func TestDecodeMalformed(t *testing.T) {
	deep := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	huge := strings.Repeat("A", 1<<20)
	tests := []struct {
		name, in string
		reason   string // substring of the reason
		id       string // expected ProtocolError.ID
	}{
		{"empty", ``, "empty", ""},
		{"whitespace", "  \n", "empty", ""},
		{"invalid UTF-8", "{\"type\":\"unregisterPushToken\",\"id\":\"r\xff\"}", "UTF-8", ""},
		{"bad JSON", `{"type":"unregisterPushToken","id":"r"`, "ends early", ""},
		{"bad JSON comma", `{"type":"unregisterPushToken",,"id":"r"}`, "quoted member name", ""},
		{"single quotes", `{'type':'welcome'}`, "quoted member name", ""},
		{"array", `[{"type":"unregisterPushToken","id":"r"}]`, "not a JSON object", ""},
		{"string", `"welcome"`, "not a JSON object", ""},
		{"null", `null`, "not a JSON object", ""},
		{"trailing garbage", `{"type":"unregisterPushToken","id":"r"}x`, "data after the object", ""},
		{"two objects", `{"type":"unregisterPushToken","id":"r"}{}`, "data after the object", ""},
		{"duplicate keys", `{"type":"unregisterPushToken","id":"r","id":"s"}`, `"id" twice`, ""},
		{"duplicate keys via escape", `{"type":"unregisterPushToken","id":"r","\u0069d":"s"}`, `"id" twice`, ""},
		{"duplicate nested keys", `{"type":"error","error":{"code":"x","code":"y","domain":"api","message":"","retryable":false}}`, "twice", ""},
		{"unknown field", `{"type":"unregisterPushToken","id":"r1","extra":1}`, `unknown member "extra"`, "r1"},
		{"unknown nested field", `{"type":"error","id":"r1","error":{"code":"x","domain":"api","message":"","retryable":false,"x":1}}`, `unknown member "error.x"`, "r1"},
		{"wrong type for a field", `{"type":"updateInstanceTtl","id":"r1","jwt":42}`, `"jwt" must be a string, not a number`, "r1"},
		{"bool as string", `{"type":"error","error":{"code":"x","domain":"api","message":"","retryable":"true"}}`, `"error.retryable" must be a boolean`, ""},
		{"missing type", `{"id":"r1"}`, `no "type"`, "r1"},
		{"type not a string", `{"type":1}`, `"type" must be a string`, ""},
		{"unknown type", `{"type":"dropTables","id":"r1"}`, `unknown message type "dropTables"`, "r1"},
		{"long unknown type", `{"type":"` + huge + `"}`, `unknown message type "AAAAAAAA`, ""},
		{"missing field", `{"type":"updateInstanceTtl","id":"r1"}`, `"jwt" is missing`, "r1"},
		{"missing id", `{"type":"updateInstanceTtl","jwt":"x"}`, `"id" is missing`, ""},
		{"empty id", `{"type":"updateInstanceTtl","id":"","jwt":"x"}`, `"id" must be 1-64`, ""},
		{"huge id", `{"type":"updateInstanceTtl","id":"` + strings.Repeat("x", 65) + `","jwt":"x"}`, `"id" must be 1-64`, ""},
		{"control char in id", `{"type":"updateInstanceTtl","id":"a\u0000b","jwt":"x"}`, `"id" must be 1-64`, ""},
		{"number as string", `{"type":"legacyRegister","id":"r","applicationKey":"a","userId":"u","deviceId":"d","capabilities":[],"sdkVersion":"1","signature":"s","sequence":"7"}`, `"sequence" must be a number, not a string`, "r"},
		{"negative sequence", `{"type":"legacyRegister","id":"r","applicationKey":"a","userId":"u","deviceId":"d","capabilities":[],"sdkVersion":"1","signature":"s","sequence":-1}`, `"sequence" must be an integer`, "r"},
		{"fractional sequence", `{"type":"legacyRegister","id":"r","applicationKey":"a","userId":"u","deviceId":"d","capabilities":[],"sdkVersion":"1","signature":"s","sequence":1.5}`, `"sequence" must be an integer`, "r"},
		{"exponent sequence", `{"type":"legacyRegister","id":"r","applicationKey":"a","userId":"u","deviceId":"d","capabilities":[],"sdkVersion":"1","signature":"s","sequence":1e3}`, `"sequence" must be an integer`, "r"},
		{"overflow sequence", `{"type":"legacyRegister","id":"r","applicationKey":"a","userId":"u","deviceId":"d","capabilities":[],"sdkVersion":"1","signature":"s","sequence":18446744073709551616}`, `"sequence" must be an integer`, "r"},
		{"null where object expected", `{"type":"instanceCreated","id":"r","instance":null}`, `"instance" must be an object, not null`, "r"},
		{"null where string expected", `{"type":"updateInstanceTtl","id":"r","jwt":null}`, `"jwt" must be a string, not null`, "r"},
		{"null optional string", `{"type":"registerPushToken","id":"r","pushToken":"t","pushType":null}`, `"pushType" must be a string, not null`, "r"},
		{"array of numbers", `{"type":"authenticated","id":"r","instanceId":"i","capabilities":[1]}`, `"capabilities" must be an array of strings`, "r"},
		{"deeply nested JSON", `{"type":"welcome","x":` + deep + `}`, "nesting deeper than", ""},
		{"bad time", `{"type":"welcome","protocol":1,"challenge":"c","serverTime":"2025-03-14T15:09:26+01:00"}`, `"serverTime" must be an RFC 3339 time`, ""},
		{"fractional time", `{"type":"welcome","protocol":1,"challenge":"c","serverTime":"2025-03-14T15:09:26.5Z"}`, `"serverTime" must be an RFC 3339 time`, ""},
		{"impossible date", `{"type":"welcome","protocol":1,"challenge":"c","serverTime":"2025-02-30T15:09:26Z"}`, `"serverTime" must be an RFC 3339 time`, ""},
		{"null required time", `{"type":"welcome","protocol":1,"challenge":"c","serverTime":null}`, `"serverTime" must be a string, not null`, ""},
		{"protocol 0", `{"type":"welcome","protocol":0,"challenge":"c","serverTime":"2025-03-14T15:09:26Z"}`, `"protocol" must be an integer from 1`, ""},
		{"bad domain", `{"type":"error","error":{"code":"x","domain":"sql","message":"","retryable":false}}`, `"error.domain" must be`, ""},
		{"empty code", `{"type":"error","error":{"code":"","domain":"api","message":"","retryable":false}}`, `"error.code" must not be empty`, ""},
		{"lone surrogate", `{"type":"updateInstanceTtl","id":"r","jwt":"\ud800"}`, "lone surrogate", ""},
		{"bad escape", `{"type":"updateInstanceTtl","id":"r","jwt":"\x"}`, "invalid escape", ""},
		{"raw control char", "{\"type\":\"updateInstanceTtl\",\"id\":\"r\",\"jwt\":\"a\tb\"}", "control character", ""},
		{"leading zero", `{"type":"welcome","protocol":01}`, "expected ',' or '}'", ""},
		{"bare minus", `{"type":"welcome","protocol":-}`, "invalid number", ""},
		{"bad literal", `{"type":"welcome","protocol":nul}`, "invalid literal", ""},
		{"headers not an object", `{"type":"callUser","id":"r","calleeUserId":"b","headers":["a"]}`, `"headers" must be an object, not an array`, "r"},
		{"null headers", `{"type":"callUser","id":"r","calleeUserId":"b","headers":null}`, `"headers" must be an object, not null`, "r"},
		{"header not a string", `{"type":"callUser","id":"r","calleeUserId":"b","headers":{"a":1}}`, `"headers" must hold only strings, not a number`, "r"},
		{"duplicate header", `{"type":"callUser","id":"r","calleeUserId":"b","headers":{"a":"1","a":"2"}}`, `"a" twice`, "r"},
		{"17 headers", `{"type":"callUser","id":"r","calleeUserId":"b","headers":{"a":"","b":"","c":"","d":"","e":"","f":"","g":"","h":"","i":"","j":"","k":"","l":"","m":"","n":"","o":"","p":"","q":""}}`, "more than 16 members", "r"},
		{"empty call id", `{"type":"callEnded","callId":"","reason":"declined"}`, `"callId" must not be empty`, ""},
		{"too many members", `{"a":1,"b":1,"c":1,"d":1,"e":1,"f":1,"g":1,"h":1,"i":1,"j":1,"k":1,"l":1,"m":1,"n":1,"o":1,"p":1,"q":1}`, "more than 16 members", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Decode([]byte(tt.in))
			var pe *ProtocolError
			if !errors.As(err, &pe) {
				t.Fatalf("Decode = %#v, %v; want a *ProtocolError", m, err)
			}
			if m != nil {
				t.Errorf("Decode returned a message with the error: %#v", m)
			}
			if !strings.Contains(pe.Reason, tt.reason) {
				t.Errorf("reason %q does not contain %q", pe.Reason, tt.reason)
			}
			if pe.ID != tt.id {
				t.Errorf("ID = %q, want %q", pe.ID, tt.id)
			}
			if pe.Fatal {
				t.Error("Decode reported a fatal error")
			}
			if len(pe.Reason) > 160 || strings.ContainsAny(pe.Reason, "\n\r") {
				t.Errorf("reason is not one short line: %q", pe.Reason)
			}
			if !strings.HasPrefix(pe.Error(), "protocol_error: ") {
				t.Errorf("Error() = %q", pe.Error())
			}
			r := pe.Reply()
			if r.ID != tt.id || r.Error.Code != CodeProtocolError || r.Error.Domain != DomainHTTP {
				t.Errorf("Reply() = %+v", r)
			}
			if _, err := Encode(r); err != nil {
				t.Errorf("the reply does not encode: %v", err)
			}
		})
	}
}

// manyHeaders returns n distinct headers.
func manyHeaders(n int) map[string]string {
	h := map[string]string{}
	for i := range n {
		h[string(rune('a'+i))] = "v"
	}
	return h
}

// TestHeadersEncodeSorted: a header map encodes in key order, whatever the
// map's iteration order, and an empty map is omitted like a nil one.
func TestHeadersEncodeSorted(t *testing.T) {
	for range 20 {
		got, err := Encode(&CallUser{ID: "r", CalleeUserID: "bob", Headers: manyHeaders(16)})
		if err != nil {
			t.Fatal(err)
		}
		want := `{"type":"callUser","id":"r","calleeUserId":"bob","headers":{"a":"v","b":"v","c":"v","d":"v","e":"v","f":"v","g":"v","h":"v","i":"v","j":"v","k":"v","l":"v","m":"v","n":"v","o":"v","p":"v"}}`
		if string(got) != want {
			t.Fatalf("got  %s\nwant %s", got, want)
		}
	}
	got, err := Encode(&IncomingCall{CallID: "c", CallerUserID: "a", Headers: map[string]string{}})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"type":"incomingCall","callId":"c","callerUserId":"a"}`; string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	m, err := Decode([]byte(`{"type":"incomingCall","callId":"c","callerUserId":"a","headers":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	if h := m.(*IncomingCall).Headers; h != nil {
		t.Fatalf("empty headers decode to %#v, want nil", h)
	}
}

func TestDecodeLenient(t *testing.T) {
	// Valid JSON that strict decoding still accepts: whitespace, any member
	// order, escapes, null or absent expireAt, absent optional members.
	tests := []struct {
		in   string
		want Message
	}{
		{" {\n\t\"id\" : \"r\" , \"type\" : \"unregisterPushToken\" }\r\n", &UnregisterPushToken{ID: "r"}},
		{`{"type":"updateInstanceTtl","id":"r","jwt":"a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"}`,
			&UpdateInstanceTTL{ID: "r", JWT: "a\"\\/\b\f\n\r\té😀"}},
		{`{"type":"instanceTtlUpdated","id":"r","instanceId":"i","expireAt":null}`, &InstanceTTLUpdated{ID: "r", InstanceID: "i"}},
		{`{"type":"error","id":"","error":{"code":"x","domain":"network","message":"m","retryable":true,"retryAfterMs":0}}`,
			&ErrorMessage{Error: Error{Code: "x", Domain: DomainNetwork, Message: "m", Retryable: true}}},
		{`{"type":"welcome","protocol":2,"challenge":"","serverTime":"0000-01-01T00:00:00Z"}`,
			&Welcome{Protocol: 2, ServerTime: time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)}},
	}
	for _, tt := range tests {
		got, err := Decode([]byte(tt.in))
		if err != nil {
			t.Errorf("Decode(%s): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Decode(%s) = %#v, want %#v", tt.in, got, tt.want)
		}
	}
}

func TestErrorType(t *testing.T) {
	e := NewError(CodeInstanceCreationRateExceeded, "Instance creation rate exceeded")
	if e.Error() != "instance_creation_rate_exceeded: Instance creation rate exceeded" {
		t.Errorf("Error() = %q", e.Error())
	}
	if !e.Retryable || e.Domain != DomainAPI {
		t.Errorf("NewError = %+v", e)
	}
	var err error = e
	if !errors.Is(err, &Error{Code: CodeInstanceCreationRateExceeded}) || errors.Is(err, &Error{Code: CodeUnavailable}) {
		t.Error("errors.Is does not match on the code")
	}
	if (&Error{Code: "x"}).Error() != "x" {
		t.Error("an Error without message should print its code")
	}
	for _, code := range Codes() {
		if i, ok := codes.Lookup(code); !ok || !i.Wire {
			t.Errorf("code %q is no wire code of package codes", code)
		}
	}
	if u := NewError("no_such_code", "m"); u.Domain != DomainAPI || u.Retryable {
		t.Errorf("unknown code: %+v", u)
	}
}

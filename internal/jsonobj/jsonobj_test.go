package jsonobj

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestParseAccepts(t *testing.T) {
	tests := []struct {
		in   string
		want []Member // Key, Kind, Value
	}{
		{`{}`, nil},
		{" \t\r\n{ \n} \t", nil},
		{`{"a":"b"}`, []Member{{[]byte("a"), String, []byte("b")}}},
		{` { "id" : "r" , "type" : "x" } `, []Member{{[]byte("id"), String, []byte("r")}, {[]byte("type"), String, []byte("x")}}},
		{`{"s":"a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"}`, []Member{{[]byte("s"), String, []byte("a\"\\/\b\f\n\r\té😀")}}},
		{`{"s\u0075b":""}`, []Member{{[]byte("sub"), String, []byte("")}}},
		{`{"n":-0.5e+3,"z":0,"i":1514862245,"f":1.25E-2}`, []Member{
			{[]byte("n"), Number, []byte("-0.5e+3")}, {[]byte("z"), Number, []byte("0")},
			{[]byte("i"), Number, []byte("1514862245")}, {[]byte("f"), Number, []byte("1.25E-2")}}},
		{`{"t":true,"f":false,"n":null}`, []Member{
			{[]byte("t"), Bool, []byte("true")}, {[]byte("f"), Bool, []byte("false")}, {[]byte("n"), Null, []byte("null")}}},
		{`{"o":{ "a" : [1, {"b":null}] },"a":[ ]}`, []Member{
			{[]byte("o"), Object, []byte(`{ "a" : [1, {"b":null}] }`)}, {[]byte("a"), Array, []byte(`[ ]`)}}},
		// Nested objects may repeat names of the outer object, and (being
		// read for their syntax only) their own.
		{`{"a":{"a":1,"a":2}}`, []Member{{[]byte("a"), Object, []byte(`{"a":1,"a":2}`)}}},
		{`{"x":` + nested(31) + `}`, []Member{{[]byte("x"), Array, []byte(nested(31))}}},
	}
	for _, tt := range tests {
		got, reasonErr := Parse([]byte(tt.in), nil, Options{})
		reason := errText(reasonErr)
		if reason != "" {
			t.Errorf("Parse(%s): %s", tt.in, reason)
			continue
		}
		if len(got) != len(tt.want) {
			t.Errorf("Parse(%s) = %d members, want %d", tt.in, len(got), len(tt.want))
			continue
		}
		for i := range got {
			if string(got[i].Key) != string(tt.want[i].Key) || got[i].Kind != tt.want[i].Kind || string(got[i].Value) != string(tt.want[i].Value) {
				t.Errorf("Parse(%s)[%d] = {%q %v %q}, want {%q %v %q}", tt.in, i,
					got[i].Key, got[i].Kind, got[i].Value, tt.want[i].Key, tt.want[i].Kind, tt.want[i].Value)
			}
		}
	}
}

// nested is n arrays, one inside the other.
func nested(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }

// TestParseReasons holds every reason of the reader; the callers' tests
// (transport.TestDecodeMalformed, credentials' rejection tables) assert the
// substrings they rely on through Decode and Verify.
func TestParseReasons(t *testing.T) {
	tests := []struct {
		name, in, reason string // reason: the whole reason
	}{
		{"empty", ``, "is empty"},
		{"whitespace", " \n\t", "is empty"},
		{"array", `[{"a":1}]`, "is not a JSON object"},
		{"string", `"s"`, "is not a JSON object"},
		{"null", `null`, "is not a JSON object"},
		{"NUL", "\x00{}", "is not a JSON object"},
		{"unclosed", `{"a":"r"`, "ends early: expected ',' or '}'"},
		{"only brace", `{`, "ends early: expected a quoted member name"},
		{"double comma", `{"a":1,,"b":1}`, "expected a quoted member name at byte 7"},
		{"trailing comma", `{"a":1,}`, "expected a quoted member name at byte 7"},
		{"single quotes", `{'a':1}`, "expected a quoted member name at byte 1"},
		{"missing colon", `{"a" 1}`, "expected ':' after a member name at byte 5"},
		{"nested missing colon", `{"a":{"b" 1}}`, "expected ':' after a member name at byte 10"},
		{"missing value", `{"a":}`, "expected a value at byte 5"},
		{"trailing garbage", `{"a":1}x`, "has data after the object at byte 7"},
		{"two objects", `{"a":1} {}`, "has data after the object at byte 8"},
		{"duplicate", `{"id":"r","id":"s"}`, `has the member "id" twice`},
		{"duplicate via escape", `{"id":"r","\u0069d":"s"}`, `has the member "id" twice`},
		{"duplicate non-ASCII", `{"é":1,"\u00e9":2}`, `has the member "\u00e9" twice`},
		{"duplicate long", `{"` + strings.Repeat("k", 30) + `":1,"` + strings.Repeat("k", 30) + `":2}`, `has the member "` + strings.Repeat("k", 24) + `"... twice`},
		{"too many members", members(65), "has more than 64 members"},
		{"too deep", `{"x":` + nested(32) + `}`, "nesting deeper than 32 levels at byte 36"},
		{"very deep", `{"x":` + nested(100000) + `}`, "nesting deeper than 32 levels at byte 36"},
		{"nested bad close", `{"x":[1}}`, "expected ',' or ']' at byte 7"},
		{"nested object bad close", `{"x":{"a":1]}`, "expected ',' or '}' at byte 11"},
		{"nested bad name", `{"x":{1:2}}`, "expected a quoted member name at byte 6"},
		{"leading zero", `{"a":01}`, "expected ',' or '}' at byte 6"},
		{"bare minus", `{"a":-}`, "invalid number at byte 6"},
		{"fraction without digits", `{"a":1.}`, "invalid number at byte 7"},
		{"exponent without digits", `{"a":1e+}`, "invalid number at byte 8"},
		{"plus sign", `{"a":+1}`, "expected a value at byte 5"},
		{"bad literal", `{"a":nul}`, "invalid literal at byte 5"},
		{"capital literal", `{"a":True}`, "expected a value at byte 5"},
		{"truncated literal", `{"a":tr`, "invalid literal at byte 5"},
		{"unterminated string", `{"a":"bc`, "ends early: unterminated string"},
		{"unterminated escape", `{"a":"b\`, "ends early: unterminated string"},
		{"unterminated after escape", `{"a":"b\n`, "ends early: unterminated string"},
		{"control character", "{\"a\":\"b\tc\"}", "control character in a string at byte 7"},
		{"control character after escape", "{\"a\":\"\\nb\x01\"}", "control character in a string at byte 9"},
		{"NUL in string", "{\"a\":\"\x00\"}", "control character in a string at byte 6"},
		{"bad escape", `{"a":"b\x"}`, "invalid escape in a string at byte 7"},
		{"short u escape", `{"a":"\u12"}`, "invalid \\u escape at byte 6"},
		{"bad hex", `{"a":"\u12g4"}`, "invalid \\u escape at byte 6"},
		{"lone high surrogate", `{"a":"\ud800"}`, "lone surrogate in a \\u escape at byte 6"},
		{"lone low surrogate", `{"a":"x\udc00"}`, "lone surrogate in a \\u escape at byte 7"},
		{"high surrogate then letter", `{"a":"\ud800x"}`, "lone surrogate in a \\u escape at byte 6"},
		{"two high surrogates", `{"a":"\ud800\ud800"}`, "lone surrogate in a \\u escape at byte 6"},
		{"surrogate in a key", `{"\udfff":1}`, "lone surrogate in a \\u escape at byte 2"},
		{"invalid UTF-8", "{\"a\":\"r\xff\"}", "invalid UTF-8 in a string at byte 6"},
		{"invalid UTF-8 after escape", "{\"a\":\"\\n\xc3\"}", "invalid UTF-8 in a string at byte 6"},
		{"invalid UTF-8 in a key", "{\"\xed\xa0\x80\":1}", "invalid UTF-8 in a string at byte 2"},
		{"invalid UTF-8 nested", "{\"a\":[\"\xff\"]}", "invalid UTF-8 in a string at byte 7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reasonErr := Parse([]byte(tt.in), make([]Member, 0, 4), Options{})
			reason := errText(reasonErr)
			if reason != tt.reason {
				t.Errorf("reason %q, want %q", reason, tt.reason)
			}
			if got != nil {
				t.Errorf("members returned with the reason: %d", len(got))
			}
		})
	}
}

// members is an object of n members.
func members(n int) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"m`)
		b.WriteString(strings.Repeat("x", i))
		b.WriteString(`":1`)
	}
	b.WriteByte('}')
	return b.String()
}

func TestOptions(t *testing.T) {
	// MaxMembers bounds the top-level object only.
	if r := parseReason([]byte(members(16)), nil, Options{MaxMembers: 16}); r != "" {
		t.Errorf("16 of 16 members: %s", r)
	}
	if r := parseReason([]byte(members(17)), nil, Options{MaxMembers: 16}); r != "has more than 16 members" {
		t.Errorf("17 of 16 members: %q", r)
	}
	if r := parseReason([]byte(members(64)), nil, Options{}); r != "" {
		t.Errorf("64 members by default: %s", r)
	}
	if r := parseReason([]byte(`{"o":`+members(100)+`}`), nil, Options{MaxMembers: 1}); r != "" {
		t.Errorf("a nested object is not bounded: %s", r)
	}

	// MaxDepth counts the top-level object as level 1.
	if r := parseReason([]byte(`{"x":`+nested(3)+`}`), nil, Options{MaxDepth: 4}); r != "" {
		t.Errorf("depth 4 of 4: %s", r)
	}
	if r := parseReason([]byte(`{"x":`+nested(4)+`}`), nil, Options{MaxDepth: 4}); r != "nesting deeper than 4 levels at byte 8" {
		t.Errorf("depth 5 of 4: %q", r)
	}
	if r := parseReason([]byte(`{"x":{}}`), nil, Options{MaxDepth: 1}); r != "nesting deeper than 1 levels at byte 5" {
		t.Errorf("depth 2 of 1: %q", r)
	}

	// AllowInvalidUTF8 lets strings hold any bytes, nested ones too, and is
	// as strict about everything else.
	in := "{\"k\xff\":\"v\xfe\",\"n\":[\"\xc3\"],\"e\":\"\\n\xed\xa0\x80\"}"
	if r := parseReason([]byte(in), nil, Options{}); r == "" {
		t.Fatal("strict reading accepts invalid UTF-8")
	}
	got, rErr := Parse([]byte(in), nil, Options{AllowInvalidUTF8: true})
	r := errText(rErr)
	if r != "" || len(got) != 3 || string(got[0].Key) != "k\xff" || string(got[0].Value) != "v\xfe" ||
		got[1].Kind != Array || string(got[2].Value) != "\n\xed\xa0\x80" {
		t.Errorf("AllowInvalidUTF8: %q, %+v", r, got)
	}
	for _, bad := range []string{"{\"a\":\"\xff\",\"a\":1}", "{\"a\":\"\\ud800\xff\"}", "{\"a\":\"\xff\x01\"}", "{\"a\":\"\xff\"} x"} {
		if r := parseReason([]byte(bad), nil, Options{AllowInvalidUTF8: true}); r == "" {
			t.Errorf("AllowInvalidUTF8 accepts %q", bad)
		}
	}
}

func TestParseAppendsToDst(t *testing.T) {
	var buf [4]Member
	dst := append(buf[:0], Member{Key: []byte("pre")})
	got, rErr := Parse([]byte(`{"a":1}`), dst, Options{})
	r := errText(rErr)
	if r != "" || len(got) != 2 || &got[0] != &buf[0] || string(got[1].Key) != "a" {
		t.Fatalf("Parse into dst: %q, %+v", r, got)
	}
	// The members already in dst count as names already seen.
	if r := parseReason([]byte(`{"pre":1}`), dst, Options{}); r != `has the member "pre" twice` {
		t.Errorf("duplicate of a member of dst: %q", r)
	}
}

func TestParseAllocations(t *testing.T) {
	data := []byte(`{"type":"createInstance","id":"r1","capabilities":["calling","push"],"n":12,"t":true,"o":{"a":[null]}}`)
	var buf [16]Member
	n := testing.AllocsPerRun(100, func() {
		if r := parseReason(data, buf[:0], Options{MaxMembers: 16}); r != "" {
			t.Fatal(r)
		}
	})
	if n != 0 {
		t.Errorf("Parse without escapes allocates %v times", n)
	}
}

func TestParseStrings(t *testing.T) {
	for in, want := range map[string][]string{
		`[]`:                         {},
		" [ \n] ":                    {},
		`["calling"]`:                {"calling"},
		`[ "a" , "b\n\u00e9" , "" ]`: {"a", "b\né", ""},
	} {
		got, rErr := ParseStrings([]byte(in), Options{})
		r := errText(rErr)
		if r != "" || got == nil || !equalStrings(got, want) {
			t.Errorf("ParseStrings(%s) = %q, %q; want %q", in, got, r, want)
		}
	}
	for in, reason := range map[string]string{
		``:                 "is not an array",
		`{}`:               "is not an array",
		`"a"`:              "is not an array",
		`[1]`:              "[0] must be a string",
		`["a",null]`:       "[1] must be a string",
		`["a",]`:           "[1] must be a string",
		`["a" "b"]`:        "expected ',' or ']' at byte 5",
		`["a"`:             "ends early: expected ',' or ']'",
		`["a"] x`:          "has data after the array at byte 6",
		`["\ud800"]`:       "lone surrogate in a \\u escape at byte 2",
		"[\"\xff\"]":       "invalid UTF-8 in a string at byte 2",
		"[\"a\x01\"]":      "control character in a string at byte 3",
		`["a\q"]`:          "invalid escape in a string at byte 3",
		`["unterminated]`:  "ends early: unterminated string",
		`["a",["nested"]]`: "[1] must be a string",
	} {
		if got, err := ParseStrings([]byte(in), Options{}); errText(err) != reason || got != nil {
			t.Errorf("ParseStrings(%q) = %q, %v; want reason %q", in, got, err, reason)
		}
	}
	if got, err := ParseStrings([]byte("[\"\xff\"]"), Options{AllowInvalidUTF8: true}); err != nil || len(got) != 1 || got[0] != "\xff" {
		t.Errorf("AllowInvalidUTF8: %q, %v", got, err)
	}
}

func TestAppendString(t *testing.T) {
	for in, want := range map[string]string{
		"":                  `""`,
		"plain é 😀 </>&":    `"plain é 😀 </>&"`,
		"q\"b\\s/":          `"q\"b\\s/"`,
		"\n\r\t\b\f":        `"\n\r\t\b\f"`,
		"\x00\x01\x1f\x7f":  `"\u0000\u0001\u001f` + "\x7f" + `"`,
		"bad \xff utf-8":    "\"bad \xff utf-8\"",
		"\u2028\u2029 kept": "\"\u2028\u2029 kept\"",
	} {
		if got := string(AppendString([]byte("x"), in)); got != "x"+want {
			t.Errorf("AppendString(%q) = %s, want x%s", in, got, want)
		}
	}
	// The output reads back, through this reader and encoding/json, as the
	// input (for valid UTF-8).
	for _, s := range []string{"", "a\"\\/\b\f\n\r\t\x00\x1f\x7f é 😀", strings.Repeat("\x01z", 50)} {
		obj := append(AppendString([]byte(`{`), s), `:1}`...)
		got, rErr := Parse(obj, nil, Options{})
		r := errText(rErr)
		if r != "" || string(got[0].Key) != s {
			t.Errorf("reading back %q: %q, %q", s, got, r)
		}
		var back string
		if err := json.Unmarshal(AppendString(nil, s), &back); err != nil || back != s {
			t.Errorf("encoding/json reads %q as %q (%v)", s, back, err)
		}
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{0: "nothing", String: "a string", Number: "a number", Bool: "a boolean",
		Null: "null", Object: "an object", Array: "an array", 99: "nothing"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d) = %q, want %q", k, got, want)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	data := []byte(`{"type":"createInstance","id":"req-0123456789","applicationKey":"a50ce42e-f66d-4f77-b6fa-2ec301c231d5",` +
		`"userId":"alice","deviceId":"3f1c9a52-8d1e-4b6a-9c7e-2b1f0e6d5a4c","capabilities":["calling","push"],` +
		`"sdkVersion":"sinchsim/0.1 (go)","jwt":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl"}`)
	var buf [16]Member
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if r := parseReason(data, buf[:0], Options{}); r != "" {
			b.Fatal(r)
		}
	}
}

// errText is an error's text, "" for none: the tests compare reasons.
func errText(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if !errors.As(err, &e) {
		return "not a *jsonobj.Error: " + err.Error()
	}
	return e.Reason
}

// parseReason is the reason Parse gives, "" when it accepts data.
func parseReason(data []byte, dst []Member, o Options) string {
	_, err := Parse(data, dst, o)
	return errText(err)
}

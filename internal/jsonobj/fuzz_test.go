package jsonobj

import (
	"bytes"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzSeeds are the seed inputs of FuzzParse: valid objects, every kind of
// defect, a registration token's claims and a protocol v1 message.
var fuzzSeeds = []string{
	`{}`, ` { } `, `{"a":1}`, `{"a":1,"a":2}`, `{"a":"\u00e9\ud83d\ude00","b":[1,{"c":null}],"d":-0.5e+3,"e":true,"f":false}`,
	`{"a":1,}`, `{"a":01}`, `{"a":"\ud800"}`, "{\"a\":\"\xff\"}", `{"a":1} x`, `[]`, `"s"`, `{"a":[[[[[[]]]]]]}`,
	`{"s\u0075b":1,"sub":2}`, `{"a":"\/\b\f\n\r\t\"\\"}`, `{"a":1.}`, `{"a":-}`, `{"a":tru}`,
	`{"iss":"//rtc.sinch.com/applications/a50ce42e-f66d-4f77-b6fa-2ec301c231d5","sub":"//rtc.sinch.com/applications/a50ce42e-f66d-4f77-b6fa-2ec301c231d5/users/alice","iat":1514862245,"exp":1514862845,"nonce":"6b438bda-2d5c-4e8c-92b0-39f20a94b34e"}`,
	`{"type":"createInstance","id":"r1","applicationKey":"a","userId":"alice","deviceId":"d","capabilities":["calling","push"],"sdkVersion":"1","jwt":"x.y.z"}`,
}

// FuzzParse compares the strict reader with encoding/json: what the strict
// reader accepts is valid JSON with the same members; valid, UTF-8,
// duplicate-free JSON objects within the limits are accepted. The reading
// that allows invalid UTF-8 accepts at least as much, the same members.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		members, reasonErr := Parse(data, nil, Options{})
		reason := errText(reasonErr)
		loose, looseReasonErr := Parse(data, nil, Options{AllowInvalidUTF8: true})
		looseReason := errText(looseReasonErr)
		if reason == "" {
			if !json.Valid(data) {
				t.Fatalf("strict accepts invalid JSON %q", data)
			}
			if looseReason != "" || len(loose) != len(members) {
				t.Fatalf("the any-bytes reader refuses what the strict one accepts: %s", looseReason)
			}
			var m map[string]json.RawMessage
			if err := json.Unmarshal(data, &m); err != nil {
				t.Fatalf("strict accepts %q, encoding/json: %v", data, err)
			}
			if len(m) != len(members) {
				t.Fatalf("%d members, encoding/json sees %d", len(members), len(m))
			}
			for i, mb := range members {
				if !bytes.Equal(mb.Key, loose[i].Key) || mb.Kind != loose[i].Kind || !bytes.Equal(mb.Value, loose[i].Value) {
					t.Fatalf("member %d: strict %+v, any-bytes %+v", i, mb, loose[i])
				}
				raw, ok := m[string(mb.Key)]
				if !ok {
					t.Fatalf("member %q unknown to encoding/json", mb.Key)
				}
				switch mb.Kind {
				case String:
					var s string
					if err := json.Unmarshal(raw, &s); err != nil || s != string(mb.Value) {
						t.Fatalf("member %q = %q, encoding/json %q (%v)", mb.Key, mb.Value, s, err)
					}
				case Number, Bool, Null, Object, Array:
					if !bytes.Equal(bytes.TrimSpace(raw), mb.Value) {
						t.Fatalf("member %q raw %q, encoding/json %q", mb.Key, mb.Value, raw)
					}
				default:
					t.Fatalf("member %q has no kind", mb.Key)
				}
			}
			return
		}
		if strings.ContainsAny(reason, "\n\r") || len(reason) > 160 {
			t.Fatalf("bad reason %q", reason)
		}
		if members != nil {
			t.Fatal("members returned with a reason")
		}
		if looseReason == "" && utf8.Valid(data) {
			t.Fatalf("valid UTF-8 %q: strict says %s, any-bytes accepts", data, reason)
		}
		// Refused: it must be something the strict reader is meant to refuse.
		if !json.Valid(data) || !utf8.Valid(data) || loneSurrogate.Match(data) {
			return
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(data, &m) != nil {
			return // valid JSON, but not an object
		}
		if hasDuplicateTopLevelKey(data) || len(m) > DefaultMaxMembers || nestingDepth(data) > DefaultMaxDepth {
			return
		}
		t.Fatalf("strict refuses valid JSON %q: %s", data, reason)
	})
}

// FuzzParseStrings compares ParseStrings with encoding/json into a []string.
func FuzzParseStrings(f *testing.F) {
	for _, s := range []string{`[]`, ` [ ] `, `["a"]`, `["a","b\n\u00e9"]`, `["a",1]`, `["a",]`, `["\ud800"]`, "[\"\xff\"]", `[]x`, `{}`, `[null]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, reasonErr := ParseStrings(data, Options{})
		reason := errText(reasonErr)
		// Into []any, not []string, where null would read as "".
		var want []string
		var elems []any
		err := json.Unmarshal(data, &elems)
		if err == nil && elems != nil {
			want = []string{}
			for _, e := range elems {
				s, ok := e.(string)
				if !ok {
					want, err = nil, errors.New("not a string")
					break
				}
				want = append(want, s)
			}
		}
		if reason == "" {
			if err != nil || want == nil || !equalStrings(got, want) {
				t.Fatalf("ParseStrings(%q) = %q; encoding/json %q, %v", data, got, want, err)
			}
			return
		}
		if got != nil || strings.ContainsAny(reason, "\n\r") {
			t.Fatalf("ParseStrings(%q) = %q, %q", data, got, reason)
		}
		if err == nil && want != nil && utf8.Valid(data) && !loneSurrogate.Match(data) {
			t.Fatalf("ParseStrings refuses %q (%s); encoding/json reads %q", data, reason, want)
		}
	})
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// loneSurrogate matches any \u escape of a surrogate; encoding/json accepts
// unpaired ones, the strict reader does not (pairs are fine, but telling
// them apart is not worth a regexp here).
var loneSurrogate = regexp.MustCompile(`\\u[dD][89abcdefABCDEF]`)

func hasDuplicateTopLevelKey(data []byte) bool {
	d := json.NewDecoder(bytes.NewReader(data))
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		return false
	}
	seen := map[string]bool{}
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			return false
		}
		k, _ := tok.(string)
		if seen[k] {
			return true
		}
		seen[k] = true
		var skip json.RawMessage
		if d.Decode(&skip) != nil {
			return false
		}
	}
	return false
}

// nestingDepth is the deepest bracket nesting outside strings, the
// top-level object being 1.
func nestingDepth(data []byte) int {
	depth, max, inStr, esc := 0, 0, false, false
	for _, c := range data {
		switch {
		case inStr && esc:
			esc = false
		case inStr && c == '\\':
			esc = true
		case c == '"':
			inStr = !inStr
		case inStr:
		case c == '{' || c == '[':
			depth++
			if depth > max {
				max = depth
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return max
}

package fakebackend

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// adminRequestTypes are the bodies the admin API decodes, each as a fresh
// pointer.
var adminRequestTypes = map[string]func() any{
	"POST /admin/applications": func() any { return new(appView) },
	"POST /admin/clock":        func() any { return new(clockRequest) },
	"POST /admin/faults":       func() any { return new(faultRequest) },
}

// maxAdminErrorLen bounds an error message: it goes back to the caller
// and into logs, and must not echo a large body.
const maxAdminErrorLen = 256

// FuzzAdminJSON feeds arbitrary bodies to DecodeAdminJSON for every admin
// request type. It never panics; an accepted body is one JSON object whose
// decoding survives a round trip; a refused one gets a clear error: one
// printable line starting with "body ", short, valid UTF-8.
//
//	go test -run '^$' -fuzz FuzzAdminJSON -fuzztime 60s ./fakebackend/
func FuzzAdminJSON(f *testing.F) {
	for _, seed := range []string{
		`{"key":"app-2","secret":"ax8hTTQJF0OPXL32r1LHMA=="}`,
		`{"advance":"24h"}`,
		`{"set":"2030-01-02T03:04:05Z"}`,
		`{"kind":"createInstance","count":2,"code":"unavailable","delay":"1ms","drop":true,"message":"m"}`,
		`{}`, ``, `null`, `[]`, `"x"`, `1`, `{"key":1}`, `{"bogus":1}`, `{"advance":"1h"} x`, `{"advance":"1h"}{}`,
		`{"key":"a","key":"b"}`, `{"count":1e400}`, `{"count":-1}`, `{"count":9223372036854775808}`,
		"{\"k\u2028ey\":1}", "{\"\xff\":1}", `{"key":"\ud800"}`, "{\"a\\nb\":1}", `{"key":"` + strings.Repeat("k", 300) + `"}`, `{"` + strings.Repeat("k", 300) + `":1}`, "{\"\u0000\":1}",
		`{` + strings.Repeat(`"a":{`, 100) + strings.Repeat(`}`, 101),
		`{"key":"x"`, "\ufeff{}", ` {"key":"x"} `,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for name, mk := range adminRequestTypes {
			v := mk()
			err := DecodeAdminJSON(http.MaxBytesReader(httptest.NewRecorder(), io.NopCloser(bytes.NewReader(data)), maxAdminBody), v)
			if err != nil {
				msg := err.Error()
				if !strings.HasPrefix(msg, "body ") || len(msg) > maxAdminErrorLen || !utf8.ValidString(msg) ||
					strings.IndexFunc(msg, func(r rune) bool { return !unicode.IsPrint(r) && r != ' ' }) >= 0 {
					t.Fatalf("%s: unclear error for %q: %q", name, data, msg)
				}
				continue
			}
			trimmed := bytes.TrimLeft(data, " \t\r\n")
			if !json.Valid(data) || len(trimmed) == 0 || trimmed[0] != '{' {
				t.Fatalf("%s: accepted %q, which is not one JSON object", name, data)
			}
			again, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			w := mk()
			if err := DecodeAdminJSON(bytes.NewReader(again), w); err != nil || !reflect.DeepEqual(v, w) {
				t.Fatalf("%s: %q decoded to %+v, which does not round-trip (%s: %+v, %v)", name, data, v, again, w, err)
			}
		}
	})
}

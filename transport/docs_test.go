package transport

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestProtocolDoc keeps docs/PROTOCOL.md in step with the code: the error
// table lists exactly Codes() with the domain and retryability NewError
// gives, and every JSON example decodes and re-encodes byte for byte.
func TestProtocolDoc(t *testing.T) {
	raw, err := os.ReadFile("../docs/PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)

	begin := strings.Index(doc, "<!-- codes:begin")
	end := strings.Index(doc, "<!-- codes:end -->")
	if begin < 0 || end < begin {
		t.Fatal("no codes:begin/codes:end markers")
	}
	row := regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\| (\\w+) \\| (yes|no) \\| (.+) \\|$")
	var listed []string
	for _, m := range row.FindAllStringSubmatch(doc[begin:end], -1) {
		code, domain, retryable := m[1], m[2], m[3] == "yes"
		listed = append(listed, code)
		e := NewError(code, "")
		if _, known := codeTable[code]; !known {
			t.Errorf("doc lists unknown code %q", code)
			continue
		}
		if e.Domain != domain || e.Retryable != retryable {
			t.Errorf("%s: doc says %s/%v, code says %s/%v", code, domain, retryable, e.Domain, e.Retryable)
		}
	}
	if got, want := strings.Join(listed, ","), strings.Join(Codes(), ","); got != want {
		t.Errorf("doc table codes:\n%s\nwant (in order):\n%s", got, want)
	}

	examples := regexp.MustCompile("(?s)```json\n(.*?)\n```").FindAllStringSubmatch(doc, -1)
	seen := map[string]bool{}
	for _, ex := range examples {
		m, err := Decode([]byte(ex[1]))
		if err != nil {
			t.Errorf("example does not decode: %v\n%s", err, ex[1])
			continue
		}
		seen[m.MessageType()] = true
		if enc, _ := Encode(m); string(enc) != ex[1] {
			t.Errorf("example is not in canonical form:\n got %s\nwant %s", ex[1], enc)
		}
	}
	for typ := range knownTypes() {
		if !seen[typ] {
			t.Errorf("no JSON example of %q", typ)
		}
	}
}

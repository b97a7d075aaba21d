package transport

import (
	"crypto/sha1"
	"encoding/base64"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/sinchsim/sinchsim/codes"
	"github.com/sinchsim/sinchsim/credentials"
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
	row := regexp.MustCompile("(?m)^\\| `([a-z0-9_]+)` \\| (\\w+) \\| (yes|no) \\| (.+) \\|$")
	var listed []string
	for _, m := range row.FindAllStringSubmatch(doc[begin:end], -1) {
		code, domain, retryable := m[1], m[2], m[3] == "yes"
		listed = append(listed, code)
		e := NewError(code, "")
		if _, known := codes.Lookup(code); !known {
			t.Errorf("doc lists unknown code %q", code)
			continue
		}
		if string(e.Domain) != domain || e.Retryable != retryable {
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

// TestProtocolDocLegacyVector recomputes the legacy signature test vector
// of docs/PROTOCOL.md from the formula stated there, with credentials'
// implementation, and with the usual mistake (the decoded secret), and
// checks that the legacyRegister example carries the vector's signature.
func TestProtocolDocLegacyVector(t *testing.T) {
	raw, err := os.ReadFile("../docs/PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Join(strings.Fields(string(raw)), " ")
	m := regexp.MustCompile("Test vector: user `([^`]+)`, application key `([^`]+)`, sequence `(\\d+)`, secret `([^`]+)` → SHA-1 input `([^`]+)` → signature `([^`]+)`\\. Hashing the decoded secret bytes instead gives `([^`]+)`").FindStringSubmatch(doc)
	if m == nil {
		t.Fatal("no legacy test vector in docs/PROTOCOL.md")
	}
	user, key, seqText, secretText, input, sig, wrong := m[1], m[2], m[3], m[4], m[5], m[6], m[7]
	seq, err := strconv.ParseUint(seqText, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	// The formula as the document states it: decimal sequence, the
	// secret's base64 text, padded standard base64 of SHA-1.
	if got := user + key + strconv.FormatUint(seq, 10) + secretText; got != input {
		t.Errorf("SHA-1 input is %q, the document says %q", got, input)
	}
	sum := sha1.Sum([]byte(input))
	if got := base64.StdEncoding.EncodeToString(sum[:]); got != sig {
		t.Errorf("signature of the documented input is %s, the document says %s", got, sig)
	}
	if got := credentials.LegacySignature(user, key, seq, credentials.MustParseSecret(secretText)); got != sig {
		t.Errorf("credentials.LegacySignature = %s, the document says %s", got, sig)
	}
	decoded, err := base64.StdEncoding.DecodeString(secretText)
	if err != nil {
		t.Fatal(err)
	}
	wrongSum := sha1.Sum(append([]byte(user+key+seqText), decoded...))
	if got := base64.StdEncoding.EncodeToString(wrongSum[:]); got != wrong || wrong == sig {
		t.Errorf("decoded-secret signature is %s, the document says %s", got, wrong)
	}

	example := regexp.MustCompile(`\{"type":"legacyRegister"[^}]*\}`).FindString(doc)
	msg, err := Decode([]byte(example))
	if err != nil {
		t.Fatalf("legacyRegister example: %v", err)
	}
	lr := msg.(*LegacyRegister)
	if lr.UserID != user || lr.ApplicationKey != key || lr.Sequence != seq || lr.Signature != sig {
		t.Errorf("the legacyRegister example is not the test vector: %+v", lr)
	}
}

// TestProtocolDocRevokedCodes: the codes the instanceRevoked table lists are
// protocol codes, and the instanceRevoked example uses one of them.
func TestProtocolDocRevokedCodes(t *testing.T) {
	raw, err := os.ReadFile("../docs/PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	begin := strings.Index(doc, "<!-- revoked:begin")
	end := strings.Index(doc, "<!-- revoked:end -->")
	if begin < 0 || end < begin {
		t.Fatal("no revoked:begin/revoked:end markers")
	}
	listed := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\|").FindAllStringSubmatch(doc[begin:end], -1) {
		if m[1] == "code" {
			continue
		}
		listed[m[1]] = true
		if i, ok := codes.Lookup(m[1]); !ok || !i.Wire {
			t.Errorf("instanceRevoked table lists unknown code %s", m[1])
		}
	}
	if len(listed) != 3 {
		t.Errorf("instanceRevoked table lists %d codes, want 3", len(listed))
	}
	ex := regexp.MustCompile(`\{"type":"instanceRevoked"[^\n]*\}`).FindString(doc)
	msg, err := Decode([]byte(ex))
	if err != nil {
		t.Fatalf("instanceRevoked example: %v", err)
	}
	if code := msg.(*InstanceRevoked).Code; !listed[code] {
		t.Errorf("instanceRevoked example uses code %s, which the table does not list", code)
	}
}

// TestProtocolDocEndReasons: the callEnded reasons table of docs/PROTOCOL.md
// lists exactly EndReasons(), in order, and the callEnded example uses one.
func TestProtocolDocEndReasons(t *testing.T) {
	raw, err := os.ReadFile("../docs/PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	begin := strings.Index(doc, "<!-- reasons:begin")
	end := strings.Index(doc, "<!-- reasons:end -->")
	if begin < 0 || end < begin {
		t.Fatal("no reasons:begin/reasons:end markers")
	}
	var listed []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\|").FindAllStringSubmatch(doc[begin:end], -1) {
		if m[1] != "reason" {
			listed = append(listed, m[1])
		}
	}
	if got, want := strings.Join(listed, ","), strings.Join(EndReasons(), ","); got != want {
		t.Errorf("callEnded reasons in docs/PROTOCOL.md: %s, want %s", got, want)
	}
	ex := regexp.MustCompile(`\{"type":"callEnded"[^\n]*\}`).FindString(doc)
	msg, err := Decode([]byte(ex))
	if err != nil {
		t.Fatalf("callEnded example: %v", err)
	}
	if r := msg.(*CallEnded).Reason; !strings.Contains(","+strings.Join(EndReasons(), ",")+",", ","+r+",") {
		t.Errorf("callEnded example uses reason %s, which is not one of EndReasons()", r)
	}
}

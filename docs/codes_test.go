package docs

import (
	"strings"
	"testing"

	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/transport"
)

// TestEveryCodeHasMeaningAndFix: every code the backend can answer with,
// and every diagnosis, has a meaning and a typical fix in the pages, so the
// console never shows a code it cannot explain.
func TestEveryCodeHasMeaningAndFix(t *testing.T) {
	var codes []string
	codes = append(codes, transport.Codes()...)
	codes = append(codes, credentials.Codes()...)
	codes = append(codes, credentials.DiagCodes()...)
	for _, code := range codes {
		c, ok := Lookup(code)
		switch {
		case !ok:
			t.Errorf("%s: not documented", code)
		case c.Meaning == "":
			t.Errorf("%s: no meaning", code)
		case c.Fix == "" && code != credentials.DiagValid:
			t.Errorf("%s: no typical fix", code)
		case c.Kind == "":
			t.Errorf("%s: no kind", code)
		}
	}
}

func TestCodeTable(t *testing.T) {
	for _, tc := range []struct {
		code      string
		kind      string
		domain    string
		retryable bool
		meaning   string // a part of it
		fix       string // a part of it
	}{
		{code: "signature_invalid", kind: "rejection", domain: "api", meaning: "HS256 signature", fix: "signingKey = HMAC-SHA256"},
		{code: "instance_expired", kind: "rejection", domain: "api", meaning: "TTL ran out", fix: "Register anew"},
		{code: "unavailable", kind: "rejection", domain: "network", retryable: true, meaning: "shutting down", fix: "backoff"},
		{code: "protocol_error", kind: "rejection", domain: "http", meaning: "not valid protocol v1", fix: "PROTOCOL.md"},
		{code: "secret_not_base64_decoded", kind: "diagnosis, FAIL", meaning: "base64 **text**", fix: "BASE64-DECODE"},
		// The check-only row of instance_ttl_required does not replace the backend's.
		{code: "instance_ttl_required", kind: "rejection", domain: "api", meaning: "limited TTL", fix: "every later token"},
	} {
		c, ok := Lookup(tc.code)
		if !ok || c.Kind != tc.kind || c.Domain != tc.domain || c.Retryable != tc.retryable ||
			!strings.Contains(c.Meaning, tc.meaning) || !strings.Contains(c.Fix, tc.fix) {
			t.Errorf("Lookup(%q) = %+v, %v", tc.code, c, ok)
		}
	}
	if _, ok := Lookup("ok"); ok {
		t.Error(`"ok" is not a code`)
	}
	all := Codes()
	if len(all) == 0 || all[0].Code != transport.Codes()[0] {
		t.Fatalf("Codes() does not start with PROTOCOL.md's table: %v", all)
	}
}

func TestSplitRow(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"| a | b |", []string{"a", "b"}},
		{"| `x` | a \\| b |", []string{"`x`", "a | b"}},
		{"|a|", []string{"a"}},
	} {
		if got := splitRow(tc.in); strings.Join(got, "\x00") != strings.Join(tc.want, "\x00") {
			t.Errorf("splitRow(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

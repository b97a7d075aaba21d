package credentials

import (
	"github.com/sinchsim/sinchsim/codes"
	"os"
	"strings"
	"testing"
)

// TestErrorsDoc keeps docs/ERRORS.md in step with the code: every code of
// Codes and DiagCodes has a row.
func TestErrorsDoc(t *testing.T) {
	b, err := os.ReadFile("../docs/ERRORS.md")
	if err != nil {
		t.Skip("docs/ERRORS.md not found:", err)
	}
	doc := string(b)
	for _, code := range append(Codes(), DiagCodes()...) {
		if !strings.Contains(doc, "| `"+code+"` |") {
			t.Errorf("docs/ERRORS.md has no row for %s", code)
		}
	}
}

// TestCodesHaveOneHome: every code of this package is declared in package
// codes, in the credentials or check group, and codes.Of reads it.
func TestCodesHaveOneHome(t *testing.T) {
	for _, code := range append(Codes(), DiagCodes()...) {
		i, ok := codes.Lookup(code)
		if !ok || (i.Group != codes.GroupCredentials && i.Group != codes.GroupCheck) {
			t.Errorf("%s: not a credentials code of package codes (%+v)", code, i)
		}
		if got := codes.Of(&Error{Code: code}); got != code {
			t.Errorf("codes.Of = %q, want %q", got, code)
		}
	}
}

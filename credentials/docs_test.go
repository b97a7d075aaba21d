package credentials

import (
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

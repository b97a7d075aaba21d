package codes

import (
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/ERRORS.md and the code table of docs/PROTOCOL.md from the table")

const (
	errorsPath   = "../docs/ERRORS.md"
	protocolPath = "../docs/PROTOCOL.md"
	beginMark    = "<!-- codes:begin (generated from package codes: go test ./codes -update) -->"
	endMark      = "<!-- codes:end -->"
)

const errorsIntro = `# Error codes

<!-- Generated from package codes (codes/table.go) by go test ./codes -update: edit the table, not this page. -->

Every rejection carries a stable machine code and a one-line human reason.
Codes never change meaning. In Go, every code is a constant of package
` + "`codes`" + ` (also under its old names, such as
` + "`credentials.CodeSignatureInvalid`" + `), ` + "`codes.Of(err)`" + ` returns the code of any
sinchsim error, and ` + "`errors.Is(err, credentials.ErrSignatureInvalid)`" + ` matches by
code; the reason is for people and may be reworded. No reason ever contains
the application secret or a key derived from it.

` + "`credentials.Verify`" + ` returns the first rule a token breaks (the order is in
its doc comment). ` + "`credentials.Explain`" + ` reports every problem it can find,
and adds the *diagnosis* codes, which name the usual cause of a rejection
rather than the rule: a FAIL diagnosis always comes with the rule code it
causes, a WARN or PASS one goes with a token that is accepted.

"Rule" is the rule's number in [RULES.md](RULES.md), which gives each rule
its source in Sinch's documentation and the tests that show it. "Domain"
and "retry" say how to react: ` + "`api`" + `, a rule refused the request (retry only
when it says yes); ` + "`network`" + `, transient (retry with backoff, no sooner than
` + "`retryAfterMs`" + `); ` + "`http`" + `, a malformed request (a bug in the sender);
` + "`generic`" + `, the client itself.
`

var groupText = map[Group]string{
	GroupCredentials: "## Credentials codes\n\nWhat `credentials.Verify`, `sinchsim token verify`, `sinchsim token explain` and the backend say of a token, and the diagnoses `Explain` adds:\n",
	GroupCheck:       "## Check codes\n\n`sinchsim check` (and `credentials.Check`) fetch several tokens from an auth server and report every code above, per token, plus what only shows across tokens:\n",
	GroupBackend:     "## Backend codes\n\nThe backend answers with every rejection above plus these ([PROTOCOL.md](PROTOCOL.md#error-codes) has where each can come). A call that ends is no error: its `callEnded` carries a reason, listed in [PROTOCOL.md](PROTOCOL.md#callended).\n",
	GroupClient:      "## Client codes\n\nWhat a `client.SinchClient` reports of itself, in `client.Error` (the backend's codes above reach it too):\n",
}

func cell(s string) string {
	if s == "" {
		return "–"
	}
	return strings.ReplaceAll(s, "|", `\|`)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// renderErrors is docs/ERRORS.md.
func renderErrors() string {
	var b strings.Builder
	b.WriteString(errorsIntro)
	for _, g := range []Group{GroupCredentials, GroupCheck, GroupBackend, GroupClient} {
		b.WriteString("\n" + groupText[g] + "\n")
		b.WriteString("| code | kind | rule | domain | retry | meaning | typical fix |\n|---|---|---|---|---|---|---|\n")
		for _, i := range InGroup(g) {
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s | %s |\n", i.Code, cell(i.Kind), cell(i.Rules), cell(string(i.Domain)), yesNo(i.Retryable), cell(i.Meaning), cell(i.Fix))
		}
		if g == GroupCheck {
			b.WriteString("\nAcross tokens, two codes above mean more:\n\n")
			for _, i := range table {
				if i.Check != "" {
					fmt.Fprintf(&b, "- `%s` — %s\n", i.Code, i.Check)
				}
			}
		}
	}
	return b.String()
}

// renderProtocolTable is the code table of docs/PROTOCOL.md.
func renderProtocolTable() string {
	var b strings.Builder
	b.WriteString(beginMark + "\n| code | domain | retryable | meaning |\n|---|---|---|---|\n")
	for _, i := range table {
		if !i.Wire {
			continue
		}
		m := i.WireMeaning
		if m == "" {
			m = i.Meaning
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", i.Code, i.Domain, yesNo(i.Retryable), cell(m))
	}
	b.WriteString(endMark)
	return b.String()
}

var protocolBlockRE = regexp.MustCompile(`(?s)<!-- codes:begin[^>]*-->.*?<!-- codes:end -->`)

// TestDocsAreGenerated: docs/ERRORS.md and PROTOCOL.md's code table are
// what the table says (golden; -update rewrites them).
func TestDocsAreGenerated(t *testing.T) {
	proto, err := os.ReadFile(protocolPath)
	if err != nil {
		t.Fatal(err)
	}
	if !protocolBlockRE.Match(proto) {
		t.Fatal("docs/PROTOCOL.md has no <!-- codes:begin --> ... <!-- codes:end --> block")
	}
	wantProto := protocolBlockRE.ReplaceAllLiteralString(string(proto), renderProtocolTable())
	wantErrors := renderErrors()
	if *update {
		if err := os.WriteFile(errorsPath, []byte(wantErrors), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(protocolPath, []byte(wantProto), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got, err := os.ReadFile(errorsPath); err != nil || string(got) != wantErrors {
		t.Errorf("docs/ERRORS.md is not what package codes generates (err %v): run go test ./codes -update", err)
	}
	if string(proto) != wantProto {
		t.Errorf("docs/PROTOCOL.md's code table is not what package codes generates: run go test ./codes -update")
	}
}

var errorsRowRE = regexp.MustCompile("(?m)^\\| `([a-z0-9_]+)` \\| [^|]* \\| [^|]* \\| ([a-z–]+) \\| (yes|no) \\|")

// TestEveryCodeOnceInErrors: every code has exactly one row in
// docs/ERRORS.md, with its domain and retry flag from the table.
func TestEveryCodeOnceInErrors(t *testing.T) {
	doc, err := os.ReadFile(errorsPath)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, m := range errorsRowRE.FindAllStringSubmatch(string(doc), -1) {
		code, domain, retry := m[1], m[2], m[3]
		seen[code]++
		i, ok := Lookup(code)
		switch {
		case !ok:
			t.Errorf("docs/ERRORS.md has a row for %s, which is no code", code)
		case cell(string(i.Domain)) != domain:
			t.Errorf("%s: domain %q in docs/ERRORS.md, %q in the table", code, domain, i.Domain)
		case yesNo(i.Retryable) != retry:
			t.Errorf("%s: retry %q in docs/ERRORS.md, %v in the table", code, retry, i.Retryable)
		}
	}
	for _, i := range table {
		if seen[i.Code] != 1 {
			t.Errorf("%s appears %d times in docs/ERRORS.md, want once", i.Code, seen[i.Code])
		}
	}
}

// TestTable: every code is declared once, with a meaning, a fix and a
// kind; wire codes have a domain.
func TestTable(t *testing.T) {
	seen := map[string]bool{}
	for _, i := range table {
		switch {
		case seen[i.Code]:
			t.Errorf("%s twice in the table", i.Code)
		case i.Meaning == "" || i.Kind == "" || i.Group == "":
			t.Errorf("%s: meaning, kind or group missing", i.Code)
		case i.Fix == "" && i.Code != Valid:
			t.Errorf("%s: no fix", i.Code)
		case i.Wire && i.Domain == "":
			t.Errorf("%s: a wire code without a domain", i.Code)
		}
		seen[i.Code] = true
	}
}

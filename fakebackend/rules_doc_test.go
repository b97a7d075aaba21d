package fakebackend

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/transport"
)

var (
	ruleHeadingRE = regexp.MustCompile(`(?m)^## Rule (\d+) — .+$`)
	ruleItemRE    = regexp.MustCompile(`^- \*\*(Source|Codes|Tests):\*\*(.*)$`)
	backtickRE    = regexp.MustCompile("`([^`]+)`")
	citedTestRE   = regexp.MustCompile("`([a-z][a-z/]*)\\.(Test[A-Za-z0-9_]+)`")
)

// ruleSources are the titles a rule's source may cite: the public Sinch
// pages listed under "Sources", or sinchsim itself.
var ruleSources = []string{
	"Application authentication (Android)",
	"Application Authentication (iOS)",
	"SINClientRegistration Protocol Reference",
	"Sinch Client",
	"Authentication supported by application server",
}

// nonRuleCodes are the protocol codes that no registration rule gives:
// malformed messages, requests before authentication, server conditions.
var nonRuleCodes = []string{
	transport.CodeProtocolError, transport.CodeNotAuthenticated,
	transport.CodeInternalError, transport.CodeUnavailable,
}

// TestRulesDoc keeps docs/RULES.md in step with the code: rules numbered
// from 1 without gaps, each with a source, codes and tests; every code it
// lists is a code constant; every test it names exists in its package;
// every rejection code of the protocol belongs to some rule.
func TestRulesDoc(t *testing.T) {
	b, err := os.ReadFile("../docs/RULES.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	known := map[string]bool{}
	for _, c := range slices.Concat(credentials.Codes(), credentials.DiagCodes(), transport.Codes()) {
		known[c] = true
	}

	heads := ruleHeadingRE.FindAllStringSubmatchIndex(doc, -1)
	if len(heads) == 0 {
		t.Fatal("docs/RULES.md has no \"## Rule N — title\" sections")
	}
	covered := map[string]bool{}
	for i, h := range heads {
		n, _ := strconv.Atoi(doc[h[2]:h[3]])
		if n != i+1 {
			t.Errorf("rule %d follows rule %d: number the rules 1, 2, 3...", n, i)
		}
		end := len(doc)
		if i+1 < len(heads) {
			end = heads[i+1][0]
		} else if j := strings.Index(doc[h[1]:], "\n## "); j >= 0 {
			end = h[1] + j
		}
		items := ruleItems(doc[h[1]:end])
		for _, item := range []string{"Source", "Codes", "Tests"} {
			if strings.TrimSpace(items[item]) == "" {
				t.Errorf("rule %d has no \"- **%s:**\" item", n, item)
			}
		}
		if src := items["Source"]; !slices.ContainsFunc(ruleSources, func(title string) bool { return strings.Contains(src, title) }) {
			t.Errorf("rule %d's source names none of the pages %q", n, ruleSources)
		}
		for _, m := range backtickRE.FindAllStringSubmatch(items["Codes"], -1) {
			if !known[m[1]] {
				t.Errorf("rule %d lists %q, which is no code constant of credentials or transport", n, m[1])
			}
			covered[m[1]] = true
		}
		if len(citedTestRE.FindAllString(items["Tests"], -1)) == 0 {
			t.Errorf("rule %d names no test as `package.TestName`", n)
		}
	}

	for _, m := range citedTestRE.FindAllStringSubmatch(doc, -1) {
		if !testExists(t, m[1], m[2]) {
			t.Errorf("docs/RULES.md cites %s.%s: no func %s in ../%s/*_test.go", m[1], m[2], m[2], m[1])
		}
	}
	for _, c := range transport.Codes() {
		if !covered[c] && !slices.Contains(nonRuleCodes, c) {
			t.Errorf("code %s belongs to no rule of docs/RULES.md", c)
		}
	}
}

// ruleItems returns the "- **Name:** text" items of a rule's section,
// continuation lines included, with white space collapsed.
func ruleItems(section string) map[string]string {
	items := map[string]string{}
	cur := ""
	for _, line := range strings.Split(section, "\n") {
		switch m := ruleItemRE.FindStringSubmatch(line); {
		case m != nil:
			cur = m[1]
			items[cur] = strings.TrimSpace(m[2])
		case cur != "" && strings.HasPrefix(line, "  ") && strings.TrimSpace(line) != "":
			items[cur] += " " + strings.TrimSpace(line)
		default:
			cur = ""
		}
	}
	return items
}

// testExists reports whether the package in directory pkg (relative to the
// module root) has a test function named name.
func testExists(t *testing.T, pkg, name string) bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", filepath.FromSlash(pkg), "*_test.go"))
	if err != nil {
		t.Fatal(err)
	}
	def := regexp.MustCompile(`(?m)^func ` + regexp.QuoteMeta(name) + `\(`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if def.Match(b) {
			return true
		}
	}
	return false
}

// errorsRowRE matches a row of the credentials table of docs/ERRORS.md
// (section "Credentials codes"): code, kind, rule numbers.
var errorsRowRE = regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\| [^|]+ \\| ([^|]+) \\|")

// TestErrorsDocRuleNumbers keeps the rule column of docs/ERRORS.md in step
// with docs/RULES.md: a code said to come from rule N is listed under rule
// N. The column holds numbers, lists ("4, 12") and ranges ("5–7").
func TestErrorsDocRuleNumbers(t *testing.T) {
	rulesDoc, err := os.ReadFile("../docs/RULES.md")
	if err != nil {
		t.Fatal(err)
	}
	errorsDoc, err := os.ReadFile("../docs/ERRORS.md")
	if err != nil {
		t.Fatal(err)
	}
	codesOf := map[int]string{} // rule number: its Codes item
	heads := ruleHeadingRE.FindAllStringSubmatchIndex(string(rulesDoc), -1)
	for i, h := range heads {
		end := len(rulesDoc)
		if i+1 < len(heads) {
			end = heads[i+1][0]
		}
		n, _ := strconv.Atoi(string(rulesDoc[h[2]:h[3]]))
		codesOf[n] = ruleItems(string(rulesDoc[h[1]:end]))["Codes"]
	}
	_, table, ok := strings.Cut(string(errorsDoc), "\n## Credentials codes\n")
	if !ok {
		t.Fatal(`docs/ERRORS.md has no "## Credentials codes" section`)
	}
	if end := strings.Index(table, "\n## "); end >= 0 {
		table = table[:end]
	}
	rows := 0
	for _, m := range errorsRowRE.FindAllStringSubmatch(table, -1) {
		code, col := m[1], strings.TrimSpace(m[2])
		if col == "rule" || col == "–" || col == "-" {
			continue
		}
		var nums []int
		for _, part := range strings.Split(col, ",") {
			lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "–")
			a, errA := strconv.Atoi(lo)
			b, errB := a, error(nil)
			if isRange {
				b, errB = strconv.Atoi(hi)
			}
			if errA != nil || errB != nil || a > b {
				t.Errorf("docs/ERRORS.md row %s: rule column %q is not numbers, lists or ranges", code, col)
				continue
			}
			for n := a; n <= b; n++ {
				nums = append(nums, n)
			}
		}
		rows++
		for _, n := range nums {
			codes, ok := codesOf[n]
			if !ok {
				t.Errorf("docs/ERRORS.md row %s cites rule %d, which docs/RULES.md does not have", code, n)
			} else if !strings.Contains(codes, "`"+code+"`") {
				t.Errorf("docs/ERRORS.md row %s cites rule %d, but rule %d of docs/RULES.md does not list %s", code, n, n, code)
			}
		}
	}
	if rows < 16 {
		t.Fatalf("read only %d rows with rule numbers from docs/ERRORS.md; is the parse broken?", rows)
	}
}

// internalCitationRE matches citations of the project's internal design
// notes, which a clone does not have: numbered seed pages, the design
// brief and its rule numbers, the shared directory beside the repository.
// Users are pointed to docs/RULES.md and to Sinch's pages by title instead.
var internalCitationRE = regexp.MustCompile(`(?i:\bseeds?[ _-]?0\d\d\b|\bseeds? \d{3}\b|\bthe seeds\b|\bthe seed's|\bseeds? (?:warn|says?|specif(?:y|ies))\b|\bdesign\.md\b|\bdesign brief\b|\bdesign rules?\b|\.\./shared\b|/work/shared\b|\bshared/(?:seeds|tools)\b)|\bDESIGN\b`)

// TestNoInternalCitations scans every text file of the module (Go code,
// documents, help texts, the token generators in other languages, the
// console's page, the CI scripts; .git excluded) for
// citations of internal notes. This file is exempt: it spells the
// patterns.
func TestNoInternalCitations(t *testing.T) {
	if !internalCitationRE.MatchString("see seed 004") || internalCitationRE.MatchString("--seed 42 gives the same counts, by design") {
		t.Fatal("internalCitationRE does not tell a citation from a random seed")
	}
	scanned := 0
	err := filepath.WalkDir("..", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" {
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(path) {
		case ".go", ".md", ".txt", ".py", ".js", ".html", ".css", ".sh", ".json", ".yaml", ".yml", ".mod":
		default:
			if filepath.Ext(path) != "" || !strings.HasPrefix(path, filepath.Join("..", ".ci")) {
				return nil // binary files (pictures) and the like
			}
		}
		if filepath.Base(path) == "rules_doc_test.go" && filepath.Base(filepath.Dir(path)) == "fakebackend" {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		scanned++
		for i, line := range strings.Split(string(b), "\n") {
			if m := internalCitationRE.FindString(line); m != "" {
				t.Errorf("%s:%d cites %q, an internal note a clone lacks: cite docs/RULES.md (\"rule N in docs/RULES.md\") or Sinch's page by title", path, i+1, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if scanned < 50 {
		t.Fatalf("scanned only %d files from the module root; is the walk broken?", scanned)
	}
}

// Package docs holds the project's reference pages, the Markdown files in
// this directory, and reads the code table out of them: the meaning and
// the typical fix of every error and diagnosis code. The pages are the one
// home of those texts; the console and the tools show them from here.
//
//	c, ok := docs.Lookup("signature_invalid")
//	fmt.Println(c.Meaning, c.Fix)
package docs

import (
	"embed"
	"strings"
	"sync"
)

//go:embed ERRORS.md PROTOCOL.md
var pages embed.FS

// Code is one stable code as the documentation describes it. The texts are
// Markdown: names of claims, members and codes are in `backticks`.
type Code struct {
	Code string `json:"code"`
	// Kind is "rejection" for a code the backend answers with, or what
	// ERRORS.md says of a diagnosis ("diagnosis, FAIL", "note, PASS", ...).
	Kind string `json:"kind"`
	// Domain (api, network or http) and Retryable are PROTOCOL.md's, for
	// codes that travel on the wire; Domain is empty for the others.
	Domain    string `json:"domain,omitempty"`
	Retryable bool   `json:"retryable"`
	Meaning   string `json:"meaning"`
	Fix       string `json:"fix"`
}

// Codes returns every documented code: those of protocol v1 in the order
// of PROTOCOL.md's table, then the diagnosis codes in ERRORS.md's order.
func Codes() []Code {
	t := table()
	out := make([]Code, len(t.order))
	for i, c := range t.order {
		out[i] = t.byCode[c]
	}
	return out
}

// Lookup returns what the documentation says of one code.
func Lookup(code string) (Code, bool) {
	c, ok := table().byCode[code]
	return c, ok
}

type codeTable struct {
	order  []string
	byCode map[string]Code
}

var table = sync.OnceValue(func() codeTable {
	t := codeTable{byCode: map[string]Code{}}
	put := func(row map[string]string, merge func(*Code, map[string]string)) {
		code := strings.Trim(row["code"], "`")
		if code == "" {
			return
		}
		c, seen := t.byCode[code]
		if !seen {
			c.Code = code
			t.order = append(t.order, code)
		}
		merge(&c, row)
		t.byCode[code] = c
	}
	// PROTOCOL.md: the wire codes, with domain, retryability and meaning.
	protocol := read("PROTOCOL.md")
	if i := strings.Index(protocol, "<!-- codes:begin"); i >= 0 {
		protocol = protocol[i:]
		if j := strings.Index(protocol, "<!-- codes:end"); j >= 0 {
			protocol = protocol[:j]
		}
		for _, row := range tables(protocol) {
			put(row, func(c *Code, r map[string]string) {
				c.Kind, c.Domain, c.Retryable, c.Meaning = "rejection", r["domain"], r["retryable"] == "yes", r["meaning"]
			})
		}
	}
	// ERRORS.md: meanings and fixes. Its "Check codes" section describes
	// what a check reports across tokens, not the codes themselves.
	for _, sec := range sections(read("ERRORS.md")) {
		if sec.title == "Check codes" {
			continue
		}
		for _, row := range tables(sec.body) {
			put(row, func(c *Code, r map[string]string) {
				if k := r["kind"]; k != "" {
					c.Kind = k
				}
				if m := r["meaning"]; m != "" {
					c.Meaning = m // ERRORS.md says more than PROTOCOL.md's one line
				}
				if f := r["typical fix"]; f != "" && f != "–" {
					c.Fix = f
				}
			})
		}
	}
	return t
})

func read(name string) string {
	b, err := pages.ReadFile(name)
	if err != nil {
		return ""
	}
	return string(b)
}

type section struct{ title, body string }

// sections splits a page at its "## " headings.
func sections(page string) []section {
	var out []section
	cur := section{}
	for line := range strings.Lines(page) {
		if title, ok := strings.CutPrefix(line, "## "); ok {
			out = append(out, cur)
			cur = section{title: strings.TrimSpace(title)}
			continue
		}
		cur.body += line
	}
	return append(out, cur)
}

// tables returns the rows of every Markdown table in text, each as a map
// from the lower-cased column heading to the cell.
func tables(text string) []map[string]string {
	var rows []map[string]string
	var head []string
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") {
			head = nil
			continue
		}
		cells := splitRow(line)
		switch {
		case head == nil:
			head = cells
			for i := range head {
				head[i] = strings.ToLower(head[i])
			}
		case strings.Trim(line, "|-: ") == "":
			// the separator under the heading
		default:
			row := map[string]string{}
			for i, c := range cells {
				if i < len(head) {
					row[head[i]] = c
				}
			}
			rows = append(rows, row)
		}
	}
	return rows
}

// splitRow splits "| a | b \| c |" into ["a", "b | c"].
func splitRow(line string) []string {
	line = strings.TrimSuffix(strings.TrimPrefix(line, "|"), "|")
	var cells []string
	var b strings.Builder
	for i := 0; i < len(line); i++ {
		switch {
		case line[i] == '\\' && i+1 < len(line) && line[i+1] == '|':
			b.WriteByte('|')
			i++
		case line[i] == '|':
			cells = append(cells, strings.TrimSpace(b.String()))
			b.Reset()
		default:
			b.WriteByte(line[i])
		}
	}
	return append(cells, strings.TrimSpace(b.String()))
}

package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// docFiles are the documents users read, relative to this package.
func docFiles(t *testing.T) []string {
	t.Helper()
	files := []string{"../../README.md", "../../RELIABILITY.md"}
	for _, pattern := range []string{"../../docs/*.md", "../../examples/*.md", "../../examples/*/*.md"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	return files
}

var (
	fenceRE    = regexp.MustCompile("(?ms)^```[^\n]*\n(.*?)^```")
	codeSpanRE = regexp.MustCompile("`[^`]+`")
	// A command line: "sinchsim" at the start of a word or after a path
	// ("go run ./cmd/sinchsim demo"), then up to two words.
	commandRE = regexp.MustCompile(`(?:^|[\s/(])sinchsim[ \t]+([a-z][a-z-]*)(?:[ \t]+([a-z][a-z-]*))?`)
)

// quotedCommands returns the "sinchsim CMD [SUB]" command lines of a
// Markdown text: in fenced blocks and in code spans, where command lines
// are quoted; prose ("sinchsim emulates...") is not a command line.
func quotedCommands(md string) [][]string {
	var code []string
	rest := fenceRE.ReplaceAllStringFunc(md, func(block string) string {
		code = append(code, fenceRE.FindStringSubmatch(block)[1])
		return "\n"
	})
	code = append(code, codeSpanRE.FindAllString(rest, -1)...)
	var out [][]string
	for _, c := range code {
		for _, line := range strings.Split(strings.Trim(c, "`"), "\n") {
			for _, m := range commandRE.FindAllStringSubmatch(line, -1) {
				words := []string{m[1]}
				if m[2] != "" {
					words = append(words, m[2])
				}
				out = append(out, words)
			}
		}
	}
	return out
}

// commandProblem returns "" when words names a command of the table (and,
// for a group such as token, a subcommand when one is given), else what is
// wrong.
func commandProblem(words []string) string {
	groups := map[string][]command{tokenCommand.name: tokenCommands}
	i := slices.IndexFunc(commands, func(c command) bool { return c.name == words[0] })
	if i < 0 && words[0] != "help" {
		return "no command " + words[0]
	}
	subs, isGroup := groups[words[0]]
	if !isGroup || len(words) < 2 {
		return ""
	}
	if !slices.ContainsFunc(subs, func(c command) bool { return c.name == words[1] }) {
		return "no command " + words[0] + " " + words[1]
	}
	return ""
}

func TestQuotedCommands(t *testing.T) {
	cases := []struct {
		md   string
		want [][]string
		bad  []bool // commandProblem reports a problem
	}{
		{"run `sinchsim token explain TOKEN`", [][]string{{"token", "explain"}}, []bool{false}},
		{"run `sinchsim explain`", [][]string{{"explain"}}, []bool{true}},
		{"```sh\ngo run ./cmd/sinchsim demo   # run\nsinchsim token frobnicate\n```\n", [][]string{{"demo"}, {"token", "frobnicate"}}, []bool{false, true}},
		{"sinchsim emulates user registration (prose)", nil, nil},
		{"`go install github.com/sinchsim/sinchsim/cmd/sinchsim@latest`", nil, nil},
		{"`sinchsim token --help`, `sinchsim check --url U`", [][]string{{"token"}, {"check"}}, []bool{false, false}},
	}
	for _, tc := range cases {
		got := quotedCommands(tc.md)
		if !slices.EqualFunc(got, tc.want, slices.Equal) {
			t.Errorf("quotedCommands(%q) = %q, want %q", tc.md, got, tc.want)
			continue
		}
		for i, words := range got {
			if bad := commandProblem(words) != ""; bad != tc.bad[i] {
				t.Errorf("commandProblem(%q) reports a problem: %v, want %v", words, bad, tc.bad[i])
			}
		}
	}
}

// TestDocCommandsExist keeps the documents in step with the command table:
// every sinchsim command line they quote names a real command.
func TestDocCommandsExist(t *testing.T) {
	n := 0
	for _, path := range docFiles(t) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, words := range quotedCommands(string(b)) {
			n++
			if problem := commandProblem(words); problem != "" {
				t.Errorf("%s quotes %q: %s (the commands are in cmd/sinchsim/main.go and cmd_*.go)", path, "sinchsim "+strings.Join(words, " "), problem)
			}
		}
	}
	if n < 10 {
		t.Fatalf("found only %d quoted command lines; is the scan broken?", n)
	}
}

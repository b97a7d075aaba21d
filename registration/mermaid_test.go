package registration

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/lifecycle.mmd and the lifecycle block in ../README.md from Mermaid()")

const (
	goldenPath  = "testdata/lifecycle.mmd"
	readmePath  = "../README.md"
	beginMarker = "<!-- lifecycle:begin -->\n"
	endMarker   = "<!-- lifecycle:end -->"
)

func TestMermaidDeterministic(t *testing.T) {
	first := Mermaid()
	for i := range 200 {
		if got := Mermaid(); got != first {
			t.Fatalf("Mermaid() call %d differs from the first:\n%s\nvs\n%s", i, got, first)
		}
	}
}

// TestMermaidCoversTable checks the diagram draws exactly the specified
// table, one line per (state, event) pair.
func TestMermaidCoversTable(t *testing.T) {
	lines := strings.Split(strings.TrimSuffix(Mermaid(), "\n"), "\n")
	if len(lines) < 2 || lines[0] != "stateDiagram-v2" || lines[1] != "    [*] --> idle" {
		t.Fatalf("unexpected diagram header: %q", lines[:min(2, len(lines))])
	}
	have := map[string]bool{}
	for _, l := range lines[2:] {
		have[l] = true
	}
	want := 0
	for from, row := range wantTable {
		for e, to := range row {
			want++
			line := fmt.Sprintf("    %s --> %s: %s", from, to, e)
			if !have[line] {
				t.Errorf("diagram lacks %q", line)
			}
		}
	}
	if got := len(lines) - 2; got != want {
		t.Errorf("diagram has %d transition lines, want %d", got, want)
	}
}

func TestMermaidGolden(t *testing.T) {
	got := Mermaid()
	if *update {
		if err := os.MkdirAll(filepath.Dir(goldenPath), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenPath, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatalf("%v (run: go test ./registration -run Mermaid -update)", err)
	}
	if got != string(want) {
		t.Errorf("Mermaid() differs from %s (run: go test ./registration -run Mermaid -update)\n got:\n%s\nwant:\n%s", goldenPath, got, want)
	}
}

// TestREADMEEmbedsMermaid keeps the README's diagram in step with the FSM:
// the golden text must sit in a ```mermaid block between the lifecycle
// markers. With -update the block is rewritten in place (only between the
// markers).
func TestREADMEEmbedsMermaid(t *testing.T) {
	readme, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	golden, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		golden = []byte(Mermaid())
	}
	start, end, err := lifecycleBlock(readme)
	if err != nil {
		t.Fatalf("%s: %v", readmePath, err)
	}
	want := "```mermaid\n" + string(golden) + "```\n"
	if *update && string(readme[start:end]) != want {
		var out bytes.Buffer
		out.Write(readme[:start])
		out.WriteString(want)
		out.Write(readme[end:])
		if err := os.WriteFile(readmePath, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got := string(readme[start:end]); got != want {
		t.Errorf("%s lifecycle block is stale (run: go test ./registration -run Mermaid -update)\n got:\n%s\nwant:\n%s", readmePath, got, want)
	}
}

// lifecycleBlock returns the byte range strictly between the begin marker
// line and the end marker line.
func lifecycleBlock(readme []byte) (start, end int, err error) {
	s := string(readme)
	if n := strings.Count(s, beginMarker); n != 1 {
		return 0, 0, fmt.Errorf("want exactly one %q line, found %d", strings.TrimSpace(beginMarker), n)
	}
	if n := strings.Count(s, endMarker); n != 1 {
		return 0, 0, fmt.Errorf("want exactly one %q line, found %d", endMarker, n)
	}
	start = strings.Index(s, beginMarker) + len(beginMarker)
	end = strings.Index(s, endMarker)
	if end < start || (end > 0 && s[end-1] != '\n') {
		return 0, 0, fmt.Errorf("%q must be on its own line after %q", endMarker, strings.TrimSpace(beginMarker))
	}
	return start, end, nil
}

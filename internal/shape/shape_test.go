package shape

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pending lists excesses that a change under way removes. Each entry must
// still be over its limit: once it is not, the test fails until the entry
// is deleted, so the list can only shrink. Keys are "file" or "file: func".
var pending = map[string]bool{}

// key is e's key in pending.
func (e Excess) key() string {
	if e.Name == "" {
		return e.File
	}
	return e.File + ": " + e.Name
}

// TestModule is the limit itself: no non-test file of the module over
// MaxFileLines lines, no function over MaxFuncLines.
func TestModule(t *testing.T) {
	root := moduleRoot(t)
	excess, err := Tree(root)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	failed := false
	for _, e := range excess {
		seen[e.key()] = true
		if !pending[e.key()] {
			t.Errorf("%s", e)
			failed = true
		}
	}
	for k := range pending {
		if !seen[k] {
			t.Errorf("%s is within the limits now: delete it from pending", k)
		}
	}
	if failed {
		t.Log("split by responsibility: a file per concern, a function per step")
	}
}

// moduleRoot finds the directory of go.mod above the test's directory.
func moduleRoot(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// lines returns a function of n lines in all, from "func" to "}".
func lines(name string, n int) string {
	return "func " + name + "() {\n" + strings.Repeat("\t_ = 0\n", n-2) + "}\n"
}

func TestSource(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // Excess.String() of each finding
	}{
		{
			name: "a function at the limit",
			src:  "package p\n\n" + lines("f", MaxFuncLines),
		},
		{
			name: "a function one line over",
			src:  "package p\n\n" + lines("f", MaxFuncLines+1),
			want: []string{"x.go:3: f is 81 lines (limit 80)"},
		},
		{
			name: "a method, named with its type",
			src:  "package p\n\ntype T struct{}\n\n" + strings.Replace(lines("f", 90), "func f", "func (t *T) f", 1),
			want: []string{"x.go:5: T.f is 90 lines (limit 80)"},
		},
		{
			name: "a method of a generic type",
			src:  "package p\n\ntype T[E any] struct{}\n\n" + strings.Replace(lines("f", 85), "func f", "func (t T[E]) f", 1),
			want: []string{"x.go:5: T.f is 85 lines (limit 80)"},
		},
		{
			name: "a long function literal in a variable",
			src:  "package p\n\nvar v = " + strings.Replace(lines("", 82), "func ()", "func()", 1),
			want: []string{"x.go:3: func literal is 82 lines (limit 80)"},
		},
		{
			name: "the doc comment does not count",
			src:  "package p\n\n" + strings.Repeat("// doc\n", 30) + lines("f", MaxFuncLines),
		},
		{
			name: "a file at the limit",
			src:  "package p\n" + strings.Repeat("\n", MaxFileLines-2) + "var x = 1\n",
		},
		{
			name: "a file over the limit",
			src:  "package p\n" + strings.Repeat("\n", MaxFileLines-1) + "var x = 1\n",
			want: []string{"x.go: 601 lines (limit 600)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Source("x.go", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			var gotS []string
			for _, e := range got {
				gotS = append(gotS, e.String())
			}
			if strings.Join(gotS, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(gotS, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestTreeSkips checks that test files, testdata and hidden directories
// are not measured.
func TestTreeSkips(t *testing.T) {
	root := t.TempDir()
	long := "package p\n\n" + lines("f", MaxFuncLines+5)
	files := map[string]string{
		"a_test.go":              long,
		"testdata/b.go":          long,
		".hidden/c.go":           long,
		"sub/d.go":               long,
		"sub/ok.go":              "package p\n",
		"sub/notgo.txt":          long,
		"vendor/x/y/vendored.go": long,
	}
	for name, src := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Tree(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].File != "sub/d.go" {
		t.Errorf("got %v, want only sub/d.go", got)
	}
}

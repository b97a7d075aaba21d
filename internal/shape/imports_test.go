package shape

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// layers is the layering of the README's "How the code is laid out": a
// package imports the module's packages of lower layers only, so that
// client and fakebackend never import each other, the protocol never
// depends on tokens, and wiring happens only in commands. A new package
// gets its line here (and in the README).
var layers = map[string]int{
	// Leaves: import nothing of the module.
	"codes":               0,
	"vclock":              0,
	"registration":        0,
	"internal/excerpt":    0,
	"internal/atomicfile": 0,
	"internal/syncbuf":    0,
	"internal/gopool":     0,
	"internal/callcount":  0,
	"internal/shape":      0,
	"fakebackend/console": 0,
	// The strict JSON reader (its reasons quote with excerpt).
	"internal/jsonobj": 1,
	// Tokens and the wire.
	"credentials": 2,
	"transport":   2,
	// The two ends of a connection.
	"client":      3,
	"fakebackend": 3,
	// A protocol connection driven message by message, for tests.
	"internal/rawclient": 3,
	// Fleets of clients against a backend; the backend's other stores
	// and the contract every store keeps.
	"internal/fleet":         4,
	"internal/sim":           4,
	"fakebackend/redisstore": 4,
	"fakebackend/storetest":  4,
	// Test helpers of the Redis store.
	"fakebackend/redisstore/*": 5,
	// Programs and whole-system tests: wiring only.
	"cmd/*":                5,
	"examples":             5,
	"examples/*":           5,
	"internal/reliability": 5,
	"internal/tools/*":     5,
	// Tests of several processes, which use the test helpers above.
	"internal/scale": 6,
}

func TestImportLayers(t *testing.T) {
	root := moduleRoot(t)
	module, err := ModulePath(root)
	if err != nil {
		t.Fatal(err)
	}
	imports, err := Imports(root, module)
	if err != nil {
		t.Fatal(err)
	}
	for dir, imps := range imports {
		from, ok := Layer(layers, dir)
		if !ok {
			t.Errorf("package %s has no layer: add it to layers in internal/shape/imports_test.go and to the README's \"How the code is laid out\"", dir)
			continue
		}
		for _, imp := range imps {
			to, ok := Layer(layers, imp)
			if !ok {
				continue // reported as a package of its own
			}
			if to >= from {
				t.Errorf("%s (layer %d) imports %s (layer %d): a package imports lower layers only", dir, from, imp, to)
			}
		}
	}
}

func TestLayer(t *testing.T) {
	table := map[string]int{"a": 0, "b/*": 2, "b": 1}
	tests := []struct {
		dir  string
		want int
		ok   bool
	}{
		{"a", 0, true},
		{"b", 1, true},
		{"b/c", 2, true},
		{"b/c/d", 2, true},
		{"a/x", 0, false},
		{"z", 0, false},
	}
	for _, tt := range tests {
		got, ok := Layer(table, tt.dir)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Layer(%q) = %d, %v; want %d, %v", tt.dir, got, ok, tt.want, tt.ok)
		}
	}
}

func TestImports(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"go.mod":        "module example.com/m\n\ngo 1.26\n",
		"a/a.go":        "package a\n\nimport (\n\t\"fmt\"\n\t\"example.com/m/b\"\n)\n\nvar _ = fmt.Sprint\nvar _ = b.X\n",
		"a/a_test.go":   "package a\n\nimport _ \"example.com/m/c\"\n",
		"b/b.go":        "package b\n\nvar X = 1\n",
		"testdata/t.go": "package t\n\nimport _ \"example.com/m/a\"\n",
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
	module, err := ModulePath(root)
	if err != nil || module != "example.com/m" {
		t.Fatalf("ModulePath = %q, %v", module, err)
	}
	got, err := Imports(root, module)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{"a": {"b"}, "b": {}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Imports = %v, want %v", got, want)
	}
}

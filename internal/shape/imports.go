package shape

import (
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Imports returns, for each package directory under root (slash-separated,
// relative to root, "." for root itself), the import paths of its non-test
// files that start with module+"/", trimmed of that prefix. Test files,
// testdata, vendor and hidden directories are left out.
func Imports(root, module string) (map[string][]string, error) {
	seen := map[string]map[string]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if skipDir(root, p, d.Name()) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, filepath.Dir(p))
		if err != nil {
			return err
		}
		dir := filepath.ToSlash(rel)
		if seen[dir] == nil {
			seen[dir] = map[string]bool{}
		}
		for _, im := range f.Imports {
			ip, err := strconv.Unquote(im.Path.Value)
			if err != nil {
				return fmt.Errorf("%s: %v", p, err)
			}
			if own, ok := strings.CutPrefix(ip, module+"/"); ok {
				seen[dir][own] = true
			}
		}
		return nil
	})
	out := map[string][]string{}
	for dir, set := range seen {
		list := []string{}
		for ip := range set {
			list = append(list, ip)
		}
		sort.Strings(list)
		out[dir] = list
	}
	return out, err
}

// skipDir reports whether a directory is left out of the measures.
func skipDir(root, p, name string) bool {
	return p != root && (name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_"))
}

// Layer returns the layer of package dir in layers, which maps a package
// directory, or a pattern "dir/*" for every package below dir, to its
// layer. ok is false when no entry names it.
func Layer(layers map[string]int, dir string) (layer int, ok bool) {
	if l, ok := layers[dir]; ok {
		return l, true
	}
	for d := dir; d != "." && d != "/" && d != ""; d = path.Dir(d) {
		if l, ok := layers[path.Dir(d)+"/*"]; ok && path.Dir(d) != "." {
			return l, true
		}
	}
	return 0, false
}

// ModulePath reads the module path from root/go.mod.
func ModulePath(root string) (string, error) {
	b, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`), nil
		}
	}
	return "", fmt.Errorf("%s has no module line", filepath.Join(root, "go.mod"))
}

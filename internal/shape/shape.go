// Package shape measures the module's source against its size limits (no
// non-test Go file over MaxFileLines lines, no function over MaxFuncLines
// lines) and reads its imports, for the layering the README's "How the
// code is laid out" describes. Its tests walk the module and fail on any
// excess or an import against the layers, so both stay true as the code
// grows; when they fail, split by responsibility (a file per concern, a
// function per step) rather than raising the limits.
package shape

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// The limits.
const (
	MaxFileLines = 600 // lines in a non-test .go file
	MaxFuncLines = 80  // lines of a function, from "func" to its closing brace
)

// An Excess is one file or function over its limit.
type Excess struct {
	File  string // slash-separated, relative to the walked root
	Line  int    // where the function starts; 0 for a whole file
	Name  string // the function ("Type.Method", "func literal"); "" for a whole file
	Lines int
	Limit int
}

func (e Excess) String() string {
	if e.Name == "" {
		return fmt.Sprintf("%s: %d lines (limit %d)", e.File, e.Lines, e.Limit)
	}
	return fmt.Sprintf("%s:%d: %s is %d lines (limit %d)", e.File, e.Line, e.Name, e.Lines, e.Limit)
}

// Source measures one Go source file, named name in the report.
func Source(name string, src []byte) ([]Excess, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	var out []Excess
	if n := fset.File(f.Pos()).LineCount(); n > MaxFileLines {
		out = append(out, Excess{File: name, Lines: n, Limit: MaxFileLines})
	}
	ast.Inspect(f, func(n ast.Node) bool {
		var body *ast.BlockStmt
		what := "func literal"
		switch fn := n.(type) {
		case *ast.FuncDecl:
			body, what = fn.Body, funcName(fn)
		case *ast.FuncLit:
			body = fn.Body
		default:
			return true
		}
		if body == nil {
			return true
		}
		start := fset.Position(n.Pos()).Line
		if lines := fset.Position(body.End()).Line - start + 1; lines > MaxFuncLines {
			out = append(out, Excess{File: name, Line: start, Name: what, Lines: lines, Limit: MaxFuncLines})
		}
		return true
	})
	return out, nil
}

// funcName is "Name" or "Type.Name".
func funcName(fn *ast.FuncDecl) string {
	if fn.Recv == nil || len(fn.Recv.List) == 0 {
		return fn.Name.Name
	}
	t := fn.Recv.List[0].Type
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	switch x := t.(type) {
	case *ast.IndexExpr:
		t = x.X
	case *ast.IndexListExpr:
		t = x.X
	}
	if id, ok := t.(*ast.Ident); ok {
		return id.Name + "." + fn.Name.Name
	}
	return fn.Name.Name
}

// Tree measures every non-test .go file under root, skipping testdata,
// vendor and hidden directories. The excesses come sorted by file and
// line.
func Tree(root string) ([]Excess, error) {
	var out []Excess
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if skipDir(root, path, name) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		ex, err := Source(filepath.ToSlash(rel), src)
		out = append(out, ex...)
		return err
	})
	sort.Slice(out, func(i, j int) bool {
		if out[i].File != out[j].File {
			return out[i].File < out[j].File
		}
		return out[i].Line < out[j].Line
	})
	return out, err
}

package console

import (
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	h := Handler()
	for _, tc := range []struct {
		path  string
		code  int
		ctype string
	}{
		{"/console", 200, "text/html; charset=utf-8"},
		{"/console/", 200, "text/html; charset=utf-8"},
		{"/console/index.html", 200, "text/html; charset=utf-8"},
		{"/console/console.js", 200, "text/javascript; charset=utf-8"},
		{"/console/console.css", 200, "text/css; charset=utf-8"},
		{"/console/missing.js", 404, ""},
		{"/console/static/console.js", 404, ""},
		{"/console/..%2fconsole.go", 404, ""},
		{"/consolex", 404, ""},
		{"/", 404, ""},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", tc.path, nil))
		if rec.Code != tc.code || (tc.ctype != "" && rec.Header().Get("Content-Type") != tc.ctype) {
			t.Errorf("%s: %d %q", tc.path, rec.Code, rec.Header().Get("Content-Type"))
		}
		if tc.code == 200 && rec.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", tc.path)
		}
	}
}

// TestSelfContained: the page loads nothing from elsewhere (it works with
// no network) and runs no inline script (the content security policy
// forbids it).
func TestSelfContained(t *testing.T) {
	if got := strings.Join(Files(), ","); got != "console.css,console.js,index.html" {
		t.Fatalf("files: %s", got)
	}
	remote := regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?(https?:)?//|url\(\s*["']?(https?:)?//|@import|\bimport\s*\(`)
	for _, name := range Files() {
		b, err := static.ReadFile("static/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if m := remote.Find(b); m != nil {
			t.Errorf("%s refers to another site: %s", name, m)
		}
		if strings.HasSuffix(name, ".html") && regexp.MustCompile(`<script>|<script [^>]*>[^<]|\son[a-z]+=|style=`).Match(b) {
			t.Errorf("%s has inline script or style", name)
		}
	}
}

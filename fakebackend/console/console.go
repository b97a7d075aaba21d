// Package console is the live console's page: plain HTML, CSS and
// JavaScript embedded in the binary, with no build step and nothing
// fetched from the network. fakebackend serves it at /console, beside the
// admin API it reads; the page holds no data of its own, asks for the admin
// token when the server has one, and keeps it in sessionStorage only.
//
//	srv := fakebackend.RunT(t)
//	fmt.Println(srv.ConsoleURL()) // http://127.0.0.1:PORT/console
package console

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed static
var static embed.FS

// Path is where the page is served; its files are under Path + "/".
const Path = "/console"

// securityHeaders keep the page to its own files: no inline script, no
// other origin, no framing (clickjacking), no referrer.
var securityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
	"X-Content-Type-Options": "nosniff",
	"X-Frame-Options":        "DENY",
	"Referrer-Policy":        "no-referrer",
	"Cache-Control":          "no-cache",
}

// contentTypes are fixed here rather than read from the system's MIME table,
// which varies between machines.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
}

// Handler serves the page at Path (and Path + "/") and its files below
// Path + "/". Anything else is 404.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, ok := fileFor(r.URL.Path)
		if !ok {
			http.NotFound(w, r)
			return
		}
		data, err := fs.ReadFile(static, "static/"+name)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		for k, v := range securityHeaders {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", contentTypes[path.Ext(name)])
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(data)
	})
}

// fileFor maps a request path to the embedded file it names.
func fileFor(p string) (string, bool) {
	if p == Path || p == Path+"/" {
		return "index.html", true
	}
	name, ok := strings.CutPrefix(p, Path+"/")
	if !ok || name == "" || strings.ContainsAny(name, "/\\") || strings.HasPrefix(name, ".") {
		return "", false
	}
	return name, true
}

// Files lists the embedded files (for tests and packaging checks).
func Files() []string {
	var out []string
	entries, _ := fs.ReadDir(static, "static")
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

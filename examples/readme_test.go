package examples_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// readmeTestRE finds the README's test snippet, and providerRE the
// credentials provider inside it.
var (
	readmeTestRE = regexp.MustCompile("(?s)```go\n(func TestMyBot\\(t \\*testing\\.T\\) \\{\n.*?\n\\})\n```")
	providerRE   = regexp.MustCompile(`(?s)\ttokens := (credentials\.ProviderFunc\(.*?\n\t\}\))\n`)
)

// readmeSnippetTest is the test file built around the README's snippet:
// the snippet itself, run as it is, and a test of its provider on its own.
// The provider must honour Request.InstanceTTL: a client started with
// client.WithInstanceTTL(true) must get a limited instance.
const readmeSnippetTest = `package main

import (
	"context"
	"testing"
	"time"

	"github.com/sinchsim/sinchsim/client"
	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/fakebackend"
)

var _ = time.Second

SNIPPET

func TestREADMEProviderInstanceTTL(t *testing.T) {
	srv := fakebackend.RunT(t)
	tokens := PROVIDER
	for _, limited := range []bool{false, true} {
		tok, err := tokens.Token(context.Background(), credentials.Request{UserID: "alice", InstanceTTL: limited})
		if err != nil {
			t.Fatal(err)
		}
		x := credentials.Explain(tok, credentials.ExplainOptions{Now: srv.Now()})
		if _, has := x.Claims[credentials.InstanceExpiryClaim]; has != limited {
			t.Errorf("Request.InstanceTTL %v: the token has %s: %v", limited, credentials.InstanceExpiryClaim, has)
		}
	}
	c, err := client.New(srv.Application().Key, srv.URL(), "bob", client.WithClock(srv.Clock()),
		client.WithCredentialsProvider(tokens), client.WithInstanceTTL(true))
	if err != nil {
		t.Fatal(err)
	}
	defer c.TerminateGracefully()
	c.Start()
	if err := c.WaitStarted(t.Context()); err != nil {
		t.Fatal(err)
	}
	if insts := srv.Instances(); len(insts) != 1 || !insts[0].Limited() {
		t.Fatalf("WithInstanceTTL(true) got %+v, want one limited instance", insts)
	}
}
`

// TestREADMESnippet builds the README's "In your Go tests" snippet into the
// harness package (through a build overlay: nothing is written to the
// source tree) and runs it, with a test that its credentials provider asks
// for a limited instance when the client does.
func TestREADMESnippet(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go test")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command in PATH")
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := readmeTestRE.FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no ```go block starting with func TestMyBot(t *testing.T)")
	}
	snippet := string(m[1])
	p := providerRE.FindStringSubmatch(snippet)
	if p == nil {
		t.Fatal("the README's snippet has no `tokens := credentials.ProviderFunc(...)`")
	}
	src := strings.Replace(strings.Replace(readmeSnippetTest, "SNIPPET", snippet, 1), "PROVIDER", p[1], 1)

	dir := t.TempDir()
	harness, err := filepath.Abs("harness")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "readme_snippet_test.go")
	overlay, _ := json.Marshal(map[string]map[string]string{"Replace": {filepath.Join(harness, "readme_snippet_test.go"): file}})
	if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "overlay.json"), overlay, 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"test"}, raceFlag...)
	args = append(args, "-count=1", "-overlay", filepath.Join(dir, "overlay.json"), "-run", "^(TestMyBot|TestREADMEProviderInstanceTTL)$", "-v", "./harness")
	out, err := exec.Command(goTool, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("go test of the README's snippet: %v\n%s\n--- the file:\n%s", err, out, src)
	}
	for _, name := range []string{"TestMyBot", "TestREADMEProviderInstanceTTL"} {
		if !strings.Contains(string(out), "--- PASS: "+name) {
			t.Errorf("%s did not pass:\n%s", name, out)
		}
	}
}

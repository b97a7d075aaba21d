package examples_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/fakebackend"
)

// TestExamples builds every example with go build and runs it as a user
// would, with flags that make it finish quickly.
func TestExamples(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs binaries")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command in PATH")
	}
	bin := t.TempDir()
	args := append([]string{"build"}, raceFlag...)
	args = append(args, "-o", bin+string(filepath.Separator), "./bot", "./authserver", "./ttlrenewal", "./harness")
	build := exec.Command(goTool, args...)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	path := func(name string) string { return filepath.Join(bin, name) }

	t.Run("bot", func(t *testing.T) {
		t.Parallel()
		testBot(t, path("bot"))
	})
	t.Run("bot store and interrupt", func(t *testing.T) {
		t.Parallel()
		testBotStore(t, path("bot"))
	})
	t.Run("authserver", func(t *testing.T) {
		t.Parallel()
		testAuthServer(t, path("authserver"), path("bot"))
	})
	t.Run("ttlrenewal", func(t *testing.T) {
		t.Parallel()
		testTTLRenewal(t, path("ttlrenewal"))
	})
	t.Run("harness", func(t *testing.T) {
		t.Parallel()
		out := runOK(t, path("harness"))
		wantLines(t, out, "fault      the next createInstance answers unavailable", "bot        reconnecting",
			"bot        harness-bot online: true", "decisions  createInstance=unavailable createInstance=ok", "instances  1")
	})
}

// With no --url the bot runs its own fake backend.
func testBot(t *testing.T, bot string) {
	out := runOK(t, bot, "--duration", "20ms", "--user", "test-bot")
	wantLines(t, out,
		"state: idle -> connecting (start)",
		"callback: credentials required (new registration)",
		"callback: client started",
		"state: registering -> started (registered)",
		"stopping: 20ms elapsed",
		"state: started -> terminated (terminate)",
	)
	if !strings.HasPrefix(out, "backend: ws://127.0.0.1:") || !strings.HasSuffix(out, "terminated gracefully\n") {
		t.Fatalf("output does not start with the backend and end with the termination:\n%s", out)
	}
}

// With --store, a second run against the same backend authenticates with
// the stored instance: no token, so no secret, is needed. The second run
// stays online until interrupted.
func testBotStore(t *testing.T, bot string) {
	srv, app := newBackend(t)
	store := t.TempDir()
	first := runOK(t, bot, "--url", srv.URL(), "--app-key", app.Key, "--app-secret", app.Secret.Text(), "--store", store, "--user", "stored", "--duration", "1ms")
	wantLines(t, first, "callback: credentials required (new registration)", "callback: client started")

	p := start(t, bot, "--url", srv.URL(), "--app-key", app.Key, "--store", store, "--user", "stored")
	p.waitFor(t, "callback: client started")
	second := p.interrupt(t)
	wantLines(t, second, "state: connecting -> authenticating (authenticate)", "stopping: interrupted", "terminated gracefully")
	if strings.Contains(second, "credentials required") {
		t.Fatalf("the second run asked for credentials:\n%s", second)
	}
	if n := len(srv.Instances()); n != 1 {
		t.Fatalf("%d instances, want 1", n)
	}
}

// The auth server issues tokens the backend accepts: fetched directly and
// verified, and through the bot's --auth-url.
func testAuthServer(t *testing.T, authserver, bot string) {
	srv, app := newBackend(t)
	p := start(t, authserver, "--addr", "127.0.0.1:0", "--app-key", app.Key, "--app-secret", app.Secret.Text())
	base, ok := strings.CutPrefix(p.waitFor(t, "authserver listening on "), "authserver listening on ")
	if !ok || !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("listening line %q", base)
	}

	// The challenge time makes the check immune to midnight UTC falling
	// between minting and verifying (the kid date may be either day).
	asked := time.Now()
	resp, body := get(t, base+"/token?userId=alice")
	var tr struct{ Token string }
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &tr) != nil {
		t.Fatalf("GET /token: %s %s", resp.Status, body)
	}
	keys := credentials.NewKeyring()
	keys.Add(app.Key, app.Secret)
	if _, err := credentials.NewVerifier(keys, credentials.VerifierConfig{}).Verify(tr.Token, credentials.VerifyOptions{User: "alice", ChallengeTime: asked}); err != nil {
		t.Fatalf("the auth server's token does not verify: %v", err)
	}
	if resp, body := get(t, base+"/token?userId=no%20spaces"); resp.StatusCode != http.StatusBadRequest || !bytes.Contains(body, []byte(credentials.CodeUserIDInvalid)) {
		t.Fatalf("bad user id: %s %s", resp.Status, body)
	}

	out := runOK(t, bot, "--url", srv.URL(), "--app-key", app.Key, "--auth-url", base+"/token?userId={userId}", "--user", "via-auth", "--duration", "1ms")
	wantLines(t, out, "callback: credentials required (new registration)", "callback: client started")
	if insts := srv.Instances(); len(insts) != 1 || insts[0].User != "via-auth" {
		t.Fatalf("instances %+v", insts)
	}

	p.interrupt(t)
	if logs := p.stderr.String(); strings.Contains(logs, app.Secret.Text()) || strings.Contains(logs, tr.Token) || !strings.Contains(logs, "token issued") {
		t.Fatalf("the auth server's log leaks a secret or a token, or lacks the issue line:\n%s", logs)
	}
}

// The simulation is deterministic: the same flags give the same output.
func testTTLRenewal(t *testing.T, ttlrenewal string) {
	want := `simulating 60 days on a mock clock from 2026-01-01T00:00:00Z, instance TTL 720h0m0s
registered           2026-01-01T00:00:00Z  expires 2026-01-31T00:00:00Z
renewal   1  day  23  2026-01-24T00:00:00Z  expires 2026-02-23T00:00:00Z
renewal   2  day  46  2026-02-16T00:00:00Z  expires 2026-03-18T00:00:00Z
summary: days=60 renewals=2 expiries=0 re-registrations=0 final-expiry=2026-03-18T00:00:00Z
`
	for range 2 {
		if got := runOK(t, ttlrenewal, "--days", "60"); got != want {
			t.Fatalf("output:\n%s\nwant:\n%s", got, want)
		}
	}
}

// newBackend starts a fake backend on the real clock for a subprocess to
// connect to.
func newBackend(t *testing.T) (*fakebackend.Server, fakebackend.Application) {
	t.Helper()
	app := fakebackend.NewApplication()
	srv, err := fakebackend.NewServer(fakebackend.Config{Applications: []fakebackend.Application{app}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv, app
}

// command prepares an example run with a deadline and without the
// caller's SINCH_APP_SECRET.
func command(t *testing.T, bin string, args ...string) *exec.Cmd {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "SINCH_APP_SECRET=")
	return cmd
}

// runOK runs an example to its end and returns its stdout; it must exit 0.
func runOK(t *testing.T, bin string, args ...string) string {
	t.Helper()
	cmd := command(t, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", filepath.Base(bin), strings.Join(args, " "), err, &stdout, &stderr)
	}
	return stdout.String()
}

func wantLines(t *testing.T, out string, want ...string) {
	t.Helper()
	lines := strings.Split(out, "\n")
	for _, w := range want {
		if !slices.Contains(lines, w) {
			t.Fatalf("output lacks the line %q:\n%s", w, out)
		}
	}
}

func get(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// proc is an example running in the background.
type proc struct {
	cmd    *exec.Cmd
	lines  chan string // stdout, line by line; closed at EOF
	seen   []string
	stderr *bytes.Buffer
}

func start(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	cmd := command(t, bin, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, lines: make(chan string, 64), stderr: &bytes.Buffer{}}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return p
}

// waitFor reads stdout until a line starts with prefix and returns it.
func (p *proc) waitFor(t *testing.T, prefix string) string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				p.fail(t, "exited before printing %q", prefix)
			}
			p.seen = append(p.seen, line)
			if strings.HasPrefix(line, prefix) {
				return line
			}
		case <-deadline:
			p.fail(t, "no line %q within 10s", prefix)
		}
	}
}

// fail stops the process and fails the test with its output.
func (p *proc) fail(t *testing.T, format string, args ...any) {
	t.Helper()
	p.cmd.Process.Kill()
	for line := range p.lines {
		p.seen = append(p.seen, line)
	}
	p.cmd.Wait() // after it, stderr is complete and safe to read
	t.Fatalf(format+"\nstdout:\n%s\nstderr:\n%s", append(args, strings.Join(p.seen, "\n"), p.stderr)...)
}

// interrupt sends Ctrl-C, expects a clean exit 0 and returns all of stdout.
func (p *proc) interrupt(t *testing.T) string {
	t.Helper()
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatalf("interrupt: %v", err)
	}
	for line := range p.lines {
		p.seen = append(p.seen, line)
	}
	out := strings.Join(p.seen, "\n") + "\n"
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("after Ctrl-C: %v\nstdout:\n%s\nstderr:\n%s", err, out, p.stderr)
	}
	return out
}

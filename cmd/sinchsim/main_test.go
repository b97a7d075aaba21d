package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/help")

// The reference vector of Sinch's Application authentication page (as in
// credentials/reference_test.go).
const (
	seedAppKey = "a32e5a8d-f7d8-411c-9645-9038e8dd051d"
	seedSecret = "ax8hTTQJF0OPXL32r1LHMA=="
	seedKey    = "AZj5EsS8S7wb06xr5jERqPHsraQt3w/+Ih5EfrhisBQ="
	seedUser   = "foo"
	seedNonce  = "6b438bda-2d5c-4e8c-92b0-39f20a94b34e"
	seedNow    = "2018-01-02T03:04:05Z"
	seedJWT    = "eyJhbGciOiJIUzI1NiIsImtpZCI6ImhrZGZ2MS0yMDE4MDEwMiJ9.eyJpc3MiOiIvL3J0Yy5zaW5jaC5jb20vYXBwbGljYXRpb25zL2EzMmU1YThkLWY3ZDgtNDExYy05NjQ1LTkwMzhlOGRkMDUxZCIsInN1YiI6Ii8vcnRjLnNpbmNoLmNvbS9hcHBsaWNhdGlvbnMvYTMyZTVhOGQtZjdkOC00MTFjLTk2NDUtOTAzOGU4ZGQwNTFkL3VzZXJzL2ZvbyIsImlhdCI6MTUxNDg2MjI0NSwiZXhwIjoxNTE0ODYyODQ1LCJub25jZSI6IjZiNDM4YmRhLTJkNWMtNGU4Yy05MmIwLTM5ZjIwYTk0YjM0ZSJ9.EUltTTD4fxhkwCgLgj6qSQXKawpwQ952Ywm3OwQSARo"
)

// seedCreds are the flags every seed-based invocation starts with.
var seedCreds = []string{"--app-key", seedAppKey, "--app-secret", seedSecret}

// result is one in-process run of the CLI.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return "exit " + strconv.Itoa(r.code) + "\n--- stdout:\n" + r.stdout + "--- stderr:\n" + r.stderr
}

// cli runs the command line in-process with stdin and a background
// context, and fails the test if any secret shows in its output.
func cli(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return cliEnv(t, context.Background(), nil, strings.NewReader(stdin), args...)
}

// cliEnv is cli with a context, a clock (nil: the real one, which tests
// override with --now) and any stdin reader. The command sees no
// environment variables (a SINCHSIM_APP_SECRET of the developer's must not
// change the tests).
func cliEnv(t *testing.T, ctx context.Context, now func() time.Time, stdin io.Reader, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if now == nil {
		now = time.Now
	}
	code := runEnv(ctx, &env{name: "sinchsim", stdin: stdin, stdout: &stdout, stderr: &stderr, now: now, getenv: noEnv}, args)
	r := result{code: code, stdout: stdout.String(), stderr: stderr.String()}
	checkNoSecret(t, r, args)
	return r
}

// checkNoSecret fails when stdout or stderr holds the seed secret, the
// seed's derived key, or any --app-secret value passed in args.
func checkNoSecret(t *testing.T, r result, args []string) {
	t.Helper()
	secrets := []string{seedSecret, seedKey}
	for i, a := range args {
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "app-secret" {
			continue
		}
		if hasValue {
			secrets = append(secrets, value)
		} else if i+1 < len(args) {
			secrets = append(secrets, args[i+1])
		}
	}
	out := r.stdout + r.stderr
	for _, s := range secrets {
		if len(s) >= 4 && strings.Contains(out, s) {
			t.Errorf("output of %q contains the secret %q:\n%v", args, s, r)
		}
	}
	if strings.Contains(out, "goroutine ") || strings.Contains(out, "panic") {
		t.Errorf("output of %q looks like a Go stack:\n%v", args, r)
	}
}

func cat(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestTopLevelUsage(t *testing.T) {
	// No command: the list of commands, on stderr.
	for _, args := range [][]string{nil, {"token"}} {
		r := cli(t, "", args...)
		if r.code != exitUsage || r.stdout != "" || !strings.Contains(r.stderr, "Usage: sinchsim") {
			t.Errorf("%q: want exit 2, usage on stderr only; got %v", args, r)
		}
	}
	// A wrong command or flag: one line and where the usage is.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bogus"}, `sinchsim: unknown command "bogus"`},
		{[]string{"--bogus"}, "sinchsim: unknown flag --bogus; flags go after the command"},
		{[]string{"token", "bogus"}, `sinchsim token: unknown command "bogus"`},
		{[]string{"help", "bogus"}, `sinchsim: unknown command "bogus"`},
		// A mistaken secret flag before the command is named, its value is not.
		{[]string{"--app-secret=" + seedSecret, "token"}, "sinchsim: unknown flag --app-secret;"},
	} {
		r := cli(t, "", tc.args...)
		if r.code != exitUsage || r.stdout != "" || !strings.HasPrefix(r.stderr, tc.want) {
			t.Errorf("%q: want exit 2 and %q; got %v", tc.args, tc.want, r)
		}
		checkUsageError(t, r)
	}
}

// usageHintRE is the second and last line of a usage error.
var usageHintRE = regexp.MustCompile(`^Run 'sinchsim( [a-z]+)* --help' for usage\.$`)

// checkUsageError fails unless r is a usage error as every command prints
// one: exit 2, nothing on stdout, and on stderr exactly two lines, the
// error ("sinchsim CMD: ...") and the pointer to --help; never the usage.
func checkUsageError(t *testing.T, r result) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	if r.code != exitUsage || r.stdout != "" || len(lines) != 2 || !strings.HasPrefix(lines[0], "sinchsim") ||
		!usageHintRE.MatchString(lines[1]) || strings.Contains(r.stderr, "Usage:") {
		t.Errorf("want exit 2 and two lines on stderr, the error and \"Run 'sinchsim ... --help' for usage.\"; got %v", r)
	}
}

// Every command answers a usage error with one line and a pointer to its
// --help, whatever the mistake.
func TestUsageErrorIsOneLine(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // the first line
	}{
		{[]string{"token", "mint", "--colour"}, "sinchsim token mint: unknown flag --colour"},
		{[]string{"token", "mint", "--app-key", "k"}, "sinchsim token mint: missing required flag --app-secret (or set SINCHSIM_APP_SECRET)"},
		{[]string{"token", "verify", "--leeway", "soon"}, `sinchsim token verify: invalid value "soon" for flag --leeway: parse error`},
		{[]string{"token", "explain", "a", "b"}, "sinchsim token explain: too many arguments: want at most 1, got 2"},
		{[]string{"check", "--url"}, "sinchsim check: flag --url needs a value"},
		{[]string{"check", "--url", "http://127.0.0.1:1/{userId}", "--app-key", "k"}, "sinchsim check: missing required flag --app-secret (or set SINCHSIM_APP_SECRET)"},
		{[]string{"serve", "--app", "key:" + seedSecret + "!"}, "sinchsim serve: invalid value for flag --app: the secret of key is not valid base64"},
		{[]string{"serve", "extra"}, "sinchsim serve: unexpected argument: this command takes only flags"},
		{[]string{"demo", "--bogus"}, "sinchsim demo: unknown flag --bogus"},
		{[]string{"bots", "-n", "0"}, "sinchsim bots: -n must be at least 1"},
		{[]string{"bots", "--url", "ws://127.0.0.1:1"}, "sinchsim bots: with --url, give --app-secret (or set SINCHSIM_APP_SECRET) or --auth-url for the tokens"},
		{[]string{"simulate", "--bots", "0"}, "sinchsim simulate: --bots must be at least 1"},
	} {
		r := cli(t, "", tc.args...)
		if !strings.HasPrefix(r.stderr, tc.want+"\n") {
			t.Errorf("%q: want %q first; got %v", tc.args, tc.want, r)
		}
		checkUsageError(t, r)
	}
}

func TestVersion(t *testing.T) {
	for _, flag := range []string{"--version", "-version"} {
		r := cli(t, "", flag)
		// In a test binary the main module's version is "(devel)" or empty
		// (printed as "(devel)"); go install ...@v1.2.3 gives v1.2.3.
		re := regexp.MustCompile(`^sinchsim (\(devel\)|v\S+)( \(revision [0-9a-f]+(-dirty)?\))? ` + regexp.QuoteMeta(runtime.Version()) + "\n$")
		if r.code != exitOK || r.stderr != "" || !re.MatchString(r.stdout) {
			t.Errorf("%s: want exit 0 and one line with the versions; got %v", flag, r)
		}
	}
	// It is a root flag: after a command it is an unknown flag.
	checkUsageError(t, cli(t, "", "token", "mint", "--version"))
}

// helpCases are the golden help texts: file name and the arguments that
// print it.
var helpCases = []struct {
	golden string
	args   []string
}{
	{"sinchsim", []string{"--help"}},
	{"token", []string{"token", "--help"}},
	{"token_mint", []string{"token", "mint", "--help"}},
	{"token_verify", []string{"token", "verify", "--help"}},
	{"token_explain", []string{"token", "explain", "--help"}},
	{"check", []string{"check", "--help"}},
	{"serve", []string{"serve", "--help"}},
	{"demo", []string{"demo", "--help"}},
	{"bots", []string{"bots", "--help"}},
	{"simulate", []string{"simulate", "--help"}},
}

func TestHelpGolden(t *testing.T) {
	for _, tc := range helpCases {
		t.Run(tc.golden, func(t *testing.T) {
			r := cli(t, "", tc.args...)
			if r.code != exitOK || r.stderr != "" {
				t.Fatalf("%q: want exit 0 and nothing on stderr; got %v", tc.args, r)
			}
			path := filepath.Join("testdata", "help", tc.golden+".txt")
			if *update {
				if err := os.WriteFile(path, []byte(r.stdout), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./cmd/sinchsim -run Help -update)", err)
			}
			if r.stdout != string(want) {
				t.Errorf("%q help differs from %s (run with -update if intended):\n%s", tc.args, path, r.stdout)
			}
		})
	}
}

// Every spelling of help prints the same text on stdout and exits 0.
func TestHelpSpellings(t *testing.T) {
	for _, tc := range helpCases {
		want := cli(t, "", tc.args...).stdout
		base := tc.args[:len(tc.args)-1]
		spellings := [][]string{
			append(append([]string{}, base...), "-h"),
			append(append([]string{}, base...), "-help"),
			append([]string{"help"}, base...),
		}
		if len(base) > 1 {
			// Help wins over other flags, required or not.
			spellings = append(spellings, cat(base, []string{"--now", seedNow, "--help"}))
		}
		for _, args := range spellings {
			r := cli(t, "", args...)
			if r.code != exitOK || r.stderr != "" || r.stdout != want {
				t.Errorf("%q: want exit 0 and the %s help; got %v", args, tc.golden, r)
			}
		}
	}
}

// noEnv is an empty environment: what a test sees of the developer's
// environment variables.
func noEnv(string) string { return "" }

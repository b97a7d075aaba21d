package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
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
// override with --now) and any stdin reader.
func cliEnv(t *testing.T, ctx context.Context, now func() time.Time, stdin io.Reader, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	var code int
	if now == nil {
		code = run(ctx, args, stdin, &stdout, &stderr)
	} else {
		code = runEnv(ctx, &env{name: "sinchsim", stdin: stdin, stdout: &stdout, stderr: &stderr, now: now}, args)
	}
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
	for _, args := range [][]string{nil, {"bogus"}, {"--bogus"}, {"token"}, {"token", "bogus"}, {"help", "bogus"}} {
		r := cli(t, "", args...)
		if r.code != exitUsage || r.stdout != "" || !strings.Contains(r.stderr, "Usage: sinchsim") {
			t.Errorf("%q: want exit 2, usage on stderr only; got %v", args, r)
		}
	}
	if r := cli(t, "", "bogus"); !strings.HasPrefix(r.stderr, `sinchsim: unknown command "bogus"`) {
		t.Errorf("unknown command message: %v", r)
	}
	if r := cli(t, "", "token", "bogus"); !strings.HasPrefix(r.stderr, `sinchsim token: unknown command "bogus"`) {
		t.Errorf("unknown subcommand message: %v", r)
	}
	// A mistaken secret flag before the command is named, its value is not.
	if r := cli(t, "", "--app-secret="+seedSecret, "token"); !strings.HasPrefix(r.stderr, "sinchsim: unknown flag --app-secret;") {
		t.Errorf("unknown top-level flag message: %v", r)
	}
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

package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// TestBinary builds the command and runs it as a process once through a
// mint | verify pipe and the other exit statuses, to prove main's wiring.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on PATH")
	}
	bin := filepath.Join(t.TempDir(), "sinchsim")
	if out, err := exec.Command(goTool, "build", "-buildvcs=false", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	exe := func(stdin string, args ...string) (string, string, int) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, envAppSecret+"=") })
		cmd.Stdin = strings.NewReader(stdin)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		checkNoSecret(t, result{code, stdout.String(), stderr.String()}, args)
		return stdout.String(), stderr.String(), code
	}

	tok, stderr, code := exe("", seedMint[0:]...)
	if code != 0 || tok != seedJWT+"\n" {
		t.Fatalf("mint: exit %d, stdout %q, stderr %q", code, tok, stderr)
	}
	verify := cat([]string{"token", "verify"}, seedCreds, []string{"--now", seedNow})
	if out, stderr, code := exe(tok, verify...); code != 0 || out != seedVerifyJSON {
		t.Fatalf("mint | verify: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	if _, stderr, code := exe(tamper(seedJWT), verify...); code != 1 || !strings.HasPrefix(stderr, "signature_invalid: ") {
		t.Fatalf("tampered: exit %d, stderr %q", code, stderr)
	}
	if _, stderr, code := exe("", "token", "mint"); code != 2 || stderr != "sinchsim token mint: missing required flag --app-key\nRun 'sinchsim token mint --help' for usage.\n" {
		t.Fatalf("usage: exit %d, stderr %q", code, stderr)
	}
	// Built in a clone without VCS stamping, the module version is (devel).
	if out, _, code := exe("", "--version"); code != 0 || out != "sinchsim (devel) "+runtime.Version()+"\n" {
		t.Fatalf("--version: exit %d, stdout %q", code, out)
	}
	if out, _, code := exe("", "--help"); code != 0 || !strings.Contains(out, "Commands:") {
		t.Fatalf("--help: exit %d, stdout %q", code, out)
	}
}

package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// cliSecretEnv runs the command line with SINCHSIM_APP_SECRET set to
// secret (and no other environment variable) on the check tests' fixed
// clock, and fails the test if the secret shows in the output.
func cliSecretEnv(t *testing.T, secret, stdin string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	e := &env{name: "sinchsim", stdin: strings.NewReader(stdin), stdout: &stdout, stderr: &stderr, now: fixedClock,
		getenv: func(k string) string {
			if k == envAppSecret {
				return secret
			}
			return ""
		}}
	code := runEnv(context.Background(), e, args)
	r := result{code: code, stdout: stdout.String(), stderr: stderr.String()}
	checkNoSecret(t, r, args)
	if len(secret) >= 4 && strings.Contains(r.stdout+r.stderr, secret) {
		t.Errorf("output of %q shows the secret from the environment:\n%v", args, r)
	}
	return r
}

// Every command that takes --app-secret reads SINCHSIM_APP_SECRET when the
// flag is absent; the flag wins; a bad value is named by its source.
func TestAppSecretFromEnvironment(t *testing.T) {
	const wrong = "c2VjcmV0LW9mLWFub3RoZXItYXBw" // valid base64, another app's secret
	mint := []string{"token", "mint", "--app-key", seedAppKey, "--user", seedUser, "--nonce", seedNonce, "--now", seedNow}
	verify := []string{"token", "verify", "--app-key", seedAppKey, "--now", seedNow}
	explain := []string{"token", "explain", "--now", seedNow}
	checkURL := tokenServer(t, handServer{}.mint)
	check := []string{"check", "--url", checkURL, "--app-key", seedAppKey}
	const botsKey, botsSecret = "app-under-test", "ax8hTTQJF0OPXL32r1LHMA=="
	serveURL := startServe(t, "--app", botsKey+":"+botsSecret)
	bots := []string{"bots", "--url", serveURL, "--app-key", botsKey, "-n", "2"}

	tests := []struct {
		name   string
		secret string // SINCHSIM_APP_SECRET
		stdin  string
		args   []string
		code   int
		want   string // in stdout, or in stderr for a failure
	}{
		{"mint from env", seedSecret, "", mint, exitOK, seedJWT},
		{"mint flag wins", wrong, "", cat(mint, []string{"--app-secret", seedSecret}), exitOK, seedJWT},
		{"mint bad env", "not*base64!", "", mint, exitUsage, "sinchsim token mint: SINCHSIM_APP_SECRET is not valid base64: "},
		{"mint neither", "", "", mint, exitUsage, "missing required flag --app-secret (or set SINCHSIM_APP_SECRET)"},
		{"verify from env", seedSecret, seedJWT, verify, exitOK, `"sub":`},
		{"verify flag wins", seedSecret, seedJWT, cat(verify, []string{"--app-secret", wrong}), exitFail, "signature_invalid: "},
		{"explain from env", seedSecret, seedJWT, explain, exitOK, "PASS valid"},
		{"explain checks the signature with env", wrong, seedJWT, explain, exitFail, "FAIL signature_invalid"},
		{"check from env", seedSecret, "", check, exitOK, "summary: "},
		{"check bad env", "not*base64!", "", check, exitUsage, "sinchsim check: SINCHSIM_APP_SECRET is not valid base64"},
		{"bots from env", botsSecret, "", bots, exitOK, "started              2"},
		{"bots flag wins", wrong, "", cat(bots, []string{"--app-secret", botsSecret, "--user-prefix", "flag-"}), exitOK, "started              2"},
		{"bots bad env", "not*base64!", "", bots, exitUsage, "sinchsim bots: SINCHSIM_APP_SECRET is not valid base64"},
		// With --auth-url, or without --url, the environment's secret is
		// not needed and does not get in the way.
		{"bots env ignored with auth url", botsSecret, "", []string{"bots", "--auth-url", "http://127.0.0.1:1/{userId}", "--app-key", "k", "-n", "1"}, exitFail, "registration_failed"},
		{"bots env ignored in process", "not*base64!", "", []string{"bots", "-n", "1"}, exitOK, "started              1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := cliSecretEnv(t, tt.secret, tt.stdin, tt.args...)
			out := r.stdout
			if tt.code == exitUsage || tt.code == exitFail && !strings.Contains(out, tt.want) {
				out = r.stderr
			}
			if r.code != tt.code || !strings.Contains(out, tt.want) {
				t.Fatalf("want exit %d and %q; got %v", tt.code, tt.want, r)
			}
		})
	}
}

// Each --help that shows --app-secret names the environment variable.
func TestHelpNamesSecretEnv(t *testing.T) {
	for _, tc := range helpCases {
		r := cli(t, "", tc.args...)
		if strings.Contains(r.stdout, "--app-secret") && !strings.Contains(r.stdout, "SINCHSIM_APP_SECRET") {
			t.Errorf("%q: --help shows --app-secret without SINCHSIM_APP_SECRET", tc.args)
		}
	}
}

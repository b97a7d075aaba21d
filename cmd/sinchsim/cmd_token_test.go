package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/sinchsim/sinchsim/credentials"
)

const seedVerifyJSON = `{
  "header": {
    "alg": "HS256",
    "kid": "hkdfv1-20180102"
  },
  "claims": {
    "iss": "//rtc.sinch.com/applications/a32e5a8d-f7d8-411c-9645-9038e8dd051d",
    "sub": "//rtc.sinch.com/applications/a32e5a8d-f7d8-411c-9645-9038e8dd051d/users/foo",
    "iat": 1514862245,
    "exp": 1514862845,
    "nonce": "6b438bda-2d5c-4e8c-92b0-39f20a94b34e"
  }
}
`

var seedMint = cat([]string{"token", "mint"}, seedCreds, []string{"--user", seedUser, "--nonce", seedNonce, "--now", seedNow})

func TestMintReferenceByteForByte(t *testing.T) {
	r := cli(t, "", seedMint...)
	if r.code != exitOK || r.stdout != seedJWT+"\n" || r.stderr != "" {
		t.Fatalf("want the reference JWT and a newline; got %v", r)
	}
}

// Without --now, mint reads the command's clock.
func TestMintDefaultNow(t *testing.T) {
	clock := func() time.Time { return time.Date(2018, 1, 2, 3, 4, 5, 0, time.UTC) }
	args := cat([]string{"token", "mint"}, seedCreds, []string{"--user", seedUser, "--nonce", seedNonce})
	r := cliEnv(t, context.Background(), clock, strings.NewReader(""), args...)
	if r.code != exitOK || r.stdout != seedJWT+"\n" {
		t.Fatalf("want the reference JWT from the env clock; got %v", r)
	}
}

func TestMintOptions(t *testing.T) {
	base := cat([]string{"token", "mint"}, seedCreds, []string{"--user", "bot-7", "--now", seedNow})
	verify := func(t *testing.T, tok string) map[string]json.RawMessage {
		t.Helper()
		r := cli(t, tok, cat([]string{"token", "verify"}, seedCreds, []string{"--user", "bot-7", "--now", seedNow})...)
		if r.code != exitOK {
			t.Fatalf("minted token does not verify: %v", r)
		}
		var out struct{ Claims map[string]json.RawMessage }
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
			t.Fatal(err)
		}
		return out.Claims
	}

	t.Run("random nonce", func(t *testing.T) {
		a, b := cli(t, "", base...), cli(t, "", base...)
		if a.code != exitOK || b.code != exitOK || a.stdout == b.stdout {
			t.Fatalf("two mints without --nonce must differ:\n%v\n%v", a, b)
		}
		for _, r := range []result{a, b} {
			var nonce string
			if err := json.Unmarshal(verify(t, r.stdout)["nonce"], &nonce); err != nil || len(nonce) != 36 {
				t.Errorf("nonce %q is not a UUID (%v)", nonce, err)
			}
		}
	})
	t.Run("ttl and instance ttl", func(t *testing.T) {
		r := cli(t, "", cat(base, []string{"--ttl", "1h", "--instance-ttl", "8760h"})...)
		if r.code != exitOK {
			t.Fatal(r)
		}
		c := verify(t, r.stdout)
		if string(c["iat"]) != "1514862245" || string(c["exp"]) != "1514865845" || string(c[credentials.InstanceExpiryClaim]) != "1546398245" {
			t.Errorf("claims = %s", c)
		}
	})
	t.Run("no instance ttl by default", func(t *testing.T) {
		r := cli(t, "", base...)
		if _, ok := verify(t, r.stdout)[credentials.InstanceExpiryClaim]; ok {
			t.Error("sinch:rtc:instance:exp present without --instance-ttl")
		}
	})
}

func TestVerifyReference(t *testing.T) {
	verify := cat([]string{"token", "verify"}, seedCreds, []string{"--now", seedNow})
	cases := []struct {
		name  string
		stdin string
		args  []string
	}{
		{"argument", "", cat(verify, []string{seedJWT})},
		{"argument with user", "", cat(verify, []string{"--user", seedUser, seedJWT})},
		{"stdin dash", seedJWT + "\n", cat(verify, []string{"-"})},
		{"stdin implicit", "  \r\n" + seedJWT + "\r\n\n", verify},
		{"flags in another order", "", cat([]string{"token", "verify", "--now", seedNow, "--app-secret", seedSecret, "--leeway", "1s", "--app-key", seedAppKey}, []string{seedJWT})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := cli(t, tc.stdin, tc.args...)
			if r.code != exitOK || r.stdout != seedVerifyJSON || r.stderr != "" {
				t.Fatalf("want exit 0 and\n%s\ngot %v", seedVerifyJSON, r)
			}
		})
	}
}

// The JSON keeps the token's own member order and number spelling, as other
// encoders (sorted keys, typ header) produce them.
func TestVerifyKeepsMemberOrder(t *testing.T) {
	header := `{"typ":"JWT","kid":"hkdfv1-20180102","alg":"HS256"}`
	claims := `{"exp":1514862845,"iat":1514862245,"iss":"//rtc.sinch.com/applications/` + seedAppKey +
		`","nonce":"n-1","sub":"//rtc.sinch.com/applications/` + seedAppKey + `/users/foo"}`
	tok := sign(header, claims, credentials.SigningKeyForDate(credentials.MustParseSecret(seedSecret), "20180102"))
	r := cli(t, "", cat([]string{"token", "verify"}, seedCreds, []string{"--now", seedNow, tok})...)
	want := `{
  "header": {
    "typ": "JWT",
    "kid": "hkdfv1-20180102",
    "alg": "HS256"
  },
  "claims": {
    "exp": 1514862845,
    "iat": 1514862245,
    "iss": "//rtc.sinch.com/applications/a32e5a8d-f7d8-411c-9645-9038e8dd051d",
    "nonce": "n-1",
    "sub": "//rtc.sinch.com/applications/a32e5a8d-f7d8-411c-9645-9038e8dd051d/users/foo"
  }
}
`
	if r.code != exitOK || r.stdout != want {
		t.Fatalf("want\n%s\ngot %v", want, r)
	}
}

// sign assembles a compact JWS from header and claims JSON texts.
func sign(header, claims string, key []byte) string {
	enc := base64.RawURLEncoding
	input := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(claims))
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(input))
	return input + "." + enc.EncodeToString(mac.Sum(nil))
}

// tamper extends the token's exp and keeps its signature: the forgery a
// signature must catch.
func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	claims, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		panic(err)
	}
	forged := strings.Replace(string(claims), `"exp":1514862845`, `"exp":1514869999`, 1)
	if forged == string(claims) {
		panic("tamper: no seed exp in " + string(claims))
	}
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(forged)) + "." + parts[2]
}

func TestVerifyRejects(t *testing.T) {
	verify := cat([]string{"token", "verify"}, seedCreds)
	cases := []struct {
		name  string
		stdin string
		args  []string
		code  string
	}{
		{"tampered payload", "", cat(verify, []string{"--now", seedNow, tamper(seedJWT)}), credentials.CodeSignatureInvalid},
		{"tampered on stdin", tamper(seedJWT), cat(verify, []string{"--now", seedNow}), credentials.CodeSignatureInvalid},
		{"wrong secret", "", []string{"token", "verify", "--app-key", seedAppKey, "--app-secret", "c2VjcmV0LW9mLWFub3RoZXItYXBw", "--now", seedNow, seedJWT}, credentials.CodeSignatureInvalid},
		{"expired", "", cat(verify, []string{"--now", "2018-01-02T03:20:00Z", seedJWT}), credentials.CodeTokenExpired},
		{"expired without leeway", "", cat(verify, []string{"--now", "2018-01-02T03:14:20Z", "--leeway", "0", seedJWT}), credentials.CodeTokenExpired},
		{"not yet valid", "", cat(verify, []string{"--now", "2018-01-02T03:00:00Z", seedJWT}), credentials.CodeTokenNotYetValid},
		{"other user", "", cat(verify, []string{"--now", seedNow, "--user", "bar", seedJWT}), credentials.CodeSubjectMismatch},
		{"kid date of another day", "", cat(verify, []string{"--now", "2018-01-05T03:04:05Z", seedJWT}), credentials.CodeKidDateMismatch},
		{"unknown application", "", []string{"token", "verify", "--app-key", "other-app", "--app-secret", seedSecret, "--now", seedNow, seedJWT}, credentials.CodeUnknownApplication},
		{"not a jwt", "", cat(verify, []string{"--now", seedNow, "hello"}), credentials.CodeTokenMalformed},
		{"empty stdin", " \n", verify, credentials.CodeTokenMalformed},
		{"stdin over 1 MiB", strings.Repeat("a", maxStdinToken+1), verify, credentials.CodeTokenMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := cli(t, tc.stdin, tc.args...)
			if r.code != exitFail || r.stdout != "" {
				t.Fatalf("want exit 1 and no stdout; got %v", r)
			}
			first, _, _ := strings.Cut(r.stderr, "\n")
			if !strings.HasPrefix(first, tc.code+": ") || len(first) <= len(tc.code)+2 {
				t.Fatalf("first stderr line %q does not start with %q and a reason", first, tc.code+": ")
			}
		})
	}
}

// When Explain knows the mistake behind a rejection, verify adds one line
// naming it after the "code: reason" line; otherwise it prints that line
// alone.
func TestVerifyDiagnosis(t *testing.T) {
	parts := strings.Split(seedJWT, ".")
	hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
	claims, _ := base64.RawURLEncoding.DecodeString(parts[1])
	hmacOf := func(key []byte, msg string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	secret := credentials.MustParseSecret(seedSecret)
	msClaims := strings.Replace(string(claims), `"iat":1514862245`, `"iat":1514862245000`, 1)
	cases := []struct {
		name  string
		token string
		code  string // first line's code
		diag  string // second line's code; "": no second line
	}{
		{"key from the secret's text", sign(string(hdr), string(claims), hmacOf([]byte(seedSecret), "20180102")), credentials.CodeSignatureInvalid, credentials.DiagSecretNotBase64Decoded},
		{"underived secret", sign(string(hdr), string(claims), secret.Bytes()), credentials.CodeSignatureInvalid, credentials.DiagKeyNotDerived},
		{"iat in milliseconds", sign(string(hdr), msClaims, credentials.SigningKeyForDate(secret, "20180102")), credentials.CodeTokenTTLTooShort, credentials.DiagTimestampsInMilliseconds},
		{"tampered payload", tamper(seedJWT), credentials.CodeSignatureInvalid, ""},
		{"expired", seedJWT, credentials.CodeTokenExpired, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			now := seedNow
			if tc.name == "expired" {
				now = "2018-01-02T04:00:00Z"
			}
			r := cli(t, tc.token, cat([]string{"token", "verify", "--now", now}, seedCreds)...)
			lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
			if r.code != exitFail || r.stdout != "" || !strings.HasPrefix(lines[0], tc.code+": ") {
				t.Fatalf("want exit 1 and %q first; got %v", tc.code+": ", r)
			}
			switch {
			case tc.diag == "" && len(lines) != 1:
				t.Fatalf("want one stderr line; got %v", r)
			case tc.diag != "" && (len(lines) != 2 || !strings.HasPrefix(lines[1], "diagnosis: "+tc.diag+": ")):
				t.Fatalf("want a second line %q; got %v", "diagnosis: "+tc.diag+": ", r)
			}
		})
	}
}

func TestVerifyLeewayAndChallengeTime(t *testing.T) {
	verify := cat([]string{"token", "verify"}, seedCreds)
	// Minted 20 s before midnight UTC, checked 5 minutes after it: the kid
	// date is yesterday's, accepted only as the challenge's date.
	late := cli(t, "", cat([]string{"token", "mint"}, seedCreds, []string{"--user", seedUser, "--now", "2018-01-02T23:59:40Z"})...)
	if late.code != exitOK {
		t.Fatal(late)
	}
	tok := strings.TrimSpace(late.stdout)
	cases := []struct {
		args []string
		want int
		code string
	}{
		{cat(verify, []string{"--now", "2018-01-03T00:05:00Z", tok}), exitFail, credentials.CodeKidDateMismatch},
		{cat(verify, []string{"--now", "2018-01-03T00:05:00Z", "--challenge-time", "2018-01-02T23:59:39Z", tok}), exitOK, ""},
		{cat(verify, []string{"--now", "2018-01-03T00:05:00Z", "--challenge-time", "2018-01-03T00:04:00Z", tok}), exitFail, credentials.CodeKidDateMismatch},
		// Within the default leeway of midnight, yesterday's kid passes.
		{cat(verify, []string{"--now", "2018-01-03T00:00:10Z", tok}), exitOK, ""},
		{cat(verify, []string{"--now", "2018-01-03T00:00:10Z", "--leeway", "0", tok}), exitFail, credentials.CodeKidDateMismatch},
		// exp is 00:09:40; the default leeway stretches it by 30 s.
		{cat(verify, []string{"--now", "2018-01-03T00:09:55Z", "--challenge-time", "2018-01-02T23:59:39Z", tok}), exitOK, ""},
		{cat(verify, []string{"--now", "2018-01-03T00:09:55Z", "--challenge-time", "2018-01-02T23:59:39Z", "--leeway", "10s", tok}), exitFail, credentials.CodeTokenExpired},
	}
	for _, tc := range cases {
		r := cli(t, "", tc.args...)
		if r.code != tc.want || tc.code != "" && !strings.HasPrefix(r.stderr, tc.code+": ") {
			t.Errorf("%q: want exit %d %s; got %v", tc.args[len(tc.args)-5:], tc.want, tc.code, r)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	mint := []string{"token", "mint"}
	verify := []string{"token", "verify"}
	explain := []string{"token", "explain"}
	user := []string{"--user", seedUser}
	cases := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"mint without app key", cat(mint, []string{"--app-secret", seedSecret}, user), "missing required flag --app-key"},
		{"mint without secret", cat(mint, []string{"--app-key", seedAppKey}, user), "missing required flag --app-secret"},
		{"mint without user", cat(mint, seedCreds), "missing required flag --user"},
		{"mint empty user", cat(mint, seedCreds, []string{"--user="}), "missing required flag --user"},
		{"mint bad user", cat(mint, seedCreds, []string{"--user", "a b"}), "--user is not a valid user id: "},
		{"mint ttl under a minute", cat(mint, seedCreds, user, []string{"--ttl", "59s"}), "--ttl 59s is under the 1m0s Sinch requires"},
		{"mint negative ttl", cat(mint, seedCreds, user, []string{"--ttl", "-10m"}), "--ttl -10m0s is under"},
		{"mint fractional ttl", cat(mint, seedCreds, user, []string{"--ttl", "90.5s"}), "not whole seconds"},
		{"mint instance ttl under 48h", cat(mint, seedCreds, user, []string{"--instance-ttl", "47h"}), "--instance-ttl 47h0m0s is under the 48h0m0s"},
		{"mint bad duration", cat(mint, seedCreds, user, []string{"--ttl", "ten"}), `invalid value "ten" for flag --ttl`},
		{"mint bad now", cat(mint, seedCreds, user, []string{"--now", "2018-01-02"}), "not an RFC 3339 time"},
		{"mint unknown flag", cat(mint, seedCreds, user, []string{"--colour"}), "unknown flag --colour"},
		{"mint positional", cat(mint, seedCreds, user, []string{"extra"}), "takes only flags"},
		{"mint bad secret", cat(mint, []string{"--app-key", seedAppKey, "--app-secret", "not*base64*secret!"}, user), "--app-secret is not valid base64: "},
		{"mint secret flag without value", cat(mint, []string{"--app-key", seedAppKey}, user, []string{"--app-secret"}), "flag --app-secret needs a value"},
		{"verify without secret", cat(verify, []string{"--app-key", seedAppKey, seedJWT}), "missing required flag --app-secret"},
		{"verify without app key", cat(verify, []string{"--app-secret", seedSecret, seedJWT}), "missing required flag --app-key"},
		{"verify bad secret", cat(verify, []string{"--app-key", seedAppKey, "--app-secret=not*base64*secret!", seedJWT}), "--app-secret is not valid base64: "},
		{"verify two tokens", cat(verify, seedCreds, []string{seedJWT, seedJWT}), "too many arguments: want at most 1, got 2"},
		{"verify flag after token", cat(verify, []string{"--app-key", seedAppKey, seedJWT, "--app-secret", seedSecret}), "flag --app-secret must come before the positional arguments"},
		{"verify flag=value after token", cat(verify, []string{"--app-key", seedAppKey, seedJWT, "--app-secret=" + seedSecret}), "flag --app-secret must come before"},
		{"verify negative leeway", cat(verify, seedCreds, []string{"--leeway", "-1s", seedJWT}), "--leeway -1s is negative"},
		{"verify bad challenge time", cat(verify, seedCreds, []string{"--challenge-time", "yesterday", seedJWT}), "not an RFC 3339 time"},
		{"explain bad secret", cat(explain, []string{"--app-secret", "not*base64*secret!", seedJWT}), "--app-secret is not valid base64: "},
		{"explain two tokens", cat(explain, []string{seedJWT, "-"}), "too many arguments"},
		{"explain unknown flag", cat(explain, []string{"--jsn", seedJWT}), "unknown flag --jsn"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := cli(t, seedJWT, tc.args...)
			if r.code != exitUsage || r.stdout != "" || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("want exit 2, no stdout and %q on stderr; got %v", tc.want, r)
			}
			checkUsageError(t, r)
		})
	}
}

func TestExplain(t *testing.T) {
	explain := []string{"token", "explain", "--now", seedNow}

	t.Run("valid with secret", func(t *testing.T) {
		r := cli(t, "", cat(explain, seedCreds, []string{"--user", seedUser, seedJWT})...)
		if r.code != exitOK || !strings.Contains(r.stdout, "PASS valid: the token passes every rule") || r.stderr != "" {
			t.Fatal(r)
		}
		if !strings.Contains(r.stdout, `header:  {"alg":"HS256","kid":"hkdfv1-20180102"}`) || !strings.Contains(r.stdout, "iat                    2018-01-02T03:04:05Z") {
			t.Errorf("no decode in %v", r)
		}
	})
	t.Run("valid without secret, from stdin", func(t *testing.T) {
		r := cli(t, seedJWT+"\n", explain...)
		if r.code != exitOK || !strings.Contains(r.stdout, "signature not checked") {
			t.Fatal(r)
		}
	})
	t.Run("expired", func(t *testing.T) {
		r := cli(t, "", "token", "explain", "--now", "2018-01-03T00:00:00Z", seedJWT)
		if r.code != exitFail || !strings.Contains(r.stdout, "FAIL token_expired") {
			t.Fatal(r)
		}
	})
	t.Run("signed with the secret's text", func(t *testing.T) {
		// The classic mistake: the HMAC key derived from the base64 text itself.
		textKey := hmac.New(sha256.New, []byte(seedSecret))
		textKey.Write([]byte("20180102"))
		parts := strings.Split(seedJWT, ".")
		hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
		claims, _ := base64.RawURLEncoding.DecodeString(parts[1])
		tok := sign(string(hdr), string(claims), textKey.Sum(nil))

		r := cli(t, "", cat(explain, seedCreds, []string{tok})...)
		if r.code != exitFail || !strings.Contains(r.stdout, "FAIL "+credentials.DiagSecretNotBase64Decoded+":") || !strings.Contains(r.stdout, "FAIL signature_invalid:") {
			t.Fatalf("want exit 1 naming %s; got %v", credentials.DiagSecretNotBase64Decoded, r)
		}
		// And verify refuses it with the rule code.
		v := cli(t, tok, cat([]string{"token", "verify", "--now", seedNow}, seedCreds)...)
		if v.code != exitFail || !strings.HasPrefix(v.stderr, "signature_invalid: ") {
			t.Fatal(v)
		}

		j := cli(t, tok, cat(explain, seedCreds, []string{"--json", "-"})...)
		var x struct {
			Header   map[string]any
			Claims   map[string]any
			Verified *bool
			Findings []credentials.Finding
		}
		if err := json.Unmarshal([]byte(j.stdout), &x); err != nil {
			t.Fatalf("--json output is not one JSON object: %v\n%v", err, j)
		}
		if j.code != exitFail || x.Verified == nil || *x.Verified || x.Header["kid"] != "hkdfv1-20180102" || x.Claims["sub"] == nil {
			t.Fatalf("--json: %v", j)
		}
		found := false
		for _, f := range x.Findings {
			found = found || f.Code == credentials.DiagSecretNotBase64Decoded && f.Severity == credentials.Fail
		}
		if !found {
			t.Errorf("--json findings lack %s: %v", credentials.DiagSecretNotBase64Decoded, j)
		}
	})
	t.Run("json valid", func(t *testing.T) {
		r := cli(t, "", cat(explain, seedCreds, []string{"--json", seedJWT})...)
		var x map[string]json.RawMessage
		if err := json.Unmarshal([]byte(r.stdout), &x); err != nil || r.code != exitOK {
			t.Fatalf("%v: %v", err, r)
		}
		for _, k := range []string{"header", "claims", "verified", "findings"} {
			if _, ok := x[k]; !ok {
				t.Errorf("--json lacks %q: %s", k, r.stdout)
			}
		}
		if string(x["verified"]) != "true" {
			t.Errorf("verified = %s", x["verified"])
		}
	})
	t.Run("malformed", func(t *testing.T) {
		r := cli(t, "", "token", "explain", "not-a-token")
		if r.code != exitFail || !strings.Contains(r.stdout, "FAIL token_malformed") {
			t.Fatal(r)
		}
	})
	t.Run("control characters are not printed", func(t *testing.T) {
		hdr := base64.RawURLEncoding.EncodeToString([]byte("{\"alg\":\"HS256\",\"kid\":\"\x1b[2J\x07\"}"))
		r := cli(t, "", "token", "explain", "--now", seedNow, hdr+".e30.AAAA")
		if r.code != exitFail || strings.ContainsAny(r.stdout, "\x1b\x07") || !strings.Contains(r.stdout, "header:") {
			t.Fatalf("%q", r.stdout)
		}
	})
}

// A read from stdin stops when the context is cancelled (SIGINT).
func TestInterruptedRead(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close() // releases the reading goroutine
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := cliEnv(t, ctx, nil, pr, cat([]string{"token", "verify"}, seedCreds)...)
	if r.code != exitInterrupted || !strings.Contains(r.stderr, "interrupted") {
		t.Fatal(r)
	}
}

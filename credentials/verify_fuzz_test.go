package credentials

import (
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// checkVerifyInvariants is what every input must satisfy: no panic, errors
// are *Error with a known code and a one-line reason that leaks nothing, a
// rejection returns no token, and Explain agrees with Verify.
func checkVerifyInvariants(t *testing.T, v *Verifier, token string) {
	t.Helper()
	tk, err := v.Verify(token, VerifyOptions{Now: seedTime})
	if err != nil {
		var e *Error
		if !errors.As(err, &e) || !slices.Contains(Codes(), e.Code) {
			t.Fatalf("error %#v is not an *Error with a known code", err)
		}
		if tk != nil {
			t.Fatal("token returned with an error")
		}
		if strings.ContainsAny(e.Message, "\n\r") || len(e.Message) > 400 {
			t.Fatalf("reason %q", e.Message)
		}
		assertNoSecret(t, "reason", e.Message)
	} else {
		if tk == nil || tk.Raw != token || tk.Claims.UserID == "" || tk.Claims.ApplicationKey == "" {
			t.Fatalf("accepted with token %+v", tk)
		}
		if userIDProblem(tk.Claims.UserID) != "" || tk.Claims.ExpiresAt-tk.Claims.IssuedAt < 60 {
			t.Fatalf("accepted a token that breaks a rule: %+v", tk.Claims)
		}
		// Anything accepted here is a token golang-jwt accepts too.
		_, jerr := jwt.Parse(token, golangJWTKeyfunc(seedSecretValue), jwt.WithValidMethods([]string{"HS256"}),
			jwt.WithTimeFunc(func() time.Time { return seedTime }), jwt.WithLeeway(DefaultLeeway))
		if jerr != nil {
			t.Fatalf("accepted here, golang-jwt says %v", jerr)
		}
	}

	// Explain never panics, with or without the secret, and (for a token
	// without surrounding space, which Explain trims) agrees with Verify.
	_ = Explain(token, ExplainOptions{Now: seedTime}).String()
	x := Explain(token, ExplainOptions{Now: seedTime, ChallengeTime: seedTime, Secret: seedSecretValue, ApplicationKey: seedAppKey})
	checkExplanation(t, x)
	if strings.TrimSpace(token) != token {
		return
	}
	if CodeOf(x.Verdict) != CodeOf(err) {
		t.Fatalf("Explain verdict %v, Verify %v", x.Verdict, err)
	}
	if err == nil && x.Failed() {
		t.Fatalf("valid token FAILs in Explain:\n%s", x)
	}
	if err != nil {
		if f := x.Finding(CodeOf(err)); f == nil || f.Severity != Fail {
			t.Fatalf("Verify says %v; Explain:\n%s", err, x)
		}
	}
}

func fuzzVerifier() *Verifier {
	keys := NewKeyring()
	keys.Add(seedAppKey, seedSecretValue)
	return NewVerifier(keys, VerifierConfig{})
}

// FuzzVerify feeds arbitrary tokens to Verify and Explain. The corpus in
// testdata/fuzz/FuzzVerify holds the seed token and broken ones; every row
// of the verification tables is added too.
func FuzzVerify(f *testing.F) {
	for _, c := range rejectionCases(f) {
		if c.call == nil {
			f.Add(c.token)
		}
	}
	for _, c := range acceptCases(f) {
		f.Add(c.token)
	}
	v := fuzzVerifier()
	f.Fuzz(func(t *testing.T, token string) {
		checkVerifyInvariants(t, v, token)
	})
}

// FuzzVerifySigned fuzzes the header and payload texts and signs them with
// the right key, so that the claim rules (past the signature) get explored:
// the invariants of FuzzVerify hold, and a token that verifies has no FAIL
// in Explain.
func FuzzVerifySigned(f *testing.F) {
	f.Add(hdr(seedDate), seedClaims().json())
	f.Add(`{"typ":"JWT","alg":"HS256","kid":"hkdfv1-20180102"}`, `{"exp":1514862845,"iat":1514862245,"iss":"`+seedIss+`","nonce":"n","sub":"`+seedSub+`"}`)
	f.Add(hdr(seedDate), seedClaims().set(InstanceExpiryClaim, "1515035045").set("nbf", "1514862200.5").json())
	f.Add(hdr("20180101"), seedClaims().times(1514862245000, 1514862845000).json())
	f.Add(`{"alg":"HS256","Kid":"hkdfv1-20180102","type":"JWT"}`, seedClaims().set("sub", js(subFor("f\xc3o"))).json())
	v := fuzzVerifier()
	f.Fuzz(func(t *testing.T, header, payload string) {
		dates := []string{seedDate}
		if d, ok := parseKidDate(kidOf(header)); ok && d != seedDate {
			dates = append(dates, d)
		}
		for _, d := range dates {
			checkVerifyInvariants(t, v, signJWT(t, header, payload, keyFor(d)))
		}
	})
}

var kidRE = regexp.MustCompile(`"kid"\s*:\s*"([^"]*)"`)

// kidOf extracts a kid from a header text by pattern, to sign with the key
// of whatever date the fuzzer put there.
func kidOf(header string) string {
	if m := kidRE.FindStringSubmatch(header); m != nil {
		return m[1]
	}
	return ""
}

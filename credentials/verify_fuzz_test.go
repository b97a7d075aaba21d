package credentials

import (
	"bytes"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

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
		if strings.ContainsAny(e.Reason, "\n\r") || len(e.Reason) > 400 {
			t.Fatalf("reason %q", e.Reason)
		}
		assertNoSecret(t, "reason", e.Reason)
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

// FuzzParseJSONObject compares the strict reader with encoding/json: what
// the strict reader accepts is valid JSON with the same members; valid,
// UTF-8, duplicate-free JSON objects within the limits are accepted.
func FuzzParseJSONObject(f *testing.F) {
	for _, s := range []string{
		`{}`, ` { } `, `{"a":1}`, `{"a":1,"a":2}`, `{"a":"\u00e9\ud83d\ude00","b":[1,{"c":null}],"d":-0.5e+3,"e":true,"f":false}`,
		`{"a":1,}`, `{"a":01}`, `{"a":"\ud800"}`, "{\"a\":\"\xff\"}", `{"a":1} x`, `[]`, `"s"`, `{"a":[[[[[[]]]]]]}`,
		`{"s\u0075b":1,"sub":2}`, `{"a":"\/\b\f\n\r\t\"\\"}`, `{"a":1.}`, `{"a":-}`, `{"a":tru}`, seedClaims().json(),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fields, reason := parseJSONObject(data, nil)
		loose, looseReason := parseJSONObjectAnyBytes(data, nil)
		if reason == "" {
			if !json.Valid(data) {
				t.Fatalf("strict accepts invalid JSON %q", data)
			}
			if looseReason != "" || len(loose) != len(fields) {
				t.Fatalf("the any-bytes reader refuses what the strict one accepts: %s", looseReason)
			}
			var m map[string]json.RawMessage
			if err := json.Unmarshal(data, &m); err != nil {
				t.Fatalf("strict accepts %q, encoding/json: %v", data, err)
			}
			if len(m) != len(fields) {
				t.Fatalf("%d members, encoding/json sees %d", len(fields), len(m))
			}
			for _, fl := range fields {
				raw, ok := m[string(fl.key)]
				if !ok {
					t.Fatalf("member %q unknown to encoding/json", fl.key)
				}
				switch fl.kind {
				case kindString:
					var s string
					if err := json.Unmarshal(raw, &s); err != nil || s != string(fl.str) {
						t.Fatalf("member %q = %q, encoding/json %q (%v)", fl.key, fl.str, s, err)
					}
				case kindNumber, kindBool, kindNull, kindObject, kindArray:
					if !bytes.Equal(bytes.TrimSpace(raw), fl.raw) {
						t.Fatalf("member %q raw %q, encoding/json %q", fl.key, fl.raw, raw)
					}
				default:
					t.Fatalf("member %q has no kind", fl.key)
				}
			}
			return
		}
		if reason == "" || strings.ContainsAny(reason, "\n\r") {
			t.Fatalf("bad reason %q", reason)
		}
		// Refused: it must be something the strict reader is meant to refuse.
		if !json.Valid(data) || !utf8.Valid(data) || loneSurrogate.Match(data) {
			return
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(data, &m) != nil {
			return // valid JSON, but not an object
		}
		if hasDuplicateTopLevelKey(data) || len(m) > maxJSONFields || nestingDepth(data) >= maxJSONDepth {
			return
		}
		t.Fatalf("strict refuses valid JSON %q: %s", data, reason)
	})
}

// loneSurrogate matches any \u escape of a surrogate; encoding/json accepts
// unpaired ones, the strict reader does not (pairs are fine, but telling
// them apart is not worth a regexp here).
var loneSurrogate = regexp.MustCompile(`\\u[dD][89abcdefABCDEF]`)

func hasDuplicateTopLevelKey(data []byte) bool {
	d := json.NewDecoder(bytes.NewReader(data))
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		return false
	}
	seen := map[string]bool{}
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			return false
		}
		k, _ := tok.(string)
		if seen[k] {
			return true
		}
		seen[k] = true
		var skip json.RawMessage
		if d.Decode(&skip) != nil {
			return false
		}
	}
	return false
}

// nestingDepth is the deepest bracket nesting outside strings.
func nestingDepth(data []byte) int {
	depth, max, inStr, esc := 0, 0, false, false
	for _, c := range data {
		switch {
		case inStr && esc:
			esc = false
		case inStr && c == '\\':
			esc = true
		case c == '"':
			inStr = !inStr
		case inStr:
		case c == '{' || c == '[':
			depth++
			if depth > max {
				max = depth
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return max
}

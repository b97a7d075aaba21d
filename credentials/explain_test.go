package credentials

import (
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// failCodes returns the codes of the FAIL findings, sorted.
func failCodes(x *Explanation) []string {
	var out []string
	for _, f := range x.Findings {
		if f.Severity == Fail {
			out = append(out, f.Code)
		}
	}
	sort.Strings(out)
	return out
}

// checkExplanation asserts the invariants of every explanation: one finding
// per code, failures first, no secret in any message, and DiagValid first
// exactly when nothing failed.
func checkExplanation(tb testing.TB, x *Explanation) {
	tb.Helper()
	seen := map[string]bool{}
	last := 0
	for i, f := range x.Findings {
		if seen[f.Code] {
			tb.Fatalf("duplicate finding %s:\n%s", f.Code, x)
		}
		seen[f.Code] = true
		if f.Message == "" || strings.ContainsAny(f.Message, "\n\r") {
			tb.Fatalf("finding %s has a bad message %q", f.Code, f.Message)
		}
		assertNoSecret(tb, "finding "+f.Code, f.Message)
		if f.Code == DiagValid {
			if i != 0 || f.Severity != Pass {
				tb.Fatalf("valid finding at %d:\n%s", i, x)
			}
			continue
		}
		if r := f.Severity.rank(); r < last {
			tb.Fatalf("findings out of order:\n%s", x)
		} else {
			last = r
		}
		if !slices.Contains(Codes(), f.Code) && !slices.Contains(DiagCodes(), f.Code) {
			tb.Fatalf("unknown finding code %q", f.Code)
		}
	}
	if x.Failed() == seen[DiagValid] {
		tb.Fatalf("Failed() = %v but valid present = %v:\n%s", x.Failed(), seen[DiagValid], x)
	}
	if x.Verified && x.Failed() {
		tb.Fatalf("verified and failed:\n%s", x)
	}
	if _, err := json.Marshal(x); err != nil {
		tb.Fatalf("explanation does not marshal: %v", err)
	}
	assertNoSecret(tb, "String()", x.String())
}

// TestExplainMistakes: each classic mistake is diagnosed with its code, and
// the only other FAILs are the rule codes it causes.
func TestExplainMistakes(t *testing.T) {
	for _, tt := range explainMistakeCases(t) {
		t.Run(tt.name, func(t *testing.T) { checkMistake(t, tt) })
	}
}

// explainMistake is a row of TestExplainMistakes.
type explainMistake struct {
	name     string
	token    string
	opt      ExplainOptions
	diag     string   // the code that names the mistake
	sev      Severity // its severity
	alsoFail []string // the rule codes the mistake causes
}

// explainMistakeCases: one token per classic mistake.
func explainMistakeCases(t *testing.T) []explainMistake {
	t.Helper()
	const iat = int64(1514862245)
	sc := seedClaims()
	textKey := func(date string) []byte { return signingKeyForDate([]byte(seedSecret), date) }
	west := time.FixedZone("UTC-5", -5*3600)
	east := time.FixedZone("UTC+10", 10*3600)
	evening := time.Date(2018, 1, 2, 20, 0, 0, 0, time.UTC) // 2018-01-03 06:00 at UTC+10
	eveningClaims := sc.times(evening.Unix(), evening.Unix()+600)
	localDate := func(tm time.Time, loc *time.Location) string { return tm.In(loc).Format(DateFormat) }

	tests := []explainMistake{
		{name: "key from the secret's text", token: signJWT(t, hdr(seedDate), sc.json(), textKey(seedDate)),
			diag: DiagSecretNotBase64Decoded, sev: Fail, alsoFail: []string{CodeSignatureInvalid}},
		{name: "key from the secret's text, SINClientRegistration reference style", token: signJWT(t, hdr(seedDate), sc.set(InstanceExpiryClaim, "1515035045").json(), textKey(seedDate)),
			diag: DiagSecretNotBase64Decoded, sev: Fail, alsoFail: []string{CodeSignatureInvalid}},
		{name: "decoded secret not derived", token: signJWT(t, hdr(seedDate), sc.json(), seedSecretValue.Bytes()),
			diag: DiagKeyNotDerived, sev: Fail, alsoFail: []string{CodeSignatureInvalid}},
		{name: "secret text not derived", token: signJWT(t, hdr(seedDate), sc.json(), []byte(seedSecret)),
			diag: DiagKeyNotDerived, sev: Fail, alsoFail: []string{CodeSignatureInvalid, DiagSecretNotBase64Decoded}},
		{name: "kid and key for the local date, west of UTC",
			token: tok(t, localDate(seedTime, west), sc),
			diag:  DiagKidDateNotUTC, sev: Fail, alsoFail: []string{CodeKidDateMismatch}},
		{name: "kid and key for the local date, east of UTC",
			token: tok(t, localDate(evening, east), eveningClaims), opt: ExplainOptions{Now: evening},
			diag: DiagKidDateNotUTC, sev: Fail, alsoFail: []string{CodeKidDateMismatch}},
		{name: "key for the UTC date, kid local",
			token: signJWT(t, hdr(localDate(seedTime, west)), sc.json(), keyFor(seedDate)),
			diag:  DiagKidDateNotUTC, sev: Fail, alsoFail: []string{CodeKidDateMismatch}},
		{name: "kid UTC, key for the local date",
			token: signJWT(t, hdr(seedDate), sc.json(), keyFor(localDate(seedTime, west))),
			diag:  DiagKidDateNotUTC, sev: Fail, alsoFail: []string{CodeSignatureInvalid}},
		{name: "kid local and key from the secret's text",
			token: signJWT(t, hdr(localDate(seedTime, west)), sc.json(), textKey(localDate(seedTime, west))),
			diag:  DiagKidDateNotUTC, sev: Fail, alsoFail: []string{CodeKidDateMismatch, DiagSecretNotBase64Decoded}},
		{name: "timestamps in milliseconds", token: tok(t, seedDate, sc.times(iat*1000, (iat+600)*1000)),
			diag: DiagTimestampsInMilliseconds, sev: Fail, alsoFail: []string{CodeTokenNotYetValid}},
		{name: "Date.now() for iat only", token: tok(t, seedDate, sc.times(iat*1000, iat+600)),
			diag: DiagTimestampsInMilliseconds, sev: Fail, alsoFail: []string{CodeTokenTTLTooShort}},
		{name: "exp in milliseconds (accepted, lives forever)", token: tok(t, seedDate, sc.times(iat, (iat+600)*1000)),
			diag: DiagTimestampsInMilliseconds, sev: Warn},
		{name: "instance exp in milliseconds", token: tok(t, seedDate, sc.set(InstanceExpiryClaim, itoa64((iat+365*86400)*1000))),
			diag: DiagTimestampsInMilliseconds, sev: Warn},
		{name: "header type for typ", token: signJWT(t, `{"alg":"HS256","kid":"hkdfv1-20180102","type":"JWT"}`, sc.json(), keyFor(seedDate)),
			diag: DiagHeaderTypo, sev: Warn},
		{name: "header Kid", token: signJWT(t, `{"alg":"HS256","Kid":"hkdfv1-20180102"}`, sc.json(), keyFor(seedDate)),
			diag: DiagHeaderTypo, sev: Fail, alsoFail: []string{CodeKidInvalid}},
		{name: "header ALG", token: signJWT(t, `{"ALG":"HS256","kid":"hkdfv1-20180102"}`, sc.json(), keyFor(seedDate)),
			diag: DiagHeaderTypo, sev: Fail, alsoFail: []string{CodeTokenAlgorithm}},
		{name: "header Typ beside typ", token: signJWT(t, `{"alg":"HS256","kid":"hkdfv1-20180102","typ":"JWT","Typ":"JWT"}`, sc.json(), keyFor(seedDate)),
			diag: DiagHeaderTypo, sev: Warn},
		{name: "ttl 59 s", token: tok(t, seedDate, sc.times(iat, iat+59)),
			diag: CodeTokenTTLTooShort, sev: Fail},
		{name: "instance ttl 48h - 1s", token: tok(t, seedDate, sc.set(InstanceExpiryClaim, itoa64(iat+48*3600-1))),
			diag: CodeInstanceTTLTooShort, sev: Fail},
		{name: "instance ttl 1 day", token: tok(t, seedDate, sc.set(InstanceExpiryClaim, itoa64(iat+86400))),
			diag: CodeInstanceTTLTooShort, sev: Fail},
		{name: "user id not UTF-8", token: tok(t, seedDate, sc.set("sub", js(subFor("f\xc3o")))),
			diag: CodeUserIDInvalid, sev: Fail, alsoFail: []string{CodeTokenMalformed}},
		{name: "user id Latin-1", token: tok(t, seedDate, sc.set("sub", js(subFor("j\xf6rg")))),
			diag: CodeUserIDInvalid, sev: Fail, alsoFail: []string{CodeTokenMalformed}},
		{name: "user id with a space", token: tok(t, seedDate, sc.set("sub", js(subFor("foo bar")))),
			diag: CodeUserIDInvalid, sev: Fail},
		{name: "user id with unicode", token: tok(t, seedDate, sc.set("sub", js(subFor("jörg")))),
			diag: CodeUserIDInvalid, sev: Fail},
		{name: "user id email", token: tok(t, seedDate, sc.set("sub", js(subFor("a@b.c")))),
			diag: CodeUserIDInvalid, sev: Fail},
		{name: "user id of 256 bytes", token: tok(t, seedDate, sc.set("sub", js(subFor(strings.Repeat("u", 256))))),
			diag: CodeUserIDInvalid, sev: Fail},
		{name: "long token", token: tok(t, seedDate, sc.times(iat, iat+86400)),
			diag: DiagTokenTTLLong, sev: Warn},
	}
	for _, name := range []string{"iss", "sub", "iat", "exp", "nonce"} {
		tests = append(tests, explainMistake{name: "missing " + name, token: tok(t, seedDate, sc.del(name)), diag: CodeClaimMissing, sev: Fail})
	}
	return tests
}

// checkMistake explains tt's token with and without the secret and checks
// the diagnosis and the FAILs it brings.
func checkMistake(t *testing.T, tt explainMistake) {
	t.Helper()
	for _, withSecret := range []bool{true, false} {
		opt := tt.opt
		if opt.Now.IsZero() {
			opt.Now = seedTime
		}
		opt.ApplicationKey = seedAppKey
		if withSecret {
			opt.Secret = seedSecretValue
		}
		x := Explain(tt.token, opt)
		checkExplanation(t, x)
		f := x.Finding(tt.diag)
		signatureOnly := tt.diag == DiagSecretNotBase64Decoded || tt.diag == DiagKeyNotDerived || tt.name == "kid UTC, key for the local date"
		if !withSecret && signatureOnly {
			if x.Failed() {
				t.Fatalf("without the secret, a signature mistake cannot show, but:\n%s", x)
			}
			continue
		}
		if f == nil || f.Severity != tt.sev {
			t.Fatalf("secret=%v: want %s %s:\n%s", withSecret, tt.sev, tt.diag, x)
		}
		want := append([]string(nil), tt.alsoFail...)
		if tt.sev == Fail {
			want = append(want, tt.diag)
		}
		if !withSecret {
			// Without the secret only what the static checks see.
			want = slices.DeleteFunc(want, func(c string) bool {
				return c == CodeSignatureInvalid || c == DiagSecretNotBase64Decoded || c == DiagKeyNotDerived
			})
		}
		sort.Strings(want)
		got := failCodes(x)
		if withSecret && !slices.Equal(got, want) {
			t.Fatalf("FAILs = %v, want %v:\n%s", got, want, x)
		}
		if !withSecret {
			// The static checks may miss a consequence, never add one.
			for _, c := range got {
				if !slices.Contains(want, c) && !slices.Contains(tt.alsoFail, c) {
					t.Fatalf("without secret, unrelated FAIL %s:\n%s", c, x)
				}
			}
			if tt.sev == Fail && !slices.Contains(got, tt.diag) {
				t.Fatalf("without secret, %s not FAIL:\n%s", tt.diag, x)
			}
		}
		if withSecret && tt.sev != Fail && !x.Verified {
			t.Fatalf("a WARN-only token did not verify:\n%s", x)
		}
	}
}

func TestExplainKidLocalMessages(t *testing.T) {
	west := time.FixedZone("UTC-5", -5*3600)
	local := seedTime.In(west).Format(DateFormat)
	// Key for the UTC date, kid for the local one: the message says the key
	// is right and the kid is not.
	x := Explain(signJWT(t, hdr(local), seedClaims().json(), keyFor(seedDate)), ExplainOptions{Secret: seedSecretValue, Now: seedTime})
	f := x.Finding(DiagKidDateNotUTC)
	if f == nil || !strings.Contains(f.Message, "key for "+seedDate) {
		t.Fatalf("want the key date named:\n%s", x)
	}
}

func TestExplainValid(t *testing.T) {
	for _, withSecret := range []bool{true, false} {
		opt := ExplainOptions{Now: seedTime}
		if withSecret {
			opt.Secret = seedSecretValue
		}
		x := Explain(seedJWT, opt)
		checkExplanation(t, x)
		if x.Failed() || x.Findings[0].Code != DiagValid || x.Verified != withSecret || x.Verdict != nil {
			t.Fatalf("secret=%v:\n%s", withSecret, x)
		}
		for _, f := range x.Findings {
			if f.Severity == Warn {
				t.Errorf("seed token has a warning: %v", f)
			}
		}
		if x.Claims["iss"] != seedIss || x.Header["kid"] != "hkdfv1-"+seedDate {
			t.Errorf("decoded = %v %v", x.Header, x.Claims)
		}
		s := x.String()
		if !strings.Contains(s, "PASS valid") || !strings.Contains(s, "2018-01-02T03:04:05Z") {
			t.Errorf("String():\n%s", s)
		}
	}
	// A token from golang-jwt: typ and sorted claims are noted, not failed.
	gj := golangJWTToken(t, seedMapClaims(), seedTime)
	x := Explain(gj, ExplainOptions{Secret: seedSecretValue, Now: seedTime})
	checkExplanation(t, x)
	if x.Failed() || !x.Verified || !x.Has(DiagTypHeader) || !x.Has(DiagClaimOrder) {
		t.Fatalf("golang-jwt token:\n%s", x)
	}
	for _, f := range x.Findings {
		if f.Severity != Pass && f.Severity != Warn {
			t.Fatalf("golang-jwt token finding %v", f)
		}
	}
	// Surrounding whitespace (a token pasted from a terminal) is ignored.
	if x := Explain("  "+seedJWT+"\n", ExplainOptions{Secret: seedSecretValue, Now: seedTime}); x.Failed() {
		t.Fatalf("padded token:\n%s", x)
	}
}

// TestExplainAgreesWithVerify runs every row of the verification tables
// through Explain: a rejected token must FAIL with the verifier's code, an
// accepted one must have no FAIL.
func TestExplainAgreesWithVerify(t *testing.T) {
	for _, c := range rejectionCases(t) {
		if c.call != nil {
			continue // nonce reuse and legacy: not Explain's business
		}
		t.Run("reject/"+c.code+"/"+c.name, func(t *testing.T) {
			x := Explain(c.token, explainOptsFor(c.token, c.opt))
			checkExplanation(t, x)
			if c.name == "leading space" {
				// Explain trims what a terminal adds; Verify does not.
				if x.Failed() {
					t.Fatalf("trimmed token:\n%s", x)
				}
				return
			}
			if f := x.Finding(c.code); f == nil || f.Severity != Fail {
				t.Fatalf("want FAIL %s:\n%s", c.code, x)
			}
			if CodeOf(x.Verdict) != c.code {
				t.Fatalf("verdict %v, want %s", x.Verdict, c.code)
			}
		})
	}
	for _, c := range acceptCases(t) {
		t.Run("accept/"+c.name, func(t *testing.T) {
			x := Explain(c.token, explainOptsFor(c.token, c.opt))
			checkExplanation(t, x)
			if x.Failed() || !x.Verified {
				t.Fatalf("valid token:\n%s", x)
			}
		})
	}
}

// explainOptsFor maps verification options onto Explain's: the seed
// application (or the other one, for its token), and the challenge: Explain
// assumes it was at iat when none is given, the verifier assumes only
// "today", which a challenge at now reproduces.
func explainOptsFor(token string, o VerifyOptions) ExplainOptions {
	now := o.Now
	if now.IsZero() {
		now = seedTime
	}
	ch := o.ChallengeTime
	if ch.IsZero() {
		ch = now
	}
	x := ExplainOptions{Secret: seedSecretValue, ApplicationKey: seedAppKey, Now: now, User: o.User, ChallengeTime: ch}
	if Explain(token, ExplainOptions{Now: now}).Claims["iss"] == IssuerPrefix+otherAppKey {
		x.Secret, x.ApplicationKey = MustParseSecret(otherSecret), otherAppKey
	}
	return x
}

func TestExplainWithoutApplication(t *testing.T) {
	// No secret, no key: Explain still decodes and checks what it can.
	x := Explain(seedJWT, ExplainOptions{Now: seedTime.Add(time.Hour)})
	checkExplanation(t, x)
	if !x.Has(CodeTokenExpired) || x.Verdict != nil {
		t.Fatalf("expired without secret:\n%s", x)
	}
	// A secret but a token without iss: the key given is used.
	noIss := tok(t, seedDate, seedClaims().del("iss"))
	x = Explain(noIss, ExplainOptions{Now: seedTime, Secret: seedSecretValue})
	checkExplanation(t, x)
	if !x.Has(CodeClaimMissing) {
		t.Fatalf("no iss:\n%s", x)
	}
	// The wrong application key.
	x = Explain(seedJWT, ExplainOptions{Now: seedTime, Secret: seedSecretValue, ApplicationKey: otherAppKey})
	checkExplanation(t, x)
	if got := failCodes(x); !slices.Equal(got, []string{CodeUnknownApplication}) {
		t.Fatalf("other application: %v\n%s", got, x)
	}
	// The secret of another application.
	x = Explain(seedJWT, ExplainOptions{Now: seedTime, Secret: MustParseSecret(otherSecret)})
	checkExplanation(t, x)
	if f := x.Finding(CodeSignatureInvalid); f == nil || !strings.Contains(f.Message, "no usual mistake") {
		t.Fatalf("other secret:\n%s", x)
	}
}

func TestExplainGarbage(t *testing.T) {
	for _, in := range []string{
		"", ".", "..", "...", "a.b.c", "a.b", seedJWT + ".x.y", strings.Repeat("a", MaxTokenLength+1),
		"eyJhbGciOiJIUzI1NiJ9.e30.", "e30.e30.e30", "bnVsbA.bnVsbA.bnVsbA", // {} and null
		"W10.W10.W10", // []
	} {
		x := Explain(in, ExplainOptions{Now: seedTime, Secret: seedSecretValue, ApplicationKey: seedAppKey})
		checkExplanation(t, x)
		if !x.Failed() {
			t.Errorf("%q: no FAIL:\n%s", in, x)
		}
	}
}

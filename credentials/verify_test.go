package credentials

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

// sentinels maps every code to its errors.Is sentinel.
var sentinels = map[string]*Error{
	CodeTokenMalformed:        ErrTokenMalformed,
	CodeTokenAlgorithm:        ErrTokenAlgorithm,
	CodeKidInvalid:            ErrKidInvalid,
	CodeKidDateMismatch:       ErrKidDateMismatch,
	CodeSignatureInvalid:      ErrSignatureInvalid,
	CodeUnknownApplication:    ErrUnknownApplication,
	CodeSubjectMismatch:       ErrSubjectMismatch,
	CodeUserIDInvalid:         ErrUserIDInvalid,
	CodeClaimMissing:          ErrClaimMissing,
	CodeClaimInvalid:          ErrClaimInvalid,
	CodeTokenExpired:          ErrTokenExpired,
	CodeTokenNotYetValid:      ErrTokenNotYetValid,
	CodeTokenTTLTooShort:      ErrTokenTTLTooShort,
	CodeInstanceTTLTooShort:   ErrInstanceTTLTooShort,
	CodeNonceReused:           ErrNonceReused,
	CodeSequenceNotIncreasing: ErrSequenceNotIncreasing,
}

// rejectionCase is one row of TestRejections.
type rejectionCase struct {
	name  string
	token string
	opt   VerifyOptions
	// call replaces Verify(token) for cases that need more than one call
	// (nonce reuse) or another API (legacy).
	call func(t *testing.T) error
	code string
}

// rejectionCases builds the table: each case breaks exactly one rule.
// Tokens are signed by hand (signJWT) with the right key unless the
// signature is the point.
func rejectionCases(t testing.TB) []rejectionCase {
	t.Helper()
	k := &caseKit{t: t, sc: seedClaims(), parts: strings.Split(seedJWT, ".")}
	if k.good = tok(t, seedDate, k.sc); k.good != seedJWT {
		t.Fatalf("test helper does not reproduce the seed token:\n%s", k.good)
	}
	// A nonce whose base64url encoding holds '-' or '_', to test the
	// standard alphabet.
	if p := strings.Split(k.alphabetToken(), ".")[1]; !strings.ContainsAny(p, "-_") {
		t.Fatal("alphabet test payload has no - or _")
	}
	k.malformedCases()
	k.headerCases()
	k.kidDateCases()
	k.signatureCases()
	k.subjectCases()
	k.claimCases()
	k.timeCases()
	k.replayCases()
	return k.cases
}

// tcase is a row of rejectionCases, short for the table literals.
type tcase = rejectionCase

// caseKit builds the rows of rejectionCases: the reference claims and token,
// helpers that break one thing of it, and the rows so far.
type caseKit struct {
	t     testing.TB
	sc    claimSet
	good  string   // the seed token
	parts []string // its parts
	cases []rejectionCase
}

// withHeader signs a header text with the seed claims and the right key.
func (k *caseKit) withHeader(h string) string { return signJWT(k.t, h, k.sc.json(), keyFor(seedDate)) }

// withClaims signs claims under the reference header with the right key.
func (k *caseKit) withClaims(c claimSet) string { return tok(k.t, seedDate, c) }

// withSub is the seed token with sub naming user.
func (k *caseKit) withSub(user string) string { return k.withClaims(k.sc.set("sub", js(subFor(user)))) }

// alphabetToken has a nonce whose payload encoding holds '-' or '_'.
func (k *caseKit) alphabetToken() string { return k.withClaims(k.sc.set("nonce", js("???>>>~~~"))) }

// add appends rows with code.
func (k *caseKit) add(code string, cs ...rejectionCase) {
	for _, c := range cs {
		c.code = code
		k.cases = append(k.cases, c)
	}
}

// rfc3339 parses a time for the table.
func rfc3339(s string) time.Time {
	tm, _ := time.Parse(time.RFC3339, s)
	return tm
}

// Rule 1: three base64url parts holding strict JSON objects.
func (k *caseKit) malformedCases() {
	t, sc, seedParts, withHeader := k.t, k.sc, k.parts, k.withHeader
	withClaims, withSub, add, b64 := k.withClaims, k.withSub, k.add, base64.RawURLEncoding.EncodeToString
	hugePad, alphabetTok := strings.Repeat("x", 9<<10), k.alphabetToken()
	stdHeader := base64.URLEncoding.EncodeToString([]byte(`{"alg":"HS256","kid":"hkdfv1-20180102" }`)) // 40 bytes: "=="
	if !strings.HasSuffix(stdHeader, "=") {
		t.Fatal("padded header has no '='")
	}
	ap := strings.Split(alphabetTok, ".")
	add(CodeTokenMalformed,
		tcase{name: "empty token", token: ""},
		tcase{name: "one part", token: seedParts[0]},
		tcase{name: "two parts", token: seedParts[0] + "." + seedParts[1]},
		tcase{name: "four parts", token: seedJWT + "." + seedParts[2]},
		tcase{name: "five parts (JWE)", token: seedJWT + ".a.b"},
		tcase{name: "9 KiB token", token: withClaims(sc.set("pad", js(hugePad)))},
		tcase{name: "empty header part", token: "." + seedParts[1] + "." + seedParts[2]},
		tcase{name: "empty payload part", token: seedParts[0] + ".." + seedParts[2]},
		tcase{name: "empty signature part", token: seedParts[0] + "." + seedParts[1] + "."},
		tcase{name: "all parts empty", token: ".."},
		tcase{name: "padded header", token: signInput(stdHeader+"."+seedParts[1], keyFor(seedDate))},
		tcase{name: "standard alphabet payload", token: signInput(ap[0]+"."+strings.NewReplacer("-", "+", "_", "/").Replace(ap[1]), keyFor(seedDate))},
		tcase{name: "padded signature", token: seedJWT + "="},
		tcase{name: "not base64", token: "!!!." + seedParts[1] + "." + seedParts[2]},
		tcase{name: "leading space", token: " " + seedJWT},
		tcase{name: "header not JSON", token: signInput(b64([]byte("alg=HS256"))+"."+seedParts[1], keyFor(seedDate))},
		tcase{name: "header is an array", token: withHeader(`["HS256","hkdfv1-20180102"]`)},
		tcase{name: "header is a string", token: withHeader(`"HS256"`)},
		tcase{name: "header duplicate alg", token: withHeader(`{"alg":"HS256","alg":"HS256","kid":"hkdfv1-20180102"}`)},
		tcase{name: "header duplicate kid", token: withHeader(`{"alg":"HS256","kid":"hkdfv1-20180102","kid":"hkdfv1-20180102"}`)},
		tcase{name: "header invalid UTF-8", token: withHeader("{\"alg\":\"HS256\",\"kid\":\"hkdfv1-20180102\",\"x\":\"\xff\"}")},
		tcase{name: "header trailing comma", token: withHeader(`{"alg":"HS256","kid":"hkdfv1-20180102",}`)},
		tcase{name: "header typ JWS", token: withHeader(`{"alg":"HS256","kid":"hkdfv1-20180102","typ":"JWS"}`)},
		tcase{name: "header typ number", token: withHeader(`{"alg":"HS256","kid":"hkdfv1-20180102","typ":1}`)},
		tcase{name: "header crit", token: withHeader(`{"alg":"HS256","kid":"hkdfv1-20180102","crit":["exp"]}`)},
		tcase{name: "payload duplicate sub", token: signJWT(t, hdr(seedDate), strings.TrimSuffix(sc.json(), "}")+`,"sub":"`+seedSub+`"}`, keyFor(seedDate))},
		tcase{name: "payload duplicate sub, escaped", token: signJWT(t, hdr(seedDate), strings.TrimSuffix(sc.json(), "}")+`,"s\u0075b":"`+seedSub+`"}`, keyFor(seedDate))},
		tcase{name: "payload invalid UTF-8", token: withClaims(sc.set("nonce", js("nonce-\xff\xfe")))},
		tcase{name: "payload invalid UTF-8 in user id", token: withSub("f\xc3o")},
		tcase{name: "payload unescaped control character", token: withClaims(sc.set("nonce", "\"a\x01b\""))},
		tcase{name: "payload bad escape", token: withClaims(sc.set("nonce", `"a\qb"`))},
		tcase{name: "payload unpaired surrogate", token: withClaims(sc.set("nonce", `"\ud800"`))},
		tcase{name: "payload trailing data", token: signJWT(t, hdr(seedDate), sc.json()+" {}", keyFor(seedDate))},
		tcase{name: "payload is an array", token: signJWT(t, hdr(seedDate), "["+sc.json()+"]", keyFor(seedDate))},
		tcase{name: "payload nested too deep", token: withClaims(sc.set("deep", strings.Repeat("[", 40)+strings.Repeat("]", 40)))},
		tcase{name: "payload leading zero number", token: withClaims(sc.set("iat", "01514862245"))},
		tcase{name: "payload NaN", token: withClaims(sc.set("iat", "NaN"))},
		tcase{name: "payload empty object text", token: signJWT(t, hdr(seedDate), "", keyFor(seedDate))},
	)
	// The structure is judged before the content: a header that breaks a
	// rule of its own does not hide a part that is not base64url or JSON.
	noKid, algNone := b64([]byte(`{"alg":"HS256"}`)), b64([]byte(`{"alg":"none"}`))
	add(CodeTokenMalformed,
		tcase{name: "structure: payload not base64url, header without kid", token: "eyJhbGciOiJIUzI1NiJ9.%%%.x"},
		tcase{name: "structure: payload not base64url, alg none", token: algNone + ".%%%." + seedParts[2]},
		tcase{name: "structure: payload not JSON, header without kid", token: signInput(noKid+"."+b64([]byte("iss=x")), keyFor(seedDate))},
		tcase{name: "structure: payload an array, alg none", token: algNone + "." + b64([]byte("[1]")) + "."},
		tcase{name: "structure: signature not base64url, header without kid", token: noKid + "." + seedParts[1] + ".%%%"},
		tcase{name: "structure: signature padded, kid invalid", token: withHeader(`{"alg":"HS256","kid":"x"}`) + "="},
		tcase{name: "structure: signature not base64url, claims missing", token: seedParts[0] + "." + b64([]byte("{}")) + ".!"},
	)
}

// Rule 2: alg exactly HS256.
func (k *caseKit) headerCases() {
	seedParts, withHeader, add, b64 := k.parts, k.withHeader, k.add, base64.RawURLEncoding.EncodeToString
	for name, h := range map[string]string{
		"alg none":       `{"alg":"none","kid":"hkdfv1-20180102"}`,
		"alg HS384":      `{"alg":"HS384","kid":"hkdfv1-20180102"}`,
		"alg HS512":      `{"alg":"HS512","kid":"hkdfv1-20180102"}`,
		"alg RS256":      `{"alg":"RS256","kid":"hkdfv1-20180102"}`,
		"alg ES256":      `{"alg":"ES256","kid":"hkdfv1-20180102"}`,
		"alg missing":    `{"kid":"hkdfv1-20180102"}`,
		"alg number":     `{"alg":256,"kid":"hkdfv1-20180102"}`,
		"alg null":       `{"alg":null,"kid":"hkdfv1-20180102"}`,
		"alg lower case": `{"alg":"hs256","kid":"hkdfv1-20180102"}`,
		"alg padded":     `{"alg":"HS256 ","kid":"hkdfv1-20180102"}`,
		"alg empty":      `{"alg":"","kid":"hkdfv1-20180102"}`,
		"alg escaped":    `{"alg":"HS\u0032\u0035\u0036x","kid":"hkdfv1-20180102"}`,
	} {
		add(CodeTokenAlgorithm, tcase{name: name, token: withHeader(h)})
	}
	add(CodeTokenAlgorithm, tcase{name: "alg none unsigned", token: b64([]byte(`{"alg":"none"}`)) + "." + seedParts[1] + "."})

	// Rule 3: kid is hkdfv1-YYYYMMDD with a real date...
	for name, kid := range map[string]string{
		"kid month 13":      `"hkdfv1-20181302"`,
		"kid seven digits":  `"hkdfv1-2018010"`,
		"kid nine digits":   `"hkdfv1-201801020"`,
		"kid path":          `"hkdfv1-../../x"`,
		"kid path same len": `"hkdfv1-../../.."`,
		"kid huge":          `"hkdfv1-` + strings.Repeat("9", 4000) + `"`,
		"kid number":        `20180102`,
		"kid null":          `null`,
		"kid empty":         `""`,
		"kid upper prefix":  `"HKDFV1-20180102"`,
		"kid other version": `"hkdfv2-20180102"`,
		"kid dashed date":   `"hkdfv1-2018-01-02"`,
		"kid february 30":   `"hkdfv1-20180230"`,
		"kid february 29":   `"hkdfv1-20170229"`,
		"kid before 1970":   `"hkdfv1-19691231"`,
		"kid day zero":      `"hkdfv1-20180100"`,
		"kid trailing nul":  `"hkdfv1-20180102\u0000"`,
		"kid fullwidth":     `"hkdfv1-２０１８０１０２"`,
		"kid object":        `{"date":"20180102"}`,
	} {
		add(CodeKidInvalid, tcase{name: name, token: withHeader(`{"alg":"HS256","kid":` + kid + `}`)})
	}
	add(CodeKidInvalid, tcase{name: "kid missing", token: withHeader(`{"alg":"HS256"}`)})
	add(CodeKidInvalid, tcase{name: "kid misspelt Kid", token: withHeader(`{"alg":"HS256","Kid":"hkdfv1-20180102"}`)})
}

// ...and its date is the challenge's UTC date or today's.
func (k *caseKit) kidDateCases() {
	t, sc, add, at := k.t, k.sc, k.add, rfc3339
	iat, midnight := int64(1514862245), int64(1514851200)
	yesterday := tok(t, "20180101", sc)
	add(CodeKidDateMismatch,
		tcase{name: "kid yesterday (local date west of UTC)", token: yesterday},
		tcase{name: "kid tomorrow", token: tok(t, "20180103", sc)},
		tcase{name: "kid a year ago", token: tok(t, "20170102", sc)},
		tcase{name: "kid neither challenge nor today", token: tok(t, "20171231", sc), opt: VerifyOptions{ChallengeTime: at("2018-01-01T12:00:00Z")}},
		tcase{name: "kid yesterday past the midnight leeway",
			token: tok(t, "20180101", sc.times(midnight-10, midnight+590)),
			opt:   VerifyOptions{Now: at("2018-01-02T00:00:30Z")}},
		tcase{name: "kid tomorrow before the midnight leeway",
			token: tok(t, "20180102", sc.times(iat-3*3600-600, iat-3*3600)),
			opt:   VerifyOptions{Now: at("2018-01-01T23:59:29Z")}},
	)
}

// Rule 4: the signature, under the key derived for the kid date.
func (k *caseKit) signatureCases() {
	t, sc, seedParts, withSub := k.t, k.sc, k.parts, k.withSub
	add, b64, legacySig := k.add, base64.RawURLEncoding.EncodeToString, LegacySignature("alice", seedAppKey, 7, seedSecretValue)
	tampered := seedParts[0] + "." + b64([]byte(sc.set("sub", js(subFor("fop"))).json())) + "." + seedParts[2]
	sigBytes, _ := base64.RawURLEncoding.DecodeString(seedParts[2])
	flipped := append([]byte(nil), sigBytes...)
	flipped[31] ^= 1
	add(CodeSignatureInvalid,
		tcase{name: "other application's secret", token: signJWT(t, hdr(seedDate), sc.json(), SigningKeyForDate(MustParseSecret(otherSecret), seedDate))},
		tcase{name: "key from the secret's text", token: signJWT(t, hdr(seedDate), sc.json(), signingKeyForDate([]byte(seedSecret), seedDate))},
		tcase{name: "key not derived", token: signJWT(t, hdr(seedDate), sc.json(), seedSecretValue.Bytes())},
		tcase{name: "secret text as key", token: signJWT(t, hdr(seedDate), sc.json(), []byte(seedSecret))},
		tcase{name: "key of another date", token: signJWT(t, hdr(seedDate), sc.json(), keyFor("20180101"))},
		tcase{name: "payload tampered", token: tampered},
		tcase{name: "signature bit flipped", token: seedParts[0] + "." + seedParts[1] + "." + b64(flipped)},
		tcase{name: "signature truncated", token: seedParts[0] + "." + seedParts[1] + "." + b64(sigBytes[:31])},
		tcase{name: "signature too long", token: seedParts[0] + "." + seedParts[1] + "." + b64(append(sigBytes, 0))},
		tcase{name: "signature of another token", token: seedParts[0] + "." + seedParts[1] + "." + strings.Split(withSub("bar"), ".")[2]},
		tcase{name: "legacy signature of another sequence", call: func(t *testing.T) error {
			return VerifyLegacy("alice", seedAppKey, 8, legacySig, seedSecretValue, 0)
		}},
		tcase{name: "legacy signature with another secret", call: func(t *testing.T) error {
			return VerifyLegacy("alice", seedAppKey, 7, LegacySignature("alice", seedAppKey, 7, MustParseSecret(otherSecret)), seedSecretValue, 0)
		}},
		tcase{name: "legacy signature empty", call: func(t *testing.T) error {
			return VerifyLegacy("alice", seedAppKey, 7, "", seedSecretValue, 0)
		}},
	)
}

// Rule 5: iss names a known application; sub matches iss and the user;
// user ids are 1-255 bytes of A-Z a-z 0-9 - _ =.
func (k *caseKit) subjectCases() {
	sc, good, withClaims, withSub := k.sc, k.good, k.withClaims, k.withSub
	add := k.add
	unknownIss := IssuerPrefix + "b1c2d3e4-0000-4000-8000-000000000000"
	add(CodeUnknownApplication,
		tcase{name: "unknown application", token: withClaims(sc.set("iss", js(unknownIss)).set("sub", js(unknownIss+"/users/foo")))},
		tcase{name: "application key in upper case", token: withClaims(sc.set("iss", js(IssuerPrefix+strings.ToUpper(seedAppKey))).set("sub", js(IssuerPrefix+strings.ToUpper(seedAppKey)+"/users/foo")))},
	)
	add(CodeSubjectMismatch,
		tcase{name: "sub for another application", token: withClaims(sc.set("sub", js(IssuerPrefix+otherAppKey+"/users/foo")))},
		tcase{name: "sub user is not the registering user", token: good, opt: VerifyOptions{User: "bar"}},
		tcase{name: "sub user differs in case", token: good, opt: VerifyOptions{User: "Foo"}},
		tcase{name: "sub without /users/", token: withClaims(sc.set("sub", js(seedIss+"/user/foo")))},
		tcase{name: "sub is iss", token: withClaims(sc.set("sub", js(seedIss)))},
		tcase{name: "sub is the bare user id", token: withClaims(sc.set("sub", js("foo")))},
	)
	add(CodeUserIDInvalid,
		tcase{name: "user id with a space", token: withSub("foo bar")},
		tcase{name: "user id with unicode", token: withSub("föö")},
		tcase{name: "user id of 256 bytes", token: withSub(strings.Repeat("a", 256))},
		tcase{name: "user id empty", token: withSub("")},
		tcase{name: "user id with a slash", token: withSub("foo/bar")},
		tcase{name: "user id email", token: withSub("foo@example.com")},
		tcase{name: "user id with a plus", token: withSub("foo+1")},
		tcase{name: "user id with an escaped NUL", token: withClaims(sc.set("sub", `"`+seedIss+`/users/foo\u0000"`))},
		tcase{name: "legacy user id with a space", call: func(t *testing.T) error {
			return VerifyLegacy("a b", seedAppKey, 1, LegacySignature("a b", seedAppKey, 1, seedSecretValue), seedSecretValue, 0)
		}},
	)
}

// Rules 5-7: required claims and their types.
func (k *caseKit) claimCases() {
	sc, withClaims, add := k.sc, k.withClaims, k.add
	for _, name := range []string{"iss", "sub", "iat", "exp", "nonce"} {
		add(CodeClaimMissing, tcase{name: "missing " + name, token: withClaims(sc.del(name))})
	}
	add(CodeClaimMissing, tcase{name: "claims nested in an object", token: withClaims(claimSet{{"claims", sc.json()}})})
	add(CodeClaimMissing, tcase{name: "empty claims", token: withClaims(claimSet{})})
	add(CodeClaimInvalid,
		tcase{name: "iat as a string", token: withClaims(sc.set("iat", `"`+seedIat+`"`))},
		tcase{name: "exp as a string", token: withClaims(sc.set("exp", `"`+seedExp+`"`))},
		tcase{name: "instance exp as a string", token: withClaims(sc.set(InstanceExpiryClaim, `"1515035045"`))},
		tcase{name: "iat as a date string", token: withClaims(sc.set("iat", `"2018-01-02T03:04:05Z"`))},
		tcase{name: "iat true", token: withClaims(sc.set("iat", "true"))},
		tcase{name: "iat null", token: withClaims(sc.set("iat", "null"))},
		tcase{name: "iat zero", token: withClaims(sc.set("iat", "0"))},
		tcase{name: "iat negative", token: withClaims(sc.set("iat", "-1514862245"))},
		tcase{name: "exp out of range", token: withClaims(sc.set("exp", "1e300"))},
		tcase{name: "exp beyond int64", token: withClaims(sc.set("exp", "99999999999999999999"))},
		tcase{name: "nonce a number", token: withClaims(sc.set("nonce", "12345"))},
		tcase{name: "nonce empty", token: withClaims(sc.set("nonce", `""`))},
		tcase{name: "nonce of 257 bytes", token: withClaims(sc.set("nonce", js(strings.Repeat("n", 257))))},
		tcase{name: "iss a number", token: withClaims(sc.set("iss", "1"))},
		tcase{name: "iss nested object", token: withClaims(sc.set("iss", `{"app":"`+seedAppKey+`"}`))},
		tcase{name: "iss an array", token: withClaims(sc.set("iss", `["`+seedIss+`"]`))},
		tcase{name: "iss https URL", token: withClaims(sc.set("iss", js("https://rtc.sinch.com/applications/"+seedAppKey)))},
		tcase{name: "iss without application key", token: withClaims(sc.set("iss", js(IssuerPrefix)))},
		tcase{name: "iss with a path", token: withClaims(sc.set("iss", js(seedIss+"/x")).set("sub", js(seedIss+"/x/users/foo")))},
		tcase{name: "iss empty", token: withClaims(sc.set("iss", `""`))},
		tcase{name: "sub null", token: withClaims(sc.set("sub", "null"))},
		tcase{name: "nbf as a string", token: withClaims(sc.set("nbf", `"1514862245"`))},
	)
}

// Rule 6: iat, exp and the token TTL.
func (k *caseKit) timeCases() {
	sc, good, withClaims, add := k.sc, k.good, k.withClaims, k.add
	iat := int64(1514862245)
	add(CodeTokenExpired,
		tcase{name: "exp plus leeway is now", token: good, opt: VerifyOptions{Now: time.Unix(iat+600+30, 0)}},
		tcase{name: "exp an hour ago", token: good, opt: VerifyOptions{Now: time.Unix(iat+600+3600, 0)}},
		tcase{name: "exp long ago, kid of the challenge", token: good, opt: VerifyOptions{Now: time.Unix(iat+600+3600, 0), ChallengeTime: seedTime}},
	)
	add(CodeTokenNotYetValid,
		tcase{name: "iat beyond leeway", token: withClaims(sc.times(iat+31, iat+31+600))},
		tcase{name: "iat an hour ahead", token: withClaims(sc.times(iat+3600, iat+3600+600))},
		tcase{name: "timestamps in milliseconds", token: withClaims(sc.times(iat*1000, (iat+600)*1000))},
		tcase{name: "nbf beyond leeway", token: withClaims(sc.set("nbf", itoa64(iat+31)))},
	)
	add(CodeTokenTTLTooShort,
		tcase{name: "ttl 59 s", token: withClaims(sc.times(iat, iat+59))},
		tcase{name: "ttl 0", token: withClaims(sc.times(iat, iat))},
		tcase{name: "exp before iat", token: withClaims(sc.times(iat, iat-600))},
		tcase{name: "ttl 59.9 s", token: withClaims(sc.set("iat", seedIat).set("exp", itoa64(iat+59)+".9"))},
	)

	// Rule 8: the instance TTL.
	add(CodeInstanceTTLTooShort,
		tcase{name: "instance ttl 48h - 1s", token: withClaims(sc.set(InstanceExpiryClaim, itoa64(iat+48*3600-1)))},
		tcase{name: "instance ttl 1 h", token: withClaims(sc.set(InstanceExpiryClaim, itoa64(iat+3600)))},
		tcase{name: "instance exp before iat", token: withClaims(sc.set(InstanceExpiryClaim, itoa64(iat-1)))},
	)
}

// Rule 7: a nonce is single-use.
func (k *caseKit) replayCases() {
	sc, good, withClaims, add := k.sc, k.good, k.withClaims, k.add
	iat, legacySig := int64(1514862245), LegacySignature("alice", seedAppKey, 7, seedSecretValue)
	add(CodeNonceReused,
		tcase{name: "same token twice", call: func(t *testing.T) error {
			v, mc := seedVerifier(nil)
			v = NewVerifier(v.keys, VerifierConfig{Clock: mc, Nonces: newMemNonces(mc)})
			if _, err := v.Verify(good, VerifyOptions{}); err != nil {
				t.Fatalf("first use: %v", err)
			}
			_, err := v.Verify(good, VerifyOptions{})
			return err
		}},
		tcase{name: "same nonce in a new token", call: func(t *testing.T) error {
			v, mc := seedVerifier(nil)
			v = NewVerifier(v.keys, VerifierConfig{Clock: mc, Nonces: newMemNonces(mc)})
			if _, err := v.Verify(good, VerifyOptions{}); err != nil {
				t.Fatalf("first use: %v", err)
			}
			mc.Add(time.Minute)
			_, err := v.Verify(withClaims(sc.times(iat+60, iat+660)), VerifyOptions{})
			return err
		}},
	)

	// Rule 12: legacy sequences increase.
	add(CodeSequenceNotIncreasing,
		tcase{name: "legacy sequence equal", call: func(t *testing.T) error {
			return VerifyLegacy("alice", seedAppKey, 7, legacySig, seedSecretValue, 7)
		}},
		tcase{name: "legacy sequence lower", call: func(t *testing.T) error {
			return VerifyLegacy("alice", seedAppKey, 7, legacySig, seedSecretValue, 100)
		}},
	)
}

// TestRejections is the one table of every rejection code: each case must
// come back with its rule's code, matching the sentinel both by errors.Is
// and by CodeOf, with a one-line reason that leaks no secret.
func TestRejections(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range rejectionCases(t) {
		t.Run(c.code+"/"+c.name, func(t *testing.T) {
			var err error
			if c.call != nil {
				err = c.call(t)
			} else {
				v, _ := seedVerifier(nil)
				var got *Token
				got, err = v.Verify(c.token, c.opt)
				if err == nil {
					t.Fatalf("accepted: %+v", got.Claims)
				}
				if got != nil {
					t.Fatalf("returned a token with the error %v", err)
				}
			}
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, sentinels[c.code]) || CodeOf(err) != c.code {
				t.Fatalf("error = %v (code %q), want code %s", err, CodeOf(err), c.code)
			}
			var e *Error
			if !errors.As(err, &e) || e.Message == "" || strings.ContainsAny(e.Message, "\n\r") {
				t.Fatalf("error %#v: want an *Error with a one-line reason", err)
			}
			for code, s := range sentinels {
				if code != c.code && errors.Is(err, s) {
					t.Fatalf("error %v also matches %s", err, code)
				}
			}
			assertNoSecret(t, "reason", err.Error())
			if len(e.Message) > 300 {
				t.Errorf("reason is %d bytes: %s", len(e.Message), e.Message)
			}
		})
		seen[c.code] = true
	}
	for _, code := range Codes() {
		if !seen[code] {
			t.Errorf("no case for %s", code)
		}
	}
}

// acceptCase is one row of TestAccepts.
type acceptCase struct {
	name  string
	token string
	opt   VerifyOptions
}

// acceptCases are valid tokens, many of them on an edge that
// rejectionCases crosses.
func acceptCases(t testing.TB) []acceptCase {
	t.Helper()
	const iat = int64(1514862245)
	at := func(s string) time.Time { tm, _ := time.Parse(time.RFC3339, s); return tm }
	sc := seedClaims()
	withHeader := func(h string) string { return signJWT(t, h, sc.json(), keyFor(seedDate)) }
	withClaims := func(c claimSet) string { return tok(t, seedDate, c) }
	midnight := int64(1514851200) // 2018-01-02T00:00:00Z
	pretty := "{\n  \"iss\": \"" + seedIss + "\",\n  \"sub\": \"" + seedSub + "\",\n\t\"iat\" : " + seedIat + ",\r\n  \"exp\": " + seedExp + ",\n  \"nonce\": \"" + seedNonce + "\"\n}\n"
	sorted := claimSet{{"exp", seedExp}, {"iat", seedIat}, {"iss", js(seedIss)}, {"nonce", js(seedNonce)}, {"sub", js(seedSub)}}

	return []acceptCase{
		{name: "seed token", token: seedJWT},
		{name: "seed token for its user", token: seedJWT, opt: VerifyOptions{User: "foo"}},
		{name: "ttl exactly 60 s", token: withClaims(sc.times(iat, iat+60))},
		{name: "iat at the leeway", token: withClaims(sc.times(iat+30, iat+30+600))},
		{name: "exp one second inside the leeway", token: seedJWT, opt: VerifyOptions{Now: time.Unix(iat+600+29, 0)}},
		{name: "instance ttl exactly 48 h", token: withClaims(sc.set(InstanceExpiryClaim, itoa64(iat+48*3600)))},
		{name: "instance ttl of the seed example", token: withClaims(sc.set(InstanceExpiryClaim, "1515035045"))},
		{name: "instance ttl a year", token: withClaims(sc.set(InstanceExpiryClaim, itoa64(iat+365*86400)))},
		{name: "nbf at the leeway", token: withClaims(sc.set("nbf", itoa64(iat+30)))},
		{name: "fractional iat", token: withClaims(sc.set("iat", seedIat+".75"))},
		{name: "exponent iat", token: withClaims(sc.set("iat", "1.514862245e9"))},
		{name: "typ JWT", token: withHeader(`{"alg":"HS256","kid":"hkdfv1-20180102","typ":"JWT"}`)},
		{name: "typ jwt", token: withHeader(`{"typ":"jwt","alg":"HS256","kid":"hkdfv1-20180102"}`)},
		{name: "header with an extra member", token: withHeader(`{"alg":"HS256","kid":"hkdfv1-20180102","type":"JWT"}`)},
		{name: "header pretty-printed", token: withHeader("{\n  \"alg\": \"HS256\",\n  \"kid\": \"hkdfv1-20180102\"\n}")},
		{name: "claims pretty-printed", token: signJWT(t, hdr(seedDate), pretty, keyFor(seedDate))},
		{name: "claims sorted", token: withClaims(sorted)},
		{name: "escaped slashes (PHP json_encode)", token: withClaims(sc.set("iss", strings.ReplaceAll(js(seedIss), "/", `\/`)).set("sub", strings.ReplaceAll(js(seedSub), "/", `\/`)))},
		{name: "unicode escapes", token: withClaims(sc.set("nonce", `"\u00e9t\u00e9-\ud83d\ude00"`))},
		{name: "unknown claims", token: withClaims(sc.set("jti", `"x"`).set("aud", `["a","b"]`).set("ctx", `{"a":{"b":[1,2,{"c":null}]}}`))},
		{name: "user id with every allowed class", token: withClaims(sc.set("sub", js(subFor("Az09-_="))))},
		{name: "user id of 255 bytes", token: withClaims(sc.set("sub", js(subFor(strings.Repeat("a", 255)))))},
		{name: "other known application", token: signJWT(t, hdr(seedDate),
			sc.set("iss", js(IssuerPrefix+otherAppKey)).set("sub", js(IssuerPrefix+otherAppKey+"/users/foo")).json(),
			SigningKeyForDate(MustParseSecret(otherSecret), seedDate))},
		{name: "kid of the challenge date after midnight",
			token: tok(t, "20180101", sc.times(midnight-10, midnight+590)),
			opt:   VerifyOptions{Now: at("2018-01-02T01:00:00Z").Add(-55 * time.Minute), ChallengeTime: at("2018-01-01T23:59:50Z")}},
		{name: "kid yesterday within the midnight leeway",
			token: tok(t, "20180101", sc.times(midnight-10, midnight+590)),
			opt:   VerifyOptions{Now: at("2018-01-02T00:00:29Z")}},
		{name: "kid tomorrow within the midnight leeway",
			token: tok(t, "20180102", sc.times(midnight-20, midnight+580)),
			opt:   VerifyOptions{Now: at("2018-01-01T23:59:30Z")}},
		{name: "kid of the UTC date when local time is another day",
			token: seedJWT, opt: VerifyOptions{Now: seedTime.In(time.FixedZone("UTC-5", -5*3600))}},
	}
}

// TestAccepts pins the accepting side of every edge in TestRejections.
func TestAccepts(t *testing.T) {
	for _, tt := range acceptCases(t) {
		t.Run(tt.name, func(t *testing.T) {
			v, _ := seedVerifier(nil)
			got, err := v.Verify(tt.token, tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			if got.Raw != tt.token || got.Claims.ApplicationKey == "" || got.Claims.UserID == "" {
				t.Fatalf("token = %+v", got)
			}
		})
	}
}

func TestVerifyDecodedToken(t *testing.T) {
	v, _ := seedVerifier(nil)
	h := `{"alg":"HS256","kid":"hkdfv1-20180102","typ":"JWT","x5t":"a","type":"b"}`
	c := seedClaims().set(InstanceExpiryClaim, "1515035045").set("nbf", seedIat)
	got, err := v.Verify(signJWT(t, h, c.json(), keyFor(seedDate)), VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Header.Typ != "JWT" || strings.Join(got.Header.Extra, ",") != "x5t,type" {
		t.Errorf("header = %+v", got.Header)
	}
	if string(got.HeaderJSON) != h || string(got.ClaimsJSON) != c.json() {
		t.Errorf("JSON texts = %s %s", got.HeaderJSON, got.ClaimsJSON)
	}
	cl := got.Claims
	if cl.InstanceExpiresAt != 1515035045 || cl.NotBefore != 1514862245 || cl.TTL() != 10*time.Minute || cl.InstanceTTL() != 48*time.Hour {
		t.Errorf("claims = %+v", cl)
	}
	if exp, ok := cl.InstanceExpiry(); !ok || !exp.Equal(time.Unix(1515035045, 0)) {
		t.Errorf("InstanceExpiry = %v %v", exp, ok)
	}
	var none Claims
	if _, ok := none.InstanceExpiry(); ok || none.InstanceTTL() != 0 {
		t.Error("zero claims have an instance expiry")
	}
}

// TestVerifyNonceStore checks what the store is told: only tokens that
// passed every other rule, until exp plus leeway, per application.
func TestVerifyNonceStore(t *testing.T) {
	v, mc := seedVerifier(nil)
	var calls []string
	store := nonceFunc(func(app, nonce string, until time.Time) bool {
		calls = append(calls, app+" "+nonce+" "+until.UTC().Format(time.RFC3339))
		return true
	})
	v = NewVerifier(v.keys, VerifierConfig{Clock: mc, Nonces: store})
	if _, err := v.Verify(tok(t, "20180101", seedClaims()), VerifyOptions{}); err == nil {
		t.Fatal("accepted a bad kid")
	}
	if _, err := v.Verify(seedJWT, VerifyOptions{}); err != nil {
		t.Fatal(err)
	}
	want := seedAppKey + " " + seedNonce + " 2018-01-02T03:14:35Z"
	if len(calls) != 1 || calls[0] != want {
		t.Fatalf("store calls = %q, want [%q]", calls, want)
	}
	// Once the earlier token has expired, the nonce may come back.
	mem := newMemNonces(mc)
	v = NewVerifier(v.keys, VerifierConfig{Clock: mc, Nonces: mem})
	if _, err := v.Verify(seedJWT, VerifyOptions{}); err != nil {
		t.Fatal(err)
	}
	mc.Add(11 * time.Minute)
	later := tok(t, seedDate, seedClaims().times(1514862245+660, 1514862245+1260))
	if _, err := v.Verify(later, VerifyOptions{}); err != nil {
		t.Fatalf("nonce after the first token expired: %v", err)
	}
}

type nonceFunc func(app, nonce string, until time.Time) bool

func (f nonceFunc) Use(app, nonce string, until time.Time) (bool, error) {
	return f(app, nonce, until), nil
}

func TestVerifierLeeway(t *testing.T) {
	keys := NewKeyring()
	keys.Add(seedAppKey, seedSecretValue)
	if l := NewVerifier(keys, VerifierConfig{}).Leeway(); l != DefaultLeeway {
		t.Errorf("default leeway = %v", l)
	}
	strict := NewVerifier(keys, VerifierConfig{Leeway: -1})
	if strict.Leeway() != 0 {
		t.Errorf("negative leeway = %v", strict.Leeway())
	}
	early := tok(t, seedDate, seedClaims().times(1514862246, 1514862846))
	if _, err := strict.Verify(early, VerifyOptions{Now: seedTime}); CodeOf(err) != CodeTokenNotYetValid {
		t.Errorf("iat 1 s ahead without leeway: %v", err)
	}
	if _, err := strict.Verify(seedJWT, VerifyOptions{Now: time.Unix(1514862845, 0)}); CodeOf(err) != CodeTokenExpired {
		t.Errorf("at exp without leeway: %v", err)
	}
	if _, err := strict.Verify(seedJWT, VerifyOptions{Now: time.Unix(1514862844, 0)}); err != nil {
		t.Errorf("a second before exp without leeway: %v", err)
	}
	wide := NewVerifier(keys, VerifierConfig{Leeway: 5 * time.Minute})
	if _, err := wide.Verify(tok(t, seedDate, seedClaims().times(1514862245+299, 1514862245+899)), VerifyOptions{Now: seedTime}); err != nil {
		t.Errorf("iat inside a 5 min leeway: %v", err)
	}
}

func TestKeyringChanges(t *testing.T) {
	keys := NewKeyring()
	v := NewVerifier(keys, VerifierConfig{})
	if _, err := v.Verify(seedJWT, VerifyOptions{Now: seedTime}); CodeOf(err) != CodeUnknownApplication {
		t.Fatalf("empty keyring: %v", err)
	}
	keys.Add(seedAppKey, seedSecretValue)
	if _, err := v.Verify(seedJWT, VerifyOptions{Now: seedTime}); err != nil {
		t.Fatalf("after Add: %v", err)
	}
	if s, ok := keys.Secret(seedAppKey); !ok || s.Text() != seedSecret {
		t.Error("Secret does not return the added secret")
	}
	if apps := keys.Applications(); len(apps) != 1 || apps[0] != seedAppKey {
		t.Errorf("Applications = %v", apps)
	}
	// Replacing the secret drops the cached keys of the old one.
	keys.Add(seedAppKey, MustParseSecret(otherSecret))
	if _, err := v.Verify(seedJWT, VerifyOptions{Now: seedTime}); CodeOf(err) != CodeSignatureInvalid {
		t.Fatalf("after replacing the secret: %v", err)
	}
	keys.Remove(seedAppKey)
	if _, err := v.Verify(seedJWT, VerifyOptions{Now: seedTime}); CodeOf(err) != CodeUnknownApplication {
		t.Fatalf("after Remove: %v", err)
	}
	if _, ok := keys.Secret(seedAppKey); ok {
		t.Error("Secret after Remove")
	}
}

// TestKeyringCacheEviction verifies tokens of many dates through one
// keyring: the bounded cache must evict without breaking verification.
func TestKeyringCacheEviction(t *testing.T) {
	keys := NewKeyring()
	keys.Add(seedAppKey, seedSecretValue)
	v := NewVerifier(keys, VerifierConfig{})
	m, err := NewMinter(MinterConfig{ApplicationKey: seedAppKey, Secret: seedSecretValue})
	if err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 2; round++ {
		for day := 0; day < 3*maxDatesPerApp; day++ {
			now := seedTime.AddDate(0, 0, day)
			jwt, err := m.MintWith(MintParams{UserID: "u", Now: now})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := v.Verify(jwt, VerifyOptions{Now: now}); err != nil {
				t.Fatalf("day %d: %v", day, err)
			}
		}
	}
	if n := len(keys.app(seedAppKey).dates); n > maxDatesPerApp {
		t.Errorf("cache holds %d dates", n)
	}
}

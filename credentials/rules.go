package credentials

import (
	"time"

	"github.com/sinchsim/sinchsim/internal/jsonobj"
)

// A rule is one check a registration token must pass: a name, the code a
// failure carries, what must be decoded before it applies, and its check
// function, named by a check constant (judgeSize for checkSize, ...).
//
// Each rule is written once: a row of this table and its check function
// in rules_token.go or rules_claims.go. Verify runs the table and stops at
// the first failure; Explain runs all of it and collects every finding,
// together with the diagnoses a check adds for Explain (which wrong key
// made a signature, a kid date formatted in local time, ...).
type rule struct {
	name  string
	code  string
	needs decoded
	check check
}

// check names the check function of a rule; (*judgement).run calls it.
type check uint8

// The checks, one per rule.
const (
	checkSize check = iota
	checkParts
	checkBase64
	checkJSON
	checkAlg
	checkSigned
	checkKid
	checkTypCrit
	checkClaimTypes
	checkIssPresent
	checkIss
	checkApplication
	checkKidDate
	checkSignature
	checkSubPresent
	checkSub
	checkUserID
	checkUser
	checkRequired
	checkTokenTTL
	checkIat
	checkNbf
	checkExp
	checkInstanceTTL
	checkNonce
	numChecks
)

// decoded says which parts of a token a judgement could decode.
type decoded uint8

const (
	haveParts  decoded = 1 << iota // three parts
	haveHeader                     // the header's members
	haveClaims                     // the payload's members
)

// rules is the rule table, in the order Verify applies it: the token's
// structure before its content, the header before the claims, and the
// signature before the claims that only a genuine token can be judged by.
var rules = [...]rule{
	{"size", CodeTokenMalformed, 0, checkSize},
	{"three parts", CodeTokenMalformed, 0, checkParts},
	{"base64url parts", CodeTokenMalformed, haveParts, checkBase64},
	{"JSON objects", CodeTokenMalformed, haveParts, checkJSON},
	{"alg", CodeTokenAlgorithm, haveHeader, checkAlg},
	{"signed", CodeTokenMalformed, haveParts, checkSigned},
	{"kid", CodeKidInvalid, haveHeader, checkKid},
	{"typ and crit", CodeTokenMalformed, haveHeader, checkTypCrit},
	{"claim types", CodeClaimInvalid, haveClaims, checkClaimTypes},
	{"iss present", CodeClaimMissing, haveClaims, checkIssPresent},
	{"iss", CodeClaimInvalid, haveClaims, checkIss},
	{"application", CodeUnknownApplication, haveClaims, checkApplication},
	{"kid date", CodeKidDateMismatch, haveHeader, checkKidDate},
	{"signature", CodeSignatureInvalid, haveParts, checkSignature},
	{"sub present", CodeClaimMissing, haveClaims, checkSubPresent},
	{"sub", CodeSubjectMismatch, haveClaims, checkSub},
	{"user id", CodeUserIDInvalid, haveClaims, checkUserID},
	{"registering user", CodeSubjectMismatch, haveClaims, checkUser},
	{"iat, exp, nonce present", CodeClaimMissing, haveClaims, checkRequired},
	{"token TTL", CodeTokenTTLTooShort, haveClaims, checkTokenTTL},
	{"iat", CodeTokenNotYetValid, haveClaims, checkIat},
	{"nbf", CodeTokenNotYetValid, haveClaims, checkNbf},
	{"exp", CodeTokenExpired, haveClaims, checkExp},
	{"instance TTL", CodeInstanceTTLTooShort, haveClaims, checkInstanceTTL},
	{"nonce", CodeNonceReused, haveClaims, checkNonce},
}

// Header members the rules read; the others go to Header.Extra.
const (
	hdrAlg = iota
	hdrKid
	hdrTyp
	hdrCrit
	numHdr
)

// claimID names a claim the rules read; the others are ignored.
type claimID uint8

const (
	claimIss claimID = iota
	claimSub
	claimIat
	claimExp
	claimNbf
	claimNonce
	claimInstanceExp
	numClaims
)

// claimNames are the JSON names of the claims, by claimID.
var claimNames = [numClaims]string{"iss", "sub", "iat", "exp", "nbf", "nonce", InstanceExpiryClaim}

// claimOf returns the claimID of a payload member name.
func claimOf(key []byte) (claimID, bool) {
	switch string(key) {
	case "iss":
		return claimIss, true
	case "sub":
		return claimSub, true
	case "iat":
		return claimIat, true
	case "exp":
		return claimExp, true
	case "nbf":
		return claimNbf, true
	case "nonce":
		return claimNonce, true
	case InstanceExpiryClaim:
		return claimInstanceExp, true
	}
	return 0, false
}

// field is a header or payload member the rules read: its kind and its
// value, as jsonobj.Member has them.
type field struct {
	Kind  jsonobj.Kind
	Value []byte
}

// judgement is one run of the rule table over one token: the inputs it is
// judged by, what the rules decoded so far, and the outcome.
type judgement struct {
	// tok is the token being decoded: Verify returns it.
	tok *Token

	now       time.Time
	challenge time.Time // zero: none (Explain: iat's time)
	user      string    // the registering user; "" for any
	leeway    time.Duration
	keys      *Keyring // the known applications (Verify)
	nonces    NonceStore

	// ex holds what only Explain needs; nil in Verify.
	ex *explainRun

	// What the rules decoded.
	have    decoded
	parts   [3]string
	sigLen  int              // the decoded signature's length
	sigBuf  [48]byte         // and its bytes, when it fits
	hdr     [numHdr]field    // Kind 0: absent
	claim   [numClaims]field // Kind 0: absent
	bad     [numClaims]bool  // present, but of a wrong type or value
	kidDate string           // YYYYMMDD once kid passed
	subUser string           // the user id in sub, when subOK
	subOK   bool             // sub is iss + "/users/" + subUser
	app     *appKeys         // the signing keys, once known

	ri   int   // the index of the rule being run
	err  error // the first failure: Verify's answer, Explain's verdict
	stop bool  // nothing more can be judged
}

// explainRun is what a judgement for Explain has beyond Verify's.
type explainRun struct {
	out     *Explanation // collects every finding
	wantApp string       // the application expected; "" for the one iss names
	secret  Secret       // its secret; zero: the signature is not checked
	// Every member of the header and of the payload, for the diagnoses
	// and for display.
	hfields, cfields []jsonobj.Member
}

// fail records that the current rule failed: reason says what is wrong,
// in one line; hint, for Explain, how to fix it. It reports whether the
// check should stop looking, which Verify does at its first failure.
func (j *judgement) fail(reason, hint string) (stop bool) {
	code := rules[j.ri].code
	if j.err == nil {
		j.err = reject(code, reason)
	}
	if j.ex == nil {
		return true
	}
	j.ex.out.addFinding(code, Fail, reason, hint)
	return false
}

// failUnlessDiagnosed is fail for a failure that a diagnosis (a Diag*
// code Explain has already recorded) explains: when an earlier rule has
// failed, Verify would not have got here, and the diagnosis alone stands
// for the mistake in Explain.
func (j *judgement) failUnlessDiagnosed(diag, reason, hint string) (stop bool) {
	if j.ex != nil && j.err != nil && j.ex.out.Has(diag) {
		return false
	}
	return j.fail(reason, hint)
}

// fatal is fail for a token whose structure leaves nothing more to judge.
func (j *judgement) fatal(reason, hint string) {
	j.fail(reason, hint)
	j.stop = true
}

// explaining reports whether the run collects findings for Explain: the
// diagnoses cost time Verify does not spend.
func (j *judgement) explaining() bool { return j.ex != nil }

// note records a finding of Explain beyond the rule codes.
func (j *judgement) note(code string, sev Severity, msg string) {
	if j.ex != nil {
		j.ex.out.addFinding(code, sev, msg, "")
	}
}

// valid reports whether claim id is present with a valid value, which is
// then in j.tok.Claims.
func (j *judgement) valid(id claimID) bool { return j.claim[id].Kind != 0 && !j.bad[id] }

// missing reports whether claim id is absent.
func (j *judgement) missing(id claimID) bool { return j.claim[id].Kind == 0 }

package credentials

import (
	"crypto/hmac"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/sinchsim/sinchsim/internal/jsonobj"
)

// The rules on the claims, the application, the kid date and the
// signature.

const (
	hintRequired = "Sinch requires iss, sub, iat, exp and nonce"
	hintUserID   = "map your user ids onto 1-255 bytes of A-Z a-z 0-9 - _ = (e.g. base64url of a hash), in the app and the auth server alike"
	hintSubject  = `sub must be iss + "/users/" + the user id the client asked for`
	hintSign     = "sign with HMAC-SHA256 keyed with HMAC-SHA256(BASE64-DECODE(secret), the kid's YYYYMMDD)"
)

// judgeClaimTypes: each claim the rules read has its JSON type and a
// possible value. The valid ones fill j.tok.Claims.
func judgeClaimTypes(j *judgement) {
	c := &j.tok.Claims
	for id := range numClaims {
		m := &j.claim[id]
		if m.Kind == 0 {
			continue
		}
		if reason := c.set(id, m); reason != "" {
			j.bad[id] = true
			if j.fail(reason, "") {
				return
			}
		}
	}
	if j.explaining() {
		j.noteClaims()
	}
}

// set stores claim id's value in c, or returns why it is not valid.
func (c *Claims) set(id claimID, m *field) string {
	name := claimNames[id]
	switch id {
	case claimIss, claimSub, claimNonce:
		if m.Kind != jsonobj.String {
			return name + " is " + m.Kind.String() + ", not a string"
		}
		if len(m.Value) == 0 {
			return name + " is an empty string"
		}
		if id == claimNonce && len(m.Value) > MaxNonceLength {
			return "nonce is " + strconv.Itoa(len(m.Value)) + " bytes; at most " + strconv.Itoa(MaxNonceLength) + " are accepted"
		}
		s := string(m.Value)
		switch id {
		case claimIss:
			c.Issuer = s
		case claimSub:
			c.Subject = s
		default:
			c.Nonce = s
		}
		return ""
	}
	s, reason := claimTime(m, name, id == claimIat || id == claimNbf)
	if reason != "" {
		return reason
	}
	switch id {
	case claimIat:
		c.IssuedAt = s
	case claimExp:
		c.ExpiresAt = s
	case claimNbf:
		c.NotBefore = s
	default:
		c.InstanceExpiresAt = s
	}
	return ""
}

// time returns time claim id (iat, exp, nbf or the instance expiry).
func (c *Claims) time(id claimID) int64 {
	switch id {
	case claimIat:
		return c.IssuedAt
	case claimExp:
		return c.ExpiresAt
	case claimNbf:
		return c.NotBefore
	}
	return c.InstanceExpiresAt
}

// maxNumericDate bounds time claims so that arithmetic on them cannot
// overflow; it is far beyond any date (and beyond milliseconds timestamps,
// which are reported as lying in the future).
const maxNumericDate = 1 << 53

// millisecondsThreshold: a time claim above it (year 5138 in seconds) is
// almost surely milliseconds.
const millisecondsThreshold = 1e11

// claimTime reads a time claim as whole seconds, rounded up or down (see
// parseNumericDate).
func claimTime(m *field, name string, up bool) (int64, string) {
	if m.Kind != jsonobj.Number {
		return 0, name + " is " + m.Kind.String() + "; it must be a number of seconds since the Unix epoch"
	}
	s, ok := parseNumericDate(m.Value, up)
	if ok && s <= 0 {
		return 0, name + " " + quoteShort(m.Value) + " is not a positive number of seconds"
	}
	if !ok || s > maxNumericDate {
		return 0, name + " " + quoteShort(m.Value) + " is out of range"
	}
	return s, ""
}

func judgeIssPresent(j *judgement) {
	if j.missing(claimIss) {
		j.fail("iss is missing", hintRequired)
	}
}

func judgeIss(j *judgement) {
	if !j.valid(claimIss) {
		return
	}
	c := &j.tok.Claims
	appKey, ok := strings.CutPrefix(c.Issuer, IssuerPrefix)
	if !ok || appKey == "" || strings.Contains(appKey, "/") {
		j.fail("iss "+quoteShort(c.Issuer)+" is not "+IssuerPrefix+"{APPLICATION_KEY}", "")
		return
	}
	c.ApplicationKey = appKey
}

// judgeApplication: iss names a known application. Verify knows its
// keyring; Explain knows the application it was given, if any, and takes
// its secret for the one iss names.
func judgeApplication(j *judgement) {
	appKey := j.tok.Claims.ApplicationKey
	if appKey == "" {
		return
	}
	const hint = "iss must name the application whose secret signs the token"
	if !j.explaining() {
		if j.app = j.keys.app(appKey); j.app == nil {
			j.fail("iss names application "+quoteShort(appKey)+", which is not known here", hint)
		}
		return
	}
	if want := j.ex.wantApp; want != "" && want != appKey {
		j.fail("iss names application "+quoteShort(appKey)+", but the key given is "+quoteShort(want), hint)
	}
}

// judgeKidDate: the kid date is the challenge's UTC date or today's
// (within the leeway around midnight). Explain also names a date formatted
// in local time, even one that is accepted.
func judgeKidDate(j *judgement) {
	d := j.kidDate
	if d == "" {
		return
	}
	challenge := j.challenge
	if challenge.IsZero() && j.explaining() && j.valid(claimIat) && j.tok.Claims.IssuedAt < millisecondsThreshold {
		challenge = time.Unix(j.tok.Claims.IssuedAt, 0)
	}
	accepted := kidDateAccepted(d, j.now, challenge, j.leeway)
	if !accepted {
		want := FormatDate(j.now)
		if !challenge.IsZero() {
			want = FormatDate(challenge)
		}
		if j.fail("kid date "+d+" is not the UTC date of the challenge or of now ("+want+")", "use the current UTC date") {
			return
		}
	}
	if j.explaining() {
		j.noteKidDate(accepted)
	}
}

// judgeSignature: the HS256 signature of the first two parts, under the
// key derived for the kid date. Explain, given the secret, names the
// mistake that made a wrong signature.
func judgeSignature(j *judgement) {
	if j.kidDate == "" || j.parts[2] == "" || j.app == nil {
		return // judged by kid, signed and application
	}
	if j.sigLen != 32 {
		j.fail("signature is "+strconv.Itoa(j.sigLen)+" bytes; HS256 gives 32", hintSign)
		return
	}
	want := j.app.forDate(j.kidDate).sign(j.tok.Raw[:len(j.parts[0])+1+len(j.parts[1])])
	if hmac.Equal(want[:], j.sigBuf[:32]) {
		return
	}
	reason := "signature does not match the key derived from the application secret for " + j.kidDate
	if j.explaining() {
		j.explainSignature(reason)
		return
	}
	j.fail(reason, hintSign)
}

func judgeSubPresent(j *judgement) {
	if j.missing(claimSub) {
		j.fail("sub is missing", hintRequired)
	}
}

func judgeSub(j *judgement) {
	c := &j.tok.Claims
	if !j.valid(claimSub) || c.ApplicationKey == "" {
		return
	}
	user, ok := strings.CutPrefix(c.Subject, c.Issuer)
	if ok {
		user, ok = strings.CutPrefix(user, "/users/")
	}
	if !ok {
		j.fail("sub "+quoteShort(c.Subject)+` is not iss + "/users/{USER_ID}"`, hintSubject)
		return
	}
	j.subUser, j.subOK = user, true
}

func judgeUserID(j *judgement) {
	if !j.subOK {
		return
	}
	if p := userIDProblem(j.subUser); p != "" {
		j.fail(p, hintUserID)
		return
	}
	j.tok.Claims.UserID = j.subUser
}

func judgeUser(j *judgement) {
	if u := j.tok.Claims.UserID; u != "" && j.user != "" && j.user != u {
		j.fail("sub names user "+quoteShort(u)+" but "+quoteShort(j.user)+" is registering", hintSubject)
	}
}

func judgeRequired(j *judgement) {
	for _, id := range [...]claimID{claimIat, claimExp, claimNonce} {
		if j.missing(id) && j.fail(claimNames[id]+" is missing", hintRequired) {
			return
		}
	}
}

func judgeTokenTTL(j *judgement) {
	if !j.valid(claimIat) || !j.valid(claimExp) {
		return
	}
	c := &j.tok.Claims
	ttl := c.ExpiresAt - c.IssuedAt
	if ttl < int64(MinTokenTTL/time.Second) {
		j.fail("exp - iat is "+strconv.FormatInt(ttl, 10)+" s; Sinch requires at least 60 s", "10 minutes is usual")
		return
	}
	if j.explaining() && ttl > 3600 && c.ExpiresAt < millisecondsThreshold {
		j.note(DiagTokenTTLLong, Warn, "the token lives "+secondsText(ttl)+"; registration tokens are single-use and should be short-lived (10 minutes is usual)")
	}
}

func judgeIat(j *judgement) {
	if !j.valid(claimIat) {
		return
	}
	iat, now := j.tok.Claims.IssuedAt, j.now.Unix()
	if iat <= now+int64(j.leeway/time.Second) {
		return
	}
	reason := "iat is " + secondsText(iat-now) + " in the future"
	if iat > millisecondsThreshold {
		j.failUnlessDiagnosed(DiagTimestampsInMilliseconds, reason+"; it looks like milliseconds, JWT times are seconds", "")
		return
	}
	j.fail(reason, "check the auth server's clock")
}

func judgeNbf(j *judgement) {
	if !j.valid(claimNbf) {
		return
	}
	nbf, now := j.tok.Claims.NotBefore, j.now.Unix()
	if nbf <= now+int64(j.leeway/time.Second) {
		return
	}
	reason := "nbf is " + secondsText(nbf-now) + " in the future"
	if nbf > millisecondsThreshold {
		j.failUnlessDiagnosed(DiagTimestampsInMilliseconds, reason, "")
		return
	}
	j.fail(reason, "")
}

func judgeExp(j *judgement) {
	if !j.valid(claimExp) {
		return
	}
	exp, now := j.tok.Claims.ExpiresAt, j.now.Unix()
	if exp+int64(j.leeway/time.Second) <= now {
		j.fail("exp passed "+secondsText(now-exp)+" ago", "mint a fresh token for every request and check the auth server's clock")
	}
}

func judgeInstanceTTL(j *judgement) {
	if !j.valid(claimInstanceExp) || !j.valid(claimIat) {
		return
	}
	c := &j.tok.Claims
	if d := c.InstanceExpiresAt - c.IssuedAt; d < int64(MinInstanceTTL/time.Second) {
		j.fail(InstanceExpiryClaim+" - iat is "+secondsText(d)+"; Sinch requires at least 48 h", "12 months is recommended")
	}
}

// judgeNonce: the nonce was not used before with this application. Only
// a token that passed every other rule reaches the store, so that forged
// tokens cannot fill it.
func judgeNonce(j *judgement) {
	if j.nonces == nil || j.err != nil || !j.valid(claimNonce) {
		return
	}
	c := &j.tok.Claims
	until := time.Unix(c.ExpiresAt, 0).Add(j.leeway)
	fresh, err := j.nonces.Use(c.ApplicationKey, c.Nonce, until)
	switch {
	case err != nil:
		j.err, j.stop = err, true
	case !fresh:
		j.fail("nonce "+quoteShort(c.Nonce)+" was already used with this application", "mint a new token, with a fresh random nonce, for every registration")
	}
}

// secondsText renders a count of seconds as a short duration ("90s", "3h0m0s").
func secondsText(s int64) string {
	if s > math.MaxInt64/int64(time.Second) || s < -math.MaxInt64/int64(time.Second) {
		return strconv.FormatInt(s, 10) + "s"
	}
	return (time.Duration(s) * time.Second).String()
}

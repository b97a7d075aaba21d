package credentials

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sinchsim/sinchsim/internal/jsonobj"
)

// Explain's diagnoses: what a rule adds, beyond its code, when it runs for
// Explain. Each is called by the rule that found the problem.

// decodeLenient decodes a part that is not base64url as padded or standard
// base64, so that Explain can judge the rest; nil when it cannot.
func decodeLenient(seg string) []byte {
	for _, enc := range []*base64.Encoding{base64.URLEncoding, base64.StdEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(seg); err == nil {
			return b
		}
	}
	return nil
}

// readLenient reads a header or payload the strict reader refused: first
// as strictly but for UTF-8 (naming the members that hold invalid UTF-8 in
// the hint), then with encoding/json, which takes the last of duplicate
// members and repairs invalid UTF-8. nil: not a JSON object at all.
func readLenient(b []byte) ([]jsonobj.Member, string) {
	if fields, err := jsonobj.Parse(b, nil, anyBytesJSON); err == nil {
		return fields, "invalid UTF-8 in " + badUTF8Members(fields) + "; JSON text must be UTF-8"
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if d.Decode(&m) != nil || m == nil {
		return nil, ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fields := make([]jsonobj.Member, 0, len(m))
	for _, k := range keys {
		f := jsonobj.Member{Key: []byte(k)}
		switch v := m[k].(type) {
		case string:
			f.Kind, f.Value = jsonobj.String, []byte(v)
		case json.Number:
			f.Kind, f.Value = jsonobj.Number, []byte(v)
		default:
			f.Value, _ = json.Marshal(v)
			f.Kind = kindOf(f.Value)
		}
		fields = append(fields, f)
	}
	return fields, ""
}

// kindOf is the kind of a JSON text that is not a string or a number.
func kindOf(raw []byte) jsonobj.Kind {
	switch raw[0] {
	case 't', 'f':
		return jsonobj.Bool
	case 'n':
		return jsonobj.Null
	case '{':
		return jsonobj.Object
	}
	return jsonobj.Array
}

func badUTF8Members(fields []jsonobj.Member) string {
	var names []string
	for _, f := range fields {
		if !utf8.Valid(f.Key) || !utf8.Valid(f.Value) {
			names = append(names, quoteShort(strings.ToValidUTF8(string(f.Key), "\uFFFD")))
		}
	}
	if len(names) == 0 {
		return "a nested value"
	}
	return "the member " + strings.Join(names, ", ")
}

// fieldsMap turns members into the map Explanation shows: numbers as
// json.Number, nested values decoded.
func fieldsMap(fields []jsonobj.Member) map[string]any {
	m := make(map[string]any, len(fields))
	for _, f := range fields {
		k := string(f.Key)
		switch f.Kind {
		case jsonobj.String:
			m[k] = string(f.Value)
		case jsonobj.Number:
			m[k] = json.Number(f.Value)
		case jsonobj.Bool:
			m[k] = f.Value[0] == 't'
		case jsonobj.Null:
			m[k] = nil
		default:
			var v any
			d := json.NewDecoder(bytes.NewReader(f.Value))
			d.UseNumber()
			_ = d.Decode(&v)
			m[k] = v
		}
	}
	return m
}

// noteHeaderTypos notes header members that look like typos of alg, kid
// or typ, and others Sinch's header does not have.
func (j *judgement) noteHeaderTypos() {
	keys := make([]string, 0, len(j.ex.hfields))
	for _, f := range j.ex.hfields {
		keys = append(keys, string(f.Key))
	}
	sort.Strings(keys)
	var notes []string
	sev := Warn
	for _, k := range keys {
		switch lk := strings.ToLower(k); {
		case k == "alg" || k == "kid" || k == "typ" || k == "crit":
		case lk == "type":
			notes = append(notes, fmt.Sprintf("%q, which should be \"typ\" (or left out: Sinch needs only alg and kid)", k))
		case lk == "alg" || lk == "kid" || lk == "typ":
			if lk != "typ" && !slices.Contains(keys, lk) {
				sev = Fail // the right member is missing because of it
			}
			notes = append(notes, fmt.Sprintf("%q, which should be %q (member names are case-sensitive)", k, lk))
		default:
			notes = append(notes, "the unexpected member "+quoteShort(k)+` (Sinch's header is exactly {"alg":"HS256","kid":"hkdfv1-YYYYMMDD"})`)
		}
	}
	if len(notes) > 0 {
		j.note(DiagHeaderTypo, sev, "the header has "+strings.Join(notes, "; "))
	}
}

// sinchClaimOrder is the order of the claims in Sinch's documentation.
var sinchClaimOrder = []string{"iss", "sub", "iat", "exp", "nonce", InstanceExpiryClaim}

// noteClaims notes, once the claims' types are judged, the claims Sinch
// does not define, times in milliseconds and an unusual claim order.
func (j *judgement) noteClaims() {
	var unknown []string
	for _, f := range j.ex.cfields {
		if _, ok := claimOf(f.Key); !ok {
			unknown = append(unknown, quoteShort(f.Key))
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		j.note(DiagUnknownClaim, Pass, "the claims "+strings.Join(unknown, ", ")+" are not ones Sinch defines; they are ignored")
	}
	c := &j.tok.Claims
	var millis []string
	sev := Warn
	for _, id := range [...]claimID{claimIat, claimExp, claimNbf, claimInstanceExp} {
		if j.valid(id) && c.time(id) > millisecondsThreshold {
			millis = append(millis, claimNames[id])
			if id == claimIat || id == claimNbf {
				// In the far future: rejected. exp or the instance expiry
				// in milliseconds are accepted, but live for millennia.
				sev = Fail
			}
		}
	}
	if len(millis) > 0 {
		isAre := " is"
		if len(millis) > 1 {
			isAre = " are"
		}
		j.note(DiagTimestampsInMilliseconds, sev, strings.Join(millis, ", ")+isAre+" in milliseconds; JWT times are seconds since 1970 (divide by 1000, e.g. Math.floor(Date.now()/1000))")
	}
	// The order as written, when the strict reader could read it.
	fields, err := jsonobj.Parse(j.tok.ClaimsJSON, nil, tokenJSON)
	if err != nil {
		return
	}
	order := make([]string, len(fields))
	for i, f := range fields {
		order[i] = string(f.Key)
	}
	if !inSinchOrder(order) {
		j.note(DiagClaimOrder, Pass, "claims are in the order "+strings.Join(order, ", ")+", not Sinch's (iss, sub, iat, exp, nonce); any order is accepted")
	}
}

func inSinchOrder(order []string) bool {
	j := 0
	for _, k := range order {
		for j < len(sinchClaimOrder) && sinchClaimOrder[j] != k {
			j++
		}
		if j == len(sinchClaimOrder) {
			return false
		}
	}
	return true
}

// noteKidDate compares the kid date with the UTC date of iat, to name the
// local-time mistake: FAIL when the kid date is refused, WARN when it is
// accepted only because it is today's.
func (j *judgement) noteKidDate(accepted bool) {
	c := &j.tok.Claims
	if !j.valid(claimIat) || c.IssuedAt >= millisecondsThreshold {
		return
	}
	d, iat := j.kidDate, time.Unix(c.IssuedAt, 0)
	utc := FormatDate(iat)
	if d == utc {
		return
	}
	nearMidnight := d == FormatDate(iat.Add(-j.leeway)) || d == FormatDate(iat.Add(j.leeway))
	if nearMidnight && accepted {
		return // clock skew across midnight, within the leeway
	}
	sev, suffix := Fail, ""
	if accepted {
		sev, suffix = Warn, " (accepted now only because the verifier also takes the current UTC date)"
	}
	kt, _ := time.Parse(DateFormat, d)
	ut, _ := time.Parse(DateFormat, utc)
	if off := kt.Sub(ut); (off == 24*time.Hour || off == -24*time.Hour) && !nearMidnight {
		j.note(DiagKidDateNotUTC, sev, "kid date "+d+" is a day off the UTC date of iat ("+utc+"): the date was formatted in local time; format it in UTC (and derive the key from the same UTC date)"+suffix)
		return
	}
	if accepted {
		j.note(CodeKidDateMismatch, Warn, "kid date "+d+" is not the UTC date of iat ("+utc+"); use the current UTC date"+suffix)
	}
}

// explainSignature fails the signature rule for Explain, naming the wrong
// key that made the signature when a classic mistake reproduces it. When
// an earlier rule failed, the diagnosis alone stands for the mistake.
func (j *judgement) explainSignature(reason string) {
	kind, d := j.diagnoseKey()
	var diag string
	switch kind {
	case probeOtherDate:
		diag, reason = DiagKidDateNotUTC, reason+" (it matches the key of "+d+")"
	case probeTextDerived:
		diag, reason = DiagSecretNotBase64Decoded, reason+" (it matches a key made from the secret's text: see "+DiagSecretNotBase64Decoded+")"
	case probeDecodedSecret, probeTextSecret:
		diag, reason = DiagKeyNotDerived, reason+" (it matches the underived secret: see "+DiagKeyNotDerived+")"
	default:
		j.fail(reason, "no usual mistake reproduces it either: check that this secret belongs to the application named in iss, and "+hintSign)
		return
	}
	j.failUnlessDiagnosed(diag, reason, "")
}

// keyProbe says which key made a signature.
type keyProbe int

const (
	probeNone          keyProbe = iota
	probeRight                  // the key derived for the kid date
	probeOtherDate              // the key derived for another date
	probeTextDerived            // HMAC(secret's base64 text, date)
	probeDecodedSecret          // the decoded secret, underived
	probeTextSecret             // the secret's text, underived
	probeUnreadable             // no 32-byte base64url signature
)

// probeKey tries the keys that classic mistakes produce, for the kid date,
// the UTC dates around iat and around now.
func probeKey(parts []string, secret Secret, kidDate string, c *Claims, now time.Time) (keyProbe, string) {
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != sha256.Size {
		return probeUnreadable, ""
	}
	input := []byte(parts[0] + "." + parts[1])
	var dates []string
	addDate := func(s string) {
		if s != "" && !slices.Contains(dates, s) {
			dates = append(dates, s)
		}
	}
	addDate(kidDate)
	var around []time.Time
	if c != nil && c.IssuedAt > 0 && c.IssuedAt < millisecondsThreshold {
		around = append(around, time.Unix(c.IssuedAt, 0))
	}
	around = append(around, now)
	for _, t := range around {
		for _, d := range []time.Duration{0, -24 * time.Hour, 24 * time.Hour} {
			addDate(FormatDate(t.Add(d)))
		}
	}
	mac := func(key []byte) bool {
		h := hmac.New(sha256.New, key)
		h.Write(input)
		return hmac.Equal(h.Sum(nil), sig)
	}
	text := []byte(secret.Text())
	for _, d := range dates {
		if mac(SigningKeyForDate(secret, d)) {
			if d == kidDate {
				return probeRight, d
			}
			return probeOtherDate, d
		}
	}
	for _, d := range dates {
		if mac(signingKeyForDate(text, d)) {
			return probeTextDerived, d
		}
	}
	switch {
	case mac(secret.key()):
		return probeDecodedSecret, ""
	case mac(text):
		return probeTextSecret, ""
	}
	return probeNone, ""
}

// diagnoseKey probes the signature with the secret Explain was given and
// notes the mistake that made it, if any.
func (j *judgement) diagnoseKey() (keyProbe, string) {
	var c *Claims
	if j.valid(claimIat) {
		c = &j.tok.Claims
	}
	kidDate := j.kidDate
	kind, d := probeKey(j.parts[:], j.ex.secret, kidDate, c, j.now)
	switch kind {
	case probeOtherDate:
		msg := fmt.Sprintf("the signature was made with the key for %s but kid says %s: derive the key and write the kid from the same UTC date", d, kidDate)
		if c != nil && d == FormatDate(time.Unix(c.IssuedAt, 0)) {
			msg = fmt.Sprintf("the signature was made with the key for %s, the UTC date of iat, so the key is right; but kid says %s, a local date: format the kid date in UTC too", d, kidDate)
		}
		// This is more precise than what the date check alone could say.
		if f := j.ex.out.Finding(DiagKidDateNotUTC); f != nil {
			f.Severity, f.Message = Fail, msg
		} else {
			j.note(DiagKidDateNotUTC, Fail, msg)
		}
	case probeTextDerived:
		j.note(DiagSecretNotBase64Decoded, Fail, fmt.Sprintf("the signature was made with HMAC-SHA256(key = the secret's base64 TEXT, %q): base64-decode the application secret first, then derive signingKey = HMAC-SHA256(BASE64-DECODE(secret), \"YYYYMMDD\")", d))
		if d != kidDate {
			j.note(DiagKidDateNotUTC, Fail, "the key date "+d+" differs from the kid date "+kidDate+": use the same UTC date for both")
		}
	case probeDecodedSecret:
		j.note(DiagKeyNotDerived, Fail, "the token was signed with the decoded secret itself: derive the per-day key first, signingKey = HMAC-SHA256(BASE64-DECODE(secret), \"YYYYMMDD\")")
	case probeTextSecret:
		j.note(DiagKeyNotDerived, Fail, "the token was signed with the secret's base64 text itself: base64-decode it and derive the per-day key, signingKey = HMAC-SHA256(BASE64-DECODE(secret), \"YYYYMMDD\")")
		j.note(DiagSecretNotBase64Decoded, Fail, "the secret's text was used as a key; it must be base64-decoded first")
	}
	return kind, d
}

package credentials

import (
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/sinchsim/sinchsim/internal/jsonobj"
)

// The rules on the token's structure and its header.

const (
	hintBase64 = "JWTs use unpadded base64url (RFC 7515): replace + with -, / with _ and drop the ="
	hintAlg    = `set "alg":"HS256" (HMAC-SHA256 with the derived key)`
	hintKid    = `set "kid":"hkdfv1-" + the UTC date as YYYYMMDD`
)

func judgeSize(j *judgement) {
	if n := len(j.tok.Raw); n > MaxTokenLength {
		j.fatal("token is "+strconv.Itoa(n)+" bytes; at most "+strconv.Itoa(MaxTokenLength)+" are accepted", "")
	}
}

func judgeParts(j *judgement) {
	h, c, s, ok := splitToken(j.tok.Raw)
	if !ok {
		n := strings.Count(j.tok.Raw, ".") + 1
		hint := "header.payload.signature"
		if n == 5 {
			hint = "five parts is an encrypted JWE; Sinch needs a signed JWS"
		}
		j.fatal("a JWT has three dot-separated parts; this has "+strconv.Itoa(n), hint)
		return
	}
	j.parts = [3]string{h, c, s}
	j.have |= haveParts
}

// judgeBase64: the header and payload are non-empty base64url, and so is
// the signature when there is one. An empty signature is the form of an
// unsecured JWT: the structure is sound, and the rules "alg" and "signed"
// judge it.
func judgeBase64(j *judgement) {
	// One buffer for the header and the payload.
	hn := base64.RawURLEncoding.DecodedLen(len(j.parts[0]))
	buf := make([]byte, hn+base64.RawURLEncoding.DecodedLen(len(j.parts[1])))
	var stop bool
	j.tok.HeaderJSON, stop = j.decodePart(buf[:0:hn], j.parts[0], "header")
	if stop {
		return
	}
	j.tok.ClaimsJSON, stop = j.decodePart(buf[hn:hn], j.parts[1], "payload")
	if stop || j.parts[2] == "" {
		return
	}
	var sbuf [48]byte
	sig, _ := j.decodePart(sbuf[:0], j.parts[2], "signature")
	j.sigLen = len(sig)
	copy(j.sigBuf[:], sig)
}

// decodePart decodes one part into dst. For Explain, a part that is not
// base64url is decoded as well as it can be, to judge the rest.
func (j *judgement) decodePart(dst []byte, seg, what string) (b []byte, stop bool) {
	b, reason := decodeSegment(dst, seg, what)
	if reason == "" {
		return b, false
	}
	if j.fail(reason, hintBase64) {
		return nil, true
	}
	return decodeLenient(seg), false
}

// strictBase64URL decodes the parts of a token: unpadded, and refusing
// non-zero trailing bits, so that one token has one encoding.
var strictBase64URL = base64.RawURLEncoding.Strict()

// decodeSegment decodes one base64url part of a compact JWS, naming the
// classic encoding slips (padding, standard alphabet) in the reason.
func decodeSegment(dst []byte, seg, what string) ([]byte, string) {
	if seg == "" {
		return nil, what + " part is empty"
	}
	n := base64.RawURLEncoding.DecodedLen(len(seg))
	if cap(dst) < n {
		dst = make([]byte, 0, n)
	}
	dst = dst[:n]
	m, err := strictBase64URL.Decode(dst, []byte(seg))
	switch {
	case err == nil:
		return dst[:m], ""
	case strings.HasSuffix(seg, "="):
		return nil, what + " is padded with '='"
	case strings.ContainsAny(seg, "+/"):
		return nil, what + " uses the standard base64 alphabet ('+' or '/')"
	}
	return nil, what + " is not base64url"
}

// judgeJSON: the header and the payload are strict JSON objects. Their
// members are kept for the rules that follow.
func judgeJSON(j *judgement) {
	var buf [16]jsonobj.Member
	if j.tok.HeaderJSON != nil {
		fields, ok := j.parseObject(j.tok.HeaderJSON, buf[:0], "header")
		if ok {
			j.readHeader(fields)
		} else if j.err != nil && !j.explaining() {
			return
		}
	}
	if j.tok.ClaimsJSON != nil {
		if fields, ok := j.parseObject(j.tok.ClaimsJSON, buf[:0], "payload"); ok {
			j.readClaims(fields)
		}
	}
}

// parseObject parses a header or payload into buf, and reports whether it
// could. For Explain, an object the strict reader refuses is read as well
// as it can be, and every member is kept.
func (j *judgement) parseObject(b []byte, buf []jsonobj.Member, what string) ([]jsonobj.Member, bool) {
	fields, err := jsonobj.Parse(b, buf, tokenJSON)
	if err != nil {
		var hint string
		if j.explaining() {
			fields, hint = readLenient(b)
		}
		if j.fail(what+" JSON: "+err.Error(), hint) || fields == nil {
			return nil, false
		}
	}
	if j.explaining() {
		// A copy: Verify's members stay in the caller's buffer, on the stack.
		all := make([]jsonobj.Member, len(fields))
		copy(all, fields)
		if what == "header" {
			j.ex.hfields = all
		} else {
			j.ex.cfields = all
		}
	}
	return fields, true
}

func (j *judgement) readHeader(fields []jsonobj.Member) {
	j.have |= haveHeader
	for i := range fields {
		f := &fields[i]
		switch string(f.Key) {
		case "alg":
			j.hdr[hdrAlg] = field{f.Kind, f.Value}
		case "kid":
			j.hdr[hdrKid] = field{f.Kind, f.Value}
		case "typ":
			j.hdr[hdrTyp] = field{f.Kind, f.Value}
		case "crit":
			j.hdr[hdrCrit] = field{f.Kind, f.Value}
		default:
			j.tok.Header.Extra = append(j.tok.Header.Extra, string(f.Key))
		}
	}
}

func (j *judgement) readClaims(fields []jsonobj.Member) {
	j.have |= haveClaims
	for i := range fields {
		if id, ok := claimOf(fields[i].Key); ok {
			j.claim[id] = field{fields[i].Kind, fields[i].Value}
		}
	}
}

func judgeAlg(j *judgement) {
	m := &j.hdr[hdrAlg]
	switch {
	case m.Kind == 0:
		j.fail(`header has no alg; it must be "HS256"`, hintAlg)
	case m.Kind != jsonobj.String:
		j.fail("alg is "+m.Kind.String()+`, not the string "HS256"`, hintAlg)
	case string(m.Value) != Algorithm:
		j.fail("alg is "+quoteShort(m.Value)+`; only "HS256" is accepted`, hintAlg)
	default:
		j.tok.Header.Alg = Algorithm
	}
}

func judgeSigned(j *judgement) {
	if j.parts[2] == "" {
		j.fail("signature part is empty: the token is unsigned", "sign it with HS256 and the key derived for the kid date")
	}
}

func judgeKid(j *judgement) {
	m := &j.hdr[hdrKid]
	switch {
	case m.Kind == 0:
		j.fail("header has no kid; it must be hkdfv1-YYYYMMDD", hintKid)
	case m.Kind != jsonobj.String:
		j.fail("kid is "+m.Kind.String()+", not a string", hintKid)
	default:
		j.tok.Header.Kid = string(m.Value)
		d, ok := parseKidDate(j.tok.Header.Kid)
		if !ok {
			j.fail("kid "+quoteShort(m.Value)+" is not hkdfv1-YYYYMMDD with a real date", hintKid)
			return
		}
		j.kidDate = d
	}
}

// judgeTypCrit: typ, when present, is "JWT"; crit is absent. For Explain
// it also notes the other header members.
func judgeTypCrit(j *judgement) {
	if m := &j.hdr[hdrTyp]; m.Kind != 0 {
		if m.Kind != jsonobj.String || !strings.EqualFold(string(m.Value), "JWT") {
			if j.fail(`typ, when present, must be "JWT"; it is `+memberText(m), "or leave it out") {
				return
			}
		} else {
			j.tok.Header.Typ = string(m.Value)
			j.note(DiagTypHeader, Pass, "the header carries typ "+quoteShort(m.Value)+" (as many JWT libraries add); accepted")
		}
	}
	if j.hdr[hdrCrit].Kind != 0 {
		if j.fail("header has crit; no critical extensions are supported", "remove it") {
			return
		}
	}
	if j.explaining() {
		j.noteHeaderTypos()
	}
}

// memberText renders a member's value for a reason: a string quoted and
// cut short, other values as their JSON text.
func memberText(m *field) string {
	if m.Kind == jsonobj.String {
		return quoteShort(m.Value)
	}
	return Excerpt(m.Value, 40)
}

// splitToken splits a compact JWS into its three parts.
func splitToken(tok string) (h, c, s string, ok bool) {
	i := strings.IndexByte(tok, '.')
	if i < 0 {
		return "", "", "", false
	}
	j := strings.IndexByte(tok[i+1:], '.')
	if j < 0 {
		return "", "", "", false
	}
	j += i + 1
	if strings.IndexByte(tok[j+1:], '.') >= 0 {
		return "", "", "", false
	}
	return tok[:i], tok[i+1 : j], tok[j+1:], true
}

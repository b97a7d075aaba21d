package transport

import (
	"bytes"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// A strict, allocation-light JSON reader for the flat objects of protocol v1.
// encoding/json accepts duplicate keys (the last wins), repairs invalid UTF-8
// silently and needs reflection; a wire message with a duplicate key is
// ambiguous, so this reader rejects it with a one-line reason instead.
//
// The caller checks UTF-8 validity of the whole input once, up front.

type jsonKind uint8

const (
	kindString jsonKind = iota + 1
	kindNumber
	kindBool
	kindNull
	kindObject
	kindArray
)

func (k jsonKind) String() string {
	switch k {
	case kindString:
		return "a string"
	case kindNumber:
		return "a number"
	case kindBool:
		return "a boolean"
	case kindNull:
		return "null"
	case kindObject:
		return "an object"
	case kindArray:
		return "an array"
	}
	return "nothing"
}

// member is one member of an object. key and, for strings, val alias the
// input when they needed no unescaping.
type member struct {
	key  []byte
	kind jsonKind
	val  []byte // decoded string (kindString) or raw text (everything else)
	used bool   // claimed by the codec; an unclaimed member is unknown
}

const (
	// maxDepth bounds nesting so that hostile input cannot exhaust the
	// stack; protocol v1 never nests deeper than 3.
	maxDepth = 32
	// maxMembers bounds an object; the largest message has 9 members.
	maxMembers = 16
)

type jsonParser struct {
	data []byte
	pos  int
	err  string
}

// parseObject parses data as exactly one JSON object (surrounding whitespace
// allowed) and appends its members to dst. On failure it returns a one-line
// reason that names a byte offset, not the input.
func parseObject(data []byte, dst []member) ([]member, string) {
	p := jsonParser{data: data}
	p.ws()
	switch p.peek() {
	case '{':
	case 0:
		if p.pos >= len(data) {
			return nil, "is empty"
		}
		return nil, "is not a JSON object"
	default:
		return nil, "is not a JSON object"
	}
	p.pos++
	p.ws()
	if p.peek() == '}' {
		p.pos++
	} else {
		for {
			p.ws()
			if p.peek() != '"' {
				return nil, p.fail("expected a quoted member name")
			}
			key, ok := p.str()
			if !ok {
				return nil, p.err
			}
			for i := range dst {
				if bytes.Equal(dst[i].key, key) {
					return nil, "has the member " + excerpt(key) + " twice"
				}
			}
			if len(dst) >= maxMembers {
				return nil, "has more than " + strconv.Itoa(maxMembers) + " members"
			}
			p.ws()
			if p.peek() != ':' {
				return nil, p.fail("expected ':' after a member name")
			}
			p.pos++
			p.ws()
			m := member{key: key}
			if !p.value(&m, 1) {
				return nil, p.err
			}
			dst = append(dst, m)
			p.ws()
			switch p.peek() {
			case ',':
				p.pos++
				continue
			case '}':
				p.pos++
			default:
				return nil, p.fail("expected ',' or '}'")
			}
			break
		}
	}
	p.ws()
	if p.pos != len(data) {
		return nil, p.fail("has data after the object")
	}
	return dst, ""
}

// parseStrings parses data as a JSON array of strings.
func parseStrings(data []byte) ([]string, string) {
	p := jsonParser{data: data}
	if p.peek() != '[' {
		return nil, "is not an array"
	}
	p.pos++
	p.ws()
	out := []string{}
	if p.peek() == ']' {
		return out, ""
	}
	for {
		p.ws()
		if p.peek() != '"' {
			return nil, "[" + strconv.Itoa(len(out)) + "] must be a string"
		}
		s, ok := p.str()
		if !ok {
			return nil, p.err
		}
		out = append(out, string(s))
		p.ws()
		switch p.peek() {
		case ',':
			p.pos++
		case ']':
			return out, ""
		default:
			return nil, p.fail("expected ',' or ']'")
		}
	}
}

func (p *jsonParser) peek() byte {
	if p.pos < len(p.data) {
		return p.data[p.pos]
	}
	return 0
}

func (p *jsonParser) ws() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *jsonParser) fail(what string) string {
	if p.pos >= len(p.data) {
		p.err = "ends early: " + what
	} else {
		p.err = what + " at byte " + strconv.Itoa(p.pos)
	}
	return p.err
}

// value parses one value at p.pos. With m != nil it records the value.
func (p *jsonParser) value(m *member, depth int) bool {
	start := p.pos
	c := p.peek()
	switch {
	case c == '"':
		s, ok := p.str()
		if ok && m != nil {
			m.kind, m.val = kindString, s
		}
		return ok
	case c == '-' || (c >= '0' && c <= '9'):
		if !p.number() {
			return false
		}
		if m != nil {
			m.kind, m.val = kindNumber, p.data[start:p.pos]
		}
		return true
	case c == 't' || c == 'f' || c == 'n':
		var lit string
		var kind jsonKind
		switch c {
		case 't':
			lit, kind = "true", kindBool
		case 'f':
			lit, kind = "false", kindBool
		default:
			lit, kind = "null", kindNull
		}
		if !bytes.HasPrefix(p.data[p.pos:], []byte(lit)) {
			p.fail("invalid literal")
			return false
		}
		p.pos += len(lit)
		if m != nil {
			m.kind, m.val = kind, p.data[start:p.pos]
		}
		return true
	case c == '{' || c == '[':
		if depth >= maxDepth {
			p.fail("nesting deeper than " + strconv.Itoa(maxDepth) + " levels")
			return false
		}
		if !p.composite(depth + 1) {
			return false
		}
		if m != nil {
			m.kind, m.val = kindObject, p.data[start:p.pos]
			if c == '[' {
				m.kind = kindArray
			}
		}
		return true
	}
	p.fail("expected a value")
	return false
}

// composite skips an object or array, checking its syntax.
func (p *jsonParser) composite(depth int) bool {
	open := p.data[p.pos]
	closing := byte('}')
	if open == '[' {
		closing = ']'
	}
	p.pos++
	p.ws()
	if p.peek() == closing {
		p.pos++
		return true
	}
	for {
		p.ws()
		if open == '{' {
			if p.peek() != '"' {
				p.fail("expected a quoted member name")
				return false
			}
			if _, ok := p.str(); !ok {
				return false
			}
			p.ws()
			if p.peek() != ':' {
				p.fail("expected ':' after a member name")
				return false
			}
			p.pos++
			p.ws()
		}
		if !p.value(nil, depth) {
			return false
		}
		p.ws()
		switch p.peek() {
		case ',':
			p.pos++
		case closing:
			p.pos++
			return true
		default:
			p.fail("expected ',' or '" + string(closing) + "'")
			return false
		}
	}
}

func (p *jsonParser) number() bool {
	d := p.data
	i := p.pos
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	default:
		p.pos = i
		p.fail("invalid number")
		return false
	}
	if i < len(d) && d[i] == '.' {
		i++
		j := i
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		if i == j {
			p.pos = i
			p.fail("invalid number")
			return false
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		j := i
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		if i == j {
			p.pos = i
			p.fail("invalid number")
			return false
		}
	}
	p.pos = i
	return true
}

// str parses a quoted string at p.pos and returns its decoded bytes, which
// alias the input when the string has no escapes.
func (p *jsonParser) str() ([]byte, bool) {
	d := p.data
	start := p.pos + 1
	i := start
	for i < len(d) {
		c := d[i]
		if c == '"' {
			p.pos = i + 1
			return d[start:i], true
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			p.pos = i
			p.fail("control character in a string")
			return nil, false
		}
		i++
	}
	if i >= len(d) {
		p.pos = i
		p.fail("unterminated string")
		return nil, false
	}
	// Slow path: unescape into a new buffer.
	out := make([]byte, i-start, i-start+16)
	copy(out, d[start:i])
	for i < len(d) {
		c := d[i]
		switch {
		case c == '"':
			p.pos = i + 1
			return out, true
		case c < 0x20:
			p.pos = i
			p.fail("control character in a string")
			return nil, false
		case c != '\\':
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(d) {
			break
		}
		switch e := d[i+1]; e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(d[i+2:])
			if !ok {
				p.pos = i
				p.fail("invalid \\u escape")
				return nil, false
			}
			n := 6
			if utf16.IsSurrogate(r) {
				var r2 rune = -1
				if i+7 < len(d) && d[i+6] == '\\' && d[i+7] == 'u' {
					r2, _ = hex4(d[i+8:])
				}
				r = utf16.DecodeRune(r, r2)
				if r == utf8.RuneError {
					p.pos = i
					p.fail("lone surrogate in a \\u escape")
					return nil, false
				}
				n = 12
			}
			out = utf8.AppendRune(out, r)
			i += n
			continue
		default:
			p.pos = i
			p.fail("invalid escape in a string")
			return nil, false
		}
		i += 2
	}
	p.pos = len(d)
	p.fail("unterminated string")
	return nil, false
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// appendString appends s as a JSON string. s must be valid UTF-8. Only what
// JSON requires is escaped, so the output stays short and readable.
func appendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

package credentials

import (
	"bytes"
	"strconv"
	"unicode/utf8"
)

// A strict, allocation-light reader for the flat JSON objects of a JWT
// header and payload. encoding/json would accept duplicate keys (last one
// wins) and silently repair invalid UTF-8; a registration token with either
// is ambiguous, so both are rejected here with a reason.

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
	return "unknown"
}

// jsonField is one member of the top-level object. key and str alias the
// input when it needed no unescaping.
type jsonField struct {
	key  []byte
	kind jsonKind
	str  []byte // decoded string value (kindString)
	raw  []byte // raw text (numbers, booleans, composites)
}

const (
	maxJSONDepth  = 32
	maxJSONFields = 64
)

type jsonParser struct {
	data []byte
	pos  int
	err  string
	// anyBytes accepts invalid UTF-8 in strings (Explain uses it to locate
	// the bad member; verification never does).
	anyBytes bool
}

// parseJSONObject parses data as one JSON object and appends its members to
// fields. On failure it returns a one-line reason.
func parseJSONObject(data []byte, fields []jsonField) ([]jsonField, string) {
	return parseObject(jsonParser{data: data}, fields)
}

// parseJSONObjectAnyBytes is parseJSONObject that lets strings hold invalid
// UTF-8; everything else is as strict.
func parseJSONObjectAnyBytes(data []byte, fields []jsonField) ([]jsonField, string) {
	return parseObject(jsonParser{data: data, anyBytes: true}, fields)
}

func parseObject(p jsonParser, fields []jsonField) ([]jsonField, string) {
	data := p.data
	p.ws()
	if p.pos >= len(data) || data[p.pos] != '{' {
		if p.pos >= len(data) {
			return nil, "is empty"
		}
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
			for i := range fields {
				if bytes.Equal(fields[i].key, key) {
					return nil, "has the member " + quoteShort(key) + " twice"
				}
			}
			if len(fields) >= maxJSONFields {
				return nil, "has more than " + strconv.Itoa(maxJSONFields) + " members"
			}
			p.ws()
			if p.peek() != ':' {
				return nil, p.fail("expected ':' after a member name")
			}
			p.pos++
			p.ws()
			f := jsonField{key: key}
			if !p.value(&f, 0) {
				return nil, p.err
			}
			fields = append(fields, f)
			p.ws()
			c := p.peek()
			p.pos++
			if c == '}' {
				break
			}
			if c != ',' {
				p.pos--
				return nil, p.fail("expected ',' or '}'")
			}
		}
	}
	p.ws()
	if p.pos != len(data) {
		return nil, p.fail("has data after the object")
	}
	return fields, ""
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

func (p *jsonParser) value(f *jsonField, depth int) bool {
	start := p.pos
	switch c := p.peek(); {
	case c == '"':
		s, ok := p.str()
		if !ok {
			return false
		}
		if f != nil {
			f.kind, f.str = kindString, s
		}
		return true
	case c == '-' || (c >= '0' && c <= '9'):
		if !p.number() {
			return false
		}
		if f != nil {
			f.kind, f.raw = kindNumber, p.data[start:p.pos]
		}
		return true
	case c == 't' || c == 'f' || c == 'n':
		for _, lit := range [...]string{"true", "false", "null"} {
			if bytes.HasPrefix(p.data[p.pos:], []byte(lit)) {
				p.pos += len(lit)
				if f != nil {
					f.kind, f.raw = kindBool, p.data[start:p.pos]
					if lit == "null" {
						f.kind = kindNull
					}
				}
				return true
			}
		}
		p.fail("invalid literal")
		return false
	case c == '{' || c == '[':
		if depth+1 >= maxJSONDepth {
			p.fail("nesting deeper than " + strconv.Itoa(maxJSONDepth))
			return false
		}
		if !p.composite(depth + 1) {
			return false
		}
		if f != nil {
			f.kind, f.raw = kindObject, p.data[start:p.pos]
			if c == '[' {
				f.kind = kindArray
			}
		}
		return true
	}
	p.fail("expected a value")
	return false
}

// composite skips a nested object or array, validating it.
func (p *jsonParser) composite(depth int) bool {
	open := p.data[p.pos]
	closer := byte('}')
	if open == '[' {
		closer = ']'
	}
	p.pos++
	p.ws()
	if p.peek() == closer {
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
				p.fail("expected ':'")
				return false
			}
			p.pos++
			p.ws()
		}
		if !p.value(nil, depth) {
			return false
		}
		p.ws()
		c := p.peek()
		if c == closer {
			p.pos++
			return true
		}
		if c != ',' {
			p.fail("expected ',' or '" + string(closer) + "'")
			return false
		}
		p.pos++
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

// str reads a string starting at the opening quote and returns its decoded
// bytes (aliasing the input when there is nothing to unescape).
func (p *jsonParser) str() ([]byte, bool) {
	d := p.data
	p.pos++ // opening quote
	start := p.pos
	i := start
	for i < len(d) {
		c := d[i]
		if c == '"' {
			s := d[start:i]
			if !p.anyBytes && !utf8.Valid(s) {
				p.pos = start
				p.fail("invalid UTF-8 in a string")
				return nil, false
			}
			p.pos = i + 1
			return s, true
		}
		if c == '\\' {
			return p.strSlow(start)
		}
		if c < 0x20 {
			p.pos = i
			p.fail("control character in a string")
			return nil, false
		}
		i++
	}
	p.pos = len(d)
	p.fail("unterminated string")
	return nil, false
}

func (p *jsonParser) strSlow(start int) ([]byte, bool) {
	d := p.data
	out := make([]byte, 0, 32)
	i := start
	for i < len(d) {
		c := d[i]
		switch {
		case c == '"':
			if !p.anyBytes && !utf8.Valid(out) {
				p.pos = start
				p.fail("invalid UTF-8 in a string")
				return nil, false
			}
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
		i++
		if i >= len(d) {
			break
		}
		switch d[i] {
		case '"', '\\', '/':
			out = append(out, d[i])
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
			r, ok := hex4(d, i+1)
			if !ok {
				p.pos = i
				p.fail("invalid \\u escape")
				return nil, false
			}
			i += 4
			if r >= 0xD800 && r < 0xDC00 { // high surrogate: a low one must follow
				lo, ok := rune(0), false
				if i+6 < len(d) && d[i+1] == '\\' && d[i+2] == 'u' {
					lo, ok = hex4(d, i+3)
				}
				if !ok || lo < 0xDC00 || lo > 0xDFFF {
					p.pos = i
					p.fail("unpaired surrogate in a \\u escape")
					return nil, false
				}
				r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
				i += 6
			} else if r >= 0xDC00 && r <= 0xDFFF {
				p.pos = i
				p.fail("unpaired surrogate in a \\u escape")
				return nil, false
			}
			out = utf8.AppendRune(out, r)
		default:
			p.pos = i
			p.fail("invalid escape")
			return nil, false
		}
		i++
	}
	p.pos = len(d)
	p.fail("unterminated string")
	return nil, false
}

func hex4(d []byte, i int) (rune, bool) {
	if i+4 > len(d) {
		return 0, false
	}
	var r rune
	for _, c := range d[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// quoteShort quotes b for an error message, cut to 40 bytes so that hostile
// input cannot flood logs.
func quoteShort[T string | []byte](b T) string {
	const max = 40
	s := string(b)
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return strconv.Quote(s[:cut]) + "..."
	}
	return strconv.Quote(s)
}

// appendJSONString appends s as a JSON string with the minimal escaping
// JSON.stringify uses (quote, backslash, control characters), so that tokens
// match what JavaScript and the seed vector produce.
func appendJSONString(b []byte, s string) []byte {
	const hexdig = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		default:
			b = append(b, '\\', 'u', '0', '0', hexdig[c>>4], hexdig[c&0xF])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

package jsonobj

// JSON strings: decoding (str and its slow path for escapes) and encoding
// (AppendString).

import (
	"unicode/utf16"
	"unicode/utf8"
)

// str parses the quoted string at p.pos and returns its decoded bytes, which
// alias the input when the string has no escapes.
func (p *parser) str() ([]byte, bool) {
	d := p.data
	start := p.pos + 1
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
			return p.unescape(start, i)
		}
		if c < 0x20 {
			p.pos = i
			p.fail("control character in a string")
			return nil, false
		}
		i++
	}
	p.pos = i
	p.fail("unterminated string")
	return nil, false
}

// unescape is str's slow path, for a string that starts at data[start]
// and has its first escape at data[i]: it decodes into a new buffer.
func (p *parser) unescape(start, i int) ([]byte, bool) {
	d := p.data
	out := make([]byte, i-start, i-start+16)
	copy(out, d[start:i])
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
		if i+1 >= len(d) {
			break
		}
		var n int
		var ok bool
		if out, n, ok = p.escape(out, i); !ok {
			return nil, false
		}
		i += n
	}
	p.pos = len(d)
	p.fail("unterminated string")
	return nil, false
}

// escape decodes the escape at data[i], a backslash with at least one byte
// after it, onto out; n is the escape's length in the input.
func (p *parser) escape(out []byte, i int) (_ []byte, n int, ok bool) {
	d := p.data
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
		return p.escapeU(out, i)
	default:
		p.pos = i
		p.fail("invalid escape in a string")
		return nil, 0, false
	}
	return out, 2, true
}

// escapeU decodes the \u escape at data[i], and the one after it when the
// first is a high surrogate, onto out.
func (p *parser) escapeU(out []byte, i int) (_ []byte, n int, ok bool) {
	d := p.data
	r, ok := hex4(d[i+2:])
	if !ok {
		p.pos = i
		p.fail("invalid \\u escape")
		return nil, 0, false
	}
	n = 6
	if utf16.IsSurrogate(r) {
		// Only a high surrogate followed by the escape of a low one is a
		// character.
		var r2 rune = -1
		if i+7 < len(d) && d[i+6] == '\\' && d[i+7] == 'u' {
			r2, _ = hex4(d[i+8:])
		}
		r = utf16.DecodeRune(r, r2)
		if r == utf8.RuneError {
			p.pos = i
			p.fail("lone surrogate in a \\u escape")
			return nil, 0, false
		}
		n = 12
	}
	return utf8.AppendRune(out, r), n, true
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

// AppendString appends s as a JSON string with the minimal escaping of
// JavaScript's JSON.stringify: quote, backslash and control characters
// (\b \f \n \r \t by name, the others as \u00XX). Everything else, invalid
// UTF-8 included, is copied as is, so the output is short and matches what
// JavaScript produces for the same text.
func AppendString(dst []byte, s string) []byte {
	const hexdig = "0123456789abcdef"
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
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexdig[c>>4], hexdig[c&0xF])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

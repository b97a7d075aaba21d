package jsonobj

import "strconv"

// Excerpt quotes at most 24 bytes of b, in ASCII, for a reason: even a name
// of control characters or astral runes keeps the reason one short line.
func Excerpt(b []byte) string {
	const max = 24
	if len(b) <= max {
		return strconv.QuoteToASCII(string(b))
	}
	n := max
	for n > 0 && b[n]&0xC0 == 0x80 { // do not split a UTF-8 sequence
		n--
	}
	return strconv.QuoteToASCII(string(b[:n])) + "..."
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

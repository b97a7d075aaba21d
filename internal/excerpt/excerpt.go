// Package excerpt shortens untrusted text (a token's claims, a peer's JSON,
// an auth server's answer, a command-line argument) for error messages and
// logs, so that hostile input can neither flood them nor drive a terminal.
// It is the module's one home for that: Quote for a value inside a
// sentence, Line for a body shown after a colon.
package excerpt

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Quote returns s as a quoted Go string literal in ASCII (control
// characters, invalid UTF-8 and every non-ASCII rune escaped), cut to at
// most max bytes of s on a UTF-8 boundary, with "..." after the closing
// quote when cut. The result is always one line.
func Quote[T ~string | ~[]byte](s T, max int) string {
	if len(s) <= max {
		return strconv.QuoteToASCII(string(s))
	}
	n := max
	for n > 0 && !utf8.RuneStart(s[n]) { // do not split a UTF-8 sequence
		n--
	}
	return strconv.QuoteToASCII(string(s[:n])) + "..."
}

// Line returns at most max characters of s as one printable line, unquoted:
// each run of white space and control characters becomes one space, the
// ends are trimmed, invalid UTF-8 becomes U+FFFD, and "..." marks a cut.
func Line[T ~string | ~[]byte](s T, max int) string {
	b := string(s)
	var sb strings.Builder
	count, space := 0, false
	for len(b) > 0 && count < max {
		r, size := utf8.DecodeRuneInString(b)
		b = b[size:]
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			if !space && sb.Len() > 0 {
				sb.WriteByte(' ')
				count++
			}
			space = true
			continue
		}
		space = false
		sb.WriteRune(r)
		count++
	}
	out := strings.TrimSpace(sb.String())
	if len(b) > 0 {
		out += "..."
	}
	return out
}

package jsonobj

import (
	"bytes"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// Kind is the JSON type of a value.
type Kind uint8

// The kinds of JSON value. The zero Kind is no value.
const (
	String Kind = iota + 1
	Number
	Bool
	Null
	Object
	Array
)

// String returns the kind with its article, for reasons such as
// "must be a string, not a number".
func (k Kind) String() string {
	switch k {
	case String:
		return "a string"
	case Number:
		return "a number"
	case Bool:
		return "a boolean"
	case Null:
		return "null"
	case Object:
		return "an object"
	case Array:
		return "an array"
	}
	return "nothing"
}

// Member is one member of the top-level object. Key and a String's Value
// alias the input when they needed no unescaping (raw text always does): they
// are valid as long as the input is.
type Member struct {
	// Key is the decoded member name.
	Key []byte
	// Kind is the JSON type of the value.
	Kind Kind
	// Value is the decoded string for a String; the raw text for every other
	// kind ("true", "-1.5e3", a whole nested object or array, ...).
	Value []byte
}

// Defaults for the zero fields of Options.
const (
	DefaultMaxMembers = 64
	DefaultMaxDepth   = 32
)

// Options tune the reader. The zero value is the strictest reading with the
// default limits.
type Options struct {
	// MaxMembers bounds the members of the top-level object (nested objects
	// are bounded by the input size only); 0 means DefaultMaxMembers.
	MaxMembers int
	// MaxDepth bounds nesting, the top-level object being level 1, so that
	// hostile input cannot exhaust the stack; 0 means DefaultMaxDepth.
	MaxDepth int
	// AllowInvalidUTF8 skips the UTF-8 check of strings, for a caller that
	// has checked the whole input already, or one that reads a text holding
	// invalid UTF-8 to report it member by member. Everything else stays as
	// strict.
	AllowInvalidUTF8 bool
}

func (o *Options) maxMembers() int {
	if o.MaxMembers > 0 {
		return o.MaxMembers
	}
	return DefaultMaxMembers
}

func (o *Options) maxDepth() int {
	if o.MaxDepth > 0 {
		return o.MaxDepth
	}
	return DefaultMaxDepth
}

// Error is why Parse or ParseStrings refused a text: one line without a
// subject, such as `has the member "id" twice` or `ends early: unterminated
// string`, for the caller to prefix ("message ", "header JSON: "). It names
// byte offsets, never more than a short excerpt of the input.
type Error struct {
	Reason string
}

// Error returns the reason.
func (e *Error) Error() string { return e.Reason }

// refuse wraps a reason as the error of Parse and ParseStrings.
func refuse(reason string) error { return &Error{Reason: reason} }

type parser struct {
	data     []byte
	pos      int
	err      string
	maxDepth int
	anyBytes bool
}

// Parse parses data as exactly one JSON object (surrounding whitespace
// allowed) and appends its members, in input order, to dst. On failure it
// returns nil and an *Error.
func Parse(data []byte, dst []Member, o Options) ([]Member, error) {
	p := parser{data: data, maxDepth: o.maxDepth(), anyBytes: o.AllowInvalidUTF8}
	maxMembers := o.maxMembers()
	p.ws()
	if p.pos >= len(data) {
		return nil, refuse("is empty")
	}
	if data[p.pos] != '{' {
		return nil, refuse("is not a JSON object")
	}
	for more := p.open('}'); more; {
		key, ok := p.name()
		if !ok {
			return nil, refuse(p.err)
		}
		for i := range dst {
			if bytes.Equal(dst[i].Key, key) {
				return nil, refuse("has the member " + Excerpt(key) + " twice")
			}
		}
		if len(dst) >= maxMembers {
			return nil, refuse("has more than " + strconv.Itoa(maxMembers) + " members")
		}
		m := Member{Key: key}
		if !p.colon() || !p.value(&m, 1) {
			return nil, refuse(p.err)
		}
		dst = append(dst, m)
		if more, ok = p.next('}'); !ok {
			return nil, refuse(p.err)
		}
	}
	if !p.end("object") {
		return nil, refuse(p.err)
	}
	return dst, nil
}

// ParseStrings parses data as exactly one JSON array of strings
// (surrounding whitespace allowed). An empty array gives an empty, non-nil
// slice. On failure it returns nil and an *Error.
func ParseStrings(data []byte, o Options) ([]string, error) {
	p := parser{data: data, anyBytes: o.AllowInvalidUTF8}
	p.ws()
	if p.peek() != '[' {
		return nil, refuse("is not an array")
	}
	out := []string{}
	for more := p.open(']'); more; {
		if p.peek() != '"' {
			return nil, refuse("[" + strconv.Itoa(len(out)) + "] must be a string")
		}
		s, ok := p.str()
		if !ok {
			return nil, refuse(p.err)
		}
		out = append(out, string(s))
		if more, ok = p.next(']'); !ok {
			return nil, refuse(p.err)
		}
	}
	if !p.end("array") {
		return nil, refuse(p.err)
	}
	return out, nil
}

// open consumes the opening bracket at p.pos and the whitespace after it,
// and reports whether members or elements follow; if not, it consumes the
// closing bracket too.
func (p *parser) open(closing byte) bool {
	p.pos++
	p.ws()
	if p.peek() == closing {
		p.pos++
		return false
	}
	return true
}

// next reads what follows a member or element: a ',' and whitespace (more
// follows) or the closing bracket (the end).
func (p *parser) next(closing byte) (more, ok bool) {
	p.ws()
	switch p.peek() {
	case ',':
		p.pos++
		p.ws()
		return true, true
	case closing:
		p.pos++
		return false, true
	}
	p.fail("expected ',' or '" + string(closing) + "'")
	return false, false
}

// end checks that only whitespace follows the top-level value, what.
func (p *parser) end(what string) bool {
	p.ws()
	if p.pos != len(p.data) {
		p.fail("has data after the " + what)
		return false
	}
	return true
}

func (p *parser) peek() byte {
	if p.pos < len(p.data) {
		return p.data[p.pos]
	}
	return 0
}

func (p *parser) ws() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// fail records and returns the reason for what went wrong at p.pos.
func (p *parser) fail(what string) string {
	if p.pos >= len(p.data) {
		p.err = "ends early: " + what
	} else {
		p.err = what + " at byte " + strconv.Itoa(p.pos)
	}
	return p.err
}

// value parses one value at p.pos inside a container at nesting level depth.
// With m != nil it records the value.
func (p *parser) value(m *Member, depth int) bool {
	start := p.pos
	switch c := p.peek(); {
	case c == '"':
		s, ok := p.str()
		if ok && m != nil {
			m.Kind, m.Value = String, s
		}
		return ok
	case c == '-' || (c >= '0' && c <= '9'):
		if !p.number() {
			return false
		}
		if m != nil {
			m.Kind, m.Value = Number, p.data[start:p.pos]
		}
		return true
	case c == 't' || c == 'f' || c == 'n':
		lit, kind := "null", Null
		switch c {
		case 't':
			lit, kind = "true", Bool
		case 'f':
			lit, kind = "false", Bool
		}
		if !bytes.HasPrefix(p.data[p.pos:], []byte(lit)) {
			p.fail("invalid literal")
			return false
		}
		p.pos += len(lit)
		if m != nil {
			m.Kind, m.Value = kind, p.data[start:p.pos]
		}
		return true
	case c == '{' || c == '[':
		if depth >= p.maxDepth {
			p.fail("nesting deeper than " + strconv.Itoa(p.maxDepth) + " levels")
			return false
		}
		if !p.composite(depth + 1) {
			return false
		}
		if m != nil {
			m.Kind, m.Value = Object, p.data[start:p.pos]
			if c == '[' {
				m.Kind = Array
			}
		}
		return true
	}
	p.fail("expected a value")
	return false
}

// composite checks the syntax of the object or array at p.pos, which is at
// nesting level depth, and skips it.
func (p *parser) composite(depth int) bool {
	object := p.data[p.pos] == '{'
	closing := byte(']')
	if object {
		closing = '}'
	}
	for more := p.open(closing); more; {
		if object {
			if _, ok := p.name(); !ok || !p.colon() {
				return false
			}
		}
		if !p.value(nil, depth) {
			return false
		}
		var ok bool
		if more, ok = p.next(closing); !ok {
			return false
		}
	}
	return true
}

// name reads the quoted member name at p.pos.
func (p *parser) name() ([]byte, bool) {
	if p.peek() != '"' {
		p.fail("expected a quoted member name")
		return nil, false
	}
	return p.str()
}

// colon reads the ':' after a member name and the whitespace around it.
func (p *parser) colon() bool {
	p.ws()
	if p.peek() != ':' {
		p.fail("expected ':' after a member name")
		return false
	}
	p.pos++
	p.ws()
	return true
}

func (p *parser) number() bool {
	d := p.data
	i := p.pos
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		i = digits(d, i)
	default:
		return p.badNumber(i)
	}
	if i < len(d) && d[i] == '.' {
		j := digits(d, i+1)
		if j == i+1 {
			return p.badNumber(j)
		}
		i = j
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		j := digits(d, i)
		if j == i {
			return p.badNumber(j)
		}
		i = j
	}
	p.pos = i
	return true
}

// digits returns the index after the run of digits that starts at d[i].
func digits(d []byte, i int) int {
	for i < len(d) && d[i] >= '0' && d[i] <= '9' {
		i++
	}
	return i
}

func (p *parser) badNumber(at int) bool {
	p.pos = at
	p.fail("invalid number")
	return false
}

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
	return p.unescape(start, i)
}

// unescape continues str for a string with escapes: the bytes from start
// to i need none and are copied, the rest is decoded into a new buffer.
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
		n, ok := p.escape(&out, i)
		if !ok {
			return nil, false
		}
		i += n
	}
	p.pos = len(d)
	p.fail("unterminated string")
	return nil, false
}

// escape decodes the escape at data[i], appends it to *out and returns
// its length.
func (p *parser) escape(out *[]byte, i int) (int, bool) {
	d := p.data
	if i+1 >= len(d) {
		p.pos = len(d)
		p.fail("unterminated string")
		return 0, false
	}
	switch e := d[i+1]; e {
	case '"', '\\', '/':
		*out = append(*out, e)
	case 'b':
		*out = append(*out, '\b')
	case 'f':
		*out = append(*out, '\f')
	case 'n':
		*out = append(*out, '\n')
	case 'r':
		*out = append(*out, '\r')
	case 't':
		*out = append(*out, '\t')
	case 'u':
		return p.unicodeEscape(out, i)
	default:
		p.pos = i
		p.fail("invalid escape in a string")
		return 0, false
	}
	return 2, true
}

// unicodeEscape decodes the \u escape at data[i] (two of them for a
// surrogate pair).
func (p *parser) unicodeEscape(out *[]byte, i int) (int, bool) {
	d := p.data
	r, ok := hex4(d[i+2:])
	if !ok {
		p.pos = i
		p.fail("invalid \\u escape")
		return 0, false
	}
	n := 6
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
			return 0, false
		}
		n = 12
	}
	*out = utf8.AppendRune(*out, r)
	return n, true
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

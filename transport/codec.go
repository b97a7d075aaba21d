package transport

import (
	"errors"
	"math"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/sinchsim/sinchsim/codes"
	"github.com/sinchsim/sinchsim/internal/excerpt"
	"github.com/sinchsim/sinchsim/internal/jsonobj"
)

// maxMembers bounds an object of a message; the largest has 9 members.
const maxMembers = 16

// codec.used has a bit per member.
var _ [32 - maxMembers]struct{}

// wireJSON reads the objects of protocol v1 (and nested ones) with
// jsonobj's default depth of 32 levels, where protocol v1 never nests deeper
// than 3. Decode checks the UTF-8 of the whole frame up front, so strings
// need no second check.
var wireJSON = jsonobj.Options{MaxMembers: maxMembers, AllowInvalidUTF8: true}

// presence says whether a string member must be there.
type presence uint8

const (
	required presence = iota // present (may be "")
	optional                 // may be absent; omitted on the wire when ""
	nonEmpty                 // present and not ""
)

// timeLayout is RFC 3339 in UTC with second precision, the only timestamp
// form of protocol v1.
const timeLayout = "2006-01-02T15:04:05Z"

// fielder is anything that describes its members to a codec: every Message,
// Instance and Error.
type fielder interface{ fields(c *codec) }

// codec runs a message's member description in one of two directions:
// encoding appends the members to buf; decoding fills them from the parsed
// members of an object. The first problem found is kept in err.
type codec struct {
	decoding bool
	err      string

	// encoding
	buf   []byte
	first bool // the next member is the first of its object

	// decoding
	members []jsonobj.Member
	used    uint32 // bit i: members[i] claimed; an unclaimed member is unknown
	path    string // prefix for nested member names in reasons
	top     [maxMembers]jsonobj.Member
	nested  [maxMembers]jsonobj.Member
}

var codecPool = sync.Pool{New: func() any { return new(codec) }}

func getCodec(decoding bool) *codec {
	c := codecPool.Get().(*codec)
	c.decoding = decoding
	return c
}

func putCodec(c *codec) {
	// Drop references into the caller's buffers before pooling.
	clear(c.top[:])
	clear(c.nested[:])
	c.err, c.buf, c.first, c.members, c.used, c.path = "", nil, false, nil, 0, ""
	codecPool.Put(c)
}

// Encode returns the JSON text of m, "type" first, then the members in the
// order docs/PROTOCOL.md lists them. It refuses (with an error) any message
// Decode would refuse: an invalid id, a string that is not valid UTF-8, an
// empty code, a negative retryAfterMs, a protocol version below 1, a time
// outside years 0000-9999. Times are sent in UTC, truncated to the second.
func Encode(m Message) ([]byte, error) {
	// Encode into pooled scratch space and copy once, so that the result is
	// a single right-sized allocation.
	bp, err := encodeMsg(m)
	if err != nil {
		return nil, err
	}
	defer putMsgBuf(bp)
	return append([]byte(nil), *bp...), nil
}

// appendMessage appends the encoding of m to dst; on error dst is returned
// unchanged.
func appendMessage(dst []byte, m Message) ([]byte, error) {
	if m == nil || reflect.ValueOf(m).IsNil() {
		return dst, errors.New("transport: cannot encode a nil message")
	}
	c := getCodec(false)
	defer putCodec(c)
	c.buf = append(dst, `{"type":`...)
	c.buf = jsonobj.AppendString(c.buf, m.MessageType())
	m.fields(c)
	if c.err != "" {
		return dst, errors.New("transport: cannot encode " + m.MessageType() + ": " + c.err)
	}
	return append(c.buf, '}'), nil
}

// Decode parses one protocol v1 message. It is strict: anything but a single
// JSON object in valid UTF-8 with a known "type", exactly the members of that
// type (no unknown, no duplicate, none missing) and the right JSON type for
// each gives a *ProtocolError with a one-line reason. Decode never panics and
// does not retain data.
func Decode(data []byte) (Message, error) {
	if !utf8.Valid(data) {
		return nil, &ProtocolError{Reason: "message is not valid UTF-8"}
	}
	c := getCodec(true)
	defer putCodec(c)
	members, err := jsonobj.Parse(data, c.top[:0], wireJSON)
	if err != nil {
		return nil, &ProtocolError{Reason: "message " + err.Error()}
	}
	c.members = members
	t := c.take("type")
	switch {
	case t == nil:
		return nil, c.protocolError(`message has no "type"`)
	case t.Kind != jsonobj.String:
		return nil, c.protocolError(`"type" must be a string, not ` + t.Kind.String())
	}
	m := newMessage(t.Value)
	if m == nil {
		return nil, c.protocolError("unknown message type " + excerpt.Quote(t.Value, 24))
	}
	m.fields(c)
	c.unknown()
	if c.err != "" {
		return nil, c.protocolError(m.MessageType() + ": " + c.err)
	}
	return m, nil
}

// protocolError reports a well-formed object that is not a valid message,
// with its request id when it has a valid one.
func (c *codec) protocolError(reason string) *ProtocolError {
	pe := &ProtocolError{Reason: reason}
	if m := c.findOnly("id"); m != nil && m.Kind == jsonobj.String && validID(m.Value) {
		pe.ID = string(m.Value)
	}
	return pe
}

// validID reports whether id is 1..MaxIDLen bytes of printable ASCII
// without space.
func validID[T string | []byte](id T) bool {
	if len(id) == 0 || len(id) > MaxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7E {
			return false
		}
	}
	return true
}

func (c *codec) fail(name, what string) {
	if c.err == "" {
		c.err = `member "` + c.path + name + `" ` + what
	}
}

// key starts a member when encoding.
func (c *codec) key(name string) {
	if !c.first {
		c.buf = append(c.buf, ',')
	}
	c.first = false
	c.buf = append(c.buf, '"')
	c.buf = append(c.buf, name...)
	c.buf = append(c.buf, '"', ':')
}

// take finds the member name when decoding and marks it used.
func (c *codec) take(name string) *jsonobj.Member {
	for i := range c.members {
		if string(c.members[i].Key) == name {
			c.used |= 1 << i
			return &c.members[i]
		}
	}
	return nil
}

// unknown records the first member no description claimed.
func (c *codec) unknown() {
	if c.err != "" {
		return
	}
	for i := range c.members {
		if c.used&(1<<i) == 0 {
			q := excerpt.Quote(c.members[i].Key, 24) // quoted
			c.err = `unknown member "` + c.path + q[1:]
			return
		}
	}
}

// takeKind finds a required member and checks its JSON type.
func (c *codec) takeKind(name string, want jsonobj.Kind) *jsonobj.Member {
	m := c.take(name)
	if m == nil {
		c.fail(name, "is missing")
		return nil
	}
	if m.Kind != want {
		c.fail(name, "must be "+want.String()+", not "+m.Kind.String())
		return nil
	}
	return m
}

func (c *codec) str(name string, p *string, pr presence) {
	if !c.decoding {
		switch {
		case pr == optional && *p == "":
			return
		case pr == nonEmpty && *p == "":
			c.fail(name, "must not be empty")
			return
		case !utf8.ValidString(*p):
			c.fail(name, "is not valid UTF-8")
			return
		}
		c.key(name)
		c.buf = jsonobj.AppendString(c.buf, *p)
		return
	}
	if pr == optional {
		m := c.take(name)
		if m == nil {
			return
		}
		if m.Kind != jsonobj.String {
			c.fail(name, "must be a string, not "+m.Kind.String())
			return
		}
		*p = string(m.Value)
		return
	}
	m := c.takeKind(name, jsonobj.String)
	if m == nil {
		return
	}
	if pr == nonEmpty && len(m.Value) == 0 {
		c.fail(name, "must not be empty")
		return
	}
	*p = string(m.Value)
}

func (c *codec) id(p *string, pr presence) {
	const name = "id"
	if !c.decoding {
		if pr == optional && *p == "" {
			return
		}
		if !validID(*p) {
			c.fail(name, "must be 1-64 printable ASCII characters")
			return
		}
		c.key(name)
		c.buf = jsonobj.AppendString(c.buf, *p)
		return
	}
	var m *jsonobj.Member
	if pr == optional {
		if m = c.take(name); m == nil {
			return
		}
		if m.Kind != jsonobj.String {
			c.fail(name, "must be a string, not "+m.Kind.String())
			return
		}
		if len(m.Value) == 0 {
			return
		}
	} else if m = c.takeKind(name, jsonobj.String); m == nil {
		return
	}
	if !validID(m.Value) {
		c.fail(name, "must be 1-64 printable ASCII characters")
		return
	}
	*p = string(m.Value)
}

func (c *codec) strs(name string, p *[]string) {
	if !c.decoding {
		for _, s := range *p {
			if !utf8.ValidString(s) {
				c.fail(name, "holds a string that is not valid UTF-8")
				return
			}
		}
		c.key(name)
		c.buf = append(c.buf, '[')
		for i, s := range *p {
			if i > 0 {
				c.buf = append(c.buf, ',')
			}
			c.buf = jsonobj.AppendString(c.buf, s)
		}
		c.buf = append(c.buf, ']')
		return
	}
	m := c.takeKind(name, jsonobj.Array)
	if m == nil {
		return
	}
	v, err := jsonobj.ParseStrings(m.Value, wireJSON)
	if err != nil {
		c.fail(name, "must be an array of strings")
		return
	}
	*p = v
}

func (c *codec) time(name string, p *time.Time, pr presence) {
	if !c.decoding {
		if pr == optional && p.IsZero() {
			return
		}
		t := p.UTC().Truncate(time.Second)
		if y := t.Year(); y < 0 || y > 9999 {
			c.fail(name, "is outside years 0000-9999")
			return
		}
		c.key(name)
		c.buf = append(c.buf, '"')
		c.buf = t.AppendFormat(c.buf, timeLayout)
		c.buf = append(c.buf, '"')
		return
	}
	m := c.take(name)
	switch {
	case m == nil && pr == optional:
		return
	case m == nil:
		c.fail(name, "is missing")
		return
	case m.Kind == jsonobj.Null && pr == optional:
		return
	case m.Kind != jsonobj.String:
		if pr == optional {
			c.fail(name, "must be a string or null, not "+m.Kind.String())
		} else {
			c.fail(name, "must be a string, not "+m.Kind.String())
		}
		return
	}
	t, ok := parseTime(m.Value)
	if !ok {
		c.fail(name, "must be an RFC 3339 time in UTC with second precision (YYYY-MM-DDThh:mm:ssZ)")
		return
	}
	*p = t
}

// parseTime accepts exactly the form Encode writes.
func parseTime(b []byte) (time.Time, bool) {
	if len(b) != len(timeLayout) || b[len(b)-1] != 'Z' {
		return time.Time{}, false
	}
	s := string(b)
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return time.Time{}, false
	}
	var buf [len(timeLayout)]byte
	if string(t.AppendFormat(buf[:0], timeLayout)) != s {
		return time.Time{}, false
	}
	return t, true
}

// integer decodes a JSON number that is an integer in [lo, hi].
func (c *codec) integer(name string, lo, hi uint64) (uint64, bool) {
	m := c.takeKind(name, jsonobj.Number)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseUint(string(m.Value), 10, 64)
	if err != nil || v < lo || v > hi {
		c.fail(name, "must be an integer from "+strconv.FormatUint(lo, 10)+" to "+strconv.FormatUint(hi, 10))
		return 0, false
	}
	return v, true
}

func (c *codec) uint64(name string, p *uint64) {
	if !c.decoding {
		c.key(name)
		c.buf = strconv.AppendUint(c.buf, *p, 10)
		return
	}
	if v, ok := c.integer(name, 0, math.MaxUint64); ok {
		*p = v
	}
}

// int64 handles a non-negative optional integer, omitted when 0.
func (c *codec) int64(name string, p *int64) {
	if !c.decoding {
		if *p == 0 {
			return
		}
		if *p < 0 {
			c.fail(name, "must not be negative")
			return
		}
		c.key(name)
		c.buf = strconv.AppendInt(c.buf, *p, 10)
		return
	}
	if c.findOnly(name) == nil {
		return
	}
	if v, ok := c.integer(name, 0, math.MaxInt64); ok {
		*p = int64(v)
	}
}

func (c *codec) protocol(name string, p *int) {
	if !c.decoding {
		if *p < 1 || *p > math.MaxInt32 {
			c.fail(name, "must be a version from 1")
			return
		}
		c.key(name)
		c.buf = strconv.AppendInt(c.buf, int64(*p), 10)
		return
	}
	if v, ok := c.integer(name, 1, math.MaxInt32); ok {
		*p = int(v)
	}
}

func (c *codec) boolean(name string, p *bool) {
	if !c.decoding {
		c.key(name)
		c.buf = strconv.AppendBool(c.buf, *p)
		return
	}
	if m := c.takeKind(name, jsonobj.Bool); m != nil {
		*p = m.Value[0] == 't'
	}
}

func (c *codec) domain(name string, p *codes.Domain) {
	if !c.decoding {
		if !validDomain(*p) {
			c.fail(name, `must be "api", "network" or "http"`)
			return
		}
		c.key(name)
		c.buf = jsonobj.AppendString(c.buf, string(*p))
		return
	}
	m := c.takeKind(name, jsonobj.String)
	if m == nil {
		return
	}
	if d := codes.Domain(m.Value); validDomain(d) {
		*p = d
		return
	}
	c.fail(name, `must be "api", "network" or "http"`)
}

func validDomain(d codes.Domain) bool {
	return d == DomainAPI || d == DomainNetwork || d == DomainHTTP
}

// object handles a nested object member. Protocol v1 nests one level only.
func (c *codec) object(name string, v fielder) {
	if c.path != "" {
		c.fail(name, "is nested too deeply")
		return
	}
	if !c.decoding {
		c.key(name)
		c.buf = append(c.buf, '{')
		c.first, c.path = true, name+"."
		v.fields(c)
		c.first, c.path = false, ""
		c.buf = append(c.buf, '}')
		return
	}
	m := c.takeKind(name, jsonobj.Object)
	if m == nil || c.err != "" {
		return
	}
	sub, err := jsonobj.Parse(m.Value, c.nested[:0], wireJSON)
	if err != nil {
		c.fail(name, err.Error())
		return
	}
	outer, outerUsed := c.members, c.used
	c.members, c.used, c.path = sub, 0, name+"."
	v.fields(c)
	c.unknown()
	c.members, c.used, c.path = outer, outerUsed, ""
}

// strMap handles an optional object of string members (call headers):
// omitted on the wire when empty, and decoded to nil when absent or empty.
// Keys go out sorted, so that a map always encodes the same way. It holds
// at most maxMembers entries, as every object of protocol v1.
func (c *codec) strMap(name string, p *map[string]string) {
	if !c.decoding {
		if len(*p) == 0 {
			return
		}
		if len(*p) > maxMembers {
			c.fail(name, "has more than "+strconv.Itoa(maxMembers)+" members")
			return
		}
		keys := make([]string, 0, len(*p))
		for k, v := range *p {
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				c.fail(name, "holds a string that is not valid UTF-8")
				return
			}
			keys = append(keys, k)
		}
		slices.Sort(keys)
		c.key(name)
		c.buf = append(c.buf, '{')
		for i, k := range keys {
			if i > 0 {
				c.buf = append(c.buf, ',')
			}
			c.buf = jsonobj.AppendString(c.buf, k)
			c.buf = append(c.buf, ':')
			c.buf = jsonobj.AppendString(c.buf, (*p)[k])
		}
		c.buf = append(c.buf, '}')
		return
	}
	m := c.take(name)
	if m == nil {
		return
	}
	if m.Kind != jsonobj.Object {
		c.fail(name, "must be an object, not "+m.Kind.String())
		return
	}
	sub, err := jsonobj.Parse(m.Value, c.nested[:0], wireJSON)
	if err != nil {
		c.fail(name, err.Error())
		return
	}
	if len(sub) == 0 {
		return
	}
	out := make(map[string]string, len(sub))
	for _, e := range sub {
		if e.Kind != jsonobj.String {
			c.fail(name, "must hold only strings, not "+e.Kind.String())
			return
		}
		out[string(e.Key)] = string(e.Value)
	}
	*p = out
}

// findOnly looks a member up without claiming it.
func (c *codec) findOnly(name string) *jsonobj.Member {
	for i := range c.members {
		if string(c.members[i].Key) == name {
			return &c.members[i]
		}
	}
	return nil
}

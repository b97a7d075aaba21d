// Package jsonobj is a strict, allocation-light reader for the flat JSON
// objects of this module: the header and payload of a registration token
// (package credentials) and the messages of protocol v1 (package transport).
//
// encoding/json accepts duplicate member names (the last one wins), repairs
// invalid UTF-8 silently and needs reflection. An object with either defect
// is ambiguous, so [Parse] refuses it, together with everything else that is
// not exactly one RFC 8259 object: a lone UTF-16 surrogate in a \u escape, a
// raw control character in a string, trailing data, nesting deeper than
// [Options.MaxDepth] levels, more than [Options.MaxMembers] members.
//
// A failure is an [*Error] whose text is a one-line reason without a
// subject, such as `has the member "id" twice` or `ends early: unterminated
// string`, for the caller to prefix ("message ", "header JSON: "). A reason
// names byte offsets, never more than a short excerpt of the input.
//
// Parse reads the members of the top-level object only: it returns each one
// with its kind and its decoded string or raw text, and checks the syntax of
// nested values without building anything. Strings without escapes alias the
// input; a call allocates nothing beyond the growth of the caller's slice and
// strings that need unescaping.
package jsonobj

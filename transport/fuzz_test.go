package transport

import (
	"errors"
	"reflect"
	"testing"
)

// FuzzDecode checks that Decode never panics, that every failure is a
// *ProtocolError, and that whatever decodes re-encodes and decodes to the
// same value. The seed corpus is in testdata/fuzz/FuzzDecode; the samples of
// every message type are added here too.
func FuzzDecode(f *testing.F) {
	for _, m := range sampleMessages() {
		data, err := Encode(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data)
		if err != nil {
			var pe *ProtocolError
			if !errors.As(err, &pe) {
				t.Fatalf("Decode error is %T, not *ProtocolError: %v", err, err)
			}
			if m != nil {
				t.Fatal("Decode returned a message and an error")
			}
			if len(pe.Reason) > 200 {
				t.Fatalf("reason too long (%d bytes): %.80q", len(pe.Reason), pe.Reason)
			}
			return
		}
		enc, err := Encode(m)
		if err != nil {
			t.Fatalf("decoded %#v but cannot encode it: %v", m, err)
		}
		m2, err := Decode(enc)
		if err != nil {
			t.Fatalf("re-encoding %s does not decode: %v", enc, err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip changed the message:\n%#v\n%#v", m, m2)
		}
		enc2, _ := Encode(m2)
		if string(enc) != string(enc2) {
			t.Fatalf("encoding is not stable:\n%s\n%s", enc, enc2)
		}
	})
}

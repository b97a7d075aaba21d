package credentials

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestParseSecret(t *testing.T) {
	want := seedSecretValue.Bytes()
	for _, text := range []string{
		seedSecret,                         // standard, padded
		strings.TrimRight(seedSecret, "="), // standard, unpadded
		"-_8_-_8_",                         // URL-safe
	} {
		s, err := ParseSecret(text)
		if err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		if s.Text() != text || s.IsZero() {
			t.Fatalf("%q: Text = %q", text, s.Text())
		}
		if text == seedSecret || text == strings.TrimRight(seedSecret, "=") {
			if !bytes.Equal(s.Bytes(), want) {
				t.Fatalf("%q decodes to %x", text, s.Bytes())
			}
		}
	}
	// Bytes is a copy.
	b := seedSecretValue.Bytes()
	b[0] ^= 0xff
	if bytes.Equal(b, seedSecretValue.Bytes()) {
		t.Fatal("Bytes aliases the secret")
	}
}

func TestParseSecretErrors(t *testing.T) {
	tests := []struct {
		text, why string
	}{
		{"", "empty"},
		{seedSecret + "\n", "whitespace"},
		{" " + seedSecret, "whitespace"},
		{"ax8hTTQJF0OPXL32r1LHMA==!", "outside the base64 alphabet"},
		{"ax8hTTQJF0OPXL32r1LHMA=é", "outside the base64 alphabet"},
		{"ax8h+TQJF0OPXL32r1LH-A==", "mixes"},
		{"ax8h=TQJF0OPXL32r1LHMA==", "middle"},
		{"ax8hTTQJF0OPXL32r1LHMA=", "length"},
		{"a", "length"},
		{"ax8hTTQJF0OPXL32r1LHMA===", "length"},
		{"=", "length"},
	}
	for _, tt := range tests {
		s, err := ParseSecret(tt.text)
		if !errors.Is(err, ErrSecretInvalid) || !s.IsZero() {
			t.Errorf("%q: err = %v", tt.text, err)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, tt.why) {
			t.Errorf("%q: %q does not say %q", tt.text, msg, tt.why)
		}
		if tt.text != "" && len(tt.text) > 1 && strings.Contains(msg, strings.TrimSpace(tt.text)[:8]) {
			t.Errorf("%q: error repeats the secret: %s", tt.text, msg)
		}
	}
	defer func() {
		if r := recover(); r == nil || strings.Contains(fmt.Sprint(r), "ax8h") {
			t.Errorf("MustParseSecret panic = %v", r)
		}
	}()
	MustParseSecret("ax8hTTQJF0OPXL32r1LHMA=!")
}

func TestZeroSecret(t *testing.T) {
	var s Secret
	if !s.IsZero() || s.Text() != "" || len(s.Bytes()) != 0 || len(SigningKey(s, seedTime)) != 32 {
		t.Fatal("zero Secret")
	}
	if fmt.Sprint(s) != "[redacted]" {
		t.Fatal("zero Secret prints")
	}
}

// TestSecretNeverPrints: every fmt verb, directly, inside structs (exported
// and unexported fields), behind pointers, and in JSON.
func TestSecretNeverPrints(t *testing.T) {
	m, _ := NewMinter(MinterConfig{ApplicationKey: seedAppKey, Secret: seedSecretValue})
	p, _ := NewSelfSignedProvider(MinterConfig{ApplicationKey: seedAppKey, Secret: seedSecretValue})
	keys := NewKeyring()
	keys.Add(seedAppKey, seedSecretValue)
	_, _ = m.MintWith(MintParams{UserID: "warm-the-key-cache", Now: seedTime})
	type config struct {
		Name   string
		Secret Secret
		hidden Secret
		Ptr    *Secret
	}
	cfg := config{Name: "n", Secret: seedSecretValue, hidden: seedSecretValue, Ptr: &seedSecretValue}
	values := map[string]any{
		"Secret":       seedSecretValue,
		"*Secret":      &seedSecretValue,
		"struct":       cfg,
		"*struct":      &cfg,
		"MinterConfig": MinterConfig{ApplicationKey: seedAppKey, Secret: seedSecretValue},
		"*Minter":      m,
		"*Keyring":     keys,
		"*SelfSigned":  p,
		"slice":        []Secret{seedSecretValue},
		"map":          map[string]Secret{"k": seedSecretValue},
	}
	for name, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T"} {
			out := fmt.Sprintf(verb, v)
			assertNoSecret(t, name+" "+verb, out)
		}
	}
	for _, verb := range []string{"%v", "%s", "%x", "%+v", "%#v"} {
		if out := fmt.Sprintf(verb, seedSecretValue); out != "[redacted]" {
			t.Errorf("%s prints %q", verb, out)
		}
	}
	if s := seedSecretValue.String(); s != "[redacted]" {
		t.Errorf("String = %q", s)
	}
	if s := seedSecretValue.GoString(); strings.Contains(s, "ax8h") {
		t.Errorf("GoString = %q", s)
	}
	for name, v := range map[string]any{"struct": cfg, "MinterConfig": MinterConfig{Secret: seedSecretValue}, "map": map[string]Secret{"k": seedSecretValue}} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		assertNoSecret(t, "JSON of "+name, string(b))
		if !strings.Contains(string(b), `"[redacted]"`) {
			t.Errorf("JSON of %s: %s", name, b)
		}
	}
}

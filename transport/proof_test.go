package transport

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
)

func TestProof(t *testing.T) {
	secret := NewInstanceSecret()
	challenge := NewChallenge()
	proof, err := Proof(secret, challenge, "inst-1", "device-1")
	if err != nil {
		t.Fatal(err)
	}
	// Recompute from the definition in docs/PROTOCOL.md.
	key, _ := base64.RawURLEncoding.DecodeString(secret)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("sinchsim-auth-v1\n" + challenge + "\ninst-1\ndevice-1"))
	if want := base64.RawURLEncoding.EncodeToString(mac.Sum(nil)); proof != want {
		t.Errorf("Proof = %s, want %s", proof, want)
	}
	if !VerifyProof(secret, challenge, "inst-1", "device-1", proof) {
		t.Error("VerifyProof rejects a good proof")
	}
	for name, args := range map[string][5]string{
		"other challenge": {secret, NewChallenge(), "inst-1", "device-1", proof},
		"other instance":  {secret, challenge, "inst-2", "device-1", proof},
		"other device":    {secret, challenge, "inst-1", "device-2", proof},
		"other secret":    {NewInstanceSecret(), challenge, "inst-1", "device-1", proof},
		"bad secret":      {"not-base64!", challenge, "inst-1", "device-1", proof},
		"truncated proof": {secret, challenge, "inst-1", "device-1", proof[:42]},
		"empty proof":     {secret, challenge, "inst-1", "device-1", ""},
		// Moving a separator must not give the same proof.
		"shifted fields": {secret, challenge, "inst-1\ndevice", "1", proof},
	} {
		if VerifyProof(args[0], args[1], args[2], args[3], args[4]) {
			t.Errorf("%s: VerifyProof accepts", name)
		}
	}
}

func TestProofRejectsBadSecrets(t *testing.T) {
	good := NewInstanceSecret()
	for _, s := range []string{"", "c2VjcmV0", good + "A", good[:42], good + "=", strings.Repeat("A", 42) + "B", strings.Repeat("+", 43)} {
		if _, err := Proof(s, "c", "i", "d"); err == nil {
			t.Errorf("Proof accepts secret %q", s)
		}
	}
}

func TestRandomValues(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		for _, v := range []string{NewChallenge(), NewInstanceSecret()} {
			if len(v) != 43 || strings.ContainsAny(v, "+/=") {
				t.Fatalf("not base64url-nopad of 32 bytes: %q", v)
			}
			if b, err := b64.DecodeString(v); err != nil || len(b) != 32 {
				t.Fatalf("does not decode to 32 bytes: %q", v)
			}
			if seen[v] {
				t.Fatalf("repeated value %q", v)
			}
			seen[v] = true
		}
		id := NewID("req-")
		if !strings.HasPrefix(id, "req-") || len(id) != 4+26 || !validID(id) || seen[id] {
			t.Fatalf("bad id %q", id)
		}
		seen[id] = true
	}
}

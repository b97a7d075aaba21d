package transport

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
)

// proofContext separates authentication proofs from any other use of an
// instance secret.
const proofContext = "sinchsim-auth-v1\n"

// SecretLen is the length in bytes of an instance secret and of a challenge
// before base64url encoding.
const SecretLen = 32

var b64 = base64.RawURLEncoding.Strict()

var errSecret = errors.New("transport: instance secret is not base64url (no padding) of 32 bytes")

// NewChallenge returns a fresh challenge for a [Welcome]: base64url (no
// padding) of 32 bytes from crypto/rand.
func NewChallenge() string { return random32() }

// NewInstanceSecret returns a fresh instance secret: base64url (no padding)
// of 32 bytes from crypto/rand.
func NewInstanceSecret() string { return random32() }

func random32() string {
	var b [SecretLen]byte
	_, _ = rand.Read(b[:]) // never fails since Go 1.24
	return b64.EncodeToString(b[:])
}

// NewID returns prefix followed by 26 random base32 characters (130 bits from
// crypto/rand). With a prefix of at most 38 printable ASCII characters the
// result is a valid request id.
func NewID(prefix string) string { return prefix + rand.Text() }

// Proof computes the authenticate proof for an instance:
//
//	base64url-nopad(HMAC-SHA256(key = base64url-decode(secret),
//	    msg = "sinchsim-auth-v1\n" + challenge + "\n" + instanceID + "\n" + deviceID))
//
// It fails only when secret is not base64url (no padding) of 32 bytes.
func Proof(secret, challenge, instanceID, deviceID string) (string, error) {
	var key [SecretLen]byte
	if len(secret) != b64.EncodedLen(SecretLen) {
		return "", errSecret
	}
	if n, err := b64.Decode(key[:], []byte(secret)); err != nil || n != SecretLen {
		return "", errSecret
	}
	mac := hmac.New(sha256.New, key[:])
	mac.Write([]byte(proofContext))
	mac.Write([]byte(challenge))
	mac.Write([]byte{'\n'})
	mac.Write([]byte(instanceID))
	mac.Write([]byte{'\n'})
	mac.Write([]byte(deviceID))
	var sum [sha256.Size]byte
	return b64.EncodeToString(mac.Sum(sum[:0])), nil
}

// VerifyProof reports whether proof is the proof for the given secret,
// challenge, instance and device. The comparison takes constant time.
func VerifyProof(secret, challenge, instanceID, deviceID, proof string) bool {
	want, err := Proof(secret, challenge, instanceID, deviceID)
	if err != nil {
		return false
	}
	return hmac.Equal([]byte(want), []byte(proof))
}

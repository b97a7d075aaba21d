package credentials

import (
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"strconv"
	"strings"
)

// LegacySignature computes the registration signature of Sinch's earlier
// "Authentication supported by application server" scheme (rule 12 in
// docs/RULES.md):
//
//	Base64(SHA1(userId + applicationKey + sequence + applicationSecret))
//
// with the sequence in decimal and the secret as its base64 text. It is the
// scheme that predates registration tokens; an auth server computes it and
// hands the client the signature together with the sequence.
func LegacySignature(userID, applicationKey string, sequence uint64, secret Secret) string {
	h := sha1.New()
	h.Write([]byte(userID))
	h.Write([]byte(applicationKey))
	var b [20]byte
	h.Write(strconv.AppendUint(b[:0], sequence, 10))
	h.Write([]byte(secret.Text()))
	var sum [sha1.Size]byte
	return base64.StdEncoding.EncodeToString(h.Sum(sum[:0]))
}

// VerifyLegacy checks a legacy registration: the signature must match (in
// constant time; surrounding whitespace, as some Base64 encoders add, is
// tolerated) and sequence must be greater than lastSequence, the last one
// accepted for this user (0 when none was). The error is an *Error with
// code signature_invalid or sequence_not_increasing; the signature is
// checked first so that a forged request learns nothing about sequences.
func VerifyLegacy(userID, applicationKey string, sequence uint64, signature string, secret Secret, lastSequence uint64) error {
	if err := ValidateUserID(userID); err != nil {
		return err
	}
	want := LegacySignature(userID, applicationKey, sequence, secret)
	got := strings.TrimSpace(signature)
	if subtle.ConstantTimeCompare([]byte(want), []byte(got)) != 1 {
		return reject(CodeSignatureInvalid, "legacy signature does not match Base64(SHA1(userId + applicationKey + sequence + applicationSecret))")
	}
	if sequence <= lastSequence {
		return reject(CodeSequenceNotIncreasing, "sequence "+strconv.FormatUint(sequence, 10)+" is not greater than the last accepted "+strconv.FormatUint(lastSequence, 10))
	}
	return nil
}

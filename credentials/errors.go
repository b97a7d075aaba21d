package credentials

import (
	"errors"

	"github.com/sinchsim/sinchsim/codes"
)

// Rejection codes. Each is a stable, documented machine code; the full table
// with one-line meanings is in docs/ERRORS.md. Codes never change meaning.
// "Rule N" is rule N in docs/RULES.md.
const (
	// CodeTokenMalformed: not three base64url parts, or a header or payload
	// that is not a strict JSON object (rule 1).
	CodeTokenMalformed = codes.TokenMalformed
	// CodeTokenAlgorithm: the header's alg is not exactly HS256 (rule 2).
	CodeTokenAlgorithm = codes.TokenAlgorithm
	// CodeKidInvalid: kid is missing or not hkdfv1-YYYYMMDD with a real date (rule 3).
	CodeKidInvalid = codes.KidInvalid
	// CodeKidDateMismatch: the kid date is neither the UTC date of the
	// challenge nor today's UTC date (rule 3).
	CodeKidDateMismatch = codes.KidDateMismatch
	// CodeSignatureInvalid: the HS256 signature does not match the key
	// derived from the application secret and the kid date (rule 4), or a
	// legacy signature does not match (rule 12).
	CodeSignatureInvalid = codes.SignatureInvalid
	// CodeUnknownApplication: iss names an application the verifier does not know (rule 5).
	CodeUnknownApplication = codes.UnknownApplication
	// CodeSubjectMismatch: sub is not iss + "/users/" + user, or names
	// another user than the one registering (rule 5).
	CodeSubjectMismatch = codes.SubjectMismatch
	// CodeUserIDInvalid: the user id is empty, longer than 255 bytes or
	// holds a character outside A-Z a-z 0-9 - _ = (rule 5).
	CodeUserIDInvalid = codes.UserIDInvalid
	// CodeClaimMissing: a required claim (iss, sub, iat, exp, nonce) is absent (rules 5-7).
	CodeClaimMissing = codes.ClaimMissing
	// CodeClaimInvalid: a claim has the wrong JSON type or an impossible value.
	CodeClaimInvalid = codes.ClaimInvalid
	// CodeTokenExpired: exp has passed, beyond the leeway (rule 6).
	CodeTokenExpired = codes.TokenExpired
	// CodeTokenNotYetValid: iat (or nbf) lies in the future, beyond the leeway (rule 6).
	CodeTokenNotYetValid = codes.TokenNotYetValid
	// CodeTokenTTLTooShort: exp - iat is under 60 seconds (rule 6).
	CodeTokenTTLTooShort = codes.TokenTTLTooShort
	// CodeInstanceTTLTooShort: sinch:rtc:instance:exp is under iat + 48 h (rule 8).
	CodeInstanceTTLTooShort = codes.InstanceTTLTooShort
	// CodeNonceReused: the nonce was seen before for this application while
	// the earlier token could still be valid (rule 7).
	CodeNonceReused = codes.NonceReused
	// CodeSequenceNotIncreasing: a legacy registration sequence is not
	// greater than the last accepted one for the user (rule 12).
	CodeSequenceNotIncreasing = codes.SequenceNotIncreasing
)

// Codes lists every rejection code this package returns, in rule order
// (the rejections of package codes' credentials group).
func Codes() []string {
	var out []string
	for _, i := range codes.InGroup(codes.GroupCredentials) {
		if i.Kind == "rejection" {
			out = append(out, i.Code)
		}
	}
	return out
}

// Error is the one error type token and legacy verification return:
// codes.Error, the error with a code that the backend's answers carry
// too. Code is one of the Code* constants; Message is one human line (the
// reason) that never contains a secret or a derived key.
type Error = codes.Error

// Sentinels for errors.Is; they carry a code and no reason.
var (
	ErrTokenMalformed        = &Error{Code: CodeTokenMalformed}
	ErrTokenAlgorithm        = &Error{Code: CodeTokenAlgorithm}
	ErrKidInvalid            = &Error{Code: CodeKidInvalid}
	ErrKidDateMismatch       = &Error{Code: CodeKidDateMismatch}
	ErrSignatureInvalid      = &Error{Code: CodeSignatureInvalid}
	ErrUnknownApplication    = &Error{Code: CodeUnknownApplication}
	ErrSubjectMismatch       = &Error{Code: CodeSubjectMismatch}
	ErrUserIDInvalid         = &Error{Code: CodeUserIDInvalid}
	ErrClaimMissing          = &Error{Code: CodeClaimMissing}
	ErrClaimInvalid          = &Error{Code: CodeClaimInvalid}
	ErrTokenExpired          = &Error{Code: CodeTokenExpired}
	ErrTokenNotYetValid      = &Error{Code: CodeTokenNotYetValid}
	ErrTokenTTLTooShort      = &Error{Code: CodeTokenTTLTooShort}
	ErrInstanceTTLTooShort   = &Error{Code: CodeInstanceTTLTooShort}
	ErrNonceReused           = &Error{Code: CodeNonceReused}
	ErrSequenceNotIncreasing = &Error{Code: CodeSequenceNotIncreasing}
)

// CodeOf returns the code carried by err (any sinchsim error), or "":
// codes.Of.
func CodeOf(err error) string { return codes.Of(err) }

// ReasonOf returns the reason of the *Error in err's chain, without its
// code: for a message that names the code elsewhere, such as the
// user_id_invalid of ValidateUserID. Any other error (or an Error without
// a reason) gives err.Error().
func ReasonOf(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Message != "" {
		return e.Message
	}
	return err.Error()
}

func reject(code, reason string) *Error { return &Error{Code: code, Message: reason} }

package transport

import (
	"errors"

	"github.com/sinchsim/sinchsim/codes"
)

// Error codes carried in [Error.Code], under the names this package has
// always used. Each is declared once, in package codes, with its domain,
// retryability, meaning and fix; [NewError] fills domain and retryability
// from there, and docs/PROTOCOL.md's table is generated from it.
const (
	// Token rules (rules 1-8 in docs/RULES.md): the JWT of createInstance or
	// updateInstanceTtl was rejected.

	CodeTokenMalformed      = codes.TokenMalformed      // not three base64url parts with JSON header and payload
	CodeTokenAlgorithm      = codes.TokenAlgorithm      // alg is not exactly HS256
	CodeKidInvalid          = codes.KidInvalid          // kid missing or not hkdfv1-YYYYMMDD with a real date
	CodeKidDateMismatch     = codes.KidDateMismatch     // kid date neither the challenge's UTC date nor today's
	CodeSignatureInvalid    = codes.SignatureInvalid    // JWT signature, legacy signature or authenticate proof does not match
	CodeUnknownApplication  = codes.UnknownApplication  // the application key or iss names no known application
	CodeSubjectMismatch     = codes.SubjectMismatch     // sub is not iss + "/users/" + the connecting user
	CodeUserIDInvalid       = codes.UserIDInvalid       // empty, over 255 bytes, or outside A-Z a-z 0-9 - _ =
	CodeClaimMissing        = codes.ClaimMissing        // a required claim is absent
	CodeClaimInvalid        = codes.ClaimInvalid        // a claim has the wrong type or an impossible value
	CodeTokenExpired        = codes.TokenExpired        // exp has passed
	CodeTokenNotYetValid    = codes.TokenNotYetValid    // iat lies in the future
	CodeTokenTTLTooShort    = codes.TokenTTLTooShort    // exp - iat under 60 s
	CodeInstanceTTLTooShort = codes.InstanceTTLTooShort // sinch:rtc:instance:exp under iat + 48 h
	CodeNonceReused         = codes.NonceReused         // the nonce was used before

	// Instance rules (rules 9-11, 13 and 14 in docs/RULES.md).

	CodeInstanceTTLRequired          = codes.InstanceTTLRequired          // the instance has a limited TTL: the JWT must carry sinch:rtc:instance:exp
	CodeInstanceDeviceMismatch       = codes.InstanceDeviceMismatch       // the instance is bound to another device
	CodeInstanceExpired              = codes.InstanceExpired              // the instance's TTL ran out: register anew
	CodeInstanceNotFound             = codes.InstanceNotFound             // no such instance, or revoked: register anew
	CodeInstanceReplaced             = codes.InstanceReplaced             // another connection or registration of this user and device took over: do not fight back
	CodeInstanceTTLShortened         = codes.InstanceTTLShortened         // updateInstanceTtl asked for an earlier expiry than the current one
	CodeInstanceCreationRateExceeded = codes.InstanceCreationRateExceeded // too many creations for the user; retryable

	// Legacy rule (rule 12 in docs/RULES.md).

	CodeSequenceNotIncreasing = codes.SequenceNotIncreasing // legacy sequence not above the last accepted

	// Calls (rule 15 in docs/RULES.md).

	CodeCallNotFound            = codes.CallNotFound            // no such call that this connection can answer, decline or hang up
	CodeCallRateExceeded        = codes.CallRateExceeded        // too many calls placed by the user in the last minute; retryable
	CodeConcurrentCallsExceeded = codes.ConcurrentCallsExceeded // the user takes part in too many calls at once; retryable

	// Protocol and server conditions.

	CodeProtocolError    = codes.ProtocolError    // malformed message, see ProtocolError
	CodeNotAuthenticated = codes.NotAuthenticated // the request needs a connection bound to an instance
	CodeLegacyDisabled   = codes.LegacyDisabled   // legacyRegister is switched off
	CodeInternalError    = codes.InternalError    // the server failed unexpectedly; retryable
	CodeUnavailable      = codes.Unavailable      // shutting down, or an injected fault; retryable
)

// Error domains carried in [Error.Domain].
const (
	DomainAPI     = codes.DomainAPI     // a rule rejected the request
	DomainNetwork = codes.DomainNetwork // transient: server busy or shutting down
	DomainHTTP    = codes.DomainHTTP    // the request was malformed (protocol_error)
)

// Codes returns every error code of protocol v1, in the order of the table
// in docs/PROTOCOL.md (package codes' wire codes).
func Codes() []string {
	var out []string
	for _, i := range codes.All() {
		if i.Wire {
			out = append(out, i.Code)
		}
	}
	return out
}

// Error is the body of an [ErrorMessage]: why the server refused a request
// (code, domain, message, retryability, retry delay). It is codes.Error,
// the one error with a code that the token rules return too.
type Error = codes.Error

// NewError returns an Error for code with the domain and retryability that
// docs/PROTOCOL.md gives it. An unknown code gets DomainAPI, not retryable.
func NewError(code, message string) *Error {
	return &Error{Code: code, Domain: codes.DomainOf(code), Message: message, Retryable: codes.Retryable(code)}
}

// ProtocolError reports a message that is not valid protocol v1: bad UTF-8 or
// JSON, an unknown type or field, a wrong field type, a missing field, a bad
// id, a binary frame, or a message over the read limit. Its code on the wire
// is protocol_error; [ProtocolError.Reply] builds the answer.
type ProtocolError struct {
	// Reason is one line saying what is wrong. It quotes at most a short
	// excerpt of the input, never the whole of it.
	Reason string
	// ID is the request id of the offending message when it could be read
	// (a valid "id" member of a well-formed object), else "". Replying with
	// it lets the sender fail that one request instead of timing out.
	ID string
	// Fatal is set when the connection cannot go on: the message was larger
	// than Config.ReadLimit. Reply, then Close with CloseMessageTooBig.
	Fatal bool
}

// ErrorCode returns protocol_error (codes.Coder).
func (e *ProtocolError) ErrorCode() string { return CodeProtocolError }

// Error formats the error as "protocol_error: reason".
func (e *ProtocolError) Error() string { return CodeProtocolError + ": " + e.Reason }

// Reply returns the error message to send back for e.
func (e *ProtocolError) Reply() *ErrorMessage {
	return &ErrorMessage{ID: e.ID, Error: *NewError(CodeProtocolError, e.Reason)}
}

// Sentinel errors of a Conn.
var (
	// ErrClosed is returned by Send after Close, and wrapped by the error
	// Read returns once the connection has ended.
	ErrClosed = errors.New("transport: connection closed")
	// ErrSlowConsumer is returned by Send when the send queue is full; the
	// connection is then closed with code 1008 (policy violation).
	ErrSlowConsumer = errors.New("transport: slow consumer: send queue full")
)

package transport

import (
	"errors"
)

// Error codes carried in [Error.Code]. They are stable: a code never changes
// meaning. docs/PROTOCOL.md has the table with domain, retryability and a
// one-line meaning of each; [NewError] fills domain and retryability from
// that table.
const (
	// Token rules (rules 1-8 in docs/RULES.md): the JWT of createInstance or
	// updateInstanceTtl was rejected.

	CodeTokenMalformed      = "token_malformed"        // not three base64url parts with JSON header and payload
	CodeTokenAlgorithm      = "token_algorithm"        // alg is not exactly HS256
	CodeKidInvalid          = "kid_invalid"            // kid missing or not hkdfv1-YYYYMMDD with a real date
	CodeKidDateMismatch     = "kid_date_mismatch"      // kid date neither the challenge's UTC date nor today's
	CodeSignatureInvalid    = "signature_invalid"      // JWT signature, legacy signature or authenticate proof does not match
	CodeUnknownApplication  = "unknown_application"    // the application key or iss names no known application
	CodeSubjectMismatch     = "subject_mismatch"       // sub is not iss + "/users/" + the connecting user
	CodeUserIDInvalid       = "user_id_invalid"        // empty, over 255 bytes, or outside A-Z a-z 0-9 - _ =
	CodeClaimMissing        = "claim_missing"          // a required claim is absent
	CodeClaimInvalid        = "claim_invalid"          // a claim has the wrong type or an impossible value
	CodeTokenExpired        = "token_expired"          // exp has passed
	CodeTokenNotYetValid    = "token_not_yet_valid"    // iat lies in the future
	CodeTokenTTLTooShort    = "token_ttl_too_short"    // exp - iat under 60 s
	CodeInstanceTTLTooShort = "instance_ttl_too_short" // sinch:rtc:instance:exp under iat + 48 h
	CodeNonceReused         = "nonce_reused"           // the nonce was used before

	// Instance rules (rules 9-11, 13 and 14 in docs/RULES.md).

	CodeInstanceTTLRequired          = "instance_ttl_required"           // the instance has a limited TTL: the JWT must carry sinch:rtc:instance:exp
	CodeInstanceDeviceMismatch       = "instance_device_mismatch"        // the instance is bound to another device
	CodeInstanceExpired              = "instance_expired"                // the instance's TTL ran out: register anew
	CodeInstanceNotFound             = "instance_not_found"              // no such instance, or revoked: register anew
	CodeInstanceReplaced             = "instance_replaced"               // another connection or registration of this user and device took over: do not fight back
	CodeInstanceTTLShortened         = "instance_ttl_shortened"          // updateInstanceTtl asked for an earlier expiry than the current one
	CodeInstanceCreationRateExceeded = "instance_creation_rate_exceeded" // too many creations for the user; retryable

	// Legacy rule (rule 12 in docs/RULES.md).

	CodeSequenceNotIncreasing = "sequence_not_increasing" // legacy sequence not above the last accepted

	// Calls (rule 15 in docs/RULES.md).

	CodeCallNotFound            = "call_not_found"            // no such call that this connection can answer, decline or hang up
	CodeCallRateExceeded        = "call_rate_exceeded"        // too many calls placed by the user in the last minute; retryable
	CodeConcurrentCallsExceeded = "concurrent_calls_exceeded" // the user takes part in too many calls at once; retryable

	// Protocol and server conditions.

	CodeProtocolError    = "protocol_error"    // malformed message, see ProtocolError
	CodeNotAuthenticated = "not_authenticated" // the request needs a connection bound to an instance
	CodeLegacyDisabled   = "legacy_disabled"   // legacyRegister is switched off
	CodeInternalError    = "internal_error"    // the server failed unexpectedly; retryable
	CodeUnavailable      = "unavailable"       // shutting down, or an injected fault; retryable
)

// Error domains carried in [Error.Domain].
const (
	DomainAPI     = "api"     // a rule rejected the request
	DomainNetwork = "network" // transient: server busy or shutting down
	DomainHTTP    = "http"    // the request was malformed (protocol_error)
)

type codeInfo struct {
	domain    string
	retryable bool
}

// codeTable is the single source for NewError and for Codes; docs/PROTOCOL.md
// lists the same rows (a test keeps the two in step).
var codeTable = map[string]codeInfo{
	CodeTokenMalformed:               {DomainAPI, false},
	CodeTokenAlgorithm:               {DomainAPI, false},
	CodeKidInvalid:                   {DomainAPI, false},
	CodeKidDateMismatch:              {DomainAPI, false},
	CodeSignatureInvalid:             {DomainAPI, false},
	CodeUnknownApplication:           {DomainAPI, false},
	CodeSubjectMismatch:              {DomainAPI, false},
	CodeUserIDInvalid:                {DomainAPI, false},
	CodeClaimMissing:                 {DomainAPI, false},
	CodeClaimInvalid:                 {DomainAPI, false},
	CodeTokenExpired:                 {DomainAPI, false},
	CodeTokenNotYetValid:             {DomainAPI, false},
	CodeTokenTTLTooShort:             {DomainAPI, false},
	CodeInstanceTTLTooShort:          {DomainAPI, false},
	CodeNonceReused:                  {DomainAPI, false},
	CodeInstanceTTLRequired:          {DomainAPI, false},
	CodeInstanceDeviceMismatch:       {DomainAPI, false},
	CodeInstanceExpired:              {DomainAPI, false},
	CodeInstanceNotFound:             {DomainAPI, false},
	CodeInstanceReplaced:             {DomainAPI, false},
	CodeInstanceTTLShortened:         {DomainAPI, false},
	CodeInstanceCreationRateExceeded: {DomainAPI, true},
	CodeSequenceNotIncreasing:        {DomainAPI, false},
	CodeCallNotFound:                 {DomainAPI, false},
	CodeCallRateExceeded:             {DomainAPI, true},
	CodeConcurrentCallsExceeded:      {DomainAPI, true},
	CodeProtocolError:                {DomainHTTP, false},
	CodeNotAuthenticated:             {DomainAPI, false},
	CodeLegacyDisabled:               {DomainAPI, false},
	CodeInternalError:                {DomainNetwork, true},
	CodeUnavailable:                  {DomainNetwork, true},
}

// Codes returns every error code of protocol v1, in the order of the table in
// docs/PROTOCOL.md.
func Codes() []string {
	return []string{
		CodeTokenMalformed, CodeTokenAlgorithm, CodeKidInvalid, CodeKidDateMismatch,
		CodeSignatureInvalid, CodeUnknownApplication, CodeSubjectMismatch,
		CodeUserIDInvalid, CodeClaimMissing, CodeClaimInvalid, CodeTokenExpired,
		CodeTokenNotYetValid, CodeTokenTTLTooShort, CodeInstanceTTLTooShort,
		CodeNonceReused, CodeInstanceTTLRequired, CodeInstanceDeviceMismatch,
		CodeInstanceExpired, CodeInstanceNotFound, CodeInstanceReplaced,
		CodeInstanceTTLShortened, CodeInstanceCreationRateExceeded,
		CodeSequenceNotIncreasing, CodeCallNotFound, CodeCallRateExceeded,
		CodeConcurrentCallsExceeded, CodeProtocolError, CodeNotAuthenticated,
		CodeLegacyDisabled, CodeInternalError, CodeUnavailable,
	}
}

// Error is the body of an [ErrorMessage]: why the server refused a request.
// It is also the error a client hands to its caller.
type Error struct {
	Code         string // one of the Code* constants
	Domain       string // DomainAPI, DomainNetwork or DomainHTTP
	Message      string // one human line
	Retryable    bool   // the same request may succeed later, unchanged
	RetryAfterMs int64  // when > 0, wait at least this long before retrying
}

// NewError returns an Error for code with the domain and retryability that
// docs/PROTOCOL.md gives it. An unknown code gets DomainAPI, not retryable.
func NewError(code, message string) *Error {
	info, ok := codeTable[code]
	if !ok {
		info = codeInfo{DomainAPI, false}
	}
	return &Error{Code: code, Domain: info.domain, Message: message, Retryable: info.retryable}
}

// Error formats the error as "code: message".
func (e *Error) Error() string {
	if e.Message == "" {
		return e.Code
	}
	return e.Code + ": " + e.Message
}

// Is reports whether target is an *Error with the same code, so that
// errors.Is(err, &transport.Error{Code: transport.CodeInstanceExpired})
// works whatever the message.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
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

package client

import (
	"time"

	"github.com/sinchsim/sinchsim/codes"
	"github.com/sinchsim/sinchsim/transport"
)

// Domain says where an error comes from, mirroring the SDKs' error domains
// (package codes' domains).
type Domain = codes.Domain

// Error domains.
const (
	// DomainGeneric: the client itself (state, configuration, the
	// application's RegisterFailed).
	DomainGeneric = codes.DomainGeneric
	// DomainNetwork: the connection to the backend, or a transient backend
	// condition; retrying can help.
	DomainNetwork = codes.DomainNetwork
	// DomainAPI: the backend refused a request by a rule (a bad token, an
	// expired or revoked instance); the code says which.
	DomainAPI = codes.DomainAPI
)

// Error is the one error type of this package: the backend's code (or a
// client code), a domain and a message. errors.Is matches it against the
// sentinels below by code, and against credentials' sentinels
// (credentials.ErrSignatureInvalid, ...) too.
type Error struct {
	Code      string
	Domain    Domain
	Message   string
	Retryable bool
	// RetryAfter, when positive, is how long the backend asks to wait
	// before retrying (the rate limit's window).
	RetryAfter time.Duration
	// Err is the underlying error, if any (e.g. the application's error
	// passed to RegisterFailed, or a dial error).
	Err error
}

// Error formats the error as "sinchsim: code: message: cause".
func (e *Error) Error() string {
	s := "sinchsim: " + e.Code
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// ErrorCode returns the code (codes.Coder).
func (e *Error) ErrorCode() string { return e.Code }

// Is matches any sinchsim error with the same code (codes.Coder): client
// sentinels, and the codes.Error of credentials and transport.
func (e *Error) Is(target error) bool {
	t, ok := target.(codes.Coder)
	return ok && t.ErrorCode() == e.Code
}

// Client error codes (besides the backend's codes, listed in docs/PROTOCOL.md).
const (
	CodeAlreadyStarted     = codes.AlreadyStarted
	CodeTerminated         = codes.Terminated
	CodeNotStarted         = codes.NotStarted
	CodeRegistrationFailed = codes.RegistrationFailed
	CodeNoCredentials      = codes.NoCredentials
	CodeConnectionFailed   = codes.ConnectionFailed
	CodePushNotEnabled     = codes.PushNotEnabled
	CodeDeviceStore        = codes.DeviceStore
	CodeInvalidCallState   = codes.InvalidCallState
)

// Sentinels to use with errors.Is.
var (
	// ErrAlreadyStarted: Start on a client that is not idle or failed.
	ErrAlreadyStarted = &Error{Code: CodeAlreadyStarted, Domain: DomainGeneric, Message: "the client is already started"}
	// ErrTerminated: the client was terminated and cannot be used again.
	ErrTerminated = &Error{Code: CodeTerminated, Domain: DomainGeneric, Message: "the client is terminated"}
	// ErrNotStarted: the operation needs a started client.
	ErrNotStarted = &Error{Code: CodeNotStarted, Domain: DomainGeneric, Message: "the client is not started"}
	// ErrRegistrationFailed: the application answered RegisterFailed, or the
	// credentials provider failed.
	ErrRegistrationFailed = &Error{Code: CodeRegistrationFailed, Domain: DomainGeneric, Message: "no registration token could be obtained"}
	// ErrNoCredentials: credentials are needed but there is neither a
	// provider nor a listener to ask.
	ErrNoCredentials = &Error{Code: CodeNoCredentials, Domain: DomainGeneric, Message: "credentials are required but no provider or listener is set"}
	// ErrConnectionFailed: the backend could not be reached (after the
	// reconnect limit).
	ErrConnectionFailed = &Error{Code: CodeConnectionFailed, Domain: DomainNetwork, Message: "the backend could not be reached", Retryable: true}
	// ErrPushNotEnabled: push calls before EnableManagedPush.
	ErrPushNotEnabled = &Error{Code: CodePushNotEnabled, Domain: DomainGeneric, Message: "managed push is not enabled"}
	// ErrInstanceRevoked: the backend revoked the instance (code instance_not_found).
	ErrInstanceRevoked = &Error{Code: transport.CodeInstanceNotFound, Domain: DomainAPI, Message: "the instance is unknown to the backend or was revoked"}
	// ErrInstanceReplaced: another connection authenticated the instance,
	// or a new registration of this user on this device replaced it (code
	// instance_replaced). The client fails and keeps its stored
	// credentials; it does not take the instance back on its own.
	ErrInstanceReplaced = &Error{Code: transport.CodeInstanceReplaced, Domain: DomainAPI, Message: "another connection or a new registration took the instance over"}
	// ErrInstanceExpired: the instance's TTL ran out (code instance_expired).
	ErrInstanceExpired = &Error{Code: transport.CodeInstanceExpired, Domain: DomainAPI, Message: "the instance's TTL ran out"}
	// ErrInvalidCallState: Answer or Decline of a call that is not an
	// incoming call ringing on this client (or already being answered or
	// declined).
	ErrInvalidCallState = &Error{Code: CodeInvalidCallState, Domain: DomainGeneric, Message: "the call is not ringing on this client"}
	// ErrRateLimited: "Instance creation rate exceeded".
	ErrRateLimited = &Error{Code: transport.CodeInstanceCreationRateExceeded, Domain: DomainAPI, Message: "Instance creation rate exceeded", Retryable: true}
)

// fromWire converts a backend error.
func fromWire(e *transport.Error) *Error {
	d := e.Domain
	if d == codes.DomainHTTP {
		d = DomainGeneric // a malformed request is the client's own fault
	}
	return &Error{Code: e.Code, Domain: d, Message: e.Message, Retryable: e.Retryable,
		RetryAfter: time.Duration(e.RetryAfterMs) * time.Millisecond}
}

// CodeOf returns the code of err (a client, transport or credentials
// error, or one wrapping it), or "": codes.Of.
func CodeOf(err error) string { return codes.Of(err) }

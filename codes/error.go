package codes

// Error is a refusal with a code: what the token rules return (package
// credentials) and the body of the backend's error message on the wire
// (package transport); both name it by an alias. Package client has an
// error of its own, for what an application sees: it wraps a cause (a dial
// error, the application's own) and gives the retry delay as a duration.
//
// Message is one human line that never contains a secret or a derived key.
// The sentinels of package credentials carry a code and no message.
type Error struct {
	Code      string // a code of this package's table (or a code unknown to it, from the wire)
	Domain    Domain // where it comes from; DomainOf(Code) for the backend's answers, empty for the token rules'
	Message   string
	Retryable bool // the same request may succeed later, unchanged
	// RetryAfterMs, when > 0, is how long to wait before retrying.
	RetryAfterMs int64
}

// ErrorCode returns the code (Coder).
func (e *Error) ErrorCode() string { return e.Code }

// Error formats the error as "code: message", the form the CLI prints.
func (e *Error) Error() string {
	if e.Message == "" {
		return e.Code
	}
	return e.Code + ": " + e.Message
}

// Is reports whether target is a sinchsim error (a Coder) with the same
// code, so that errors.Is(err, credentials.ErrSignatureInvalid) works
// whatever the message, and so does errors.Is(err, client.ErrRateLimited)
// on the backend's error.
func (e *Error) Is(target error) bool {
	t, ok := target.(Coder)
	return ok && t.ErrorCode() == e.Code
}

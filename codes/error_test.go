package codes_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/sinchsim/sinchsim/codes"
)

func TestErrorFormatAndMatch(t *testing.T) {
	e := &codes.Error{Code: codes.NonceReused, Domain: codes.DomainAPI, Message: "the token's nonce was used before"}
	if got := e.Error(); got != "nonce_reused: the token's nonce was used before" {
		t.Fatalf("Error() = %q", got)
	}
	if got := (&codes.Error{Code: codes.NonceReused}).Error(); got != "nonce_reused" {
		t.Fatalf("Error() without a message = %q", got)
	}
	wrapped := fmt.Errorf("registering: %w", e)
	if !errors.Is(wrapped, &codes.Error{Code: codes.NonceReused}) {
		t.Fatal("errors.Is does not match by code")
	}
	if errors.Is(wrapped, &codes.Error{Code: codes.TokenExpired}) {
		t.Fatal("errors.Is matches another code")
	}
	if !errors.Is(wrapped, otherCoder(codes.NonceReused)) {
		t.Fatal("errors.Is does not match another error type with the same code")
	}
	if got := codes.Of(wrapped); got != codes.NonceReused {
		t.Fatalf("Of = %q", got)
	}
}

// otherCoder is an error of another type that carries a code.
type otherCoder string

func (c otherCoder) Error() string     { return string(c) }
func (c otherCoder) ErrorCode() string { return string(c) }

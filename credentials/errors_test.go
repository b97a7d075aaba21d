package credentials

import (
	"errors"
	"fmt"
	"testing"
)

func TestReasonOf(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"an Error", reject(CodeUserIDInvalid, "user id is empty"), "user id is empty"},
		{"a wrapped Error", fmt.Errorf("registering: %w", reject(CodeClaimMissing, "exp is missing")), "exp is missing"},
		{"an Error without a reason", ErrTokenExpired, ErrTokenExpired.Error()},
		{"another error", errors.New("connection refused"), "connection refused"},
		{"ValidateUserID's", ValidateUserID(""), "user id is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ReasonOf(tt.err); got != tt.want {
				t.Errorf("ReasonOf(%v) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}

package client

import (
	"testing"

	"github.com/sinchsim/sinchsim/codes"
	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/transport"
)

// TestCodesHaveOneHome: the client's own codes are package codes' client
// group, and CodeOf reads every sinchsim error through codes.Of.
func TestCodesHaveOneHome(t *testing.T) {
	for _, code := range []string{CodeAlreadyStarted, CodeTerminated, CodeNotStarted, CodeRegistrationFailed,
		CodeNoCredentials, CodeConnectionFailed, CodePushNotEnabled, CodeDeviceStore, codes.InvalidArgument, CodeInvalidCallState} {
		if i, ok := codes.Lookup(code); !ok || i.Group != codes.GroupClient || i.Domain != DomainGeneric && code != CodeConnectionFailed {
			t.Errorf("%s: %+v", code, i)
		}
	}
	for _, err := range []error{ErrTerminated, credentials.ErrNonceReused, transport.NewError(transport.CodeUnavailable, "x"), &transport.ProtocolError{Reason: "r"}} {
		if CodeOf(err) == "" {
			t.Errorf("CodeOf(%v) is empty", err)
		}
	}
}

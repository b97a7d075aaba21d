package registration

import (
	"errors"
	"fmt"
)

// ErrIllegalEvent is the sentinel every [*IllegalEventError] matches with
// errors.Is. Branch on it when an event was refused in the current state.
var ErrIllegalEvent = errors.New("registration: illegal event")

// ErrReentrantFire is returned by [Machine.Fire] when it is called from inside
// the onTransition callback of the same Machine. Queue the event and fire it
// after the current Fire returns instead.
var ErrReentrantFire = errors.New("registration: Fire called from inside onTransition")

// IllegalEventError reports that Event was refused because the machine was in
// State: the table has no such transition, the event is unknown, or the
// underlying state machine refused it for any other reason. The state is
// unchanged when it is returned. It matches [ErrIllegalEvent].
type IllegalEventError struct {
	Event Event // the event that was fired
	State State // the state the machine was (and still is) in
}

// Error reads like:
//
//	registration: event "register" is not allowed in state "started"
func (e *IllegalEventError) Error() string {
	return fmt.Sprintf("registration: event %q is not allowed in state %q", string(e.Event), string(e.State))
}

// Is reports whether target is [ErrIllegalEvent].
func (e *IllegalEventError) Is(target error) bool { return target == ErrIllegalEvent }

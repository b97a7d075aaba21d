package registration

// State is a stage in the life of a SinchClient. The zero value is not a
// valid state; a new [Machine] starts in [StateIdle].
type State string

// The states of a client, in the order [States] lists them.
const (
	// StateIdle: built but never started.
	StateIdle State = "idle"
	// StateConnecting: opening the connection to the backend.
	StateConnecting State = "connecting"
	// StateAuthenticating: connected, presenting stored instance credentials.
	StateAuthenticating State = "authenticating"
	// StateAwaitingCredentials: the listener (or provider) has been asked for
	// a registration token and the client waits for Register or
	// RegisterFailed.
	StateAwaitingCredentials State = "awaiting_credentials"
	// StateRegistering: a JWT was provided and is being presented to the
	// backend to create or prolong an instance.
	StateRegistering State = "registering"
	// StateStarted: the client is registered and usable.
	StateStarted State = "started"
	// StateRenewing: started, and a new JWT is being obtained and presented
	// to extend the instance's TTL.
	StateRenewing State = "renewing"
	// StateReconnecting: the connection was lost; waiting out a backoff
	// before connecting again.
	StateReconnecting State = "reconnecting"
	// StateFailed: the client failed (for example RegisterFailed); it may be
	// started again.
	StateFailed State = "failed"
	// StateTerminated: terminated; no event is accepted any more.
	StateTerminated State = "terminated"
)

// String returns the state's wire name, e.g. "awaiting_credentials".
func (s State) String() string { return string(s) }

// Terminal reports whether no event can leave s. Only [StateTerminated] is
// terminal: a failed client can be started again.
func (s State) Terminal() bool { return s == StateTerminated }

// Event is something that happens to a client and may move its [Machine] to
// another state.
type Event string

// The events of a client, in the order [Events] lists them. Each comment
// gives the transitions the event allows; any other (state, event) pair is
// rejected with an [*IllegalEventError].
const (
	// EventStart: idle, failed → connecting.
	EventStart Event = "start"
	// EventAuthenticate: connected and a stored instance exists;
	// connecting → authenticating.
	EventAuthenticate Event = "authenticate"
	// EventRequireCredentials: no usable stored instance, the backend no
	// longer knows it (expired, revoked), or it asks for another token (a
	// TTL is now required, a rate-limit window passed); connecting,
	// authenticating, registering, started, renewing → awaiting_credentials.
	EventRequireCredentials Event = "require_credentials"
	// EventRegister: a JWT was provided; awaiting_credentials → registering.
	EventRegister Event = "register"
	// EventRegistered: the backend accepted the JWT; registering → started.
	EventRegistered Event = "registered"
	// EventAuthenticated: the backend accepted the stored instance;
	// authenticating → started.
	EventAuthenticated Event = "authenticated"
	// EventRenew: a TTL renewal is due; started → renewing.
	EventRenew Event = "renew"
	// EventRenewed: the instance got its new expiry; renewing → started.
	EventRenewed Event = "renewed"
	// EventRenewFailed: renewal failed; the old expiry is kept and renewal
	// is retried later (see [RenewalPolicy.RetryDelay]); renewing → started.
	EventRenewFailed Event = "renew_failed"
	// EventConnectionLost: connecting, authenticating, awaiting_credentials,
	// registering, started, renewing → reconnecting.
	EventConnectionLost Event = "connection_lost"
	// EventReconnect: the reconnect backoff elapsed;
	// reconnecting → connecting.
	EventReconnect Event = "reconnect"
	// EventFail: connecting, authenticating, awaiting_credentials,
	// registering, started, renewing, reconnecting → failed.
	EventFail Event = "fail"
	// EventTerminate: every state except terminated → terminated.
	EventTerminate Event = "terminate"
)

// String returns the event's wire name, e.g. "require_credentials".
func (e Event) String() string { return string(e) }

var allStates = []State{
	StateIdle,
	StateConnecting,
	StateAuthenticating,
	StateAwaitingCredentials,
	StateRegistering,
	StateStarted,
	StateRenewing,
	StateReconnecting,
	StateFailed,
	StateTerminated,
}

var allEvents = []Event{
	EventStart,
	EventAuthenticate,
	EventRequireCredentials,
	EventRegister,
	EventRegistered,
	EventAuthenticated,
	EventRenew,
	EventRenewed,
	EventRenewFailed,
	EventConnectionLost,
	EventReconnect,
	EventFail,
	EventTerminate,
}

// States returns every state in a stable order: the lifecycle order of the
// constants above, idle first and terminated last. The slice is a fresh copy.
func States() []State { return append([]State(nil), allStates...) }

// Events returns every event in a stable order, the order of the constants
// above. The slice is a fresh copy.
func Events() []Event { return append([]Event(nil), allEvents...) }

// rule is one row of the transition table: event moves any of src to dst.
type rule struct {
	event Event
	src   []State
	dst   State
}

// rules is the lifecycle. It has no self-transitions: looplab/fsm reports
// those as errors, and a rejected event must never look accepted.
var rules = []rule{
	{EventStart, []State{StateIdle, StateFailed}, StateConnecting},
	{EventAuthenticate, []State{StateConnecting}, StateAuthenticating},
	{EventRequireCredentials, []State{
		StateConnecting, StateAuthenticating, StateRegistering, StateStarted, StateRenewing,
	}, StateAwaitingCredentials},
	{EventRegister, []State{StateAwaitingCredentials}, StateRegistering},
	{EventRegistered, []State{StateRegistering}, StateStarted},
	{EventAuthenticated, []State{StateAuthenticating}, StateStarted},
	{EventRenew, []State{StateStarted}, StateRenewing},
	{EventRenewed, []State{StateRenewing}, StateStarted},
	{EventRenewFailed, []State{StateRenewing}, StateStarted},
	{EventConnectionLost, []State{
		StateConnecting, StateAuthenticating, StateAwaitingCredentials,
		StateRegistering, StateStarted, StateRenewing,
	}, StateReconnecting},
	{EventReconnect, []State{StateReconnecting}, StateConnecting},
	{EventFail, []State{
		StateConnecting, StateAuthenticating, StateAwaitingCredentials,
		StateRegistering, StateStarted, StateRenewing, StateReconnecting,
	}, StateFailed},
	{EventTerminate, nonTerminalStates(), StateTerminated},
}

func nonTerminalStates() []State {
	var out []State
	for _, s := range allStates {
		if !s.Terminal() {
			out = append(out, s)
		}
	}
	return out
}

package client

import (
	"errors"
	"log/slog"
	"sync/atomic"
)

// Listener receives the client's lifecycle callbacks, as SinchClientListener
// (Android) and SINClientDelegate (iOS) do. Callbacks run one at a time, in
// order, on the client's dispatcher goroutine, never under a client lock: a
// callback may call any client method, including TerminateGracefully.
//
// A Listener may also implement LogListener, PushListener,
// CallClientListener and CallListener.
type Listener interface {
	// OnClientStarted: the client is registered and usable.
	OnClientStarted(c *SinchClient)
	// OnClientFailed: the client failed; err is an *Error. Start may be
	// called again.
	OnClientFailed(c *SinchClient, err error)
	// OnCredentialsRequired: the client needs a registration token. Answer
	// with reg.Register(jwt) or reg.RegisterFailed(err), now or later, from
	// any goroutine.
	OnCredentialsRequired(c *SinchClient, reg *ClientRegistration)
}

// LogListener receives the client's log messages.
type LogListener interface {
	OnLogMessage(c *SinchClient, level slog.Level, msg string)
}

// PushListener receives the outcome of push token registration (managed push).
type PushListener interface {
	OnPushTokenRegistered(c *SinchClient, token string)
	OnPushTokenRegistrationFailed(c *SinchClient, err error)
}

// ListenerFuncs implements every listener interface with optional
// functions; nil ones are skipped.
type ListenerFuncs struct {
	ClientStarted               func(c *SinchClient)
	ClientFailed                func(c *SinchClient, err error)
	CredentialsRequired         func(c *SinchClient, reg *ClientRegistration)
	LogMessage                  func(c *SinchClient, level slog.Level, msg string)
	PushTokenRegistered         func(c *SinchClient, token string)
	PushTokenRegistrationFailed func(c *SinchClient, err error)
	IncomingCall                func(cc *CallClient, call *Call)
	CallProgressing             func(call *Call)
	CallEstablished             func(call *Call)
	CallEnded                   func(call *Call)
}

// wants reports whether lis has something to call for an event: false
// when it is nil, or a ListenerFuncs without the event's function (has
// says whether it has it), so that nothing is queued to call nothing.
func wants(lis Listener, has func(*ListenerFuncs) bool) bool {
	if f, ok := lis.(*ListenerFuncs); ok {
		return f != nil && has(f)
	}
	return lis != nil
}

// OnClientStarted implements Listener.
func (l *ListenerFuncs) OnClientStarted(c *SinchClient) {
	if l.ClientStarted != nil {
		l.ClientStarted(c)
	}
}

// OnClientFailed implements Listener.
func (l *ListenerFuncs) OnClientFailed(c *SinchClient, err error) {
	if l.ClientFailed != nil {
		l.ClientFailed(c, err)
	}
}

// OnCredentialsRequired implements Listener. Without a CredentialsRequired
// function the request is answered with RegisterFailed.
func (l *ListenerFuncs) OnCredentialsRequired(c *SinchClient, reg *ClientRegistration) {
	if l.CredentialsRequired != nil {
		l.CredentialsRequired(c, reg)
		return
	}
	reg.RegisterFailed(ErrNoCredentials)
}

// OnLogMessage implements LogListener.
func (l *ListenerFuncs) OnLogMessage(c *SinchClient, level slog.Level, msg string) {
	if l.LogMessage != nil {
		l.LogMessage(c, level, msg)
	}
}

// OnPushTokenRegistered implements PushListener.
func (l *ListenerFuncs) OnPushTokenRegistered(c *SinchClient, token string) {
	if l.PushTokenRegistered != nil {
		l.PushTokenRegistered(c, token)
	}
}

// OnPushTokenRegistrationFailed implements PushListener.
func (l *ListenerFuncs) OnPushTokenRegistrationFailed(c *SinchClient, err error) {
	if l.PushTokenRegistrationFailed != nil {
		l.PushTokenRegistrationFailed(c, err)
	}
}

// OnIncomingCall implements CallClientListener.
func (l *ListenerFuncs) OnIncomingCall(cc *CallClient, call *Call) {
	if l.IncomingCall != nil {
		l.IncomingCall(cc, call)
	}
}

// OnCallProgressing implements CallListener.
func (l *ListenerFuncs) OnCallProgressing(call *Call) {
	if l.CallProgressing != nil {
		l.CallProgressing(call)
	}
}

// OnCallEstablished implements CallListener.
func (l *ListenerFuncs) OnCallEstablished(call *Call) {
	if l.CallEstablished != nil {
		l.CallEstablished(call)
	}
}

// OnCallEnded implements CallListener.
func (l *ListenerFuncs) OnCallEnded(call *Call) {
	if l.CallEnded != nil {
		l.CallEnded(call)
	}
}

// wantsLogs reports whether l consumes log messages, so that a fleet of
// bots without log listeners does not pay for dispatching them.
func wantsLogs(l Listener) (LogListener, bool) {
	if l == nil {
		return nil, false
	}
	if f, ok := l.(*ListenerFuncs); ok {
		return f, f.LogMessage != nil
	}
	ll, ok := l.(LogListener)
	return ll, ok
}

// ClientRegistration is handed to OnCredentialsRequired. Answer it once
// with Register or RegisterFailed, from any goroutine; further answers, and
// answers after the client moved on or terminated, are ignored.
type ClientRegistration struct {
	c        *SinchClient
	tk       ticket
	ttl      bool
	renewal  bool
	answered atomic.Bool
}

// IsRenewal reports whether the token is for extending the TTL of the
// current instance (true) or for a new registration (false).
func (r *ClientRegistration) IsRenewal() bool { return r.renewal }

// InstanceTTLRequired reports whether the token must carry
// sinch:rtc:instance:exp (the instance on this device is limited, or this
// request renews its TTL).
func (r *ClientRegistration) InstanceTTLRequired() bool { return r.ttl }

// Register proceeds with a signed registration token (JWT).
func (r *ClientRegistration) Register(jwt string) {
	if r.answered.Swap(true) {
		return
	}
	r.c.post(func() { r.c.l.onCredentials(r.tk, jwt, nil) })
}

// RegisterFailed reports that no token could be obtained; the client fails
// with ErrRegistrationFailed wrapping err (or, during a TTL renewal, keeps
// its current expiry and retries later).
func (r *ClientRegistration) RegisterFailed(err error) {
	if r.answered.Swap(true) {
		return
	}
	if err == nil {
		err = errors.New("no reason given")
	}
	r.c.post(func() { r.c.l.onCredentials(r.tk, "", err) })
}

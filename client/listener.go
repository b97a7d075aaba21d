package client

import "log/slog"

// Listener receives the client's lifecycle callbacks, as SinchClientListener
// (Android) and SINClientDelegate (iOS) do. Callbacks run one at a time, in
// order, on the client's dispatcher goroutine, never under a client lock: a
// callback may call any client method, including TerminateGracefully.
//
// A Listener may also implement LogListener and PushListener.
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

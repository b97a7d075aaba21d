package client

// The loop's managed push: enabling it and keeping the push token in step
// with the backend.

import (
	"github.com/sinchsim/sinchsim/registration"
	"github.com/sinchsim/sinchsim/transport"
)

func (l *loop) enablePush() error {
	switch l.state() {
	case registration.StateTerminated:
		return ErrTerminated
	case registration.StateIdle, registration.StateFailed:
		l.pushOn = true
		return nil
	}
	return &Error{Code: CodeAlreadyStarted, Domain: DomainGeneric, Message: "enable managed push before Start"}
}

// setPushToken records the wanted push token and registers it when possible.
func (l *loop) setPushToken(token string) error {
	switch {
	case l.state() == registration.StateTerminated:
		return ErrTerminated
	case !l.pushOn:
		return ErrPushNotEnabled
	}
	l.pushToken = token
	l.pushSentFor = ""
	l.syncPush()
	return nil
}

// syncPush sends the wanted push token (or its removal) when started.
func (l *loop) syncPush() {
	st := l.state()
	if l.conn == nil || (st != registration.StateStarted && st != registration.StateRenewing) {
		return
	}
	if !l.pushOn || l.pushSentFor == l.dev.InstanceID {
		return
	}
	l.pushSentFor = l.dev.InstanceID
	tok := l.pushToken
	if tok == "" {
		l.send(forPush, func(id string) transport.Message { return &transport.UnregisterPushToken{ID: id} })
		return
	}
	l.send(forPush, func(id string) transport.Message { return &transport.RegisterPushToken{ID: id, PushToken: tok} })
}

func (l *loop) pushResult(err error) {
	c := l.c
	pl, ok := c.o.listener.(PushListener)
	if !ok {
		return
	}
	tok := l.pushToken
	if err != nil {
		l.pushSentFor = ""
		c.dispatch(func() { pl.OnPushTokenRegistrationFailed(c, err) })
		return
	}
	c.dispatch(func() { pl.OnPushTokenRegistered(c, tok) })
}

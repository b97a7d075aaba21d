package client

// The loop's registration: asking for credentials, presenting a token,
// the backend's answers (registered, authenticated, an error, a
// revocation) and registering anew when the instance is gone.

import (
	"context"
	"log/slog"
	"slices"

	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/registration"
	"github.com/sinchsim/sinchsim/transport"
)

// requireCredentials moves to awaiting_credentials and asks for a token.
func (l *loop) requireCredentials(p purpose) {
	if p == forRegister && l.state() != registration.StateAwaitingCredentials {
		if !l.fire(registration.EventRequireCredentials) {
			return
		}
	}
	l.askCredentials(p)
}

// askCredentials asks the provider or the listener for a token.
func (l *loop) askCredentials(p purpose) {
	c := l.c
	tk := l.issue(slotCreds)
	l.credPurpose = p
	l.count(func(s *Stats) { s.CredentialsRequests++ })
	ttl := l.dev.Limited || p == forRenew || c.o.instanceTTL
	l.credTTL = ttl
	req := credentials.Request{ApplicationKey: c.appKey, UserID: c.userID, InstanceTTL: ttl}
	switch {
	case immediate(c.o.provider):
		// Minting is computation: ask on the loop, and handle the answer
		// as the loop's next command, as if it had come from elsewhere.
		jwt, err := c.o.provider.Token(l.ctx, req)
		c.post(func() { l.onCredentials(tk, jwt, err) })
	case c.o.provider != nil:
		l.background(true, func(ctx context.Context) {
			jwt, err := c.o.provider.Token(ctx, req)
			c.post(func() { l.onCredentials(tk, jwt, err) })
		})
	case c.o.listener != nil:
		// Until the listener answers, the client waits on the application:
		// outside work, released by the answer or when the request is
		// no longer current.
		l.credWaiting = true
		c.beginOutside(1)
		reg := &ClientRegistration{c: c, tk: tk, ttl: ttl, renewal: p == forRenew}
		lis := c.o.listener
		c.dispatch(func() { lis.OnCredentialsRequired(c, reg) })
	default:
		l.cancel(slotCreds)
		if p == forRenew {
			l.renewFailed(ErrNoCredentials)
			return
		}
		l.fail(ErrNoCredentials)
	}
}

// onCredentials handles Register / RegisterFailed / a provider's answer.
func (l *loop) onCredentials(tk ticket, jwt string, err error) {
	if !l.valid(tk) {
		return // an answer to a request that is no longer current
	}
	l.cancel(slotCreds) // one answer per request
	st := l.state()
	if l.credPurpose == forRenew {
		if st != registration.StateRenewing {
			return
		}
		if err != nil {
			l.renewFailed(&Error{Code: CodeRegistrationFailed, Domain: DomainGeneric, Message: "no token for the TTL renewal", Err: err})
			return
		}
		l.send(forRenew, func(id string) transport.Message { return &transport.UpdateInstanceTTL{ID: id, JWT: jwt} })
		return
	}
	if err != nil {
		if st == registration.StateAwaitingCredentials || st == registration.StateReconnecting || st == registration.StateConnecting {
			l.fail(&Error{Code: CodeRegistrationFailed, Domain: DomainGeneric, Message: "the application could not provide a registration token", Err: err})
		}
		return
	}
	switch st {
	case registration.StateAwaitingCredentials:
		l.presentToken(jwt)
	case registration.StateReconnecting, registration.StateConnecting:
		l.pendingJWT = jwt // used once connected again
	}
}

// presentToken sends createInstance (awaiting_credentials -> registering).
func (l *loop) presentToken(jwt string) {
	if !l.fire(registration.EventRegister) {
		return
	}
	caps := slices.Clone(l.c.o.capabilities)
	if caps == nil {
		caps = []string{}
	}
	if l.pushOn && !slices.Contains(caps, "push") {
		caps = append(caps, "push")
	}
	l.send(forRegister, func(id string) transport.Message {
		return &transport.CreateInstance{ID: id, ApplicationKey: l.c.appKey, UserID: l.c.userID, DeviceID: l.dev.DeviceID,
			Capabilities: caps, SDKVersion: l.c.o.sdkVersion, JWT: jwt}
	})
}

func (l *loop) onRegistered(inst transport.Instance) {
	l.dev.InstanceID, l.dev.InstanceSecret = inst.ID, inst.Secret
	l.dev.ExpireAt, l.dev.IssuedAt = inst.ExpireAt, l.now()
	l.dev.Capabilities = inst.Capabilities
	if !inst.ExpireAt.IsZero() {
		l.dev.Limited = true
	}
	l.saveOrLog()
	l.count(func(s *Stats) { s.InstancesCreated++ })
	l.becomeStarted(registration.EventRegistered)
	l.applyEarlyRevoke()
}

// awaitingInstance reports whether a request that binds an instance
// (createInstance, authenticate) awaits its answer.
func (l *loop) awaitingInstance() bool {
	for _, r := range l.pending {
		if r.p == forRegister || r.p == forAuthenticate {
			return true
		}
	}
	return false
}

// applyEarlyRevoke handles a notice that overtook the reply which bound
// its instance.
func (l *loop) applyEarlyRevoke() {
	m := l.earlyRevoke
	l.earlyRevoke = nil
	if m != nil && m.InstanceID == l.dev.InstanceID {
		l.onRevoked(m)
	}
}

func (l *loop) onAuthenticated(m *transport.Authenticated) {
	if !m.ExpireAt.Equal(l.dev.ExpireAt) {
		l.dev.ExpireAt = m.ExpireAt
		if l.dev.IssuedAt.IsZero() {
			l.dev.IssuedAt = l.now()
		}
		l.saveOrLog()
	}
	// The backend says which push token it holds: one lost with an
	// earlier connection (sent, never answered) is sent again.
	if m.PushToken == l.pushToken {
		l.pushSentFor = l.dev.InstanceID
	} else {
		l.pushSentFor = ""
	}
	l.count(func(s *Stats) { s.Authentications++ })
	l.becomeStarted(registration.EventAuthenticated)
	l.applyEarlyRevoke()
}

func (l *loop) becomeStarted(e registration.Event) {
	// Timers are armed before the transition is published, so that whoever
	// sees "started" finds them armed.
	l.armRenewal()
	l.armExpiry()
	if !l.fire(e) {
		return
	}
	l.reconnects, l.renewAttempts = 0, 0
	c := l.c
	if lis := c.o.listener; wants(lis, func(f *ListenerFuncs) bool { return f.ClientStarted != nil }) {
		c.dispatch(func() { lis.OnClientStarted(c) })
	}
	c.logf(slog.LevelInfo, "client started (instance %s)", l.dev.InstanceID)
	l.syncPush()
}

// countRejection counts a backend error by code.
func (l *loop) countRejection(code string) {
	l.count(func(s *Stats) {
		if s.Rejections == nil {
			s.Rejections = map[string]int{}
		}
		s.Rejections[code]++
	})
}

func (l *loop) onError(p purpose, e *Error) {
	code := e.Code
	l.countRejection(code)
	switch p {
	case forAuthenticate:
		switch code {
		case transport.CodeInstanceNotFound, transport.CodeInstanceExpired, transport.CodeInstanceDeviceMismatch, credentials.CodeSignatureInvalid:
			l.registerAnew(code == transport.CodeInstanceExpired, "the backend refused the stored instance ("+code+")")
		default:
			l.retryOrFail(e)
		}
	case forRegister:
		switch {
		case code == transport.CodeInstanceTTLRequired && !l.credTTL:
			// A token without a TTL for a device that had one: ask again,
			// for a limited token this time (Limited makes credTTL true, so
			// a second refusal fails the client).
			l.dev.Limited = true
			l.saveOrLog()
			l.requireCredentials(forRegister)
		case code == transport.CodeInstanceCreationRateExceeded:
			l.rateLimited(e)
		case e.Retryable:
			l.retryOrFail(e)
		default:
			l.fail(e)
		}
	case forRenew:
		switch code {
		case transport.CodeInstanceExpired, transport.CodeInstanceNotFound:
			l.registerAnew(code == transport.CodeInstanceExpired, "the backend refused the renewal ("+code+")")
		case transport.CodeInstanceTTLShortened:
			// The token's instance TTL ends before the current expiry: a
			// token minted later reaches further, so wait for at least half
			// the time that remains rather than asking again at once.
			l.renewFailedFor(e, l.dev.ExpireAt.Sub(l.now())/2)
		default:
			l.renewFailed(e)
		}
	case forPush:
		l.pushResult(e)
	}
}

// rateLimited waits out the window, then asks for a new token.
func (l *loop) rateLimited(e *Error) {
	if !l.fire(registration.EventRequireCredentials) {
		return
	}
	wait := max(e.RetryAfter, 0)
	l.c.logf(slog.LevelWarn, "Instance creation rate exceeded; asking for a new token in %v", wait)
	l.arm(slotRenew, wait, func() {
		if l.state() == registration.StateAwaitingCredentials && l.cur[slotCreds] == 0 {
			l.askCredentials(forRegister)
		}
	})
}

func (l *loop) onRevoked(m *transport.InstanceRevoked) {
	if m.InstanceID != l.dev.InstanceID {
		// A notice may overtake the reply that binds its instance (an
		// administrator revoking it the moment it was created): keep it
		// for that reply.
		if l.awaitingInstance() {
			l.earlyRevoke = m
		}
		return
	}
	msg := m.Message
	switch m.Code {
	case transport.CodeInstanceExpired:
		l.registerAnew(true, "the instance's TTL ran out")
	case transport.CodeInstanceReplaced:
		// Another connection (or a new registration of this user on this
		// device) took the instance over. The stored credentials may still
		// be good, so they are kept; and the client does not take the
		// instance back on its own, or two clients would keep taking it
		// from each other.
		if msg == "" {
			msg = "another connection took the instance over"
		}
		l.fail(&Error{Code: transport.CodeInstanceReplaced, Domain: DomainAPI, Message: msg})
	default:
		// Revocation is an administrator's decision, not a lapse: the
		// client fails (as the SDKs do when the backend no longer knows the
		// instance) and does not register again on its own; the next Start
		// does.
		if msg == "" {
			msg = "the backend revoked the instance"
		}
		code := m.Code
		if code == "" {
			code = transport.CodeInstanceNotFound
		}
		l.failForgetting(&Error{Code: code, Domain: DomainAPI, Message: msg})
	}
}

// failForgetting is the one path for "the instance is gone and the client
// stops": the instance is forgotten and the client fails with e; the next
// Start registers anew. (registerAnew is the path that registers again at
// once.) A revocation takes it, and an expiry found on a call attempt
// (rule 15 in docs/RULES.md).
func (l *loop) failForgetting(e *Error) {
	l.forgetInstance()
	l.fail(e)
}

// registerAnew is the one path for "the instance is gone, register again":
// the instance is forgotten, requests for it are dropped and a token for a
// new one is asked for. expired counts an expiry.
func (l *loop) registerAnew(expired bool, why string) {
	if expired {
		l.count(func(s *Stats) { s.Expiries++ })
	}
	l.c.logf(slog.LevelWarn, "%s; registering anew", why)
	l.forgetInstance()
	l.clearPending()
	l.requireCredentials(forRegister)
}

func (l *loop) forgetInstance() {
	l.endCalls()
	l.cancel(slotRenew)
	l.cancel(slotExpiry)
	l.dev.forget()
	l.pushSentFor = ""
	l.saveOrLog()
}

// retryOrFail treats a transient backend error like a lost connection.
func (l *loop) retryOrFail(e *Error) {
	if e.Retryable || e.Domain == DomainNetwork {
		l.dropConn()
		l.connectionLost(e)
		return
	}
	l.fail(e)
}

// immediate reports whether p answers without waiting
// (credentials.Immediate).
func immediate(p credentials.Provider) bool {
	ip, ok := p.(credentials.Immediate)
	return ok && ip.Immediate()
}

package fakebackend

import (
	"errors"
	"strconv"
	"time"

	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/transport"
)

// The rules of docs/RULES.md, one function per request. Each returns the reply
// and the decision for the event log; all state goes through Store.

const maxDeviceIDLen = 128

// rejection builds an error reply and its event.
func rejection(id, code, reason string, ev Event) (transport.Message, Event) {
	ev.Code, ev.Reason = code, reason
	return errorReply(id, transport.NewError(code, reason)), ev
}

// tokenRejection turns a credentials error into a reply.
func tokenRejection(id string, err error, ev Event) (transport.Message, Event) {
	var ce *credentials.Error
	if errors.As(err, &ce) {
		return rejection(id, ce.Code, ce.Reason, ev)
	}
	if errors.Is(err, ErrNonceStoreFull) {
		return rejection(id, transport.CodeUnavailable, "too many registrations in flight; retry shortly", ev)
	}
	return rejection(id, transport.CodeInternalError, "token verification failed", ev)
}

func storeFailure(id string, err error, ev Event, log func(string, ...any)) (transport.Message, Event) {
	log("store failure", "err", err)
	return rejection(id, transport.CodeInternalError, "the backend could not store the change", ev)
}

// checkIdentity validates the user and device of a registration request.
func checkIdentity(app, user, device string) (code, reason string) {
	if err := credentials.ValidateUserID(user); err != nil {
		reason = err.Error()
		if ce, ok := err.(*credentials.Error); ok {
			reason = ce.Reason
		}
		return credentials.CodeUserIDInvalid, reason
	}
	if app == "" {
		return transport.CodeProtocolError, "applicationKey is empty"
	}
	if device == "" || len(device) > maxDeviceIDLen {
		return transport.CodeProtocolError, "deviceId must be 1 to " + strconv.Itoa(maxDeviceIDLen) + " bytes"
	}
	return "", ""
}

func (ss *session) createInstance(m *transport.CreateInstance) (transport.Message, Event) {
	s := ss.s
	ev := Event{Application: m.ApplicationKey, User: m.UserID, Device: m.DeviceID}
	if code, reason := checkIdentity(m.ApplicationKey, m.UserID, m.DeviceID); code != "" {
		return rejection(m.ID, code, reason, ev)
	}
	if _, ok := s.keys.Secret(m.ApplicationKey); !ok {
		return rejection(m.ID, credentials.CodeUnknownApplication, "application "+strconv.Quote(m.ApplicationKey)+" is not known here", ev)
	}
	unlock := s.lockUser(m.ApplicationKey, m.UserID)
	defer unlock()
	tok, err := s.verifier.Verify(m.JWT, credentials.VerifyOptions{User: m.UserID, ChallengeTime: ss.challengeTime})
	if err != nil {
		return tokenRejection(m.ID, err, ev)
	}
	if tok.Claims.ApplicationKey != m.ApplicationKey {
		return rejection(m.ID, credentials.CodeSubjectMismatch, "the token is for application "+strconv.Quote(tok.Claims.ApplicationKey)+", the request for "+strconv.Quote(m.ApplicationKey), ev)
	}
	expireAt, limited := tok.Claims.InstanceExpiry()
	return ss.create(m.ID, m.ApplicationKey, m.UserID, m.DeviceID, m.Capabilities, m.SDKVersion, expireAt, limited, false, ev)
}

func (ss *session) legacyRegister(m *transport.LegacyRegister) (transport.Message, Event) {
	s := ss.s
	ev := Event{Application: m.ApplicationKey, User: m.UserID, Device: m.DeviceID}
	if s.policy.DisableLegacy {
		return rejection(m.ID, transport.CodeLegacyDisabled, "legacy (signature + sequence) registration is switched off on this backend", ev)
	}
	if code, reason := checkIdentity(m.ApplicationKey, m.UserID, m.DeviceID); code != "" {
		return rejection(m.ID, code, reason, ev)
	}
	secret, ok := s.keys.Secret(m.ApplicationKey)
	if !ok {
		return rejection(m.ID, credentials.CodeUnknownApplication, "application "+strconv.Quote(m.ApplicationKey)+" is not known here", ev)
	}
	unlock := s.lockUser(m.ApplicationKey, m.UserID)
	defer unlock()
	last, err := s.store.LegacySequence(m.ApplicationKey, m.UserID)
	if err != nil {
		return storeFailure(m.ID, err, ev, s.log.Error)
	}
	if err := credentials.VerifyLegacy(m.UserID, m.ApplicationKey, m.Sequence, m.Signature, secret, last); err != nil {
		return tokenRejection(m.ID, err, ev)
	}
	reply, ev := ss.create(m.ID, m.ApplicationKey, m.UserID, m.DeviceID, m.Capabilities, m.SDKVersion, time.Time{}, false, true, ev)
	if ev.Code == "" || ev.Code == CodeOK {
		if err := s.store.SetLegacySequence(m.ApplicationKey, m.UserID, m.Sequence); err != nil {
			return storeFailure(m.ID, err, ev, s.log.Error)
		}
	}
	return reply, ev
}

// create applies rules 9 and 11 and creates the instance (user lock held).
func (ss *session) create(id, app, user, device string, caps []string, sdk string, expireAt time.Time, limited, legacy bool, ev Event) (transport.Message, Event) {
	s := ss.s
	now := s.clock.Now()
	dev, err := s.store.Device(app, user, device)
	if err != nil {
		return storeFailure(id, err, ev, s.log.Error)
	}
	if dev.Limited && !limited {
		return rejection(id, transport.CodeInstanceTTLRequired, "a limited TTL was used for this user on this device before; the token must carry "+credentials.InstanceExpiryClaim, ev)
	}
	// The connection limit before any change: a registration refused for
	// it must not create, count or replace anything.
	if te := ss.roomFor(app, user); te != nil {
		ev.Code, ev.Reason = te.Code, te.Message
		return errorReply(id, te), ev
	}
	ok, wait, err := s.store.RecordCreation(app, user, now, s.policy.RateWindow, s.policy.RateLimit)
	if err != nil {
		return storeFailure(id, err, ev, s.log.Error)
	}
	if !ok {
		ev.Code, ev.Reason = transport.CodeInstanceCreationRateExceeded, "Instance creation rate exceeded"
		e := transport.NewError(transport.CodeInstanceCreationRateExceeded, "Instance creation rate exceeded")
		e.RetryAfterMs = wait.Milliseconds()
		return errorReply(id, e), ev
	}
	inst := Instance{
		ID: transport.NewID("inst"), Application: app, User: user, Device: device,
		Secret: InstanceSecret(transport.NewInstanceSecret()), Capabilities: caps, SDKVersion: sdk,
		Legacy: legacy, CreatedAt: now,
	}
	if limited {
		inst.ExpireAt = expireAt
	}
	inst.History = []TTLChange{{At: now, ExpireAt: inst.ExpireAt, Reason: "created"}}
	if err := s.store.PutInstance(inst); err != nil {
		return storeFailure(id, err, ev, s.log.Error)
	}
	superseded := dev.InstanceID
	dev.InstanceID = inst.ID
	dev.Limited = dev.Limited || limited
	if err := s.store.PutDevice(dev); err != nil {
		return storeFailure(id, err, ev, s.log.Error)
	}
	ev.Instance = inst.ID
	bindErr := ss.bind(inst)
	if superseded != "" && superseded != inst.ID {
		// One instance per user and device: a new registration replaces
		// the old one (a client bound to it elsewhere is told).
		_ = s.store.DeleteInstance(superseded)
		s.notifyRevoked(superseded, transport.CodeInstanceReplaced, "a new registration of this user on this device replaced the instance")
	}
	if bindErr != nil {
		var te *transport.Error
		errors.As(bindErr, &te)
		ev.Code, ev.Reason = te.Code, te.Message
		return errorReply(id, te), ev
	}
	return &transport.InstanceCreated{ID: id, Instance: transport.Instance{
		ID: inst.ID, Secret: string(inst.Secret), DeviceID: inst.Device, ExpireAt: inst.ExpireAt, Capabilities: inst.Capabilities,
	}}, ev
}

func (ss *session) authenticate(m *transport.Authenticate) (transport.Message, Event) {
	s := ss.s
	ev := Event{Application: m.ApplicationKey, User: m.UserID, Device: m.DeviceID, Instance: m.InstanceID}
	inst, err := s.store.Instance(m.InstanceID)
	if errors.Is(err, ErrNotFound) || (err == nil && (inst.Application != m.ApplicationKey || inst.User != m.UserID)) {
		return rejection(m.ID, transport.CodeInstanceNotFound, "no instance "+strconv.Quote(m.InstanceID)+" for this user; register anew", ev)
	}
	if err != nil {
		return storeFailure(m.ID, err, ev, s.log.Error)
	}
	if !transport.VerifyProof(string(inst.Secret), ss.challenge, m.InstanceID, m.DeviceID, m.Proof) {
		return rejection(m.ID, credentials.CodeSignatureInvalid, "the proof does not match the instance secret and this connection's challenge", ev)
	}
	if inst.Device != m.DeviceID {
		return rejection(m.ID, transport.CodeInstanceDeviceMismatch, "the instance is bound to another device", ev)
	}
	if inst.ExpiredAt(s.clock.Now()) {
		return rejection(m.ID, transport.CodeInstanceExpired, "the instance expired at "+inst.ExpireAt.UTC().Format(time.RFC3339)+"; register anew", ev)
	}
	// Binds happen under the user's lock, so that create's roomFor check
	// holds until its own bind.
	unlock := s.lockUser(inst.Application, inst.User)
	err = ss.bind(inst)
	unlock()
	if err != nil {
		var te *transport.Error
		errors.As(err, &te)
		ev.Code, ev.Reason = te.Code, te.Message
		return errorReply(m.ID, te), ev
	}
	return &transport.Authenticated{ID: m.ID, InstanceID: inst.ID, ExpireAt: inst.ExpireAt, Capabilities: inst.Capabilities, PushToken: inst.PushToken}, ev
}

func (ss *session) updateInstanceTTL(m *transport.UpdateInstanceTTL) (transport.Message, Event) {
	s := ss.s
	id, app, user, device := ss.bound()
	ev := Event{Application: app, User: user, Device: device, Instance: id}
	if id == "" {
		return rejection(m.ID, transport.CodeNotAuthenticated, "authenticate or create an instance on this connection first", ev)
	}
	unlock := s.lockUser(app, user)
	defer unlock()
	inst, err := s.store.Instance(id)
	if errors.Is(err, ErrNotFound) {
		return rejection(m.ID, transport.CodeInstanceNotFound, "the instance no longer exists; register anew", ev)
	}
	if err != nil {
		return storeFailure(m.ID, err, ev, s.log.Error)
	}
	now := s.clock.Now()
	if inst.ExpiredAt(now) {
		return rejection(m.ID, transport.CodeInstanceExpired, "the instance expired at "+inst.ExpireAt.UTC().Format(time.RFC3339)+"; register anew", ev)
	}
	tok, err := s.verifier.Verify(m.JWT, credentials.VerifyOptions{User: user, ChallengeTime: ss.challengeTime})
	if err != nil {
		return tokenRejection(m.ID, err, ev)
	}
	if tok.Claims.ApplicationKey != app {
		return rejection(m.ID, credentials.CodeSubjectMismatch, "the token is for another application than the instance", ev)
	}
	expireAt, limited := tok.Claims.InstanceExpiry()
	dev, err := s.store.Device(app, user, device)
	if err != nil {
		return storeFailure(m.ID, err, ev, s.log.Error)
	}
	if !limited {
		if dev.Limited || inst.Limited() {
			return rejection(m.ID, transport.CodeInstanceTTLRequired, "this instance has a limited TTL; the token must carry "+credentials.InstanceExpiryClaim, ev)
		}
		return &transport.InstanceTTLUpdated{ID: m.ID, InstanceID: id}, ev // unlimited stays unlimited
	}
	if inst.Limited() && expireAt.Before(inst.ExpireAt) {
		// An update prolongs; it never brings the end closer. (An
		// unlimited instance may be given a first limit.)
		return rejection(m.ID, transport.CodeInstanceTTLShortened, "the token's "+credentials.InstanceExpiryClaim+" ("+expireAt.UTC().Format(time.RFC3339)+
			") is earlier than the instance's expiry ("+inst.ExpireAt.UTC().Format(time.RFC3339)+"); an update can only prolong the instance", ev)
	}
	inst.ExpireAt = expireAt
	inst.History = append(inst.History, TTLChange{At: now, ExpireAt: expireAt, Reason: "extended"})
	if err := s.store.PutInstance(inst); err != nil {
		return storeFailure(m.ID, err, ev, s.log.Error)
	}
	if !dev.Limited {
		dev.Limited = true
		if err := s.store.PutDevice(dev); err != nil {
			return storeFailure(m.ID, err, ev, s.log.Error)
		}
	}
	ss.mu.Lock()
	if ss.inst == id {
		ss.armExpiryLocked(inst)
	}
	ss.mu.Unlock()
	return &transport.InstanceTTLUpdated{ID: m.ID, InstanceID: id, ExpireAt: expireAt}, ev
}

// maxPushTokenLen bounds a registered push token.
const maxPushTokenLen = 4096

func (ss *session) registerPush(m *transport.RegisterPushToken) (transport.Message, Event) {
	if m.PushToken == "" {
		// An empty token would silently unregister: say so instead (after
		// not_authenticated, as for the other limits).
		if id, app, user, device := ss.bound(); id != "" {
			return rejection(m.ID, transport.CodeProtocolError, "pushToken must not be empty; send unregisterPushToken to remove the token", Event{Application: app, User: user, Device: device, Instance: id})
		}
	}
	return ss.setPush(m.ID, m.PushToken, m.PushType)
}

func (ss *session) unregisterPush(m *transport.UnregisterPushToken) (transport.Message, Event) {
	return ss.setPush(m.ID, "", "")
}

func (ss *session) setPush(reqID, token, typ string) (transport.Message, Event) {
	s := ss.s
	id, app, user, device := ss.bound()
	ev := Event{Application: app, User: user, Device: device, Instance: id}
	if id == "" {
		return rejection(reqID, transport.CodeNotAuthenticated, "authenticate or create an instance on this connection first", ev)
	}
	if len(token) > maxPushTokenLen {
		return rejection(reqID, transport.CodeProtocolError, "pushToken is longer than "+strconv.Itoa(maxPushTokenLen)+" bytes", ev)
	}
	unlock := s.lockUser(app, user)
	defer unlock()
	inst, err := s.store.Instance(id)
	if errors.Is(err, ErrNotFound) {
		return rejection(reqID, transport.CodeInstanceNotFound, "the instance no longer exists; register anew", ev)
	}
	if err != nil {
		return storeFailure(reqID, err, ev, s.log.Error)
	}
	if inst.ExpiredAt(s.clock.Now()) {
		return rejection(reqID, transport.CodeInstanceExpired, "the instance expired; register anew", ev)
	}
	inst.PushToken, inst.PushType = token, typ
	if err := s.store.PutInstance(inst); err != nil {
		return storeFailure(reqID, err, ev, s.log.Error)
	}
	if token == "" {
		return &transport.PushTokenUnregistered{ID: reqID, InstanceID: id}, ev
	}
	return &transport.PushTokenRegistered{ID: reqID, InstanceID: id}, ev
}

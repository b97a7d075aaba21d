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
		return rejection(id, ce.Code, ce.Message, ev)
	}
	if errors.Is(err, ErrNonceStoreFull) {
		return rejection(id, transport.CodeUnavailable, "too many registrations in flight; retry shortly", ev)
	}
	if errors.Is(err, ErrUnavailable) {
		return rejection(id, transport.CodeUnavailable, unavailableReason, ev)
	}
	return rejection(id, transport.CodeInternalError, "token verification failed", ev)
}

// unavailableReason is the reason given when the store cannot be reached:
// the backend refuses rather than decide without it.
const unavailableReason = "the backend's store cannot be reached; retry shortly"

// maxCommitAttempts bounds how often a decision is made again because the
// user's state changed while it was made (ErrConflict).
const maxCommitAttempts = 32

func storeFailure(id string, err error, ev Event, log func(string, ...any)) (transport.Message, Event) {
	switch {
	case errors.Is(err, ErrUnavailable):
		log("store unavailable", "err", err)
		return rejection(id, transport.CodeUnavailable, unavailableReason, ev)
	case errors.Is(err, ErrConflict):
		log("too many conflicting changes", "user", ev.User)
		return rejection(id, transport.CodeUnavailable, "too many simultaneous changes for this user; retry shortly", ev)
	}
	log("store failure", "err", err)
	return rejection(id, transport.CodeInternalError, "the backend could not store the change", ev)
}

// decide runs one decision until it is committed without a conflict, at
// most maxCommitAttempts times. try returns the store's errors as they
// come (with its event so far): ErrConflict runs it again, and decide
// answers any other, or conflicts without end, with storeFailure.
func (s *Server) decide(id string, ev Event, try func() (transport.Message, Event, error)) (transport.Message, Event) {
	var reply transport.Message
	out := ev
	err := retryConflicts(func() (err error) {
		reply, out, err = try()
		return err
	})
	switch {
	case errors.Is(err, ErrConflict):
		return storeFailure(id, err, out, s.log.Warn)
	case err != nil:
		return storeFailure(id, err, out, s.log.Error)
	}
	return reply, out
}

// retryConflicts runs try again while it returns ErrConflict (the user's
// version moved under a decision), at most maxCommitAttempts times, and
// returns its last error.
func retryConflicts(try func() error) error {
	var err error
	for range maxCommitAttempts {
		if err = try(); !errors.Is(err, ErrConflict) {
			return err
		}
	}
	return err
}

// failed wraps a finished reply for decide's try functions.
func failed(reply transport.Message, ev Event) (transport.Message, Event, error) {
	return reply, ev, nil
}

// checkIdentity validates the user and device of a registration request.
func checkIdentity(app, user, device string) (code, reason string) {
	if err := credentials.ValidateUserID(user); err != nil {
		return credentials.CodeUserIDInvalid, credentials.ReasonOf(err)
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
	if _, ok := s.appSecret(m.ApplicationKey); !ok {
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
	return ss.create(m.ID, m.ApplicationKey, m.UserID, m.DeviceID, m.Capabilities, m.SDKVersion, expireAt, limited, nil, ev)
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
	secret, ok := s.appSecret(m.ApplicationKey)
	if !ok {
		return rejection(m.ID, credentials.CodeUnknownApplication, "application "+strconv.Quote(m.ApplicationKey)+" is not known here", ev)
	}
	unlock := s.lockUser(m.ApplicationKey, m.UserID)
	defer unlock()
	lc := &legacyCheck{seq: m.Sequence, sig: m.Signature, secret: secret}
	return ss.create(m.ID, m.ApplicationKey, m.UserID, m.DeviceID, m.Capabilities, m.SDKVersion, time.Time{}, false, lc, ev)
}

// legacyCheck is what a legacy registration proves (rule 12): checked in
// the same decision as the creation, against the last sequence the store
// holds, and recorded with it.
type legacyCheck struct {
	seq    uint64
	sig    string
	secret credentials.Secret
}

// create applies rules 9 and 11 (and 12 for a legacy registration) and
// creates the instance (user lock held).
func (ss *session) create(id, app, user, device string, caps []string, sdk string, expireAt time.Time, limited bool, legacy *legacyCheck, ev Event) (transport.Message, Event) {
	return ss.s.decide(id, ev, func() (transport.Message, Event, error) {
		return ss.tryCreate(id, app, user, device, caps, sdk, expireAt, limited, legacy, ev)
	})
}

const replacedByRegistration = "a new registration of this user on this device replaced the instance"

func (ss *session) tryCreate(id, app, user, device string, caps []string, sdk string, expireAt time.Time, limited bool, legacy *legacyCheck, ev Event) (transport.Message, Event, error) {
	s := ss.s
	now := s.clock.Now()
	st, err := s.store.ReadUser(app, user, device, "")
	if err != nil {
		return nil, ev, err
	}
	ver, dev := st.Version, st.Device
	var seq uint64
	if legacy != nil {
		if err := credentials.VerifyLegacy(user, app, legacy.seq, legacy.sig, legacy.secret, st.Sequence); err != nil {
			return failed(tokenRejection(id, err, ev))
		}
		seq = legacy.seq
	}
	if dev.Limited && !limited {
		return failed(rejection(id, transport.CodeInstanceTTLRequired, "a limited TTL was used for this user on this device before; the token must carry "+credentials.InstanceExpiryClaim, ev))
	}
	// The connection limit before any change: a registration refused for
	// it must not create, count or replace anything.
	if te := ss.roomFor(app, user); te != nil {
		ev.Code, ev.Reason = te.Code, te.Message
		return errorReply(id, te), ev, nil
	}
	inst := Instance{
		ID: transport.NewID("inst"), Application: app, User: user, Device: device,
		Secret: InstanceSecret(transport.NewInstanceSecret()), Capabilities: caps, SDKVersion: sdk,
		Legacy: legacy != nil, CreatedAt: now,
	}
	if limited {
		inst.ExpireAt = expireAt
	}
	inst.History = []TTLChange{{At: now, ExpireAt: inst.ExpireAt, Reason: "created"}}
	superseded := dev.InstanceID
	dev.InstanceID = inst.ID
	dev.Limited = dev.Limited || limited
	ch := Change{
		Application: app, User: user, Version: ver,
		Creation: &Creation{At: now, Window: s.policy.RateWindow, Limit: s.policy.RateLimit},
		Put:      []Instance{inst}, Devices: []Device{dev}, Sequence: seq,
	}
	if superseded != "" && superseded != inst.ID {
		// One instance per user and device: a new registration replaces
		// the old one (a client bound to it elsewhere is told).
		ch.Delete = []Ended{{Instance: superseded, Code: transport.CodeInstanceReplaced, Message: replacedByRegistration}}
	}
	res, err := s.store.Commit(ch)
	if err != nil {
		return nil, ev, err
	}
	if res.RateLimited {
		ev.Code, ev.Reason = transport.CodeInstanceCreationRateExceeded, "Instance creation rate exceeded"
		e := transport.NewError(transport.CodeInstanceCreationRateExceeded, "Instance creation rate exceeded")
		e.RetryAfterMs = res.RetryAfter.Milliseconds()
		return errorReply(id, e), ev, nil
	}
	ev.Instance = inst.ID
	te := ss.bind(inst)
	if len(ch.Delete) > 0 {
		s.notifyRevoked(superseded, transport.CodeInstanceReplaced, replacedByRegistration)
	}
	if te != nil {
		ev.Code, ev.Reason = te.Code, te.Message
		return errorReply(id, te), ev, nil
	}
	return &transport.InstanceCreated{ID: id, Instance: transport.Instance{
		ID: inst.ID, Secret: string(inst.Secret), DeviceID: inst.Device, ExpireAt: inst.ExpireAt, Capabilities: inst.Capabilities,
	}}, ev, nil
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
	te := ss.bind(inst)
	unlock()
	if te != nil {
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
	// The instance's state is read first, so that a missing or expired
	// instance is what the client hears rather than its token's faults;
	// the decision's first attempt uses this read.
	st, err := s.store.ReadUser(app, user, device, id)
	if err != nil {
		return storeFailure(m.ID, err, ev, s.log.Error)
	}
	if reply, ev, gone := instanceGone(m.ID, st.Instance, s.clock.Now(), ev); gone {
		return reply, ev
	}
	tok, err := s.verifier.Verify(m.JWT, credentials.VerifyOptions{User: user, ChallengeTime: ss.challengeTime})
	if err != nil {
		return tokenRejection(m.ID, err, ev)
	}
	if tok.Claims.ApplicationKey != app {
		return rejection(m.ID, credentials.CodeSubjectMismatch, "the token is for another application than the instance", ev)
	}
	expireAt, limited := tok.Claims.InstanceExpiry()
	read := &st
	return s.decide(m.ID, ev, func() (transport.Message, Event, error) {
		first := read
		read = nil
		return ss.tryExtend(m.ID, first, id, app, user, device, expireAt, limited, ev)
	})
}

// instanceGone answers a request about an instance that is missing (nil)
// or expired at now; gone is false when it is neither.
func instanceGone(reqID string, inst *Instance, now time.Time, ev Event) (transport.Message, Event, bool) {
	switch {
	case inst == nil:
		reply, ev := rejection(reqID, transport.CodeInstanceNotFound, "the instance no longer exists; register anew", ev)
		return reply, ev, true
	case inst.ExpiredAt(now):
		reply, ev := rejection(reqID, transport.CodeInstanceExpired, "the instance expired at "+inst.ExpireAt.UTC().Format(time.RFC3339)+"; register anew", ev)
		return reply, ev, true
	}
	return nil, ev, false
}

// tryExtend is the decision of updateInstanceTTL once its token is
// verified (user lock held), on st, or on the user's state read anew when
// st is nil (a later attempt).
func (ss *session) tryExtend(reqID string, st *UserState, id, app, user, device string, expireAt time.Time, limited bool, ev Event) (transport.Message, Event, error) {
	s := ss.s
	if st == nil {
		again, err := s.store.ReadUser(app, user, device, id)
		if err != nil {
			return nil, ev, err
		}
		st = &again
	}
	now := s.clock.Now()
	if reply, ev, gone := instanceGone(reqID, st.Instance, now, ev); gone {
		return failed(reply, ev)
	}
	ver, inst, dev := st.Version, *st.Instance, st.Device
	if !limited {
		if dev.Limited || inst.Limited() {
			return failed(rejection(reqID, transport.CodeInstanceTTLRequired, "this instance has a limited TTL; the token must carry "+credentials.InstanceExpiryClaim, ev))
		}
		return &transport.InstanceTTLUpdated{ID: reqID, InstanceID: id}, ev, nil // unlimited stays unlimited
	}
	if inst.Limited() && expireAt.Before(inst.ExpireAt) {
		// An update prolongs; it never brings the end closer. (An
		// unlimited instance may be given a first limit.)
		return failed(rejection(reqID, transport.CodeInstanceTTLShortened, "the token's "+credentials.InstanceExpiryClaim+" ("+expireAt.UTC().Format(time.RFC3339)+
			") is earlier than the instance's expiry ("+inst.ExpireAt.UTC().Format(time.RFC3339)+"); an update can only prolong the instance", ev))
	}
	inst.ExpireAt = expireAt
	inst.History = append(inst.History, TTLChange{At: now, ExpireAt: expireAt, Reason: "extended"})
	ch := Change{Application: app, User: user, Version: ver, Put: []Instance{inst}}
	if !dev.Limited {
		dev.Limited = true
		ch.Devices = []Device{dev}
	}
	if _, err := s.store.Commit(ch); err != nil {
		return nil, ev, err
	}
	ss.mu.Lock()
	if ss.inst == id {
		ss.armExpiryLocked(inst)
	}
	ss.mu.Unlock()
	return &transport.InstanceTTLUpdated{ID: reqID, InstanceID: id, ExpireAt: expireAt}, ev, nil
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
	return s.decide(reqID, ev, func() (transport.Message, Event, error) {
		st, err := s.store.ReadUser(app, user, "", id)
		if err != nil {
			return nil, ev, err
		}
		if st.Instance == nil {
			return failed(rejection(reqID, transport.CodeInstanceNotFound, "the instance no longer exists; register anew", ev))
		}
		ver, inst := st.Version, *st.Instance
		if inst.ExpiredAt(s.clock.Now()) {
			return failed(rejection(reqID, transport.CodeInstanceExpired, "the instance expired; register anew", ev))
		}
		inst.PushToken, inst.PushType = token, typ
		if _, err := s.store.Commit(Change{Application: app, User: user, Version: ver, Put: []Instance{inst}}); err != nil {
			return nil, ev, err
		}
		if token == "" {
			return &transport.PushTokenUnregistered{ID: reqID, InstanceID: id}, ev, nil
		}
		return &transport.PushTokenRegistered{ID: reqID, InstanceID: id}, ev, nil
	})
}

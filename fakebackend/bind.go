package fakebackend

import (
	"strconv"

	"github.com/sinchsim/sinchsim/transport"
	"github.com/sinchsim/sinchsim/vclock"
)

// Binding a session to an instance: the room a user has for connections,
// bind and its undoing, and the instance's expiry on its connection.

func tooManyConnections(lim int) *transport.Error {
	return transport.NewError(transport.CodeUnavailable, "too many connections for this user (limit "+strconv.Itoa(lim)+")")
}

// roomFor returns the error bind would give for a new instance of user:
// nil unless binding this session to it would exceed
// Policy.MaxConnectionsPerUser. Call it with the user's lock held; every
// bind happens under that lock, so the answer holds until the bind.
func (ss *session) roomFor(app, user string) *transport.Error {
	s := ss.s
	lim := s.policy.MaxConnectionsPerUser
	if lim <= 0 {
		return nil
	}
	key := userKey(app, user)
	ss.mu.Lock()
	mine := ss.counted && userKey(ss.app, ss.user) == key // bind unbinds it first
	ss.mu.Unlock()
	s.mu.Lock()
	n := s.perUser[key]
	s.mu.Unlock()
	if mine {
		n--
	}
	if n >= lim {
		return tooManyConnections(lim)
	}
	return nil
}

// bind attaches the session to an instance and arms its expiry timer.
// With a shared store it also records that this connection holds the
// instance, and tells a connection on another replica that held it.
func (ss *session) bind(inst Instance) *transport.Error {
	s := ss.s
	key := userKey(inst.Application, inst.User)
	ss.unbind()
	s.mu.Lock()
	if lim := s.policy.MaxConnectionsPerUser; lim > 0 && s.perUser[key] >= lim {
		s.mu.Unlock()
		return tooManyConnections(lim)
	}
	s.perUser[key]++
	// Another connection of the same instance: the newest one is bound,
	// and the older one is told once the bind holds.
	old := s.byInst[inst.ID]
	if old == ss {
		old = nil
	}
	s.byInst[inst.ID] = ss
	s.mu.Unlock()

	ss.mu.Lock()
	ss.inst, ss.app, ss.user, ss.device, ss.counted = inst.ID, inst.Application, inst.User, inst.Device, true
	ss.lost = ""
	ss.armExpiryLocked(inst)
	ss.mu.Unlock()
	if s.shared != nil {
		prev, err := s.shared.Hold(inst.ID, ss.id)
		if err != nil {
			s.log.Warn("recording the holder of an instance", "err", err)
			ss.unbindIf(inst.ID)
			if old != nil {
				old.rebind(inst.ID)
			}
			return transport.NewError(transport.CodeUnavailable, unavailableReason)
		}
		if s.elsewhere(prev) {
			s.sendRevoked(prev, inst.ID, transport.CodeInstanceReplaced, replacedByConnection)
		}
	}
	if old != nil {
		old.replaced(inst.ID, replacedByConnection)
	}
	return nil
}

// rebind makes ss again the connection of instance id after a bind that
// took it over has failed, if ss is still bound to it: one that was
// unbound meanwhile (it closed while the bind waited on the store) stays
// out, or revocations of the instance would go to it and no further. Lock
// order: the server's, then the session's.
func (ss *session) rebind(id string) {
	s := ss.s
	s.mu.Lock()
	ss.mu.Lock()
	if s.byInst[id] == nil && ss.inst == id {
		s.byInst[id] = ss
	}
	ss.mu.Unlock()
	s.mu.Unlock()
}

// Messages of instanceRevoked.
const (
	replacedByConnection = "another connection authenticated this instance; this connection is no longer bound to it"
	revokedMessage       = "the instance was revoked"
)

func (ss *session) armExpiryLocked(inst Instance) {
	if ss.expiry != nil {
		ss.expiry.Stop()
		ss.expiry = nil
	}
	if !inst.Limited() {
		return
	}
	d := inst.ExpireAt.Sub(ss.s.clock.Now())
	id := inst.ID
	// Keyed by user, as the user's client keys its timers (see
	// vclock.WithTieBatching).
	ss.expiry = vclock.AfterFuncKey(ss.s.clock, inst.User, d, func() { ss.expired(id) })
}

// bound returns the bound instance id ("" when none).
func (ss *session) bound() (id, app, user, device string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.inst, ss.app, ss.user, ss.device
}

// lostToExpiry returns the instance the session was unbound from by its
// expiry ("" when it has bound since, or was never).
func (ss *session) lostToExpiry() string {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.lost
}

func (ss *session) unbind() { ss.unbindIf("") }

// unbindIf detaches the session from instance id ("" = whatever it is
// bound to); its calls end as if it had hung up.
func (ss *session) unbindIf(id string) bool { return ss.unbindFor(id, false) }

// unbindFor is unbindIf; expired says that the instance's TTL ran out: its
// calls end with instance_expired, and a call from the session is refused
// with instance_expired until it binds again.
func (ss *session) unbindFor(id string, expired bool) bool {
	ss.mu.Lock()
	if ss.inst == "" || (id != "" && ss.inst != id) {
		ss.mu.Unlock()
		return false
	}
	inst, key, counted := ss.inst, userKey(ss.app, ss.user), ss.counted
	ss.inst, ss.app, ss.user, ss.device, ss.counted = "", "", "", "", false
	if expired {
		ss.lost = inst
	}
	if ss.expiry != nil {
		ss.expiry.Stop()
		ss.expiry = nil
	}
	ss.mu.Unlock()
	s := ss.s
	s.mu.Lock()
	if s.byInst[inst] == ss {
		delete(s.byInst, inst)
	}
	if counted {
		if s.perUser[key]--; s.perUser[key] <= 0 {
			delete(s.perUser, key)
		}
	}
	s.mu.Unlock()
	s.calls.left(ss, expired)
	if s.shared != nil {
		if err := s.shared.Release(inst, ss.id); err != nil {
			s.log.Debug("releasing an instance", "err", err)
		}
	}
	return true
}

// expired runs on the backend clock when the bound instance's TTL ends.
// The stored expiry decides: an instance extended in the meantime lives
// on.
func (ss *session) expired(id string) {
	inst, err := ss.s.store.Instance(id)
	if err == nil && !inst.ExpiredAt(ss.s.clock.Now()) {
		return // extended in the meantime
	}
	_, app, user, device := ss.bound()
	if !ss.unbindFor(id, true) {
		return
	}
	if err != nil {
		inst.Application, inst.User, inst.Device = app, user, device
	}
	ss.s.record(Event{Kind: KindExpire, Code: transport.CodeInstanceExpired, Reason: "instance TTL ran out", Application: inst.Application, User: inst.User, Device: inst.Device, Instance: id})
	ss.send(&transport.InstanceRevoked{InstanceID: id, Code: transport.CodeInstanceExpired, Message: "the instance's TTL ran out; register anew"})
}

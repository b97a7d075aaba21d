package fakebackend

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/transport"
)

// Shared is implemented by a Store that several backend replicas share
// (package redisstore does it on Redis). Besides the state, it carries
// what makes the replicas behave as one backend:
//
//   - which connection, on which replica, holds each instance, so that a
//     revocation or a replacement decided on one replica reaches the
//     client on another one (a notice on that replica's channel), and how
//     a deleted instance ended, so that a connection that missed its
//     notice learns it on its next request;
//   - the mock clock's time, so that advancing it on one replica advances
//     every replica (each replica's world, its timers and sessions, stays
//     its own; its time follows the shared one);
//   - the decision log, so that every replica shows every decision.
//
// Like Store, it keeps state and carries messages; it decides no rule.
type Shared interface {
	Store

	// Replica returns this replica's id, unique among the replicas that
	// share the store.
	Replica() string
	// Join delivers every notice sent to this replica, or to every
	// replica, to deliver (one at a time, in the order sent) until leave
	// is called. Notices a replica sends to every replica are not
	// delivered back to it.
	Join(deliver func(Notice)) (leave func(), err error)
	// Send sends n to one replica, or to every replica when replica is "".
	Send(replica string, n Notice) error
	// Replicas returns the replicas that are alive, sorted.
	Replicas() ([]string, error)

	// Hold records that connection conn of this replica holds instance
	// id, and returns the previous holder (zero Holder when none).
	Hold(id, conn string) (Holder, error)
	// Release forgets the holder of id if it is still conn of this replica.
	Release(id, conn string) error
	// Holders returns the holder of each instance (zero Holder when none).
	Holders(ids []string) ([]Holder, error)
	// HolderOf returns the holder of instance id (zero Holder when none)
	// and whether the instance exists, in one look.
	HolderOf(id string) (h Holder, exists bool, err error)
	// Ring records that call callID of this replica rings for user of
	// app with a push, for at most ttl (wall time); Unring forgets it.
	Ring(app, user, callID string, ttl time.Duration) error
	Unring(app, user, callID string) error
	// Ringing returns the calls recorded by Ring for user of app: call id
	// -> the replica of the call.
	Ringing(app, user string) (map[string]string, error)
	// Ended returns how a recently deleted instance ended (ok false when
	// that is not known, or no longer).
	Ended(id string) (e Ended, ok bool, err error)
	// InstanceCount returns how many instances there are.
	InstanceCount() (int, error)

	// Time returns the mock clock's shared time (ok false when none is
	// stored yet).
	Time() (t time.Time, ok bool, err error)
	// SetTime stores t as the shared time when it is later than the
	// stored one, or when backward is true, tells every other replica
	// (NoticeTime), and returns the stored time.
	SetTime(t time.Time, backward bool) (time.Time, error)
	// ReachedTime records that this replica's clock stands at t.
	ReachedTime(t time.Time) error
	// WaitTime waits until every live replica has reached t, or ctx ends;
	// it returns the replicas that had not.
	WaitTime(ctx context.Context, t time.Time) (behind []string, err error)

	// AppendEvent adds e to the shared decision log, which keeps the
	// newest limit events; the log numbers it (Event.Seq).
	AppendEvent(e Event, limit int) error
	// Events returns the events after sequence number since, oldest
	// first; with limit > 0, only the newest limit of them.
	Events(since uint64, limit int) ([]Event, error)
	// WaitEvents returns the events after since, waiting for one up to a
	// bound of its own (then it returns none) or until ctx ends.
	WaitEvents(ctx context.Context, since uint64) ([]Event, error)
}

// Holder names the connection that holds an instance: a replica and a
// connection id of that replica. The zero Holder is nobody.
type Holder struct {
	Replica string `json:"replica"`
	Conn    string `json:"conn"`
}

// Notice is a message from one replica to others.
type Notice struct {
	// Kind is one of the Notice* constants.
	Kind string `json:"kind"`
	// From is the sending replica (set by Send).
	From string `json:"from,omitempty"`
	// NoticeRevoked: the instance, the connection that held it, and the
	// code and message of the instanceRevoked its client gets.
	Instance string `json:"instanceId,omitempty"`
	Conn     string `json:"conn,omitempty"`
	Code     string `json:"code,omitempty"`
	Message  string `json:"message,omitempty"`
	// NoticeTime: the mock clock's new time; Backward sets it back.
	Time     time.Time `json:"time,omitzero"`
	Backward bool      `json:"backward,omitempty"`
	// The call notices (calls_shared.go): the call, the act asked and its
	// request id, the message for a connection (encoded), the callee, and
	// whether a connection left because its instance expired.
	CallID      string `json:"callId,omitempty"`
	Act         string `json:"act,omitempty"`
	Request     string `json:"request,omitempty"`
	Payload     string `json:"payload,omitempty"`
	Application string `json:"applicationKey,omitempty"`
	User        string `json:"userId,omitempty"`
	Expired     bool   `json:"expired,omitempty"`
}

// Notice kinds.
const (
	// NoticeRevoked: an instance held by one of the receiver's
	// connections was revoked or replaced.
	NoticeRevoked = "revoked"
	// NoticeTime: the mock clock moved.
	NoticeTime = "time"
	// NoticeReset: the state was reset; connections are closed.
	NoticeReset = "reset"
	// NoticeApplications: the applications changed.
	NoticeApplications = "applications"
)

// sharedTimeBound bounds how long moving the mock clock waits for the
// other replicas to reach the new time (wall-clock time).
const sharedTimeBound = 10 * time.Second

// joinShared connects the server to the other replicas of a shared store.
func (s *Server) joinShared() error {
	if s.shared == nil {
		return nil
	}
	if s.world != nil {
		stored, err := s.shared.SetTime(s.world.Now(), false)
		if err != nil {
			return fmt.Errorf("fakebackend: the shared clock: %w", err)
		}
		if stored.After(s.world.Now()) {
			if err := s.world.Set(stored); err != nil {
				return err
			}
		}
	}
	s.calls.mu.Lock()
	s.calls.route = sharedRoutes{localRoutes: localRoutes{}, s: s}
	s.calls.mu.Unlock()
	leave, err := s.shared.Join(s.deliver)
	if err != nil {
		return fmt.Errorf("fakebackend: joining the other replicas: %w", err)
	}
	s.leave = leave
	if s.world != nil {
		_ = s.shared.ReachedTime(s.world.Now())
	}
	return nil
}

// deliver handles a notice from another replica.
func (s *Server) deliver(n Notice) {
	switch n.Kind {
	case NoticeRevoked:
		if ss := s.sessionOf(n.Instance); ss != nil && (n.Conn == "" || n.Conn == ss.id) {
			ss.revoked(n.Instance, n.Code, n.Message)
		}
	case NoticeTime:
		if s.world == nil {
			return
		}
		if n.Backward || n.Time.After(s.world.Now()) {
			if err := s.world.Set(n.Time); err != nil {
				s.log.Warn("moving the clock to the shared time", "err", err)
				return
			}
		}
		if err := s.shared.ReachedTime(s.world.Now()); err != nil {
			s.log.Warn("confirming the shared time", "err", err)
		}
	case NoticeReset:
		s.resetLocal()
	case NoticeApplications:
		s.reloadApplications()
	case NoticeCall, NoticeCallAct, NoticeCallLeft, NoticeCallBound:
		s.deliverCall(n)
	}
}

// moveShared moves a virtual clock that shares its time with other
// replicas to t: the shared time first, then this replica's world, then
// it waits until every other replica has reached it.
func (s *Server) moveShared(t time.Time, backward bool) error {
	stored, err := s.shared.SetTime(t, backward)
	if err != nil {
		return err
	}
	if err := s.world.Set(stored); err != nil {
		return err
	}
	if err := s.shared.ReachedTime(stored); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), sharedTimeBound)
	defer cancel()
	behind, err := s.shared.WaitTime(ctx, stored)
	if len(behind) > 0 {
		return fmt.Errorf("fakebackend: replicas %s did not reach %s within %v", strings.Join(behind, ", "), stored.UTC().Format(time.RFC3339), sharedTimeBound)
	}
	return err
}

// tellHolder sends instanceRevoked (code, msg) to the connection that
// holds instance id on another replica, if one does.
func (s *Server) tellHolder(id, code, msg string) {
	if h, ok := s.remoteHolder(id); ok {
		s.sendRevoked(h, id, code, msg)
	}
}

// remoteHolder returns the holder of instance id when it is a connection
// of another replica.
func (s *Server) remoteHolder(id string) (Holder, bool) {
	hs, err := s.shared.Holders([]string{id})
	if err != nil {
		s.log.Warn("finding the holder of an instance", "instance", id, "err", err)
		return Holder{}, false
	}
	return hs[0], s.elsewhere(hs[0])
}

// elsewhere reports whether h is a connection of another replica.
func (s *Server) elsewhere(h Holder) bool {
	return h.Replica != "" && h.Replica != s.shared.Replica()
}

// sendRevoked tells the replica of h that its connection h.Conn lost
// instance id (instanceRevoked with code and msg).
func (s *Server) sendRevoked(h Holder, id, code, msg string) {
	if err := s.shared.Send(h.Replica, Notice{Kind: NoticeRevoked, Instance: id, Conn: h.Conn, Code: code, Message: msg}); err != nil {
		// The durable record (the instance deleted, its holder moved)
		// tells the connection on its next request.
		s.log.Warn("telling another replica", "replica", h.Replica, "err", err)
	}
}

// catchUp checks, before a request of a bound connection, that a notice
// sent to it by another replica was not missed: that it still holds its
// instance and the instance still exists. It tells the client what it
// missed.
func (ss *session) catchUp() {
	s := ss.s
	id, _, _, _ := ss.bound()
	if id == "" {
		return
	}
	h, exists, err := s.shared.HolderOf(id)
	if err != nil {
		return // the request itself meets the store's failure
	}
	if h.Replica != s.shared.Replica() || h.Conn != ss.id {
		ss.revoked(id, transport.CodeInstanceReplaced, replacedByConnection)
		return
	}
	if exists {
		return
	}
	e, ok, err := s.shared.Ended(id)
	if err != nil {
		return
	}
	if !ok {
		e = Ended{Code: transport.CodeInstanceNotFound, Message: revokedMessage}
	}
	ss.revoked(id, e.Code, e.Message)
}

// appSecret returns an application's secret. An application added on
// another replica is looked up in the shared store.
func (s *Server) appSecret(key string) (secret credentials.Secret, ok bool) {
	if secret, ok = s.keys.Secret(key); ok || s.shared == nil {
		return secret, ok
	}
	// An unknown key reloads the applications at most ten times a second.
	s.mu.Lock()
	recent := time.Since(s.appsLoaded) < 100*time.Millisecond
	if !recent {
		s.appsLoaded = time.Now()
	}
	s.mu.Unlock()
	if recent {
		return secret, false
	}
	s.reloadApplications()
	return s.keys.Secret(key)
}

// reloadApplications adds the shared store's applications to the keyring.
func (s *Server) reloadApplications() {
	apps, err := s.store.Applications()
	if err != nil {
		s.log.Warn("loading the applications", "err", err)
		return
	}
	for _, a := range apps {
		s.keys.Add(a.Key, a.Secret)
	}
}

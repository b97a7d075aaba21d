package fakebackend

// Calls across replicas. A call lives on the replica that holds its
// caller's connection: the call's home, where its table entry, its limits
// and its no-answer timer are. A callee connection that another replica
// holds takes part through a remotePeer: what the home sends it travels as
// a NoticeCall on the bus to that replica, which hands it to the
// connection; what the connection asks (answer, decline, hang up) travels
// back as a NoticeCallAct, its leaving as a NoticeCallLeft. A call that
// rings for a callee with no connection (a push was sent) is recorded in
// the shared store (Shared.Ring) before the caller hears that it rings,
// so that the callee's connection is rung wherever it comes up: the
// replica that binds it reads the record (Shared.Ringing) and asks the
// call's home to ring it (NoticeCallBound), until the call stops ringing
// (Shared.Unring).

import (
	"maps"
	"slices"
	"time"

	"github.com/sinchsim/sinchsim/transport"
)

// Notice kinds of calls across replicas.
const (
	// NoticeCall: a call message for the connection Conn (bound to
	// Instance) of the receiver; Payload is the message, encoded.
	NoticeCall = "call"
	// NoticeCallAct: the callee connection Conn of the sender asks the
	// call's home to Act (answerCall, declineCall or hangupCall) on CallID;
	// Request is the request's id.
	NoticeCallAct = "callAct"
	// NoticeCallLeft: the callee connection Conn of the sender left its
	// calls (Expired: its instance's TTL ran out).
	NoticeCallLeft = "callLeft"
	// NoticeCallBound: connection Conn of the sender, bound to Instance,
	// has come up for the user that call CallID rings for.
	NoticeCallBound = "callBound"
)

// remotePeer is a callee connection that another replica holds.
type remotePeer struct {
	s       *Server
	replica string
	conn    string
	inst    string
}

func (p remotePeer) send(m transport.Message) {
	b, err := transport.Encode(m)
	if err != nil {
		p.s.log.Error("encoding a call message for another replica", "err", err)
		return
	}
	n := Notice{Kind: NoticeCall, Instance: p.inst, Conn: p.conn, Payload: string(b)}
	if err := p.s.shared.Send(p.replica, n); err != nil {
		p.s.log.Warn("sending a call message to another replica", "replica", p.replica, "err", err)
	}
}

// remoteCall is a call of another replica's that rings, or takes place,
// on a connection of this one.
type remoteCall struct {
	home string
	ss   *session
	inst string // the instance ss was rung for
}

// sharedRoutes is the callRouter with a shared store: this replica's
// connections first, then the holders that the store names.
type sharedRoutes struct {
	localRoutes
	s *Server
}

// peers asks the store for the holders of all the instances not bound
// here at once: one round trip, however many instances the callee has.
func (r sharedRoutes) peers(ids []string) []callPeer {
	out := r.localRoutes.peers(ids)
	var missing []string
	for k, p := range out {
		if p == nil {
			missing = append(missing, ids[k])
		}
	}
	if len(missing) == 0 {
		return out
	}
	hs, err := r.s.shared.Holders(missing)
	if err != nil {
		r.s.log.Warn("finding the holders of a callee's instances", "err", err)
		return out
	}
	m := 0
	for k, p := range out {
		if p != nil {
			continue
		}
		if h := hs[m]; r.s.elsewhere(h) {
			out[k] = remotePeer{s: r.s, replica: h.Replica, conn: h.Conn, inst: ids[k]}
		}
		m++
	}
	return out
}

// forward sends an act on a call of another replica's to its home, and
// reports whether callID was such a call of ss.
func (t *callTable) forward(ss *session, kind, reqID, callID string) bool {
	t.mu.Lock()
	rc, ok := t.remote[callID]
	t.mu.Unlock()
	if !ok || rc.ss != ss {
		return false
	}
	_, app, user, _ := ss.bound()
	n := Notice{Kind: NoticeCallAct, CallID: callID, Act: kind, Request: reqID, Instance: rc.inst, Conn: ss.id, Application: app, User: user}
	if err := t.s.shared.Send(rc.home, n); err != nil {
		ss.send(errorReply(reqID, transport.NewError(transport.CodeUnavailable, unavailableReason)))
	}
	return true
}

// deliverCall handles the call notices from other replicas.
func (s *Server) deliverCall(n Notice) {
	t := s.calls
	switch n.Kind {
	case NoticeCall:
		ss := s.sessionOf(n.Instance)
		m, err := transport.Decode([]byte(n.Payload))
		if ss == nil || ss.id != n.Conn || err != nil {
			return // the connection is gone: its leaving reaches the home
		}
		t.mu.Lock()
		switch m := m.(type) {
		case *transport.IncomingCall:
			t.remote[m.CallID] = remoteCall{home: n.From, ss: ss, inst: n.Instance}
		case *transport.CallEnded:
			delete(t.remote, m.CallID)
		}
		ss.send(m)
		t.mu.Unlock()
	case NoticeCallAct:
		t.mu.Lock()
		defer t.mu.Unlock()
		p := remotePeer{s: s, replica: n.From, conn: n.Conn, inst: n.Instance}
		ev := Event{Application: n.Application, User: n.User, Instance: n.Instance, Call: n.CallID, Kind: n.Act}
		if reply, ev := t.actLocked(p, n.Act, n.Request, n.CallID, ev); reply != nil {
			s.record(ev)
			p.send(reply)
		}
	case NoticeCallLeft:
		t.left(remotePeer{s: s, replica: n.From, conn: n.Conn, inst: n.Instance}, n.Expired)
	case NoticeCallBound:
		t.mu.Lock()
		defer t.mu.Unlock()
		c := t.byID[n.CallID]
		var p callPeer = remotePeer{s: s, replica: n.From, conn: n.Conn, inst: n.Instance}
		if c != nil && c.state == callRinging && !c.rang(p) {
			c.rung = append(c.rung, p)
			addTo(t.byPeer, p, c)
			p.send(c.incoming())
		}
	}
}

// ringRecordTTL bounds how long a ringing call's record stays in the
// shared store if its home never removes it (it was killed): past the
// answer timeout, on any clock.
const ringRecordTTL = 24 * time.Hour

// announceLocked records in the shared store that c rings with a push,
// so that its callee's connection is rung wherever it comes up.
func (t *callTable) announceLocked(c *call) {
	if t.s.shared == nil {
		return
	}
	c.announced = true
	if err := t.s.shared.Ring(c.app, c.callee, c.id, ringRecordTTL); err != nil {
		t.s.log.Warn("recording a ringing call in the shared store", "err", err)
	}
}

// stoppedRingingLocked removes the record of an announced call that no
// longer rings.
func (t *callTable) stoppedRingingLocked(c *call) {
	if !c.announced {
		return
	}
	c.announced = false
	if err := t.s.shared.Unring(c.app, c.callee, c.id); err != nil {
		t.s.log.Warn("removing a ringing call from the shared store", "err", err)
	}
}

// boundRemote asks the homes of the calls that ring for ss's user with a
// push (on other replicas) to ring ss too. It runs without the table's
// lock: it waits on the store.
func (t *callTable) boundRemote(ss *session, inst, app, user string) {
	rings, err := t.s.shared.Ringing(app, user)
	if err != nil {
		t.s.log.Warn("reading the ringing calls of a user", "err", err)
		return
	}
	for _, id := range slices.Sorted(maps.Keys(rings)) {
		home := rings[id]
		if home == t.s.shared.Replica() {
			continue // rung by bound, from the table
		}
		n := Notice{Kind: NoticeCallBound, CallID: id, Instance: inst, Conn: ss.id}
		if err := t.s.shared.Send(home, n); err != nil {
			t.s.log.Warn("asking another replica to ring a connection", "err", err)
		}
	}
}

// leftRemoteLocked tells the homes of the calls of other replicas that ss
// takes part in that it left them.
func (t *callTable) leftRemoteLocked(ss *session, expired bool) {
	for id, rc := range t.remote {
		if rc.ss != ss {
			continue
		}
		delete(t.remote, id)
		n := Notice{Kind: NoticeCallLeft, CallID: id, Instance: rc.inst, Conn: ss.id, Expired: expired}
		if err := t.s.shared.Send(rc.home, n); err != nil {
			t.s.log.Warn("telling another replica a connection left", "err", err)
		}
	}
}

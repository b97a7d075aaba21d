package fakebackend

// Calls across replicas. A call lives on the replica that holds its
// caller's connection: the call's home, where its table entry, its limits
// and its no-answer timer are. A callee connection that another replica
// holds takes part through a remotePeer: what the home sends it travels as
// a NoticeCall on the bus to that replica, which hands it to the
// connection; what the connection asks (answer, decline, hang up) travels
// back as a NoticeCallAct, its leaving as a NoticeCallLeft. A call that
// rings for a callee with no connection (a push was sent) is announced to
// every replica (NoticeCallRinging), so that the callee's connection is
// rung wherever it comes up (NoticeCallBound), until the call stops
// ringing (NoticeCallOver).

import (
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
	// NoticeCallRinging: call CallID rings for user User of Application
	// with no connection to ring (a push was sent); the sender is its home.
	NoticeCallRinging = "callRinging"
	// NoticeCallOver: call CallID no longer rings.
	NoticeCallOver = "callOver"
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

// pushedCall is a call of another replica's that rings with no connection
// to ring: it rings a connection of its callee that comes up here.
type pushedCall struct {
	home  string
	until time.Time // on the wall clock: forgotten after, if no NoticeCallOver came
}

// sharedRoutes is the callRouter with a shared store: this replica's
// connections first, then the holders that the store names.
type sharedRoutes struct {
	localRoutes
	s *Server
}

func (r sharedRoutes) peer(id string) callPeer {
	if p := r.localRoutes.peer(id); p != nil {
		return p
	}
	h, ok := r.s.remoteHolder(id)
	if !ok {
		return nil
	}
	return remotePeer{s: r.s, replica: h.Replica, conn: h.Conn, inst: id}
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
		s.mu.Lock()
		ss := s.byInst[n.Instance]
		s.mu.Unlock()
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
	case NoticeCallRinging:
		t.mu.Lock()
		k := userKey(n.Application, n.User)
		if t.pushed[k] == nil {
			t.pushed[k] = map[string]pushedCall{}
		}
		t.pushed[k][n.CallID] = pushedCall{home: n.From, until: time.Now().Add(s.policy.CallAnswerTimeout + time.Minute)}
		t.mu.Unlock()
	case NoticeCallOver:
		t.mu.Lock()
		k := userKey(n.Application, n.User)
		if delete(t.pushed[k], n.CallID); len(t.pushed[k]) == 0 {
			delete(t.pushed, k)
		}
		t.mu.Unlock()
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

// announceLocked tells every other replica that c rings with a push, so
// that its callee's connection is rung wherever it comes up.
func (t *callTable) announceLocked(c *call) {
	if t.s.shared == nil {
		return
	}
	c.announced = true
	n := Notice{Kind: NoticeCallRinging, CallID: c.id, Application: c.app, User: c.callee}
	if err := t.s.shared.Send("", n); err != nil {
		t.s.log.Warn("announcing a call to the other replicas", "err", err)
	}
}

// stoppedRingingLocked tells the other replicas that an announced call no
// longer rings.
func (t *callTable) stoppedRingingLocked(c *call) {
	if !c.announced {
		return
	}
	c.announced = false
	n := Notice{Kind: NoticeCallOver, CallID: c.id, Application: c.app, User: c.callee}
	if err := t.s.shared.Send("", n); err != nil {
		t.s.log.Warn("telling the other replicas a call is over", "err", err)
	}
}

// boundRemoteLocked asks the homes of the calls that ring for ss's user
// with a push to ring ss too.
func (t *callTable) boundRemoteLocked(ss *session, inst, app, user string) {
	k := userKey(app, user)
	now := time.Now()
	for id, pc := range t.pushed[k] {
		if now.After(pc.until) {
			delete(t.pushed[k], id)
			continue
		}
		n := Notice{Kind: NoticeCallBound, CallID: id, Instance: inst, Conn: ss.id}
		if err := t.s.shared.Send(pc.home, n); err != nil {
			t.s.log.Warn("asking another replica to ring a connection", "err", err)
		}
	}
	if len(t.pushed[k]) == 0 {
		delete(t.pushed, k)
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

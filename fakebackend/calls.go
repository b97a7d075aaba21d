package fakebackend

import (
	"cmp"
	"errors"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/transport"
	"github.com/sinchsim/sinchsim/vclock"
)

// Calls: signalling only (rule 15 in docs/RULES.md, "Calls" in
// docs/PROTOCOL.md). A call lives in the server's memory, in callTable,
// from callUser until callEnded. Every change of a call happens under the
// table's lock, messages included, so that each connection sees a call's
// messages in order and exactly one callEnded.

// Limits of call headers (docs/PROTOCOL.md, "Message format"). The count
// is also the codec's bound on any object.
const (
	maxHeaderNameLen = 64
	maxHeadersBytes  = 1024
)

// callPeer is one connection taking part in a call, wherever it is served.
// A *session is one.
type callPeer interface {
	send(m transport.Message)
}

// callRouter finds the connection that takes calls for an instance. The
// in-process router (localRoutes) knows this server's connections; with
// several replicas, a router that reaches the other replicas' connections
// over their shared bus can take its place without touching the call
// rules. It is called with the table's lock held.
type callRouter interface {
	// peers returns, for each instance of ids, the connection bound to it
	// that has been told it is bound (its authenticated or
	// instanceCreated answer is out), or nil.
	peers(ids []string) []callPeer
	// bound and left keep the router up to date.
	bound(id string, p callPeer)
	left(id string, p callPeer)
}

// localRoutes is the in-process callRouter: instance id -> connection.
type localRoutes map[string]callPeer

func (r localRoutes) peers(ids []string) []callPeer {
	out := make([]callPeer, len(ids))
	for k, id := range ids {
		out[k] = r[id]
	}
	return out
}

func (r localRoutes) bound(id string, p callPeer) { r[id] = p }

func (r localRoutes) left(id string, p callPeer) {
	if r[id] == p {
		delete(r, id)
	}
}

type callState uint8

const (
	callRinging callState = iota + 1
	callEstablished
	callOver
)

// call is one call. Its fields change under callTable.mu only.
type call struct {
	seq      uint64 // order of creation
	id       string
	app      string
	caller   string // user ids
	callee   string
	headers  map[string]string
	from     callPeer   // the caller's connection
	fromInst string     // its instance
	rung     []callPeer // the callee's connections it rang on (once established: the one that answered)
	answered callPeer
	state    callState
	timer    vclock.Stopper // no answer
	// announced: the shared store records that the call rings with a
	// push (until it stops ringing).
	announced bool
}

func (c *call) rang(p callPeer) bool { return slices.Contains(c.rung, p) }

// callTable holds the calls of one server, and what the limits need.
type callTable struct {
	s      *Server
	mu     sync.Mutex
	byID   map[string]*call
	byPeer map[callPeer]map[*call]struct{}
	// ringing holds the calls that ring, by userKey of the callee, so that
	// a connection binding to the callee can be rung.
	ringing map[uKey]map[*call]struct{}
	active  map[uKey]int         // calls not over each user takes part in
	placed  map[uKey][]time.Time // calls each user placed within the last minute
	// peerInst is the instance each connection is bound to for calls.
	peerInst map[callPeer]string
	route    callRouter
	seq      uint64
	// remote holds the calls of other replicas that ring or take place on
	// this replica's connections, by call id (calls_shared.go).
	remote map[string]remoteCall
}

func newCallTable(s *Server) *callTable {
	t := &callTable{s: s, route: localRoutes{}}
	t.resetLocked()
	return t
}

func (t *callTable) resetLocked() {
	t.byID = map[string]*call{}
	t.byPeer = map[callPeer]map[*call]struct{}{}
	t.ringing = map[uKey]map[*call]struct{}{}
	t.active = map[uKey]int{}
	t.placed = map[uKey][]time.Time{}
	t.peerInst = map[callPeer]string{}
	t.remote = map[string]remoteCall{}
}

// reset forgets the limits' history (calls end with their connections).
func (t *callTable) reset() {
	t.mu.Lock()
	t.placed = map[uKey][]time.Time{}
	t.mu.Unlock()
}

func addTo[K comparable](m map[K]map[*call]struct{}, k K, c *call) {
	set := m[k]
	if set == nil {
		set = map[*call]struct{}{}
		m[k] = set
	}
	set[c] = struct{}{}
}

func removeFrom[K comparable](m map[K]map[*call]struct{}, k K, c *call) {
	if set := m[k]; set != nil {
		delete(set, c)
		if len(set) == 0 {
			delete(m, k)
		}
	}
}

// checkHeaders applies the headers limit; "" when they are within it.
func checkHeaders(h map[string]string) string {
	total := 0
	for k, v := range h {
		if k == "" || len(k) > maxHeaderNameLen {
			return "a header name must be 1 to " + strconv.Itoa(maxHeaderNameLen) + " bytes"
		}
		total += len(k) + len(v)
	}
	if total > maxHeadersBytes {
		return "headers hold " + strconv.Itoa(total) + " bytes of names and values; at most " + strconv.Itoa(maxHeadersBytes) + " are allowed"
	}
	return ""
}

// instancesOf returns the instances of a user, from a store that can list
// them on their own (userInstanceLister) or else from all instances.
func (s *Server) instancesOf(app, user string) ([]Instance, error) {
	if l, ok := s.store.(userInstanceLister); ok {
		return l.UserInstances(app, user)
	}
	all, err := s.store.Instances()
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(i Instance) bool { return i.Application != app || i.User != user }), nil
}

// userInstanceLister is a Store that lists one user's instances without
// listing every instance. The built-in stores and the Redis store are; a
// Store that is not still works, more slowly.
type userInstanceLister interface {
	// UserInstances returns the instances of user of application app,
	// sorted by creation time then id.
	UserInstances(app, user string) ([]Instance, error)
}

// callUser applies the gate and the limits, then places the call. It
// answers (callProgressing, then callEnded or the ringing) and records
// its events itself, in order; it returns a nil reply then. The gate is
// checked under the table's lock, so that an expiry or revocation that
// unbinds the connection comes either before it or after the call exists
// (and then ends it).
func (ss *session) callUser(m *transport.CallUser) (transport.Message, Event) {
	s := ss.s
	t := s.calls
	t.mu.Lock()
	defer t.mu.Unlock()
	id, app, user, device := ss.bound()
	ev := Event{Application: app, User: user, Device: device, Instance: id}
	if id == "" {
		if lost := ss.lostToExpiry(); lost != "" {
			ev.Instance = lost
			return rejection(m.ID, transport.CodeInstanceExpired, "this connection's instance expired; it can no longer call: register anew", ev)
		}
		return rejection(m.ID, transport.CodeNotAuthenticated, "authenticate or create an instance on this connection first", ev)
	}
	inst, err := s.store.Instance(id)
	if errors.Is(err, ErrNotFound) {
		return rejection(m.ID, transport.CodeInstanceNotFound, "the instance no longer exists; register anew", ev)
	}
	if err != nil {
		return storeFailure(m.ID, err, ev, s.log.Error)
	}
	if inst.ExpiredAt(s.clock.Now()) {
		return rejection(m.ID, transport.CodeInstanceExpired, "the instance expired at "+inst.ExpireAt.UTC().Format(time.RFC3339)+"; it can no longer call: register anew", ev)
	}
	if err := credentials.ValidateUserID(m.CalleeUserID); err != nil {
		return rejection(m.ID, transport.CodeUserIDInvalid, "calleeUserId: "+credentials.ReasonOf(err), ev)
	}
	if reason := checkHeaders(m.Headers); reason != "" {
		return rejection(m.ID, transport.CodeProtocolError, reason, ev)
	}
	insts, err := s.instancesOf(app, m.CalleeUserID)
	if err != nil {
		return storeFailure(m.ID, err, ev, s.log.Error)
	}
	return t.placeLocked(ss, id, m, insts, ev)
}

// placeLocked checks the limits, answers callProgressing and rings the
// callee's live instances (connections: incomingCall; offline ones with a
// push token: a push), or ends the call at once with callee_unavailable.
func (t *callTable) placeLocked(from callPeer, fromInst string, m *transport.CallUser, insts []Instance, ev Event) (transport.Message, Event) {
	s := t.s
	p := s.policy
	now := s.clock.Now()
	callerKey, calleeKey := userKey(ev.Application, ev.User), userKey(ev.Application, m.CalleeUserID)
	if reply, ev, refused := t.overLimitLocked(callerKey, m.ID, now, ev); refused {
		return reply, ev
	}
	if p.MaxCallsPerMinute > 0 {
		t.placed[callerKey] = append(t.placed[callerKey], now)
	}
	t.seq++
	c := &call{seq: t.seq, id: transport.NewID("call"), app: ev.Application, caller: ev.User, callee: m.CalleeUserID,
		headers: m.Headers, from: from, fromInst: fromInst, state: callRinging}
	ev.Kind, ev.Call = transport.TypeCallUser, c.id
	s.record(ev)

	// An expired instance never rings; a callee in too many calls is
	// unavailable too.
	busy := calleeKey != callerKey && p.MaxConcurrentCalls > 0 && t.active[calleeKey] >= p.MaxConcurrentCalls
	var pushes []Instance
	if !busy {
		live := slices.DeleteFunc(slices.Clone(insts), func(i Instance) bool { return i.ExpiredAt(now) })
		ids := make([]string, len(live))
		for k, inst := range live {
			ids[k] = inst.ID
		}
		for k, peer := range t.route.peers(ids) {
			switch {
			case peer != nil && peer != from:
				c.rung = append(c.rung, peer)
			case peer == nil && live[k].PushToken != "":
				pushes = append(pushes, live[k])
			}
		}
	}
	progressing := &transport.CallProgressing{ID: m.ID, CallID: c.id}
	if len(c.rung) == 0 && len(pushes) == 0 {
		c.state = callOver
		t.endEvent(c, transport.EndCalleeUnavailable)
		from.send(progressing)
		from.send(&transport.CallEnded{CallID: c.id, Reason: transport.EndCalleeUnavailable})
		return nil, ev
	}
	t.byID[c.id] = c
	addTo(t.byPeer, from, c)
	addTo(t.ringing, calleeKey, c)
	t.active[callerKey]++
	if calleeKey != callerKey {
		t.active[calleeKey]++
	}
	id := c.id
	c.timer = vclock.AfterFunc(s.clock, p.CallAnswerTimeout, func() { t.noAnswer(id) })
	for _, peer := range c.rung {
		addTo(t.byPeer, peer, c)
		peer.send(c.incoming())
	}
	for _, inst := range pushes {
		s.pushes.deliver(Push{CallID: c.id, Application: c.app, User: c.callee, Instance: inst.ID, Device: inst.Device,
			PushToken: inst.PushToken, PushType: inst.PushType, CallerUserID: c.caller, Headers: c.headers})
	}
	if len(pushes) > 0 {
		t.announceLocked(c)
	}
	// The answer comes last: once the caller has it, the call rings, its
	// pushes are recorded and its timeout is armed.
	from.send(progressing)
	return nil, ev
}

// overLimitLocked refuses a call the caller may not place now: over the
// calls per minute (call_rate_exceeded, with when to retry) or in too
// many calls at once (concurrent_calls_exceeded). It forgets the caller's
// placements older than a minute. refused is false when the call may go
// ahead.
func (t *callTable) overLimitLocked(callerKey uKey, reqID string, now time.Time, ev Event) (_ transport.Message, _ Event, refused bool) {
	p := t.s.policy
	if p.MaxCallsPerMinute > 0 {
		times := t.placed[callerKey]
		cut := 0
		for cut < len(times) && !times[cut].After(now.Add(-time.Minute)) {
			cut++
		}
		times = times[cut:]
		t.placed[callerKey] = times
		if len(times) >= p.MaxCallsPerMinute {
			e := transport.NewError(transport.CodeCallRateExceeded, "this user placed "+strconv.Itoa(len(times))+" calls within the last minute (limit "+strconv.Itoa(p.MaxCallsPerMinute)+")")
			e.RetryAfterMs = max(times[0].Add(time.Minute).Sub(now).Milliseconds(), 1)
			ev.Code, ev.Reason = e.Code, e.Message
			return errorReply(reqID, e), ev, true
		}
	}
	if lim := p.MaxConcurrentCalls; lim > 0 && t.active[callerKey] >= lim {
		reply, ev := rejection(reqID, transport.CodeConcurrentCallsExceeded, "this user takes part in "+strconv.Itoa(t.active[callerKey])+" calls already (limit "+strconv.Itoa(lim)+")", ev)
		return reply, ev, true
	}
	return nil, ev, false
}

func (c *call) incoming() *transport.IncomingCall {
	return &transport.IncomingCall{CallID: c.id, CallerUserID: c.caller, Headers: c.headers}
}

// noAnswer runs on the backend's clock when a call has rung for
// Policy.CallAnswerTimeout.
func (t *callTable) noAnswer(id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c := t.byID[id]; c != nil && c.state == callRinging {
		t.finishLocked(c, transport.EndNoAnswer, nil, "")
	}
}

// finishLocked ends c: each connection still taking part gets callEnded
// with reason (by, the one that asked, with its request id).
func (t *callTable) finishLocked(c *call, reason string, by callPeer, reqID string) {
	if c.state == callOver {
		return
	}
	wasRinging := c.state == callRinging
	c.state = callOver
	t.stoppedRingingLocked(c)
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	delete(t.byID, c.id)
	callerKey, calleeKey := userKey(c.app, c.caller), userKey(c.app, c.callee)
	if wasRinging {
		removeFrom(t.ringing, calleeKey, c)
	}
	for _, k := range []uKey{callerKey, calleeKey} {
		if t.active[k]--; t.active[k] <= 0 {
			delete(t.active, k)
		}
		if callerKey == calleeKey {
			break
		}
	}
	t.endEvent(c, reason)
	for _, p := range append([]callPeer{c.from}, c.rung...) {
		removeFrom(t.byPeer, p, c)
		msg := &transport.CallEnded{CallID: c.id, Reason: reason}
		if p == by {
			msg.ID = reqID
		}
		p.send(msg)
	}
}

func (t *callTable) endEvent(c *call, reason string) {
	t.s.record(Event{Kind: KindCallEnd, Code: reason, Application: c.app, User: c.caller, Instance: c.fromInst, Call: c.id,
		Reason: "call from " + c.caller + " to " + c.callee + " ended: " + reason})
}

// act handles answerCall, declineCall and hangupCall: it answers, tells
// the other party and records the event itself (nil reply), or returns a
// refusal.
func (ss *session) act(kind, reqID, callID string) (transport.Message, Event) {
	id, app, user, device := ss.bound()
	ev := Event{Application: app, User: user, Device: device, Instance: id, Call: callID}
	if id == "" {
		return rejection(reqID, transport.CodeNotAuthenticated, "authenticate or create an instance on this connection first", ev)
	}
	t := ss.s.calls
	if ss.s.shared != nil && t.forward(ss, kind, reqID, callID) {
		return nil, ev // the call's home answers
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.actLocked(ss, kind, reqID, callID, ev)
}

// actLocked is act for connection p, this replica's or another's: it
// answers p and records the event, or returns a refusal.
func (t *callTable) actLocked(p callPeer, kind, reqID, callID string, ev Event) (transport.Message, Event) {
	c := t.byID[callID]
	notFound := func(why string) (transport.Message, Event) {
		return rejection(reqID, transport.CodeCallNotFound, "call "+strconv.Quote(callID)+" "+why, ev)
	}
	if c == nil {
		return notFound("is not known, or is over")
	}
	ev.Kind = kind
	switch kind {
	case transport.TypeAnswerCall:
		if c.state != callRinging || !c.rang(p) {
			return notFound("does not ring on this connection")
		}
		t.s.record(ev)
		t.establishLocked(c, p, reqID)
	case transport.TypeDeclineCall:
		if c.state != callRinging || !c.rang(p) {
			return notFound("does not ring on this connection")
		}
		t.s.record(ev)
		t.finishLocked(c, transport.EndDeclined, p, reqID)
	default: // hangupCall
		var reason string
		switch {
		case c.from == p && c.state == callRinging:
			reason = transport.EndCanceled
		case c.state == callEstablished && (c.from == p || c.answered == p):
			reason = transport.EndHungUp
		case c.state == callRinging && c.rang(p):
			reason = transport.EndDeclined
		default:
			return notFound("does not take place on this connection")
		}
		t.s.record(ev)
		t.finishLocked(c, reason, p, reqID)
	}
	return nil, ev
}

// establishLocked: p answered c. The callee's other connections that rang
// stop ringing (callEnded canceled).
func (t *callTable) establishLocked(c *call, p callPeer, reqID string) {
	c.state = callEstablished
	c.answered = p
	t.stoppedRingingLocked(c)
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	removeFrom(t.ringing, userKey(c.app, c.callee), c)
	for _, other := range c.rung {
		if other != p {
			removeFrom(t.byPeer, other, c)
			other.send(&transport.CallEnded{CallID: c.id, Reason: transport.EndCanceled})
		}
	}
	c.rung = []callPeer{p}
	p.send(&transport.CallEstablished{ID: reqID, CallID: c.id})
	c.from.send(&transport.CallEstablished{CallID: c.id})
}

// bound sends ss the answer that bound it (instanceCreated or
// authenticated), makes it reachable for calls, and rings it for the calls
// to its user that ring: this replica's under the table's lock (see
// boundLocal), so that a call placed meanwhile rings ss once, after that
// answer; with a shared store, then those placed on other replicas
// (boundRemote, which reads the store outside the lock).
func (t *callTable) bound(ss *session, reply transport.Message) {
	inst, app, user, ok := t.boundLocal(ss, reply)
	if ok && t.s.shared != nil {
		t.boundRemote(ss, inst, app, user)
	}
}

// boundLocal is bound's part under the table's lock: the answer, and the
// calls of this replica. ok is false when ss was unbound meanwhile.
func (t *callTable) boundLocal(ss *session, reply transport.Message) (inst, app, user string, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ss.send(reply)
	inst, app, user, _ = ss.bound()
	if inst == "" {
		return "", "", "", false // unbound meanwhile (taken over, revoked, expired)
	}
	var p callPeer = ss
	t.peerInst[p] = inst
	t.route.bound(inst, p)
	var calls []*call
	for c := range t.ringing[userKey(app, user)] {
		if c.from != p && !c.rang(p) {
			calls = append(calls, c)
		}
	}
	// Oldest first: the set has no order.
	slices.SortFunc(calls, func(a, b *call) int { return cmp.Compare(a.seq, b.seq) })
	for _, c := range calls {
		c.rung = append(c.rung, p)
		addTo(t.byPeer, p, c)
		p.send(c.incoming())
	}
	return inst, app, user, true
}

// left takes p out of every call it takes part in: its connection closed,
// or it was unbound (expired: its instance's TTL ran out). The caller
// leaving, or the callee connection that answered, ends the call; a callee
// connection that only rang stops ringing, and the call rings on.
func (t *callTable) left(p callPeer, expired bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if inst, ok := t.peerInst[p]; ok {
		t.route.left(inst, p)
		delete(t.peerInst, p)
	}
	if ss, ok := p.(*session); ok && t.s.shared != nil {
		t.leftRemoteLocked(ss, expired)
	}
	calls := make([]*call, 0, len(t.byPeer[p]))
	for c := range t.byPeer[p] {
		calls = append(calls, c)
	}
	slices.SortFunc(calls, func(a, b *call) int { return cmp.Compare(a.seq, b.seq) })
	for _, c := range calls {
		reason := transport.EndHungUp
		switch {
		case expired:
			reason = transport.EndInstanceExpired
		case c.state == callRinging:
			reason = transport.EndCanceled
		}
		if c.from == p || c.answered == p {
			t.finishLocked(c, reason, nil, "")
			continue
		}
		// A callee connection that only rang.
		removeFrom(t.byPeer, p, c)
		c.rung = slices.DeleteFunc(c.rung, func(q callPeer) bool { return q == p })
		p.send(&transport.CallEnded{CallID: c.id, Reason: reason})
	}
}

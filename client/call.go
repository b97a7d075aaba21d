package client

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"strconv"
	"sync"

	"github.com/sinchsim/sinchsim/codes"
	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/registration"
	"github.com/sinchsim/sinchsim/transport"
)

// CallClient places and receives calls for a SinchClient, as Sinch's
// CallClient (Android) and SINCallClient (iOS) do. Calls are signalling
// only: who calls whom, ringing, answer and end; there is no media.
//
// A client can call once it is started (OnClientStarted), and only while
// its instance lives: a call attempt that finds the instance expired stops
// the client (rule 15 in docs/RULES.md). Incoming calls arrive through a
// Listener that implements CallClientListener; the progress of every call
// through one that implements CallListener.
type CallClient struct {
	c *SinchClient
}

// CallClient returns the client's CallClient.
func (c *SinchClient) CallClient() *CallClient { return &CallClient{c: c} }

// CallClientListener is implemented by a Listener that takes incoming
// calls (Sinch's CallClientListener.onIncomingCall). The call rings
// (CallRinging) until it is answered, declined, canceled by the caller, or
// the backend's answer timeout ends it.
type CallClientListener interface {
	OnIncomingCall(cc *CallClient, call *Call)
}

// CallListener is implemented by a Listener that follows calls (Sinch's
// CallListener): OnCallProgressing for an outgoing call the backend has
// placed, OnCallEstablished when a call is answered, OnCallEnded when it
// ends (EndCause says why). Each call gets each callback at most once, in
// that order, on the listener's goroutine.
type CallListener interface {
	OnCallProgressing(call *Call)
	OnCallEstablished(call *Call)
	OnCallEnded(call *Call)
}

// CallState is a call's state (Sinch's CallState / SINCallState). An
// outgoing call goes initiating -> progressing -> established -> ended; an
// incoming one ringing -> established -> ended; either may end at any
// point.
type CallState string

// Call states.
const (
	// CallInitiating: callUser is on its way; the backend has not answered.
	CallInitiating CallState = "initiating"
	// CallProgressing: the backend placed the outgoing call.
	CallProgressing CallState = "progressing"
	// CallRinging: an incoming call rings on this client.
	CallRinging CallState = "ringing"
	// CallEstablished: the call was answered.
	CallEstablished CallState = "established"
	// CallEnded: the call is over; EndCause says why.
	CallEnded CallState = "ended"
)

// EndCause says why a call ended (Sinch's CallEndCause). Apart from
// EndCauseFailure, the causes are the reasons of the backend's callEnded,
// listed in docs/PROTOCOL.md.
type EndCause string

// End causes.
const (
	EndCauseNone              EndCause = ""                   // the call has not ended
	EndCauseDeclined          EndCause = "declined"           // the callee declined
	EndCauseHungUp            EndCause = "hung_up"            // a party hung up the established call
	EndCauseNoAnswer          EndCause = "no_answer"          // nobody answered within the backend's timeout
	EndCauseCanceled          EndCause = "canceled"           // the caller hung up before an answer (or another device of the callee answered)
	EndCauseCalleeUnavailable EndCause = "callee_unavailable" // no live instance of the callee could ring
	EndCauseInstanceExpired   EndCause = "instance_expired"   // a party's instance expired during the call
	// EndCauseFailure: the client lost its connection, stopped or
	// terminated during the call (the backend ends it for the other party).
	EndCauseFailure EndCause = "failure"
)

// CallDirection says who placed a call.
type CallDirection string

// Call directions.
const (
	CallOutgoing CallDirection = "outgoing"
	CallIncoming CallDirection = "incoming"
)

// Call is one call (Sinch's Call / SINCall). Its methods are safe for
// concurrent use and may be called from listener callbacks.
type Call struct {
	c         *SinchClient
	direction CallDirection
	remote    string
	headers   map[string]string

	mu    sync.Mutex // guards the fields below, which the loop changes
	id    string
	state CallState
	cause EndCause
	done  chan struct{} // closed when the call ends

	// Owned by the loop.
	seq       uint64        // the order in which the loop learned of the call
	placed    chan struct{} // outgoing: closed once the backend has answered callUser
	placeErr  error         // outgoing: why callUser failed (set before placed closes)
	abandoned bool          // outgoing: CallUser gave up waiting; hang up once placed
	acting    bool          // incoming: answerCall or declineCall is on its way
}

// CallID returns the backend's id of the call ("" while initiating).
func (call *Call) CallID() string {
	call.mu.Lock()
	defer call.mu.Unlock()
	return call.id
}

// RemoteUserID returns the other party's user id.
func (call *Call) RemoteUserID() string { return call.remote }

// Direction says whether the call is outgoing or incoming.
func (call *Call) Direction() CallDirection { return call.direction }

// Headers returns a copy of the call's headers (the caller's).
func (call *Call) Headers() map[string]string { return cloneHeaders(call.headers) }

// State returns the call's state.
func (call *Call) State() CallState {
	call.mu.Lock()
	defer call.mu.Unlock()
	return call.state
}

// EndCause returns why the call ended (EndCauseNone before it has).
func (call *Call) EndCause() EndCause {
	call.mu.Lock()
	defer call.mu.Unlock()
	return call.cause
}

// Done is closed when the call has ended.
func (call *Call) Done() <-chan struct{} { return call.done }

// Answer answers an incoming call that rings. The call becomes established
// when the backend confirms (OnCallEstablished). It returns
// ErrInvalidCallState for any other call.
func (call *Call) Answer() error {
	return call.c.call(func() error { return call.c.l.actOnCall(call, transport.TypeAnswerCall) })
}

// Decline declines an incoming call that rings; it ends with
// EndCauseDeclined. It returns ErrInvalidCallState for any other call.
func (call *Call) Decline() error {
	return call.c.call(func() error { return call.c.l.actOnCall(call, transport.TypeDeclineCall) })
}

// Hangup ends the call: an outgoing call that rings is canceled, an
// established one hung up, an incoming one that rings declined. On a call
// that has ended it does nothing.
func (call *Call) Hangup() error {
	return call.c.call(func() error { return call.c.l.actOnCall(call, transport.TypeHangupCall) })
}

// set changes the call's state (and id, cause) under its lock; the loop
// calls it. Done is closed once the command has run (loop.wake).
func (call *Call) set(st CallState, id string, cause EndCause) {
	call.mu.Lock()
	if id != "" {
		call.id = id
	}
	call.state = st
	if st == CallEnded {
		call.cause = cause
		call.c.l.wake(func() { close(call.done) })
	}
	call.mu.Unlock()
}

func cloneHeaders(h map[string]string) map[string]string {
	if h == nil {
		return nil
	}
	out := make(map[string]string, len(h))
	for k, v := range h {
		out[k] = v
	}
	return out
}

// Limits of call headers, as the backend checks them (docs/PROTOCOL.md).
const (
	maxHeaders       = 16
	maxHeaderNameLen = 64
	maxHeadersBytes  = 1024
)

func checkHeaders(h map[string]string) error {
	if len(h) > maxHeaders {
		return &Error{Code: codes.InvalidArgument, Domain: DomainGeneric, Message: "at most " + strconv.Itoa(maxHeaders) + " headers"}
	}
	total := 0
	for k, v := range h {
		if k == "" || len(k) > maxHeaderNameLen {
			return &Error{Code: codes.InvalidArgument, Domain: DomainGeneric, Message: "a header name must be 1 to " + strconv.Itoa(maxHeaderNameLen) + " bytes"}
		}
		total += len(k) + len(v)
	}
	if total > maxHeadersBytes {
		return &Error{Code: codes.InvalidArgument, Domain: DomainGeneric, Message: "headers hold more than " + strconv.Itoa(maxHeadersBytes) + " bytes of names and values"}
	}
	return nil
}

// CallUser calls userID, a user of the same application, with optional
// headers (at most 16; names of 1 to 64 bytes; 1024 bytes of names and
// values in all). It returns once the backend has placed the call
// (CallProgressing; the call then rings on the callee's devices, or ends
// at once with EndCauseCalleeUnavailable) or refused it, or ctx ends (a
// call placed after that is hung up).
//
// Errors: ErrNotStarted (the client is not started), ErrTerminated, an
// invalid user id (user_id_invalid) or headers (invalid_argument), and the
// backend's refusals: call_rate_exceeded and concurrent_calls_exceeded
// (retryable), and instance_expired, after which the client has stopped
// (OnClientFailed with instance_expired; the next Start registers anew:
// rule 15 in docs/RULES.md).
func (cc *CallClient) CallUser(ctx context.Context, userID string, headers map[string]string) (*Call, error) {
	c := cc.c
	if err := credentials.ValidateUserID(userID); err != nil {
		return nil, &Error{Code: credentials.CodeUserIDInvalid, Domain: DomainGeneric, Message: credentials.ReasonOf(err)}
	}
	if err := checkHeaders(headers); err != nil {
		return nil, err
	}
	c.mu.Lock()
	terminated, loopOn := c.terminated, c.loopOn
	c.mu.Unlock()
	switch {
	case terminated:
		return nil, ErrTerminated
	case !loopOn:
		return nil, ErrNotStarted
	}
	call := &Call{c: c, direction: CallOutgoing, remote: userID, headers: cloneHeaders(headers), state: CallInitiating,
		done: make(chan struct{}), placed: make(chan struct{})}
	if err := c.call(func() error { return c.l.placeCall(call) }); err != nil {
		return nil, err
	}
	select {
	case <-call.placed:
	case <-ctx.Done():
		select {
		case <-call.placed:
		default:
			c.post(func() { c.l.abandonCall(call) })
			return nil, ctx.Err()
		}
	}
	if call.placeErr != nil {
		return nil, call.placeErr
	}
	return call, nil
}

// The loop's side of calls. Every method runs on the loop.

// placeCall sends callUser for call.
func (l *loop) placeCall(call *Call) error {
	if st := l.state(); l.conn == nil || (st != registration.StateStarted && st != registration.StateRenewing) {
		return ErrNotStarted
	}
	l.callSeq++
	call.seq = l.callSeq
	l.sendFor(forCall, call, func(id string) transport.Message {
		return &transport.CallUser{ID: id, CalleeUserID: call.remote, Headers: call.headers}
	})
	if !l.pendingCall(call) {
		// Not sent: the connection is going; its reader reports it.
		return &Error{Code: CodeConnectionFailed, Domain: DomainNetwork, Message: "the connection is closing", Retryable: true}
	}
	return nil
}

// pendingCall reports whether a request for call awaits its answer.
func (l *loop) pendingCall(call *Call) bool {
	for _, r := range l.pending {
		if r.call == call {
			return true
		}
	}
	return false
}

// abandonCall: CallUser stopped waiting for call and returned an error, so
// nobody holds the call: it gets no more callbacks. One still initiating
// is hung up once placed; one placed meanwhile, now.
func (l *loop) abandonCall(call *Call) {
	st := call.State()
	call.abandoned = true // no more callbacks: nobody holds the call
	if st != CallInitiating && st != CallEnded {
		_ = l.actOnCall(call, transport.TypeHangupCall)
	}
}

// actOnCall sends answerCall, declineCall or hangupCall.
func (l *loop) actOnCall(call *Call, typ string) error {
	st := call.State()
	if st == CallEnded {
		if typ == transport.TypeHangupCall {
			return nil
		}
		return ErrInvalidCallState
	}
	if typ != transport.TypeHangupCall && (call.direction != CallIncoming || st != CallRinging || call.acting) {
		return ErrInvalidCallState
	}
	if st == CallInitiating {
		call.abandoned = true // hung up once the backend has placed it
		return nil
	}
	if l.conn == nil || l.calls[call.CallID()] != call {
		return ErrInvalidCallState
	}
	if typ != transport.TypeHangupCall {
		call.acting = true
	}
	id := call.CallID()
	l.sendFor(forCallAct, call, func(rid string) transport.Message {
		switch typ {
		case transport.TypeAnswerCall:
			return &transport.AnswerCall{ID: rid, CallID: id}
		case transport.TypeDeclineCall:
			return &transport.DeclineCall{ID: rid, CallID: id}
		}
		return &transport.HangupCall{ID: rid, CallID: id}
	})
	return nil
}

// callListener returns the listener's CallListener, if it has one.
func (l *loop) callListener() (CallListener, bool) {
	cl, ok := l.c.o.listener.(CallListener)
	return cl, ok
}

// onCallProgressing: the backend placed call.
func (l *loop) onCallProgressing(call *Call, callID string) {
	call.set(CallProgressing, callID, EndCauseNone)
	l.calls[callID] = call
	l.wake(func() { close(call.placed) })
	if call.abandoned {
		_ = l.actOnCall(call, transport.TypeHangupCall)
		return
	}
	if cl, ok := l.callListener(); ok {
		l.c.dispatch(func() { cl.OnCallProgressing(call) })
	}
}

// onIncomingCall: a call rings on this client.
func (l *loop) onIncomingCall(m *transport.IncomingCall) {
	if _, dup := l.calls[m.CallID]; dup {
		return
	}
	l.callSeq++
	call := &Call{c: l.c, direction: CallIncoming, remote: m.CallerUserID, headers: m.Headers, id: m.CallID, state: CallRinging,
		done: make(chan struct{}), seq: l.callSeq}
	l.calls[m.CallID] = call
	c := l.c
	if cl, ok := c.o.listener.(CallClientListener); ok {
		cc := &CallClient{c: c}
		c.dispatch(func() { cl.OnIncomingCall(cc, call) })
	}
}

// onCallEstablished: the call was answered.
func (l *loop) onCallEstablished(m *transport.CallEstablished) {
	if m.ID != "" {
		l.answered(m.ID)
	}
	call := l.calls[m.CallID]
	if call == nil || call.State() == CallEstablished {
		return
	}
	call.set(CallEstablished, "", EndCauseNone)
	if cl, ok := l.callListener(); ok && !call.abandoned {
		l.c.dispatch(func() { cl.OnCallEstablished(call) })
	}
}

// onCallEnded: the backend ended the call.
func (l *loop) onCallEnded(m *transport.CallEnded) {
	if m.ID != "" {
		l.answered(m.ID)
	}
	if call := l.calls[m.CallID]; call != nil {
		l.endCall(call, EndCause(m.Reason))
	}
}

// endCall ends call locally and tells the listener.
func (l *loop) endCall(call *Call, cause EndCause) {
	delete(l.calls, call.CallID())
	if call.State() == CallEnded {
		return
	}
	call.set(CallEnded, "", cause)
	if cl, ok := l.callListener(); ok && !call.abandoned {
		l.c.dispatch(func() { cl.OnCallEnded(call) })
	}
}

// endCalls ends every call with EndCauseFailure: the connection is gone,
// or the instance.
func (l *loop) endCalls() {
	if len(l.calls) == 0 {
		return
	}
	calls := make([]*Call, 0, len(l.calls))
	for _, call := range l.calls {
		calls = append(calls, call)
	}
	slices.SortFunc(calls, func(a, b *Call) int { return cmp.Compare(a.seq, b.seq) })
	for _, call := range calls {
		l.endCall(call, EndCauseFailure)
	}
}

// callRefused wakes CallUser with the reason its call was not placed.
func (l *loop) callRefused(call *Call, err error) {
	if call.State() != CallInitiating {
		return
	}
	call.placeErr = err
	call.set(CallEnded, "", EndCauseFailure)
	l.wake(func() { close(call.placed) })
}

// onCallError handles the backend's refusal of a call request.
func (l *loop) onCallError(r pendingReq, e *Error) {
	l.countRejection(e.Code)
	if r.p == forCallAct {
		l.c.logf(slog.LevelWarn, "the backend refused a request for call %s: %v", r.call.CallID(), e)
		if e.Code == transport.CodeCallNotFound {
			// The backend knows no such call for this connection: it is
			// over (its callEnded, if any, came first).
			l.endCall(r.call, EndCauseFailure)
		}
		r.call.acting = false
		return
	}
	l.callRefused(r.call, e)
	if e.Code == transport.CodeInstanceExpired {
		// Rule 15: an expiry found on a call attempt stops the client;
		// the next Start registers anew.
		l.count(func(s *Stats) { s.Expiries++ })
		l.failForgetting(&Error{Code: transport.CodeInstanceExpired, Domain: DomainAPI,
			Message: "the instance expired, so it can no longer make calls; Start registers anew"})
	}
}

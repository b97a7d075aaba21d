package client

// The loop's connection: dialing in the background, the reader, sending
// requests and matching answers, what arrives, and a lost connection.

import (
	"context"
	"errors"
	"log/slog"
	"strconv"

	"github.com/sinchsim/sinchsim/internal/gopool"
	"github.com/sinchsim/sinchsim/registration"
	"github.com/sinchsim/sinchsim/transport"
)

// connect dials in a goroutine; the result comes back through the queue.
func (l *loop) connect() {
	tk := l.issue(slotConn)
	c := l.c
	dial := c.o.dial
	dial.World = c.world
	dial.InMemory = dial.InMemory || c.o.inMemory
	url := c.URL()
	l.background(false, func(ctx context.Context) {
		conn, w, err := transport.Dial(ctx, url, dial)
		if !c.postHere(func() { l.onDialed(tk, conn, w, err) }) && conn != nil {
			conn.Discard()
		}
	})
}

// background runs f on a goroutine of its own (from the pool, whose
// stacks have grown already) with the loop's context, counted
// for TerminateGracefully (which waits for it), Idle and the world (outside:
// it waits on something outside the world).
func (l *loop) background(outside bool, f func(ctx context.Context)) {
	c := l.c
	c.wg.Add(1)
	if outside {
		c.beginOutside(1)
	} else {
		c.begin(1)
	}
	ctx := l.ctx
	gopool.Go(func() {
		defer c.wg.Done()
		if outside {
			defer c.endOutside(1)
		} else {
			defer c.end(1)
		}
		f(ctx)
	})
}

func (l *loop) onDialed(tk ticket, conn *transport.Conn, w *transport.Welcome, err error) {
	if !l.valid(tk) || l.state() != registration.StateConnecting {
		if conn != nil {
			conn.Discard()
		}
		return
	}
	if err != nil {
		l.c.logf(slog.LevelWarn, "connecting to %s failed: %v", l.c.URL(), err)
		l.connectionLost(&Error{Code: CodeConnectionFailed, Domain: DomainNetwork, Message: "could not connect", Retryable: true, Err: err})
		return
	}
	l.conn = conn
	l.clearPending()
	l.startReader(tk, conn)
	l.c.logf(slog.LevelDebug, "connected to %s", l.c.URL())
	switch {
	case l.dev.HasInstance():
		l.fire(registration.EventAuthenticate)
		proof, perr := transport.Proof(l.dev.InstanceSecret, w.Challenge, l.dev.InstanceID, l.dev.DeviceID)
		if perr != nil {
			l.registerAnew(false, "the stored instance credentials are unusable")
			return
		}
		l.send(forAuthenticate, func(id string) transport.Message {
			return &transport.Authenticate{ID: id, ApplicationKey: l.c.appKey, UserID: l.c.userID,
				InstanceID: l.dev.InstanceID, DeviceID: l.dev.DeviceID, Proof: proof}
		})
	case l.pendingJWT != "":
		l.fire(registration.EventRequireCredentials)
		jwt := l.pendingJWT
		l.pendingJWT = ""
		l.presentToken(jwt)
	default:
		l.requireCredentials(forRegister)
	}
}

// startReader reads conn until it ends, handing each message to the loop.
// Each message is handed over (counted as the loop's work) before it is
// released as handled on the connection, so that a virtual clock never sees
// a moment with nothing pending in between. Over an in-memory pipe the
// reading goroutine runs only while messages wait (transport.Conn.Serve).
func (l *loop) startReader(tk ticket, conn *transport.Conn) {
	c := l.c
	c.wg.Add(1)
	conn.Serve(func(m transport.Message, err error) {
		if err != nil {
			var pe *transport.ProtocolError
			if errors.As(err, &pe) {
				c.post(func() { l.c.logf(slog.LevelWarn, "backend sent a bad message: %v", pe) })
				if pe.Fatal {
					// Too big: close, and keep reading so that the
					// backend's close frame completes the handshake.
					conn.Close(transport.CloseMessageTooBig, "message too big")
				}
				conn.Handled()
				return
			}
			c.post(func() { l.onConnLost(tk, conn, err) })
			conn.Handled()
			c.wg.Done()
			return
		}
		c.post(func() { l.onMessage(tk, m) })
		conn.Handled()
	})
}

// send sends a request built by mk with a fresh id.
func (l *loop) send(p purpose, mk func(id string) transport.Message) { l.sendFor(p, nil, mk) }

// sendFor is send for a request about call.
func (l *loop) sendFor(p purpose, call *Call, mk func(id string) transport.Message) {
	l.reqSeq++
	id := strconv.FormatUint(l.reqSeq, 10)
	if err := l.conn.Send(mk(id)); err != nil {
		l.c.logf(slog.LevelWarn, "sending failed: %v", err)
		return // the reader reports the lost connection
	}
	// The answer is awaited: Idle is false until it comes. Within one
	// world the connection counts it; from a backend outside the world,
	// the wait for it is outside work.
	r := pendingReq{p: p, outside: !l.conn.InWorld(), call: call}
	l.pending[id] = r
	if r.outside {
		l.c.beginOutside(1)
	} else {
		l.c.busy.Add(1)
	}
}

// answered removes a pending request and returns what it was for.
func (l *loop) answered(id string) (purpose, bool) {
	r, ok := l.answeredReq(id)
	return r.p, ok
}

// answeredReq is answered returning the whole request.
func (l *loop) answeredReq(id string) (pendingReq, bool) {
	r, ok := l.pending[id]
	if ok {
		delete(l.pending, id)
		l.releasePending(r)
	}
	return r, ok
}

func (l *loop) releasePending(r pendingReq) {
	if r.outside {
		l.c.endOutside(1)
	} else {
		l.c.unbusy(1)
	}
}

// clearPending forgets the requests in flight (their connection is gone):
// a CallUser waiting for its answer learns that the connection was lost.
func (l *loop) clearPending() {
	l.earlyRevoke = nil
	for id, r := range l.pending {
		delete(l.pending, id)
		l.releasePending(r)
		if r.p == forCall {
			l.callRefused(r.call, &Error{Code: CodeConnectionFailed, Domain: DomainNetwork, Message: "the connection was lost before the backend answered", Retryable: true})
		}
	}
}

func (l *loop) onMessage(tk ticket, m transport.Message) {
	if !l.valid(tk) || l.conn == nil {
		return
	}
	switch m := m.(type) {
	case *transport.InstanceCreated:
		if p, ok := l.answered(m.ID); ok && p == forRegister {
			l.onRegistered(m.Instance)
		}
	case *transport.Authenticated:
		if p, ok := l.answered(m.ID); ok && p == forAuthenticate {
			l.onAuthenticated(m)
		}
	case *transport.InstanceTTLUpdated:
		if p, ok := l.answered(m.ID); ok && p == forRenew {
			l.onRenewed(m)
		}
	case *transport.PushTokenRegistered:
		if _, ok := l.answered(m.ID); ok {
			l.pushResult(nil)
		}
	case *transport.PushTokenUnregistered:
		l.answered(m.ID)
	case *transport.ErrorMessage:
		r, ok := l.answeredReq(m.ID)
		if !ok {
			l.c.logf(slog.LevelWarn, "backend error: %v", &m.Error)
			return
		}
		if r.call != nil {
			l.onCallError(r, fromWire(&m.Error))
			return
		}
		l.onError(r.p, fromWire(&m.Error))
	case *transport.InstanceRevoked:
		l.onRevoked(m)
	case *transport.CallProgressing:
		if r, ok := l.answeredReq(m.ID); ok && r.p == forCall {
			l.onCallProgressing(r.call, m.CallID)
		}
	case *transport.IncomingCall:
		l.onIncomingCall(m)
	case *transport.CallEstablished:
		l.onCallEstablished(m)
	case *transport.CallEnded:
		l.onCallEnded(m)
	default:
		l.c.logf(slog.LevelWarn, "unexpected %s message from the backend", m.MessageType())
	}
}

func (l *loop) onConnLost(tk ticket, conn *transport.Conn, err error) {
	if !l.valid(tk) {
		return
	}
	l.cancel(slotConn)
	l.conn = nil
	l.clearPending()
	l.endCalls()
	switch l.state() {
	case registration.StateFailed, registration.StateTerminated, registration.StateIdle, registration.StateReconnecting:
		return
	}
	code, reason := conn.CloseCode()
	l.c.logf(slog.LevelWarn, "connection lost (%d %s): %v", code, reason, err)
	l.connectionLost(&Error{Code: CodeConnectionFailed, Domain: DomainNetwork, Message: "connection lost", Retryable: true, Err: err})
}

// connectionLost moves to reconnecting and schedules a reconnect, or fails
// after too many attempts in a row.
func (l *loop) connectionLost(e *Error) {
	l.count(func(s *Stats) { s.ConnectionLosses++ })
	l.c.nextHost() // with several hosts, the next attempt goes to the next one
	l.cancel(slotRenew)
	l.reconnects++
	if lim := l.c.o.reconnectLimit; lim >= 0 && l.reconnects > lim {
		l.fail(&Error{Code: CodeConnectionFailed, Domain: DomainNetwork, Retryable: true,
			Message: "gave up after " + strconv.Itoa(l.reconnects-1) + " reconnect attempts", Err: e})
		return
	}
	if !l.fsm.Can(registration.EventConnectionLost) {
		return
	}
	// Arm the timer before the transition is published, so that whoever
	// sees "reconnecting" finds it armed.
	l.arm(slotReconnect, l.backoff.Delay(l.reconnects-1), func() {
		if l.state() == registration.StateReconnecting && l.fire(registration.EventReconnect) {
			l.connect()
		}
	})
	l.failing = e
	l.fire(registration.EventConnectionLost)
	l.failing = nil
}

// dropConn closes the current connection cleanly (its reader completes the
// handshake) and forgets it.
func (l *loop) dropConn() {
	if l.conn != nil {
		l.conn.Close(transport.CloseNormal, "")
		l.conn = nil
	}
	l.cancel(slotConn)
	l.clearPending()
	l.endCalls()
}

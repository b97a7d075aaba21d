package fakebackend

import (
	"cmp"
	"errors"
	"log"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sinchsim/sinchsim/internal/gopool"
	"github.com/sinchsim/sinchsim/transport"
	"github.com/sinchsim/sinchsim/vclock"
)

// Close codes the backend uses.
const (
	closeGoingAway   = websocket.CloseGoingAway
	closeMessageBig  = websocket.CloseMessageTooBig
	closeInternalErr = websocket.CloseInternalServerErr
)

// session is one client connection. Its handler goroutine is the only
// reader; transport.Conn owns the only writer.
type session struct {
	s             *Server
	id            string // unique within the server (Holder.Conn)
	conn          *transport.Conn
	remote        string
	challenge     string
	challengeTime time.Time

	mu      sync.Mutex // guards the binding below
	inst    string
	app     string
	user    string
	device  string
	expiry  vclock.Stopper
	counted bool // counted in Server.perUser
	// lost is the instance this connection was unbound from by its
	// expiry, until it binds again: a call from it is refused with
	// instance_expired rather than not_authenticated.
	lost string
}

type upgrader interface {
	UpgradeWith(w http.ResponseWriter, r *http.Request, first transport.Message, ready func(*transport.Conn)) (*transport.Conn, error)
}

func newUpgrader(cfg Config, world *vclock.Clock) upgrader {
	return transport.NewUpgrader(transport.UpgradeConfig{
		World:          world,
		Config:         cfg.Conn,
		AllowedOrigins: cfg.AllowedOrigins,
		AllowAnyOrigin: cfg.AllowAnyOrigin,
	})
}

func slogErrorLog(l *slog.Logger) *log.Logger {
	return slog.NewLogLogger(l.Handler(), slog.LevelDebug)
}

// serveWS upgrades the request and runs the session until the connection
// ends. It serves a connection's first request (firstRequest) and, on a
// connection the http.Server has, any later one. Its frame is kept small,
// the work being in helpers that return before or after the upgrade: the
// upgrade runs at the bottom of the serving goroutine's stack, where a
// deeper stack would be grown by copying on every connection.
func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	if !s.admit(w) {
		return
	}
	defer s.wg.Done()
	ss, welcome := s.newSession(r)
	// The welcome goes out with the handshake's answer, once the session
	// is in the server's tables: a client that has its welcome is counted
	// and found.
	accepted := false
	conn, err := s.upgrader.UpgradeWith(w, r, welcome, func(c *transport.Conn) { accepted = s.register(ss, c) })
	if err != nil {
		s.upgradeFailed(r, err)
		return
	}
	if !accepted {
		conn.Shutdown(closeGoingAway, "server shutting down")
		return
	}
	// The session is served by the connection's reader (Conn.Serve), so
	// that this handler returns and the request's buffers are released
	// (about 10 KiB per connection, which 10,000 bots feel).
	ss.serve()
}

// admit counts a connection about to be upgraded in s.wg and
// s.upgrading, or answers with 503 and reports false.
func (s *Server) admit(w http.ResponseWriter) bool {
	s.mu.Lock()
	if !s.started || s.closed {
		s.mu.Unlock()
		http.Error(w, "server is shutting down", http.StatusServiceUnavailable)
		return false
	}
	if len(s.sessions)+s.upgrading >= s.policy.MaxConnections {
		s.mu.Unlock()
		http.Error(w, "too many connections (limit "+strconv.Itoa(s.policy.MaxConnections)+")", http.StatusServiceUnavailable)
		return false
	}
	s.wg.Add(1) // before releasing mu: stopServing waits only after started=false
	s.upgrading++
	s.mu.Unlock()
	return true
}

// newSession returns the session of a connection being upgraded, and
// its welcome.
func (s *Server) newSession(r *http.Request) (*session, transport.Message) {
	ss := &session{
		s:             s,
		remote:        r.RemoteAddr,
		challenge:     transport.NewChallenge(),
		challengeTime: s.clock.Now(),
	}
	return ss, &transport.Welcome{Protocol: transport.Protocol, Challenge: ss.challenge, ServerTime: ss.challengeTime.UTC().Truncate(time.Second)}
}

// upgradeFailed releases the slot admit took for a connection whose
// upgrade failed (the upgrader has answered with an HTTP error).
func (s *Server) upgradeFailed(r *http.Request, err error) {
	s.mu.Lock()
	s.upgrading--
	s.mu.Unlock()
	s.log.Debug("websocket upgrade refused", "remote", r.RemoteAddr, "err", err)
}

// register puts the upgraded session in the server's tables, counted in
// s.wg until it ends, unless the server is stopping (false).
func (s *Server) register(ss *session, conn *transport.Conn) bool {
	ss.id = strconv.FormatInt(s.connSeq.Add(1), 10)
	ss.conn = conn
	s.mu.Lock()
	s.upgrading--
	if !s.started {
		s.mu.Unlock()
		return false
	}
	s.sessions[ss] = struct{}{}
	n := len(s.sessions)
	s.wg.Add(1)
	s.mu.Unlock()
	s.metrics.connected.Set(float64(n))
	return true
}

// serve answers requests as the connection's reader hands them over,
// until the connection ends; it returns at once. s.wg counts the session
// until then.
func (ss *session) serve() {
	s := ss.s
	closing := false
	ss.conn.Serve(func(m transport.Message, err error) {
		if closing && (err == nil || !errors.Is(err, transport.ErrClosed)) {
			ss.conn.Handled()
			return // draining until the peer's close frame
		}
		if err != nil {
			var pe *transport.ProtocolError
			if !errors.As(err, &pe) {
				// Connection gone: endSession releases the link.
				s.endSession(ss)
				s.wg.Done()
				return
			}
			s.record(Event{Kind: KindMessage, Code: transport.CodeProtocolError, Reason: pe.Reason})
			_ = ss.conn.Send(pe.Reply())
			if pe.Fatal {
				// Close returns at once; the reader keeps reading so that
				// the peer's close frame completes the handshake.
				ss.conn.Close(closeMessageBig, "message too big")
				closing = true
			}
			ss.conn.Handled()
			return
		}
		ss.handleApart(m)
		ss.conn.Handled()
	})
}

// handleApart handles m on another goroutine, from a pool, and waits for
// it. A socket's reader lives as long as the connection and so keeps the
// small stack of a read; the stack that handling grows (token checks,
// store calls) stays with the pool's goroutines, which are few. Idle
// connections by the ten thousand feel the difference. Over an in-memory
// pipe the reader itself runs only while there is something to read, so
// it handles m itself.
func (ss *session) handleApart(m transport.Message) {
	if ss.conn.InMemory() {
		ss.handle(m)
		return
	}
	done := make(chan struct{})
	gopool.Go(func() {
		defer close(done)
		ss.handle(m)
	})
	<-done
}

func (s *Server) endSession(ss *session) {
	ss.unbind()
	s.mu.Lock()
	delete(s.sessions, ss)
	n := len(s.sessions)
	s.mu.Unlock()
	s.metrics.connected.Set(float64(n))
	ss.conn.Close(websocket.CloseNormalClosure, "")
	ss.conn.ReadDone() // the reader has stopped, and the end is handled
	<-ss.conn.Done()
}

// close starts a clean close handshake; the session's reader completes it.
func (ss *session) close(code int, reason string) { ss.conn.Close(code, reason) }

// drop ends the connection abruptly, as a network failure would.
func (ss *session) drop() { ss.conn.Abort() }

func (ss *session) send(m transport.Message) {
	if err := ss.conn.Send(m); err != nil {
		ss.s.log.Debug("send failed", "remote", ss.remote, "err", err)
	}
}

// handle processes one client message on the reader goroutine.
func (ss *session) handle(m transport.Message) {
	s := ss.s
	req, ok := m.(transport.Request)
	if !ok {
		s.record(Event{Kind: m.MessageType(), Code: transport.CodeProtocolError, Reason: "not a client request"})
		ss.send(&transport.ErrorMessage{Error: *transport.NewError(transport.CodeProtocolError, "clients do not send "+m.MessageType()+" messages")})
		return
	}
	kind := m.MessageType()
	if s.shared != nil {
		ss.catchUp()
	}
	if ss.injectFault(kind, req.RequestID()) {
		return
	}
	var reply transport.Message
	var ev Event
	switch m := m.(type) {
	case *transport.CallUser:
		reply, ev = ss.callUser(m)
	case *transport.AnswerCall:
		reply, ev = ss.act(kind, m.ID, m.CallID)
	case *transport.DeclineCall:
		reply, ev = ss.act(kind, m.ID, m.CallID)
	case *transport.HangupCall:
		reply, ev = ss.act(kind, m.ID, m.CallID)
	case *transport.CreateInstance:
		reply, ev = ss.createInstance(m)
	case *transport.LegacyRegister:
		reply, ev = ss.legacyRegister(m)
	case *transport.Authenticate:
		reply, ev = ss.authenticate(m)
	case *transport.UpdateInstanceTTL:
		reply, ev = ss.updateInstanceTTL(m)
	case *transport.RegisterPushToken:
		reply, ev = ss.registerPush(m)
	case *transport.UnregisterPushToken:
		reply, ev = ss.unregisterPush(m)
	default:
		reply = errorReply(req.RequestID(), transport.NewError(transport.CodeProtocolError, "unsupported request "+kind))
		ev = Event{Code: transport.CodeProtocolError, Reason: "unsupported request"}
	}
	if reply == nil {
		return // a call rule has answered and recorded by itself, in order
	}
	ev.Kind = kind
	// The decision is published before the reply is queued, so that it is
	// in the event log when the peer reads the reply. Whoever acts on the
	// event at once (revoking the new instance, say) may get a notice onto
	// the connection ahead of the reply: PROTOCOL.md says so, and the
	// client keeps such a notice for the reply.
	s.record(ev)
	switch reply.(type) {
	case *transport.InstanceCreated, *transport.Authenticated:
		// Told it is bound, the connection takes calls: the calls to its
		// user that ring now ring here too, after this answer.
		s.calls.bound(ss, reply)
	default:
		ss.send(reply)
	}
}

// injectFault applies an armed fault for a request of this kind: a delay,
// then a dropped connection or an error reply. It reports whether the
// fault has answered the request (or the connection ended meanwhile).
func (ss *session) injectFault(kind, id string) bool {
	s := ss.s
	f, ok := s.faults.take(kind)
	if !ok {
		return false
	}
	if f.Delay > 0 {
		select {
		case <-time.After(f.Delay):
		case <-ss.conn.Done():
			return true
		}
	}
	if f.Drop {
		s.record(Event{Kind: kind, Code: CodeDropped, Reason: "injected fault: connection dropped"})
		ss.drop()
		return true
	}
	if f.Code != "" {
		msg := cmp.Or(f.Message, "injected fault")
		s.record(Event{Kind: kind, Code: f.Code, Reason: msg})
		ss.send(errorReply(id, transport.NewError(f.Code, msg)))
		return true
	}
	return false
}

func errorReply(id string, e *transport.Error) *transport.ErrorMessage {
	return &transport.ErrorMessage{ID: id, Error: *e}
}

// RevokeInstance deletes an instance and tells a client bound to it
// (instanceRevoked with code instance_not_found), on whichever replica
// holds it. It reports whether the instance existed. On a virtual clock it
// returns once the world has settled: a connected client in the world has
// been told and has reacted (a SinchClient has failed with
// instance_not_found and its listener has been called). On the real clock
// it returns once the notice is queued.
func (s *Server) RevokeInstance(id string) bool {
	ok, _ := s.revoke(id)
	return ok
}

// revoke is RevokeInstance with the store's error.
func (s *Server) revoke(id string) (bool, error) {
	inst, err := s.store.Instance(id)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	unlock := s.lockUser(inst.Application, inst.User)
	err = retryConflicts(func() error {
		st, err := s.store.ReadUser(inst.Application, inst.User, "", id)
		if err != nil {
			return err
		}
		if st.Instance == nil {
			return ErrNotFound
		}
		_, err = s.store.Commit(Change{Application: inst.Application, User: inst.User, Version: st.Version,
			Delete: []Ended{{Instance: id, Code: transport.CodeInstanceNotFound, Message: revokedMessage}}})
		return err
	})
	unlock()
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	s.record(Event{Kind: KindRevoke, Code: CodeOK, Reason: "revoked by an administrator", Application: inst.Application, User: inst.User, Device: inst.Device, Instance: id})
	s.notifyRevoked(id, transport.CodeInstanceNotFound, revokedMessage)
	s.settle()
	return true, nil
}

// notifyRevoked unbinds the connection bound to instance id, if any, and
// sends it instanceRevoked with code and msg.
func (s *Server) notifyRevoked(id, code, msg string) {
	if ss := s.sessionOf(id); ss != nil {
		ss.revoked(id, code, msg)
		return
	}
	if s.shared != nil {
		s.tellHolder(id, code, msg)
	}
}

// sessionOf returns this replica's connection bound to instance id, or nil.
func (s *Server) sessionOf(id string) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byInst[id]
}

// replaced unbinds ss from instance id, if it is still bound to it, and
// tells its client with code instance_replaced.
func (ss *session) replaced(id, msg string) {
	ss.revoked(id, transport.CodeInstanceReplaced, msg)
}

func (ss *session) revoked(id, code, msg string) {
	_, app, user, device := ss.bound()
	if !ss.unbindIf(id) {
		return
	}
	if code == transport.CodeInstanceReplaced {
		ss.s.record(Event{Kind: KindReplace, Code: code, Reason: msg, Application: app, User: user, Device: device, Instance: id})
	}
	ss.send(&transport.InstanceRevoked{InstanceID: id, Code: code, Message: msg})
}

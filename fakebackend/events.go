package fakebackend

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Event is one decision of the backend: a request it accepted or rejected,
// or something it did on its own (expiry, revocation), with the code and
// the one-line reason. Code is "ok" for an accepted request.
type Event struct {
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	// Kind is the request message type (createInstance, authenticate, ...)
	// or a backend action (revoke, expire, connect, disconnect).
	Kind        string `json:"kind"`
	Code        string `json:"code"`
	Reason      string `json:"reason,omitempty"`
	Application string `json:"applicationKey,omitempty"`
	User        string `json:"userId,omitempty"`
	Device      string `json:"deviceId,omitempty"`
	Instance    string `json:"instanceId,omitempty"`
}

// Event codes and kinds besides the request types and rejection codes.
const (
	// CodeOK is the Code of an accepted request.
	CodeOK = "ok"
	// CodeDropped: an injected fault dropped the connection instead of answering.
	CodeDropped = "dropped"
	// KindExpire: an instance's TTL ran out (Code instance_expired).
	KindExpire = "expire"
	// KindRevoke: an administrator revoked an instance.
	KindRevoke = "revoke"
	// KindReplace: a connection was unbound from its instance because
	// another connection took the instance over, or a new registration of
	// the same user and device replaced it (Code instance_replaced).
	KindReplace = "replace"
	// KindMessage: a frame that was not a valid request (Code protocol_error).
	KindMessage = "message"
)

// eventLog is a bounded ring of events, newest last.
type eventLog struct {
	mu    sync.Mutex
	limit int
	seq   uint64
	buf   []Event
	start int
	subs  map[chan Event]struct{}
}

func newEventLog(limit int) *eventLog {
	return &eventLog{limit: limit, subs: map[chan Event]struct{}{}}
}

func (l *eventLog) add(e Event) Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	e.Seq = l.seq
	if len(l.buf) < l.limit {
		l.buf = append(l.buf, e)
	} else {
		l.buf[l.start] = e
		l.start = (l.start + 1) % l.limit
	}
	for ch := range l.subs {
		select {
		case ch <- e:
		default: // a slow subscriber loses events rather than blocking decisions
		}
	}
	return e
}

func (l *eventLog) list() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Event, 0, len(l.buf))
	out = append(out, l.buf[l.start:]...)
	out = append(out, l.buf[:l.start]...)
	return out
}

func (l *eventLog) reset() {
	l.mu.Lock()
	l.buf, l.start = nil, 0
	l.mu.Unlock()
}

func (l *eventLog) subscribe(n int) (<-chan Event, func()) {
	ch := make(chan Event, n)
	l.mu.Lock()
	l.subs[ch] = struct{}{}
	l.mu.Unlock()
	return ch, func() {
		l.mu.Lock()
		delete(l.subs, ch)
		l.mu.Unlock()
	}
}

// Events returns the decision log, oldest first (at most Config.EventLimit).
func (s *Server) Events() []Event { return s.events.list() }

// Subscribe delivers new events on a channel buffered to n until cancel is
// called. A subscriber that falls more than n behind misses events; Events
// still has them.
func (s *Server) Subscribe(n int) (events <-chan Event, cancel func()) {
	return s.events.subscribe(n)
}

// record logs a decision in the event log, the metrics and the logger.
func (s *Server) record(e Event) {
	e.Time = s.clock.Now()
	if e.Code == "" {
		e.Code = CodeOK
	}
	s.events.add(e)
	s.metrics.decision(e.Kind, e.Code)
	level := slog.LevelInfo
	if e.Code == CodeOK {
		level = slog.LevelDebug
	}
	if !s.log.Enabled(context.Background(), level) {
		return // the arguments below would cost a dozen allocations
	}
	if e.Code == CodeOK {
		s.log.Debug("decision", "kind", e.Kind, "code", e.Code, "app", e.Application, "user", e.User, "device", e.Device, "instance", e.Instance)
	} else {
		s.log.Info("decision", "kind", e.Kind, "code", e.Code, "reason", e.Reason, "app", e.Application, "user", e.User, "device", e.Device, "instance", e.Instance)
	}
}

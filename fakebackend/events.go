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
	// Call is the call a call request or a push is about.
	Call string `json:"callId,omitempty"`
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
	// KindCallEnd: a call ended; Code is the reason (declined, hung_up,
	// no_answer, canceled, callee_unavailable or instance_expired), User
	// the caller.
	KindCallEnd = "callEnd"
	// KindPush: a push was sent for a call to an offline callee (Code ok).
	KindPush = "push"
)

// eventLog is a bounded ring of events, newest last. With a shared store
// the ring is not used: events go to the store's log, and subscribers are
// fed from it (every replica's decisions) while there are any.
type eventLog struct {
	mu    sync.Mutex
	limit int
	seq   uint64
	ring  ring[Event]
	// subs maps each subscriber to whether it is a stream (an HTTP
	// response that must end when the server stops serving).
	subs   map[chan Event]bool
	shared Shared
	log    *slog.Logger
	// tailStop ends the goroutine that feeds subscribers from the shared
	// log; tailDone is closed when it has ended.
	tailStop context.CancelFunc
	tailDone chan struct{}
	// outbox holds events for the shared log, which one goroutine appends
	// (in order) off the requests' path; outboxDone is closed when it has
	// appended the last one, after closeOutbox.
	outbox     chan Event
	outboxDone chan struct{}
	// outMu guards outClosed, so that no event is sent on a closed outbox.
	outMu     sync.RWMutex
	outClosed bool
}

// outboxSize bounds the events waiting for the shared log; past it an
// event is dropped (and logged) rather than holding up a decision.
const outboxSize = 16384

// startOutbox starts the goroutine that appends to the shared log.
func (l *eventLog) startOutbox() {
	l.outbox = make(chan Event, outboxSize)
	l.outboxDone = make(chan struct{})
	go func() {
		defer close(l.outboxDone)
		for e := range l.outbox {
			if err := l.shared.AppendEvent(e, l.limit); err != nil && l.log != nil {
				l.log.Warn("adding to the shared decision log", "err", err)
			}
		}
	}()
}

// closeOutbox appends what is left and stops the outbox's goroutine.
func (l *eventLog) closeOutbox() {
	if l.outbox == nil {
		return
	}
	l.outMu.Lock()
	if !l.outClosed {
		l.outClosed = true
		close(l.outbox)
	}
	l.outMu.Unlock()
	<-l.outboxDone
}

func newEventLog(limit int) *eventLog {
	return &eventLog{limit: limit, ring: ring[Event]{limit: limit}, subs: map[chan Event]bool{}}
}

// add appends e to the log and tells the subscribers.
//
// With a shared store the event is appended to the shared log shortly
// after, off the request's path (it gets its sequence number there).
func (l *eventLog) add(e Event) {
	if l.shared != nil {
		l.outMu.RLock()
		defer l.outMu.RUnlock()
		if l.outbox == nil || l.outClosed {
			return // the server is closing: nothing is logged any more
		}
		select {
		case l.outbox <- e:
		default:
			if l.log != nil {
				l.log.Warn("the shared decision log is behind; an event was dropped", "kind", e.Kind, "code", e.Code)
			}
		}
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	e.Seq = l.seq
	l.ring.add(e)
	l.fanoutLocked(e)
}

func (l *eventLog) fanoutLocked(e Event) {
	for ch := range l.subs {
		select {
		case ch <- e:
		default: // a slow subscriber loses events rather than blocking decisions
		}
	}
}

func (l *eventLog) list() []Event {
	if l.shared != nil {
		evs, err := l.shared.Events(0, 0)
		if err != nil && l.log != nil {
			l.log.Warn("reading the shared decision log", "err", err)
		}
		return evs
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ring.list()
}

func (l *eventLog) reset() {
	l.mu.Lock()
	l.ring.reset()
	l.mu.Unlock()
}

func (l *eventLog) subscribe(n int, stream bool) (<-chan Event, func()) {
	ch := make(chan Event, n)
	l.mu.Lock()
	if l.shared != nil && len(l.subs) == 0 && l.tailStop == nil {
		l.startTailLocked()
	}
	l.subs[ch] = stream
	l.mu.Unlock()
	return ch, func() {
		l.mu.Lock()
		if stream, ok := l.subs[ch]; ok {
			delete(l.subs, ch)
			if stream {
				close(ch) // the stream's reader treats it as the end
			}
		}
		last := len(l.subs) == 0
		l.mu.Unlock()
		if last {
			l.stopTail(false)
		}
	}
}

// startTailLocked starts feeding subscribers from the shared log, from
// its newest event on.
func (l *eventLog) startTailLocked() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	l.tailStop, l.tailDone = cancel, done
	// From the newest event at the time of subscribing: the subscriber
	// sees every decision made after Subscribe returns.
	var since uint64
	if last, err := l.shared.Events(0, 1); err == nil && len(last) == 1 {
		since = last[0].Seq
	}
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			evs, err := l.shared.WaitEvents(ctx, since)
			if err != nil {
				select {
				case <-ctx.Done():
				case <-time.After(time.Second): // the store is down: try again
				}
				continue
			}
			l.mu.Lock()
			for _, e := range evs {
				since = max(since, e.Seq)
				l.fanoutLocked(e)
			}
			l.mu.Unlock()
		}
	}()
}

// stopTail ends the feeding from the shared log and waits for it: when
// force is set (the server closes), or when no subscriber is left.
func (l *eventLog) stopTail(force bool) {
	l.mu.Lock()
	if !force && len(l.subs) > 0 {
		l.mu.Unlock()
		return
	}
	stop, done := l.tailStop, l.tailDone
	l.tailStop, l.tailDone = nil, nil
	l.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
}

// endStreams closes the channel of every stream subscriber, so that the
// event streams being served end: http.Server.Shutdown waits for every
// response to finish, and a stream never finishes on its own.
func (l *eventLog) endStreams() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for ch, stream := range l.subs {
		if stream {
			delete(l.subs, ch)
			close(ch)
		}
	}
}

// Events returns the decision log, oldest first (at most Config.EventLimit).
func (s *Server) Events() []Event { return s.events.list() }

// Subscribe delivers new events on a channel buffered to n until cancel is
// called. A subscriber that falls more than n behind misses events; Events
// still has them.
func (s *Server) Subscribe(n int) (events <-chan Event, cancel func()) {
	return s.events.subscribe(n, false)
}

// record logs a decision in the event log, the metrics and the logger.
// (Call rules record while holding the call table's lock: record takes no
// lock of the server's.)
func (s *Server) record(e Event) {
	e.Time = s.clock.Now()
	if e.Code == "" {
		e.Code = CodeOK
	}
	s.events.add(e)
	s.metrics.decision(e.Time, e.Kind, e.Code)
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

package fakebackend

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The decision stream, GET /admin/events/stream, is Server-Sent Events
// (text/event-stream) for the console, the CLI and tests:
//
//	event: clock                        when the stream opens and whenever the backend's time changes
//	data: {"time":"2026-01-01T00:00:00Z","mock":true}
//
//	id: 42                              one per decision, as GET /admin/events shows it
//	event: decision
//	data: {"seq":42,"time":...,"kind":"createInstance","code":"ok",...}
//
// ?since=N (or the Last-Event-ID header a reconnecting client sends)
// first replays the logged decisions after sequence number N; without it
// the stream starts with the next decision. A comment line is sent every
// streamKeepalive so that proxies keep the connection open.
const (
	streamBuffer    = 1024
	streamKeepalive = 15 * time.Second
	// streamClockCheck is how often, in wall time, the stream looks for a
	// change of the backend's time (a mock clock moved by a test).
	streamClockCheck = 250 * time.Millisecond
)

func (s *Server) adminEventStream(w http.ResponseWriter, r *http.Request) {
	since, replay := uint64(0), false
	v := r.Header.Get("Last-Event-ID")
	if v == "" {
		v = r.URL.Query().Get("since")
	}
	if v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			adminError(w, http.StatusBadRequest, "bad_request", "since (or Last-Event-ID) must be an event sequence number")
			return
		}
		since, replay = n, true
	}
	rc := http.NewResponseController(w)
	// Subscribe before reading the log, so that nothing falls between.
	events, cancel := s.events.subscribe(streamBuffer, true)
	defer cancel()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	st := &eventStream{w: w, last: since}
	st.clock(s)
	if replay {
		st.fill(s, ^uint64(0))
	} else if evs := s.Events(); len(evs) > 0 {
		st.last = evs[len(evs)-1].Seq
	}
	if st.flush(rc) != nil {
		return
	}
	tick := time.NewTicker(streamClockCheck)
	defer tick.Stop()
	quiet := time.Now()
	for {
		select {
		case <-r.Context().Done():
			return
		case e, ok := <-events:
			if !ok {
				return // the server stops serving
			}
			if e.Seq > st.last+1 {
				st.fill(s, e.Seq) // this stream fell behind: the log has what it missed
			}
			st.decision(e)
			st.clock(s)
		case <-tick.C:
			st.clock(s)
			if st.n == 0 && time.Since(quiet) >= streamKeepalive {
				io.WriteString(w, ": keepalive\n\n")
				st.n++
			}
		}
		if st.n > 0 {
			if st.flush(rc) != nil {
				return
			}
			quiet = time.Now()
		}
	}
}

// eventStream writes one response's events.
type eventStream struct {
	w     io.Writer
	last  uint64    // sequence number of the last decision sent
	time  time.Time // backend time last sent
	n     int       // events written since the last flush
	wrErr error
}

func (st *eventStream) send(event, id string, data any) {
	b, err := json.Marshal(data)
	if err != nil || st.wrErr != nil {
		return
	}
	var sb strings.Builder
	if id != "" {
		sb.WriteString("id: " + id + "\n")
	}
	sb.WriteString("event: " + event + "\ndata: ")
	sb.Write(b) // JSON has no raw newline
	sb.WriteString("\n\n")
	_, st.wrErr = io.WriteString(st.w, sb.String())
	st.n++
}

func (st *eventStream) decision(e Event) {
	if e.Seq <= st.last {
		return // already sent by a replay
	}
	st.last = e.Seq
	st.send("decision", strconv.FormatUint(e.Seq, 10), e)
}

// fill sends the logged decisions after st.last and before seq.
func (st *eventStream) fill(s *Server, before uint64) {
	for _, e := range s.Events() {
		if e.Seq > st.last && e.Seq < before {
			st.decision(e)
		}
	}
}

// clockView is the backend's time as the stream's clock event shows it
// (the fields of GET /admin/clock).
type clockView struct {
	Time string `json:"time"`
	Mock bool   `json:"mock"`
}

func (st *eventStream) clock(s *Server) {
	now := s.clock.Now()
	if d := now.Sub(st.time); d == 0 || (s.world == nil && d > 0 && d < time.Second) {
		return // a real clock is shown to the second
	}
	st.time = now
	st.send("clock", "", clockView{Time: now.UTC().Format(time.RFC3339Nano), Mock: s.world != nil})
}

func (st *eventStream) flush(rc *http.ResponseController) error {
	st.n = 0
	if st.wrErr != nil {
		return st.wrErr
	}
	if err := rc.Flush(); err != nil {
		return fmt.Errorf("flush: %w", err)
	}
	return nil
}

// endOnShutdown makes srv.Shutdown end what would otherwise hold it until
// its timeout: the event streams being served, which never finish on their
// own, and the connections a browser opens ahead of need and leaves unused
// (http.Server counts a connection that has sent nothing as busy for its
// first 5 seconds).
func (s *Server) endOnShutdown(srv *http.Server) {
	var mu sync.Mutex
	unused := map[net.Conn]bool{}
	srv.ConnState = func(c net.Conn, st http.ConnState) {
		mu.Lock()
		defer mu.Unlock()
		if st == http.StateNew {
			unused[c] = true
		} else {
			delete(unused, c)
		}
	}
	srv.RegisterOnShutdown(func() {
		s.events.endStreams()
		mu.Lock()
		defer mu.Unlock()
		for c := range unused {
			c.Close()
		}
	})
}

package fakebackend

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sinchsim/sinchsim/credentials"
)

// sseEvent is one Server-Sent Event.
type sseEvent struct{ id, event, data string }

// sseStream reads GET /admin/events/stream.
type sseStream struct {
	t    *testing.T
	body io.ReadCloser
	r    *bufio.Reader
}

func openStream(t *testing.T, s *Server, query string, header http.Header) *sseStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", strings.TrimSuffix(s.AdminURL(), "/")+"/events/stream"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream; charset=utf-8" {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("stream: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	return &sseStream{t: t, body: resp.Body, r: bufio.NewReader(resp.Body)}
}

// next returns the next event (comments skipped); it fails the test when
// none comes within wireTimeout.
func (st *sseStream) next() sseEvent {
	st.t.Helper()
	type result struct {
		ev  sseEvent
		err error
	}
	ch := make(chan result, 1)
	go func() {
		var ev sseEvent
		for {
			line, err := st.r.ReadString('\n')
			if err != nil {
				ch <- result{err: err}
				return
			}
			line = strings.TrimSuffix(line, "\n")
			switch {
			case line == "" && ev.event != "":
				ch <- result{ev: ev}
				return
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.event = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev.data += line[6:]
			}
		}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			st.t.Fatalf("reading the stream: %v", r.err)
		}
		return r.ev
	case <-time.After(wireTimeout):
		st.t.Fatal("no event on the stream")
		return sseEvent{}
	}
}

// nextDecision skips clock events.
func (st *sseStream) nextDecision() Event {
	st.t.Helper()
	for {
		ev := st.next()
		if ev.event != "decision" {
			continue
		}
		var e Event
		if err := json.Unmarshal([]byte(ev.data), &e); err != nil {
			st.t.Fatalf("decision %q: %v", ev.data, err)
		}
		if ev.id != itoa(int64(e.Seq)) {
			st.t.Fatalf("event id %q for seq %d", ev.id, e.Seq)
		}
		return e
	}
}

func TestEventStream(t *testing.T) {
	s := RunT(t)
	app := s.Application()
	c := dialRaw(t, s)

	live := openStream(t, s, "", nil)
	if ev := live.next(); ev.event != "clock" || !strings.Contains(ev.data, `"time":"2026-01-01T00:00:00Z","mock":true`) {
		t.Fatalf("first event = %+v, want the clock", ev)
	}
	instanceOf(t, c.create(app.Key, "alice", "d1", mint(t, s, credentials.MintParams{UserID: "alice"})))
	wantCode(t, c.create(app.Key, "bob", "d1", "x.y.z"), credentials.CodeTokenMalformed)
	first, second := live.nextDecision(), live.nextDecision()
	if first.Kind != "createInstance" || first.Code != CodeOK || first.User != "alice" ||
		second.Code != credentials.CodeTokenMalformed || second.User != "bob" || second.Seq != first.Seq+1 {
		t.Fatalf("decisions %+v, %+v", first, second)
	}
	// The clock: a move shows on the stream without any decision.
	if err := s.Advance(time.Hour); err != nil {
		t.Fatal(err)
	}
	if ev := live.next(); ev.event != "clock" || !strings.Contains(ev.data, `"time":"2026-01-01T01:00:00Z"`) {
		t.Fatalf("after Advance: %+v", ev)
	}

	// Replays: since=N, or Last-Event-ID as a reconnecting client sends it.
	for _, tc := range []struct {
		name   string
		query  string
		header http.Header
		want   uint64
	}{
		{"since=0 replays everything", "?since=0", nil, first.Seq},
		{"since=N replays what follows N", "?since=" + itoa(int64(first.Seq)), nil, second.Seq},
		{"Last-Event-ID wins over since", "?since=0", http.Header{"Last-Event-Id": {itoa(int64(first.Seq))}}, second.Seq},
	} {
		st := openStream(t, s, tc.query, tc.header)
		if got := st.nextDecision(); got.Seq != tc.want {
			t.Errorf("%s: first decision %d, want %d", tc.name, got.Seq, tc.want)
		}
	}
	if code, _ := adminDo(t, s, "GET", "/admin/events/stream?since=x", "", ""); code != 400 {
		t.Errorf("since=x: %d, want 400", code)
	}

	// Close ends the stream instead of waiting for it.
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, live.body)
		done <- err
	}()
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second): // Shutdown would give up after 5 s
		t.Fatal("the stream did not end on Close")
	}
	<-closed
}

// TestEventStreamFillsGaps: a stream that fell behind its subscription's
// buffer sends what it missed from the log, in order, once.
func TestEventStreamFillsGaps(t *testing.T) {
	s := RunT(t)
	var b strings.Builder
	st := &eventStream{w: &b}
	for i := 0; i < 5; i++ {
		s.record(Event{Kind: "createInstance", User: "u" + itoa(int64(i))})
	}
	evs := s.Events()
	st.decision(evs[0])
	st.fill(s, evs[3].Seq) // the subscription delivered evs[3]: 2 and 3 are missing
	st.decision(evs[3])
	st.decision(evs[2]) // late duplicate
	st.fill(s, ^uint64(0))
	var seqs []string
	for _, line := range strings.Split(b.String(), "\n") {
		if id, ok := strings.CutPrefix(line, "id: "); ok {
			seqs = append(seqs, id)
		}
	}
	if got := strings.Join(seqs, ","); got != "1,2,3,4,5" {
		t.Fatalf("ids sent: %s", got)
	}
}

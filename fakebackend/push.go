package fakebackend

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Push is a push notification the backend "sent" to an offline callee's
// device: a call rang for a live instance that has a push token and no
// connection (managed push). The backend records every push
// (Server.Pushes, GET /admin/pushes) and, with Config.PushWebhook, POSTs
// each one there as this JSON object.
type Push struct {
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	// CallID is the call that rings; the device's client answers it after
	// it has connected and authenticated.
	CallID      string `json:"callId"`
	Application string `json:"applicationKey"`
	// User, Instance and Device are the callee's.
	User      string `json:"userId"`
	Instance  string `json:"instanceId"`
	Device    string `json:"deviceId"`
	PushToken string `json:"pushToken"`
	PushType  string `json:"pushType,omitempty"`
	// CallerUserID and Headers are the call's.
	CallerUserID string            `json:"callerUserId"`
	Headers      map[string]string `json:"headers,omitempty"`
}

// Bounds of the push webhook: a POST may take this long, and at most this
// many are in flight; a push beyond that is recorded but not posted.
const (
	PushWebhookTimeout  = 5 * time.Second
	pushWebhookInFlight = 64
)

// pushOutbox records pushes (bounded, oldest dropped first) and posts them
// to the webhook.
type pushOutbox struct {
	s    *Server
	mu   sync.Mutex
	seq  uint64
	ring ring[Push]

	hook *webhook // nil without Config.PushWebhook
}

func newPushOutbox(s *Server, limit int, url string) *pushOutbox {
	o := &pushOutbox{s: s, ring: ring[Push]{limit: limit}}
	if url != "" {
		o.hook = newWebhook(url, s.log)
	}
	return o
}

// deliver records p and posts it to the webhook; it never blocks.
func (o *pushOutbox) deliver(p Push) {
	p.Time = o.s.clock.Now()
	o.mu.Lock()
	o.seq++
	p.Seq = o.seq
	o.ring.add(p)
	o.mu.Unlock()
	o.s.record(Event{Kind: KindPush, Application: p.Application, User: p.User, Device: p.Device, Instance: p.Instance, Call: p.CallID,
		Reason: "push for a call from " + p.CallerUserID})
	if o.hook != nil {
		o.hook.post(p)
	}
}

func (o *pushOutbox) list() []Push {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.ring.list()
}

func (o *pushOutbox) reset() {
	o.mu.Lock()
	o.ring.reset()
	o.mu.Unlock()
}

// Pushes returns the pushes sent, oldest first (at most Config.EventLimit).
func (s *Server) Pushes() []Push { return s.pushes.list() }

// webhook POSTs pushes as JSON, each on its own goroutine, outside the
// virtual world (it waits on a server outside it): the backend never waits
// for it.
type webhook struct {
	url    string
	log    *slog.Logger
	client *http.Client
	ctx    context.Context
	cancel context.CancelFunc
	slots  chan struct{}
	wg     sync.WaitGroup
}

func newWebhook(target string, log *slog.Logger) *webhook {
	ctx, cancel := context.WithCancel(context.Background())
	return &webhook{url: target, log: log, client: &http.Client{Timeout: PushWebhookTimeout}, ctx: ctx, cancel: cancel,
		slots: make(chan struct{}, pushWebhookInFlight)}
}

func (w *webhook) post(p Push) {
	select {
	case w.slots <- struct{}{}:
	default:
		w.log.Warn("push webhook: too many posts in flight; push recorded but not posted", "call", p.CallID, "user", p.User)
		return
	}
	body, err := json.Marshal(p)
	if err != nil {
		<-w.slots
		return
	}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer func() { <-w.slots }()
		req, err := http.NewRequestWithContext(w.ctx, http.MethodPost, w.url, bytes.NewReader(body))
		if err != nil {
			w.log.Warn("push webhook: bad request", "err", err)
			return
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := w.client.Do(req)
		if err != nil {
			// Without the URL, which may carry a token.
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err
			}
			w.log.Warn("push webhook: post failed", "call", p.CallID, "err", err)
			return
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			w.log.Warn("push webhook: unexpected status", "call", p.CallID, "status", resp.Status)
		}
	}()
}

// close cancels the posts in flight and waits for them.
func (w *webhook) close() {
	w.cancel()
	w.wg.Wait()
}

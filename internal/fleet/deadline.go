package fleet

import (
	"context"
	"time"
)

// startDeadline bounds each start of one worker's clients by
// Config.StartTimeout: one context and one timer serve all of them, and a
// new context is made only after one has timed out, where a context with
// a timeout of its own per client would cost a timer and a context each.
type startDeadline struct {
	parent context.Context
	d      time.Duration
	ctx    context.Context
	cancel context.CancelFunc
	timer  *time.Timer
}

func newStartDeadline(parent context.Context, d time.Duration) *startDeadline {
	return &startDeadline{parent: parent, d: d}
}

// begin returns the context of the next start, which ends d from now
// (or with the parent).
func (s *startDeadline) begin() context.Context {
	if s.ctx == nil || s.ctx.Err() != nil {
		s.stop()
		s.ctx, s.cancel = context.WithCancel(s.parent)
		s.timer = time.AfterFunc(s.d, s.cancel)
		return s.ctx
	}
	s.timer.Reset(s.d)
	return s.ctx
}

// end ends the start begin began; the context stays for the next one
// unless its timer fired meanwhile. A timer that has fired may not have
// cancelled yet: its context is dropped all the same, lest it end the
// next start at once.
func (s *startDeadline) end() {
	if !s.timer.Stop() {
		s.cancel()
		s.ctx = nil
	}
}

// stop releases the context and its timer.
func (s *startDeadline) stop() {
	if s.ctx != nil {
		s.timer.Stop()
		s.cancel()
	}
}

package sim

import (
	"context"
	"time"

	"github.com/sinchsim/sinchsim/client"
	"github.com/sinchsim/sinchsim/codes"
	"github.com/sinchsim/sinchsim/internal/callcount"
)

// Calls in a simulation (Config.CallsPerDay): every client calls another
// one at regular times; the callee answers at once and the caller hangs up
// once the call is established. A call that cannot be placed or does not
// connect counts as failed, by cause: so an expiry shows up as the failed
// calls it causes, the caller's (its client is not registered:
// not_started, or instance_expired) and the callee's (callee_unavailable).

// Calls sums up the simulated calls. JSON names are a contract of
// sinchsim simulate --json (docs/SIMULATE.md).
type Calls = callcount.Counts

// armCalls schedules the bot's calls: every 24h/CallsPerDay, the first at
// a time of its own within the first interval after the last client has
// started (Stagger), so that the fleet's calls are spread evenly and none
// goes to a client that has not started yet.
func (b *bot) armCalls() {
	s := b.s
	if s.cfg.CallsPerDay <= 0 { // Validate refuses calls among fewer than two
		return
	}
	every := time.Duration(float64(24*time.Hour) / s.cfg.CallsPerDay)
	first := s.cfg.Stagger + time.Duration(float64(every)*(float64(b.i)+0.5)/float64(s.cfg.Bots))
	var next func(d time.Duration)
	next = func(d time.Duration) {
		s.world.ScheduleKey(b.user, d, func() {
			if s.ended.Load() {
				return
			}
			s.jobs.do(b.placeCall)
			next(every)
		})
	}
	next(first)
}

// placeCall places the bot's next call (a job), to a callee drawn from the
// seed: the same run calls the same users.
func (b *bot) placeCall() {
	s := b.s
	b.calls++
	k := int(draw(s.cfg.Seed^0x63616c6c, b.i, b.calls) * float64(s.cfg.Bots-1))
	callee := s.bots[(b.i+1+k)%s.cfg.Bots].user
	s.calls.Placed()
	c := b.current()
	if c == nil {
		s.calls.Failed(codes.NotStarted)
		return
	}
	if _, err := c.CallClient().CallUser(context.Background(), callee, nil); err != nil {
		s.calls.Failed(codes.Of(err))
	}
	// A placed call goes on in the listener: OnCallEstablished or
	// OnCallEnded.
}

// OnIncomingCall implements client.CallClientListener: the callee answers
// at once.
func (b *bot) OnIncomingCall(_ *client.CallClient, call *client.Call) { _ = call.Answer() }

// OnCallProgressing implements client.CallListener.
func (b *bot) OnCallProgressing(*client.Call) {}

// OnCallEstablished implements client.CallListener: the caller counts the
// call answered and hangs up.
func (b *bot) OnCallEstablished(call *client.Call) {
	if call.Direction() == client.CallOutgoing {
		b.s.calls.Answered(call)
		_ = call.Hangup()
	}
}

// OnCallEnded implements client.CallListener: an outgoing call that ended
// without an answer failed.
func (b *bot) OnCallEnded(call *client.Call) {
	if call.Direction() == client.CallOutgoing {
		b.s.calls.Ended(call, string(call.EndCause()))
	}
}

package fakebackend

// Time control: the backend's clock and, on a virtual clock, Advance and
// SetTime.

import (
	"errors"
	"fmt"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/sinchsim/sinchsim/vclock"
)

// DefaultMockTime is where RunT's mock clock starts.
var DefaultMockTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// ErrNotMockClock is returned by time control on a server with a real clock.
var ErrNotMockClock = errors.New("fakebackend: the server does not run on a mock clock")

// Clock is the backend's clock.
func (s *Server) Clock() clock.Clock { return s.clock }

// Now is the backend's current time.
func (s *Server) Now() time.Time { return s.clock.Now() }

// Advance moves the virtual clock forward by d. Every timer of the world
// due on the way fires at its deadline, in deadline order, the backend's
// and its clients' alike, and before each one the world settles: when
// Advance returns nil, every consequence up to the new time has happened
// (Stats, Instances, Events and listener callbacks are final). It returns
// ErrNotMockClock on a real clock, and a *vclock.SettleError (naming what
// was still busy) if the world did not settle within its bounds.
func (s *Server) Advance(d time.Duration) error {
	if s.world == nil {
		return ErrNotMockClock
	}
	if d < 0 {
		return fmt.Errorf("fakebackend: cannot advance by a negative duration %v", d)
	}
	if s.shared != nil {
		return errors.Join(s.moveShared(s.world.Now().Add(d), false), s.saveClock())
	}
	return errors.Join(s.world.Advance(d), s.saveClock())
}

// SetTime moves the virtual clock to t: forward as Advance does, backward
// without firing anything.
func (s *Server) SetTime(t time.Time) error {
	if s.world == nil {
		return ErrNotMockClock
	}
	if s.shared != nil {
		return errors.Join(s.moveShared(t, t.Before(s.world.Now())), s.saveClock())
	}
	return errors.Join(s.world.Set(t), s.saveClock())
}

// settle waits until the world is quiescent (on a virtual clock), so that
// an action's consequences, such as a client told of a revocation, have
// happened when the action returns.
func (s *Server) settle() {
	if s.world != nil {
		if err := s.world.Settle(); err != nil {
			s.log.Warn("the world did not settle", "err", err)
		}
	}
}

// newWorld returns the virtual clock a server creates.
func newWorld(start time.Time, seed uint64) *vclock.Clock {
	if seed == 0 {
		seed = 1
	}
	return vclock.New(start, vclock.WithSeed(seed))
}

// RunTClock returns a virtual clock set to DefaultMockTime, as RunT uses:
// give it to a Config and to clients to build a world before the server.
func RunTClock() *vclock.Clock { return newWorld(DefaultMockTime, 0) }

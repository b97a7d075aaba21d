package client

// The loop's instance TTL: renewal when it is due, its retries, and the
// local expiry.

import (
	"log/slog"
	"time"

	"github.com/sinchsim/sinchsim/registration"
	"github.com/sinchsim/sinchsim/transport"
)

// armRenewal schedules the next TTL renewal per the policy.
func (l *loop) armRenewal() {
	l.cancel(slotRenew)
	if l.dev.ExpireAt.IsZero() {
		return
	}
	at := l.renewal.RenewAt(l.dev.IssuedAt, l.dev.ExpireAt)
	if registration.RenewsOnlyAtStart(l.renewal) && at.After(l.now()) {
		// Checked when the client starts (or is started again by a
		// reconnect), never on a timer while it runs.
		return
	}
	l.arm(slotRenew, at.Sub(l.now()), l.onRenewDue)
}

func (l *loop) onRenewDue() {
	if l.state() != registration.StateStarted || l.dev.ExpireAt.IsZero() {
		return
	}
	l.c.logf(slog.LevelInfo, "renewing the instance TTL (expires %s)", l.dev.ExpireAt.Format(time.RFC3339))
	if l.fire(registration.EventRenew) {
		l.askCredentials(forRenew)
	}
}

func (l *loop) onRenewed(m *transport.InstanceTTLUpdated) {
	l.dev.ExpireAt, l.dev.IssuedAt = m.ExpireAt, l.now()
	if !m.ExpireAt.IsZero() {
		l.dev.Limited = true
	}
	l.saveOrLog()
	l.renewAttempts = 0
	l.count(func(s *Stats) { s.Renewals++ })
	l.armRenewal()
	l.armExpiry()
	if l.fire(registration.EventRenewed) {
		l.c.logf(slog.LevelInfo, "instance TTL extended to %s", m.ExpireAt.Format(time.RFC3339))
	}
}

// renewFailed keeps the old expiry and retries with backoff.
func (l *loop) renewFailed(err error) { l.renewFailedFor(err, 0) }

// renewFailedFor is renewFailed waiting at least atLeast.
func (l *loop) renewFailedFor(err error, atLeast time.Duration) {
	if !l.fire(registration.EventRenewFailed) {
		return
	}
	d := max(l.renewal.RetryDelay(l.renewAttempts), atLeast)
	l.renewAttempts++
	l.count(func(s *Stats) { s.RenewalFailures++ })
	if d <= 0 {
		d = time.Second
	}
	l.c.logf(slog.LevelWarn, "TTL renewal failed (%v); retrying in %v", err, d)
	l.arm(slotRenew, d, l.onRenewDue)
}

// armExpiry schedules the local end of the instance at its expireAt: the
// backend says so too (instanceRevoked), but a client that is offline or
// whose message is late must not keep using an expired instance.
func (l *loop) armExpiry() {
	l.cancel(slotExpiry)
	if l.dev.ExpireAt.IsZero() {
		return
	}
	l.arm(slotExpiry, l.dev.ExpireAt.Sub(l.now()), func() {
		if l.dev.ExpireAt.After(l.now()) {
			return
		}
		st := l.state()
		if st != registration.StateStarted && st != registration.StateRenewing {
			return // not registered right now: the next start finds out
		}
		l.registerAnew(true, "the instance's TTL ran out")
	})
}

package registration

import "time"

// RenewalPolicy decides when a started client renews its instance's TTL and
// how long it waits before retrying a failed renewal. Implementations must be
// pure functions of their arguments (no clock reads, no goroutines) so that
// simulations on a mock clock are exact.
type RenewalPolicy interface {
	// RenewAt returns when to start renewing an instance whose current
	// expiry, expireAt, was granted at issued. The caller arms its timer for
	// the returned time; a time at or before now means renew immediately.
	RenewAt(issued, expireAt time.Time) time.Time
	// RetryDelay returns how long to wait before retrying after the
	// attempt-th consecutive failed renewal (attempt 0 is the first retry).
	// The old expiry is kept meanwhile.
	RetryDelay(attempt int) time.Duration
}

// The default renewal thresholds.
const (
	longTTL      = 8 * 24 * time.Hour // an instance TTL this long or longer is "long"
	longTTLLead  = 7 * 24 * time.Hour // renew a long TTL when this much remains
	shortTTLLead = 24 * time.Hour     // renew a shorter TTL when this much remains
)

// DefaultRenewal is the documented default [RenewalPolicy]. Its zero value is
// ready to use.
//
// The rule, with ttl = expireAt − issued:
//
//   - if ttl ≥ 8 days, renew when 7 days remain: at expireAt − 7×24h;
//   - otherwise renew when 24 hours remain: at expireAt − 24h;
//   - never earlier than issued: if the time computed above is before issued
//     (ttl under 24 hours, or expireAt before issued), RenewAt returns issued,
//     meaning renew immediately.
//
// After a failed renewal (the application answered RegisterFailed) the old
// expiry is kept and the renewal is retried after Backoff.Delay(attempt).
type DefaultRenewal struct {
	// Backoff spaces retries of failed renewals; its zero value is the
	// documented default of [Backoff].
	Backoff Backoff
}

var _ RenewalPolicy = DefaultRenewal{}

// RenewAt implements [RenewalPolicy] with the rule in [DefaultRenewal]'s doc.
func (DefaultRenewal) RenewAt(issued, expireAt time.Time) time.Time {
	lead := shortTTLLead
	if expireAt.Sub(issued) >= longTTL {
		lead = longTTLLead
	}
	at := expireAt.Add(-lead)
	if at.Before(issued) {
		return issued
	}
	return at
}

// RetryDelay implements [RenewalPolicy]: it returns d.Backoff.Delay(attempt).
func (d DefaultRenewal) RetryDelay(attempt int) time.Duration {
	return d.Backoff.Delay(attempt)
}

// AtStartRenewal renews only when the client starts, as Sinch's Android
// documentation describes it ("triggered when the Sinch client starts and
// TTL expiry is detected to be near"): a client that becomes started
// (Start, or a reconnect that authenticates again) renews if DefaultRenewal
// would have renewed by then, and arms no renewal timer while it runs. A
// client that is never started again while its instance nears expiry lets
// it expire, then registers anew. Failed renewals are retried as with
// DefaultRenewal. Its zero value is ready to use.
type AtStartRenewal struct {
	// Backoff spaces retries of failed renewals, as DefaultRenewal's.
	Backoff Backoff
}

var _ RenewalPolicy = AtStartRenewal{}

// RenewAt implements [RenewalPolicy] with DefaultRenewal's thresholds; the
// client consults it only when it starts.
func (AtStartRenewal) RenewAt(issued, expireAt time.Time) time.Time {
	return DefaultRenewal{}.RenewAt(issued, expireAt)
}

// RetryDelay implements [RenewalPolicy]: it returns a.Backoff.Delay(attempt).
func (a AtStartRenewal) RetryDelay(attempt int) time.Duration { return a.Backoff.Delay(attempt) }

// OnlyAtStart marks the policy for [RenewsOnlyAtStart].
func (AtStartRenewal) OnlyAtStart() bool { return true }

// RenewsOnlyAtStart reports whether p renews only when the client starts
// (it has a method OnlyAtStart() bool that returns true), rather than on a
// timer at RenewAt.
func RenewsOnlyAtStart(p RenewalPolicy) bool {
	s, ok := p.(interface{ OnlyAtStart() bool })
	return ok && s.OnlyAtStart()
}

// Package registration holds the lifecycle of a SinchClient as an explicit
// state machine, plus the policies that decide when an instance's TTL is
// renewed and how long to wait before retrying.
//
// It is a leaf package: no I/O, no network, no goroutines and no clock reads.
// Every time it needs is passed in, so the client package (which owns one
// [Machine] per client and drives it from its single event-loop goroutine)
// decides what "now" is, and simulations can run a year of renewals on a mock
// clock.
//
// The states and events mirror the mobile SDKs: a client is started, asks for
// credentials the first time a user runs on a device, registers with a JWT or
// authenticates with stored instance credentials, renews its instance TTL
// while started, reconnects after losing its connection, and is finally
// terminated. [Mermaid] draws the whole table; the README shows it.
//
// Shortest working use:
//
//	m := registration.NewMachine(func(t registration.Transition) {
//		log.Printf("%s --%s--> %s", t.From, t.Event, t.To)
//	})
//	if err := m.Fire(registration.EventStart); err != nil {
//		// errors.Is(err, registration.ErrIllegalEvent)
//	}
//	next := registration.DefaultRenewal{}.RenewAt(issued, expireAt)
package registration

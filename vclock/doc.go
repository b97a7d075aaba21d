// Package vclock is the virtual clock of an emulated world: one clock that
// knows every timer created through it and every component that is still
// working, so that moving time is exact and repeatable.
//
// A *Clock implements github.com/benbjohnson/clock's clock.Clock. Advance
// and Set fire due timers in deadline order (ties in creation order); before
// each timer, and before returning, they wait until the world is quiescent:
// no component has pending work. Components report their work through
// [Work] (a client loop, a listener callback, a backend session handling a
// message) and [Link] (a message written to a connection whose two ends are
// both in the world, counted from the send until the receiver has handled
// it). Work that waits on something outside the world, such as a real HTTP
// auth server, is waited for with a bound and named in the error.
//
// The shortest use:
//
//	clk := vclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
//	clk.AfterFunc(time.Hour, func() { fmt.Println("an hour passed") })
//	clk.Advance(2 * time.Hour) // prints, then returns at 02:00
//
// fakebackend.RunT builds its server on a *Clock, and every client created
// with client.WithClock(srv.Clock()) joins it: srv.Advance returns only when
// every consequence up to the new time has happened.
package vclock

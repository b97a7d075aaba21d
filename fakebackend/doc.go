// Package fakebackend is an in-process fake of the Sinch registration
// backend: a real WebSocket server (protocol v1, package transport) that
// verifies registration tokens with every rule of docs/RULES.md, creates
// device-bound instances, enforces and extends their TTLs, and can be
// driven and inspected by tests, in the manner of net/http/httptest and
// miniredis.
//
// The shortest use, in a test:
//
//	srv := fakebackend.RunT(t)              // loopback, mock clock, one application
//	jwt, _ := srv.Minter().Mint("alice")     // a token an auth server would issue
//	// ... connect a client to srv.URL() and register with jwt ...
//	srv.Advance(72 * time.Hour)              // move the backend's clock
//	for _, e := range srv.Events() { ... }   // every decision with its code and reason
//
// Outside a test, the constructors follow net/http/httptest: NewServer
// returns a started server, NewUnstartedServer one to set up before
// Start; Close stops either.
//
// Registered clients can call each other (signalling only, rule 15 in
// docs/RULES.md): a call rings on the callee's connections, or sends a
// push to its offline devices that have a push token (Pushes, GET
// /admin/pushes, Config.PushWebhook), and ends on the backend's clock if
// nobody answers.
//
// Besides the WebSocket endpoint (URL), the server offers a JSON admin API
// under /admin/ (applications, instances, revocation, clock, reset, events
// and their live stream, pushes, faults, the code table), a console page for the
// browser at ConsoleURL, and Prometheus metrics at /metrics. With
// Config.AdminToken set, every admin request needs the token. State lives
// behind the Store interface: in memory, or in a data directory that
// survives restarts.
package fakebackend

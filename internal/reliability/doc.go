// Package reliability holds sinchsim's hardening tests: the backend and
// its clients under faults (restarts, SIGKILL mid-write, dropped
// connections, stalled peers, clock jumps), under load (registrations
// racing for one user's rate limit) and against secret leaks, with every
// test asserting what it establishes. It has no non-test code; see
// RELIABILITY.md at the module root for the figures and for how to run the
// long versions:
//
//	go test -race ./internal/reliability/                      # default, under a minute
//	SINCHSIM_LONG=1 go test -race -timeout 30m ./internal/reliability/  # long versions
package reliability

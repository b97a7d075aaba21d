// Package examples holds runnable programs that use sinchsim the way its
// users do; each subdirectory is a main package with a README:
//
//   - bot: one user that registers and stays online (SinchClient, device
//     store, state transitions and callbacks).
//   - authserver: the HTTP server that holds the application secret and
//     issues registration tokens, for credentials.NewHTTPProvider.
//   - ttlrenewal: a year of instance TTL renewals on a mock clock.
//   - harness: testing your own code against fakebackend.RunT.
//
// examples_test.go builds every program and runs it.
package examples

// Package client is a SinchClient: one user on one device registering with
// the (fake) Sinch backend the way the Sinch RTC SDKs do, for bots and test
// harnesses.
//
// The lifecycle is the SDK's: Start; OnCredentialsRequired when a
// registration token is needed (the first run of a user on a device, after
// the instance expired or was revoked, and for TTL renewal); the
// application answers Register(jwt) or RegisterFailed(err); then
// OnClientStarted or OnClientFailed; TerminateGracefully at the end. The
// states are those of package registration's Machine, which one goroutine
// per client owns.
//
// The shortest use, with a credentials provider instead of a listener:
//
//	p, _ := credentials.NewSelfSignedProvider(credentials.MinterConfig{ApplicationKey: key, Secret: secret})
//	c, _ := client.New(key, "127.0.0.1:7443", "alice", client.WithCredentialsProvider(p))
//	c.Start()
//	err := c.WaitStarted(ctx)
//	defer c.TerminateGracefully()
//
// The client keeps its device id and instance credentials in a DeviceStore,
// so that the next start (a new client with the same store, in this
// process or, with a DirDeviceStore, the next) authenticates without asking
// for a token. It reconnects after a lost connection with backoff and
// jitter, without creating a new instance, and renews a limited instance
// TTL automatically per its RenewalPolicy, on its clock (a mock clock in
// tests and simulations).
package client

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
// How an instance ends decides what the client does (rules 10, 13 and 14
// in docs/RULES.md). An instance that expires, or that the backend no
// longer knows when the client authenticates, is a normal end of life: the
// client forgets it, asks for credentials and registers anew. A revocation
// the backend pushes (instanceRevoked with instance_not_found) ends in
// OnClientFailed with that code: revoking is an administrator's decision
// against that registration, and registering again by itself would undo
// it; the application decides whether to Start again. An instance taken
// over by another connection of the same device (instance_replaced) also
// fails the client, which keeps its stored credentials.
//
// Registration is what makes calls possible (signalling only: no media).
// Once started, c.CallClient().CallUser(ctx, "bob", headers) places a call;
// a Listener that implements CallClientListener gets incoming calls
// (OnIncomingCall), and one that implements CallListener follows each
// call (OnCallProgressing, OnCallEstablished, OnCallEnded). A Call is
// answered, declined or hung up with its methods; State and EndCause say
// where it stands. A call attempt that finds the instance expired stops
// the client: OnClientFailed with instance_expired, and the next Start
// registers anew (rule 15 in docs/RULES.md).
//
// On a virtual clock (package vclock, which fakebackend.RunT uses), the
// client joins the clock's world: fakebackend.Server.Advance fires the
// client's timers in order with the backend's and returns only when
// everything the client does in consequence has happened, so a test can
// assert exact counts right after it, with no WaitIdle or polling.
package client

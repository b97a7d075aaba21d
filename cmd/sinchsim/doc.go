// Sinchsim is the command line of the sinchsim module: it runs the fake
// Sinch registration backend, fleets of bots and TTL-renewal simulations,
// and mints, verifies and explains Sinch RTC registration tokens (JWTs)
// exactly as the Sinch backend checks them.
//
// Usage:
//
//	sinchsim <command> [flags] [arguments]
//
// The commands are:
//
//	token mint     mint a registration token for a user and print it
//	token verify   verify a token as the Sinch backend would and print its header and claims
//	token explain  decode a token and say in plain words what is wrong with it
//	serve          run the fake backend (WebSocket, admin API, metrics) until Ctrl-C
//	demo           show everything in one run, on embedded defaults
//	bots           run a fleet of clients and report starts, failures, latency
//	simulate       simulate instance TTL renewal for a fleet on mock clocks
//	check          fetch tokens from an auth server and say what is wrong with them
//
// "sinchsim help <command>" or "<command> --help" prints a command's flags.
// Flags come before the positional arguments; a TOKEN argument of "-", or
// none, reads the token from stdin. The application secret is never
// printed, not even in error messages. Every command that takes
// --app-secret reads the environment variable SINCHSIM_APP_SECRET when the
// flag is absent (the flag wins), which keeps the secret out of ps. A usage
// error prints one line and where the --help is. "sinchsim --version"
// prints the module version and the Go version.
//
// Exit status: 0 success; 1 the answer is "no" (verify: the first line on
// stderr is "code: reason", code a stable rejection code such as
// signature_invalid; explain or check found a failure; a bot failed); 2
// usage error, nothing was done (check: also an unreachable auth server);
// 130 interrupted by SIGINT or SIGTERM.
//
// Mint the example token of Sinch's Application authentication page and check it:
//
//	sinchsim token mint --app-key a32e5a8d-f7d8-411c-9645-9038e8dd051d \
//		--app-secret ax8hTTQJF0OPXL32r1LHMA== --user foo \
//		--nonce 6b438bda-2d5c-4e8c-92b0-39f20a94b34e --now 2018-01-02T03:04:05Z |
//	sinchsim token verify --app-key a32e5a8d-f7d8-411c-9645-9038e8dd051d \
//		--app-secret ax8hTTQJF0OPXL32r1LHMA== --now 2018-01-02T03:04:05Z
//
// Ask why an auth server's token is refused, with the secret in the
// environment:
//
//	export SINCHSIM_APP_SECRET=...   # the application secret
//	curl -s https://auth.example.com/token?user=foo | jq -r .token |
//	sinchsim token explain
package main

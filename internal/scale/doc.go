// Package scale holds the tests that run the backend as several serve
// processes on one Redis, with bots in processes of their own: the
// replicas' behaviour as one backend (a client registered at one replica
// authenticating at another, a token refused everywhere once used, the
// rate limit exact over all of them, a revocation and the mock clock
// reaching every replica, a replica killed under 1,000 bots) and the
// 100,000-bot load test. They are heavy, so they run only when
// SINCHSIM_SCALE=1; docs/SCALING.md gives the commands and the figures.
package scale

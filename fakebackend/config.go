package fakebackend

// The server's configuration: Config and the rules' Policy.

import (
	"crypto/tls"
	"log/slog"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/transport"
)

// Policy holds the backend's configurable rules. The zero value is the
// documented default for every field.
type Policy struct {
	// Leeway is the clock skew tolerated on iat and exp. Default 30 s; negative: none.
	Leeway time.Duration
	// RateLimit is how many instances one user may create within
	// RateWindow (rule 11 in docs/RULES.md). Default 10; negative: unlimited.
	RateLimit int
	// RateWindow default 1 h.
	RateWindow time.Duration
	// DisableLegacy refuses legacy (signature + sequence) registrations with legacy_disabled.
	DisableLegacy bool
	// MaxNonces bounds the replay store (unexpired nonces held). Default 1,000,000.
	MaxNonces int
	// MaxConnectionsPerUser bounds simultaneous connections bound to one
	// user of one application. Default 64; negative: unlimited.
	MaxConnectionsPerUser int
	// MaxConnections bounds all WebSocket connections. Default 100,000.
	MaxConnections int
	// CallAnswerTimeout is how long a call rings before it ends with
	// no_answer (rule 15 in docs/RULES.md). Default 45 s.
	CallAnswerTimeout time.Duration
	// MaxCallsPerMinute bounds the calls one user may place within a
	// minute (call_rate_exceeded). Default 30; negative: unlimited.
	MaxCallsPerMinute int
	// MaxConcurrentCalls bounds the calls one user takes part in at once,
	// as caller or callee (concurrent_calls_exceeded; a callee at the
	// limit is unavailable). Default 4; negative: unlimited.
	MaxConcurrentCalls int
}

// Defaults of Policy.
const (
	DefaultRateLimit             = 10
	DefaultRateWindow            = time.Hour
	DefaultMaxNonces             = 1_000_000
	DefaultMaxConnectionsPerUser = 64
	DefaultMaxConnections        = 100_000
	DefaultCallAnswerTimeout     = 45 * time.Second
	DefaultMaxCallsPerMinute     = 30
	DefaultMaxConcurrentCalls    = 4
)

func (p Policy) withDefaults() Policy {
	if p.Leeway == 0 {
		p.Leeway = credentials.DefaultLeeway
	} else if p.Leeway < 0 {
		p.Leeway = 0
	}
	if p.RateLimit == 0 {
		p.RateLimit = DefaultRateLimit
	}
	if p.RateWindow <= 0 {
		p.RateWindow = DefaultRateWindow
	}
	if p.MaxNonces <= 0 {
		p.MaxNonces = DefaultMaxNonces
	}
	if p.MaxConnectionsPerUser == 0 {
		p.MaxConnectionsPerUser = DefaultMaxConnectionsPerUser
	}
	if p.MaxConnections <= 0 {
		p.MaxConnections = DefaultMaxConnections
	}
	if p.CallAnswerTimeout <= 0 {
		p.CallAnswerTimeout = DefaultCallAnswerTimeout
	}
	if p.MaxCallsPerMinute == 0 {
		p.MaxCallsPerMinute = DefaultMaxCallsPerMinute
	}
	if p.MaxConcurrentCalls == 0 {
		p.MaxConcurrentCalls = DefaultMaxConcurrentCalls
	}
	return p
}

// Config configures a Server. The zero value is usable: a loopback
// listener on a random port, the real clock, no applications, memory only.
type Config struct {
	// Addr is the listen address; default "127.0.0.1:0".
	Addr string
	// Applications are added at start (and kept across Reset).
	Applications []Application
	// Clock is the backend's clock. A *vclock.Clock (a virtual clock)
	// enables Advance and SetTime, and every client created with
	// client.WithClock(srv.Clock()) joins its world, so that Advance
	// returns only when every consequence has happened. A *clock.Mock is
	// replaced by a virtual clock standing at the mock's time: move the
	// server's clock with Advance and SetTime, not the mock. nil: the real
	// clock (RunT: a virtual clock at DefaultMockTime).
	Clock clock.Clock
	// Seed seeds the random sources of a virtual clock that the server
	// creates (RunT, or in place of a *clock.Mock): clients in its world
	// draw their backoff jitter from it, so that a seeded run replays
	// exactly. Zero means 1.
	Seed uint64
	// Policy holds the rules' knobs.
	Policy Policy
	// DataDir, when set, keeps state on disk across restarts, a virtual
	// clock's time included: a server started again on it continues at the
	// saved time when that is later than its clock's.
	DataDir string
	// Store replaces the built-in store (DataDir is then ignored). A
	// Shared store (package redisstore) makes this server one replica of
	// a backend that several processes serve together. The server closes
	// the store when it closes.
	Store Store
	// AdminToken is the bearer token of the admin API and the console.
	// When set, every admin request needs it, from loopback too. When
	// empty, the admin API answers only on a loopback address, and only
	// requests from this machine's own tools (not from web pages of other
	// origins).
	AdminToken string
	// Conn configures every WebSocket connection (read limit, keepalive,
	// send queue).
	Conn transport.Config
	// AllowedOrigins lists browser origins allowed besides the server's own
	// host; AllowAnyOrigin switches the origin check off.
	AllowedOrigins []string
	AllowAnyOrigin bool
	// TLSConfig, when set, serves wss:// and https://.
	TLSConfig *tls.Config
	// Logger receives decisions and lifecycle events; nil: discard. No
	// secret is ever logged.
	Logger *slog.Logger
	// EventLimit bounds the decision log, and the record of pushes;
	// default 10,000.
	EventLimit int
	// InMemory also serves the WebSocket endpoint in memory, under the
	// server's address: a client created with client.WithInMemory (or
	// transport.Dial with DialConfig.InMemory) and URL() connects over an
	// in-memory pipe, with no socket and no file descriptor, through the
	// same handshake, framing and protocol. The TCP listener stays, for
	// other clients and the admin API. Ignored with TLSConfig.
	InMemory bool
	// PushWebhook, when set, is an http(s) URL to which the backend POSTs
	// each push (a Push as JSON) from its own goroutine, within
	// PushWebhookTimeout; the backend never waits for it.
	PushWebhook string
}

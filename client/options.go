package client

import (
	"hash/fnv"
	"log/slog"
	"math/rand/v2"

	"github.com/benbjohnson/clock"

	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/registration"
	"github.com/sinchsim/sinchsim/transport"
)

// Option configures a SinchClient at construction.
type Option func(*options)

type options struct {
	store          DeviceStore
	provider       credentials.Provider
	clock          clock.Clock
	logger         *slog.Logger
	backoff        registration.Backoff
	renewal        registration.RenewalPolicy
	listener       Listener
	capabilities   []string
	sdkVersion     string
	dial           transport.DialConfig
	reconnectLimit int
	instanceTTL    bool
	seed           *uint64
	hosts          []string
	inMemory       bool
	onTransition   func(registration.Transition)
}

// SDKVersion is what the client reports as its SDK version by default.
const SDKVersion = "sinchsim-go/1"

// DefaultReconnectLimit is how many connection attempts in a row may fail
// before the client gives up with ErrConnectionFailed.
const DefaultReconnectLimit = 10

func defaultOptions() options {
	return options{
		clock:          clock.New(),
		renewal:        registration.DefaultRenewal{},
		sdkVersion:     SDKVersion,
		capabilities:   []string{"calling"},
		reconnectLimit: DefaultReconnectLimit,
	}
}

// WithDeviceStore keeps the device id and instance credentials in s
// (default: a new MemoryDeviceStore, so nothing survives the client).
func WithDeviceStore(s DeviceStore) Option { return func(o *options) { o.store = s } }

// WithCredentialsProvider answers OnCredentialsRequired without the
// listener: the client asks p for a token whenever it needs one.
func WithCredentialsProvider(p credentials.Provider) Option {
	return func(o *options) { o.provider = p }
}

// WithClock sets the clock for every timer (renewal, reconnect backoff) and
// time read. Default: real time. With a virtual clock (package vclock; a
// fakebackend server's Clock() on RunT), the client joins that clock's
// world: the server's Advance waits for everything the client does, and
// the client's backoff jitter comes from the world's seed.
func WithClock(c clock.Clock) Option { return func(o *options) { o.clock = c } }

// WithSeed seeds the client's backoff jitter (reconnects and renewal
// retries), so that a run replays exactly. Without it, a client in a
// virtual world draws from the world's seed, and any other client from a
// random source.
func WithSeed(seed uint64) Option { return func(o *options) { o.seed = &seed } }

// seededRand returns a uniform source in [0, 1) from seed and name.
func seededRand(seed uint64, name string) func() float64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(name))
	return rand.New(rand.NewPCG(seed, h.Sum64())).Float64
}

// WithLogger sends the client's logs to l (default: none). No secret or
// token is ever logged.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithBackoff sets the reconnect backoff (default registration.Backoff{}).
func WithBackoff(b registration.Backoff) Option { return func(o *options) { o.backoff = b } }

// WithRenewalPolicy sets when TTL renewal happens (default
// registration.DefaultRenewal).
func WithRenewalPolicy(p registration.RenewalPolicy) Option {
	return func(o *options) { o.renewal = p }
}

// WithListener sets the listener.
func WithListener(l Listener) Option { return func(o *options) { o.listener = l } }

// WithCapabilities sets the capabilities the instance registers with
// (default ["calling"]; EnableManagedPush adds "push").
func WithCapabilities(caps ...string) Option {
	return func(o *options) { o.capabilities = append([]string(nil), caps...) }
}

// WithSDKVersion sets the SDK version string sent on registration.
func WithSDKVersion(v string) Option { return func(o *options) { o.sdkVersion = v } }

// WithDialConfig tunes the WebSocket connection (TLS, timeouts, limits).
func WithDialConfig(d transport.DialConfig) Option { return func(o *options) { o.dial = d } }

// WithInMemory connects to a backend in the same process over an
// in-memory pipe instead of a socket: the backend must serve in memory
// (fakebackend.Config.InMemory), and the client's URL names it as usual.
// The handshake, framing and protocol are those of the network; there is
// no file descriptor per client and no keepalive. It sets
// transport.DialConfig.InMemory, whatever WithDialConfig says.
func WithInMemory() Option { return func(o *options) { o.inMemory = true } }

// WithTransitionHook calls f for every state change of the client, in
// order, on the client's loop goroutine, once State, Stats and Instance
// show the change; in a virtual world the clock's Now is the time of the
// change. f must return quickly and must not call a method that waits for
// the client's loop (Start, EnableManagedPush, RegisterPushToken,
// TerminateGracefully, WaitStarted, WaitIdle): it would wait for itself.
// Reading State, Stats, Instance and Err is fine. To watch from another
// goroutine, use Subscribe instead.
func WithTransitionHook(f func(registration.Transition)) Option {
	return func(o *options) { o.onTransition = f }
}

// WithReconnectLimit sets how many connection attempts in a row may fail
// before the client fails (default DefaultReconnectLimit; negative: never
// give up).
func WithReconnectLimit(n int) Option { return func(o *options) { o.reconnectLimit = n } }

// WithInstanceTTL asks the provider or listener for tokens that limit the
// instance's TTL from the first registration on (Request.InstanceTTL).
func WithInstanceTTL(on bool) Option { return func(o *options) { o.instanceTTL = on } }

// WithEnvironmentHosts adds backend hosts besides New's environmentHost
// (same forms: "host:port" or a ws:// or wss:// URL), for a backend that
// several replicas serve (sinchsim serve --store redis://...). The clients
// of a process start at the hosts in turn (round-robin), and a client
// whose connection fails or is lost tries the next host when it
// reconnects; its instance credentials work on every replica.
func WithEnvironmentHosts(hosts ...string) Option {
	return func(o *options) { o.hosts = append(o.hosts, hosts...) }
}

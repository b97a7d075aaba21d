package sim

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/fakebackend"
	"github.com/sinchsim/sinchsim/registration"
)

// Renewal policies of Config.Policy.
const (
	// PolicyDefault renews on a timer: when 7 days remain if the TTL is 8
	// days or more, else when 24 hours remain (registration.DefaultRenewal).
	PolicyDefault = "default"
	// PolicyAtStart renews only when the client starts, with the same
	// thresholds (registration.AtStartRenewal).
	PolicyAtStart = "at-start"
)

// Transports of Config.Transport.
const (
	// TransportMemory connects every client over an in-memory pipe.
	TransportMemory = "memory"
	// TransportWebSocket connects every client over a loopback socket: two
	// open files per client.
	TransportWebSocket = "websocket"
)

// MaxLanes is the largest fleet whose clients each get a lane of their own
// in Result.Lanes (and in the HTML timeline).
const MaxLanes = 50

// MaxExpiredUsers caps Result.ExpiredUsers.
const MaxExpiredUsers = 20

// Window is a stretch of simulated time, from Start after the beginning of
// the simulation, for Duration: START ≤ t < START+DURATION.
type Window struct {
	Start, Duration time.Duration
}

// String returns the window as START/DURATION, e.g. "240h0m0s/36h0m0s".
func (w Window) String() string { return w.Start.String() + "/" + w.Duration.String() }

// Short writes a duration as Go does, without the zero minutes and
// seconds: "720h", "36h", "1h30m", "0s".
func Short(d string) string {
	if strings.HasSuffix(d, "m0s") {
		d = d[:len(d)-2]
	}
	if strings.HasSuffix(d, "h0m") {
		d = d[:len(d)-2]
	}
	return d
}

// ShortWindow is Short for a START/DURATION window.
func ShortWindow(w string) string {
	a, b, _ := strings.Cut(w, "/")
	return Short(a) + "/" + Short(b)
}

// End returns Start+Duration.
func (w Window) End() time.Duration { return w.Start + w.Duration }

// contains reports whether offset d falls in the window.
func (w Window) contains(d time.Duration) bool { return d >= w.Start && d < w.End() }

// ParseWindow parses START/DURATION, both Go durations ("240h/36h").
func ParseWindow(s string) (Window, error) {
	a, b, ok := strings.Cut(s, "/")
	if !ok {
		return Window{}, fmt.Errorf("%q is not START/DURATION (e.g. 240h/36h)", s)
	}
	start, err := time.ParseDuration(a)
	if err != nil || start < 0 {
		return Window{}, fmt.Errorf("%q: START must be a duration of 0 or more (e.g. 240h)", s)
	}
	d, err := time.ParseDuration(b)
	if err != nil || d <= 0 {
		return Window{}, fmt.Errorf("%q: DURATION must be a positive duration (e.g. 36h)", s)
	}
	return Window{Start: start, Duration: d}, nil
}

// MaxCallsPerDay bounds Config.CallsPerDay: a call a minute per client
// (the backend's default limit is 30 a minute).
const MaxCallsPerDay = 1440

// Config describes a simulation.
type Config struct {
	Bots        int
	Period      time.Duration
	InstanceTTL time.Duration
	// RenewalFailureRate is the probability that a renewal cycle fails:
	// the application answers the cycle's first token request and every
	// retry of it with RegisterFailed, until the cycle ends (the instance
	// expires, or, with PolicyAtStart, the client starts again).
	RenewalFailureRate float64
	// Outages are windows in which the auth server refuses every token
	// request, for renewals and registrations alike.
	Outages []Window
	// BackendOutages are windows in which the backend refuses connections
	// and drops the open ones.
	BackendOutages []Window
	// Policy is PolicyDefault (the default) or PolicyAtStart.
	Policy string
	// RestartEvery, when set, restarts every client periodically (a new
	// client on the same device store, as an application restart does),
	// each one RestartEvery after its own start.
	RestartEvery time.Duration
	// Stagger spreads the clients' starts evenly over it: client i starts
	// at i×Stagger/Bots. Zero: every client starts at once.
	Stagger time.Duration
	// CallsPerDay, when positive, makes every client call another one
	// that often per simulated day (the callee answers, the caller hangs
	// up), so that expiries show up as failed calls (see Calls).
	CallsPerDay float64
	// Seed makes the run reproducible: the same seed, the same results.
	Seed uint64
	// Start is the simulated start time (default fakebackend.DefaultMockTime).
	Start time.Time
	// Transport is TransportMemory (the default) or TransportWebSocket.
	Transport string
	// Renewal, when set, replaces the policy's registration.RenewalPolicy
	// (tests use it for a backoff without jitter).
	Renewal registration.RenewalPolicy
}

// Validate checks cfg as Run does, without running anything. Its errors
// name the fields by the flags of sinchsim simulate.
func (cfg Config) Validate() error {
	switch {
	case cfg.Bots < 1:
		return errors.New("--bots must be at least 1")
	case cfg.Period <= 0:
		return errors.New("--period must be positive")
	case cfg.InstanceTTL < credentials.MinInstanceTTL:
		return errors.New("--instance-ttl must be at least 48h (Sinch's minimum)")
	case cfg.RenewalFailureRate < 0 || cfg.RenewalFailureRate > 1 || math.IsNaN(cfg.RenewalFailureRate):
		return errors.New("--renewal-failure-rate must be between 0 and 1")
	case cfg.Policy != "" && cfg.Policy != PolicyDefault && cfg.Policy != PolicyAtStart:
		return errors.New("--renewal-policy must be default or at-start")
	case cfg.Transport != "" && cfg.Transport != TransportMemory && cfg.Transport != TransportWebSocket:
		return errors.New("--transport must be memory or websocket")
	case cfg.RestartEvery < 0 || (cfg.RestartEvery > 0 && cfg.RestartEvery < time.Minute):
		return errors.New("--restart-every must be 0 or at least 1m")
	case cfg.Stagger < 0:
		return errors.New("--stagger must not be negative")
	case cfg.CallsPerDay < 0 || cfg.CallsPerDay > MaxCallsPerDay || math.IsNaN(cfg.CallsPerDay):
		return fmt.Errorf("--calls-per-day must be between 0 and %d", MaxCallsPerDay)
	case cfg.CallsPerDay > 0 && cfg.Bots < 2:
		return errors.New("--calls-per-day needs at least 2 --bots")
	}
	for _, w := range append(append([]Window(nil), cfg.Outages...), cfg.BackendOutages...) {
		if w.Start < 0 || w.Duration <= 0 {
			return fmt.Errorf("outage %v: START must be 0 or more and DURATION positive", w)
		}
	}
	return nil
}

// renewalPolicy returns the clients' renewal policy.
func (cfg Config) renewalPolicy() registration.RenewalPolicy {
	switch {
	case cfg.Renewal != nil:
		return cfg.Renewal
	case cfg.Policy == PolicyAtStart:
		return registration.AtStartRenewal{}
	}
	return registration.DefaultRenewal{}
}

func (cfg Config) withDefaults() Config {
	if cfg.Policy == "" {
		cfg.Policy = PolicyDefault
	}
	if cfg.Transport == "" {
		cfg.Transport = TransportMemory
	}
	if cfg.Start.IsZero() {
		cfg.Start = fakebackend.DefaultMockTime
	}
	return cfg
}

// Package sim simulates instance TTL renewal for a fleet of real clients
// against the real backend, in process, on one virtual clock (sinchsim
// simulate): a year of 100,000 clients in under a minute, with outages of
// the auth server and of the backend, and a timeline of what happened.
//
// The backend and every client share one vclock.Clock with tie batching:
// the timers due at the same instant (every client's renewal when they all
// started together) fire together, and the world settles once after them.
// Clients connect over the in-memory transport by default: the same
// handshake, framing and protocol as over WebSocket, without a socket.
// A seeded run gives the same counts and times every time.
package sim

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sinchsim/sinchsim/client"
	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/fakebackend"
	"github.com/sinchsim/sinchsim/registration"
	"github.com/sinchsim/sinchsim/vclock"
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

// Seconds is a sum and a maximum of durations, in seconds.
type Seconds struct {
	Sum float64 `json:"sum"`
	Max float64 `json:"max"`
}

// Expiry is one instance that expired: its user and when its TTL ran out.
type Expiry struct {
	User string    `json:"user"`
	At   time.Time `json:"at"`
}

// Day is one day of the per-day series (the last one may be shorter).
type Day struct {
	// Day counts from 1; Date is its first instant's date.
	Day  int    `json:"day"`
	Date string `json:"date"`
	// Registered is the number of clients registered at the day's end;
	// Renewing and Unregistered count the clients that were in a renewal
	// cycle, and unregistered, at some time during the day.
	Registered   int `json:"registered"`
	Renewing     int `json:"renewing"`
	Unregistered int `json:"unregistered"`
	// Events of the day, as in Result.
	Renewals            int     `json:"renewals"`
	RenewalCyclesFailed int     `json:"renewalCyclesFailed"`
	Retries             int     `json:"retries"`
	Expiries            int     `json:"expiries"`
	ReRegistrations     int     `json:"reRegistrations"`
	UnregisteredSeconds float64 `json:"unregisteredSeconds"`
}

// Hour is one hour of the timeline: as Day's Registered, Renewing and
// Unregistered, per hour.
type Hour struct {
	Registered, Renewing, Unregistered int
}

// Span is a stretch of simulated time.
type Span struct {
	From, To time.Time
}

// Instance is one instance of a lane: from its registration to its end;
// Expired tells whether it ended by expiring (else it was still alive when
// the simulation ended).
type Instance struct {
	Span
	Expired bool
}

// Lane is what happened to one client, for fleets of MaxLanes or fewer.
type Lane struct {
	User         string
	Instances    []Instance
	Renewals     []time.Time // successful renewals
	FailedCycles []Span      // renewal cycles that ended without a renewal
	Unregistered []Span      // stretches without a registration, after the first one
	Restarts     []time.Time
}

// Result is what happened. JSON names are a contract of sinchsim simulate
// --json (docs/SIMULATE.md).
type Result struct {
	Bots               int       `json:"bots"`
	Period             string    `json:"period"`
	InstanceTTL        string    `json:"instanceTtl"`
	RenewalPolicy      string    `json:"renewalPolicy"`
	RenewalFailureRate float64   `json:"renewalFailureRate"`
	Outages            []string  `json:"outages"`
	BackendOutages     []string  `json:"backendOutages"`
	RestartEvery       string    `json:"restartEvery"`
	Stagger            string    `json:"stagger"`
	Transport          string    `json:"transport"`
	Seed               uint64    `json:"seed"`
	Start              time.Time `json:"start"`
	End                time.Time `json:"end"`

	// Renewals counts successful renewals; RenewalCyclesFailed the
	// renewal cycles that ended without one; Retries the renewal tries
	// after the first of their cycle.
	Renewals            int `json:"renewals"`
	RenewalCyclesFailed int `json:"renewalCyclesFailed"`
	Retries             int `json:"retries"`
	// Expiries counts instances whose TTL ran out; ReRegistrations the
	// instances created after a client's first.
	Expiries        int `json:"expiries"`
	ReRegistrations int `json:"reRegistrations"`
	// RegistrationFailures counts token requests for a new registration
	// that the auth server refused (the client fails; the application
	// starts it again with backoff).
	RegistrationFailures int `json:"registrationFailures"`
	Restarts             int `json:"restarts"`
	ConnectionLosses     int `json:"connectionLosses"`
	// FirstExpiry and LastExpiry are null when nothing expired.
	FirstExpiry *time.Time `json:"firstExpiry"`
	LastExpiry  *time.Time `json:"lastExpiry"`
	// ExpiredUsers lists the first expiries in time order, at most
	// MaxExpiredUsers; ExpiredUsersTotal counts the users that lost an
	// instance at least once.
	ExpiredUsers      []Expiry `json:"expiredUsers"`
	ExpiredUsersTotal int      `json:"expiredUsersTotal"`
	// UnregisteredSeconds: the time clients spent unregistered after their
	// first registration, summed over clients, and the longest stretch.
	UnregisteredSeconds Seconds        `json:"unregisteredSeconds"`
	RejectionsByCode    map[string]int `json:"rejectionsByCode"`
	// Failed counts the clients failed at the end.
	Failed      int     `json:"failed"`
	Steps       int     `json:"steps"`
	WallSeconds float64 `json:"wallSeconds"`
	Days        []Day   `json:"days"`

	// Hours is the per-hour timeline; Lanes the per-client one (fleets of
	// MaxLanes or fewer); both for the HTML page.
	Hours []Hour `json:"-"`
	Lanes []Lane `json:"-"`
}

// Validate checks cfg as Run does, without running anything.
func (cfg Config) Validate() error {
	switch {
	case cfg.Bots < 1:
		return errors.New("at least one client is needed")
	case cfg.Period <= 0:
		return errors.New("the period must be positive")
	case cfg.InstanceTTL < credentials.MinInstanceTTL:
		return fmt.Errorf("the instance TTL %v is under 48h, Sinch's minimum", cfg.InstanceTTL)
	case cfg.RenewalFailureRate < 0 || cfg.RenewalFailureRate > 1 || math.IsNaN(cfg.RenewalFailureRate):
		return errors.New("the renewal failure rate must be within [0, 1]")
	case cfg.Policy != "" && cfg.Policy != PolicyDefault && cfg.Policy != PolicyAtStart:
		return fmt.Errorf("unknown renewal policy %q (default or at-start)", cfg.Policy)
	case cfg.Transport != "" && cfg.Transport != TransportMemory && cfg.Transport != TransportWebSocket:
		return fmt.Errorf("unknown transport %q (memory or websocket)", cfg.Transport)
	case cfg.RestartEvery < 0:
		return errors.New("the restart interval must not be negative")
	case cfg.RestartEvery > 0 && cfg.RestartEvery < time.Minute:
		return errors.New("the restart interval must be a minute or more")
	case cfg.Stagger < 0:
		return errors.New("the stagger must not be negative")
	}
	for _, w := range append(append([]Window(nil), cfg.Outages...), cfg.BackendOutages...) {
		if w.Start < 0 || w.Duration <= 0 {
			return fmt.Errorf("outage %v: START must be 0 or more and DURATION positive", w)
		}
	}
	return nil
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

// sim is one run.
type sim struct {
	cfg    Config
	world  *vclock.Clock
	srv    *fakebackend.Server
	minter *credentials.Minter
	store  client.DeviceStore
	policy registration.RenewalPolicy
	jobs   *jobs
	bots   []*bot
	start  time.Time
	end    time.Time
	ended  atomic.Bool // no more recording
	tl     *timeline

	expMu      sync.Mutex
	expFirst   []expiryRec // the earliest expiries, sorted, at most MaxExpiredUsers
	expCount   int
	expFirstAt time.Time
	expLastAt  time.Time

	regFailures atomic.Int64
	restarts    atomic.Int64
}

type expiryRec struct {
	at  time.Time
	bot int
}

// Run runs the simulation.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	cfg = cfg.withDefaults()
	if cfg.Transport == TransportWebSocket {
		if err := CheckOpenFiles(cfg.Bots); err != nil {
			return Result{}, err
		}
	}
	wall := time.Now()
	s := &sim{cfg: cfg, start: cfg.Start, end: cfg.Start.Add(cfg.Period), store: client.NewMemoryDeviceStore()}
	// Work inside the world ends by itself; with tie batching one settle
	// waits for every client of an instant, so its bound grows with them.
	s.world = vclock.New(cfg.Start, vclock.WithSeed(cfg.Seed), vclock.WithTieBatching(true),
		vclock.WithBounds(vclock.DefaultSettleBound+time.Duration(cfg.Bots)*time.Millisecond, 0))
	srv, err := fakebackend.NewServer(fakebackend.Config{
		Clock:        s.world,
		Applications: []fakebackend.Application{fakebackend.NewApplication()},
		Policy:       fakebackend.Policy{RateLimit: -1, MaxConnections: 2*cfg.Bots + 16},
		InMemory:     cfg.Transport == TransportMemory,
		EventLimit:   1000,
	})
	if err != nil {
		return Result{}, err
	}
	s.srv = srv
	defer srv.Close()
	app := srv.Application()
	s.minter, err = credentials.NewMinter(credentials.MinterConfig{ApplicationKey: app.Key, Secret: app.Secret, Clock: s.world, InstanceTTL: cfg.InstanceTTL})
	if err != nil {
		return Result{}, err
	}
	switch {
	case cfg.Renewal != nil:
		s.policy = cfg.Renewal
	case cfg.Policy == PolicyAtStart:
		s.policy = registration.AtStartRenewal{}
	default:
		s.policy = registration.DefaultRenewal{}
	}
	s.tl = newTimeline(cfg.Start, cfg.Period)
	s.jobs = newJobs(s.world)
	defer s.jobs.stop()

	s.bots = make([]*bot, cfg.Bots)
	for i := range s.bots {
		s.bots[i] = newBot(s, i)
	}
	for _, w := range cfg.BackendOutages {
		s.world.Schedule(w.Start, func() { _ = srv.SetDown(true) })
		s.world.Schedule(w.End(), func() { s.jobs.do(func() { _ = srv.SetDown(false) }) })
	}
	for _, b := range s.bots {
		at := time.Duration(0)
		if cfg.Stagger > 0 {
			at = time.Duration(float64(cfg.Stagger) * float64(b.i) / float64(cfg.Bots))
		}
		b.startAt = at
		if at == 0 {
			s.jobs.do(b.first)
		} else {
			s.world.ScheduleKey(b.user, at, func() { s.jobs.do(b.first) })
		}
	}
	fired := s.world.Fired()
	if err := s.world.Settle(); err != nil {
		return Result{}, s.abort(err)
	}
	if debugTimes {
		fmt.Fprintf(os.Stderr, "started after %v\n", time.Since(wall))
	}
	// A day at a time, so that a cancelled context stops the run soon; the
	// outcome does not depend on the step, every timer fires at its time.
	for left := cfg.Period; left > 0; {
		if err := ctx.Err(); err != nil {
			return Result{}, s.abort(err)
		}
		d := min(left, 24*time.Hour)
		if err := s.world.Advance(d); err != nil {
			return Result{}, s.abort(err)
		}
		left -= d
		if debugTimes && (cfg.Period-left)%(30*24*time.Hour) == 0 {
			fmt.Fprintf(os.Stderr, "day %v after %v\n", (cfg.Period-left)/(24*time.Hour), time.Since(wall))
		}
	}
	steps := int(s.world.Fired() - fired)
	if heapHook != nil {
		heapHook()
	}
	s.ended.Store(true)
	s.terminateAll()
	res := s.result()
	res.Steps = steps
	res.WallSeconds = math.Round(time.Since(wall).Seconds()*1000) / 1000
	return res, nil
}

var heapHook func()

var debugTimes = os.Getenv("SINCHSIM_SIM_DEBUG") != ""

// abort stops recording and terminates every client after a failed run.
func (s *sim) abort(err error) error {
	s.ended.Store(true)
	s.terminateAll()
	return err
}

// terminateAll terminates every client, collecting its stats.
func (s *sim) terminateAll() {
	var wg sync.WaitGroup
	ch := make(chan *bot)
	for range max(runtime.GOMAXPROCS(0)*4, 8) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range ch {
				if c := b.current(); c != nil {
					c.TerminateGracefully()
					b.collect(c)
				}
			}
		}()
	}
	for _, b := range s.bots {
		ch <- b
	}
	close(ch)
	wg.Wait()
}

// offset returns t − start, clamped to [0, period].
func (s *sim) offset(t time.Time) time.Duration {
	return min(max(t.Sub(s.start), 0), s.cfg.Period)
}

// authDown reports whether the auth server refuses token requests at t.
func (s *sim) authDown(t time.Time) bool {
	d := t.Sub(s.start)
	for _, w := range s.cfg.Outages {
		if w.contains(d) {
			return true
		}
	}
	return false
}

// expired records an expiry of bot i's instance at at.
func (s *sim) expired(i int, at time.Time) {
	s.expMu.Lock()
	defer s.expMu.Unlock()
	if s.expCount == 0 || at.Before(s.expFirstAt) {
		s.expFirstAt = at
	}
	if s.expCount == 0 || at.After(s.expLastAt) {
		s.expLastAt = at
	}
	s.expCount++
	r := expiryRec{at, i}
	less := func(a, b expiryRec) bool { return a.at.Before(b.at) || (a.at.Equal(b.at) && a.bot < b.bot) }
	if len(s.expFirst) == MaxExpiredUsers && !less(r, s.expFirst[len(s.expFirst)-1]) {
		return
	}
	k := sort.Search(len(s.expFirst), func(j int) bool { return less(r, s.expFirst[j]) })
	s.expFirst = append(s.expFirst, expiryRec{})
	copy(s.expFirst[k+1:], s.expFirst[k:])
	s.expFirst[k] = r
	if len(s.expFirst) > MaxExpiredUsers {
		s.expFirst = s.expFirst[:MaxExpiredUsers]
	}
}

func (s *sim) result() Result {
	cfg := s.cfg
	res := Result{
		Bots: cfg.Bots, Period: cfg.Period.String(), InstanceTTL: cfg.InstanceTTL.String(),
		RenewalPolicy: cfg.Policy, RenewalFailureRate: cfg.RenewalFailureRate,
		Outages: windows(cfg.Outages), BackendOutages: windows(cfg.BackendOutages),
		RestartEvery: cfg.RestartEvery.String(), Stagger: cfg.Stagger.String(), Transport: cfg.Transport,
		Seed: cfg.Seed, Start: s.start, End: s.end,
		RejectionsByCode: map[string]int{}, ExpiredUsers: []Expiry{},
	}
	for _, b := range s.bots {
		b.finish(s.end)
		if b.everExpired {
			res.ExpiredUsersTotal++
		}
		res.UnregisteredSeconds.Max = max(res.UnregisteredSeconds.Max, b.maxUnreg.Seconds())
		res.ConnectionLosses += b.connLosses
		for code, n := range b.rejections {
			res.RejectionsByCode[code] += n
		}
		if b.state == registration.StateFailed {
			res.Failed++
		}
		if b.lane != nil {
			res.Lanes = append(res.Lanes, *b.lane)
		}
	}
	res.Days, res.Hours = s.tl.series()
	for _, d := range res.Days {
		res.Renewals += d.Renewals
		res.RenewalCyclesFailed += d.RenewalCyclesFailed
		res.Retries += d.Retries
		res.Expiries += d.Expiries
		res.ReRegistrations += d.ReRegistrations
		res.UnregisteredSeconds.Sum += d.UnregisteredSeconds
	}
	res.UnregisteredSeconds.Sum = math.Round(res.UnregisteredSeconds.Sum*1000) / 1000
	res.RegistrationFailures = int(s.regFailures.Load())
	res.Restarts = int(s.restarts.Load())
	if s.expCount > 0 {
		first, last := s.expFirstAt, s.expLastAt
		res.FirstExpiry, res.LastExpiry = &first, &last
	}
	for _, r := range s.expFirst {
		res.ExpiredUsers = append(res.ExpiredUsers, Expiry{User: s.bots[r.bot].user, At: r.at})
	}
	return res
}

func windows(ws []Window) []string {
	out := make([]string, 0, len(ws))
	for _, w := range ws {
		out = append(out, w.String())
	}
	return out
}

// draw is a deterministic uniform number in [0, 1) for a bot's n-th
// renewal cycle: independent of scheduling, so runs reproduce.
func draw(seed uint64, bot, n int) float64 {
	return rand.New(rand.NewPCG(seed, uint64(bot)<<32|uint64(uint32(n)))).Float64()
}

// SortedCodes returns the keys of m, sorted.
func SortedCodes(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// jobs runs work that blocks (starting, restarting and terminating clients)
// off the goroutine that moves the clock, counted as work of the world.
type jobs struct {
	w  *vclock.Work
	ch chan func()
	wg sync.WaitGroup
}

func newJobs(world *vclock.Clock) *jobs {
	j := &jobs{w: world.NewWork("simulation: starting and restarting clients", false), ch: make(chan func(), 4096)}
	for range max(runtime.GOMAXPROCS(0)*16, 32) {
		j.wg.Add(1)
		go func() {
			defer j.wg.Done()
			for f := range j.ch {
				f()
				j.w.End(1)
			}
		}()
	}
	return j
}

func (j *jobs) do(f func()) {
	j.w.Begin(1)
	j.ch <- f
}

func (j *jobs) stop() {
	close(j.ch)
	j.wg.Wait()
	j.w.Close()
}

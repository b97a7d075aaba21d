package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/fakebackend"
	"github.com/sinchsim/sinchsim/internal/fleet"
)

var botsCommand = command{
	name:    "bots",
	summary: "run a fleet of clients that register as users, and report how it went",
	run:     runBots,
}

const botsAbout = `Starts N SinchClients (users PREFIX0 ... PREFIX(N-1)), at most C at a time,
keeps them online for --duration, terminates them and prints a summary:
clients, started, instances created, re-authenticated, failures by code
with an example message for each, failures after the start (revoked, gave
up reconnecting), instance expiries, the instance TTLs granted,
registration latency p50/p95/p99 and registrations per second.

Without --url the fleet registers against an in-process fake backend. A
bot whose connection attempt fails (connection refused, no such host)
fails at once with that error. --url takes several URLs of one backend,
comma-separated (its replicas, sinchsim serve --store): the bots start
at them in turn, and a bot whose connection fails or is lost tries the
next one.

--procs N spreads the bots over N worker processes (this command run
again, each with the whole --concurrency), past one process's limit of
open files (with --url: the
in-process backend would hold every connection itself), and merges their
results; the percentiles are exact, from the merged latency histograms,
which --json includes. "sinchsim bots merge A.json B.json ..." merges the
--json results of runs on several machines the same way (give each
machine its own --first-user range).

Tokens come from --app-secret (self-signed: for tests only, never ship the
secret in an app) or from an auth server, --auth-url, a URL template in
which {userId}, {applicationKey} and {instanceTtl} are substituted.
{instanceTtl} is true or false (whether the token must limit the
instance's TTL) or, with --instance-ttl, the TTL in seconds; with
--auth-method POST the default JSON body carries it too. When the
template has no {instanceTtl}, the auth server decides the TTL and bots
warn so. With --store each bot keeps its device record in DIR/<user>, so
a second run against the same backend (--url) re-authenticates instead of
registering.

With --calls-per-minute N the bots call each other while online: the
fleet places N calls a minute in all, each from a random online bot to a
random other bot; the callee answers after a random delay of up to
--answer-delay, the caller hangs up after --hold. The summary adds the
calls placed, answered and failed by cause (the backend's refusal code, or
why an unanswered call ended) and the call setup latency p50/p95/p99
(callUser until the backend's callProgressing).

Exit status: 0 when every client started and none failed or lost its
instance while online, and no call failed; 1 otherwise, 2 usage.`

// botsFlags holds bots' flags. define registers them, validate checks
// them, and the run steps below build the token provider, the backend
// and the fleet's configuration from them.
type botsFlags struct {
	url, appKey, appSecret         string
	authURL, authField, authMethod string
	n, concurrency                 int
	duration, instanceTTL          time.Duration
	store, prefix                  string
	asJSON, floor                  bool
	callsPerMinute                 float64
	answerDelay, hold              time.Duration
	procs, firstUser               int
	hosts                          []string           // set by validate: --url's URLs after the first
	secret                         credentials.Secret // set by validate, or by backend
}

func (f *botsFlags) define(fs *flagSet) {
	fs.StringVar(&f.url, "url", "", "backend WebSocket URL, ws://HOST:PORT, or several of one backend's\nreplicas, comma-separated (default: an in-process backend)")
	fs.StringVar(&f.appKey, "app-key", "", "application key (default with the in-process backend: a generated one)")
	fs.StringVar(&f.appSecret, "app-secret", "", "application secret: bots sign their own tokens (test use only); with\n--url and without --auth-url, when the flag is absent, it is read from the\nenvironment variable SINCHSIM_APP_SECRET, which keeps it out of ps")
	fs.StringVar(&f.authURL, "auth-url", "", "auth server URL template with {userId} (and {applicationKey},\n{instanceTtl}): bots fetch tokens there")
	fs.StringVar(&f.authField, "auth-field", "token", "with --auth-url: the JSON member holding the token")
	fs.StringVar(&f.authMethod, "auth-method", "GET", "with --auth-url: GET or POST")
	fs.IntVar(&f.n, "n", 10, "number of clients")
	fs.IntVar(&f.concurrency, "concurrency", 32, "clients registering at the same time")
	fs.DurationVar(&f.duration, "duration", 0, "how long started clients stay online (0: register and leave); the\nrun ends early when none is left online")
	fs.StringVar(&f.store, "store", "", "directory of device stores, one per bot (default: in memory)")
	fs.StringVar(&f.prefix, "user-prefix", "bot-", "user ids are this prefix plus the bot's number")
	fs.DurationVar(&f.instanceTTL, "instance-ttl", 0, "limit each instance's TTL (sinch:rtc:instance:exp), at least 48h; with\n--auth-url, {instanceTtl} carries it in seconds")
	fs.Float64Var(&f.callsPerMinute, "calls-per-minute", 0, "calls the fleet places per minute in all while online (needs --duration)")
	fs.DurationVar(&f.answerDelay, "answer-delay", fleet.DefaultAnswerDelay, "with --calls-per-minute: a callee answers after a random delay up to this")
	fs.DurationVar(&f.hold, "hold", fleet.DefaultHoldTime, "with --calls-per-minute: a caller hangs up this long after the answer")
	fs.BoolVar(&f.asJSON, "json", false, "print exactly one JSON object with the summary")
	fs.IntVar(&f.procs, "procs", 1, "spread the bots over this many worker processes")
	fs.IntVar(&f.firstUser, "first-user", 0, "the number of the first bot (user PREFIX<first-user>), to split a\nfleet over machines")
	fs.BoolVar(&f.floor, "floor", false, "after the fleet, measure the floor: as many bare WebSocket connections\n(connect, one echo of a registration's size, close) at the same\nconcurrency, to a loopback echo server, and print registrations/s as a\nratio of it (one process: not with --procs)")
}

// validate checks the flags and parses the secret; every error is a
// usageErr.
func (f *botsFlags) validate(fs *flagSet) error {
	if fs.secretFromEnv && (f.authURL != "" || f.url == "") {
		// The environment's secret serves only where a flag would be
		// needed: for tokens signed against a backend at --url.
		f.appSecret, fs.secretFromEnv = "", false
	}
	switch {
	case f.n < 1:
		return usagef("-n must be at least 1")
	case f.procs < 1 || f.procs > f.n:
		return usagef("--procs must be between 1 and -n")
	case f.floor && f.procs > 1:
		// Each worker would measure a floor of its own, which no merge
		// can add up into one.
		return usagef("--floor measures one process: leave out --procs")
	case f.firstUser < 0:
		return usagef("--first-user must not be negative")
	case f.concurrency < 1:
		return usagef("--concurrency must be at least 1")
	case f.duration < 0:
		return usagef("--duration must not be negative")
	case f.callsPerMinute < 0:
		return usagef("--calls-per-minute must not be negative")
	case f.callsPerMinute > 0 && f.duration == 0:
		return usagef("--calls-per-minute needs --duration: bots call while they stay online")
	case f.answerDelay < 0 || f.hold < 0:
		return usagef("--answer-delay and --hold must not be negative")
	case f.instanceTTL != 0 && f.instanceTTL < credentials.MinInstanceTTL:
		return usagef("--instance-ttl must be at least 48h (Sinch's minimum)")
	case f.appSecret != "" && f.authURL != "":
		return usagef("give --app-secret or --auth-url, not both")
	case f.url != "" && f.appSecret == "" && f.authURL == "":
		return usagef("with --url, give --app-secret (or set %s) or --auth-url for the tokens", envAppSecret)
	case (f.url != "" || f.appSecret != "") && f.appKey == "":
		return usagef("missing required flag --app-key")
	}
	if f.authURL != "" && f.appKey == "" && f.url == "" {
		return usagef("with --auth-url, give the --app-key the auth server signs for")
	}
	if f.url != "" {
		urls := strings.Split(f.url, ",")
		for k, u := range urls {
			if urls[k] = strings.TrimSpace(u); urls[k] == "" {
				return usagef("--url has an empty URL in its list")
			}
		}
		f.url, f.hosts = urls[0], urls[1:]
	}
	if err := checkPrefix(f.prefix, f.firstUser+f.n); err != nil {
		return usagef("%v", err)
	}
	if f.appSecret != "" {
		var err error
		if f.secret, err = credentials.ParseSecret(f.appSecret); err != nil {
			return usagef("%s is not valid base64", fs.secretName())
		}
	}
	return nil
}

// authProvider returns the provider that fetches tokens from --auth-url,
// or nil without one. It warns on e when the auth server cannot learn
// --instance-ttl. The error is a usageErr.
func (f *botsFlags) authProvider(e *env) (credentials.Provider, error) {
	if f.authURL == "" {
		return nil, nil
	}
	p, err := credentials.NewHTTPProvider(credentials.HTTPProviderConfig{URL: f.authURL, Field: f.authField, Method: f.authMethod, InstanceTTL: f.instanceTTL})
	if err != nil {
		return nil, usagef("%s", strings.TrimPrefix(err.Error(), credentials.ErrConfig.Error()+": "))
	}
	if f.instanceTTL > 0 && !strings.Contains(f.authURL, "{instanceTtl}") && !strings.EqualFold(f.authMethod, http.MethodPost) {
		e.errorf("warning: --auth-url has no {instanceTtl}, so the auth server is not told --instance-ttl and decides the TTL itself (the summary shows the TTLs granted)")
	}
	return p, nil
}

// backend returns the URL the fleet registers against and how to name it.
// Without --url it starts an in-process backend, whose application takes
// --app-key and --app-secret when given (else generated ones, which the
// flags then take); stop closes it.
func (f *botsFlags) backend() (target, where string, stop func(), err error) {
	if f.url != "" {
		return f.url, strings.Join(append([]string{f.url}, f.hosts...), ", "), func() {}, nil
	}
	app := fakebackend.NewApplication()
	if f.appKey != "" {
		app.Key = f.appKey
	}
	if !f.secret.IsZero() {
		app.Secret = f.secret
	}
	srv, err := fakebackend.NewServer(fakebackend.Config{Applications: []fakebackend.Application{app}})
	if err != nil {
		return "", "", nil, err
	}
	f.appKey = app.Key
	if f.authURL == "" {
		f.secret = app.Secret
	}
	return srv.URL(), srv.URL() + " (in-process backend)", func() { srv.Close() }, nil
}

// selfSigned returns the provider that signs tokens with the secret; the
// error is a usageErr.
func (f *botsFlags) selfSigned() (credentials.Provider, error) {
	p, err := credentials.NewSelfSignedProvider(credentials.MinterConfig{ApplicationKey: f.appKey, Secret: f.secret, InstanceTTL: f.instanceTTL})
	if err != nil {
		return nil, usagef("%v", err)
	}
	return p, nil
}

// config returns the fleet's configuration.
func (f *botsFlags) config(target string, provider credentials.Provider) fleet.Config {
	return fleet.Config{
		URL: target, Hosts: f.hosts, ApplicationKey: f.appKey, Provider: provider, N: f.n, Concurrency: f.concurrency,
		Duration: f.duration, StoreDir: f.store, UserPrefix: f.prefix, FirstUser: f.firstUser, InstanceTTL: f.instanceTTL > 0,
		CallsPerMinute: f.callsPerMinute, AnswerDelay: f.answerDelay, HoldTime: f.hold,
	}
}

func runBots(ctx context.Context, e *env, args []string) int {
	if len(args) > 0 && args[0] == "merge" {
		sub := *e
		sub.name = e.name + " merge"
		return runBotsMerge(&sub, args[1:])
	}
	var f botsFlags
	fs := e.newFlags("[flags]", botsAbout)
	f.define(fs)
	if code, ok := fs.parseAll(args, 0); !ok {
		return code
	}
	if err := f.validate(fs); err != nil {
		return fs.fail(err)
	}
	provider, err := f.authProvider(e)
	if err != nil {
		return fs.fail(err)
	}
	target, where, stop, err := f.backend()
	if err != nil {
		e.errorf("starting the in-process backend: %v", err)
		return exitFail
	}
	defer stop()
	if provider == nil {
		if provider, err = f.selfSigned(); err != nil {
			return fs.fail(err)
		}
	}
	if f.procs > 1 {
		return f.runWorkers(ctx, e, args, target, where)
	}
	return f.run(ctx, e, f.config(target, provider), where)
}

// run runs the fleet, prints the summary and returns the exit status.
func (f *botsFlags) run(ctx context.Context, e *env, cfg fleet.Config, where string) int {
	bar := newProgressBar(e, f.asJSON)
	cfg.Progress = bar.update
	res, runErr := fleet.Run(ctx, cfg)
	bar.finish()
	if f.floor && runErr == nil && res.Started > 0 {
		floor, err := fleet.RunFloor(ctx, cfg.N, cfg.Concurrency)
		if err != nil {
			e.errorf("measuring the floor: %v", err)
			return exitFail
		}
		res.SetFloor(floor)
	}
	return report(e, f.asJSON, where, res, runErr)
}

// report prints a fleet's result (the summary, or its JSON) and returns
// the exit status.
func report(e *env, asJSON bool, where string, res fleet.Result, runErr error) int {
	if asJSON {
		enc := json.NewEncoder(e.stdout)
		if err := enc.Encode(res); err != nil {
			e.errorf("%v", err)
			return exitFail
		}
	} else {
		printFleet(e, where, res)
	}
	if runErr != nil {
		e.errorf("interrupted: %v", runErr)
		return exitInterrupted
	}
	if res.Failures() > 0 {
		return exitFail
	}
	return exitOK
}

// checkPrefix makes sure every user id the fleet will use is valid.
func checkPrefix(prefix string, n int) error {
	if err := credentials.ValidateUserID(fmt.Sprintf("%s%d", prefix, n-1)); err != nil {
		return fmt.Errorf("--user-prefix %q gives invalid user ids: %v", prefix, err)
	}
	return nil
}

func printFleet(e *env, where string, r fleet.Result) {
	w := e.stdout
	fmt.Fprintf(w, "bots: %d clients against %s\n", r.Clients, where)
	fmt.Fprintf(w, "  started              %d\n", r.Started)
	fmt.Fprintf(w, "  instances created    %d\n", r.InstancesCreated)
	fmt.Fprintf(w, "  re-authenticated     %d\n", r.Reauthenticated)
	fmt.Fprintf(w, "  failed               %d\n", r.Failed)
	printCodes(w, r.FailuresByCode, r.FailureExamples)
	fmt.Fprintf(w, "  failed after start   %d\n", r.FailedAfterStart)
	printCodes(w, r.FailuresAfterStartByCode, r.FailureExamples)
	fmt.Fprintf(w, "  instance expiries    %d\n", r.Expiries)
	if r.ConnectionLosses > 0 || r.RegisteredAgain > 0 {
		fmt.Fprintf(w, "  connections lost     %d (then reconnected)\n", r.ConnectionLosses)
		fmt.Fprintf(w, "  registered again     %d\n", r.RegisteredAgain)
	}
	fmt.Fprintf(w, "  granted instance TTL %s\n", grantedText(r.GrantedInstanceTTL))
	if r.Started == 0 {
		fmt.Fprintf(w, "  latency p50/p95/p99  n/a\n")
	} else {
		fmt.Fprintf(w, "  latency p50/p95/p99  %.1f / %.1f / %.1f ms\n", r.LatencyMs.P50, r.LatencyMs.P95, r.LatencyMs.P99)
	}
	fmt.Fprintf(w, "  registrations/s     %.0f (%d in %v)\n", r.RegistrationsPerSecond, r.Started, time.Duration(r.ElapsedSeconds*float64(time.Second)).Round(time.Millisecond))
	if fl := r.Floor; fl != nil {
		fmt.Fprintf(w, "  floor                %.0f connections/s (bare WebSocket connect, echo, close; %d at the same concurrency)\n", fl.PerSecond, fl.Connections)
		fmt.Fprintf(w, "  ratio to the floor   %.2f\n", fl.Ratio)
	}
	if c := r.Calls; c != nil {
		fmt.Fprintf(w, "  calls placed         %d\n", c.Placed)
		fmt.Fprintf(w, "  calls answered       %d\n", c.Answered)
		fmt.Fprintf(w, "  calls failed         %d\n", c.Failed)
		printCodes(w, c.FailedByCause, nil)
		if c.SetupLatencyMs == (fleet.Latency{}) {
			fmt.Fprintf(w, "  call setup p50/p95/p99 n/a\n")
		} else {
			fmt.Fprintf(w, "  call setup p50/p95/p99 %.1f / %.1f / %.1f ms\n", c.SetupLatencyMs.P50, c.SetupLatencyMs.P95, c.SetupLatencyMs.P99)
		}
	}
}

// printCodes prints counts by code, sorted by code, each with its example
// when examples has one (bots' failures and failed calls, simulate's
// rejections and failed calls).
func printCodes(w io.Writer, byCode map[string]int, examples map[string]string) {
	for _, c := range slices.Sorted(maps.Keys(byCode)) {
		fmt.Fprintf(w, "    %-32s %d\n", c, byCode[c])
		if ex := examples[c]; ex != "" {
			fmt.Fprintf(w, "      e.g. %s\n", printable(ex))
		}
	}
}

// grantedText is the granted instance TTLs on one line: "72h (8
// instances)", "48h to 72h (8 instances), no TTL (2)", "no TTL (10
// instances)" or, with nothing started, "n/a".
func grantedText(g fleet.GrantedTTL) string {
	switch {
	case g.Limited == 0 && g.Unlimited == 0:
		return "n/a"
	case g.Limited == 0:
		return fmt.Sprintf("no TTL (%s)", instances(g.Unlimited))
	}
	s := ttlText(g.MinSeconds)
	if g.MaxSeconds != g.MinSeconds {
		s += " to " + ttlText(g.MaxSeconds)
	}
	s += " (" + instances(g.Limited) + ")"
	if g.Unlimited > 0 {
		s += fmt.Sprintf(", no TTL (%d)", g.Unlimited)
	}
	return s
}

func instances(n int) string {
	if n == 1 {
		return "1 instance"
	}
	return fmt.Sprintf("%d instances", n)
}

// ttlText writes whole hours as "72h", anything else as a Duration.
func ttlText(seconds int64) string {
	d := time.Duration(seconds) * time.Second
	if d%time.Hour == 0 {
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return d.String()
}

// progressBar draws on stderr when it is a terminal, at most ten times a
// second; otherwise it does nothing.
type progressBar struct {
	mu   sync.Mutex
	out  *os.File
	last time.Time
	p    fleet.Progress
}

func newProgressBar(e *env, quiet bool) *progressBar {
	b := &progressBar{}
	if f, ok := e.stderr.(*os.File); ok && !quiet && term.IsTerminal(int(f.Fd())) {
		b.out = f
	}
	return b
}

func (b *progressBar) update(p fleet.Progress) {
	if b.out == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.p = p
	if time.Since(b.last) < 100*time.Millisecond && p.Done < p.Total {
		return
	}
	b.last = time.Now()
	b.draw()
}

func (b *progressBar) draw() {
	const width = 30
	p := b.p
	filled := 0
	if p.Total > 0 {
		filled = p.Done * width / p.Total
	}
	fmt.Fprintf(b.out, "\r[%s%s] %d/%d  started %d  failed %d ", strings.Repeat("=", filled), strings.Repeat(" ", width-filled), p.Done, p.Total, p.Started, p.Failed)
}

func (b *progressBar) finish() {
	if b.out == nil {
		return
	}
	b.mu.Lock()
	b.draw()
	fmt.Fprintln(b.out)
	b.mu.Unlock()
}

package sim

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sinchsim/sinchsim/registration"
)

const day = 24 * time.Hour

// run runs cfg and fails the test on error.
func run(t *testing.T, cfg Config) Result {
	t.Helper()
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// expiry is a user and the offset from the start at which its instance
// expires.
type expiry struct {
	user string
	at   time.Duration
}

// expectedExpiries works out, from the documented renewal policy alone,
// which clients lose their instance to an outage [start, start+length) and
// when: a client started at s renews every ttl−lead (lead: 24 h under an
// 8-day TTL, else 7 days), at s+k(ttl−lead), until a renewal R falls in
// the outage; every try of it fails until the expiry at R+lead, so the
// instance expires if R+lead ≤ start+length (a try due exactly then does
// not happen: the backend's expiry fires first), and otherwise a retry
// after the outage renews it. Clients start at i×stagger/n.
func expectedExpiries(n int, stagger, ttl, start, length, period time.Duration) []expiry {
	lead := 24 * time.Hour
	if ttl >= 8*day {
		lead = 7 * day
	}
	var out []expiry
	for i := range n {
		s := stagger * time.Duration(i) / time.Duration(n)
		for r := s + ttl - lead; r < start+length && r+lead <= period; r += ttl - lead {
			if r < start {
				continue
			}
			if r+lead <= start+length {
				out = append(out, expiry{fmt.Sprintf("sim-%d", i), r + lead})
			}
			break
		}
	}
	slices.SortFunc(out, func(a, b expiry) int { return int(a.at - b.at) })
	return out
}

// expiriesOf returns the expiries a result lists (all of them: the tests
// keep under MaxExpiredUsers).
func expiriesOf(res Result) []expiry {
	var out []expiry
	for _, e := range res.ExpiredUsers {
		out = append(out, expiry{e.User, e.At.Sub(res.Start)})
	}
	return out
}

// Outages of the auth server and of the backend, each worked out by
// expectedExpiries: a short one expires nobody; a long one expires exactly
// the clients whose renewals fall in it, at R+lead; the rest renew once it
// is over. The starts are staggered so that each client's renewals fall
// at their own times, whole hours away from the outage's edges (except
// one client whose expiry falls exactly on the end: it expires).
func TestOutagesExpireExactlyTheClientsWhoseRenewalsFallInThem(t *testing.T) {
	tests := []struct {
		name           string
		bots           int
		ttl, stagger   time.Duration
		start, length  time.Duration
		backend        bool
		period         time.Duration
		wantNoExpiries bool
	}{
		{name: "auth 12h: under the 24h margin, nobody expires", bots: 12, ttl: 72 * time.Hour, stagger: 48 * time.Hour,
			start: 240 * time.Hour, length: 12 * time.Hour, period: 20 * day, wantNoExpiries: true},
		{name: "auth 36h: the renewals in its first 12h expire", bots: 12, ttl: 72 * time.Hour, stagger: 48 * time.Hour,
			start: 240 * time.Hour, length: 36 * time.Hour, period: 20 * day},
		{name: "auth 60h from day 4, every 5h", bots: 10, ttl: 72 * time.Hour, stagger: 50 * time.Hour,
			start: 100 * time.Hour, length: 60 * time.Hour, period: 15 * day},
		{name: "auth 8 days with a 30-day TTL (7-day margin)", bots: 8, ttl: 720 * time.Hour, stagger: 16 * day,
			start: 25 * day, length: 8 * day, period: 60 * day},
		{name: "auth 5 days with a 30-day TTL: nobody expires", bots: 8, ttl: 720 * time.Hour, stagger: 16 * day,
			start: 25 * day, length: 5 * day, period: 60 * day, wantNoExpiries: true},
		{name: "backend 36h: the instances whose renewal it swallows expire", bots: 12, ttl: 72 * time.Hour, stagger: 48 * time.Hour,
			start: 240 * time.Hour, length: 36 * time.Hour, backend: true, period: 20 * day},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Bots: tt.bots, Period: tt.period, InstanceTTL: tt.ttl, Stagger: tt.stagger, Seed: 3}
			w := []Window{{tt.start, tt.length}}
			if tt.backend {
				cfg.BackendOutages = w
			} else {
				cfg.Outages = w
			}
			res := run(t, cfg)
			want := expectedExpiries(tt.bots, tt.stagger, tt.ttl, tt.start, tt.length, tt.period)
			if (len(want) == 0) != tt.wantNoExpiries {
				t.Fatalf("the scenario is not what its name says: expected expiries %v", want)
			}
			if got := expiriesOf(res); !reflect.DeepEqual(got, want) {
				t.Fatalf("expiries\n%v\nwant\n%v", got, want)
			}
			if res.Expiries != len(want) || res.ExpiredUsersTotal != len(want) || res.ReRegistrations != len(want) {
				t.Fatalf("%d expiries of %d users, %d re-registrations; want %d each", res.Expiries, res.ExpiredUsersTotal, res.ReRegistrations, len(want))
			}
			if len(want) > 0 && (res.FirstExpiry.Sub(res.Start) != want[0].at || res.LastExpiry.Sub(res.Start) != want[len(want)-1].at) {
				t.Fatalf("first and last expiry %v, %v; want start+%v, start+%v", res.FirstExpiry, res.LastExpiry, want[0].at, want[len(want)-1].at)
			}
			if !tt.backend && res.RenewalCyclesFailed != len(want) {
				t.Fatalf("%d failed renewal cycles, want %d (one per expiry)", res.RenewalCyclesFailed, len(want))
			}
			if res.Failed != 0 {
				t.Fatalf("%d clients failed at the end", res.Failed)
			}
		})
	}
}

// A renewal cycle that fails fails with all its retries: with a failure
// rate of 1 every instance expires at its TTL, and the retries between
// the first try and the expiry are those of the documented backoff
// (without jitter: a try at 48 h, six retries in the next 31.5 s, then one
// every 30 s; docs/TIME.md counts 2,885 tries, so 2,884 retries).
func TestEveryCycleFailsWithItsRetries(t *testing.T) {
	noJitter := registration.DefaultRenewal{Backoff: registration.Backoff{Jitter: -1}}
	res := run(t, Config{Bots: 2, Period: 144 * time.Hour, InstanceTTL: 72 * time.Hour, RenewalFailureRate: 1, Seed: 1, Renewal: noJitter})
	if res.Expiries != 4 || res.RenewalCyclesFailed != 4 || res.Renewals != 0 || res.ReRegistrations != 4 {
		t.Fatalf("%+v, want 4 expiries, 4 failed cycles, 4 re-registrations", summary(res))
	}
	if res.Retries != 4*2884 {
		t.Fatalf("%d retries, want 4 cycles × 2,884", res.Retries)
	}
	want := []expiry{{"sim-0", 72 * time.Hour}, {"sim-1", 72 * time.Hour}, {"sim-0", 144 * time.Hour}, {"sim-1", 144 * time.Hour}}
	if got := expiriesOf(res); !reflect.DeepEqual(got, want) {
		t.Fatalf("expiries %v, want %v", got, want)
	}
}

// The same seed gives the same result; another seed fails other cycles.
func TestSeededRunsReplay(t *testing.T) {
	cfg := Config{Bots: 6, Period: 30 * day, InstanceTTL: 72 * time.Hour, RenewalFailureRate: 0.3, Seed: 7, Stagger: 24 * time.Hour}
	a, b := run(t, cfg), run(t, cfg)
	a.WallSeconds, b.WallSeconds = 0, 0
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("the same seed gave\n%+v\nand\n%+v", summary(a), summary(b))
	}
	if a.RenewalCyclesFailed == 0 || a.Renewals == 0 {
		t.Fatalf("%+v: with a rate of 0.3 some cycles fail and some succeed", summary(a))
	}
}

// With the at-start policy a client renews only when it starts: never
// restarted, each 30-day instance expires; restarted daily, the restart
// after the 23rd day renews it and nothing expires.
func TestAtStartPolicy(t *testing.T) {
	tests := []struct {
		name                  string
		restart               time.Duration
		wantRenewals, wantExp int
		wantRestarts          int
	}{
		{"never restarted: expiries on days 30, 60 and 90", 0, 0, 3 * 3, 0},
		{"restarted daily: renewals on days 23, 46, 69 and 92", 24 * time.Hour, 3 * 4, 0, 3 * 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := run(t, Config{Bots: 3, Period: 100 * day, InstanceTTL: 720 * time.Hour, Policy: PolicyAtStart, RestartEvery: tt.restart, Seed: 1})
			if res.Renewals != tt.wantRenewals || res.Expiries != tt.wantExp || res.Restarts != tt.wantRestarts {
				t.Fatalf("%+v; want %d renewals, %d expiries, %d restarts", summary(res), tt.wantRenewals, tt.wantExp, tt.wantRestarts)
			}
		})
	}
}

// Over WebSocket the counts are the same as in memory.
func TestWebSocketTransportGivesTheSameCounts(t *testing.T) {
	cfg := Config{Bots: 4, Period: 20 * day, InstanceTTL: 72 * time.Hour, Stagger: 48 * time.Hour, Outages: []Window{{240 * time.Hour, 36 * time.Hour}}, Seed: 2}
	mem := run(t, cfg)
	cfg.Transport = TransportWebSocket
	ws := run(t, cfg)
	if a, b := summary(mem), summary(ws); a != b {
		t.Fatalf("in memory %s\nover WebSocket %s", a, b)
	}
}

// Too many clients for the open-file limit: one line, at once.
func TestWebSocketTooManyClients(t *testing.T) {
	limit, ok := openFileLimit()
	if !ok {
		t.Skip("no open-file limit on this system")
	}
	bots := int(min(limit, 1<<40))
	start := time.Now()
	_, err := Run(context.Background(), Config{Bots: bots, Period: day, InstanceTTL: 72 * time.Hour, Transport: TransportWebSocket})
	if err == nil || !strings.Contains(err.Error(), "clients over WebSocket need") || !strings.Contains(err.Error(), "use the in-memory transport or raise ulimit -n") {
		t.Fatalf("Run = %v, want the open-file error", err)
	}
	if strings.Contains(err.Error(), "\n") || time.Since(start) > 5*time.Second {
		t.Fatalf("error %q after %v: want one line within seconds", err, time.Since(start))
	}
	if msg := CheckOpenFiles(10000); limit < 20001 && msg == nil {
		t.Fatalf("10,000 clients fit in %d open files?", limit)
	}
}

// summary is the counts of a result, for messages and comparisons.
func summary(r Result) string {
	return fmt.Sprintf("renewals %d, cycles failed %d, retries %d, expiries %d, re-registrations %d, restarts %d, expired %v, failed %d",
		r.Renewals, r.RenewalCyclesFailed, r.Retries, r.Expiries, r.ReRegistrations, r.Restarts, expiriesOf(r), r.Failed)
}

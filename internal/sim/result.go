package sim

import (
	"math"
	"time"

	"github.com/sinchsim/sinchsim/registration"
)

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

// Hour is one hour of the timeline: as Day's Registered, Renewing,
// Unregistered and Expiries, per hour.
type Hour struct {
	Registered, Renewing, Unregistered, Expiries int
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
	CallsPerDay        float64   `json:"callsPerDay"`
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
	// Calls sums up the calls, with Config.CallsPerDay (else null).
	Calls *Calls `json:"calls"`
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

func (s *sim) result() Result {
	cfg := s.cfg
	res := Result{
		Bots: cfg.Bots, Period: cfg.Period.String(), InstanceTTL: cfg.InstanceTTL.String(),
		RenewalPolicy: cfg.Policy, RenewalFailureRate: cfg.RenewalFailureRate,
		Outages: windows(cfg.Outages), BackendOutages: windows(cfg.BackendOutages),
		RestartEvery: cfg.RestartEvery.String(), Stagger: cfg.Stagger.String(), Transport: cfg.Transport,
		CallsPerDay: cfg.CallsPerDay, Seed: cfg.Seed, Start: s.start, End: s.end,
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
	if cfg.CallsPerDay > 0 {
		calls := s.calls.Counts()
		res.Calls = &calls
	}
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

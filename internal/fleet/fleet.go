// Package fleet runs many SinchClients at once (sinchsim bots) and
// reports what happened to them.
package fleet

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sinchsim/sinchsim/client"
	"github.com/sinchsim/sinchsim/credentials"
)

// Config describes a fleet.
type Config struct {
	// URL of the backend (ws://host:port/ws/v1 or host:port).
	URL            string
	ApplicationKey string
	// Provider supplies registration tokens.
	Provider credentials.Provider
	// N clients; at most Concurrency start at a time.
	N           int
	Concurrency int
	// Duration the started clients stay online (0: terminate at once).
	Duration time.Duration
	// StoreDir, when set, gives each bot a DirDeviceStore in StoreDir/<user>.
	StoreDir string
	// UserPrefix: users are UserPrefix + index.
	UserPrefix string
	// InstanceTTL asks for limited-TTL tokens.
	InstanceTTL bool
	// StartTimeout bounds one client's registration.
	StartTimeout time.Duration
	// Progress, when set, is called as clients finish starting.
	Progress func(p Progress)
}

// Progress is a snapshot of a running fleet.
type Progress struct {
	Total, Done, Started, Failed int
}

// Latency percentiles, in milliseconds.
type Latency struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
}

// Result is the fleet's summary. The JSON field names are a contract of
// sinchsim bots --json.
type Result struct {
	Clients                int            `json:"clients"`
	Started                int            `json:"started"`
	InstancesCreated       int            `json:"instancesCreated"`
	Reauthenticated        int            `json:"reauthenticated"`
	Failed                 int            `json:"failed"`
	FailuresByCode         map[string]int `json:"failuresByCode"`
	LatencyMs              Latency        `json:"latencyMs"`
	RegistrationsPerSecond float64        `json:"registrationsPerSecond"`
	// Elapsed is the wall time of the registration phase.
	Elapsed time.Duration `json:"-"`
}

type outcome struct {
	started, created, reauth bool
	code                     string
	latency                  time.Duration
	c                        *client.SinchClient
}

// Run starts the fleet, waits Duration, terminates every client and
// returns the summary. Cancelling ctx ends the run early (clients are
// still terminated).
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.N < 0 {
		return Result{}, errors.New("fleet: negative client count")
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 32
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 30 * time.Second
	}
	outs := make([]outcome, cfg.N)
	var next, done, started, failed atomic.Int64
	var wg sync.WaitGroup
	begin := time.Now()
	var lastStart atomic.Int64
	report := func() {
		if cfg.Progress != nil {
			cfg.Progress(Progress{Total: cfg.N, Done: int(done.Load()), Started: int(started.Load()), Failed: int(failed.Load())})
		}
	}
	for w := 0; w < min(cfg.Concurrency, cfg.N); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= cfg.N || ctx.Err() != nil {
					return
				}
				o := startOne(ctx, cfg, i)
				if o.started {
					started.Add(1)
					lastStart.Store(int64(time.Since(begin)))
				} else {
					failed.Add(1)
				}
				if cfg.Duration == 0 && o.c != nil {
					o.c.TerminateGracefully()
					o.c = nil
				}
				outs[i] = o
				done.Add(1)
				report()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Duration(lastStart.Load())
	if cfg.Duration > 0 {
		select {
		case <-time.After(cfg.Duration):
		case <-ctx.Done():
		}
		terminateAll(outs, cfg.Concurrency)
	}
	res := summarize(outs)
	res.Elapsed = elapsed
	if elapsed > 0 {
		res.RegistrationsPerSecond = float64(res.Started) / elapsed.Seconds()
	}
	return res, ctx.Err()
}

func startOne(ctx context.Context, cfg Config, i int) outcome {
	user := fmt.Sprintf("%s%d", cfg.UserPrefix, i)
	opts := []client.Option{client.WithCredentialsProvider(cfg.Provider), client.WithInstanceTTL(cfg.InstanceTTL)}
	if cfg.StoreDir != "" {
		st, err := client.NewDirDeviceStore(filepath.Join(cfg.StoreDir, user))
		if err != nil {
			return outcome{code: client.CodeDeviceStore}
		}
		opts = append(opts, client.WithDeviceStore(st))
	}
	c, err := client.New(cfg.ApplicationKey, cfg.URL, user, opts...)
	if err != nil {
		return outcome{code: client.CodeOf(err)}
	}
	t0 := time.Now()
	if err := c.Start(); err != nil {
		c.TerminateGracefully()
		return outcome{code: client.CodeOf(err)}
	}
	wctx, cancel := context.WithTimeout(ctx, cfg.StartTimeout)
	err = c.WaitStarted(wctx)
	cancel()
	lat := time.Since(t0)
	if err != nil {
		c.TerminateGracefully()
		code := client.CodeOf(err)
		if code == "" {
			code = "timeout"
		}
		return outcome{code: code, latency: lat}
	}
	st := c.Stats()
	return outcome{started: true, created: st.InstancesCreated > 0, reauth: st.InstancesCreated == 0 && st.Authentications > 0, latency: lat, c: c}
}

func terminateAll(outs []outcome, par int) {
	ch := make(chan *client.SinchClient)
	var wg sync.WaitGroup
	for w := 0; w < max(par, 1); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range ch {
				c.TerminateGracefully()
			}
		}()
	}
	for i := range outs {
		if outs[i].c != nil {
			ch <- outs[i].c
			outs[i].c = nil
		}
	}
	close(ch)
	wg.Wait()
}

func summarize(outs []outcome) Result {
	res := Result{Clients: len(outs), FailuresByCode: map[string]int{}}
	var lats []time.Duration
	for _, o := range outs {
		switch {
		case o.started:
			res.Started++
			lats = append(lats, o.latency)
			if o.created {
				res.InstancesCreated++
			}
			if o.reauth {
				res.Reauthenticated++
			}
		default:
			res.Failed++
			code := o.code
			if code == "" {
				code = "not_started"
			}
			res.FailuresByCode[code]++
		}
	}
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	res.LatencyMs = Latency{P50: pct(lats, 50), P95: pct(lats, 95), P99: pct(lats, 99)}
	return res
}

// pct is the nearest-rank percentile, in milliseconds.
func pct(sorted []time.Duration, p int) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := (p*len(sorted) + 99) / 100
	if rank < 1 {
		rank = 1
	}
	d := sorted[rank-1]
	return float64(d.Microseconds()) / 1000
}

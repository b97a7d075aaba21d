package fleet

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/fakebackend"
)

// runFleet runs a fleet of n bots against srv with a self-signed provider
// (on clk, nil: the real clock). atStart is called once, when every bot
// has started or failed to. Duration is an hour: the run ends early once
// no bot is left online, which is what the tests wait for.
func runFleet(t *testing.T, srv *fakebackend.Server, n int, clk clock.Clock, atStart func()) Result {
	t.Helper()
	app := srv.Application()
	p, err := credentials.NewSelfSignedProvider(credentials.MinterConfig{ApplicationKey: app.Key, Secret: app.Secret, Clock: clk, InstanceTTL: credentials.MinInstanceTTL})
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := Run(ctx, Config{
		URL: srv.URL(), ApplicationKey: app.Key, Provider: p, N: n, Concurrency: n,
		Duration: time.Hour, UserPrefix: "bot-", InstanceTTL: true,
		Progress: func(pr Progress) {
			if pr.Done == pr.Total {
				once.Do(atStart)
			}
		},
	})
	if err != nil {
		t.Fatalf("the run did not end by itself once no bot was online: %v", err)
	}
	return res
}

// Failures while online count, with an example, and end the wait early.
func TestRunFailuresAfterStart(t *testing.T) {
	t.Run("revoked", func(t *testing.T) {
		srv := fakebackend.RunT(t, fakebackend.Config{Clock: clock.New()})
		res := runFleet(t, srv, 4, nil, func() {
			for _, inst := range srv.Instances() {
				srv.RevokeInstance(inst.ID)
			}
		})
		if res.Started != 4 || res.Failed != 0 || res.FailedAfterStart != 4 || res.FailuresAfterStartByCode["instance_not_found"] != 4 || res.Failures() != 4 {
			t.Fatalf("want 4 started, then 4 revoked: %+v", res)
		}
		if msg := res.FailureExamples["instance_not_found"]; !strings.Contains(msg, "revoked") || strings.HasPrefix(msg, "sinchsim:") {
			t.Errorf("example %q", msg)
		}
	})
	t.Run("expired", func(t *testing.T) {
		// The backend's mock clock jumps past the instances' TTL: each bot
		// counts an expiry and registers anew, with a token minted on the
		// real clock, now two days behind the backend: refused.
		mock := clock.NewMock()
		mock.Set(time.Now())
		srv := fakebackend.RunT(t, fakebackend.Config{Clock: mock})
		res := runFleet(t, srv, 3, nil, func() {
			if err := srv.Advance(credentials.MinInstanceTTL + time.Hour); err != nil {
				t.Error(err)
			}
		})
		if res.Started != 3 || res.Expiries != 3 || res.FailedAfterStart != 3 || res.Failures() != 6 {
			t.Fatalf("want 3 started, 3 expiries, 3 failures after: %+v", res)
		}
		g := res.GrantedInstanceTTL
		want := int64(credentials.MinInstanceTTL / time.Second)
		if g != (GrantedTTL{Limited: 3, MinSeconds: want, MaxSeconds: want}) {
			t.Errorf("granted TTL %+v, want %d s for all 3", g, want)
		}
	})
}

package client_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sinchsim/sinchsim/client"
	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/fakebackend"
	"github.com/sinchsim/sinchsim/registration"
)

// With AtStartRenewal a running client never renews: its 30-day instance
// expires and it registers anew. Started again when 7 days or less remain,
// it renews at once. The transition hook sees every change at its virtual
// time.
func TestAtStartRenewal(t *testing.T) {
	tests := []struct {
		name      string
		restartAt time.Duration // 0: never
		want      string        // the hook's transitions after the first start
	}{
		{"never restarted: expires at 30 days", 0,
			"started>awaiting_credentials@720h0m0s registering@720h0m0s started@720h0m0s"},
		{"restarted on day 20: not near, no renewal", 20 * day,
			"started>terminated@480h0m0s | connecting@480h0m0s authenticating@480h0m0s started@480h0m0s " +
				"started>awaiting_credentials@720h0m0s registering@720h0m0s started@720h0m0s"},
		{"restarted on day 24: renews at start", 24 * day,
			"started>terminated@576h0m0s | connecting@576h0m0s authenticating@576h0m0s started@576h0m0s started>renewing@576h0m0s started@576h0m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := fakebackend.RunT(t, fakebackend.Config{InMemory: true})
			app := srv.Application()
			p, err := credentials.NewSelfSignedProvider(credentials.MinterConfig{
				ApplicationKey: app.Key, Secret: app.Secret, Clock: srv.Clock(), InstanceTTL: 30 * day})
			if err != nil {
				t.Fatal(err)
			}
			store := client.NewMemoryDeviceStore()
			var log []string
			started := false
			newClient := func() *client.SinchClient {
				var c *client.SinchClient
				hook := func(tr registration.Transition) {
					at := srv.Now().Sub(fakebackend.DefaultMockTime)
					switch {
					case !started:
						started = tr.To == registration.StateStarted
					case tr.From == registration.StateStarted:
						log = append(log, fmt.Sprintf("started>%s@%v", tr.To, at))
					default:
						log = append(log, fmt.Sprintf("%s@%v", tr.To, at))
					}
				}
				c, err := client.New(app.Key, srv.URL(), "alice", client.WithClock(srv.Clock()), client.WithInMemory(),
					client.WithCredentialsProvider(p), client.WithInstanceTTL(true), client.WithDeviceStore(store),
					client.WithRenewalPolicy(registration.AtStartRenewal{}), client.WithTransitionHook(hook))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(c.TerminateGracefully)
				if err := c.Start(); err != nil {
					t.Fatal(err)
				}
				return c
			}
			c := newClient()
			if tt.restartAt > 0 {
				if err := srv.Advance(tt.restartAt); err != nil {
					t.Fatal(err)
				}
				c.TerminateGracefully()
				log = append(log, "|")
				newClient()
			}
			if err := srv.Advance(31*day - tt.restartAt); err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(log, " "); got != tt.want {
				t.Fatalf("transitions\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

package reliability

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/fakebackend"
	"github.com/sinchsim/sinchsim/transport"
)

// The SIGKILL test runs this binary again with these variables set: the
// child serves a backend on the data directory and registers users against
// it until it is killed, printing one line per acknowledged change.
const (
	crashChildEnv  = "SINCHSIM_RELIABILITY_CRASH_DIR" // the data directory
	crashKeyEnv    = "SINCHSIM_RELIABILITY_CRASH_KEY"
	crashSecretEnv = "SINCHSIM_RELIABILITY_CRASH_SECRET"
	crashPrefixEnv = "SINCHSIM_RELIABILITY_CRASH_PREFIX"
	crashWorkers   = 8
)

// runCrashChild prints "READY url", then "ACK instanceId user" once
// instanceCreated has been received, and "TTL instanceId unixExpiry" once
// instanceTtlUpdated has; the backend wrote each change to its journal
// before answering.
func runCrashChild() {
	die := func(err error) {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		os.Exit(3)
	}
	secret, err := credentials.ParseSecret(os.Getenv(crashSecretEnv))
	if err != nil {
		die(err)
	}
	app := fakebackend.Application{Key: os.Getenv(crashKeyEnv), Secret: secret}
	s, err := fakebackend.NewServer(fakebackend.Config{
		DataDir: os.Getenv(crashChildEnv), Applications: []fakebackend.Application{app},
		Policy: fakebackend.Policy{RateLimit: -1},
	})
	if err != nil {
		die(err)
	}
	m, err := credentials.NewMinter(credentials.MinterConfig{ApplicationKey: app.Key, Secret: secret})
	if err != nil {
		die(err)
	}
	fmt.Printf("READY %s\n", s.URL())
	prefix := os.Getenv(crashPrefixEnv)
	for w := 0; w < crashWorkers; w++ {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			c, _, err := transport.Dial(ctx, s.URL(), transport.DialConfig{})
			cancel()
			if err != nil {
				die(err)
			}
			seq := 0
			do := func(req transport.Request) transport.Message {
				if err := c.Send(req); err != nil {
					die(err)
				}
				for {
					msg, err := c.Read()
					if err != nil {
						die(err)
					}
					if rep, ok := msg.(transport.Reply); ok && rep.RequestID() == req.RequestID() {
						return msg
					}
				}
			}
			for i := 0; ; i++ {
				user := fmt.Sprintf("%s-w%d-%d", prefix, w, i)
				p := credentials.MintParams{UserID: user}
				if i%2 == 0 {
					p.InstanceTTL = 72 * time.Hour
				}
				jwt, err := m.MintWith(p)
				if err != nil {
					die(err)
				}
				seq++
				rep := do(&transport.CreateInstance{ID: fmt.Sprint(seq), ApplicationKey: app.Key, UserID: user,
					DeviceID: "device-" + user, Capabilities: []string{"calling"}, SDKVersion: "crash/1", JWT: jwt})
				created, ok := rep.(*transport.InstanceCreated)
				if !ok {
					die(fmt.Errorf("createInstance for %s: %v", user, codeOf(rep)))
				}
				fmt.Printf("ACK %s %s\n", created.Instance.ID, user)
				if i%4 != 0 {
					continue
				}
				jwt, err = m.MintWith(credentials.MintParams{UserID: user, InstanceTTL: 96 * time.Hour})
				if err != nil {
					die(err)
				}
				seq++
				upd, ok := do(&transport.UpdateInstanceTTL{ID: fmt.Sprint(seq), JWT: jwt}).(*transport.InstanceTTLUpdated)
				if !ok {
					die(fmt.Errorf("updateInstanceTtl for %s failed", user))
				}
				fmt.Printf("TTL %s %d\n", upd.InstanceID, upd.ExpireAt.Unix())
			}
		}()
	}
	select {} // until killed
}

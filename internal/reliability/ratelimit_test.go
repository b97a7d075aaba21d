package reliability

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/fakebackend"
	"github.com/sinchsim/sinchsim/transport"
)

// TestRateLimitRace: M createInstance requests for one user, each with its
// own valid token and device, race over C connections against a backend
// with Policy.RateLimit = N. Exactly N succeed; every other one is refused
// with instance_creation_rate_exceeded and a retry delay; N instances exist.
func TestRateLimitRace(t *testing.T) {
	const limit = 7
	total := size(10000, 10000, 2000, 50000)
	conns := size(300, 300, 100, 500)
	s := mockServer(t, fakebackend.Config{Policy: fakebackend.Policy{RateLimit: limit}})
	app := s.Application()
	const user = "contended"
	tokens := make([]string, total)
	m := s.Minter()
	for i := range tokens {
		tok, err := m.MintWith(credentials.MintParams{UserID: user})
		if err != nil {
			t.Fatal(err)
		}
		tokens[i] = tok
	}
	raws := make([]*rawConn, conns)
	for i := range raws {
		raws[i] = dialRaw(t, s.URL())
	}

	var mu sync.Mutex
	codes := map[string]int{}
	badRetry := 0
	var wg sync.WaitGroup
	start := make(chan struct{})
	for c, rc := range raws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := c; i < total; i += conns {
				rep := rc.create(app.Key, user, fmt.Sprintf("dev-%d", i), tokens[i])
				code := codeOf(rep)
				mu.Lock()
				codes[code]++
				if e, ok := rep.(*transport.ErrorMessage); ok && e.Error.RetryAfterMs <= 0 {
					badRetry++
				}
				mu.Unlock()
			}
		}()
	}
	close(start)
	wg.Wait()

	if codes[""] != limit || codes[transport.CodeInstanceCreationRateExceeded] != total-limit || len(codes) != 2 || badRetry != 0 {
		t.Fatalf("%d requests, limit %d: outcomes %v (\"\" = created), %d refusals without retryAfterMs", total, limit, codes, badRetry)
	}
	if n := len(s.Instances()); n != limit {
		t.Fatalf("%d instances exist, want %d", n, limit)
	}
	// The window is the policy's: an hour later the user may create again.
	if err := s.Advance(time.Hour); err != nil {
		t.Fatal(err)
	}
	if got := codeOf(raws[0].create(app.Key, user, "dev-later", mint(t, s, credentials.MintParams{UserID: user}))); got != "" {
		t.Fatalf("after the window: %s", got)
	}
	t.Logf("%d createInstance for one user over %d connections, RateLimit %d: %d created, %d instance_creation_rate_exceeded",
		total, conns, limit, codes[""], codes[transport.CodeInstanceCreationRateExceeded])
}

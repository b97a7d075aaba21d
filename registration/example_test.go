package registration_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/sinchsim/sinchsim/registration"
)

func ExampleMachine() {
	m := registration.NewMachine(func(t registration.Transition) {
		fmt.Printf("%s --%s--> %s\n", t.From, t.Event, t.To)
	})
	for _, e := range []registration.Event{
		registration.EventStart,
		registration.EventRequireCredentials,
		registration.EventRegister,
		registration.EventRegistered,
	} {
		if err := m.Fire(e); err != nil {
			fmt.Println(err)
		}
	}

	err := m.Fire(registration.EventRegister)
	fmt.Println(err)
	fmt.Println(errors.Is(err, registration.ErrIllegalEvent))
	fmt.Println(m.Current(), m.AvailableEvents())
	// Output:
	// idle --start--> connecting
	// connecting --require_credentials--> awaiting_credentials
	// awaiting_credentials --register--> registering
	// registering --registered--> started
	// registration: event "register" is not allowed in state "started"
	// true
	// started [connection_lost fail renew require_credentials terminate]
}

func ExampleDefaultRenewal() {
	// A fixed Rand makes retry delays deterministic; 0.5 means no jitter.
	policy := registration.DefaultRenewal{
		Backoff: registration.Backoff{Rand: func() float64 { return 0.5 }},
	}
	issued := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, days := range []int{30, 8, 7, 2} {
		expireAt := issued.AddDate(0, 0, days)
		at := policy.RenewAt(issued, expireAt)
		fmt.Printf("TTL %2d days: renew at %s, %3.0fh before expiry\n",
			days, at.Format(time.DateTime), expireAt.Sub(at).Hours())
	}
	// Shorter than 24 hours: renew at once.
	fmt.Println(policy.RenewAt(issued, issued.Add(12*time.Hour)).Equal(issued))

	for attempt := range 8 {
		fmt.Print(policy.RetryDelay(attempt), " ")
	}
	fmt.Println()
	// Output:
	// TTL 30 days: renew at 2025-03-24 12:00:00, 168h before expiry
	// TTL  8 days: renew at 2025-03-02 12:00:00, 168h before expiry
	// TTL  7 days: renew at 2025-03-07 12:00:00,  24h before expiry
	// TTL  2 days: renew at 2025-03-02 12:00:00,  24h before expiry
	// true
	// 500ms 1s 2s 4s 8s 16s 30s 30s
}

func ExampleBackoff_Delay() {
	// Rand returning 0 picks the lowest jittered delay: −20% by default.
	b := registration.Backoff{Initial: time.Second, Max: 10 * time.Second, Rand: func() float64 { return 0 }}
	for attempt := range 6 {
		fmt.Print(b.Delay(attempt), " ")
	}
	fmt.Println()
	// Output:
	// 800ms 1.6s 3.2s 6.4s 8s 8s
}

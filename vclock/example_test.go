package vclock_test

import (
	"fmt"
	"time"

	"github.com/sinchsim/sinchsim/vclock"
)

// Timers fire in deadline order, ties in creation order, each with the
// clock at its deadline.
func ExampleClock_Advance() {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := vclock.New(start)
	clk.Schedule(2*time.Hour, func() { fmt.Println("b at", clk.Since(start)) })
	clk.Schedule(time.Hour, func() { fmt.Println("a at", clk.Since(start)) })
	clk.Schedule(2*time.Hour, func() { fmt.Println("c at", clk.Since(start)) })
	if err := clk.Advance(3 * time.Hour); err != nil {
		fmt.Println(err)
	}
	fmt.Println("now", clk.Since(start))
	// Output:
	// a at 1h0m0s
	// b at 2h0m0s
	// c at 2h0m0s
	// now 3h0m0s
}

// Work handed to another goroutine is counted, so Advance waits for it
// before the next timer and before returning.
func ExampleWork() {
	clk := vclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	w := clk.NewWork("worker", false)
	done := 0
	clk.Schedule(time.Minute, func() {
		w.Begin(1) // counted before the hand-off
		go func() {
			defer w.End(1)
			done++
		}()
	})
	if err := clk.Advance(time.Hour); err != nil {
		fmt.Println(err)
	}
	fmt.Println("done", done)
	// Output: done 1
}

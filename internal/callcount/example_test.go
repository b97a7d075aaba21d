package callcount_test

import (
	"fmt"

	"github.com/sinchsim/sinchsim/internal/callcount"
)

func ExampleTally() {
	var t callcount.Tally[string]
	t.Placed()
	t.Placed()
	t.Answered("call-1")
	t.Ended("call-1", "hung_up")
	t.Ended("call-2", "no_answer")
	fmt.Printf("%+v\n", t.Counts())
	// Output: {Placed:2 Answered:1 Failed:1 FailedByCause:map[no_answer:1]}
}

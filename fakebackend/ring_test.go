package fakebackend

import (
	"fmt"
	"testing"
)

func TestRingKeepsTheNewestInOrder(t *testing.T) {
	r := ring[int]{limit: 3}
	for i, want := range []string{"[0]", "[0 1]", "[0 1 2]", "[1 2 3]", "[2 3 4]", "[3 4 5]", "[4 5 6]"} {
		r.add(i)
		if got := fmt.Sprint(r.list()); got != want {
			t.Fatalf("after adding %d: %s, want %s", i, got, want)
		}
	}
	r.reset()
	r.add(9)
	if got := fmt.Sprint(r.list()); got != "[9]" {
		t.Fatalf("after a reset: %s", got)
	}
}

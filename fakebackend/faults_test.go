package fakebackend

import (
	"errors"
	"math"
	"testing"
)

// TestFaultProbability: a probabilistic fault strikes when the draw falls
// under its probability, is bounded by Count when one is given, and stays
// armed until cleared when not.
func TestFaultProbability(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault Fault
		draws []float64 // one per message
		want  []bool    // struck?
		left  int       // faults still armed
	}{
		{"count only", Fault{Kind: "authenticate", Count: 2, Drop: true}, []float64{0.9, 0.9, 0.9}, []bool{true, true, false}, 0},
		{"probability, unbounded", Fault{Kind: "authenticate", Probability: 0.5, Drop: true}, []float64{0.1, 0.7, 0.49, 0.5}, []bool{true, false, true, false}, 1},
		{"probability, at most 2", Fault{Kind: "*", Count: 2, Probability: 0.5, Drop: true}, []float64{0.1, 0.7, 0.2, 0.0}, []bool{true, false, true, false}, 0},
		{"probability 1", Fault{Kind: "*", Probability: 1, Drop: true}, []float64{0.999, 0}, []bool{true, true}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ft := newFaultTable()
			i := 0
			ft.draw = func() float64 { return tc.draws[i] }
			ft.add(tc.fault)
			for ; i < len(tc.draws); i++ {
				if _, got := ft.take("authenticate"); got != tc.want[i] {
					t.Errorf("message %d (draw %v): struck = %v, want %v", i, tc.draws[i], got, tc.want[i])
				}
			}
			if got := len(ft.list()); got != tc.left {
				t.Errorf("%d faults left, want %d", got, tc.left)
			}
		})
	}
}

func TestInjectFaultValidation(t *testing.T) {
	s := RunT(t)
	for _, tc := range []struct {
		name string
		f    Fault
		ok   bool
	}{
		{"count", Fault{Kind: "*", Count: 1, Drop: true}, true},
		{"probability without count", Fault{Kind: "*", Probability: 0.25, Code: "unavailable"}, true},
		{"neither count nor probability", Fault{Kind: "*", Drop: true}, false},
		{"negative count", Fault{Kind: "*", Count: -1, Probability: 0.5, Drop: true}, false},
		{"probability above 1", Fault{Kind: "*", Probability: 1.5, Drop: true}, false},
		{"negative probability", Fault{Kind: "*", Count: 1, Probability: -0.1, Drop: true}, false},
		{"NaN probability", Fault{Kind: "*", Count: 1, Probability: math.NaN(), Drop: true}, false},
		{"no effect", Fault{Kind: "*", Probability: 0.5}, false},
	} {
		err := s.InjectFault(tc.f)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrBadFault)) {
			t.Errorf("%s: InjectFault = %v", tc.name, err)
		}
	}
}

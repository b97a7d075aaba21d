package fakebackend

import (
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sinchsim/sinchsim/transport"
)

// Fault makes the backend misbehave on purpose for the next Count messages
// of one Kind (a request type such as "createInstance", or "*" for any):
// answer with error Code instead of processing, wait Delay (wall time)
// before processing, or Drop the connection without answering. Several
// effects combine (delay, then fail or drop).
//
// With a Probability, the fault strikes each matching message with that
// probability instead of every one; Count then bounds how many times it
// strikes, and 0 means until it is cleared.
type Fault struct {
	Kind  string `json:"kind"`
	Count int    `json:"count"`
	// Probability, from 0 (off: every message) to 1.
	Probability float64       `json:"probability,omitempty"`
	Code        string        `json:"code,omitempty"`
	Delay       time.Duration `json:"delay,omitempty"`
	Drop        bool          `json:"drop,omitempty"`
	// Message replaces the default message of Code.
	Message string `json:"message,omitempty"`
}

type faultTable struct {
	mu     sync.Mutex
	faults []*Fault
	armed  atomic.Int32   // len(faults), read without the lock on every request
	draw   func() float64 // uniform in [0, 1): decides probabilistic faults
}

func newFaultTable() *faultTable { return &faultTable{draw: rand.Float64} }

func (t *faultTable) add(f Fault) {
	t.mu.Lock()
	t.faults = append(t.faults, &f)
	t.armed.Store(int32(len(t.faults)))
	t.mu.Unlock()
}

func (t *faultTable) reset() {
	t.mu.Lock()
	t.faults = nil
	t.armed.Store(0)
	t.mu.Unlock()
}

func (t *faultTable) list() []Fault {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]Fault, 0, len(t.faults))
	for _, f := range t.faults {
		out = append(out, *f)
	}
	return out
}

// take consumes one use of the first fault matching kind that strikes.
func (t *faultTable) take(kind string) (Fault, bool) {
	if t.armed.Load() == 0 {
		return Fault{}, false // the usual case: no lock on the per-message path
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, f := range t.faults {
		if f.Kind != kind && f.Kind != "*" {
			continue
		}
		if f.Probability > 0 && t.draw() >= f.Probability {
			continue
		}
		got := *f
		if f.Count == 0 {
			return got, true // probabilistic and unbounded: until cleared
		}
		f.Count--
		if f.Count <= 0 {
			t.faults = append(t.faults[:i], t.faults[i+1:]...)
			t.armed.Store(int32(len(t.faults)))
		}
		return got, true
	}
	return Fault{}, false
}

// ErrBadFault reports an unusable Fault.
var ErrBadFault = errors.New("fakebackend: invalid fault")

// InjectFault arms f. Count must be positive, or 0 with a Probability;
// Probability is within [0, 1]; Code, when set, must be a protocol error
// code; at least one effect is required.
func (s *Server) InjectFault(f Fault) error {
	if !(f.Probability >= 0 && f.Probability <= 1) {
		return errors.Join(ErrBadFault, errors.New("probability must be between 0 and 1"))
	}
	if f.Kind == "" || f.Count < 0 || (f.Count == 0 && f.Probability == 0) {
		return errors.Join(ErrBadFault, errors.New("kind and a positive count (or a probability) are required"))
	}
	if f.Code == "" && f.Delay <= 0 && !f.Drop {
		return errors.Join(ErrBadFault, errors.New("give a code, a delay or drop"))
	}
	if f.Code != "" && !knownCode(f.Code) {
		return errors.Join(ErrBadFault, errors.New("unknown code "+f.Code))
	}
	if f.Delay < 0 {
		return errors.Join(ErrBadFault, errors.New("negative delay"))
	}
	s.faults.add(f)
	return nil
}

// FailNext makes the next n messages of kind fail with code.
func (s *Server) FailNext(kind string, n int, code string) error {
	return s.InjectFault(Fault{Kind: kind, Count: n, Code: code})
}

// DropNext makes the backend drop the connection on the next n messages of kind.
func (s *Server) DropNext(kind string, n int) error {
	return s.InjectFault(Fault{Kind: kind, Count: n, Drop: true})
}

// DelayNext delays the next n messages of kind by d of wall time.
func (s *Server) DelayNext(kind string, n int, d time.Duration) error {
	return s.InjectFault(Fault{Kind: kind, Count: n, Delay: d})
}

// Faults lists the armed faults.
func (s *Server) Faults() []Fault { return s.faults.list() }

// ClearFaults disarms every fault.
func (s *Server) ClearFaults() { s.faults.reset() }

func knownCode(code string) bool {
	for _, c := range transport.Codes() {
		if c == code {
			return true
		}
	}
	return false
}

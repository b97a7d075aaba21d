package registration

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/looplab/fsm"
)

// enterStateKey is looplab/fsm's callback key for "after entering any state".
// looplab silently ignores misspelled keys, so a test proves this one fires.
const enterStateKey = "enter_state"

// Transition is one completed state change.
type Transition struct {
	From  State // state before the event
	To    State // state after the event
	Event Event // the event that caused it
}

// Machine is the lifecycle state machine of one client. It starts in
// [StateIdle].
//
// A Machine is meant to be owned by one goroutine (the client's event loop),
// which alone calls Fire, Can and AvailableEvents; events from elsewhere are
// queued to that goroutine. Current may be called from any goroutine. The
// Machine starts no goroutines and never blocks.
//
// A Machine holds only its state: looplab/fsm machines, each built once
// from the transition table, are lent to it for each call (a pool), so that
// 100,000 clients do not each keep a copy of the table.
type Machine struct {
	state        atomic.Pointer[State]
	onTransition func(Transition)
	firing       bool // inside onTransition; see Fire
}

// lent is a looplab machine built from rules, lent to one Machine at a
// time (borrow): its enter_state callback reports to that Machine.
type lent struct {
	f *fsm.FSM
	m *Machine
}

// fsmPool holds the looplab machines not lent.
var fsmPool = sync.Pool{New: func() any {
	l := &lent{}
	l.f = newFSM(l.entered)
	return l
}}

// newFSM builds a looplab machine from rules; enter, if not nil, is its
// enter_state callback.
func newFSM(enter func(*fsm.Event)) *fsm.FSM {
	events := make(fsm.Events, 0, len(rules))
	for _, r := range rules {
		src := make([]string, len(r.src))
		for i, s := range r.src {
			src[i] = string(s)
		}
		events = append(events, fsm.EventDesc{Name: string(r.event), Src: src, Dst: string(r.dst)})
	}
	cbs := fsm.Callbacks{}
	if enter != nil {
		cbs[enterStateKey] = func(_ context.Context, e *fsm.Event) { enter(e) }
	}
	return fsm.NewFSM(string(StateIdle), events, cbs)
}

// entered publishes the state l's machine entered and reports the
// transition.
func (l *lent) entered(e *fsm.Event) {
	m := l.m
	if m == nil {
		return
	}
	to := State(e.Dst)
	m.state.Store(statePtr(to))
	if m.onTransition != nil {
		m.onTransition(Transition{From: State(e.Src), To: to, Event: Event(e.Event)})
	}
}

// borrow returns a looplab machine standing at m's state and reporting to
// m; give it back with giveBack.
func (m *Machine) borrow() *lent {
	l := fsmPool.Get().(*lent)
	l.m = m
	l.f.SetState(string(m.Current()))
	return l
}

func giveBack(l *lent) {
	l.m = nil
	fsmPool.Put(l)
}

// NewMachine returns a Machine in [StateIdle]. onTransition, if not nil, is
// called synchronously from inside [Machine.Fire] after every state change,
// when [Machine.Current] already reports the new state. onTransition must not
// call Fire (it gets [ErrReentrantFire]); it should record or queue the
// transition and return.
func NewMachine(onTransition func(Transition)) *Machine {
	m := &Machine{onTransition: onTransition}
	m.state.Store(statePtr(StateIdle))
	return m
}

// statePtrs holds one pointer per state, so that a transition allocates
// nothing to publish the new state.
var statePtrs = func() map[State]*State {
	m := make(map[State]*State, len(allStates))
	for _, s := range allStates {
		m[s] = &s
	}
	return m
}()

func statePtr(s State) *State {
	if p := statePtrs[s]; p != nil {
		return p
	}
	return &s
}

// noCancel is the context of every event: looplab/fsm leaves a machine "in
// transition" for good if the context is cancelled mid-event; this one
// never is.
var noCancel = context.WithoutCancel(context.Background())

// Fire applies event e. On success the state has changed and onTransition
// has returned. Errors:
//
//   - [*IllegalEventError] (matching [ErrIllegalEvent]) when e is not allowed
//     in the current state or is unknown; the state is unchanged;
//   - [ErrReentrantFire] when called from inside onTransition; the state is
//     unchanged.
//
// A panic in onTransition propagates to the caller of Fire; the state change
// has already happened and the Machine stays usable.
func (m *Machine) Fire(e Event) error {
	if m.firing {
		return ErrReentrantFire
	}
	m.firing = true
	defer func() { m.firing = false }()

	from := m.Current()
	// looplab/fsm leaves the machine "in transition" for good if the context
	// is cancelled mid-event; this context can never be.
	l := m.borrow()
	err := l.f.Event(noCancel, string(e))
	// Not deferred: a panic in onTransition leaves the machine mid-event;
	// the pool makes a new one instead.
	giveBack(l)
	if err != nil {
		// Every error looplab/fsm returns from Event (InvalidEventError,
		// UnknownEventError, NoTransitionError, InTransitionError,
		// CanceledError, AsyncError, InternalError) means the event was not
		// applied as a state change. Callers get the one error they branch
		// on; looplab's types are deliberately not wrapped, so they do not
		// leak into this package's API.
		return &IllegalEventError{Event: e, State: from}
	}
	return nil
}

// Current returns the current state. It is safe to call from any goroutine
// and from inside onTransition.
func (m *Machine) Current() State { return *m.state.Load() }

// Can reports whether Fire(e) would succeed now. It is false inside
// onTransition, where Fire is refused.
func (m *Machine) Can(e Event) bool {
	if m.firing {
		return false
	}
	l := m.borrow()
	defer giveBack(l)
	return l.f.Can(string(e))
}

// AvailableEvents returns the events allowed in the current state, sorted by
// name. It is empty in [StateTerminated].
func (m *Machine) AvailableEvents() []Event {
	l := m.borrow()
	names := l.f.AvailableTransitions()
	giveBack(l)
	out := make([]Event, len(names))
	for i, n := range names {
		out[i] = Event(n)
	}
	slices.Sort(out)
	return out
}

// Mermaid returns the lifecycle as a Mermaid state diagram
// (fsm.VisualizeWithType with fsm.MermaidStateDiagram) drawn from a fresh
// Machine, so it starts at idle. The output is deterministic: transitions are
// sorted by source state, then event. The README embeds it; a golden test
// keeps the two in step.
func Mermaid() string {
	out, err := fsm.VisualizeWithType(newFSM(nil), fsm.MermaidStateDiagram)
	if err != nil {
		// Only an unknown visualize type errors, and the type is a constant.
		panic(fmt.Sprintf("registration: mermaid: %v", err))
	}
	return out
}

package registration

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
)

// wantTable is the lifecycle as specified, written out
// independently of the package's own rules so the two check each other.
var wantTable = map[State]map[Event]State{
	StateIdle: {
		EventStart:     StateConnecting,
		EventTerminate: StateTerminated,
	},
	StateConnecting: {
		EventAuthenticate:       StateAuthenticating,
		EventRequireCredentials: StateAwaitingCredentials,
		EventConnectionLost:     StateReconnecting,
		EventFail:               StateFailed,
		EventTerminate:          StateTerminated,
	},
	StateAuthenticating: {
		EventRequireCredentials: StateAwaitingCredentials,
		EventAuthenticated:      StateStarted,
		EventConnectionLost:     StateReconnecting,
		EventFail:               StateFailed,
		EventTerminate:          StateTerminated,
	},
	StateAwaitingCredentials: {
		EventRegister:       StateRegistering,
		EventConnectionLost: StateReconnecting,
		EventFail:           StateFailed,
		EventTerminate:      StateTerminated,
	},
	StateRegistering: {
		EventRequireCredentials: StateAwaitingCredentials,
		EventRegistered:         StateStarted,
		EventConnectionLost:     StateReconnecting,
		EventFail:               StateFailed,
		EventTerminate:          StateTerminated,
	},
	StateStarted: {
		EventRequireCredentials: StateAwaitingCredentials,
		EventRenew:              StateRenewing,
		EventConnectionLost:     StateReconnecting,
		EventFail:               StateFailed,
		EventTerminate:          StateTerminated,
	},
	StateRenewing: {
		EventRequireCredentials: StateAwaitingCredentials,
		EventRenewed:            StateStarted,
		EventRenewFailed:        StateStarted,
		EventConnectionLost:     StateReconnecting,
		EventFail:               StateFailed,
		EventTerminate:          StateTerminated,
	},
	StateReconnecting: {
		EventReconnect: StateConnecting,
		EventFail:      StateFailed,
		EventTerminate: StateTerminated,
	},
	StateFailed: {
		EventStart:     StateConnecting,
		EventTerminate: StateTerminated,
	},
	StateTerminated: {},
}

// recorder collects transitions reported to onTransition.
type recorder struct{ got []Transition }

func (r *recorder) record(t Transition) { r.got = append(r.got, t) }

// pathTo returns the shortest event sequence that drives a fresh machine
// from idle to s, following wantTable.
func pathTo(tb testing.TB, s State) []Event {
	tb.Helper()
	type node struct {
		state State
		path  []Event
	}
	seen := map[State]bool{StateIdle: true}
	queue := []node{{StateIdle, nil}}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		if n.state == s {
			return n.path
		}
		for _, e := range allEvents { // fixed order keeps paths stable
			dst, ok := wantTable[n.state][e]
			if !ok || seen[dst] {
				continue
			}
			seen[dst] = true
			queue = append(queue, node{dst, append(slices.Clone(n.path), e)})
		}
	}
	tb.Fatalf("state %q is unreachable from idle", s)
	return nil
}

// machineIn returns a machine in state s whose transitions go to rec; rec is
// emptied before returning.
func machineIn(tb testing.TB, s State, rec *recorder) *Machine {
	tb.Helper()
	m := NewMachine(rec.record)
	for _, e := range pathTo(tb, s) {
		if err := m.Fire(e); err != nil {
			tb.Fatalf("driving to %q: Fire(%q): %v", s, e, err)
		}
	}
	if got := m.Current(); got != s {
		tb.Fatalf("driving to %q ended in %q", s, got)
	}
	rec.got = nil
	return m
}

func TestNames(t *testing.T) {
	wantStates := []string{
		"idle", "connecting", "authenticating", "awaiting_credentials", "registering",
		"started", "renewing", "reconnecting", "failed", "terminated",
	}
	wantEvents := []string{
		"start", "authenticate", "require_credentials", "register", "registered",
		"authenticated", "renew", "renewed", "renew_failed", "connection_lost",
		"reconnect", "fail", "terminate",
	}
	var gotStates, gotEvents []string
	for _, s := range States() {
		gotStates = append(gotStates, s.String())
	}
	for _, e := range Events() {
		gotEvents = append(gotEvents, e.String())
	}
	if !slices.Equal(gotStates, wantStates) {
		t.Errorf("States() = %q, want %q", gotStates, wantStates)
	}
	if !slices.Equal(gotEvents, wantEvents) {
		t.Errorf("Events() = %q, want %q", gotEvents, wantEvents)
	}
	if len(wantTable) != len(wantStates) {
		t.Errorf("wantTable has %d states, want %d", len(wantTable), len(wantStates))
	}

	// The returned slices are copies: callers cannot corrupt the package.
	States()[0], Events()[0] = "x", "x"
	if States()[0] != StateIdle || Events()[0] != EventStart {
		t.Error("States/Events return shared slices")
	}
}

func TestTerminal(t *testing.T) {
	for _, s := range States() {
		if got, want := s.Terminal(), s == StateTerminated; got != want {
			t.Errorf("%q.Terminal() = %v, want %v", s, got, want)
		}
	}
}

func TestLegalTransitions(t *testing.T) {
	n := 0
	for _, from := range States() {
		for _, e := range Events() {
			to, ok := wantTable[from][e]
			if !ok {
				continue
			}
			n++
			t.Run(fmt.Sprintf("%s/%s", from, e), func(t *testing.T) {
				var rec recorder
				m := machineIn(t, from, &rec)
				if !m.Can(e) {
					t.Errorf("Can(%q) = false in %q", e, from)
				}
				if err := m.Fire(e); err != nil {
					t.Fatalf("Fire(%q) in %q: %v", e, from, err)
				}
				if got := m.Current(); got != to {
					t.Errorf("after Fire(%q) in %q: Current() = %q, want %q", e, from, got, to)
				}
				want := []Transition{{From: from, To: to, Event: e}}
				if !slices.Equal(rec.got, want) {
					t.Errorf("onTransition got %+v, want %+v", rec.got, want)
				}
			})
		}
	}
	// start 2, authenticate 1, require_credentials 5, register 1,
	// registered 1, authenticated 1, renew 1, renewed 1, renew_failed 1,
	// connection_lost 6, reconnect 1, fail 7, terminate 9.
	if n != 37 {
		t.Errorf("tested %d legal transitions, want 37", n)
	}
}

func TestIllegalEvents(t *testing.T) {
	events := append(Events(), "bogus", "", "Start", "enter_state")
	for _, from := range States() {
		for _, e := range events {
			if _, ok := wantTable[from][e]; ok {
				continue
			}
			t.Run(fmt.Sprintf("%s/%s", from, e), func(t *testing.T) {
				var rec recorder
				m := machineIn(t, from, &rec)
				if m.Can(e) {
					t.Errorf("Can(%q) = true in %q", e, from)
				}
				err := m.Fire(e)
				if err == nil {
					t.Fatalf("Fire(%q) in %q = nil, want an error", e, from)
				}
				if !errors.Is(err, ErrIllegalEvent) {
					t.Errorf("errors.Is(%v, ErrIllegalEvent) = false", err)
				}
				var ie *IllegalEventError
				if !errors.As(err, &ie) {
					t.Fatalf("Fire error %T is not *IllegalEventError", err)
				}
				if ie.Event != e || ie.State != from {
					t.Errorf("IllegalEventError{%q, %q}, want {%q, %q}", ie.Event, ie.State, e, from)
				}
				if got := m.Current(); got != from {
					t.Errorf("state changed to %q on a refused event", got)
				}
				if len(rec.got) != 0 {
					t.Errorf("onTransition called on a refused event: %+v", rec.got)
				}
			})
		}
	}
}

func TestAvailableEvents(t *testing.T) {
	for _, s := range States() {
		t.Run(string(s), func(t *testing.T) {
			var rec recorder
			m := machineIn(t, s, &rec)
			var want []Event
			for e := range wantTable[s] {
				want = append(want, e)
			}
			slices.Sort(want)
			got := m.AvailableEvents()
			if len(got) == 0 && len(want) == 0 {
				return
			}
			if !slices.Equal(got, want) {
				t.Errorf("AvailableEvents() = %q, want %q", got, want)
			}
		})
	}
}

func TestIllegalEventErrorMessage(t *testing.T) {
	err := error(&IllegalEventError{Event: EventRegister, State: StateStarted})
	const want = `registration: event "register" is not allowed in state "started"`
	if got := err.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(fmt.Errorf("wrapped: %w", err), ErrIllegalEvent) {
		t.Error("wrapped IllegalEventError does not match ErrIllegalEvent")
	}
	if errors.Is(errors.New("other"), ErrIllegalEvent) || errors.Is(ErrReentrantFire, ErrIllegalEvent) {
		t.Error("unrelated errors match ErrIllegalEvent")
	}
}

// TestEnterStateCallbackFires proves the looplab callback key is spelled
// right: looplab/fsm silently ignores unknown keys, which would leave
// onTransition never called.
func TestEnterStateCallbackFires(t *testing.T) {
	calls := 0
	m := NewMachine(func(Transition) { calls++ })
	if err := m.Fire(EventStart); err != nil {
		t.Fatal(err)
	}
	if calls != 1 {
		t.Fatalf("onTransition called %d times, want 1 (callback key %q not recognised by looplab/fsm?)", calls, enterStateKey)
	}
}

func TestNilOnTransition(t *testing.T) {
	m := NewMachine(nil)
	for _, e := range []Event{EventStart, EventAuthenticate, EventAuthenticated, EventTerminate} {
		if err := m.Fire(e); err != nil {
			t.Fatalf("Fire(%q): %v", e, err)
		}
	}
	if got := m.Current(); got != StateTerminated {
		t.Errorf("Current() = %q, want terminated", got)
	}
}

func TestOnTransitionOrder(t *testing.T) {
	type seen struct {
		Transition
		current State // Current() as observed inside onTransition
	}
	var got []seen
	var m *Machine
	m = NewMachine(func(tr Transition) { got = append(got, seen{tr, m.Current()}) })

	script := []Event{
		EventStart, EventRequireCredentials, EventRegister, EventRegistered,
		EventRenew, EventRenewFailed, EventRenew, EventRenewed,
		EventConnectionLost, EventReconnect, EventAuthenticate, EventAuthenticated,
		EventFail, EventStart, EventAuthenticate, EventRequireCredentials,
		EventConnectionLost, EventFail, EventTerminate,
	}
	var want []seen
	state := StateIdle
	for _, e := range script {
		next := wantTable[state][e]
		want = append(want, seen{Transition{From: state, To: next, Event: e}, next})
		state = next
		if err := m.Fire(e); err != nil {
			t.Fatalf("Fire(%q): %v", e, err)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("transitions:\n got %+v\nwant %+v", got, want)
	}
	if m.Current() != StateTerminated || len(m.AvailableEvents()) != 0 {
		t.Errorf("end: Current() = %q, AvailableEvents() = %q", m.Current(), m.AvailableEvents())
	}
}

func TestFireReentrant(t *testing.T) {
	var m *Machine
	var innerErr error
	var innerCan bool
	calls := 0
	m = NewMachine(func(Transition) {
		calls++
		if calls == 1 {
			innerCan = m.Can(EventFail)
			innerErr = m.Fire(EventFail) // must not hang or apply
		}
	})
	if err := m.Fire(EventStart); err != nil {
		t.Fatalf("outer Fire: %v", err)
	}
	if !errors.Is(innerErr, ErrReentrantFire) {
		t.Errorf("Fire inside onTransition = %v, want ErrReentrantFire", innerErr)
	}
	if innerCan {
		t.Error("Can inside onTransition = true, want false")
	}
	if got := m.Current(); got != StateConnecting {
		t.Errorf("Current() = %q, want connecting (the re-entrant event must not apply)", got)
	}
	// Once the outer Fire returned, events are accepted again.
	if err := m.Fire(EventFail); err != nil {
		t.Fatalf("Fire after the callback returned: %v", err)
	}
	if got := m.Current(); got != StateFailed {
		t.Errorf("Current() = %q, want failed", got)
	}
}

func TestPanicInOnTransitionLeavesMachineUsable(t *testing.T) {
	panicking := true
	m := NewMachine(func(Transition) {
		if panicking {
			panic("boom")
		}
	})
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Fatalf("recover() = %v, want boom", r)
			}
		}()
		_ = m.Fire(EventStart)
	}()
	if got := m.Current(); got != StateConnecting {
		t.Errorf("Current() = %q, want connecting", got)
	}
	panicking = false
	if err := m.Fire(EventAuthenticate); err != nil {
		t.Fatalf("Fire after a panicking callback: %v", err)
	}
}

// TestCurrentFromOtherGoroutine backs the documented promise that Current is
// safe to call while the owner fires events (run with -race).
func TestCurrentFromOtherGoroutine(t *testing.T) {
	m := NewMachine(nil)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				if _, ok := wantTable[m.Current()]; !ok {
					t.Errorf("Current() returned an unknown state")
					return
				}
			}
		}
	}()
	for range 200 {
		for _, e := range []Event{EventStart, EventAuthenticate, EventAuthenticated, EventConnectionLost, EventFail} {
			if err := m.Fire(e); err != nil {
				t.Fatalf("Fire(%q): %v", e, err)
			}
		}
	}
	close(stop)
	wg.Wait()
}

package callcount

import (
	"cmp"
	"maps"
	"sync"
)

// Counts sums up the calls of a run. The JSON names are a contract of
// `sinchsim bots --json` and `sinchsim simulate --json`. The bots' summary
// embeds Counts to have its fields at its own top level: Counts must not
// get a MarshalJSON, which would replace the whole summary's.
type Counts struct {
	// Placed counts the calls attempted, Answered those that were
	// established, Failed the others.
	Placed   int `json:"placed"`
	Answered int `json:"answered"`
	Failed   int `json:"failed"`
	// FailedByCause counts the failed calls by the code that refused
	// them (call_rate_exceeded, not_started, ...) or the cause that ended
	// them (no_answer, callee_unavailable, ...); a call that ended without
	// a cause counts as "failure".
	FailedByCause map[string]int `json:"failedByCause"`
}

// Add adds o to c.
func (c *Counts) Add(o Counts) {
	c.Placed += o.Placed
	c.Answered += o.Answered
	c.Failed += o.Failed
	if len(o.FailedByCause) > 0 && c.FailedByCause == nil {
		c.FailedByCause = map[string]int{}
	}
	for k, n := range o.FailedByCause {
		c.FailedByCause[k] += n
	}
}

// Tally counts the calls of a run as they go, each call known by a key
// of type K (the caller's *client.Call). It is safe for concurrent use;
// the zero value is ready.
type Tally[K comparable] struct {
	mu       sync.Mutex
	sum      Counts
	answered map[K]bool // answered and not ended yet
}

// Placed counts a call attempted.
func (t *Tally[K]) Placed() {
	t.mu.Lock()
	t.sum.Placed++
	t.mu.Unlock()
}

// Answered counts call as established.
func (t *Tally[K]) Answered(call K) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sum.Answered++
	if t.answered == nil {
		t.answered = map[K]bool{}
	}
	t.answered[call] = true
}

// Ended counts call, which has ended with cause, as failed unless it was
// answered.
func (t *Tally[K]) Ended(call K, cause string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.answered[call] {
		delete(t.answered, call)
		return
	}
	t.failedLocked(cause)
}

// Failed counts a call that failed with cause ("" counts as "failure").
func (t *Tally[K]) Failed(cause string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.failedLocked(cause)
}

func (t *Tally[K]) failedLocked(cause string) {
	t.sum.Failed++
	if t.sum.FailedByCause == nil {
		t.sum.FailedByCause = map[string]int{}
	}
	t.sum.FailedByCause[cmp.Or(cause, "failure")]++
}

// Counts returns the counts so far; its FailedByCause is never nil.
func (t *Tally[K]) Counts() Counts {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := t.sum
	out.FailedByCause = maps.Clone(t.sum.FailedByCause)
	if out.FailedByCause == nil {
		out.FailedByCause = map[string]int{}
	}
	return out
}

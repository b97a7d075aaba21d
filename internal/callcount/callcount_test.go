package callcount

import (
	"encoding/json"
	"reflect"
	"sync"
	"testing"
)

func TestTally(t *testing.T) {
	var tl Tally[int]
	if c := tl.Counts(); c.Placed != 0 || c.FailedByCause == nil {
		t.Fatalf("zero tally: %+v", c)
	}
	for range 5 {
		tl.Placed()
	}
	tl.Answered(1)
	tl.Answered(2)
	tl.Ended(1, "hung_up") // answered: not a failure, whatever its cause
	tl.Ended(3, "no_answer")
	tl.Ended(4, "") // ended without a cause
	tl.Failed("call_rate_exceeded")
	tl.Failed("") // refused without a code
	want := Counts{Placed: 5, Answered: 2, Failed: 4,
		FailedByCause: map[string]int{"no_answer": 1, "failure": 2, "call_rate_exceeded": 1}}
	got := tl.Counts()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("counts %+v, want %+v", got, want)
	}
	// Counts is a copy.
	got.FailedByCause["no_answer"] = 9
	if tl.Counts().FailedByCause["no_answer"] != 1 {
		t.Fatal("Counts shares its map with the tally")
	}
	// An answered call is forgotten once it ended: the same key counts
	// anew.
	tl.Ended(1, "no_answer")
	if c := tl.Counts(); c.Failed != 5 || c.FailedByCause["no_answer"] != 2 {
		t.Fatalf("a key reused after its call ended: %+v", c)
	}
}

func TestTallyConcurrent(t *testing.T) {
	var tl Tally[int]
	var wg sync.WaitGroup
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // reads the counts meanwhile, as a progress report would
		defer close(done)
		for {
			if c := tl.Counts(); c.Failed > c.Placed {
				t.Errorf("more failed than placed: %+v", c)
			}
			select {
			case <-stop:
				return
			default:
			}
		}
	}()
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				k := g*1000 + i
				tl.Placed()
				switch i % 3 {
				case 0:
					tl.Answered(k)
					tl.Ended(k, "hung_up")
				case 1:
					tl.Ended(k, "no_answer")
				default:
					tl.Failed("call_rate_exceeded")
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-done
	want := Counts{Placed: 800, Answered: 8 * 34, Failed: 8 * 66,
		FailedByCause: map[string]int{"no_answer": 8 * 33, "call_rate_exceeded": 8 * 33}}
	if c := tl.Counts(); !reflect.DeepEqual(c, want) {
		t.Fatalf("counts %+v, want %+v", c, want)
	}
}

func TestAdd(t *testing.T) {
	var sum Counts
	sum.Add(Counts{Placed: 1, Answered: 1})
	if sum.FailedByCause != nil {
		t.Fatal("adding no failure made a map")
	}
	sum.Add(Counts{Placed: 3, Answered: 1, Failed: 2, FailedByCause: map[string]int{"no_answer": 2}})
	sum.Add(Counts{Placed: 1, Failed: 1, FailedByCause: map[string]int{"no_answer": 1}})
	want := Counts{Placed: 5, Answered: 2, Failed: 3, FailedByCause: map[string]int{"no_answer": 3}}
	if !reflect.DeepEqual(sum, want) {
		t.Fatalf("sum %+v, want %+v", sum, want)
	}
}

// The JSON field names are a contract of bots and simulate.
func TestJSONNames(t *testing.T) {
	b, err := json.Marshal(Counts{Placed: 2, Answered: 1, Failed: 1, FailedByCause: map[string]int{"no_answer": 1}})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"placed":2,"answered":1,"failed":1,"failedByCause":{"no_answer":1}}`; string(b) != want {
		t.Fatalf("JSON %s, want %s", b, want)
	}
}

package fakebackend

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sinchsim/sinchsim/vclock"
)

// A server on a virtual clock with a data directory continues at its saved
// time after a restart, even when started at an earlier time (sinchsim
// serve --clock mock starts at the wall clock); a later start time wins.
func TestVirtualClockPersistsInDataDir(t *testing.T) {
	dir := t.TempDir()
	start := DefaultMockTime
	open := func(at time.Time) *Server {
		t.Helper()
		s, err := NewServer(Config{DataDir: dir, Clock: vclock.New(at), Applications: []Application{NewApplication()}})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open(start)
	if err := s.Advance(48 * time.Hour); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if b, err := os.ReadFile(filepath.Join(dir, clockFileName)); err != nil || len(b) == 0 {
		t.Fatalf("no saved clock: %v", err)
	}
	s = open(start) // as the wall clock two days behind
	if got, want := s.Now(), start.Add(48*time.Hour); !got.Equal(want) {
		t.Fatalf("restarted at %v, want the saved %v", got, want)
	}
	s.Close()
	later := start.Add(100 * time.Hour)
	s = open(later)
	if got := s.Now(); !got.Equal(later) {
		t.Fatalf("restarted at %v, want the later start %v", got, later)
	}
	if err := s.SetTime(later.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = open(start)
	defer s.Close()
	if got, want := s.Now(), later.Add(time.Hour); !got.Equal(want) {
		t.Fatalf("restarted at %v, want %v", got, want)
	}
}

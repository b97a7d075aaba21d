package fakebackend

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// clockFileName holds a virtual clock's time in a data directory, so that
// a restarted server continues where it stopped instead of at the start
// time it was given (the wall clock, with sinchsim serve), which may lie
// behind the saved instances, nonces and expiries.
const clockFileName = "clock"

// restoreClock moves a virtual clock forward to the time saved in the data
// directory. A restart never goes backwards.
func (s *Server) restoreClock() error {
	if s.world == nil || s.cfg.DataDir == "" || s.cfg.Store != nil {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(s.cfg.DataDir, clockFileName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("fakebackend: reading the saved clock: %w", err)
	}
	saved, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(string(b)))
	if err != nil {
		s.log.Warn("the saved clock is unreadable; starting at the configured time", "file", clockFileName)
		return nil
	}
	if saved.After(s.world.Now()) {
		return s.world.Set(saved)
	}
	return nil
}

// saveClock records a virtual clock's time in the data directory.
func (s *Server) saveClock() error {
	if s.world == nil || s.cfg.DataDir == "" || s.cfg.Store != nil {
		return nil
	}
	t := s.world.Now().UTC().Format(time.RFC3339Nano)
	return writeFileAtomic(filepath.Join(s.cfg.DataDir, clockFileName), []byte(t+"\n"))
}

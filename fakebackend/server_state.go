package fakebackend

// Direct access to the backend's state for tests and embedders:
// applications, instances, reset and dropped connections.

import (
	"errors"

	"github.com/sinchsim/sinchsim/credentials"
)

// AddApplication adds (or replaces) an application.
func (s *Server) AddApplication(a Application) error {
	if a.Key == "" || a.Secret.IsZero() {
		return errors.New("fakebackend: an application needs a key and a secret")
	}
	if err := s.store.PutApplication(a); err != nil {
		return err
	}
	s.keys.Add(a.Key, a.Secret)
	if s.shared != nil && s.leave != nil {
		if err := s.shared.Send("", Notice{Kind: NoticeApplications}); err != nil {
			s.log.Warn("telling the other replicas of an application", "err", err)
		}
	}
	return nil
}

// Applications returns the known applications, sorted by key.
func (s *Server) Applications() []Application {
	apps, _ := s.store.Applications()
	return apps
}

// Application returns the first application of Config.Applications (with
// RunT's default configuration, the one it created), or else the first
// known one by key.
func (s *Server) Application() Application {
	if len(s.cfg.Applications) > 0 {
		if sec, ok := s.keys.Secret(s.cfg.Applications[0].Key); ok {
			return Application{Key: s.cfg.Applications[0].Key, Secret: sec}
		}
	}
	apps := s.Applications()
	if len(apps) == 0 {
		return Application{}
	}
	return apps[0]
}

// Minter returns a Minter for the first application on the backend's clock:
// what a test's auth server would use.
func (s *Server) Minter() *credentials.Minter {
	a := s.Application()
	m, err := credentials.NewMinter(credentials.MinterConfig{ApplicationKey: a.Key, Secret: a.Secret, Clock: s.clock})
	if err != nil {
		panic("fakebackend: no application to mint for: " + err.Error())
	}
	return m
}

// Instances returns every instance, oldest first.
func (s *Server) Instances() []Instance {
	insts, _ := s.store.Instances()
	return insts
}

// Instance returns one instance.
func (s *Server) Instance(id string) (Instance, bool) {
	i, err := s.store.Instance(id)
	return i, err == nil
}

// Store returns the server's store.
func (s *Server) Store() Store {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.store
}

// Reset drops every instance, device record, sequence, nonce, event,
// push and fault, and closes client connections (which ends their calls);
// applications stay. With a shared store, every replica does so.
func (s *Server) Reset() error {
	s.resetLocal()
	if err := s.store.Reset(); err != nil {
		return err
	}
	if s.shared != nil {
		return s.shared.Send("", Notice{Kind: NoticeReset})
	}
	return nil
}

// resetLocal drops what this replica keeps besides the store: its
// connections (which ends their calls), events, faults, pushes and the
// call limits' history.
func (s *Server) resetLocal() {
	s.CloseClientConnections()
	s.events.reset()
	s.faults.reset()
	s.pushes.reset()
	s.calls.reset()
}

// CloseClientConnections drops every client connection abruptly (no close
// handshake), as a network failure would.
func (s *Server) CloseClientConnections() {
	s.mu.Lock()
	sessions := make([]*session, 0, len(s.sessions))
	for ss := range s.sessions {
		sessions = append(sessions, ss)
	}
	s.mu.Unlock()
	for _, ss := range sessions {
		ss.drop()
	}
}

// ConnectedClients is the number of open WebSocket connections.
func (s *Server) ConnectedClients() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

package client

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/sinchsim/sinchsim/registration"
)

// Subscription delivers every state transition of a client, in order,
// without loss (it buffers without bound until read).
type Subscription struct {
	mu     sync.Mutex
	queue  []registration.Transition
	notify chan struct{}
	closed bool
	c      *SinchClient
}

// Subscribe starts a Subscription of state transitions from now on.
func (c *SinchClient) Subscribe() *Subscription {
	s := &Subscription{notify: make(chan struct{}, 1), c: c}
	c.mu.Lock()
	subs := append(slices.Clone(c.subscribers()), s)
	c.subs.Store(&subs)
	c.mu.Unlock()
	return s
}

// subscribers returns the current subscriptions (a snapshot).
func (c *SinchClient) subscribers() []*Subscription {
	if p := c.subs.Load(); p != nil {
		return *p
	}
	return nil
}

func (s *Subscription) push(t registration.Transition) {
	s.mu.Lock()
	if !s.closed {
		s.queue = append(s.queue, t)
	}
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// Next returns the next transition, waiting for it until ctx ends.
func (s *Subscription) Next(ctx context.Context) (registration.Transition, error) {
	for {
		s.mu.Lock()
		if len(s.queue) > 0 {
			t := s.queue[0]
			s.queue = s.queue[1:]
			s.mu.Unlock()
			return t, nil
		}
		closed := s.closed
		s.mu.Unlock()
		if closed {
			return registration.Transition{}, errors.New("sinchsim: subscription closed")
		}
		select {
		case <-s.notify:
		case <-ctx.Done():
			return registration.Transition{}, ctx.Err()
		}
	}
}

// Close ends the subscription.
func (s *Subscription) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	c := s.c
	c.mu.Lock()
	subs := slices.DeleteFunc(slices.Clone(c.subscribers()), func(x *Subscription) bool { return x == s })
	c.subs.Store(&subs)
	c.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

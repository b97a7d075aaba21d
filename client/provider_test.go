package client

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/fakebackend"
)

// countingProvider mints tokens for the backend's application, or fails
// with err, and says whether it is credentials.Immediate.
type countingProvider struct {
	s         *fakebackend.Server
	immediate bool
	err       error
	mu        sync.Mutex
	asked     []credentials.Request
	onLoop    []bool // whether each request was asked on the client's loop
}

// askedOnLoop reports whether the caller is the client's loop asking
// directly (askCredentials in the stack), not a goroutine started for it.
func askedOnLoop() bool {
	pcs := make([]uintptr, 32)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(3, pcs)])
	for {
		f, more := frames.Next()
		if strings.HasSuffix(f.Function, "/client.(*loop).askCredentials") {
			return true
		}
		if !more {
			return false
		}
	}
}

func (p *countingProvider) Immediate() bool { return p.immediate }

func (p *countingProvider) Token(ctx context.Context, req credentials.Request) (string, error) {
	p.mu.Lock()
	p.asked = append(p.asked, req)
	p.onLoop = append(p.onLoop, askedOnLoop())
	p.mu.Unlock()
	if p.err != nil {
		return "", p.err
	}
	return p.s.Minter().MintWith(credentials.MintParams{UserID: req.UserID, RequireInstanceTTL: req.InstanceTTL})
}

// A provider that answers at once (credentials.Immediate, such as the
// self-signed one) is asked on the client's loop, one that may wait on a
// goroutine of its own: either way it is asked once per registration, with
// the client's request, and its answer or failure counts the same.
func TestProvidersImmediateOrNot(t *testing.T) {
	var _ credentials.Immediate = (*credentials.SelfSignedProvider)(nil)
	boom := errors.New("no token today")
	for _, tc := range []struct {
		name      string
		immediate bool
		err       error
	}{
		{"immediate", true, nil},
		{"may wait", false, nil},
		{"immediate, failing", true, boom},
		{"may wait, failing", false, boom},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := fakebackend.RunT(t)
			p := &countingProvider{s: s, immediate: tc.immediate, err: tc.err}
			c := newClient(t, s, &ListenerFuncs{}, WithCredentialsProvider(p), WithInstanceTTL(true))
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			err := c.WaitStarted(ctxT(t))
			if tc.err != nil {
				if !errors.Is(err, ErrRegistrationFailed) || !errors.Is(err, boom) {
					t.Fatalf("WaitStarted = %v, want the provider's failure", err)
				}
			} else if err != nil {
				t.Fatalf("WaitStarted = %v", err)
			}
			if err := c.WaitIdle(ctxT(t)); err != nil {
				t.Fatal(err)
			}
			p.mu.Lock()
			defer p.mu.Unlock()
			want := credentials.Request{ApplicationKey: s.Application().Key, UserID: "alice", InstanceTTL: true}
			if len(p.asked) != 1 || p.asked[0] != want {
				t.Fatalf("provider asked %+v, want once %+v", p.asked, want)
			}
			if p.onLoop[0] != tc.immediate {
				t.Fatalf("asked on the client's loop: %v, want %v", p.onLoop[0], tc.immediate)
			}
			if st := c.Stats(); st.CredentialsRequests != 1 || (tc.err == nil) != (st.InstancesCreated == 1) {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

package client

import (
	"testing"
)

func TestEnvironmentHostsRoundRobinAtStart(t *testing.T) {
	hosts := []string{"127.0.0.1:1001", "ws://127.0.0.1:1002/ws/v1", "127.0.0.1:1003"}
	want := map[string]bool{"ws://127.0.0.1:1001/ws/v1": true, "ws://127.0.0.1:1002/ws/v1": true, "ws://127.0.0.1:1003/ws/v1": true}
	seen := map[string]bool{}
	for range hosts {
		c, err := New("app", hosts[0], "u", WithEnvironmentHosts(hosts[1:]...))
		if err != nil {
			t.Fatal(err)
		}
		if n := len(c.URLs()); n != 3 {
			t.Fatalf("URLs = %v", c.URLs())
		}
		seen[c.URL()] = true
	}
	if len(seen) != 3 {
		t.Fatalf("three clients started at %v, want each host once", seen)
	}
	for u := range seen {
		if !want[u] {
			t.Fatalf("unexpected URL %s", u)
		}
	}
}

func TestEnvironmentHostsValidatedAndDeduplicated(t *testing.T) {
	tests := []struct {
		name  string
		hosts []string
		urls  int
		ok    bool
	}{
		{"one host", nil, 1, true},
		{"duplicate", []string{"127.0.0.1:7443", "ws://127.0.0.1:7443/ws/v1"}, 1, true},
		{"two", []string{"127.0.0.2:7443"}, 2, true},
		{"bad", []string{"no-port"}, 0, false},
		{"empty", []string{""}, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New("app", "127.0.0.1:7443", "u", WithEnvironmentHosts(tc.hosts...))
			if (err == nil) != tc.ok {
				t.Fatalf("New: %v, want ok=%v", err, tc.ok)
			}
			if err != nil {
				if CodeOf(err) != "invalid_argument" {
					t.Fatalf("code %q", CodeOf(err))
				}
				return
			}
			if len(c.URLs()) != tc.urls {
				t.Fatalf("URLs = %v, want %d", c.URLs(), tc.urls)
			}
		})
	}
}

// TestNextHostWrapsAround: each reconnect moves to the next host, and
// after the last comes the first. (Failing over between replicas that
// share a store: fakebackend/redisstore's TestClientFailsOverToAnotherReplica.)
func TestNextHostWrapsAround(t *testing.T) {
	c, err := New("app", "127.0.0.1:1001", "u", WithEnvironmentHosts("127.0.0.1:1002"))
	if err != nil {
		t.Fatal(err)
	}
	first := c.URL()
	c.nextHost()
	if c.URL() == first {
		t.Fatal("nextHost did not move")
	}
	c.nextHost()
	if c.URL() != first {
		t.Fatal("nextHost does not wrap around")
	}
}

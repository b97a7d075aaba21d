package client

// The backend's hosts: the environment URL, and failover over several.

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/sinchsim/sinchsim/transport"
)

// environmentURL turns "host:port" or a ws(s):// URL into the WebSocket URL
// as transport.Dial would (transport.URL), with two client rules on top: a
// bare host needs its port, and a root path "/" counts as no path.
func environmentURL(env string) (string, error) {
	if env == "" {
		return "", errors.New("environment host is empty")
	}
	if !strings.Contains(env, "://") {
		host, port, err := net.SplitHostPort(env)
		if err != nil || host == "" || port == "" {
			return "", fmt.Errorf("environment host %q is not host:port or a ws:// URL", env)
		}
	}
	s, err := transport.URL(env)
	if err != nil {
		// `transport: invalid URL "x": why` becomes `environment URL "x": why`.
		msg, _ := strings.CutPrefix(err.Error(), "transport: invalid URL ")
		return "", errors.New("environment URL " + msg)
	}
	if u, err := url.Parse(s); err == nil && u.Path == "/" {
		u.Path = transport.Path
		s = u.String()
	}
	return s, nil
}

// startHost numbers the clients with several hosts, for round-robin.
var startHost atomic.Uint32

// URL returns the backend's WebSocket URL: with several hosts
// (WithEnvironmentHosts), the one the client uses now, or tries next.
func (c *SinchClient) URL() string { return c.urls[c.urlIdx.Load()] }

// URLs returns every backend WebSocket URL the client may use, in order.
func (c *SinchClient) URLs() []string { return slices.Clone(c.urls) }

// nextHost makes the next host the one the next connection attempt uses.
func (c *SinchClient) nextHost() {
	if len(c.urls) > 1 {
		c.urlIdx.Store((c.urlIdx.Load() + 1) % uint32(len(c.urls)))
	}
}

package redisstore

// The store's keys (docs/SCALING.md lists them).

import (
	"net/url"
	"strings"
)

// Keys. Parts that come from clients are escaped, so that no two records
// share a key.
func esc(s string) string { return url.QueryEscape(s) }

func (s *Store) key(parts ...string) string {
	var b strings.Builder
	b.WriteString(s.prefix)
	for i, p := range parts {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(p)
	}
	return b.String()
}

func (s *Store) appsKey() string            { return s.key("apps") }
func (s *Store) instKey(id string) string   { return s.key("inst", esc(id)) }
func (s *Store) instSetKey() string         { return s.key("insts") }
func (s *Store) endedKey(id string) string  { return s.key("ended", esc(id)) }
func (s *Store) holderKey(id string) string { return s.key("holder", esc(id)) }
func (s *Store) userKey(app, user string) string {
	return s.key("user", esc(app), esc(user))
}
func (s *Store) userInstsKey(app, user string) string {
	return s.key("userinsts", esc(app), esc(user))
}
func (s *Store) ringingKey(app, user string) string {
	return s.key("ringing", esc(app), esc(user))
}
func (s *Store) creationsKey(app, user string) string {
	return s.key("creations", esc(app), esc(user))
}
func (s *Store) deviceKey(app, user, device string) string {
	return s.key("device", esc(app), esc(user), esc(device))
}
func (s *Store) nonceKey(app, nonce string) string { return s.key("nonce", esc(app), esc(nonce)) }
func (s *Store) clockKey() string                  { return s.key("clock") }
func (s *Store) replicasKey() string               { return s.key("replicas") }
func (s *Store) reachedKey() string                { return s.key("reached") }
func (s *Store) eventsKey() string                 { return s.key("events") }
func (s *Store) eventSeqKey() string               { return s.key("events", "seq") }
func (s *Store) busChannel() string                { return s.key("bus") }
func (s *Store) replicaChannel(r string) string    { return s.key("to", esc(r)) }

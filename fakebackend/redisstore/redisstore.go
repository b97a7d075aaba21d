// Package redisstore keeps a fake backend's state in Redis, so that
// several sinchsim serve processes (replicas) behave as one backend:
//
//	st, err := redisstore.Open("redis://127.0.0.1:6379/0", redisstore.Options{})
//	srv, err := fakebackend.NewServer(fakebackend.Config{Store: st})
//
// It implements fakebackend.Shared. Every rule holds across replicas
// exactly as in one process, because each decision is committed as a
// whole at the user's version (one Lua script that also counts the
// instance creation against the rate limit) and nonces are claimed with
// SET NX. The stored times decide (an instance's expireAt, a nonce's
// validity), never a Redis key's own expiry, which runs on the wall clock
// while the backend may run on a virtual one.
//
// When Redis cannot be reached every method returns an error that wraps
// fakebackend.ErrUnavailable, and the backend refuses the request with
// the retryable code unavailable: it never decides without the store.
//
// docs/SCALING.md describes the keys, what is atomic where, and the
// failure cases.
package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/fakebackend"
)

// Options configures a Store. The zero value is usable.
type Options struct {
	// Prefix starts every key and channel name; default DefaultPrefix.
	// Backends with different prefixes share nothing.
	Prefix string
	// Replica names this replica among those sharing the store; default
	// the host name, the process id and a random suffix.
	Replica string
	// Timeout bounds each Redis command; default 2 s.
	Timeout time.Duration
}

// DefaultPrefix is the default key prefix.
const DefaultPrefix = "sinchsim:"

// Timing of the replica registry: a replica that has not written its
// heartbeat for replicaAlive is no longer counted as alive.
const (
	heartbeatEvery = time.Second
	replicaAlive   = 5 * time.Second
	// endedTTL is how long how a deleted instance ended is kept for a
	// connection that missed its notice (wall-clock time).
	endedTTL = 24 * time.Hour
	// nonceSlack is added to a nonce key's Redis expiry beyond the
	// token's remaining validity, so that a mock clock that stands still
	// does not lose it; its stored validity decides either way.
	nonceSlack = 24 * time.Hour
)

// Store is the Redis Store. It is safe for concurrent use.
type Store struct {
	rdb     *redis.Client
	prefix  string
	replica string
	timeout time.Duration

	mu     sync.Mutex
	joined *membership
}

var _ fakebackend.Shared = (*Store)(nil)

// Applications returns every application, sorted by key.
func (s *Store) Applications() ([]fakebackend.Application, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	m, err := s.rdb.HGetAll(ctx, s.appsKey()).Result()
	if err != nil {
		return nil, fail(err)
	}
	out := make([]fakebackend.Application, 0, len(m))
	for k, v := range m {
		sec, err := credentials.ParseSecret(v)
		if err != nil {
			return nil, fmt.Errorf("redisstore: stored application %q: %w", k, err)
		}
		out = append(out, fakebackend.Application{Key: k, Secret: sec})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// PutApplication adds or replaces an application.
func (s *Store) PutApplication(a fakebackend.Application) error {
	ctx, cancel := s.ctx()
	defer cancel()
	return fail(s.rdb.HSet(ctx, s.appsKey(), a.Key, a.Secret.Text()).Err())
}

// instanceRecord is an instance as stored, secret included.
type instanceRecord struct {
	fakebackend.Instance
	Secret string `json:"secret"`
}

func encodeInstance(i fakebackend.Instance) (string, error) {
	b, err := json.Marshal(instanceRecord{Instance: i, Secret: string(i.Secret)})
	return string(b), err
}

func decodeInstance(data string) (fakebackend.Instance, error) {
	var r instanceRecord
	if err := json.Unmarshal([]byte(data), &r); err != nil {
		return fakebackend.Instance{}, fmt.Errorf("redisstore: a stored instance is damaged: %v", err)
	}
	i := r.Instance
	i.Secret = fakebackend.InstanceSecret(r.Secret)
	return i, nil
}

// Instance returns one instance, or fakebackend.ErrNotFound.
func (s *Store) Instance(id string) (fakebackend.Instance, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	v, err := s.rdb.Get(ctx, s.instKey(id)).Result()
	if errors.Is(err, redis.Nil) {
		return fakebackend.Instance{}, fakebackend.ErrNotFound
	}
	if err != nil {
		return fakebackend.Instance{}, fail(err)
	}
	return decodeInstance(v)
}

// mget reads the string at key(id) of each id, a thousand keys a round
// trip, and calls each with the id's index and the value of every key
// that exists.
func (s *Store) mget(ctx context.Context, ids []string, key func(string) string, each func(k int, v string) error) error {
	const batch = 1000
	for start := 0; start < len(ids); start += batch {
		part := ids[start:min(start+batch, len(ids))]
		keys := make([]string, len(part))
		for k, id := range part {
			keys[k] = key(id)
		}
		vals, err := s.rdb.MGet(ctx, keys...).Result()
		if err != nil {
			return fail(err)
		}
		for k, v := range vals {
			if str, ok := v.(string); ok {
				if err := each(start+k, str); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// Instances returns every instance, sorted by creation time then id.
func (s *Store) Instances() ([]fakebackend.Instance, error) {
	return s.instancesIn(s.instSetKey())
}

// UserInstances returns the instances of one user of one application,
// sorted by creation time then id, without reading anybody else's (what
// a call needs of its callee).
func (s *Store) UserInstances(app, user string) ([]fakebackend.Instance, error) {
	return s.instancesIn(s.userInstsKey(app, user))
}

// instancesIn reads the instances whose ids the set at key holds.
func (s *Store) instancesIn(key string) ([]fakebackend.Instance, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*s.timeout)
	defer cancel()
	ids, err := s.rdb.SMembers(ctx, key).Result()
	if err != nil {
		return nil, fail(err)
	}
	out := make([]fakebackend.Instance, 0, len(ids))
	err = s.mget(ctx, ids, s.instKey, func(_ int, v string) error { // a deleted one is skipped
		i, err := decodeInstance(v)
		if err == nil {
			out = append(out, i)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// InstanceCount returns how many instances there are.
func (s *Store) InstanceCount() (int, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	n, err := s.rdb.SCard(ctx, s.instSetKey()).Result()
	return int(n), fail(err)
}

// Device returns what is remembered of a user's device.
func (s *Store) Device(app, user, device string) (fakebackend.Device, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	v, err := s.rdb.Get(ctx, s.deviceKey(app, user, device)).Result()
	if errors.Is(err, redis.Nil) {
		return fakebackend.Device{Application: app, User: user, Device: device}, nil
	}
	if err != nil {
		return fakebackend.Device{}, fail(err)
	}
	var d fakebackend.Device
	if err := json.Unmarshal([]byte(v), &d); err != nil {
		return fakebackend.Device{}, fmt.Errorf("redisstore: a stored device is damaged: %v", err)
	}
	return d, nil
}

// LegacySequence returns the last accepted legacy sequence of a user.
func (s *Store) LegacySequence(app, user string) (uint64, error) {
	return s.userField(app, user, "seq")
}

// UserVersion returns the user's version.
func (s *Store) UserVersion(app, user string) (uint64, error) {
	return s.userField(app, user, "v")
}

// ReadUser reads the user's version and sequence, a device and an
// instance in one transaction (MULTI/EXEC): one round trip, one moment.
func (s *Store) ReadUser(app, user, device, instance string) (fakebackend.UserState, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	var fields *redis.SliceCmd
	var dev, inst *redis.StringCmd
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		fields = p.HMGet(ctx, s.userKey(app, user), "v", "seq")
		if device != "" {
			dev = p.Get(ctx, s.deviceKey(app, user, device))
		}
		if instance != "" {
			inst = p.Get(ctx, s.instKey(instance))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return fakebackend.UserState{}, fail(err)
	}
	var st fakebackend.UserState
	vals := fields.Val()
	for k, dst := range []*uint64{&st.Version, &st.Sequence} {
		if v, ok := vals[k].(string); ok {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return st, fmt.Errorf("redisstore: a stored user record is damaged: %v", err)
			}
			*dst = n
		}
	}
	if dev != nil {
		st.Device = fakebackend.Device{Application: app, User: user, Device: device}
		if v, err := dev.Result(); err == nil {
			if err := json.Unmarshal([]byte(v), &st.Device); err != nil {
				return st, fmt.Errorf("redisstore: a stored device is damaged: %v", err)
			}
		}
	}
	if inst != nil {
		if v, err := inst.Result(); err == nil {
			i, err := decodeInstance(v)
			if err != nil {
				return st, err
			}
			st.Instance = &i
		}
	}
	return st, nil
}

func (s *Store) userField(app, user, field string) (uint64, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	v, err := s.rdb.HGet(ctx, s.userKey(app, user), field).Result()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fail(err)
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("redisstore: a stored %s is damaged: %v", field, err)
	}
	return n, nil
}

// commitScript applies a Change if the user's version is unchanged:
//
//	KEYS: user hash, creations, instance set, the user's instance set,
//	      then a key per put instance, two per deletion (instance,
//	      ended), one per device
//	ARGV: version, creation time (µs, "" for none), window (µs), limit,
//	      creation member, sequence ("" for none), #put, #delete,
//	      #devices, ended TTL (ms), then id and record per put, id and
//	      ended record per deletion, record per device
//
// It returns {1} when applied, {0} on a version conflict and
// {2, oldest creation} when the creation limit is reached.
var commitScript = redis.NewScript(`
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if v ~= tonumber(ARGV[1]) then return {0} end
if ARGV[2] ~= '' then
  local now = tonumber(ARGV[2])
  local limit = tonumber(ARGV[4])
  if limit > 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[3]))
    if redis.call('ZCARD', KEYS[2]) >= limit then
      local first = redis.call('ZRANGE', KEYS[2], 0, 0)
      return {2, first[1]}
    end
    redis.call('ZADD', KEYS[2], now, ARGV[5])
  end
end
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'seq', ARGV[6]) end
local nput, ndel, ndev = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local k, a = 5, 11
for i = 1, nput do
  redis.call('SET', KEYS[k], ARGV[a + 1])
  redis.call('SADD', KEYS[3], ARGV[a])
  redis.call('SADD', KEYS[4], ARGV[a])
  k, a = k + 1, a + 2
end
for i = 1, ndel do
  if redis.call('DEL', KEYS[k]) == 1 and ARGV[a + 1] ~= '' then
    redis.call('SET', KEYS[k + 1], ARGV[a + 1], 'PX', ARGV[10])
  end
  redis.call('SREM', KEYS[3], ARGV[a])
  redis.call('SREM', KEYS[4], ARGV[a])
  k, a = k + 2, a + 2
end
for i = 1, ndev do
  redis.call('SET', KEYS[k], ARGV[a])
  k, a = k + 1, a + 1
end
redis.call('HINCRBY', KEYS[1], 'v', 1)
return {1}
`)

// Commit applies c atomically (one Lua script) if the user's version is
// still c.Version.
func (s *Store) Commit(c fakebackend.Change) (fakebackend.Committed, error) {
	keys := []string{s.userKey(c.Application, c.User), s.creationsKey(c.Application, c.User), s.instSetKey(),
		s.userInstsKey(c.Application, c.User)}
	args := make([]any, 10, 10+2*len(c.Put)+2*len(c.Delete)+len(c.Devices))
	args[0] = strconv.FormatUint(c.Version, 10)
	args[1], args[2], args[3], args[4] = "", "0", "0", ""
	if cr := c.Creation; cr != nil {
		args[1] = strconv.FormatInt(cr.At.UnixMicro(), 10)
		args[2] = strconv.FormatInt(cr.Window.Microseconds(), 10)
		args[3] = strconv.Itoa(cr.Limit)
		args[4] = strconv.FormatInt(cr.At.UnixNano(), 10) + ":" + randomHex(6)
	}
	args[5] = ""
	if c.Sequence != 0 {
		args[5] = strconv.FormatUint(c.Sequence, 10)
	}
	args[6], args[7], args[8] = len(c.Put), len(c.Delete), len(c.Devices)
	args[9] = endedTTL.Milliseconds()
	for _, i := range c.Put {
		rec, err := encodeInstance(i)
		if err != nil {
			return fakebackend.Committed{}, err
		}
		keys = append(keys, s.instKey(i.ID))
		args = append(args, i.ID, rec)
	}
	for _, e := range c.Delete {
		rec := ""
		if e.Code != "" {
			b, err := json.Marshal(e)
			if err != nil {
				return fakebackend.Committed{}, err
			}
			rec = string(b)
		}
		keys = append(keys, s.instKey(e.Instance), s.endedKey(e.Instance))
		args = append(args, e.Instance, rec)
	}
	for _, d := range c.Devices {
		b, err := json.Marshal(d)
		if err != nil {
			return fakebackend.Committed{}, err
		}
		keys = append(keys, s.deviceKey(d.Application, d.User, d.Device))
		args = append(args, string(b))
	}
	ctx, cancel := s.ctx()
	defer cancel()
	res, err := commitScript.Run(ctx, s.rdb, keys, args...).Slice()
	if err != nil {
		return fakebackend.Committed{}, fail(err)
	}
	switch code, _ := res[0].(int64); code {
	case 1:
		return fakebackend.Committed{}, nil
	case 0:
		return fakebackend.Committed{}, fakebackend.ErrConflict
	case 2:
		oldest, _ := res[1].(string)
		ns, _, _ := strings.Cut(oldest, ":")
		n, err := strconv.ParseInt(ns, 10, 64)
		if err != nil {
			return fakebackend.Committed{}, fmt.Errorf("redisstore: a stored creation is damaged: %q", oldest)
		}
		wait := time.Unix(0, n).Add(c.Creation.Window).Sub(c.Creation.At)
		return fakebackend.Committed{RateLimited: true, RetryAfter: wait}, nil
	}
	return fakebackend.Committed{}, fmt.Errorf("redisstore: unexpected answer from the commit script: %v", res)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// stamp writes a time as "seconds nanoseconds", which Lua compares
// exactly (its numbers are doubles: nanoseconds since 1970 do not fit).
func stamp(t time.Time) string {
	return strconv.FormatInt(t.Unix(), 10) + " " + strconv.Itoa(t.Nanosecond())
}

func parseStamp(v string) (time.Time, error) {
	sec, nsec, ok := strings.Cut(v, " ")
	s, err1 := strconv.ParseInt(sec, 10, 64)
	n, err2 := strconv.ParseInt(nsec, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return time.Time{}, fmt.Errorf("redisstore: a stored time is damaged: %q", v)
	}
	return time.Unix(s, n).UTC(), nil
}

// laterLua is a Lua function: is stamp a later than stamp b?
const laterLua = `
local function later(a, b)
  local as, an = string.match(a, '^(%-?%d+) (%d+)$')
  local bs, bn = string.match(b, '^(%-?%d+) (%d+)$')
  as, an, bs, bn = tonumber(as), tonumber(an), tonumber(bs), tonumber(bn)
  return as > bs or (as == bs and an > bn)
end
`

// nonceScript claims a nonce: SET NX with an expiry; when the key exists,
// its stored validity (not the key's expiry) says whether it still counts.
//
//	KEYS: nonce key; ARGV: valid-until stamp, now stamp, key expiry (ms)
var nonceScript = redis.NewScript(laterLua + `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[3]) then return 1 end
local cur = redis.call('GET', KEYS[1])
if cur and later(cur, ARGV[2]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1
`)

// UseNonce records a nonce until validUntil and reports whether it was
// unused. The Redis store keeps no count of nonces: max is not applied
// (Redis's own memory limit bounds them); each key expires by itself once
// the token can no longer be valid.
func (s *Store) UseNonce(app, nonce string, validUntil, now time.Time, _ int) (bool, error) {
	ttl := max(validUntil.Sub(now), 0) + nonceSlack
	ctx, cancel := s.ctx()
	defer cancel()
	n, err := nonceScript.Run(ctx, s.rdb, []string{s.nonceKey(app, nonce)}, stamp(validUntil), stamp(now), ttl.Milliseconds()).Int()
	if err != nil {
		return false, fail(err)
	}
	return n == 1, nil
}

// Reset drops all state but the applications, the clock and the replica
// registry; the decision log's numbering goes on.
func (s *Store) Reset() error {
	keep := map[string]bool{s.appsKey(): true, s.clockKey(): true, s.replicasKey(): true, s.reachedKey(): true, s.eventSeqKey(): true}
	return s.deleteMatching(func(k string) bool { return !keep[k] })
}

// Purge deletes every key of the store's prefix: what a test does when
// it is done with a store.
func (s *Store) Purge() error { return s.deleteMatching(func(string) bool { return true }) }

func (s *Store) deleteMatching(del func(string) bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*s.timeout)
	defer cancel()
	var cursor uint64
	for {
		keys, next, err := s.rdb.Scan(ctx, cursor, globEscape(s.prefix)+"*", 1000).Result()
		if err != nil {
			return fail(err)
		}
		var batch []string
		for _, k := range keys {
			if del(k) {
				batch = append(batch, k)
			}
		}
		if len(batch) > 0 {
			if err := s.rdb.Unlink(ctx, batch...).Err(); err != nil {
				return fail(err)
			}
		}
		if cursor = next; cursor == 0 {
			return nil
		}
	}
}

// globEscape escapes the pattern characters of Redis's SCAN MATCH.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Close leaves the other replicas (if Join was called) and closes the
// connections to Redis.
func (s *Store) Close() error {
	s.mu.Lock()
	m := s.joined
	s.joined = nil
	s.mu.Unlock()
	if m != nil {
		m.leave()
	}
	return s.rdb.Close()
}

package fakebackend

import (
	"cmp"
	"container/heap"
	"errors"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// ErrNonceStoreFull is returned by UseNonce when max unexpired nonces are
// held: accepting more would mean forgetting one that could still be
// replayed, so the backend refuses the registration (retryable) instead.
var ErrNonceStoreFull = errors.New("fakebackend: nonce store is full")

// memStore is the in-memory Store. The zero value is not usable; use newMemStore.
type memStore struct {
	mu        sync.Mutex
	apps      map[string]Application
	instances map[string]*Instance
	// byUser indexes instances by user (calls look a user's up); only
	// putInstanceLocked and deleteInstanceLocked change either map.
	byUser    map[uKey][]*Instance
	devices   map[dKey]Device
	sequences map[uKey]uint64
	creations map[uKey][]time.Time
	nonces    nonceSet
	// versions survive Reset (each moves on), so that a decision made
	// before a reset cannot be committed after it.
	versions map[uKey]uint64
}

// NewMemoryStore returns the in-memory Store a server uses by default:
// nothing survives the process.
func NewMemoryStore() Store { return newMemStore() }

func newMemStore() *memStore {
	s := &memStore{apps: map[string]Application{}, versions: map[uKey]uint64{}}
	s.resetLocked()
	return s
}

func (s *memStore) resetLocked() {
	for k := range s.versions {
		s.versions[k]++
	}
	s.instances = map[string]*Instance{}
	s.byUser = map[uKey][]*Instance{}
	s.devices = map[dKey]Device{}
	s.sequences = map[uKey]uint64{}
	s.creations = map[uKey][]time.Time{}
	s.nonces = nonceSet{index: map[string]int{}}
}

// uKey and dKey key the maps of a user and of a device: struct keys, which
// reuse the strings they are made of, where a joined string would be
// allocated on every lookup and kept in every map.
type (
	uKey struct{ app, user string }
	dKey struct{ app, user, device string }
)

func userKey(app, user string) uKey { return uKey{app, user} }

func deviceKey(app, user, device string) dKey { return dKey{app, user, device} }

// fileKey is k as the data file writes it: application and user joined
// by a NUL.
func (k uKey) fileKey() string { return k.app + "\x00" + k.user }

// fileUserKey reads a key written by fileKey.
func fileUserKey(s string) uKey {
	app, user, _ := strings.Cut(s, "\x00")
	return uKey{app, user}
}

func (k dKey) compare(o dKey) int {
	return cmp.Or(strings.Compare(k.app, o.app), strings.Compare(k.user, o.user), strings.Compare(k.device, o.device))
}

func (s *memStore) Applications() ([]Application, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Application, 0, len(s.apps))
	for _, a := range s.apps {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

func (s *memStore) PutApplication(a Application) error {
	s.mu.Lock()
	s.apps[a.Key] = a
	s.mu.Unlock()
	return nil
}

// cloneInstance copies i for the store or for a caller. The History is
// shared, clipped to its length: nobody changes an entry in place, and an
// append copies it, so the store's entries never change under a caller
// while a year of renewals does not copy a long history four times each.
func cloneInstance(i *Instance) Instance {
	c := *i
	c.Capabilities = slices.Clone(i.Capabilities)
	c.History = slices.Clip(i.History)
	return c
}

func (s *memStore) Instance(id string) (Instance, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.instances[id]
	if i == nil {
		return Instance{}, ErrNotFound
	}
	return cloneInstance(i), nil
}

func (s *memStore) Instances() ([]Instance, error) {
	s.mu.Lock()
	out := make([]Instance, 0, len(s.instances))
	for _, i := range s.instances {
		out = append(out, cloneInstance(i))
	}
	s.mu.Unlock()
	sortInstances(out)
	return out, nil
}

// UserInstances implements userInstanceLister.
func (s *memStore) UserInstances(app, user string) ([]Instance, error) {
	s.mu.Lock()
	var out []Instance
	for _, i := range s.byUser[userKey(app, user)] {
		out = append(out, cloneInstance(i))
	}
	s.mu.Unlock()
	sortInstances(out)
	return out, nil
}

func sortInstances(out []Instance) {
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
}

func (s *memStore) putInstanceLocked(i Instance) {
	c := cloneInstance(&i)
	s.deleteInstanceLocked(i.ID)
	s.instances[i.ID] = &c
	k := userKey(c.Application, c.User)
	s.byUser[k] = append(s.byUser[k], &c)
}

func (s *memStore) deleteInstanceLocked(id string) {
	old := s.instances[id]
	if old == nil {
		return
	}
	delete(s.instances, id)
	k := userKey(old.Application, old.User)
	if left := slices.DeleteFunc(s.byUser[k], func(i *Instance) bool { return i == old }); len(left) > 0 {
		s.byUser[k] = left
	} else {
		delete(s.byUser, k)
	}
}

func (s *memStore) Device(app, user, device string) (Device, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.devices[deviceKey(app, user, device)]
	if !ok {
		d = Device{Application: app, User: user, Device: device}
	}
	return d, nil
}

func (s *memStore) LegacySequence(app, user string) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sequences[userKey(app, user)], nil
}

func (s *memStore) UserVersion(app, user string) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.versions[userKey(app, user)], nil
}

func (s *memStore) ReadUser(app, user, device, instance string) (UserState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := UserState{Version: s.versions[userKey(app, user)], Sequence: s.sequences[userKey(app, user)]}
	if device != "" {
		d, ok := s.devices[deviceKey(app, user, device)]
		if !ok {
			d = Device{Application: app, User: user, Device: device}
		}
		st.Device = d
	}
	if i := s.instances[instance]; instance != "" && i != nil {
		c := cloneInstance(i)
		st.Instance = &c
	}
	return st, nil
}

func (s *memStore) Commit(c Change) (Committed, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.commitLocked(c)
}

func (s *memStore) commitLocked(c Change) (Committed, error) {
	k := userKey(c.Application, c.User)
	if s.versions[k] != c.Version {
		return Committed{}, ErrConflict
	}
	if cr := c.Creation; cr != nil {
		if ok, wait := s.recordCreationLocked(k, cr.At, cr.Window, cr.Limit); !ok {
			return Committed{RateLimited: true, RetryAfter: wait}, nil
		}
	}
	s.applyLocked(c)
	s.versions[k]++
	return Committed{}, nil
}

// applyLocked writes a Change's instances, deletions, devices and sequence.
func (s *memStore) applyLocked(c Change) {
	for _, i := range c.Put {
		s.putInstanceLocked(i)
	}
	for _, e := range c.Delete {
		s.deleteInstanceLocked(e.Instance)
	}
	for _, d := range c.Devices {
		s.devices[deviceKey(d.Application, d.User, d.Device)] = d
	}
	if c.Sequence != 0 {
		s.sequences[userKey(c.Application, c.User)] = c.Sequence
	}
}

// recordCreationLocked counts a creation at now unless limit creations
// already happened within window before now; then it returns false and
// how long until a creation is allowed again.
func (s *memStore) recordCreationLocked(k uKey, now time.Time, window time.Duration, limit int) (bool, time.Duration) {
	ts := s.creations[k]
	// Drop creations that left the window (they are in time order).
	cut := 0
	for cut < len(ts) && !ts[cut].After(now.Add(-window)) {
		cut++
	}
	ts = ts[cut:]
	if limit > 0 && len(ts) >= limit {
		s.creations[k] = ts
		return false, ts[0].Add(window).Sub(now)
	}
	s.creations[k] = append(ts, now)
	return true, 0
}

func (s *memStore) UseNonce(app, nonce string, validUntil, now time.Time, max int) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nonces.use(app+"\x00"+nonce, validUntil, now, max)
}

func (s *memStore) Reset() error {
	s.mu.Lock()
	s.resetLocked()
	s.mu.Unlock()
	return nil
}

func (s *memStore) Close() error { return nil }

// snapshot and restore serve the file store.
type snapshot struct {
	Applications []appRecord      `json:"applications"`
	Instances    []instanceRecord `json:"instances"`
	Devices      []Device         `json:"devices"`
	Sequences    []sequenceRecord `json:"sequences"`
	Nonces       []nonceRecord    `json:"nonces,omitempty"`
}

type appRecord struct {
	Key    string `json:"key"`
	Secret string `json:"secret"`
}

type instanceRecord struct {
	Instance
	Secret string `json:"secret"`
}

type sequenceRecord struct {
	Application string `json:"applicationKey"`
	User        string `json:"userId"`
	Sequence    uint64 `json:"sequence"`
}

type nonceRecord struct {
	Key   string    `json:"key"`
	Until time.Time `json:"until"`
}

func (s *memStore) snapshot() snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	var snap snapshot
	for _, a := range s.apps {
		snap.Applications = append(snap.Applications, appRecord{Key: a.Key, Secret: a.Secret.Text()})
	}
	sort.Slice(snap.Applications, func(i, j int) bool { return snap.Applications[i].Key < snap.Applications[j].Key })
	insts := make([]Instance, 0, len(s.instances))
	for _, i := range s.instances {
		insts = append(insts, cloneInstance(i))
	}
	sortInstances(insts)
	for _, i := range insts {
		snap.Instances = append(snap.Instances, instanceRecord{Instance: i, Secret: string(i.Secret)})
	}
	for _, d := range s.devices {
		snap.Devices = append(snap.Devices, d)
	}
	sort.Slice(snap.Devices, func(i, j int) bool {
		a, b := snap.Devices[i], snap.Devices[j]
		return deviceKey(a.Application, a.User, a.Device).compare(deviceKey(b.Application, b.User, b.Device)) < 0
	})
	for k, seq := range s.sequences {
		snap.Sequences = append(snap.Sequences, sequenceRecord{Application: k.app, User: k.user, Sequence: seq})
	}
	sort.Slice(snap.Sequences, func(i, j int) bool {
		a, b := snap.Sequences[i], snap.Sequences[j]
		return cmp.Or(strings.Compare(a.Application, b.Application), strings.Compare(a.User, b.User)) < 0
	})
	for _, e := range s.nonces.h {
		snap.Nonces = append(snap.Nonces, nonceRecord{Key: e.key, Until: e.until})
	}
	return snap
}

// nonceSet is a set of nonces with expiries: a map for lookup and a
// min-heap on expiry for eviction, so memory stays bounded by the number of
// tokens that could still be valid.
type nonceSet struct {
	index map[string]int // key -> position in h
	h     []nonceEntry
}

type nonceEntry struct {
	key   string
	until time.Time
}

func (n *nonceSet) Len() int           { return len(n.h) }
func (n *nonceSet) Less(i, j int) bool { return n.h[i].until.Before(n.h[j].until) }
func (n *nonceSet) Swap(i, j int) {
	n.h[i], n.h[j] = n.h[j], n.h[i]
	n.index[n.h[i].key] = i
	n.index[n.h[j].key] = j
}
func (n *nonceSet) Push(x any) {
	e := x.(nonceEntry)
	n.index[e.key] = len(n.h)
	n.h = append(n.h, e)
}
func (n *nonceSet) Pop() any {
	e := n.h[len(n.h)-1]
	n.h = n.h[:len(n.h)-1]
	delete(n.index, e.key)
	return e
}

func (n *nonceSet) use(key string, until, now time.Time, max int) (bool, error) {
	for len(n.h) > 0 && !n.h[0].until.After(now) {
		heap.Pop(n)
	}
	if _, seen := n.index[key]; seen {
		return false, nil
	}
	if max > 0 && len(n.h) >= max {
		return false, ErrNonceStoreFull
	}
	heap.Push(n, nonceEntry{key: key, until: until})
	return true, nil
}

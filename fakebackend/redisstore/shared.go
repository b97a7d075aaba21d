package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sinchsim/sinchsim/fakebackend"
)

// Replica returns this replica's id.
func (s *Store) Replica() string { return s.replica }

// membership is a joined replica: its subscription and its heartbeat.
type membership struct {
	s      *Store
	ps     *redis.PubSub
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// Join subscribes to this replica's channel and to the channel of every
// replica, starts the heartbeat that keeps this replica in the registry,
// and delivers each notice to deliver until leave is called. go-redis
// subscribes again by itself after a lost connection; a notice published
// in between is missed, and the durable record (the instance deleted, its
// holder moved) tells the connection on its next request.
func (s *Store) Join(deliver func(fakebackend.Notice)) (leave func(), err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.joined != nil {
		return nil, errors.New("redisstore: this store has joined already")
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &membership{s: s, cancel: cancel}
	m.ps = s.rdb.Subscribe(ctx, s.busChannel(), s.replicaChannel(s.replica))
	rctx, rcancel := s.ctx()
	defer rcancel()
	if _, err := m.ps.Receive(rctx); err != nil { // the subscription's confirmation
		m.ps.Close()
		cancel()
		return nil, fail(err)
	}
	if err := s.heartbeat(rctx); err != nil {
		m.ps.Close()
		cancel()
		return nil, err
	}
	ch := m.ps.Channel(redis.WithChannelSize(1024))
	bus := s.busChannel()
	m.wg.Add(2)
	go func() {
		defer m.wg.Done()
		for msg := range ch {
			var n fakebackend.Notice
			if json.Unmarshal([]byte(msg.Payload), &n) != nil {
				continue
			}
			if n.From == s.replica && msg.Channel == bus {
				continue // this replica's own message to every replica
			}
			deliver(n)
		}
	}()
	go func() {
		defer m.wg.Done()
		t := time.NewTicker(heartbeatEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				hctx, hcancel := s.ctx()
				_ = s.heartbeat(hctx)
				hcancel()
			}
		}
	}()
	s.joined = m
	return func() {
		s.mu.Lock()
		if s.joined == m {
			s.joined = nil
		}
		s.mu.Unlock()
		m.leave()
	}, nil
}

// leave unsubscribes, stops the heartbeat and leaves the registry.
func (m *membership) leave() {
	m.once.Do(func() {
		m.cancel()
		m.ps.Close()
		m.wg.Wait()
		ctx, cancel := m.s.ctx()
		defer cancel()
		m.s.rdb.HDel(ctx, m.s.replicasKey(), m.s.replica)
		m.s.rdb.HDel(ctx, m.s.reachedKey(), m.s.replica)
	})
}

// heartbeat writes this replica's wall-clock time into the registry.
func (s *Store) heartbeat(ctx context.Context) error {
	return fail(s.rdb.HSet(ctx, s.replicasKey(), s.replica, strconv.FormatInt(time.Now().UnixMilli(), 10)).Err())
}

// Send publishes n on one replica's channel, or on the channel of every
// replica when replica is "".
func (s *Store) Send(replica string, n fakebackend.Notice) error {
	n.From = s.replica
	b, err := json.Marshal(n)
	if err != nil {
		return err
	}
	ch := s.busChannel()
	if replica != "" {
		ch = s.replicaChannel(replica)
	}
	ctx, cancel := s.ctx()
	defer cancel()
	return fail(s.rdb.Publish(ctx, ch, b).Err())
}

// Replicas returns the replicas whose heartbeat is recent, sorted.
func (s *Store) Replicas() ([]string, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	m, err := s.rdb.HGetAll(ctx, s.replicasKey()).Result()
	if err != nil {
		return nil, fail(err)
	}
	return alive(m, time.Now()), nil
}

func alive(beats map[string]string, now time.Time) []string {
	var out []string
	for r, v := range beats {
		ms, err := strconv.ParseInt(v, 10, 64)
		if err == nil && now.Sub(time.UnixMilli(ms)) < replicaAlive {
			out = append(out, r)
		}
	}
	sort.Strings(out)
	return out
}

// Hold records that connection conn of this replica holds instance id.
func (s *Store) Hold(id, conn string) (fakebackend.Holder, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	prev, err := s.rdb.SetArgs(ctx, s.holderKey(id), s.replica+" "+conn, redis.SetArgs{Get: true}).Result()
	if errors.Is(err, redis.Nil) {
		return fakebackend.Holder{}, nil
	}
	if err != nil {
		return fakebackend.Holder{}, fail(err)
	}
	return parseHolder(prev), nil
}

func parseHolder(v string) fakebackend.Holder {
	r, c, _ := strings.Cut(v, " ")
	return fakebackend.Holder{Replica: r, Conn: c}
}

var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// Release forgets the holder of id if it is still conn of this replica.
func (s *Store) Release(id, conn string) error {
	ctx, cancel := s.ctx()
	defer cancel()
	return fail(releaseScript.Run(ctx, s.rdb, []string{s.holderKey(id)}, s.replica+" "+conn).Err())
}

// Holders returns the holder of each instance.
func (s *Store) Holders(ids []string) ([]fakebackend.Holder, error) {
	out := make([]fakebackend.Holder, len(ids))
	ctx, cancel := context.WithTimeout(context.Background(), 10*s.timeout)
	defer cancel()
	err := s.mget(ctx, ids, s.holderKey, func(k int, v string) error {
		out[k] = parseHolder(v)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// HolderOf returns the holder of instance id and whether it exists: one
// round trip for both.
func (s *Store) HolderOf(id string) (fakebackend.Holder, bool, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	var holder *redis.StringCmd
	var exists *redis.IntCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		holder = p.Get(ctx, s.holderKey(id))
		exists = p.Exists(ctx, s.instKey(id))
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return fakebackend.Holder{}, false, fail(err)
	}
	// Each answer is checked: a failed EXISTS must not read as "gone".
	n, err := exists.Result()
	if err != nil {
		return fakebackend.Holder{}, false, fail(err)
	}
	var h fakebackend.Holder
	switch v, err := holder.Result(); {
	case err == nil:
		h = parseHolder(v)
	case !errors.Is(err, redis.Nil):
		return fakebackend.Holder{}, false, fail(err)
	}
	return h, n > 0, nil
}

// Ring records that call callID of this replica rings for user of app,
// for at most ttl: a field of the user's ringing hash, which expires as a
// whole ttl after its last call was recorded.
func (s *Store) Ring(app, user, callID string, ttl time.Duration) error {
	ctx, cancel := s.ctx()
	defer cancel()
	key := s.ringingKey(app, user)
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, key, callID, s.replica)
		p.PExpire(ctx, key, ttl)
		return nil
	})
	return fail(err)
}

// Unring forgets a call recorded by Ring.
func (s *Store) Unring(app, user, callID string) error {
	ctx, cancel := s.ctx()
	defer cancel()
	return fail(s.rdb.HDel(ctx, s.ringingKey(app, user), callID).Err())
}

// Ringing returns the calls recorded by Ring for user of app: call id ->
// replica.
func (s *Store) Ringing(app, user string) (map[string]string, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	m, err := s.rdb.HGetAll(ctx, s.ringingKey(app, user)).Result()
	return m, fail(err)
}

// Ended returns how a recently deleted instance ended.
func (s *Store) Ended(id string) (fakebackend.Ended, bool, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	v, err := s.rdb.Get(ctx, s.endedKey(id)).Result()
	if errors.Is(err, redis.Nil) {
		return fakebackend.Ended{}, false, nil
	}
	if err != nil {
		return fakebackend.Ended{}, false, fail(err)
	}
	var e fakebackend.Ended
	if err := json.Unmarshal([]byte(v), &e); err != nil {
		return fakebackend.Ended{}, false, nil
	}
	return e, true, nil
}

// Time returns the mock clock's shared time.
func (s *Store) Time() (time.Time, bool, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	v, err := s.rdb.Get(ctx, s.clockKey()).Result()
	if errors.Is(err, redis.Nil) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fail(err)
	}
	t, err := parseStamp(v)
	return t, err == nil, err
}

// setTimeScript stores a time when it is later than the stored one (or
// ARGV[2] is "1": set back) and publishes the notice ARGV[3]; it returns
// the stored time.
//
//	KEYS: clock, bus channel
var setTimeScript = redis.NewScript(laterLua + `
local cur = redis.call('GET', KEYS[1])
if ARGV[2] == '1' or not cur or later(ARGV[1], cur) then
  redis.call('SET', KEYS[1], ARGV[1])
  redis.call('PUBLISH', KEYS[2], ARGV[3])
  return ARGV[1]
end
return cur
`)

// SetTime stores t as the shared time (when later, or backward) and tells
// every other replica, in one script: a replica that reads the time after
// it has also been sent it.
func (s *Store) SetTime(t time.Time, backward bool) (time.Time, error) {
	n, err := json.Marshal(fakebackend.Notice{Kind: fakebackend.NoticeTime, From: s.replica, Time: t, Backward: backward})
	if err != nil {
		return time.Time{}, err
	}
	back := "0"
	if backward {
		back = "1"
	}
	ctx, cancel := s.ctx()
	defer cancel()
	v, err := setTimeScript.Run(ctx, s.rdb, []string{s.clockKey(), s.busChannel()}, stamp(t), back, string(n)).Text()
	if err != nil {
		return time.Time{}, fail(err)
	}
	return parseStamp(v)
}

// ReachedTime records that this replica's clock stands at t.
func (s *Store) ReachedTime(t time.Time) error {
	ctx, cancel := s.ctx()
	defer cancel()
	return fail(s.rdb.HSet(ctx, s.reachedKey(), s.replica, stamp(t)).Err())
}

// WaitTime waits until every live replica has reached t (or a later
// time), polling the registry, or until ctx ends.
func (s *Store) WaitTime(ctx context.Context, t time.Time) ([]string, error) {
	poll := time.NewTicker(5 * time.Millisecond)
	defer poll.Stop()
	for {
		behind, err := s.behind(ctx, t)
		if err != nil || len(behind) == 0 {
			return behind, err
		}
		select {
		case <-ctx.Done():
			return behind, nil
		case <-poll.C:
		}
	}
}

func (s *Store) behind(ctx context.Context, t time.Time) ([]string, error) {
	pipe := s.rdb.Pipeline()
	beats := pipe.HGetAll(ctx, s.replicasKey())
	reached := pipe.HGetAll(ctx, s.reachedKey())
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fail(err)
	}
	var out []string
	for _, r := range alive(beats.Val(), time.Now()) {
		at, err := parseStamp(reached.Val()[r])
		if err != nil || at.Before(t) {
			out = append(out, r)
		}
	}
	return out, nil
}

// appendEventScript numbers an event and adds it to the capped stream
// under the id 0-<number>, so that the stream's ids are the events'
// sequence numbers.
//
//	KEYS: stream, counter; ARGV: event JSON, cap
var appendEventScript = redis.NewScript(`
local seq = redis.call('INCR', KEYS[2])
redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[2], '0-' .. seq, 'e', ARGV[1])
return seq
`)

// AppendEvent adds e to the shared decision log (a Redis stream capped at
// limit entries), where it gets its sequence number.
func (s *Store) AppendEvent(e fakebackend.Event, limit int) error {
	e.Seq = 0
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	ctx, cancel := s.ctx()
	defer cancel()
	return fail(appendEventScript.Run(ctx, s.rdb, []string{s.eventsKey(), s.eventSeqKey()}, string(b), limit).Err())
}

// Events returns the events after since, oldest first; with limit > 0
// only the newest limit.
func (s *Store) Events(since uint64, limit int) ([]fakebackend.Event, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*s.timeout)
	defer cancel()
	from := "0-" + strconv.FormatUint(since+1, 10)
	var msgs []redis.XMessage
	var err error
	if limit > 0 {
		msgs, err = s.rdb.XRevRangeN(ctx, s.eventsKey(), "+", from, int64(limit)).Result()
		slices.Reverse(msgs)
	} else {
		msgs, err = s.rdb.XRange(ctx, s.eventsKey(), from, "+").Result()
	}
	if err != nil {
		return nil, fail(err)
	}
	return decodeEvents(msgs), nil
}

// WaitEvents returns the events after since, waiting up to a second for one.
func (s *Store) WaitEvents(ctx context.Context, since uint64) ([]fakebackend.Event, error) {
	res, err := s.rdb.XRead(ctx, &redis.XReadArgs{
		Streams: []string{s.eventsKey(), "0-" + strconv.FormatUint(since, 10)},
		Count:   1000,
		Block:   time.Second,
	}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fail(err)
	}
	var out []fakebackend.Event
	for _, st := range res {
		out = append(out, decodeEvents(st.Messages)...)
	}
	return out, nil
}

func decodeEvents(msgs []redis.XMessage) []fakebackend.Event {
	out := make([]fakebackend.Event, 0, len(msgs))
	for _, m := range msgs {
		data, _ := m.Values["e"].(string)
		var e fakebackend.Event
		if json.Unmarshal([]byte(data), &e) != nil {
			continue
		}
		_, seq, _ := strings.Cut(m.ID, "-")
		e.Seq, _ = strconv.ParseUint(seq, 10, 64)
		out = append(out, e)
	}
	return out
}

// String describes the store for logs (no password).
func (s *Store) String() string {
	return fmt.Sprintf("redis %s prefix %q replica %s", s.rdb.Options().Addr, s.prefix, s.replica)
}

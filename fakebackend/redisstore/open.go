package redisstore

// Connecting to Redis, and how its errors become the store's.

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sinchsim/sinchsim/fakebackend"
)

// Open connects to the Redis server at rawURL (redis://[user:password@]host:port/db,
// or rediss:// for TLS) and checks that it answers.
func Open(rawURL string, o Options) (*Store, error) {
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("redisstore: %s: %v", redactURL(rawURL), err)
	}
	return New(opt, o)
}

// quiet discards go-redis's own log lines (a failed dial, a lost
// subscription): the store reports its errors to the backend, which
// refuses with unavailable and logs them through its own logger.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

var quietOnce sync.Once

// New connects with go-redis options (their timeouts are set from
// Options.Timeout) and checks that the server answers.
func New(opt *redis.Options, o Options) (*Store, error) {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	if o.Replica == "" {
		o.Replica = defaultReplica()
	}
	quietOnce.Do(func() { redis.SetLogger(quiet{}) })
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = o.Timeout, o.Timeout, o.Timeout
	opt.MaxRetries = 1
	s := &Store{rdb: redis.NewClient(opt), prefix: o.Prefix, replica: o.Replica, timeout: o.Timeout}
	ctx, cancel := s.ctx()
	defer cancel()
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		s.rdb.Close()
		return nil, fmt.Errorf("redisstore: %s does not answer: %w", opt.Addr, errors.Join(fakebackend.ErrUnavailable, err))
	}
	return s, nil
}

// redactURL drops a password from a Redis URL for an error message.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "the Redis URL"
	}
	if u.User != nil {
		u.User = url.User(u.User.Username())
	}
	return u.String()
}

func defaultReplica() string {
	host, _ := os.Hostname()
	if host == "" {
		host = "replica"
	}
	return host + "-" + strconv.Itoa(os.Getpid()) + "-" + randomHex(3)
}

func (s *Store) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.timeout)
}

// fail turns a go-redis error into the store's: nil stays nil, anything
// else means Redis could not serve the request.
func fail(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("redisstore: %w: %v", fakebackend.ErrUnavailable, err)
}

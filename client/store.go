package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/sinchsim/sinchsim/internal/atomicfile"
)

// DeviceRecord is what a client keeps on its device between runs: the
// device's id and, once registered, the instance credentials. With them a
// later start authenticates without asking for a registration token
// (Sinch's Application authentication documentation: credentials are
// needed "once per user and device").
type DeviceRecord struct {
	ApplicationKey string `json:"applicationKey"`
	UserID         string `json:"userId"`
	DeviceID       string `json:"deviceId"`

	InstanceID string `json:"instanceId,omitempty"`
	// InstanceSecret proves possession of the instance; it never leaves
	// the device (authentication sends a proof derived from it).
	InstanceSecret string `json:"instanceSecret,omitempty"`
	// ExpireAt is the instance's expiry (zero: unlimited); IssuedAt is when
	// that expiry was granted, which the renewal policy needs.
	ExpireAt time.Time `json:"expireAt,omitzero"`
	IssuedAt time.Time `json:"issuedAt,omitzero"`
	// Limited records that a limited TTL was used on this device for this
	// user: every later token must carry one (rule 9 in docs/RULES.md).
	Limited      bool     `json:"limited,omitempty"`
	Capabilities []string `json:"capabilities,omitempty"`
}

// HasInstance reports whether the record holds instance credentials.
func (r *DeviceRecord) HasInstance() bool { return r.InstanceID != "" && r.InstanceSecret != "" }

// forget drops the instance credentials, keeping the device identity and
// the Limited flag.
func (r *DeviceRecord) forget() {
	r.InstanceID, r.InstanceSecret, r.ExpireAt, r.IssuedAt, r.Capabilities = "", "", time.Time{}, time.Time{}, nil
}

// DeviceStore persists DeviceRecords, one per application and user.
// Implementations must be safe for concurrent use.
type DeviceStore interface {
	// Load returns the record of a user, or found=false.
	Load(ctx context.Context, applicationKey, userID string) (rec DeviceRecord, found bool, err error)
	// Save stores a record.
	Save(ctx context.Context, rec DeviceRecord) error
}

// newDeviceID returns a random device id.
func newDeviceID() string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return "dev-" + hex.EncodeToString(b[:])
}

// MemoryDeviceStore keeps records in memory: they survive a client's
// TerminateGracefully and a new client with the same store, not the process.
type MemoryDeviceStore struct {
	mu   sync.Mutex
	recs map[storeKey]DeviceRecord
}

// NewMemoryDeviceStore returns an empty in-memory store.
func NewMemoryDeviceStore() *MemoryDeviceStore {
	return &MemoryDeviceStore{recs: map[storeKey]DeviceRecord{}}
}

// storeKey keys a MemoryDeviceStore's records.
type storeKey struct{ app, user string }

// Load implements DeviceStore.
func (s *MemoryDeviceStore) Load(_ context.Context, app, user string) (DeviceRecord, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.recs[storeKey{app, user}]
	r.Capabilities = slices.Clone(r.Capabilities)
	return r, ok, nil
}

// Save implements DeviceStore.
func (s *MemoryDeviceStore) Save(_ context.Context, r DeviceRecord) error {
	r.Capabilities = slices.Clone(r.Capabilities)
	s.mu.Lock()
	s.recs[storeKey{r.ApplicationKey, r.UserID}] = r
	s.mu.Unlock()
	return nil
}

// DirDeviceStore keeps one JSON file per application and user in a
// directory (mode 0700, files 0600: they hold instance secrets). Writes
// are atomic (temporary file, fsync, rename), so a crash leaves the old or
// the new record, never a torn one.
type DirDeviceStore struct {
	dir string
}

// NewDirDeviceStore creates dir if needed and returns a store on it.
func NewDirDeviceStore(dir string) (*DirDeviceStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("sinchsim: device store: %w", err)
	}
	return &DirDeviceStore{dir: dir}, nil
}

// Dir returns the directory.
func (s *DirDeviceStore) Dir() string { return s.dir }

func (s *DirDeviceStore) path(app, user string) string {
	// User ids are restricted to file-safe characters; application keys are
	// not, so the key is hex-encoded.
	return filepath.Join(s.dir, hex.EncodeToString([]byte(app))+"_"+user+".json")
}

// Load implements DeviceStore.
func (s *DirDeviceStore) Load(ctx context.Context, app, user string) (DeviceRecord, bool, error) {
	if err := ctx.Err(); err != nil {
		return DeviceRecord{}, false, err
	}
	data, err := os.ReadFile(s.path(app, user))
	if errors.Is(err, os.ErrNotExist) {
		return DeviceRecord{}, false, nil
	}
	if err != nil {
		return DeviceRecord{}, false, fmt.Errorf("sinchsim: device store: %w", err)
	}
	var r DeviceRecord
	if err := json.Unmarshal(data, &r); err != nil {
		return DeviceRecord{}, false, fmt.Errorf("sinchsim: device store: %s is damaged: %v", s.path(app, user), err)
	}
	if r.ApplicationKey != app || r.UserID != user {
		return DeviceRecord{}, false, fmt.Errorf("sinchsim: device store: %s belongs to another user", s.path(app, user))
	}
	return r, true, nil
}

// Save implements DeviceStore.
func (s *DirDeviceStore) Save(ctx context.Context, r DeviceRecord) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	final := s.path(r.ApplicationKey, r.UserID)
	if err := atomicfile.Write(final, ".device-*.tmp", data); err != nil {
		return fmt.Errorf("sinchsim: device store: %w", err)
	}
	return nil
}

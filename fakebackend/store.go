package fakebackend

import (
	"errors"
	"fmt"
	"time"

	"github.com/sinchsim/sinchsim/credentials"
)

// Store holds all backend state. The rules (rules.go) never keep state of
// their own: they read and write through this interface, so that a store
// shared by several backend replicas can be added without touching them.
//
// Each method is atomic on its own. Sequences of calls that must be atomic
// together (check the rate limit, then create an instance) are serialised
// by the server per user; a shared store would provide the same with its
// own locking or compare-and-set.
type Store interface {
	// Applications returns every application, sorted by key.
	Applications() ([]Application, error)
	// PutApplication adds or replaces an application.
	PutApplication(Application) error

	// Instance returns one instance, or ErrNotFound.
	Instance(id string) (Instance, error)
	// Instances returns every instance, sorted by creation time then id.
	Instances() ([]Instance, error)
	// PutInstance inserts or replaces an instance.
	PutInstance(Instance) error
	// DeleteInstance removes an instance; removing a missing one is not an error.
	DeleteInstance(id string) error

	// Device returns what is remembered of a user's device (zero Device
	// when nothing is).
	Device(app, user, device string) (Device, error)
	// PutDevice records a device.
	PutDevice(Device) error

	// LegacySequence returns the last accepted legacy sequence of a user (0: none).
	LegacySequence(app, user string) (uint64, error)
	// SetLegacySequence records the last accepted legacy sequence.
	SetLegacySequence(app, user string, seq uint64) error

	// RecordCreation counts an instance creation for a user at now, unless
	// limit creations already happened within window before now; then it
	// returns false and how long until a creation is allowed again.
	RecordCreation(app, user string, now time.Time, window time.Duration, limit int) (bool, time.Duration, error)

	// UseNonce records a nonce until validUntil and reports whether it was
	// unused. Entries whose validUntil has passed (at now) may be evicted;
	// at most max entries are kept (oldest expiry evicted first).
	UseNonce(app, nonce string, validUntil, now time.Time, max int) (bool, error)

	// Reset drops all state but the applications.
	Reset() error
	// Close flushes and releases the store.
	Close() error
}

// ErrNotFound is returned by Store.Instance for an unknown id.
var ErrNotFound = errors.New("fakebackend: not found")

// Application is a Sinch application known to the backend.
type Application struct {
	Key    string             `json:"key"`
	Secret credentials.Secret `json:"-"`
}

// Instance is a registered client instance: one user on one device.
type Instance struct {
	ID           string         `json:"id"`
	Application  string         `json:"applicationKey"`
	User         string         `json:"userId"`
	Device       string         `json:"deviceId"`
	Secret       InstanceSecret `json:"-"`
	Capabilities []string       `json:"capabilities,omitempty"`
	SDKVersion   string         `json:"sdkVersion,omitempty"`
	// Legacy is true for instances created by a legacy (signature) registration.
	Legacy    bool      `json:"legacy,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	// ExpireAt is zero for an instance without a TTL.
	ExpireAt  time.Time `json:"expireAt,omitzero"`
	PushToken string    `json:"pushToken,omitempty"`
	PushType  string    `json:"pushType,omitempty"`
	// History records every TTL decision, oldest first.
	History []TTLChange `json:"history,omitempty"`
}

// InstanceSecret is an instance's secret (base64url of 32 random bytes),
// from which the client derives its authentication proofs. It prints as
// "[redacted]" in every fmt verb, so an Instance can be logged whole.
type InstanceSecret string

// String returns "[redacted]".
func (InstanceSecret) String() string { return "[redacted]" }

// GoString returns "[redacted]".
func (InstanceSecret) GoString() string { return "[redacted]" }

// Format writes "[redacted]" for every verb.
func (InstanceSecret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte("[redacted]")) }

// Limited reports whether the instance has a TTL.
func (i *Instance) Limited() bool { return !i.ExpireAt.IsZero() }

// ExpiredAt reports whether the instance is unusable at t.
func (i *Instance) ExpiredAt(t time.Time) bool { return i.Limited() && !t.Before(i.ExpireAt) }

// TTLChange is one entry of an instance's TTL history.
type TTLChange struct {
	At time.Time `json:"at"`
	// ExpireAt is the expiry set (zero: unlimited).
	ExpireAt time.Time `json:"expireAt,omitzero"`
	// Reason is "created" or "extended".
	Reason string `json:"reason"`
}

// Device is what the backend remembers of a (application, user, device):
// whether a limited TTL was ever used there (rule 9 in docs/RULES.md) and its current
// instance.
type Device struct {
	Application string `json:"applicationKey"`
	User        string `json:"userId"`
	Device      string `json:"deviceId"`
	Limited     bool   `json:"limited,omitempty"`
	InstanceID  string `json:"instanceId,omitempty"`
}

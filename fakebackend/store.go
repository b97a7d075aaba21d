package fakebackend

import (
	"errors"
	"fmt"
	"time"

	"github.com/sinchsim/sinchsim/credentials"
)

// Store holds all backend state. The rules (rules.go) never keep state of
// their own: they read and write through this interface, and a Store never
// decides a rule: it keeps what the rules decided.
//
// Each method is atomic on its own. A rule that reads and then writes
// (create an instance, extend it, revoke it) reads the user's version
// first (ReadUser), decides, and hands its writes to Commit with that
// version: Commit applies them all at once, or none when anything of that
// user changed in between (ErrConflict), and the rule decides again. So
// several backend replicas sharing one store (package redisstore) decide
// as one backend would. Within one process the server also serialises
// each user's decisions, so that a conflict there is rare.
type Store interface {
	// Applications returns every application, sorted by key.
	Applications() ([]Application, error)
	// PutApplication adds or replaces an application.
	PutApplication(Application) error

	// Instance returns one instance, or ErrNotFound.
	Instance(id string) (Instance, error)
	// Instances returns every instance, sorted by creation time then id.
	Instances() ([]Instance, error)

	// Device returns what is remembered of a user's device (zero Device
	// when nothing is).
	Device(app, user, device string) (Device, error)

	// LegacySequence returns the last accepted legacy sequence of a user (0: none).
	LegacySequence(app, user string) (uint64, error)

	// UserVersion returns the version of what the store keeps for one
	// user of one application: their instances, devices, legacy sequence
	// and instance creations. Every Commit for the user moves it.
	UserVersion(app, user string) (uint64, error)
	// ReadUser reads, at once, what a decision about one user needs: the
	// version, the legacy sequence, a device (when device is not "") and
	// an instance (when instance is not "" and it exists).
	ReadUser(app, user, device, instance string) (UserState, error)
	// Commit applies c atomically if the user's version is still
	// c.Version, and returns ErrConflict (changing nothing) if it is not.
	// With c.Creation set and the creation limit reached, it changes
	// nothing either and reports RateLimited.
	Commit(c Change) (Committed, error)

	// UseNonce records a nonce until validUntil and reports whether it was
	// unused. Entries whose validUntil has passed (at now) may be evicted;
	// at most max entries are kept (oldest expiry evicted first). Whether
	// an entry still counts is decided by its validUntil and now, never by
	// how long the store happens to keep it.
	UseNonce(app, nonce string, validUntil, now time.Time, max int) (bool, error)

	// Reset drops all state but the applications.
	Reset() error
	// Close flushes and releases the store.
	Close() error
}

// UserState is what ReadUser returns.
type UserState struct {
	Version  uint64
	Sequence uint64
	Device   Device
	// Instance is nil when none was asked for or it does not exist.
	Instance *Instance
}

// Change is what one decision of the rules writes for one user of one
// application, as a whole.
type Change struct {
	Application string
	User        string
	// Version is the user's version the decision was made at.
	Version uint64
	// Creation, when set, counts an instance creation, unless the limit
	// was reached; then nothing of the Change is applied.
	Creation *Creation
	// Put inserts or replaces instances.
	Put []Instance
	// Delete removes instances (a missing one is not an error), each with
	// how it ended, which a shared store keeps for a while for the
	// connection that holds it (see Ended).
	Delete []Ended
	// Devices records devices.
	Devices []Device
	// Sequence, when not zero, becomes the user's last accepted legacy sequence.
	Sequence uint64
}

// Creation is an instance creation counted against the rate limit: it is
// allowed unless Limit creations happened within Window before At
// (Limit ≤ 0: no limit).
type Creation struct {
	At     time.Time
	Window time.Duration
	Limit  int
}

// Committed is what Commit did.
type Committed struct {
	// RateLimited is true when Change.Creation was refused (nothing was
	// applied); RetryAfter is how long until a creation is allowed again.
	RateLimited bool
	RetryAfter  time.Duration
}

// Ended says how an instance ended: its id, and the code and message of
// the instanceRevoked notice its client gets.
type Ended struct {
	Instance string `json:"instanceId"`
	Code     string `json:"code"`
	Message  string `json:"message"`
}

// ErrConflict is returned by Commit when the user's version moved since
// the decision was made.
var ErrConflict = errors.New("fakebackend: the state changed during the decision")

// ErrUnavailable marks a store error that says the store cannot be
// reached (a shared store's server is down or too slow). The backend then
// refuses the request with the retryable code unavailable; it never
// decides without the store.
var ErrUnavailable = errors.New("fakebackend: the store is unavailable")

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

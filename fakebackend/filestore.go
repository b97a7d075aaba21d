package fakebackend

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/internal/atomicfile"
)

// fileStore is memStore plus a data directory, crash-safe:
//
//   - state.json is a snapshot, written to a temporary file, fsynced and
//     renamed into place, so it is always either the old or the new one;
//   - journal-N.jsonl records every change after snapshot generation N, one
//     JSON line per change, written before the change is acknowledged. A
//     process killed mid-write leaves at most one torn last line, which the
//     loader skips.
//
// The journal is folded into a new snapshot every compactEvery records and
// on Close.
type fileStore struct {
	*memStore
	dir string

	mu      sync.Mutex // orders journal appends with the memory changes
	gen     uint64
	journal *os.File
	records int
	// Warnings collects what loading had to skip (a torn journal line).
	warnings []string
}

const compactEvery = 20000

type journalRecord struct {
	Op       string          `json:"op"`
	App      *appRecord      `json:"app,omitempty"`
	Instance *instanceRecord `json:"instance,omitempty"`
	ID       string          `json:"id,omitempty"`
	Device   *Device         `json:"device,omitempty"`
	Sequence *sequenceRecord `json:"sequence,omitempty"`
	Key      string          `json:"key,omitempty"`
	At       time.Time       `json:"at,omitzero"`
	Window   time.Duration   `json:"window,omitempty"`
	Change   *changeRecord   `json:"change,omitempty"`
}

// changeRecord is a committed Change in the journal: one line, so that a
// decision is replayed whole or (a torn last line) not at all.
type changeRecord struct {
	Application string           `json:"applicationKey"`
	User        string           `json:"userId"`
	CreatedAt   time.Time        `json:"createdAt,omitzero"` // a counted creation
	Put         []instanceRecord `json:"put,omitempty"`
	Delete      []string         `json:"delete,omitempty"`
	Devices     []Device         `json:"devices,omitempty"`
	Sequence    uint64           `json:"sequence,omitempty"`
}

type snapshotFile struct {
	Version    int              `json:"version"`
	Generation uint64           `json:"generation"`
	State      snapshot         `json:"state"`
	Creations  []creationRecord `json:"creations,omitempty"`
}

type creationRecord struct {
	Key string      `json:"key"`
	At  []time.Time `json:"at"`
}

// OpenFileStore opens (or creates) the crash-safe store in a data
// directory, as Config.DataDir does: state survives restarts.
func OpenFileStore(dir string) (Store, error) {
	fs, err := openFileStore(dir)
	if err != nil {
		return nil, err
	}
	return fs, nil
}

func openFileStore(dir string) (*fileStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("fakebackend: data directory: %w", err)
	}
	fs := &fileStore{memStore: newMemStore(), dir: dir}
	if err := fs.load(); err != nil {
		return nil, err
	}
	// Fold what was loaded into a fresh snapshot and start a new journal.
	if err := fs.compactLocked(); err != nil {
		return nil, err
	}
	fs.removeLeftovers()
	return fs, nil
}

// removeLeftovers deletes what a process killed while compacting leaves
// behind: the previous generation's journal (the snapshot already holds
// it) and temporary snapshots. Neither is ever read again.
func (fs *fileStore) removeLeftovers() {
	entries, err := os.ReadDir(fs.dir)
	if err != nil {
		return
	}
	live := filepath.Base(fs.journalPath(fs.gen))
	for _, e := range entries {
		name := e.Name()
		journal := strings.HasPrefix(name, "journal-") && strings.HasSuffix(name, ".jsonl") && name != live
		temp := strings.HasPrefix(name, ".state-") && strings.HasSuffix(name, ".tmp")
		if (journal || temp) && e.Type().IsRegular() {
			_ = os.Remove(filepath.Join(fs.dir, name))
		}
	}
}

func (fs *fileStore) statePath() string { return filepath.Join(fs.dir, "state.json") }

func (fs *fileStore) journalPath(gen uint64) string {
	return filepath.Join(fs.dir, "journal-"+strconv.FormatUint(gen, 10)+".jsonl")
}

func (fs *fileStore) load() error {
	data, err := os.ReadFile(fs.statePath())
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("fakebackend: reading state: %w", err)
	default:
		var sf snapshotFile
		if err := json.Unmarshal(data, &sf); err != nil {
			return fmt.Errorf("fakebackend: %s is damaged: %v", fs.statePath(), err)
		}
		fs.gen = sf.Generation
		if err := fs.restore(sf); err != nil {
			return err
		}
	}
	f, err := os.Open(fs.journalPath(fs.gen))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("fakebackend: reading journal: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	line := 0
	for {
		b, err := r.ReadBytes('\n')
		if len(b) > 0 {
			line++
			complete := b[len(b)-1] == '\n'
			var rec journalRecord
			if jerr := json.Unmarshal(bytes.TrimSpace(b), &rec); jerr != nil || !complete {
				fs.warnings = append(fs.warnings, fmt.Sprintf("journal line %d is torn or damaged; skipped", line))
			} else if aerr := fs.apply(rec); aerr != nil {
				fs.warnings = append(fs.warnings, fmt.Sprintf("journal line %d: %v; skipped", line, aerr))
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("fakebackend: reading journal: %w", err)
		}
	}
}

func (fs *fileStore) restore(sf snapshotFile) error {
	m := fs.memStore
	for _, a := range sf.State.Applications {
		sec, err := credentials.ParseSecret(a.Secret)
		if err != nil {
			return fmt.Errorf("fakebackend: stored application %q: %w", a.Key, err)
		}
		m.apps[a.Key] = Application{Key: a.Key, Secret: sec}
	}
	for _, r := range sf.State.Instances {
		i := r.Instance
		i.Secret = InstanceSecret(r.Secret)
		m.putInstanceLocked(i)
	}
	for _, d := range sf.State.Devices {
		m.devices[deviceKey(d.Application, d.User, d.Device)] = d
	}
	for _, s := range sf.State.Sequences {
		m.sequences[userKey(s.Application, s.User)] = s.Sequence
	}
	for _, n := range sf.State.Nonces {
		m.nonces.use(n.Key, n.Until, time.Time{}, 0)
	}
	for _, c := range sf.Creations {
		m.creations[fileUserKey(c.Key)] = c.At
	}
	return nil
}

// apply replays one journal record into memory.
func (fs *fileStore) apply(rec journalRecord) error {
	m := fs.memStore
	switch rec.Op {
	case "app":
		if rec.App == nil {
			return errors.New("app record without app")
		}
		sec, err := credentials.ParseSecret(rec.App.Secret)
		if err != nil {
			return err
		}
		m.apps[rec.App.Key] = Application{Key: rec.App.Key, Secret: sec}
	case "instance":
		if rec.Instance == nil {
			return errors.New("instance record without instance")
		}
		i := rec.Instance.Instance
		i.Secret = InstanceSecret(rec.Instance.Secret)
		m.putInstanceLocked(i)
	case "delete":
		m.deleteInstanceLocked(rec.ID)
	case "device":
		if rec.Device == nil {
			return errors.New("device record without device")
		}
		d := *rec.Device
		m.devices[deviceKey(d.Application, d.User, d.Device)] = d
	case "sequence":
		if rec.Sequence == nil {
			return errors.New("sequence record without sequence")
		}
		m.sequences[userKey(rec.Sequence.Application, rec.Sequence.User)] = rec.Sequence.Sequence
	case "creation":
		k := fileUserKey(rec.Key)
		m.creations[k] = append(m.creations[k], rec.At)
	case "nonce":
		m.nonces.use(rec.Key, rec.At, time.Time{}, 0)
	case "commit":
		if rec.Change == nil {
			return errors.New("commit record without change")
		}
		c := Change{Application: rec.Change.Application, User: rec.Change.User, Devices: rec.Change.Devices, Sequence: rec.Change.Sequence}
		for _, r := range rec.Change.Put {
			i := r.Instance
			i.Secret = InstanceSecret(r.Secret)
			c.Put = append(c.Put, i)
		}
		for _, id := range rec.Change.Delete {
			c.Delete = append(c.Delete, Ended{Instance: id})
		}
		m.applyLocked(c)
		if !rec.Change.CreatedAt.IsZero() {
			k := userKey(c.Application, c.User)
			m.creations[k] = append(m.creations[k], rec.Change.CreatedAt)
		}
	case "reset":
		m.resetLocked()
	default:
		return fmt.Errorf("unknown op %q", rec.Op)
	}
	return nil
}

// logLocked appends one record to the journal (fs.mu held).
func (fs *fileStore) logLocked(rec journalRecord) error {
	if fs.journal == nil {
		return errors.New("fakebackend: store is closed")
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if _, err := fs.journal.Write(b); err != nil {
		return fmt.Errorf("fakebackend: writing journal: %w", err)
	}
	fs.records++
	if fs.records >= compactEvery {
		return fs.compactLocked()
	}
	return nil
}

// compactLocked writes a snapshot of the memory state as generation gen+1
// and starts its journal; the old journal is removed once the snapshot is
// in place.
func (fs *fileStore) compactLocked() error {
	snap := fs.memStore.snapshot()
	fs.memStore.mu.Lock()
	var creations []creationRecord
	for k, at := range fs.memStore.creations {
		if len(at) > 0 {
			creations = append(creations, creationRecord{Key: k.fileKey(), At: append([]time.Time(nil), at...)})
		}
	}
	fs.memStore.mu.Unlock()
	next := fs.gen + 1
	data, err := json.MarshalIndent(snapshotFile{Version: 1, Generation: next, State: snap, Creations: creations}, "", " ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(fs.statePath(), data); err != nil {
		return err
	}
	if fs.journal != nil {
		fs.journal.Close()
	}
	old := fs.journalPath(fs.gen)
	j, err := os.OpenFile(fs.journalPath(next), os.O_CREATE|os.O_WRONLY|os.O_TRUNC|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("fakebackend: opening journal: %w", err)
	}
	fs.journal, fs.gen, fs.records = j, next, 0
	_ = os.Remove(old)
	return nil
}

// writeFileAtomic replaces path with data, crash-safe, with a temporary
// name that removeLeftovers recognises.
func writeFileAtomic(path string, data []byte) error {
	if err := atomicfile.Write(path, ".state-*.tmp", data); err != nil {
		return fmt.Errorf("fakebackend: writing state: %w", err)
	}
	return nil
}

func (fs *fileStore) PutApplication(a Application) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.memStore.PutApplication(a)
	return fs.logLocked(journalRecord{Op: "app", App: &appRecord{Key: a.Key, Secret: a.Secret.Text()}})
}

func (fs *fileStore) Commit(c Change) (Committed, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.memStore.mu.Lock()
	res, err := fs.memStore.commitLocked(c)
	fs.memStore.mu.Unlock()
	if err != nil || res.RateLimited {
		return res, err
	}
	rec := &changeRecord{Application: c.Application, User: c.User, Devices: c.Devices, Sequence: c.Sequence}
	if c.Creation != nil {
		rec.CreatedAt = c.Creation.At
	}
	for _, i := range c.Put {
		rec.Put = append(rec.Put, instanceRecord{Instance: i, Secret: string(i.Secret)})
	}
	for _, e := range c.Delete {
		rec.Delete = append(rec.Delete, e.Instance)
	}
	return res, fs.logLocked(journalRecord{Op: "commit", Change: rec})
}

func (fs *fileStore) UseNonce(app, nonce string, validUntil, now time.Time, max int) (bool, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	ok, err := fs.memStore.UseNonce(app, nonce, validUntil, now, max)
	if err != nil || !ok {
		return ok, err
	}
	return true, fs.logLocked(journalRecord{Op: "nonce", Key: app + "\x00" + nonce, At: validUntil})
}

func (fs *fileStore) Reset() error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.memStore.Reset()
	return fs.logLocked(journalRecord{Op: "reset"})
}

// Close folds the journal into the snapshot and closes it.
func (fs *fileStore) Close() error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.journal == nil {
		return nil
	}
	err := fs.compactLocked()
	if fs.journal != nil {
		fs.journal.Close()
		fs.journal = nil
	}
	return err
}

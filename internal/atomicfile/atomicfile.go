// Package atomicfile replaces a file's content so that a crash leaves
// either the old content or the new one, never a mix or an empty file.
// The backend's file store and the client's directory device store both
// write through it.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write replaces path with data, readable and writable by the owner only.
// It writes a temporary file in path's directory, named by pattern as
// os.CreateTemp names it (e.g. ".state-*.tmp"), syncs it, renames it over
// path and syncs the directory, so that the rename itself survives a power
// loss. The temporary file is removed on every failure. Errors are the os
// package's, which name the operation and the file.
func Write(path, pattern string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing left to remove
	if err := writeSync(tmp, data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	syncDir(dir)
	return nil
}

// writeSync makes f owner-only, writes data to it and flushes it to disk.
func writeSync(f *os.File, data []byte) error {
	if err := f.Chmod(0o600); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	return f.Sync()
}

// syncDir flushes a directory's entries, which makes a rename in it
// durable. Some file systems cannot sync a directory; that is not an
// error worth failing a write that has already replaced the file.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	d.Close()
}

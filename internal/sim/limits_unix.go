//go:build unix

package sim

import "syscall"

// openFileLimit returns RLIMIT_NOFILE's soft limit (Go raises it to the
// hard limit at start).
func openFileLimit() (uint64, bool) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, false
	}
	return uint64(r.Cur), true
}

package sim

import (
	"fmt"
	"os"
)

// openFilesPerClient is what one client over WebSocket costs in one
// process: its socket and the backend's end of it.
const openFilesPerClient = 2

// CheckOpenFiles returns an error, at once, when bots clients over
// WebSocket need more open files than this process may open: "10,000
// clients over WebSocket need 20,001 open files; this process may open
// 20,000: use the in-memory transport or raise ulimit -n". Files already
// open count too; the listener is the one more.
func CheckOpenFiles(bots int) error {
	limit, ok := openFileLimit()
	if !ok {
		return nil
	}
	need := uint64(bots)*openFilesPerClient + 1 + uint64(openFiles())
	if need <= limit {
		return nil
	}
	return fmt.Errorf("%s clients over WebSocket need %s open files; this process may open %s: use the in-memory transport or raise ulimit -n",
		thousands(uint64(bots)), thousands(need), thousands(limit))
}

// openFiles counts the files this process has open, where the system says.
func openFiles() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0
	}
	return len(ents)
}

// thousands formats n with commas: 20,001.
func thousands(n uint64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

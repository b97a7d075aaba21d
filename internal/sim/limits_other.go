//go:build !unix

package sim

func openFileLimit() (uint64, bool) { return 0, false }

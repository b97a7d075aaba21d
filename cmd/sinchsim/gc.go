package main

import "runtime/debug"

// gcMemoryLimit bounds the heap tuneGC lets a command grow: 100,000
// simulated clients hold about 1.2 GiB.
const gcMemoryLimit = 3 << 30

// tuneGC sets the garbage collector for simulate, which keeps 100,000
// clients and their backend in one heap, and returns a function that restores it:
// collect at 5 times the live heap rather than twice, within
// gcMemoryLimit. A year of 100,000 simulated clients allocates about
// 15 GiB; with Go's defaults, collecting it costs as much as the
// simulation. GOGC or GOMEMLIMIT in the environment win.
func tuneGC(e *env) (restore func()) {
	oldGC, oldMem := -2, int64(-2)
	if e.lookupEnv("GOGC") == "" {
		oldGC = debug.SetGCPercent(400)
	}
	if e.lookupEnv("GOMEMLIMIT") == "" {
		oldMem = debug.SetMemoryLimit(gcMemoryLimit)
	}
	return func() {
		if oldGC != -2 {
			debug.SetGCPercent(oldGC)
		}
		if oldMem != -2 {
			debug.SetMemoryLimit(oldMem)
		}
	}
}

package sim

import "runtime/debug"

// gcMemoryLimit is the heap the garbage collector lets a simulation grow
// to before it collects in earnest: 100,000 clients hold about 1.2 GiB.
const gcMemoryLimit = 3 << 30

// TuneGC sets the garbage collector of this process for a simulation and
// returns a function that restores the settings: collect at 5 times the
// live heap rather than twice, within gcMemoryLimit. A year of 100,000
// clients allocates about 15 GiB; with Go's defaults collecting it costs as
// much as the simulation itself. getenv reads the environment: GOGC or
// GOMEMLIMIT set there win.
func TuneGC(getenv func(string) string) (restore func()) {
	gc, mem := getenv("GOGC") == "", getenv("GOMEMLIMIT") == ""
	oldGC, oldMem := int64(-2), int64(-2)
	if gc {
		oldGC = int64(debug.SetGCPercent(400))
	}
	if mem {
		oldMem = debug.SetMemoryLimit(gcMemoryLimit)
	}
	return func() {
		if oldGC != -2 {
			debug.SetGCPercent(int(oldGC))
		}
		if oldMem != -2 {
			debug.SetMemoryLimit(oldMem)
		}
	}
}

//go:build race

package credentials

// raceEnabled: the race detector's instrumentation changes what the
// compiler inlines, and so what allocates.
const raceEnabled = true

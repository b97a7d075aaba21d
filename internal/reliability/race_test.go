//go:build race

package reliability

// raceEnabled scales the defaults down under the race detector, which
// slows WebSocket round trips about tenfold.
const raceEnabled = true

//go:build !race

package credentials

// raceEnabled: see race_test.go.
const raceEnabled = false

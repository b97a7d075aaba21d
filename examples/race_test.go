//go:build race

package examples_test

// raceFlag builds the examples with the race detector when the tests run
// with it.
var raceFlag = []string{"-race"}

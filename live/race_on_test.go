//go:build race

package live_test

// raceEnabled reports whether the race detector is on: allocation counts
// mean nothing under it.
const raceEnabled = true

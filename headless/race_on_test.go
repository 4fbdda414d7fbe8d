//go:build race

package headless

// raceEnabled reports whether the race detector is on: allocation counts
// and speeds mean little under it.
const raceEnabled = true

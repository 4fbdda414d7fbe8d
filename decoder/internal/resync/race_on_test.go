//go:build race

package resync_test

// raceEnabled: the engine runs in one goroutine, which the race detector
// slows tenfold and has nothing to find in; the many rounds and every
// offset run without it (go test ./...).
const raceEnabled = true

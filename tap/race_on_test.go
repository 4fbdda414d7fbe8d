//go:build race

package tap

// raceEnabled: the race detector slows the decoders tenfold; the
// single-goroutine tests' longest inputs run whole without it.
const raceEnabled = true

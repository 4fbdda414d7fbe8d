//go:build race

package yamux

// raceEnabled: the race detector slows the decoder tenfold; the internal
// tests' largest inputs are decoded whole without it (go test ./...).
const raceEnabled = true

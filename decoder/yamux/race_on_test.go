//go:build race

package yamux_test

// raceEnabled: the race detector slows the decoder tenfold; the large
// recordings' every-offset joins run without it (go test ./...).
const raceEnabled = true

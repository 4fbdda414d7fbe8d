//go:build race

package decoder_test

// raceEnabled: the race detector slows the decoder tenfold; the large
// recordings' gaps at every offset run without it (go test ./...).
const raceEnabled = true

//go:build race

package pcapout_test

// raceEnabled: the race detector makes every byte copied cost tenfold;
// the tests that fill New's 64 MiB queue fill a smaller one under it.
const raceEnabled = true

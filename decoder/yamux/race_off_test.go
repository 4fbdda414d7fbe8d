//go:build !race

package yamux_test

const raceEnabled = false

//go:build !race

package resync_test

const raceEnabled = false

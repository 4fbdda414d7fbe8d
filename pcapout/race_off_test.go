//go:build !race

package pcapout_test

const raceEnabled = false

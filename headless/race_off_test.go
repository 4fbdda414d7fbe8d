//go:build !race

package headless

const raceEnabled = false

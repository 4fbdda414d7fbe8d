//go:build !race

// Package racetest says whether the race detector is on, for tests that
// sample or skip under it.
package racetest

// Enabled is false: this binary was built without -race.
const Enabled = false

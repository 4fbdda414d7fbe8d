//go:build race

// Package racetest says whether the race detector is on, for tests that
// sample or skip under it.
package racetest

// Enabled is true: this binary was built with -race.
const Enabled = true

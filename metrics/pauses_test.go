package metrics

import (
	"testing"
	"time"
)

// TestPauses: Diagnose's ticks evaluate every time while they come on
// time, or late by less than StoodStillAfter; after a tick that shows
// muxtop stood still, none within CatchUp does; a process starved for
// good (every tick late) still evaluates at every other tick. A tick
// exactly StoodStillAfter after the one before it stood still.
func TestPauses(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 17, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	var p pauses
	for _, tc := range []struct {
		ms   int
		want bool
	}{
		{0, true}, {100, true}, {200, true},
		{650, true},   // 450 ms late: a stall, not standing still
		{3650, false}, // 3 s: stood still
		{3700, false}, // within CatchUp of it
		{3800, false},
		{3850, true}, // CatchUp after
		{3950, true},
		{4950, false}, // stood still again, then starved for good:
		{5950, true},  // every other tick
		{6950, false},
		{7950, true},
	} {
		if got := p.evaluate(at(tc.ms)); got != tc.want {
			t.Errorf("tick at %d ms: evaluate %v, want %v", tc.ms, got, tc.want)
		}
	}

	// The threshold itself, on a fresh clock: a tick a moment short of
	// StoodStillAfter evaluates, one StoodStillAfter late does not.
	var q pauses
	short := StoodStillAfter - time.Millisecond
	for _, tc := range []struct {
		at   time.Time
		want bool
	}{
		{t0, true},
		{t0.Add(short), true},
		{t0.Add(short + StoodStillAfter), false},
	} {
		if got := q.evaluate(tc.at); got != tc.want {
			t.Errorf("tick at %v: evaluate %v, want %v", tc.at.Sub(t0), got, tc.want)
		}
	}
}

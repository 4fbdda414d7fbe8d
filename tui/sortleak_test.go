package tui

import (
	"fmt"
	"testing"
	"time"

	"github.com/muxtop/muxtop/live"
)

// TestSortAgeLeaksFirst: sorting by age puts the suspected leaks (the
// streams LEAK counts, marked !) first, then the other live streams,
// oldest first in each: stream 3, open longest but written every second,
// is no leak, and stream 7, younger and idle, is. Before, stream 3 led,
// as the oldest live stream, above the leak.
func TestSortAgeLeaksFirst(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	streams := []*live.StreamSnap{
		{ID: 3, State: live.Open, First: t0},
		{ID: 5, State: live.Closed, First: t0.Add(time.Second)},
		{ID: 7, State: live.Open, First: t0.Add(2 * time.Second), Leak: true},
		{ID: 9, State: live.Open, First: t0.Add(3 * time.Second), Leak: true},
		{ID: 11, State: live.Open, First: t0.Add(4 * time.Second)},
	}
	sortStreams(streams, &live.SessionSnap{Leaks: 2}, sortAge, true)
	var got []uint32
	for _, s := range streams {
		got = append(got, s.ID)
	}
	if fmt.Sprint(got) != "[7 9 3 11 5]" {
		t.Errorf("by age: %v, want [7 9 3 11 5]: the leaks, then the other live streams, oldest first", got)
	}
}

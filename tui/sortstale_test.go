package tui

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/live"
)

// TestSortAgeStaleLeakMark: s sorts by age with the suspected leaks
// first by the test the ! mark makes: a stream whose snapshot still
// marks it (StreamSnap.Leak) in a session whose leak count is 0 (the
// LEAK that counted it has resolved: the mark is stale) is shown unmarked
// and sorted as what it is, a closed stream, after the live ones. Before,
// the sort read the stream's mark alone and put it first, unmarked, above
// the oldest open stream.
func TestSortAgeStaleLeakMark(t *testing.T) {
	c := fixture()
	const stale = 15 // closed; the fixture's oldest open stream is 3
	snapshot := func(o live.SnapshotOptions) *live.Snapshot {
		s := c.snapshot(o)
		s.Sessions = slices.Clone(s.Sessions) // the registry's pictures are shared: copies
		for i, ss := range s.Sessions {
			if ss.ID != 1 {
				continue
			}
			cp := *ss
			cp.Leaks = 0
			cp.Streams = slices.Clone(ss.Streams)
			for j := range cp.Streams {
				if cp.Streams[j].ID == stale {
					cp.Streams[j].Leak = true
				}
			}
			s.Sessions[i] = &cp
		}
		return s
	}
	for _, size := range []struct{ w, h int }{{80, 24}, {160, 45}} {
		m := resize(newModel(c.reg, Options{Title: "demo", NoColor: true}, snapshot, time.UTC, 0), size.w, size.h)
		m = press(m, "s")
		if m.focus != paneStreams || m.streams.sort != sortAge {
			t.Fatalf("%d×%d: s: focus %d sort %s", size.w, size.h, m.focus, m.streams.sort)
		}
		if st := selectedStream(m); st == nil || st.ID != 3 {
			t.Fatalf("%d×%d: s selected %+v, want the oldest open stream 3, not stream %d, whose mark is stale", size.w, size.h, st, stale)
		}
		if i := slices.IndexFunc(m.streams.rows, func(s *live.StreamSnap) bool { return s.ID == stale }); i >= 0 && m.streams.rows[i].State.Live() {
			t.Fatalf("the fixture's stream %d is live", stale)
		} else if i < len(m.streams.rows)-6 {
			t.Errorf("%d×%d: stream %d sorted at row %d of %d, want among the closed ones, after the live", size.w, size.h, stale, i+1, len(m.streams.rows))
		}
		if strings.Contains(screenOf(m), " 15! ") {
			t.Errorf("%d×%d: stream 15 marked", size.w, size.h)
		}
	}
}

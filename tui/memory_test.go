package tui

import (
	"runtime"
	"testing"

	"github.com/muxtop/muxtop/live"
)

// TestMemoryAtDefaultHistory measures what the screen itself holds over a
// full history of live.DefaultHistory records at the default snaplen: an
// index of seqs and the records on screen, not a second copy of history
// (which took 44.6 MB).
func TestMemoryAtDefaultHistory(t *testing.T) {
	if testing.Short() {
		t.Skip("fills a history of 100 000 records")
	}
	cases := []struct {
		name     string
		sessions int
		keys     []string
	}{
		// 1 000 sessions; the frames of the first session.
		{"1000 sessions", 1000, []string{"enter", "k", "enter"}},
		// One session: its view selects every record of history.
		{"1 session", 1, []string{"enter", "k", "enter"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := newLoaded(tc.sessions, live.DefaultHistory)
			if n := l.reg.Snapshot().History.Len(); n != live.DefaultHistory {
				t.Fatalf("history holds %d records, want %d", n, live.DefaultHistory)
			}
			before := heap()
			m := press(l.model(t, 160, 45), tc.keys...)
			_ = m.View()
			used := heap() - before
			runtime.KeepAlive(m)
			t.Logf("the screen holds %.2f MB over %d records of history (index of %d seqs)", float64(used)/1e6, live.DefaultHistory, m.frames.index.len())
			if limit := int64(4 << 20); used > limit {
				t.Errorf("the screen holds %d bytes, want at most %d", used, limit)
			}
		})
	}
}

// heap returns the bytes of live heap objects after a collection.
func heap() int64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

package tui

import (
	"testing"
	"time"

	"github.com/muxtop/muxtop/live"
)

// TestHalfClosedLeakFirst: within a severity a LEAK with a direction (a
// half-closed stream, a certain leak) is listed before one without (open
// and idle, which may be a pool), however much older the pool is; the
// other findings keep their places. The older pool was listed first
// before.
func TestHalfClosedLeakFirst(t *testing.T) {
	f := func(id uint64, code live.FindingCode, sev live.Severity, hasDir bool, ago time.Duration) *live.Finding {
		return &live.Finding{ID: id, Code: code, Severity: sev, Session: id, HasDir: hasDir, Dir: live.ServerToClient,
			Since: base.Add(-ago), Opened: base.Add(-ago)}
	}
	// The snapshot's order: most severe first, then oldest.
	snap := &live.Snapshot{At: base, Started: base.Add(-time.Hour), Findings: []*live.Finding{
		f(1, live.CodeSessionBlocked, live.Critical, false, time.Hour),
		f(2, live.CodeLeak, live.Warning, false, time.Hour), // the pool, idle since the start
		f(3, live.CodeWindowStall, live.Warning, true, 50*time.Minute),
		f(4, live.CodeLeak, live.Warning, false, 40*time.Minute), // another pool
		f(5, live.CodeLeak, live.Warning, true, 10*time.Minute),  // half-closed, later
		f(6, live.CodeLeak, live.Warning, true, 5*time.Minute),   // half-closed, later still
	}}
	keys := newKeyMap()
	p := feed(newFindingsPane(&keys), snapshotMsg{snap: snap})
	var got []uint64
	for _, f := range p.list {
		got = append(got, f.ID)
	}
	want := []uint64{1, 5, 3, 6, 2, 4}
	if len(got) != len(want) {
		t.Fatalf("the pane lists %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("the pane lists %v, want %v: the half-closed LEAKs first, in the LEAKs' places", got, want)
		}
	}
}

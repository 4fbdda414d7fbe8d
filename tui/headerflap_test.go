package tui

import (
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/muxtop/muxtop/live"
)

// TestHeaderWordingHoldsAsRateChanges: the header's first line took its
// long or its short wording by whether it fitted to the cell, so frames/s
// going 0 ↔ 2.0 with each keepalive on an idle session switched it
// between "4 suspected leaks (all half-closed), +0.4/s over the last 10s
// · 1 warning · ! lists them" and "4 leak? (all half-closed) +0.4/s ·
// 1 warn · ! lists". At no width may a rate's change switch the wording.
func TestHeaderWordingHoldsAsRateChanges(t *testing.T) {
	th := &theme{styles: newStyles(true), loc: time.UTC}
	snap := &live.Snapshot{At: base, Started: base.Add(-3 * time.Minute), Leaks: 4, OpenStreams: 10, LiveSessions: 3}
	snap.Sessions = make([]*live.SessionSnap, 3)
	snap.FindingCounts[live.Warning] = 1
	for w := 80; w <= 240; w++ {
		var firsts [2]string
		for i, r := range []float64{0, 2.0} {
			hd := header{title: "attach 127.0.0.1:7000 → 127.0.0.1:9000", snap: snap, now: base, rate: r,
				leakAfter: 30 * time.Second, halfClosed: 4, leakGrowth: growth{from: 0, to: 4, span: 10 * time.Second}}
			firsts[i] = ansi.Strip(viewHeader(th, &hd, w, 3)[0])
		}
		long := [2]bool{strings.Contains(firsts[0], "suspected leak"), strings.Contains(firsts[1], "suspected leak")}
		if long[0] != long[1] {
			t.Errorf("%d columns: frames/s 0 and 2.0 word the header differently:\n%s\n%s", w, firsts[0], firsts[1])
		}
	}
}

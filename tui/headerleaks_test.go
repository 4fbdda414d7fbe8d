package tui

import (
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/muxtop/muxtop/live"
)

// leakHunt is the header of a service that leaks at 2 a.m.: ten
// sessions, 1200 open streams, 243 suspected leaks, 12 of them
// half-closed (LEAK with a direction: the server never closes them) and
// 231 open with no FIN from either side (LEAK without one), a stall,
// two warnings, one finding resolved lately; the demo's title.
func leakHunt() *header {
	leak := func(id uint64, hasDir bool, n uint64) *live.Finding {
		return &live.Finding{ID: id, Code: live.CodeLeak, Severity: live.Warning, Session: id, Stream: 3,
			HasDir: hasDir, Dir: live.ServerToClient, Since: base.Add(-time.Minute), Opened: base.Add(-30 * time.Second),
			Evidence: live.Evidence{Count: n}}
	}
	snap := &live.Snapshot{At: base, Started: base.Add(-3*time.Minute - 12*time.Second),
		Sessions: make([]*live.SessionSnap, 10), LiveSessions: 10, OpenStreams: 1200,
		Leaks: 243, Evaluated: base, Stalls: 1, ResolvedRecent: 1,
		Findings: []*live.Finding{leak(1, true, 12), leak(2, false, 231)}}
	snap.FindingCounts[live.Warning] = 2
	return &header{title: "demo · gateway http://127.0.0.1:8080/rand", snap: snap, now: base, rate: 3100, leakAfter: 30 * time.Second}
}

// totals is the header's first line at width w, without colour.
func totals(hd *header, w int) string {
	th := &theme{styles: newStyles(true), loc: time.UTC}
	return ansi.Strip(totalsLine(th, hd, titleApart(hd.title, w), w))
}

// TestHeaderNarrow: what a user chasing a leak needs first stays on the
// header's first line as it narrows — open streams, suspected leaks,
// stalls and findings at 80 columns; sessions and the key that lists
// the findings from 100; everything, the uptime and frames/s included,
// at 160, where the demo's title takes a line of its own. Before, at 80
// columns the header kept the sessions and "! lists" but dropped the
// open streams; at 160 the title took the uptime's and frames/s' room.
func TestHeaderNarrow(t *testing.T) {
	hd := leakHunt()
	for _, tc := range []struct {
		w    int
		want []string
	}{
		{80, []string{"1200 open ·", "243 leak?", "1 stalled", "2 warn"}},
		{100, []string{"1200 open ·", "243 leak?", "1 stalled", "2 warn", "1 resolved", "! lists", "10/10 sess"}},
		{160, []string{"up 00:03:12", "10/10 sessions", "1200 open streams", "3100 frames/s", "243 suspected leaks", "1 stalled",
			"2 warnings", "1 resolved", "! lists them"}},
	} {
		got := totals(hd, tc.w)
		if width(got) != tc.w {
			t.Errorf("%d columns: the line is %d cells:\n%s", tc.w, width(got), got)
		}
		for _, s := range tc.want {
			if !strings.Contains(got, s) {
				t.Errorf("%d columns: the header lacks %q:\n%s", tc.w, s, got)
			}
		}
	}
	// The model's, at 80×24: the fixture's open streams with its findings.
	first := strings.SplitN(screenOf(findingsFixture().model(t, 80, 24)), "\n", 2)[0]
	for _, s := range []string{"3 open ·", "2 leak?", "2 warn"} {
		if !strings.Contains(first, s) {
			t.Errorf("80×24: the header lacks %q:\n%s", s, first)
		}
	}
}

package tui

import (
	"regexp"
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
	return &header{title: "demo · gateway http://127.0.0.1:8080/rand", snap: snap, now: base, rate: 3100, leakAfter: 30 * time.Second,
		resolved: resolvedCount(snap, recentlyResolved(snap)), halfClosed: halfClosedLeaks(snap)}
}

// totals is the header's first line at width w, without colour.
func totals(hd *header, w int) string {
	th := &theme{styles: newStyles(true), loc: time.UTC}
	return ansi.Strip(totalsLine(th, hd, titleApart(hd.title, w), w))
}

// TestHeaderNarrow: what a user chasing a leak needs first stays on the
// header's first line as it narrows — open streams, suspected leaks and
// how many are half-closed, stalls and findings at 80 columns; findings
// resolved and the key that lists them from 100; everything, sessions,
// the uptime and frames/s included,
// at 160, where the demo's title takes a line of its own. Before, at 80
// columns the header kept the sessions and "! lists" but dropped the
// open streams; at 160 the title took the uptime's and frames/s' room.
func TestHeaderNarrow(t *testing.T) {
	hd := leakHunt()
	for _, tc := range []struct {
		w    int
		want []string
	}{
		{80, []string{"1200 open ·", "243 leak? (12 half-closed) ·", "1 stalled", "2 warn"}},
		{100, []string{"1200 open ·", "243 leak? (12 half-closed) ·", "1 stalled", "2 warn", "1 resolved", "! lists"}},
		{160, []string{"up 00:03:12", "10/10 sess", "1200 open ·", "3100 fr/s", "243 leak? (12 half-closed) ·", "1 stalled",
			"2 warn", "1 resolved", "! lists"}},
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
	for _, s := range []string{"3 open ·", "2 leak? (all half-closed) ·", "2 warn"} {
		if !strings.Contains(first, s) {
			t.Errorf("80×24: the header lacks %q:\n%s", s, first)
		}
	}
}

// TestHeaderLeakKinds: the header's suspected leaks say how many of them
// are half-closed (one side sent FIN, the other never will: a certain
// leak), apart from those open and idle with no FIN from either side
// (perhaps a pool), in the words the LEAK finding and the streams pane
// use; "all" where every one is; where none is, nothing is added. Before, the header
// said "243 leak?" alone, the two kinds mixed.
func TestHeaderLeakKinds(t *testing.T) {
	hd := leakHunt()
	said := regexp.MustCompile(`243 (leak\?|suspected leaks) \(12 half-closed\)`)
	for _, w := range []int{80, 100, 160} {
		if got := totals(hd, w); !said.MatchString(got) || width(got) != w {
			t.Errorf("%d columns: the header does not say %q in %d cells:\n%s", w, said, w, got)
		}
	}
	// None half-closed: the count alone.
	hd.snap.Findings = hd.snap.Findings[1:]
	hd.snap.Leaks = 231
	hd.halfClosed = halfClosedLeaks(hd.snap)
	if got := totals(hd, 160); !regexp.MustCompile(`231 (leak\?|suspected leaks) ·`).MatchString(got) || strings.Contains(got, "half-closed") {
		t.Errorf("no LEAK of half-closed streams, the header says:\n%s", got)
	}
	// All of them half-closed: "all", not two equal numbers to compare.
	hd.snap.Findings[0].HasDir, hd.snap.Findings[0].Evidence.Count = true, 231
	hd.halfClosed = halfClosedLeaks(hd.snap)
	if got := totals(hd, 80); !strings.Contains(got, "231 leak? (all half-closed) ·") {
		t.Errorf("every leak half-closed, the header says:\n%s", got)
	}
	// The real engine's: the fixture's LEAK counts two streams the client
	// half-closed and the server never closes.
	c := findingsFixture()
	for _, size := range []struct{ w, h int }{{80, 24}, {160, 45}} {
		first := strings.SplitN(screenOf(c.model(t, size.w, size.h)), "\n", 2)[0]
		if !regexp.MustCompile(`2 (leak\?|suspected leaks) \(all half-closed\) ·`).MatchString(first) {
			t.Errorf("%d×%d: the header does not say the fixture's 2 leaks are half-closed:\n%s", size.w, size.h, first)
		}
	}
}

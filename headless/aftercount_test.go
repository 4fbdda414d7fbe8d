package headless

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/muxtop/muxtop/live"
)

// TestSummaryAfterCountAtTheSameInstant: a LEAK still holding at the end
// that was not open in the snapshot the leaks line counts is not in that
// count, and the summary says so (after_count), even when it opened at
// that snapshot's evaluation time: an evaluation run at the same clock
// reading, or, before the snapshot read its findings and their instant
// from one view, an evaluation that ran between the two reads. Before,
// only one opened strictly after that time was flagged: the line said
// "leaks 0 suspected" under a LEAK of 2 streams open at the end.
func TestSummaryAfterCountAtTheSameInstant(t *testing.T) {
	at := time.Date(2026, 12, 5, 10, 0, 41, 0, time.UTC)
	leak := &live.Finding{ID: 9, Code: live.CodeLeak, Severity: live.Warning, Session: 1, Stream: 3, Dir: live.ServerToClient, HasDir: true,
		Since: at.Add(-41 * time.Second), Opened: at, Resolved: at.Add(2 * time.Millisecond), Unwatched: true,
		Evidence: live.Evidence{Count: 2, Age: 41 * time.Second, Limit: 30 * time.Second},
		Text:     "the server never closes its streams: 2 half-closed by the client", Advice: "call Close()"}
	before := &live.Snapshot{At: at.Add(time.Millisecond), Evaluated: at}
	for _, format := range []Format{Plain, JSON} {
		s := Summary{Findings: []*live.Finding{leak}}
		s.atEnd(before, 30*time.Second)
		if !slices.Contains(s.AfterCount, leak.ID) {
			t.Fatalf("AfterCount %v: the LEAK open at the end, not in the leaks line's count (%d), is not said to be after it", s.AfterCount, s.Leaks)
		}
		var out bytes.Buffer
		writeSummary(&out, format, s)
		if format == Plain {
			plainSummaryHas(t, out.String(), "#9 LEAK warning, session 1, opened as muxtop stopped, after the leaks line's count, open at the end (muxtop stopped watching)", "  leaks     0 suspected")
			continue
		}
		j := leaksJSON(t, out.Bytes())
		if len(j.Findings) != 1 || j.Findings[0]["after_count"] != true || j.Leaks["count"] != 0.0 {
			t.Errorf("JSON findings %v, leaks %v; want the LEAK with after_count, count 0", j.Findings, j.Leaks)
		}
	}
	// One open then, and so counted, is not flagged; one opened and
	// resolved before that instant, listed as resolved, is not either.
	open := *leak
	resolved := *leak
	resolved.ID, resolved.Opened, resolved.Resolved, resolved.Unwatched = 10, at.Add(-5*time.Second), at.Add(-time.Second), false
	before = &live.Snapshot{At: at.Add(time.Millisecond), Evaluated: at, Findings: []*live.Finding{&open}, Leaks: 2}
	s := Summary{Findings: []*live.Finding{leak, &resolved}}
	s.atEnd(before, 30*time.Second)
	if len(s.AfterCount) != 0 {
		t.Errorf("AfterCount %v, want none: the LEAK was open at the leaks line's instant", s.AfterCount)
	}
}

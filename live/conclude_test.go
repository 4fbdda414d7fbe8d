package live_test

import (
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/live"
)

// violating opens a session on reg whose client spoke HTTP at at: a
// PROTOCOL violation.
func violating(reg *live.Registry, at time.Time) *script {
	sc := openSession(reg, 1)
	var h decoder.Header
	copy(h[:], "GET / HT")
	sc.s.Violation(c2s, at, &decoder.Violation{Code: decoder.BadVersion, Header: h})
	return sc
}

// TestConcludeResolvesEndedSessions: Conclude, the last evaluation of a
// capture, resolves what the evaluation after it would: the findings of
// the sessions that ended, among them the one it opened as it first saw
// its session ended. A session still live keeps its finding.
func TestConcludeResolvesEndedSessions(t *testing.T) {
	reg := live.New(live.Config{})
	ended := violating(reg, sec(0))
	ended.s.End(sec(0.01), live.EOF, nil)
	alive := violating(reg, sec(0))

	reg.Conclude(sec(0.05), live.FindingsConfig{Churn: -1})
	recs := expect(t, reg, "+PROTOCOL", "+PROTOCOL", "-PROTOCOL")
	if f := recs[2].Finding; f.Session != ended.s.ID() || !strings.HasPrefix(f.Why, "the session ended (EOF)") || !f.Resolved.Equal(sec(0.05)) {
		t.Errorf("resolved: session %d at %v because %q; want session %d's, as it ended", f.Session, f.Resolved, f.Why, ended.s.ID())
	}
	snap := reg.Snapshot()
	if len(snap.Findings) != 1 || snap.Findings[0].Session != alive.s.ID() || snap.FindingCounts[live.Critical] != 1 {
		t.Errorf("open after Conclude: %d findings, %d critical; want the live session's alone", len(snap.Findings), snap.FindingCounts[live.Critical])
	}
}

// TestResolveEndedEvaluatesNothing: ResolveEnded, the end of a live run,
// resolves the findings open on sessions that have ended since the last
// evaluation, and opens none: what a session did as the shutdown ended it
// (a violation on its last bytes) is not evaluated. A session still live
// keeps its finding.
func TestResolveEndedEvaluatesNothing(t *testing.T) {
	reg := live.New(live.Config{})
	ended, alive := violating(reg, sec(0)), violating(reg, sec(0))
	reg.Evaluate(sec(0.01), live.FindingsConfig{Churn: -1}) // the run's last evaluation
	ended.s.End(sec(0.015), live.EOF, nil)                  // on its own, before the stop
	late := violating(reg, sec(0.02))                       // what the shutdown did, unevaluated
	late.s.End(sec(0.02), live.Shutdown, nil)

	reg.ResolveEnded(sec(0.05), sec(0.02))
	recs := expect(t, reg, "+PROTOCOL", "+PROTOCOL", "-PROTOCOL")
	if f := recs[2].Finding; f.Session != ended.s.ID() || f.Why != "the session ended (EOF)" || f.Unwatched || !f.Resolved.Equal(sec(0.05)) {
		t.Errorf("resolved: session %d at %v because %q (unwatched %v); want session %d's, as it ended", f.Session, f.Resolved, f.Why, f.Unwatched, ended.s.ID())
	}
	snap := reg.Snapshot()
	if len(snap.Findings) != 1 || snap.Findings[0].Session != alive.s.ID() {
		t.Errorf("open after ResolveEnded: %d findings; want the live session's alone", len(snap.Findings))
	}
	if len(snap.Unwatched) != 0 {
		t.Errorf("unwatched: %d; want none: the session ended on its own", len(snap.Unwatched))
	}
}

// TestResolveEndedByTheStop: the findings of the sessions muxtop's own
// stop ended — reason Shutdown (the attach proxy's), or any reason at or
// after the stop began (the demo closing its own sessions) — still held
// when the watch ended: they resolve so, Unwatched, and the snapshot
// counts them for the summary's "open at the end". One that ended on its
// own before the stop resolves as the session ended.
func TestResolveEndedByTheStop(t *testing.T) {
	reg := live.New(live.Config{})
	shut, closed, before := violating(reg, sec(0)), violating(reg, sec(0)), violating(reg, sec(0))
	reg.Evaluate(sec(0.01), live.FindingsConfig{Churn: -1}) // the run's last evaluation
	before.s.End(sec(0.015), live.Reset, nil)               // on its own
	shut.s.End(sec(0.03), live.Shutdown, nil)               // the proxy's shutdown
	closed.s.End(sec(0.03), live.LocalClose, nil)           // the demo's close, after the stop began

	reg.ResolveEnded(sec(0.05), sec(0.02))
	recs := expect(t, reg, "+PROTOCOL", "+PROTOCOL", "+PROTOCOL", "-PROTOCOL", "-PROTOCOL", "-PROTOCOL")
	want := map[uint64]string{
		shut.s.ID():   "muxtop stopped watching (shutdown): still holding then",
		closed.s.ID(): "muxtop stopped watching (local close): still holding then",
		before.s.ID(): "the session ended (reset)",
	}
	for _, r := range recs[3:] {
		f := r.Finding
		if f.Why != want[f.Session] || r.Detail != f.Why || f.Unwatched != (f.Session != before.s.ID()) {
			t.Errorf("session %d resolved because %q (record %q), unwatched %v; want %q", f.Session, f.Why, r.Detail, f.Unwatched, want[f.Session])
		}
	}
	snap := reg.Snapshot()
	if len(snap.Findings) != 0 || len(snap.Unwatched) != 2 || snap.UnwatchedCounts[live.Critical] != 2 {
		t.Errorf("after ResolveEnded: %d open, %d unwatched (%d critical); want none open and 2 critical unwatched",
			len(snap.Findings), len(snap.Unwatched), snap.UnwatchedCounts[live.Critical])
	}
}

// TestAsOfUnwatched: a finding muxtop's stop resolved still held then, so
// AsOf words its age as of the time asked, up to its resolution, as an
// open one's: the summary's line for it stood at the age of its latest
// wording. A finding that stopped holding stays as it was.
func TestAsOfUnwatched(t *testing.T) {
	f := &live.Finding{ID: 1, Code: live.CodeLeak, Severity: live.Warning, Session: 1, Stream: 3, Dir: live.ServerToClient, HasDir: true,
		Since: sec(0), Opened: sec(10), Resolved: sec(14), Unwatched: true, Evidence: live.Evidence{Count: 3, Age: 10 * time.Second, Limit: 2 * time.Second}}
	if got := f.AsOf(sec(13)).Text; !strings.Contains(got, "oldest 13 s") {
		t.Errorf("AsOf(13 s) of an unwatched LEAK: %q; want oldest 13 s", got)
	}
	if got := f.AsOf(sec(20)).Text; !strings.Contains(got, "oldest 14 s") {
		t.Errorf("AsOf(20 s) of an unwatched LEAK resolved at 14 s: %q; want oldest 14 s", got)
	}
	g := *f
	g.Unwatched = false
	if got := g.AsOf(sec(13)); got != &g {
		t.Errorf("AsOf of a LEAK that stopped holding reworded it: %q", got.Text)
	}
}

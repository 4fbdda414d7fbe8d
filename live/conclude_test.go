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
	ended.s.End(sec(0.02), live.Shutdown, nil)              // then the shutdown
	late := violating(reg, sec(0.02))                       // and what it did, unevaluated
	late.s.End(sec(0.02), live.Shutdown, nil)

	reg.ResolveEnded(sec(0.05))
	recs := expect(t, reg, "+PROTOCOL", "+PROTOCOL", "-PROTOCOL")
	if f := recs[2].Finding; f.Session != ended.s.ID() || !strings.HasPrefix(f.Why, "the session ended (") || !f.Resolved.Equal(sec(0.05)) {
		t.Errorf("resolved: session %d at %v because %q; want session %d's, as it ended", f.Session, f.Resolved, f.Why, ended.s.ID())
	}
	snap := reg.Snapshot()
	if len(snap.Findings) != 1 || snap.Findings[0].Session != alive.s.ID() {
		t.Errorf("open after ResolveEnded: %d findings; want the live session's alone", len(snap.Findings))
	}
}

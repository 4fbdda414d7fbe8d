package live_test

import (
	"testing"

	"github.com/muxtop/muxtop/live"
)

// TestResolveEndedThenEvaluate: a finding ResolveEnded resolved stays
// resolved: an evaluation after it (a Registry a library keeps
// evaluating) resolved it a second time, "the session ended", a second
// record and a second copy in Resolved, which the summary listed twice.
func TestResolveEndedThenEvaluate(t *testing.T) {
	reg := live.New(live.Config{})
	v := violating(reg, sec(0))
	reg.Evaluate(sec(0.01), live.FindingsConfig{Churn: -1})
	v.s.End(sec(0.03), live.Shutdown, nil)
	reg.ResolveEnded(sec(0.05), sec(0.02))
	reg.Evaluate(sec(0.1), live.FindingsConfig{Churn: -1})
	expect(t, reg, "+PROTOCOL", "-PROTOCOL")
	if snap := reg.Snapshot(); len(snap.Resolved) != 1 || len(snap.Unwatched) != 1 {
		t.Errorf("resolved %d, unwatched %d; want 1 and 1", len(snap.Resolved), len(snap.Unwatched))
	}
}

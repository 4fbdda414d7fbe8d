package live_test

import (
	"testing"
	"time"

	"github.com/muxtop/muxtop/live"
)

// TestAgedAtTheEvaluation: a snapshot's Aged, the streams open longer
// than LeakAfter whatever explains them, is counted at the latest
// evaluation's time, the instant its Leaks is of. Before, it was counted
// at the snapshot's, up to an evaluation later: a stream that crossed
// the cutoff in between, which no finding had looked at yet, was among
// them, and the summary's "(2 open longer than 10s in all)" beside "1
// suspected" read as a stream another finding explains (at 200 streams
// a second, 2232 beside 2216 with LEAK the one finding open).
func TestAgedAtTheEvaluation(t *testing.T) {
	reg := live.New(live.Config{})
	sc := openSession(reg, 1)
	// Two streams the server answers and never closes, 50 ms apart.
	sc.feedAt(sec(0), syn(c2s, 3), psh(c2s, 3, "RAND"), psh(s2c, 3, "12345678"), fin(c2s, 3))
	sc.feedAt(sec(0.05), syn(c2s, 5), psh(c2s, 5, "RAND"), psh(s2c, 5, "12345678"), fin(c2s, 5))
	cfg := live.FindingsConfig{LeakAfter: 10 * time.Second, Churn: -1}
	reg.Evaluate(sec(10.02), cfg) // stream 3 is 10.02 s old, 5 9.97 s
	snap := reg.SnapshotWith(live.SnapshotOptions{LeakAfter: cfg.LeakAfter, Now: sec(10.1)})
	if snap.Leaks != 1 || snap.Aged != 1 {
		t.Errorf("at 10.1 s, evaluated at 10.02 s: %d suspected, %d open longer than 10 s in all; want 1 and 1, both at the evaluation", snap.Leaks, snap.Aged)
	}
	// With no evaluation, Aged is the snapshot's own: nothing else counts.
	reg = live.New(live.Config{})
	sc = openSession(reg, 1)
	sc.feedAt(sec(0), syn(c2s, 3), fin(c2s, 3))
	sc.feedAt(sec(0.05), syn(c2s, 5), fin(c2s, 5))
	if snap = reg.SnapshotWith(live.SnapshotOptions{LeakAfter: cfg.LeakAfter, Now: sec(10.1)}); snap.Aged != 2 || !snap.Evaluated.IsZero() {
		t.Errorf("not evaluated: %d open longer than 10 s, want 2 at the snapshot", snap.Aged)
	}
}

package live_test

import (
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/live"
)

// TestWindowStallFromSent: the tapped server's smux v2 writer fills a
// 1000 B window with one frame, recorded as its write begins, and the
// write takes seconds to move it out (Session.Sent says how far it got).
// Until the frame has left, its writer waits on its own write, not on
// the window: no WINDOW_STALL, and no stalled stream in a snapshot,
// however long the write takes. Once it has left, the window holds the
// writer, from the latest evaluation that saw the frame still in the
// write (5 s), and WINDOW_STALL opens StallAfter after it, in the words
// of a capture's stall. Before, the stall counted from the frame's
// decoding: "+WINDOW_STALL" at 2.1 s.
func TestWindowStallFromSent(t *testing.T) {
	reg := live.New(live.Config{})
	sc := openSession(reg, 2)
	sc.s.Sent(s2c, 0)
	sc.feedAt(sec(0), syn(c2s, 3), psh(c2s, 3, "BULK"), upd(c2s, 3, 0, 1000))
	before := sc.off[s2c]
	sc.feedAt(sec(0), psh(s2c, 3, strings.Repeat("x", 1000)))
	sc.s.Sent(s2c, before+500) // half the frame out
	cfg := live.FindingsConfig{StallAfter: 2 * time.Second, Churn: -1}
	for _, at := range []float64{1, 2.1, 5} {
		reg.Evaluate(sec(at), cfg)
		expect(t, reg)
		if snap := reg.SnapshotWith(live.SnapshotOptions{Now: sec(at)}); snap.Stalls != 0 {
			t.Errorf("at %v s, %d stalled streams while the frame that filled the window is being written", at, snap.Stalls)
		}
	}
	sc.s.Sent(s2c, sc.off[s2c]) // the frame has left at last, after 5 s
	reg.Evaluate(sec(6), cfg)
	reg.Evaluate(sec(6.9), cfg)
	expect(t, reg)
	reg.Evaluate(sec(7.1), cfg)
	recs := expect(t, reg, "+WINDOW_STALL")
	if f := recs[0].Finding; f.Stream != 3 || f.Dir != s2c || f.Evidence.Bytes != 1000 ||
		f.Text != "stream 3: the server's writer has been held by a full 1000 B window for 2.1 s — its reader, the client, is not reading, or has read less than half the window since its latest UPD (smux v2 sends one only then, and at its first read)" {
		t.Errorf("stall: %+v", f)
	}
	if snap := reg.SnapshotWith(live.SnapshotOptions{Now: sec(7.1)}); snap.Stalls != 1 {
		t.Errorf("%d stalled streams, want 1", snap.Stalls)
	}
	// Other streams' bytes go on leaving, 2 GiB and more past the stalled
	// frame's end: the stall holds. Before, the distance, modulo 2^32,
	// wrapped: the frame counted as still being written, the stall
	// resolved, and opened again another 2 GiB on.
	for i, gib := range []int64{1, 3, 5} {
		sc.s.Sent(s2c, sc.off[s2c]+gib<<30)
		at := 8 + float64(i)
		reg.Evaluate(sec(at), cfg)
		expect(t, reg, "+WINDOW_STALL") // the one opened, not resolved
		if snap := reg.SnapshotWith(live.SnapshotOptions{Now: sec(at)}); snap.Stalls != 1 {
			t.Errorf("%d GiB on: %d stalled streams, want 1", gib, snap.Stalls)
		}
	}
}

// TestUnansweredHandsOverFromSent: a tapped smux v2 client asks on
// stream 3, which the server never answers while it answers stream 1,
// and fills stream 3's window with a frame its write is still moving out
// at the first evaluation: UNANSWERED opens (the window filled well after
// the stream waited UnansweredAfter). The frame then leaves, and once the
// window has held the writer StallAfter, one evaluation hands the stream
// over: -UNANSWERED, in the words of the hand-over, and +WINDOW_STALL.
// Before, UNANSWERED looked at the flow as the previous evaluation had
// left it, the frame still leaving, and did not resolve: ci85's
// "+UNANSWERED +WINDOW_STALL +WINDOW_STALL" of
// TestUnansweredHandsOverRealSmux, whose first evaluation came while the
// client's tap was still writing under -race.
func TestUnansweredHandsOverFromSent(t *testing.T) {
	reg := live.New(live.Config{})
	sc := openSession(reg, 2)
	sc.s.Sent(c2s, 0)
	sc.feedAt(sec(0), syn(c2s, 1), psh(c2s, 1, "ECHO"), syn(c2s, 3), psh(c2s, 3, "PUT "))
	sc.s.Sent(c2s, sc.off[c2s])
	sc.feedAt(sec(0.01), psh(s2c, 1, "ECHO"))
	before := sc.off[c2s]
	var fill []wire
	for range 4 {
		fill = append(fill, psh(c2s, 3, strings.Repeat("x", 65535)))
	}
	sc.feedAt(sec(0.1), fill...)
	sc.s.Sent(c2s, before+1000) // the frames still going out
	cfg := live.FindingsConfig{UnansweredAfter: 50 * time.Millisecond, StallAfter: 2 * time.Second, LeakAfter: time.Hour, Churn: -1}
	reg.Evaluate(sec(0.2), cfg)
	expect(t, reg, "+UNANSWERED")
	sc.s.Sent(c2s, sc.off[c2s]) // they have left
	reg.Evaluate(sec(2.3), cfg)
	recs := expect(t, reg, "+UNANSWERED", "-UNANSWERED", "+WINDOW_STALL")
	if want := "stream 3, still unanswered, is WINDOW_STALL's now: the client's writer is held by a full window, which the server has not read from"; recs[1].Detail != want {
		t.Errorf("resolution:\n  %q\nwant\n  %q", recs[1].Detail, want)
	}
}

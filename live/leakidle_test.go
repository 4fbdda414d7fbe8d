package live_test

import (
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/live"
)

// TestLeakClockFromLatestFrame: a stream's leak clock starts at its
// latest frame, either direction's, of any kind: a stream written until
// 5 s is no LEAK at 10.5 s with a 10 s --leak-after, and one at 15 s,
// worded with its age and its idle time, as AsOf words it later too.
// Before, it was a LEAK at 10 s, "1 stream open longer than 10 s".
func TestLeakClockFromLatestFrame(t *testing.T) {
	reg := live.New(live.Config{})
	sc := openSession(reg, 2)
	sc.worked(sec(0)) // stream 3 is no setup stream
	sc.feedAt(sec(0), syn(c2s, 3), psh(c2s, 3, "WATCH"))
	for s := 1.0; s <= 4; s++ {
		sc.feedAt(sec(s), psh(s2c, 3, "event"))
	}
	sc.feedAt(sec(5), upd(c2s, 3, 20, 1<<18)) // a window update is a frame of its own
	cfg := live.FindingsConfig{LeakAfter: 10 * time.Second, Churn: -1, UnansweredAfter: time.Hour}
	for s := 9.0; s < 14.95; s += 0.5 {
		reg.Evaluate(sec(s), cfg)
	}
	expect(t, reg)
	reg.Evaluate(sec(15.1), cfg)
	f := expect(t, reg, "+LEAK")[0].Finding
	const want = "1 stream open and idle 10 s or more with no FIN from either side, oldest 15 s (stream 3, opened by the client, idle 10 s)"
	if f.Stream != 3 || f.Evidence.Count != 1 || f.Evidence.Age != 15100*time.Millisecond || f.Evidence.Idle != 10100*time.Millisecond || f.Text != want {
		t.Errorf("LEAK stream %d count %d age %v idle %v %q; want stream 3, age 15.1 s, idle 10.1 s, %q", f.Stream, f.Evidence.Count, f.Evidence.Age, f.Evidence.Idle, f.Text, want)
	}
	if g := f.AsOf(sec(20.5)); g.Evidence.Idle != 15500*time.Millisecond || g.Text != "1 stream open and idle 10 s or more with no FIN from either side, oldest 20 s (stream 3, opened by the client, idle 15 s)" {
		t.Errorf("as of 20.5 s: idle %v, %q", g.Evidence.Idle, g.Text)
	}
	// A frame on it: in use again, the LEAK resolves, saying so.
	sc.feedAt(sec(16), psh(s2c, 3, "event"))
	reg.Evaluate(sec(16.1), cfg)
	recs := expect(t, reg, "+LEAK", "-LEAK")
	if d := recs[1].Detail; !strings.Contains(d, "in use again") {
		t.Errorf("resolved: %q", d)
	}
}

// TestLeakResolvedInUseOnlyByItsStreams: a LEAK of the server's
// half-closed stream 3 resolves as the session blocks (the client's write
// waits), while stream 5, as old but written every second, is counted
// among the old streams and in use. The LEAK's streams are not in use:
// another condition explains them. Before, any counted stream's frame
// made it say "in use again".
func TestLeakResolvedInUseOnlyByItsStreams(t *testing.T) {
	reg := live.New(live.Config{})
	sc := openSession(reg, 2)
	sc.feedAt(sec(0), syn(c2s, 3), psh(c2s, 3, "LEAK"), psh(s2c, 3, "ok"), fin(c2s, 3),
		syn(c2s, 5), psh(c2s, 5, "WATCH"), psh(s2c, 5, "event"))
	cfg := live.FindingsConfig{LeakAfter: 10 * time.Second, BlockedAfter: 2 * time.Second, UnansweredAfter: time.Hour, Churn: -1}
	for s := 1.0; s <= 20; s++ {
		sc.feedAt(sec(s), psh(s2c, 5, "event"), nop(c2s))
		if s == 11 {
			sc.s.WriteStarted(c2s)
		}
		reg.Evaluate(sec(s+0.5), cfg)
	}
	recs := expect(t, reg, "+LEAK", "-LEAK", "+SESSION_BLOCKED")
	if f := recs[0].Finding; f.Stream != 3 || f.Evidence.Count != 1 {
		t.Errorf("LEAK of stream %d, count %d; want stream 3 alone", f.Stream, f.Evidence.Count)
	}
	if d := recs[1].Detail; strings.Contains(d, "in use again") || !strings.Contains(d, "another condition explains them") {
		t.Errorf("resolved: %q; want another condition, not in use: stream 3 carried no frame", d)
	}
}

package live_test

import (
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/live"
)

// TestNoReplyPushBounds pins what a push is, and which turn followed
// one, at their bounds, on a scripted smux v2 stream whose acceptor
// answered two calls (at 2 s and 2.1 s) in 1 ms, or the second in
// 200 ms: its payload after quiet (from its answer) of 250 ms at the
// least, and more than 2 times its slowest answer, is a push; the
// opener's turn that starts within 1 s of it followed it. Each opener's
// turn here waits (more than 2 times the slowest answer after the
// acceptor's latest payload) and opens NO_REPLY as it did before; only
// its words and evidence differ. Where the acceptor sends nothing at all
// on the session since (no keepalive seen), the silent NO_REPLY says
// the same.
func TestNoReplyPushBounds(t *testing.T) {
	for _, tc := range []struct {
		name          string
		second, quiet float64 // the second answer's wait, the quiet before the acceptor's payload
		delay         float64 // from that payload to the opener's turn
		silent        bool
		pushed        bool
	}{
		{"250 ms of quiet, 1 s after", 0.001, 0.250, 1, false, true},
		{"249 ms of quiet", 0.001, 0.249, 0.010, false, false},
		{"1.001 s after", 0.001, 0.250, 1.001, false, false},
		{"quiet within 2 times the slowest answer", 0.2, 0.4, 0.5, false, false},
		{"quiet past 2 times the slowest answer", 0.2, 0.401, 0.5, false, true},
		{"silent acceptor", 0.001, 3, 0.012, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := live.New(live.Config{})
			sc := openSession(reg, 2)
			sc.worked(sec(0))
			sc.feedAt(sec(2), syn(c2s, 3), psh(c2s, 3, "call"))
			sc.feedAt(sec(2.001), psh(s2c, 3, "answer"))
			sc.feedAt(sec(2.1), psh(c2s, 3, "call"))
			answered := 2.1 + tc.second
			sc.feedAt(sec(answered), psh(s2c, 3, "answer"))
			pushAt := answered + tc.quiet
			sc.feedAt(sec(pushAt), psh(s2c, 3, "message"))
			sc.feedAt(sec(pushAt+tc.delay), psh(c2s, 3, "ack or call"))
			cfg := live.FindingsConfig{LeakAfter: time.Hour, Churn: -1}
			if tc.silent {
				cfg.LeakAfter = 10 * time.Second
			}
			for s := 3.0; s <= 30; s++ {
				if !tc.silent && s > pushAt+tc.delay {
					sc.feedAt(sec(s), nop(s2c)) // the acceptor is alive
				}
				reg.Evaluate(sec(s+0.5), cfg)
			}
			var recs []live.Record // the client's silence is KEEPALIVE's: not this test's
			for _, r := range findingRecords(reg) {
				if r.Finding.Code == live.CodeNoReply {
					recs = append(recs, r)
				}
			}
			if len(recs) != 1 || recs[0].Finding.Evidence.Silent != tc.silent {
				t.Fatalf("want one NO_REPLY (silent %v):%s", tc.silent, describeRecords(recs))
			}
			f := recs[0].Finding
			ev := f.Evidence
			words := strings.Contains(f.Text, "; these bytes came ") && strings.Contains(f.Text, " after the server's latest on the stream, which it had begun to send after ")
			if tc.pushed != (ev.PushQuiet > 0) || tc.pushed != words {
				t.Fatalf("followed a push %v (quiet %v, after %v), text %q; want %v", ev.PushQuiet > 0, ev.PushQuiet, ev.AfterPush, f.Text, tc.pushed)
			}
			if !tc.pushed {
				return
			}
			// Kept to the ms and the µs, truncated.
			quiet := time.Duration(tc.quiet * float64(time.Second))
			delay := time.Duration(tc.delay * float64(time.Second))
			if d := quiet - ev.PushQuiet; d < 0 || d > time.Millisecond {
				t.Errorf("push quiet %v; want %v", ev.PushQuiet, quiet)
			}
			if d := delay - ev.AfterPush; d < 0 || d > time.Microsecond {
				t.Errorf("push quiet %v, after %v; want %v, %v", ev.PushQuiet, ev.AfterPush, quiet, delay)
			}
		})
	}
}

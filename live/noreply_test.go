package live_test

import (
	"testing"
	"time"

	"github.com/muxtop/muxtop/live"
)

// TestNoReplyReorderedTurns: the two directions of a session are
// recorded by two goroutines (a tap's reader and writer, a capture's
// merge of two sockets), so that a frame can carry a time a µs before
// the other direction's frame recorded before it. A reverse tunnel whose
// opener's answer is so recorded 1 µs before the acceptor's request it
// answers paused no time, not 71 minutes (a negative wait is taken as
// none), and its idle after the opener's answers opens no
// NO_REPLY; a go-plugin-like host's calls 1 s apart, answered at once,
// still open one on the fourth call, unanswered.
func TestNoReplyReorderedTurns(t *testing.T) {
	cfg := live.FindingsConfig{LeakAfter: time.Hour, Churn: -1}
	for _, hung := range []bool{false, true} {
		reg := live.New(live.Config{})
		sc := openSession(reg, 2)
		sc.worked(sec(0))
		sc.feedAt(sec(2), syn(c2s, 3), psh(c2s, 3, "NewWorkConn"))
		if hung {
			for i := 0; i < 3; i++ {
				sc.feedAt(sec(2+float64(i)), psh(c2s, 3, "call"))
				sc.feedAt(sec(2+float64(i)+0.000001), psh(s2c, 3, "answer"))
			}
			sc.feedAt(sec(5), psh(c2s, 3, "call"))
		} else {
			for _, at := range []float64{2.010, 2.032, 2.049} {
				sc.feedAt(sec(at), psh(s2c, 3, "GET"))
				sc.feedAt(sec(at-0.000001), psh(c2s, 3, "HTTP/1.1 200 OK"))
			}
		}
		for s := 3.0; s <= 20; s++ {
			sc.feedAt(sec(s), nop(s2c)) // the acceptor is alive
			reg.Evaluate(sec(s+0.5), cfg)
		}
		var got []live.Record
		for _, r := range findingRecords(reg) {
			if r.Finding.Code == live.CodeNoReply {
				got = append(got, r)
			}
		}
		if hung && (len(got) != 1 || got[0].Finding.Stream != 3) || !hung && len(got) != 0 {
			t.Errorf("hung call %v: NO_REPLY:%s", hung, describeRecords(got))
		}
	}
}

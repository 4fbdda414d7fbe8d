package live_test

import (
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/live"
)

// TestSilentSideHandsOver: how UNANSWERED of a silent side resolves, on
// smux v2 frames fed by hand, keepalive unseen: the client's requests on
// streams 3 and 5 at 0 s, the server silent; at --leak-after (1 s) it
// opens. Then, as the server answers stream 3 only, it resolves saying
// the server is not stopped, and the ordinary UNANSWERED opens for
// stream 5 at once (the server still sends); or, as the client's first
// keepalive NOP comes, it resolves saying KEEPALIVE judges the server's
// silence from then on, and nothing else opens; or, as the client closes
// its side of the connection, it resolves saying whether it still waits
// is not known, and nothing else opens before CLOSE_WAIT would.
func TestSilentSideHandsOver(t *testing.T) {
	cfg := live.FindingsConfig{LeakAfter: time.Second, UnansweredAfter: 500 * time.Millisecond, Churn: -1}
	for _, tc := range []struct {
		name string
		then func(sc *script)
		want []string
		why  string
	}{
		{"answered", func(sc *script) { sc.feedAt(sec(1.2), psh(s2c, 3, "OK")) }, []string{"+UNANSWERED", "-UNANSWERED", "+UNANSWERED"},
			"the server sent something on the session: it is not stopped, and the streams still without an answer are UNANSWERED's as any now, while it sends"},
		{"keepalive", func(sc *script) { sc.feedAt(sec(1.2), nop(c2s)) }, []string{"+UNANSWERED", "-UNANSWERED"},
			"a keepalive NOP came on the session: keepalive is on, and KEEPALIVE judges the server's silence from now on"},
		{"client left", func(sc *script) { sc.s.DirectionEnded(c2s, sec(1.2)) }, []string{"+UNANSWERED", "-UNANSWERED"},
			"the client closed its side of the connection: whether it still waits for an answer is not known (it may read on after a CloseWrite), and the server, silent, holds the session, which CLOSE_WAIT names once it has held it --closewait-after"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := live.New(live.Config{})
			sc := openSession(reg, 2)
			sc.feedAt(sec(0), syn(c2s, 3), psh(c2s, 3, "REQ"), syn(c2s, 5), psh(c2s, 5, "REQ"))
			reg.Evaluate(sec(0.999), cfg)
			reg.Evaluate(sec(1.001), cfg)
			tc.then(sc)
			reg.Evaluate(sec(1.3), cfg)
			recs := expect(t, reg, tc.want...)
			if f := recs[0].Finding; f.Evidence.Count != 2 || !strings.Contains(f.Text, "the server has sent nothing at all since") {
				t.Errorf("opened: count %d: %s", f.Evidence.Count, f.Text)
			}
			if recs[1].Detail != tc.why {
				t.Errorf("resolved: %q\nwant %q", recs[1].Detail, tc.why)
			}
			if len(recs) == 3 {
				if f := recs[2].Finding; f.Stream != 5 || !strings.Contains(f.Text, "while the server still sends") || f.Evidence.Count != 1 {
					t.Errorf("then: stream %d, count %d: %s", f.Stream, f.Evidence.Count, f.Text)
				}
			}
		})
	}
}

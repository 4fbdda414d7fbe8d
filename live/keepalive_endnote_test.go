package live_test

import (
	"strings"
	"testing"

	"github.com/muxtop/muxtop/live"
)

// endDetail returns the detail of reg's session-ended record.
func endDetail(reg *live.Registry) string {
	for _, r := range allRecords(reg) {
		if r.Kind == live.SessionEnded {
			return r.Detail
		}
	}
	return ""
}

// TestKeepaliveEndNoteSilenceBeforeClose: the server falls silent at 1 s
// (KEEPALIVE), the client's keepalive closes its side at 20 s, the server
// resumes at 29.9 s with its queued frames and the connection ends at
// 30 s. The end cites the silence the client's close acted on, 19 s up to
// that close, not the 100 ms between the server's resumed frames and the
// end; a server that spoke again before the end without the client
// having closed gets no KEEPALIVE in its end at all: its silence ended
// before, and nothing says the keepalive acted on it.
func TestKeepaliveEndNoteSilenceBeforeClose(t *testing.T) {
	cfg := live.FindingsConfig{Churn: -1}
	run := func(clientCloses bool) string {
		reg := live.New(live.Config{})
		sc := openSession(reg, 1)
		sc.feedAt(sec(0), nop(c2s), nop(s2c))
		sc.feedAt(sec(1), nop(c2s), nop(s2c))
		for s := 2.0; s <= 19; s++ {
			sc.feedAt(sec(s), nop(c2s))
			reg.Evaluate(sec(s), cfg)
		}
		expect(t, reg, "+KEEPALIVE")
		if clientCloses {
			sc.s.DirectionEnded(c2s, sec(20)) // the client's keepalive closes
		}
		sc.feedAt(sec(29.9), nop(s2c)) // the server resumes
		sc.s.End(sec(30), live.Reset, nil)
		return endDetail(reg)
	}
	if d := run(true); !strings.Contains(d, "after the server sent nothing for 19 s (KEEPALIVE), up to when the client closed its side of the connection 10 s before the end") {
		t.Errorf("client closed first: end %q, want the server's 19 s silence up to the client's close", d)
	}
	if d := run(false); strings.Contains(d, "KEEPALIVE") {
		t.Errorf("server spoke again before the end: end %q cites KEEPALIVE", d)
	}
}

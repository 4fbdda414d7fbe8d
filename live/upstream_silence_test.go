package live_test

import (
	"testing"
	"time"

	"github.com/muxtop/muxtop/live"
)

// TestKeepaliveCountsFromUpstreamConnect: a session a proxy accepted at
// 0 s whose dial of the server went through only at 5 s (SYN retries at
// the server's full backlog, under a burst of clients): the server, which
// could send nothing before, has sent nothing by 5.5 s, while the
// client's NOPs come every second. Its silence counts from 5 s, and no
// KEEPALIVE opens at 5.5 s; one opens at 6.5 s, the server still silent
// 1.5 s after it was connected. Before, the server was "silent" from the
// accept: KEEPALIVE at 5.5 s, resolved by its first NOP a moment later
// (the scale review: hundreds of such warnings through attach when
// thousands of clients dialed at once). A session not told of its
// upstream keeps counting from its start.
func TestKeepaliveCountsFromUpstreamConnect(t *testing.T) {
	for _, told := range []bool{true, false} {
		name := "told the upstream connected at 5 s"
		if !told {
			name = "not told"
		}
		t.Run(name, func(t *testing.T) {
			reg := live.New(live.Config{})
			s := reg.Open(live.SessionInfo{Client: "127.0.0.1:1000", Server: "127.0.0.1:9000", Tap: live.Server, Proxied: true}, t0)
			sc := &script{s: s, ver: 1}
			for i := range 7 {
				sc.feedAt(sec(float64(i)), nop(c2s))
			}
			if told {
				s.UpstreamConnected(sec(5))
			}
			cfg := live.FindingsConfig{SilentAfter: time.Second, Churn: -1}
			reg.Evaluate(sec(5.5), cfg)
			if told {
				expect(t, reg)
			} else {
				expect(t, reg, "+KEEPALIVE")
			}
			reg.Evaluate(sec(6.5), cfg)
			expect(t, reg, "+KEEPALIVE")
		})
	}
}

package live_test

import (
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/live"
)

// TestUnansweredBacklogWordsOnlyRefused: a yamux server resets the
// client's stream 5, opened after streams 1 and 3 that still have no ACK,
// on its SYN with no ACK. With no GoAway of the server's, that is its
// full accept backlog (TestUnansweredYamuxBacklogResetReal, a real one),
// and UNANSWERED names it. After the server's GoAway, yamux resets every
// SYN (incomingStream), full backlog or not: the words are those of
// streams not accepted. Nor does an RST the server sends with its ACK
// name a backlog.
func TestUnansweredBacklogWordsOnlyRefused(t *testing.T) {
	const full = "accept backlog was full when it reset stream 5"
	for _, tc := range []struct {
		name   string
		server func(y *yamuxFrames)
		want   bool
	}{
		{"backlog full", func(y *yamuxFrames) { y.recAt(sec(2), s2c, yamux.WindowUpdate, yamux.RST, 5, 0) }, true},
		{"after its GoAway", func(y *yamuxFrames) {
			y.recAt(sec(1.5), s2c, yamux.GoAway, 0, 0, yamux.GoAwayNormal)
			y.recAt(sec(2), s2c, yamux.WindowUpdate, yamux.RST, 5, 0)
		}, false},
		{"with its ACK", func(y *yamuxFrames) { y.recAt(sec(2), s2c, yamux.WindowUpdate, yamux.ACK|yamux.RST, 5, 0) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := live.New(live.Config{})
			y := &yamuxFrames{s: reg.Open(live.SessionInfo{Proto: live.Yamux}, t0)}
			for _, sid := range []uint32{1, 3, 5} {
				y.recAt(sec(1), c2s, yamux.WindowUpdate, yamux.SYN, sid, 0)
			}
			tc.server(y)
			un := unansweredAfterPings(reg, y)
			if un == nil || un.Evidence.Count != 2 || un.Stream != 1 {
				t.Fatalf("UNANSWERED %+v; want one of streams 1 and 3", un)
			}
			if got := strings.Contains(un.Text, full); got != tc.want {
				t.Errorf("text %q names a full backlog: %v, want %v", un.Text, got, tc.want)
			}
			if got := strings.Contains(un.Advice, "raise the server's AcceptBacklog"); got != tc.want {
				t.Errorf("advice %q names the server's AcceptBacklog: %v, want %v", un.Advice, got, tc.want)
			}
		})
	}
}

// TestUnansweredBacklogWordsAfterDrain: streams 1, 3 and 5 wait for
// their ACK, the server resets 5 (its accept backlog full), then accepts
// 1 (its ACK): stream 3 still waits, and the backlog that was full may
// have drained. The words say it was full when the server reset stream
// 5, not that it is full now. Before: "the server's accept backlog is
// full: it reset stream 5".
func TestUnansweredBacklogWordsAfterDrain(t *testing.T) {
	reg := live.New(live.Config{})
	y := &yamuxFrames{s: reg.Open(live.SessionInfo{Proto: live.Yamux}, t0)}
	for _, sid := range []uint32{1, 3, 5} {
		y.recAt(sec(1), c2s, yamux.WindowUpdate, yamux.SYN, sid, 0)
	}
	y.recAt(sec(1.5), s2c, yamux.WindowUpdate, yamux.RST, 5, 0)
	y.recAt(sec(2), s2c, yamux.WindowUpdate, yamux.ACK, 1, 0)
	un := unansweredAfterPings(reg, y)
	if un == nil || un.Stream != 3 {
		t.Fatalf("UNANSWERED %+v; want one of stream 3", un)
	}
	const want = "the server's accept backlog was full when it reset stream 5, opened after the oldest"
	if !strings.Contains(un.Text, want) || strings.Contains(un.Text, "backlog is full") {
		t.Errorf("text %q; want %q, not that it is full now", un.Text, want)
	}
}

// unansweredAfterPings has both sides of y's session ping each other
// every second from 3 s to 7 s (the server still sends), evaluates at 8 s
// with UnansweredAfter 5 s, and returns reg's open UNANSWERED, nil if
// none.
func unansweredAfterPings(reg *live.Registry, y *yamuxFrames) *live.Finding {
	for s := 3.0; s < 8; s++ {
		y.recAt(sec(s), c2s, yamux.Ping, yamux.SYN, 0, uint32(s))
		y.recAt(sec(s), s2c, yamux.Ping, yamux.ACK, 0, uint32(s))
	}
	reg.Evaluate(sec(8), live.FindingsConfig{LeakAfter: time.Hour, UnansweredAfter: 5 * time.Second, Churn: -1})
	var un *live.Finding
	for _, f := range reg.Snapshot().Findings {
		if f.Code == live.CodeUnanswered {
			un = f
		}
	}
	return un
}

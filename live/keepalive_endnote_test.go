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

// TestKeepaliveEndNoteWhoEnded: a KEEPALIVE open as the session ends is
// said to be what ended it only where the wire shows the pinger ended it.
// The server (silent) is frozen from 1 s; the session ends at 20 s.
func TestKeepaliveEndNoteWhoEnded(t *testing.T) {
	const keepalive = "smux's keepalive closes a session that received nothing for a whole KeepAliveTimeout, checked at every one: within 1-2 of them (30-60 s by default)"
	for _, tc := range []struct {
		name   string
		tap    live.Side
		reason live.CloseReason
		want   string
	}{
		// The tapped client, the pinger, closed: its keepalive.
		{"the pinger closed", live.Client, live.LocalClose, "after the server sent nothing for 19 s (KEEPALIVE): " + keepalive},
		// The tapped server, silent, read the client's close.
		{"the pinger's close read", live.Server, live.EOF, "after the server sent nothing for 19 s (KEEPALIVE): " + keepalive},
		// The silent server's host reset it (a SIGKILL): not the keepalive.
		{"the silent side reset", live.Client, live.Reset, "the server had sent nothing for 19 s by the end (KEEPALIVE)"},
		// The tapped server, silent, closed it itself.
		{"the silent side closed", live.Server, live.LocalClose, "the server had sent nothing for 19 s by the end (KEEPALIVE)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := live.New(live.Config{})
			s := reg.Open(live.SessionInfo{Client: "127.0.0.1:1000", Server: "127.0.0.1:9000", Tap: tc.tap, Label: "test"}, t0)
			sc := &script{s: s, ver: 1}
			cfg := live.FindingsConfig{Churn: -1}
			sc.feedAt(sec(0), nop(c2s), nop(s2c))
			sc.feedAt(sec(1), nop(c2s), nop(s2c))
			for at := 2.0; at <= 19; at++ {
				sc.feedAt(sec(at), nop(c2s))
				reg.Evaluate(sec(at), cfg)
			}
			expect(t, reg, "+KEEPALIVE")
			sc.s.End(sec(20), tc.reason, nil)
			if d := endDetail(reg); d != tc.want {
				t.Errorf("end %q, want %q", d, tc.want)
			}
		})
	}
}

// TestKeepaliveEndNoteNoFirstAtTheEnd: a silent side whose direction
// ends at the session's end — a reset that ends both directions at once,
// or a tap's Close, which writes a FIN for each direction into its
// capture at the moment of the close — closed nothing first. `read` of a
// tapped server's capture, its client frozen (SIGSTOP) and then killed
// (its host's reset) or left to the server's keepalive, said *the client,
// silent for 22 s (KEEPALIVE), closed its side of the connection first,
// 0 µs before the end* (after *the server … closed first*, too).
func TestKeepaliveEndNoteNoFirstAtTheEnd(t *testing.T) {
	for _, tc := range []struct {
		name   string
		reason live.CloseReason
		order  []live.Dir // the directions ended at the end, in order
	}{
		{"reset", live.Reset, []live.Dir{c2s, s2c}},
		{"the tap's close", live.EOF, []live.Dir{s2c, c2s}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := live.New(live.Config{})
			s := reg.Open(live.SessionInfo{Client: "127.0.0.1:1000", Server: "127.0.0.1:9000", Captured: true}, t0)
			sc := &script{s: s, ver: 1}
			cfg := live.FindingsConfig{Churn: -1}
			sc.feedAt(sec(0), nop(c2s), nop(s2c))
			sc.feedAt(sec(1), nop(c2s), nop(s2c))
			for at := 2.0; at <= 19; at++ {
				sc.feedAt(sec(at), nop(s2c)) // the client is frozen
				reg.Evaluate(sec(at), cfg)
			}
			expect(t, reg, "+KEEPALIVE")
			for _, d := range tc.order {
				sc.s.DirectionEnded(d, sec(20))
			}
			sc.s.End(sec(20), tc.reason, nil)
			d := endDetail(reg)
			if strings.Contains(d, "first") || !strings.Contains(d, "the client had sent nothing for 19 s by the end (KEEPALIVE)") {
				t.Errorf("end %q: want the client's silence by the end, and no side closing first", d)
			}
		})
	}
}

package tui

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/live"
)

// leakCapture is an evaluated capture of two sessions whose servers keep
// sending keepalive NOPs: in session 1 the server answered stream 3 and
// never closed it (a real leak), and never accepted 5 and 7; in session 2
// it accepted nothing (a backlog). Every live stream is older than the
// 30 s threshold; UNANSWERED explains all but stream 3.
func leakCapture() *capture {
	const c2s, s2c = live.ClientToServer, live.ServerToClient
	c := newCapture(live.Config{History: 1000})
	s1 := c.open("127.0.0.1:51234", "127.0.0.1:9000", base.Add(-time.Minute))
	c.frame(s1, c2s, base.Add(-50*time.Second), 1, decoder.SYN, 3, "", 0)
	c.frame(s1, c2s, base.Add(-50*time.Second+10*time.Microsecond), 1, decoder.PSH, 3, "RAND", 0)
	c.frame(s1, s2c, base.Add(-50*time.Second+100*time.Microsecond), 1, decoder.PSH, 3, "12345678", 0)
	s2 := c.open("127.0.0.1:51236", "127.0.0.1:9000", base.Add(-time.Minute))
	for _, s := range []*live.Session{s1, s2} {
		for _, sid := range []uint32{5, 7} {
			at := base.Add(-45*time.Second + time.Duration(sid)*time.Millisecond)
			c.frame(s, c2s, at, 1, decoder.SYN, sid, "", 0)
			c.frame(s, c2s, at.Add(10*time.Microsecond), 1, decoder.PSH, sid, "HOLD", 0)
		}
	}
	for i := range 41 {
		at := base.Add(-40500*time.Millisecond + time.Duration(i)*time.Second)
		for _, s := range []*live.Session{s1, s2} {
			c.frame(s, c2s, at, 1, decoder.NOP, 0, "", 0)
			c.frame(s, s2c, at.Add(time.Millisecond), 1, decoder.NOP, 0, "", 0)
		}
		c.reg.Evaluate(at.Add(100*time.Millisecond), live.FindingsConfig{Churn: -1})
	}
	c.reg.Evaluate(base, live.FindingsConfig{Churn: -1})
	return c
}

// TestLeakMarksAreLEAKs: the header's suspected leaks, the sessions'
// and streams' ! marks and the streams pane's count are the LEAK
// finding's, which the findings pane lists: the real leak, stream 3 of
// session 1, and not the streams UNANSWERED explains, though as old.
// Before, the header said "5 suspected leaks" beside two UNANSWERED
// findings and a LEAK of one stream, and marked every old stream.
func TestLeakMarksAreLEAKs(t *testing.T) {
	c := leakCapture()
	snap := c.reg.Snapshot()
	var codes []string
	for _, f := range snap.Findings {
		codes = append(codes, f.Code.String())
		if f.Code == live.CodeLeak && (f.Session != 1 || f.Evidence.Count != 1) {
			t.Fatalf("LEAK of session %d counts %d, want session 1's stream 3 alone", f.Session, f.Evidence.Count)
		}
	}
	if strings.Join(codes, " ") != "UNANSWERED UNANSWERED LEAK" {
		t.Fatalf("findings %v, want UNANSWERED in each session and session 1's LEAK", codes)
	}
	for _, size := range []struct{ w, h int }{{80, 24}, {160, 45}} {
		m := c.model(t, size.w, size.h)
		screen := screenOf(m)
		first := strings.SplitN(screen, "\n", 2)[0]
		if !strings.Contains(first, "1 suspected leak ·") && !strings.Contains(first, "1 leak?") {
			t.Errorf("%d×%d: the header does not count LEAK's one stream:\n%s", size.w, size.h, first)
		}
		sessions := strings.Join(paneBox(screen, "Sessions"), "\n")
		if !regexp.MustCompile(`1 :51234 → :9000\* +3! `).MatchString(sessions) || !regexp.MustCompile(`2 :51236 → :9000\* +2 `).MatchString(sessions) {
			t.Errorf("%d×%d: session 1 should be marked as holding a suspected leak, session 2 not:\n%s", size.w, size.h, sessions)
		}
		m = press(m, "enter") // session 1's streams
		screen = screenOf(m)
		streams := strings.Join(paneBox(screen, "Streams"), "\n")
		if !strings.Contains(streams, "Streams of session 1 · 3 open · 1 suspected leak ·") {
			t.Errorf("%d×%d: the streams pane does not count LEAK's one stream:\n%s", size.w, size.h, streams)
		}
		if !regexp.MustCompile(` 3 c +open .* 50s! `).MatchString(streams) || strings.Count(streams, "s! ") != 1 {
			t.Errorf("%d×%d: stream 3 alone should be marked:\n%s", size.w, size.h, streams)
		}
		m = press(m, "esc", "j", "enter") // session 2's streams: the backlog
		streams = strings.Join(paneBox(screenOf(m), "Streams"), "\n")
		if !strings.Contains(streams, "Streams of session 2 · 2 open · sort") || strings.Contains(streams, "s! ") {
			t.Errorf("%d×%d: the backlog's streams are counted or marked as leaks:\n%s", size.w, size.h, streams)
		}
		checkFits(t, m, size.w, size.h)
	}
}

package tui

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/live"
)

// TestSessionLeakFlashStreams: enter on SESSION_LEAK says, as the
// finding's text does, whether its piled sessions hold a stream open: a
// session per request that leaves its request's stream open piles as
// much as one with none (the rule counts a session idle, open streams or
// not). Twelve sessions from one host, opened 10 s apart, each after the
// first piled: with no stream, with a stream left open on each, and on 4
// of them. Before, the flash said "the idle ones (no open streams)" in
// all three, untrue of the second and third.
func TestSessionLeakFlashStreams(t *testing.T) {
	for _, tc := range []struct {
		name     string
		open     func(i int) bool // whether session i opens a stream and leaves it open
		text     string           // what the finding's text says of the streams
		flash    string
		notFlash string
	}{
		{"none", func(int) bool { return false }, "past its first idle time: a client", "11 piled, none holding a stream open", "each holding"},
		{"each", func(int) bool { return true }, "each holding a stream open", "11 piled, each holding a stream open", "no open streams"},
		{"some", func(i int) bool { return i >= 8 }, "4 holding a stream open", "11 piled, 4 holding a stream open", "no open streams"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCapture(live.Config{})
			at := base.Add(-3 * time.Minute)
			for i := range 12 {
				start := at.Add(time.Duration(i) * 10 * time.Second)
				s := c.open("10.0.0.7:"+strconv.Itoa(40000+i), "10.0.0.1:9000", start)
				if tc.open(i) {
					c.frame(s, live.ClientToServer, start, 1, decoder.SYN, 3, "", 0)
				}
			}
			c.reg.Evaluate(base.Add(-time.Minute), live.FindingsConfig{}) // and the hold, 60 s
			c.reg.Evaluate(base, live.FindingsConfig{})
			m := press(c.model(t, 160, 40), "!")
			if row := cursorRow(paneBox(screenOf(m), "Findings")); !strings.Contains(row, "warn SESSION_LEAK") {
				t.Fatalf("the cursor is not on SESSION_LEAK: %q\n%s", row, screenOf(m))
			}
			var f *live.Finding
			for _, g := range c.reg.Snapshot().Findings {
				if g.Code == live.CodeSessionLeak {
					f = g
				}
			}
			if f == nil || !strings.Contains(f.Text, tc.text) {
				t.Fatalf("the finding: %v, want its text to say %q", f, tc.text)
			}
			m = press(m, "enter")
			t.Logf("flash: %s", m.flash)
			want := "SESSION_LEAK concerns no one session: see the idle sessions from 10.0.0.7 to 10.0.0.1:9000 in the sessions pane (" + tc.flash + ")"
			if m.overlay != overlayFindings || m.flash != want || strings.Contains(m.flash, tc.notFlash) {
				t.Errorf("enter on SESSION_LEAK (%s): overlay %s, flash\n %q, want\n %q", f.Text, m.overlay, m.flash, want)
			}
			if screen := screenOf(m); !strings.Contains(screen, want) {
				t.Errorf("the screen does not show the whole flash %q:\n%s", want, screen)
			}
		})
	}
}

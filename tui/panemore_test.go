package tui

import (
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/live"
)

// TestPanesSayMore: at 80×24 no pane hides rows without saying so. The
// help went on below the screen with only "j/k scroll" in its title; with
// the frames pane focused, an ended session's streams pane showed 1 of
// its 30 streams, with no line to say the rest were there.
func TestPanesSayMore(t *testing.T) {
	c := newCapture(live.Config{History: 5000})
	t0 := base.Add(-time.Minute)
	s := c.open("127.0.0.1:51234", "127.0.0.1:9000", t0)
	for i := range 30 {
		c.exchange(s, 1, uint32(3+2*i), t0.Add(time.Duration(i)*time.Second), "12345678")
	}
	s.End(base.Add(-time.Second), live.EOF, nil)
	m := press(c.model(t, 80, 24), "enter", "enter") // stream 3's frames
	box := paneBox(screenOf(m), "Streams of session 1")
	if len(box) == 0 || !strings.Contains(box[len(box)-1], "↓ 29 more streams") {
		t.Errorf("the streams pane shows 1 of 30 streams and does not say ↓ 29 more streams:\n%s", strings.Join(box, "\n"))
	}

	m = press(m, "?")
	lines := strings.Split(screenOf(m), "\n")
	if last := lines[len(lines)-2]; !strings.Contains(last, "more lines: j/k or PgDn") {
		t.Errorf("the help goes on below the screen and its last line does not say so: %q", last)
	}
	m = press(m, "G")
	lines = strings.Split(screenOf(m), "\n")
	if last := lines[len(lines)-2]; strings.Contains(last, "more line") {
		t.Errorf("at the help's end its last line still says there is more: %q", last)
	}
}

// TestSessionsPaneSaysMore: at 160×24 with the frames pane focused the
// sessions pane has one row; its border says how many more there are.
func TestSessionsPaneSaysMore(t *testing.T) {
	m := press(fixture().model(t, 160, 24), "tab", "tab")
	box := paneBox(screenOf(m), "Sessions ")
	if len(box) != 4 {
		t.Fatalf("the sessions pane is %d lines high; the test wants 4:\n%s", len(box), strings.Join(box, "\n"))
	}
	if !strings.Contains(box[3], "↓ 2 more sessions") {
		t.Errorf("the sessions pane shows 1 of 3 sessions and does not say ↓ 2 more sessions:\n%s", strings.Join(box, "\n"))
	}
}

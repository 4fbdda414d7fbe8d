package tui

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/live"
)

// TestViolationsPaneSaysMore: a peer that sends data for 40 streams that
// never existed makes 40 UNKNOWN_STREAM anomalies, more than the
// violations overlay lists at 80×24 or 160×45. The list stopped at its
// last row with nothing to say 30 more were below, where the help, the
// sessions, streams and findings panes say "↓ N more …". Now its last
// row says how many are above and below it, and how to get to them, and
// the rows listed and those it counts add up to the 40.
func TestViolationsPaneSaysMore(t *testing.T) {
	c := newCapture(live.Config{History: 1000})
	s := c.open("127.0.0.1:51234", "127.0.0.1:9000", base.Add(-time.Minute))
	const n = 40
	for i := range n {
		c.frame(s, live.ServerToClient, base.Add(-time.Minute+time.Duration(i)*time.Second), 1, decoder.PSH, uint32(1001+2*i), "late", 0)
	}
	for _, size := range []struct{ w, h int }{{80, 24}, {160, 45}} {
		m := press(c.model(t, size.w, size.h), "v")
		box := paneBox(screenOf(m), "Violations ·")
		if !strings.Contains(strings.Join(box, "\n"), "UNKNOWN_STREAM") {
			t.Fatalf("%d×%d: no violations overlay with the anomalies:\n%s", size.w, size.h, screenOf(m))
		}
		listed := strings.Count(strings.Join(box, "\n"), "UNKNOWN_STREAM")
		want := " ↓ " + strconv.Itoa(n-listed) + " more violations: j/k or PgDn"
		if !strings.Contains(strings.Join(box, "\n"), want) {
			t.Errorf("%d×%d: the overlay lists %d of the %d anomalies and has no %q:\n%s", size.w, size.h, listed, n, want, strings.Join(box, "\n"))
		}
		m = press(m, "G")
		box = paneBox(screenOf(m), "Violations ·")
		listed = strings.Count(strings.Join(box, "\n"), "UNKNOWN_STREAM")
		want = " ↑ " + strconv.Itoa(n-listed) + " more violations: k or PgUp"
		if !strings.Contains(strings.Join(box, "\n"), want) {
			t.Errorf("%d×%d, at the end: the overlay lists %d of the %d anomalies and has no %q:\n%s", size.w, size.h, listed, n, want, strings.Join(box, "\n"))
		}
		if !strings.Contains(strings.Join(box, "\n"), "sid "+strconv.Itoa(1001+2*(n-1))) {
			t.Errorf("%d×%d, at the end: the last anomaly (stream %d) does not show:\n%s", size.w, size.h, 1001+2*(n-1), strings.Join(box, "\n"))
		}
	}
}

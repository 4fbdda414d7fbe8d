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
// the rows listed and those it counts add up to the 40. It names them
// as what they are, anomalies (TestViolationsPaneMoreSaysWhat).
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
		want := " ↓ " + strconv.Itoa(n-listed) + " more anomalies: j/k or PgDn"
		if !strings.Contains(strings.Join(box, "\n"), want) {
			t.Errorf("%d×%d: the overlay lists %d of the %d anomalies and has no %q:\n%s", size.w, size.h, listed, n, want, strings.Join(box, "\n"))
		}
		m = press(m, "G")
		box = paneBox(screenOf(m), "Violations ·")
		listed = strings.Count(strings.Join(box, "\n"), "UNKNOWN_STREAM")
		want = " ↑ " + strconv.Itoa(n-listed) + " more anomalies: k or PgUp"
		if !strings.Contains(strings.Join(box, "\n"), want) {
			t.Errorf("%d×%d, at the end: the overlay lists %d of the %d anomalies and has no %q:\n%s", size.w, size.h, listed, n, want, strings.Join(box, "\n"))
		}
		if !strings.Contains(strings.Join(box, "\n"), "sid "+strconv.Itoa(1001+2*(n-1))) {
			t.Errorf("%d×%d, at the end: the last anomaly (stream %d) does not show:\n%s", size.w, size.h, 1001+2*(n-1), strings.Join(box, "\n"))
		}
	}
}

// TestViolationsPaneMoreSaysWhat: the violations overlay's last line
// called every entry it hid a violation, "↓ 32 more violations", when
// they were anomalies (the title counts "0 framing · 40 anomalies"), as
// the counts bar, the summary and the metrics do not. Now it names what
// it hides: "anomalies" where all are, "violations" where all are framing
// violations, and where they are of more kinds, how many of each, "(1
// violation, 31 anomalies)", and a violation that is not a mux's (another
// protocol's first bytes) as the title counts it, "not a mux". The words
// follow the rows hidden as the cursor moves.
func TestViolationsPaneMoreSaysWhat(t *testing.T) {
	c := newCapture(live.Config{History: 1000})
	s := c.open("127.0.0.1:51234", "127.0.0.1:9000", base.Add(-time.Minute))
	const n = 40
	for i := range n {
		c.frame(s, live.ServerToClient, base.Add(-time.Minute+time.Duration(i)*time.Second), 1, decoder.PSH, uint32(1001+2*i), "late", 0)
	}
	// After every anomaly: a framing violation, and a session whose client
	// sent TLS, not smux.
	v := c.open("127.0.0.1:51236", "127.0.0.1:9000", base.Add(-time.Minute))
	v.Violation(live.ServerToClient, base.Add(-10*time.Second), &decoder.Violation{Code: decoder.BadVersion, Offset: 96, Header: decoder.MakeHeader(9, decoder.PSH, 4, 3)})
	tls := c.open("127.0.0.1:51238", "127.0.0.1:9000", base.Add(-5*time.Second))
	tls.Violation(live.ClientToServer, base.Add(-5*time.Second), &decoder.Violation{Code: decoder.BadVersion, Header: decoder.Header{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01}})
	for _, size := range []struct{ w, h int }{{80, 24}, {160, 45}} {
		m := press(c.model(t, size.w, size.h), "v")
		box := strings.Join(paneBox(screenOf(m), "Violations ·"), "\n")
		if !strings.Contains(box, "1 not a mux") {
			t.Fatalf("%d×%d: the overlay's title does not count the TLS client as not a mux:\n%s", size.w, size.h, box)
		}
		hidden := n - strings.Count(box, "UNKNOWN_STREAM")
		want := " ↓ " + strconv.Itoa(hidden+2) + " more (1 violation, " + strconv.Itoa(hidden) + " anomalies, 1 not a mux): j/k or PgDn"
		if !strings.Contains(box, want) {
			t.Errorf("%d×%d: the overlay hides %d anomalies, a violation and one not a mux's, and has no %q:\n%s", size.w, size.h, hidden, want, box)
		}
		m = press(m, "G")
		box = strings.Join(paneBox(screenOf(m), "Violations ·"), "\n")
		hidden = n - strings.Count(box, "UNKNOWN_STREAM")
		want = " ↑ " + strconv.Itoa(hidden) + " more anomalies: k or PgUp"
		if !strings.Contains(box, want) {
			t.Errorf("%d×%d, at the end: the overlay hides %d anomalies and has no %q:\n%s", size.w, size.h, hidden, want, box)
		}
	}

	// Framing violations alone: "violations", and one alone "violation".
	for _, size := range []struct{ w, h int }{{80, 24}, {160, 45}} {
		m := press(manyViolations(n).model(t, size.w, size.h), "v")
		box := strings.Join(paneBox(screenOf(m), "Violations ·"), "\n")
		want := " ↓ " + strconv.Itoa(n-strings.Count(box, "BAD_VERSION")) + " more violations: j/k or PgDn"
		if !strings.Contains(box, want) {
			t.Errorf("%d×%d: %d framing violations, and no %q:\n%s", size.w, size.h, n, want, box)
		}
	}
	if got := moreEntries(1, 0, 0); got != "violation" {
		t.Errorf("one framing violation hidden is %q, want violation", got)
	}
	if got := moreEntries(0, 1, 0); got != "anomaly" {
		t.Errorf("one anomaly hidden is %q, want anomaly", got)
	}
}

package tui

import (
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/live"
)

// violAnomCapture is three live sessions: 1 clean, 2 with three
// anomalies (PSH for streams that never existed) and no framing
// violation, 3 with one framing violation (BAD_VERSION) and no anomaly.
func violAnomCapture() *capture {
	const c2s, s2c = live.ClientToServer, live.ServerToClient
	c := newCapture(live.Config{History: 1000})
	at := base.Add(-time.Minute)
	clean := c.open("127.0.0.1:51001", "127.0.0.1:9000", at)
	c.exchange(clean, 1, 3, at.Add(time.Second), "12345678")
	anom := c.open("127.0.0.1:51002", "127.0.0.1:9000", at)
	c.exchange(anom, 1, 3, at.Add(time.Second), "12345678")
	for i := range 3 {
		c.frame(anom, s2c, at.Add(2*time.Second), 1, decoder.PSH, uint32(99+2*i), "late", 0)
	}
	viol := c.open("127.0.0.1:51003", "127.0.0.1:9000", at)
	c.exchange(viol, 1, 3, at.Add(time.Second), "12345678")
	viol.Violation(c2s, at.Add(3*time.Second), &decoder.Violation{Code: decoder.BadVersion, Offset: c.off[viol][c2s], Header: decoder.MakeHeader(9, decoder.PSH, 4, 5)})
	return c
}

// columnValues returns, for each data row of a table box (its heading
// the line whose first field is "#"), the right-aligned value under the
// heading's title, by the column's last cell; nil where the heading has
// no such title.
func columnValues(box []string, title string) map[string]string {
	head := -1
	for i, l := range box {
		if f := strings.Fields(strings.Trim(l, "┃│")); len(f) > 0 && f[0] == "#" {
			head = i
			break
		}
	}
	if head < 0 {
		return nil
	}
	h := []rune(box[head])
	end := -1
	for i := 0; i+len([]rune(title)) <= len(h); i++ {
		if string(h[i:i+len([]rune(title))]) == title && h[i-1] == ' ' && (i+len([]rune(title)) == len(h) || h[i+len([]rune(title))] == ' ') {
			end = i + len([]rune(title))
		}
	}
	if end < 0 {
		return nil
	}
	out := map[string]string{}
	for _, l := range box[head+1:] {
		r := []rune(l)
		f := strings.Fields(strings.Trim(l, "┃│▶ "))
		if len(f) == 0 || len(r) < end || strings.ContainsAny(l, "└┗") {
			continue
		}
		v := strings.Fields(string(r[:end]))
		out[f[0]] = v[len(v)-1]
	}
	return out
}

// TestSessionsViolationsApartFromAnomalies: the sessions pane's viol
// column added a session's framing violations and its anomalies up, as
// the counts bar did before it said them apart ("violations 1  anomalies
// 3"): a session of three anomalies said "viol 3", beside a session whose
// framing smux refused, which said 1, and the violations order put the
// anomalies first. Now viol counts the framing violations and anom the
// anomalies, at 80 columns (the pane the screen's width) and 160 (beside
// the streams), and the violations order sorts by viol, the anomalies
// breaking its ties.
func TestSessionsViolationsApartFromAnomalies(t *testing.T) {
	c := violAnomCapture()
	want := map[string][2]string{"1": {"0", "0"}, "2": {"0", "3"}, "3": {"1", "0"}}
	for _, size := range []struct{ w, h int }{{80, 24}, {160, 45}} {
		m := c.model(t, size.w, size.h)
		box := paneBox(screenOf(m), "Sessions ·")
		viol, anom := columnValues(box, "viol"), columnValues(box, "anom")
		if viol == nil || anom == nil {
			t.Fatalf("%d×%d: the sessions pane has no viol or no anom column:\n%s", size.w, size.h, strings.Join(box, "\n"))
		}
		for id, w := range want {
			if viol[id] != w[0] || anom[id] != w[1] {
				t.Errorf("%d×%d: session %s says viol %q anom %q, want viol %s anom %s:\n%s", size.w, size.h, id, viol[id], anom[id], w[0], w[1], strings.Join(box, "\n"))
			}
		}
		checkFits(t, m, size.w, size.h)

		m = press(m, "S", "S", "S", "S")
		box = paneBox(screenOf(m), "Sessions ·")
		if !strings.Contains(box[0], "sort violations") {
			t.Fatalf("%d×%d: S×4 is not the violations order:\n%s", size.w, size.h, box[0])
		}
		var order []string
		for _, l := range box[2 : len(box)-1] {
			if f := strings.Fields(strings.Trim(l, "┃│▶ ")); len(f) > 0 {
				order = append(order, f[0])
			}
		}
		if strings.Join(order, " ") != "3 2 1" {
			t.Errorf("%d×%d: sorted by violations, the sessions are %v, want 3 (a framing violation), 2 (anomalies), 1:\n%s", size.w, size.h, order, strings.Join(box, "\n"))
		}
	}
}

// TestSessionsViolNotAMux: a session whose client's first bytes are TLS
// said viol 1 in red in the sessions pane, while the counts bar said
// "violations 0 … not a mux 1": another protocol's bytes are no mux's
// framing violation. Its row now says viol 0, its state column "not smux"
// (red), and the violations order puts the session with a mux's framing
// violation first.
func TestSessionsViolNotAMux(t *testing.T) {
	const c2s = live.ClientToServer
	c := violAnomCapture()
	at := base.Add(-time.Minute)
	tls := c.open("127.0.0.1:51004", "127.0.0.1:9000", at)
	// A TLS ClientHello's record header, the first bytes of the direction.
	tls.Violation(c2s, at.Add(time.Second), &decoder.Violation{Code: decoder.BadVersion, Offset: 0, Header: decoder.Header{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01}})
	for _, size := range []struct{ w, h int }{{80, 24}, {160, 45}} {
		m := c.model(t, size.w, size.h)
		screen := screenOf(m)
		if !strings.Contains(screen, "not a mux 1") && !strings.Contains(screen, "nomux 1") {
			t.Fatalf("%d×%d: the counts bar does not count the TLS session as not a mux:\n%s", size.w, size.h, screen)
		}
		box := paneBox(screen, "Sessions ·")
		viol := columnValues(box, "viol")
		if viol["4"] != "0" || viol["3"] != "1" {
			t.Errorf("%d×%d: the TLS session says viol %q (want 0: not a mux), the framing violation's %q (want 1):\n%s", size.w, size.h, viol["4"], viol["3"], strings.Join(box, "\n"))
		}
		var row string
		for _, l := range box {
			if f := strings.Fields(strings.Trim(l, "┃│▶ ")); len(f) > 0 && f[0] == "4" {
				row = l
			}
		}
		if !strings.Contains(row, "not smux") {
			t.Errorf("%d×%d: the TLS session's row does not say not smux: %q", size.w, size.h, row)
		}
		m = press(m, "S", "S", "S", "S")
		box = paneBox(screenOf(m), "Sessions ·")
		if f := strings.Fields(strings.Trim(box[2], "┃│▶ ")); len(f) == 0 || f[0] != "3" {
			t.Errorf("%d×%d: sorted by violations, the first session is not 3 (a mux's framing violation):\n%s", size.w, size.h, strings.Join(box, "\n"))
		}
	}
}

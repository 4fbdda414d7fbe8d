package tui

import (
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/live"
)

// TestRateOfReadIsLastSecond: a capture tcpdump took of the demo, 500
// requests at 100 a second and then 5 s of quiet but for keepalives,
// read at once: the screen saw it between two reads, its first packet
// and its end. The header said "251 frames/s" and the session's row 251,
// the whole capture's average, as if it were still busy at its end, where
// its last second carried 2 keepalive NOPs. Now, once the capture is read
// whole, the rates are those of its last second of capture time.
func TestRateOfReadIsLastSecond(t *testing.T) {
	for _, hist := range []int{10_000, 100} { // the whole capture in history, and only its last 100 records
		c := newCapture(live.Config{History: hist})
		s := c.open("127.0.0.1:5001", "127.0.0.1:9000", base)
		done := false
		m := newModel(c.reg, Options{Title: "read td.pcap", NoColor: true, Done: func() bool { return done }}, c.snapshot, time.UTC, 0)
		m = resize(m, 160, 45)
		m = tickAt(m, c, 0) // the first read: the capture's first packet
		for i := range 500 {
			c.exchange(s, 1, uint32(3+2*i), base.Add(time.Duration(i)*10*time.Millisecond), "12345678")
		}
		for i := range 10 { // a NOP each way every second from 5.5 s, and the last at 10 s
			at := base.Add(5500*time.Millisecond + time.Duration(i/2)*time.Second)
			if i >= 8 {
				at = base.Add(10 * time.Second)
			}
			c.frame(s, live.Dir(i%2), at, 1, decoder.NOP, 0, "", 0)
		}
		done = true
		m = tickAt(m, c, 10*time.Second) // the capture read whole
		if got := m.rates.session[s.ID()]; got != 2 {
			t.Errorf("history %d: the session's row says %v frames/s; its last second carried 2 frames", hist, got)
		}
		if got := strings.SplitN(screenOf(m), "\n", 2)[0]; !strings.Contains(got, " 2.0 frames/s ") {
			t.Errorf("history %d: the capture's last second carried 2 frames; the header says:\n%s", hist, got)
		}
		// What later reads bring (a key, a resize) changes nothing.
		m = resize(m, 160, 45)
		if got := m.rates.session[s.ID()]; got != 2 {
			t.Errorf("history %d: after another read the row says %v frames/s", hist, got)
		}
	}
}

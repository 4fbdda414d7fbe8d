package tui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/live"
)

// TestHeaderRateOfShortSessions: a live tap (attach, a tapped listener)
// whose clients open a session per request: each second one session
// opens, carries 500 frames and ends within it. 500 frames crossed the
// tap every second; the header's frames/s, summed from the rows of the
// sessions still live, said 0, as if nothing flowed.
func TestHeaderRateOfShortSessions(t *testing.T) {
	c := newCapture(live.Config{History: 100})
	m := newModel(c.reg, Options{Title: "attach", NoColor: true}, c.snapshot, time.UTC, 0)
	m = resize(m, 160, 45)
	m = tickAt(m, c, 0)
	for k := range 3 {
		start := c.now.Add(100 * time.Millisecond)
		s := c.open(fmt.Sprintf("127.0.0.1:%d", 5001+k), "127.0.0.1:9000", start)
		for i := range 500 {
			c.frame(s, live.ClientToServer, start.Add(time.Duration(i)*time.Millisecond), 1, decoder.NOP, 0, "", 0)
		}
		s.End(start.Add(600*time.Millisecond), live.EOF, nil)
		m = tickAt(m, c, time.Second)
	}
	if got := strings.SplitN(screenOf(m), "\n", 2)[0]; !strings.Contains(got, " 500 frames/s ") {
		t.Errorf("500 frames crossed the tap in the last second; the header says:\n%s", got)
	}
}

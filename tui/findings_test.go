package tui

import (
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/live"
)

// TestFindingsShown: a fresh user sees what muxtop names as wrong without
// knowing what to look for: the header counts open findings by severity,
// and the finding's record reads as a line of its own, not a bare time.
func TestFindingsShown(t *testing.T) {
	c := newCapture(live.Config{})
	s := c.open("127.0.0.1:51234", "127.0.0.1:9000", base.Add(-time.Minute))
	c.frame(s, live.ClientToServer, base.Add(-50*time.Second), 1, decoder.SYN, 3, "", 0)
	c.frame(s, live.ClientToServer, base.Add(-50*time.Second), 1, decoder.PSH, 3, "RAND", 0)
	c.frame(s, live.ClientToServer, base.Add(-50*time.Second), 1, decoder.FIN, 3, "", 0)
	c.reg.Evaluate(base, live.FindingsConfig{LeakAfter: time.Second})
	snap := c.reg.Snapshot()
	if len(snap.Findings) == 0 {
		t.Fatal("no finding opened: the test's leak is not one")
	}
	m := c.model(t, 160, 45)
	screen := screenOf(m)
	first := strings.SplitN(screen, "\n", 2)[0]
	if !strings.Contains(first, "warning") {
		t.Errorf("the header does not count the open finding:\n%s", first)
	}
	if !strings.Contains(screen, "FINDING LEAK warning: ") {
		t.Errorf("the finding's record is not shown as a line of its own:\n%s", screen)
	}
}

package tui

import (
	"strings"
	"testing"

	"github.com/muxtop/muxtop/live"
)

// TestFlashBelongsToItsKey: a message answers the key that made it. In a
// capture whose clock stands still (a file read whole) y's "copied …"
// stayed on the messages line under the e and S that came after it, as
// if it were their answer.
func TestFlashBelongsToItsKey(t *testing.T) {
	m := fixture().model(t, 80, 24)
	m = press(m, "tab", "tab", "g") // the first record of session 1's frames
	for range m.frames.index.len() {
		if r := selectedFrame(m); r != nil && r.Kind == live.FrameRecord && len(r.Payload) > 0 {
			break
		}
		m = press(m, "j")
	}
	m = press(m, "y")
	if !strings.HasPrefix(m.flash, "copied ") || !strings.Contains(screenOf(m), "copied ") {
		t.Fatalf("y said %q; want copied …:\n%s", m.flash, screenOf(m))
	}
	for _, k := range []string{"e", "S"} {
		m = press(m, k)
		if screen := screenOf(m); strings.Contains(screen, "copied ") {
			t.Errorf("after %s the messages line still says y's answer %q:\n%s", k, m.flash, screen)
		}
	}
}

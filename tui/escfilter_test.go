package tui

import (
	"testing"
)

// TestClearFilterKeepsFrame: esc that clears the filter keeps the frame
// the cursor was on selected, shown among all the view's frames, as less
// and vim keep the cursor on the match. It went to the newest frame,
// the context lost.
func TestClearFilterKeepsFrame(t *testing.T) {
	m := fixture().model(t, 160, 45)
	m = press(m, "tab", "tab") // session 1's frames
	m = typeText(m, "/RAND")
	m = press(m, "enter", "g", "j") // the second match
	r := selectedFrame(m)
	if r == nil || m.filter == nil || m.focus != paneFrames {
		t.Fatalf("no match selected (filter %v, focus %s):\n%s", m.filter, m.focus, screenOf(m))
	}
	seq := r.Seq
	m = press(m, "esc")
	if m.filter != nil {
		t.Fatalf("esc left the filter %q", m.filter.text)
	}
	if got := selectedFrame(m); got == nil || got.Seq != seq {
		var s uint64
		if got != nil {
			s = got.Seq
		}
		t.Errorf("after esc the selected frame is seq %d; want seq %d, the one selected under the filter:\n%s", s, seq, screenOf(m))
	}
	if m.frames.index.len() <= 2 {
		t.Errorf("after esc the frames pane shows %d frames; want all of the view's", m.frames.index.len())
	}
}

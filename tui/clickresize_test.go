package tui

import "testing"

// TestClickAfterResize: a click on the sessions pane selects the session
// drawn on the row clicked, even when the terminal shrank since the last
// snapshot (paused, none comes to move the pane's top): after G at
// 160×45, at 40×10 the pane draws sessions 6–9, and a click on its first
// row selects 6. Before, it mapped the click by the top the pane had at
// 160×45 and selected session 1 (a review found it).
func TestClickAfterResize(t *testing.T) {
	m := manySessions(9).model(t, 160, 45)
	m = press(m, "G")
	m = resize(m, 40, 10)
	p, _ := m.sessions.Update(clickMsg{row: 1})
	if p.id != 6 {
		t.Errorf("a click on the first row drawn selects session %d, want 6:\n%s", p.id, screenOf(m))
	}
}

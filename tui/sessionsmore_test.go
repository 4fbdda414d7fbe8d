package tui

import (
	"fmt"
	"strings"
	"testing"
)

// sessionsBody returns the sessions pane's lines inside its border, the
// heading first.
func sessionsBody(t *testing.T, m Model) []string {
	t.Helper()
	box := paneBox(screenOf(m), "Sessions")
	if len(box) < 3 {
		t.Fatalf("no sessions pane:\n%s", screenOf(m))
	}
	return box[1 : len(box)-1]
}

// TestSessionsSayMore: where the sessions are more than the pane shows,
// its last line says how many more there are above and below, and, while
// the pane has the focus, how to scroll to them, in the words the frame
// detail uses ("↓ 30 more lines: j/k or PgDn"); the rows above it are
// sessions, the selected one among them; a click on that line selects
// nothing. Where all fit, no such line. Before, 20 sessions at 80×24
// showed 6 rows and no word of the 14 below.
func TestSessionsSayMore(t *testing.T) {
	const n = 20
	m := manySessions(n).model(t, 80, 24)
	body := sessionsBody(t, m)
	rows := len(body) - 2 // the heading, and the line that says more
	if rows < 2 {
		t.Fatalf("the pane shows %d sessions at 80×24", rows)
	}
	steps := []struct {
		keys []string
		want string // the last line, trimmed of the border
	}{
		{nil, fmt.Sprintf("↓ %d more sessions: j/k or PgDn", n-rows)},
		// Two pages down the cursor is on row 2·rows, the last shown.
		{[]string{"pgdown", "pgdown"}, fmt.Sprintf("↑ %d ↓ %d more sessions: j/k or PgDn", rows+1, n-2*rows-1)},
		{[]string{"G"}, fmt.Sprintf("↑ %d more sessions: k or PgUp", n-rows)},
		{[]string{"g"}, fmt.Sprintf("↓ %d more sessions: j/k or PgDn", n-rows)},
	}
	for _, s := range steps {
		m = press(m, s.keys...)
		body := sessionsBody(t, m)
		last := strings.Trim(body[len(body)-1], "│┃ ")
		if last != s.want {
			t.Errorf("after %v: the sessions pane's last line is %q, want %q:\n%s", s.keys, last, s.want, strings.Join(body, "\n"))
		}
		id := fmt.Sprintf("▶%3d ", m.sessions.id)
		if shown := strings.Join(body[1:len(body)-1], "\n"); !strings.Contains(shown, id) {
			t.Errorf("after %v: the selected session %d is not among the rows:\n%s", s.keys, m.sessions.id, strings.Join(body, "\n"))
		}
		checkFits(t, m, 80, 24)
	}
	// A click on the line that says more selects no session.
	before := m.sessions.id
	m.sessions, _ = m.sessions.Update(clickMsg{row: rows + 1})
	if m.sessions.id != before {
		t.Errorf("a click on the line that says more selected session %d (was %d)", m.sessions.id, before)
	}
	// At 160×45, with the focus on the streams beside: how many, and no
	// keys, which would move the streams.
	m = press(manySessions(3*n).model(t, 160, 45), "enter")
	body = sessionsBody(t, m)
	want := fmt.Sprintf("↓ %d more sessions", 3*n-(len(body)-2))
	if last := strings.Trim(body[len(body)-1], "│┃ "); last != want {
		t.Errorf("160×45, the streams focused: the sessions pane's last line is %q, want %q", last, want)
	}
	// All fit: no such line.
	body = sessionsBody(t, manySessions(3).model(t, 80, 24))
	if s := strings.Join(body, "\n"); strings.Contains(s, "more sessions") {
		t.Errorf("3 sessions fit, yet the pane says more:\n%s", s)
	}
}

// TestStreamsSayMore: the streams pane, where a leaking session's
// streams are more than it shows, says so as the sessions pane does, in
// streams (its first row, the whole session's, is no stream): how many
// more above and below, and the keys while it has the focus; a click on
// that line selects nothing. Before, 538 open streams at 80×24 showed 5
// rows and no word of the rest.
func TestStreamsSayMore(t *testing.T) {
	const n = 30
	m := press(manyStreams(n).model(t, 80, 24), "enter")
	box := paneBox(screenOf(m), "Streams")
	if len(box) < 4 {
		t.Fatalf("no streams pane:\n%s", screenOf(m))
	}
	body := box[1 : len(box)-1]
	rows := len(body) - 2 // the heading, and the line that says more
	last := func(m Model) string {
		box := paneBox(screenOf(m), "Streams")
		return strings.Trim(box[len(box)-2], "│┃ ")
	}
	// The session's row and rows-1 streams shown.
	if got, want := last(m), fmt.Sprintf("↓ %d more streams: j/k or PgDn", n-(rows-1)); got != want {
		t.Errorf("the streams pane's last line is %q, want %q:\n%s", got, want, strings.Join(box, "\n"))
	}
	m = press(m, "G")
	if got, want := last(m), fmt.Sprintf("↑ %d more streams: k or PgUp", n-rows); got != want {
		t.Errorf("after G: the streams pane's last line is %q, want %q:\n%s", got, want, strings.Join(paneBox(screenOf(m), "Streams"), "\n"))
	}
	before := m.streams.idx
	m.streams, _ = m.streams.Update(clickMsg{row: rows + 1})
	if m.streams.idx != before {
		t.Errorf("a click on the line that says more selected row %d (was %d)", m.streams.idx, before)
	}
	checkFits(t, m, 80, 24)
}

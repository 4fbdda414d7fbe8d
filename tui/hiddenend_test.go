package tui

import (
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/live"
)

// TestSelectedSessionEndsHidden: the selected session ends while the
// ended sessions are hidden (e). The selection moves to another session,
// whose panes may look the same: the messages line says why.
func TestSelectedSessionEndsHidden(t *testing.T) {
	c := newCapture(live.Config{History: 1000})
	t0 := base.Add(-time.Minute)
	var ss []*live.Session
	for i := range 3 {
		s := c.open("127.0.0.1:5123"+string(rune('4'+i)), "127.0.0.1:9000", t0.Add(time.Duration(i)*time.Second))
		c.exchange(s, 1, 3, t0.Add(10*time.Second), "12345678")
		ss = append(ss, s)
	}
	m := c.model(t, 80, 24)
	m = press(m, "e", "j") // ended sessions hidden; session 2 selected
	if m.sessions.id != 2 {
		t.Fatalf("selected session %d; want 2", m.sessions.id)
	}
	ss[1].End(base.Add(-time.Second), live.EOF, nil)
	m = tickAt(m, c, time.Second)
	if m.sessions.id == 2 {
		t.Fatalf("session 2 ended, hidden, and is still selected")
	}
	screen := screenOf(m)
	if want := "session 2 ended (hidden: e shows it); session 3 selected"; !strings.Contains(screen, want) {
		t.Errorf("the selection moved to session %d, and the messages line does not say %q:\n%s", m.sessions.id, want, screen)
	}
}

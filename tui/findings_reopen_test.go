package tui

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/live"
)

// reopenFixture is findingsFixture (a LEAK and a WINDOW_STALL open) with
// 40 findings resolved in the last 5 minutes as well: more than the list
// shows at once.
func reopenFixture() *capture {
	c := findingsFixture()
	cfg := live.FindingsConfig{LeakAfter: 10 * time.Second, StallAfter: time.Second, Churn: -1}
	at := base.Add(-30 * time.Second)
	var ss []*live.Session
	for k := range 40 {
		s := c.open("127.0.0.1:"+strconv.Itoa(20000+k), "127.0.0.1:9000", at)
		s.Violation(live.ClientToServer, at, &decoder.Violation{Code: decoder.BadVersion, Header: decoder.Header([]byte("GET / HT"))})
		ss = append(ss, s)
	}
	c.reg.Evaluate(at.Add(time.Second), cfg)
	for _, s := range ss {
		s.End(at.Add(2*time.Second), live.Reset, errors.New("read: connection reset by peer"))
	}
	c.reg.Evaluate(base, cfg)
	return c
}

// selectedFinding returns the findings list's selected row and whether
// the first open finding's row is in view.
func selectedFinding(t *testing.T, m Model) (sel string, topShown bool) {
	t.Helper()
	if m.overlay != overlayFindings {
		t.Fatal("the findings list is not open")
	}
	first := m.find.list[0]
	for _, l := range strings.Split(screenOf(m), "\n") {
		if strings.Contains(l, "▶") && strings.Contains(l, "  ") {
			sel = l
		}
		if strings.Contains(l, first.Code.String()) && !strings.Contains(l, "resolved") {
			topShown = true
		}
	}
	return sel, topShown
}

// TestFindingsReopenAtTheTop: ! opens the findings list on its top, the
// most severe open finding, where the user left it on a resolved one
// (the open ones above it, out of view) or on one that has resolved
// since; on the open finding the user left it on, while it stays open.
// Before, the list reopened where it was left: on the 40th resolved
// finding, with the open ones out of view.
func TestFindingsReopenAtTheTop(t *testing.T) {
	for _, size := range []struct{ w, h int }{{80, 24}, {160, 45}} {
		name := strconv.Itoa(size.w) + "x" + strconv.Itoa(size.h)
		t.Run(name+"/left on a resolved one", func(t *testing.T) {
			m := reopenFixture().model(t, size.w, size.h)
			m = press(m, "!", "G")
			if m.find.idx < m.find.open {
				t.Fatalf("G selected an open finding (%d of %d open)", m.find.idx, m.find.open)
			}
			m = press(m, "esc", "!")
			sel, topShown := selectedFinding(t, m)
			if m.find.idx != 0 || !topShown || strings.Contains(sel, "resolved") {
				t.Errorf("! reopened on entry %d, the top open finding in view %v, selected row %q:\n%s", m.find.idx, topShown, sel, screenOf(m))
			}
		})
		t.Run(name+"/left on an open one", func(t *testing.T) {
			m := reopenFixture().model(t, size.w, size.h)
			m = press(m, "!", "j")
			if m.find.idx == 0 || m.find.idx >= m.find.open {
				t.Fatalf("j left the cursor on entry %d, want an open finding below the top (%d open)", m.find.idx, m.find.open)
			}
			want := m.find.list[m.find.idx].ID
			m = press(m, "esc", "!")
			if m.find.list[m.find.idx].ID != want {
				t.Errorf("! reopened on finding #%d, want #%d, which is still open", m.find.list[m.find.idx].ID, want)
			}
		})
		t.Run(name+"/left on one resolved since", func(t *testing.T) {
			c := reopenFixture()
			m := c.model(t, size.w, size.h)
			m = press(m, "!", "j")
			f := m.find.list[m.find.idx]
			if f.Code != live.CodeWindowStall {
				t.Fatalf("j selected %v, want the WINDOW_STALL", f.Code)
			}
			m = press(m, "esc")
			// The stalled session ends: its finding resolves.
			c.reg.Session(f.Session).End(base.Add(time.Second), live.Reset, errors.New("reset"))
			c.now = base.Add(2 * time.Second)
			c.reg.Evaluate(c.now, live.FindingsConfig{LeakAfter: 10 * time.Second, StallAfter: time.Second, Churn: -1})
			m = send(m, tickMsg{})
			m = press(m, "!")
			if m.find.idx != 0 {
				t.Errorf("! reopened on entry %d (finding #%d), want the top: the one left selected resolved", m.find.idx, m.find.list[m.find.idx].ID)
			}
		})
	}
}

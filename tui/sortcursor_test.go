package tui

import (
	"testing"

	tea "charm.land/bubbletea/v2"
)

// holder keeps back the messages of commands that hold says a program
// would deliver late: it runs commands in goroutines, and the next key
// can come before their messages.
type holder struct {
	hold func(tea.Msg) bool
	held []tea.Msg
}

// reads holds the reads' snapshots; announcements, the sessions pane's
// announcement of its selection too.
func reads(msg tea.Msg) bool { _, ok := msg.(snapshotMsg); return ok }
func announcements(msg tea.Msg) bool {
	_, ok := msg.(sessionSelectedMsg)
	return ok || reads(msg)
}

// settle is settle, holding back what h holds.
func (h *holder) settle(m Model, cmd tea.Cmd) Model {
	queue := []tea.Cmd{cmd}
	for n := 0; len(queue) > 0 && n < 1000; n++ {
		c := queue[0]
		queue = queue[1:]
		if c == nil {
			continue
		}
		switch msg := c().(type) {
		case nil:
		case tea.BatchMsg:
			queue = append(queue, msg...)
		default:
			if h.hold(msg) {
				h.held = append(h.held, msg)
				continue
			}
			next, cmd := m.Update(msg)
			m = next.(Model)
			queue = append(queue, cmd)
		}
	}
	return m
}

// press presses keys.
func (h *holder) press(m Model, keys ...string) Model {
	for _, k := range keys {
		next, cmd := m.Update(keyMsg(k))
		m = h.settle(next.(Model), cmd)
	}
	return m
}

// deliver delivers the held messages, in order, and those that follow
// from them.
func (h *holder) deliver(m Model) Model {
	hold := h.hold
	h.hold = func(tea.Msg) bool { return false }
	defer func() { h.hold = hold }()
	for len(h.held) > 0 {
		msg := h.held[0]
		h.held = h.held[1:]
		next, cmd := m.Update(msg)
		m = h.settle(next.(Model), cmd)
	}
	return m
}

// TestSortBeforeTheStreamsCome: s from the sessions pane, pressed after
// moving to another session and before the streams pane heard of it, or
// before the read of its streams came back, puts the cursor on the new
// session's first stream once they come, as it does when they are in.
// It stayed on the all row: the sort went to the previous session's
// streams, then the announcement of the new session reset the pane; or,
// with no streams to put it on, it stayed where it was.
func TestSortBeforeTheStreamsCome(t *testing.T) {
	for _, tc := range []struct {
		name string
		hold func(tea.Msg) bool
	}{{"the read", reads}, {"the announcement", announcements}} {
		t.Run(tc.name, func(t *testing.T) {
			h := &holder{hold: tc.hold}
			m := h.press(fixture().model(t, 160, 45), "j", "s")
			if m.sessions.id != 2 || m.focus != paneStreams || m.streams.sort != sortAge || len(h.held) == 0 {
				t.Fatalf("j s: session %d, focus %d, sort %s, %d messages held; want 2, the streams, age, some", m.sessions.id, m.focus, m.streams.sort, len(h.held))
			}
			m = h.deliver(m)
			if st := selectedStream(m); m.streams.session != 2 || st == nil || st.ID != 5 {
				t.Errorf("once the streams came the cursor is on session %d's %+v (row %d), want session 2's oldest open stream, 5", m.streams.session, st, m.streams.idx)
			}
			// The user moving before they come keeps the cursor where it went.
			m = h.press(fixture().model(t, 160, 45), "j", "s", "j", "k")
			m = h.deliver(m)
			if m.streams.session != 2 || !m.streams.all {
				t.Errorf("after s, j and k before the streams came the cursor is on session %d's row %d, want its all row", m.streams.session, m.streams.idx)
			}
		})
	}
}

// TestSortCursorOnFirstRow: s in the streams pane puts the cursor on the
// new order's first row, wherever it was and whether reads come between
// the keys or not; a stream folded away while selected too.
func TestSortCursorOnFirstRow(t *testing.T) {
	starts := [][]string{{"enter"}, {"enter", "j", "j"}, {"enter", "G"}, {"enter", "k"}, {"s"}, {"j", "enter"}, {"j", "j", "enter"}}
	for _, start := range starts {
		for _, hold := range []bool{false, true} {
			m := fixture().model(t, 160, 45)
			m = press(m, start...)
			h := &holder{hold: func(msg tea.Msg) bool { return hold && announcements(msg) }}
			for i := range 7 {
				m = h.press(m, "s")
				if len(m.streams.rows) > 0 && (m.streams.all || m.streams.idx != 1) {
					t.Errorf("start %v hold %v s#%d: sort %s all %v idx %d rows %d", start, hold, i, m.streams.sort, m.streams.all, m.streams.idx, len(m.streams.rows))
				}
				if i%2 == 1 {
					m = h.deliver(m)
					if len(m.streams.rows) > 0 && (m.streams.all || m.streams.idx != 1) {
						t.Errorf("start %v hold %v s#%d after reads: sort %s all %v idx %d rows %d", start, hold, i, m.streams.sort, m.streams.all, m.streams.idx, len(m.streams.rows))
					}
				}
			}
		}
	}
}

func TestSortCursorOnFirstRowFolded(t *testing.T) {
	for _, keys := range [][]string{{"enter"}, {"enter", "j", "k"}} {
		c, s := folding()
		m := press(c.model(t, 160, 45), keys...)
		c.exchange(s, 1, 11, base.Add(-1e9), "12345678")
		m = tickAt(m, c, 1e8)
		if m.streams.pinned == nil {
			t.Fatalf("%v: stream 5 not folded", keys)
		}
		for i := range 6 {
			m = press(m, "s")
			if m.streams.all || m.streams.idx != 1 {
				t.Errorf("%v s#%d: sort %s all %v idx %d", keys, i, m.streams.sort, m.streams.all, m.streams.idx)
			}
			m = tickAt(m, c, 1e8)
			if m.streams.all || m.streams.idx != 1 {
				t.Errorf("%v s#%d after tick: sort %s all %v idx %d", keys, i, m.streams.sort, m.streams.all, m.streams.idx)
			}
		}
	}
}

package tui

import (
	"encoding/hex"
	"strconv"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/muxtop/muxtop/live"
)

// updateKey handles a key outside the filter input.
func (m *Model) updateKey(msg tea.KeyPressMsg) tea.Cmd {
	k := &m.keys
	if m.flash != "" && m.latest.Sub(m.flashAt) >= flashFor {
		m.flash = ""
	}
	if m.help {
		switch {
		case key.Matches(msg, k.Quit):
			return tea.Quit
		case key.Matches(msg, k.Help, k.Back):
			m.help, m.helpTop = false, 0
		default:
			if d, ok := m.movement(msg); ok {
				m.scrollHelp(d)
			}
		}
		return nil
	}
	switch {
	case key.Matches(msg, k.Quit):
		return tea.Quit
	case key.Matches(msg, k.Help):
		m.help = true
	case key.Matches(msg, k.Back):
		m.back()
	case key.Matches(msg, k.Filter):
		m.inputOn, m.inputErr = true, ""
		m.input.setValue("")
		if m.filter != nil {
			m.input.setValue(m.filter.text)
		}
	case key.Matches(msg, k.Pause):
		// Pausing freezes a picture with every session's streams, so that
		// moving around the paused view needs no new one.
		m.behind = 0
		all := !m.paused
		m.paused = false
		m.refresh(all)
		m.paused = all
	case key.Matches(msg, k.Follow):
		m.follow = !m.follow
		if m.follow && m.focus < paneFrames {
			m.focus = paneFrames
		}
	case key.Matches(msg, k.Violations):
		m.viol.show = !m.viol.show
		if m.viol.show {
			m.viol.collect(m.snap)
		}
	case key.Matches(msg, k.Sort):
		// A new order is for its first rows: show them, from the
		// sessions pane too (where, on a narrow screen, the streams are
		// not in sight).
		m.strm.sort = (m.strm.sort + 1) % numSorts
		if m.focus == paneSessions && m.selectedSession() != nil {
			m.setFocus(paneStreams)
		}
		if m.focus == paneStreams {
			m.strm.chosen = false
		}
	case key.Matches(msg, k.Copy):
		return m.copyPayload()
	case key.Matches(msg, k.NextMatch):
		m.jumpMatch(true)
	case key.Matches(msg, k.PrevMatch):
		m.jumpMatch(false)
	case key.Matches(msg, k.NextPane):
		m.setFocus((m.focus + 1) % numPanes)
	case key.Matches(msg, k.PrevPane):
		m.setFocus((m.focus + numPanes - 1) % numPanes)
	case key.Matches(msg, k.Enter):
		m.enter()
	default:
		if d, ok := m.movement(msg); ok {
			m.move(d)
		}
	}
	return nil
}

// movement returns how many rows a cursor key moves, and whether msg is one.
func (m *Model) movement(msg tea.KeyPressMsg) (int, bool) {
	k := &m.keys
	switch {
	case key.Matches(msg, k.Up):
		return -1, true
	case key.Matches(msg, k.Down):
		return 1, true
	case key.Matches(msg, k.PageUp):
		return -m.page(), true
	case key.Matches(msg, k.PageDown):
		return m.page(), true
	case key.Matches(msg, k.Top):
		return -1 << 30, true
	case key.Matches(msg, k.Bottom):
		return 1 << 30, true
	}
	return 0, false
}

// updateInput handles a key while the filter input is open: enter applies
// a filter that parses, esc cancels, the rest edits.
func (m *Model) updateInput(msg tea.KeyPressMsg) tea.Cmd {
	switch msg.String() {
	case "enter":
		f, err := parseFilter(m.input.String())
		if err != nil {
			m.inputErr = err.Error()
			return nil
		}
		m.filter, m.inputOn, m.inputErr = f, false, ""
		// Like less, a search shows a match: when the selected session or
		// stream has none, go to the first in history.
		if m.sync(); f != nil && m.view.len() == 0 {
			if m.jumpMatch(true) {
				m.setFlash("nothing here matches; this is the first match, in session " + strconv.FormatUint(m.sess.id, 10))
			} else {
				m.setFlash("nothing in history matches " + f.text + " yet")
			}
		}
	case "ctrl+c":
		return tea.Quit
	case "esc":
		m.inputOn, m.inputErr = false, ""
	default:
		m.input.update(msg)
		m.inputErr = ""
	}
	return nil
}

// scrollHelp scrolls the help by d lines, within its length.
func (m *Model) scrollHelp(d int) {
	r := m.layout().helpBox
	n := len(m.helpBody(r.w-2, r.h-2)) - r.rows()
	m.helpTop = max(0, min(m.helpTop+d, n))
}

// back goes up one level: out of the violations list, then the filter,
// then detail → frames → streams → sessions.
func (m *Model) back() {
	switch {
	case m.viol.show:
		m.viol.show = false
	case m.filter != nil:
		m.filter = nil
	case m.focus > paneSessions:
		m.setFocus(m.focus - 1)
	}
}

// enter drills down: session → its streams → its frames → frame detail; in
// the violations list, it goes to the selected entry.
func (m *Model) enter() {
	if m.viol.show {
		m.gotoViolation()
		return
	}
	switch m.focus {
	case paneSessions:
		if m.selectedSession() != nil {
			m.setFocus(paneStreams)
		}
	case paneStreams:
		m.setFocus(paneFrames)
	case paneFrames:
		if m.selectedFrame() != nil {
			m.setFocus(paneDetail)
		}
	}
}

// setFocus moves the focus; entering the frames pane from above puts the
// cursor on the newest frame.
func (m *Model) setFocus(p pane) {
	m.viol.show = false
	m.focus = p
	if p < paneFrames {
		m.follow = false
	}
}

// page returns how many rows the focused pane moves on PgUp/PgDn.
func (m *Model) page() int {
	l := m.layout()
	var r rect
	switch {
	case m.help:
		r = l.helpBox
	case m.viol.show:
		r = l.viol
	case m.focus == paneSessions:
		r = l.sessions
	case m.focus == paneStreams:
		r = l.streams
	case m.focus == paneFrames:
		r = l.frames
	default:
		r = l.detail
	}
	return max(r.rows()-2, 1)
}

// move moves the focused pane's cursor by d rows, clamped.
func (m *Model) move(d int) {
	clamp := func(i, n int) int { return max(0, min(i, n-1)) }
	switch {
	case m.viol.show:
		m.viol.idx = clamp(m.viol.idx+d, len(m.viol.list))
	case m.focus == paneSessions:
		if n := len(m.snap.Sessions); n > 0 {
			m.sess.idx = clamp(m.sess.idx+d, n)
			m.sess.id = m.snap.Sessions[m.sess.idx].ID
		}
	case m.focus == paneStreams:
		if ss := m.selectedSession(); ss != nil {
			c := &m.strm
			c.idx = clamp(c.idx+d, c.rows())
			c.all = c.idx == 0
			c.chosen = true
			if !c.all {
				c.id = ss.Streams[c.order[c.idx-1]].ID
			}
		}
	case m.focus == paneFrames:
		n := m.view.len()
		m.fr.idx = clamp(m.fr.idx+d, n)
		if d < 0 {
			m.follow = false // like less: moving back stops following
		}
	case m.focus == paneDetail:
		m.detail.top = max(0, m.detail.top+d)
	}
}

// copyPayload copies the selected frame's captured payload to the
// clipboard as hex, with OSC 52.
func (m *Model) copyPayload() tea.Cmd {
	r := m.selectedFrame()
	if r == nil || r.Kind != live.FrameRecord || len(r.Payload) == 0 {
		m.setFlash("y: the selected frame has no payload to copy")
		return nil
	}
	msg := "copied " + strconv.Itoa(len(r.Payload)) + " payload bytes as hex"
	if r.Truncated {
		msg += " (the captured part of " + strconv.Itoa(int(r.Header.Length())) + ")"
	}
	m.setFlash(msg)
	return tea.SetClipboard(hex.EncodeToString(r.Payload))
}

func (m *Model) setFlash(s string) { m.flash, m.flashAt = s, m.latest }

// jumpMatch moves to the next (or previous) record that matches the
// filter anywhere in the capture, selecting its session and stream, and
// reports whether there was one.
func (m *Model) jumpMatch(forward bool) bool {
	if m.filter == nil {
		m.setFlash("n/N: no filter; / sets one")
		return false
	}
	s := m.store
	// Search from the selected frame, or from the start (n) or end (N) of
	// history when the focus is above the frames pane.
	var cur uint64
	if m.focus >= paneFrames && m.selectedFrame() != nil {
		cur = m.view.at(m.fr.idx)
	}
	var pos uint64
	found := false
	if forward {
		start := s.head
		if cur != 0 {
			start = cur + 1
		}
		for p := start; p < s.tail && !found; p++ {
			pos, found = p, m.jumpable(s.get(p))
		}
	} else {
		end := s.tail
		if cur != 0 {
			end = cur
		}
		for p := end; p > s.head && !found; p-- {
			pos, found = p-1, m.jumpable(s.get(p-1))
		}
	}
	if !found {
		m.setFlash("no more frames match " + m.filter.text)
		return false
	}
	r := s.get(pos)
	var sid uint32
	if r.Kind == live.FrameRecord {
		sid = r.Header.StreamID()
	}
	m.showFramesOf(r.Session, sid)
	m.fr.idx = m.view.index(pos)
	return true
}

// showFramesOf focuses the frames pane on stream sid of a session, or on
// the whole session when sid is 0 or the stream is no longer tracked.
func (m *Model) showFramesOf(session uint64, sid uint32) {
	m.sess.id = session
	m.scope = scope{session: session}
	m.focus = paneFrames
	m.follow = false
	m.syncSessions()
	m.ensureStreams()
	m.syncStreams() // a fresh session resets the streams cursor first
	m.strm.all, m.strm.chosen = true, true
	m.syncStreams()
	if sid != 0 {
		if ss := m.selectedSession(); ss != nil && ss.Stream(sid) != nil {
			m.selectStream(sid)
			m.scope = scope{session: session, sid: sid, stream: true}
		}
	}
	m.syncView()
}

// jumpable reports whether n/N may stop at r.
func (m *Model) jumpable(r *live.Record) bool {
	return r != nil && r.Session != 0 && m.filter.match(r)
}

// gotoViolation selects the session (and stream) of the selected entry of
// the violations list and the frame itself if history still holds it.
func (m *Model) gotoViolation() {
	if len(m.viol.list) == 0 {
		return
	}
	e := m.viol.list[m.viol.idx]
	m.viol.show = false
	var sid uint32
	if !e.framing {
		sid = e.header.StreamID()
	}
	m.showFramesOf(e.session, sid)
	for i := m.view.len() - 1; i >= 0; i-- {
		r := m.store.get(m.view.at(i))
		if r.Dir == e.dir && r.Offset == e.offset && (r.Kind == live.FramingViolation) == e.framing {
			m.fr.idx = i
			return
		}
	}
}

// wheel scrolls the pane under the pointer by three rows.
func (m *Model) wheel(ms tea.Mouse) {
	d := 0
	switch ms.Button {
	case tea.MouseWheelUp:
		d = -3
	case tea.MouseWheelDown:
		d = 3
	default:
		return
	}
	if p, ok := m.paneAt(ms.X, ms.Y); ok && !m.viol.show {
		if p != m.focus {
			m.setFocus(p)
		}
	}
	m.move(d)
}

// click focuses the pane under the pointer and selects the row clicked.
func (m *Model) click(ms tea.Mouse) {
	if ms.Button != tea.MouseLeft || m.help || m.viol.show {
		return
	}
	p, ok := m.paneAt(ms.X, ms.Y)
	if !ok {
		return
	}
	l := m.layout()
	m.setFocus(p)
	switch p {
	case paneSessions:
		if i := l.sessions.rowAt(ms.Y, 1) + m.sess.top; i >= 0 && i < len(m.snap.Sessions) {
			m.move(i - m.sess.idx)
		}
	case paneStreams:
		if i := l.streams.rowAt(ms.Y, 1) + m.strm.top; i >= 0 && i < m.strm.rows() {
			m.move(i - m.strm.idx)
		}
	case paneFrames:
		if i := l.frames.rowAt(ms.Y, 0) + m.fr.top; i >= 0 && i < m.view.len() {
			m.fr.idx = i
			m.follow = false
		}
	}
}

// rowAt returns the body row at screen line y, under skip heading lines.
// Outside the body it returns a large negative number, so that adding a
// scroll offset still gives a row before the first.
func (r rect) rowAt(y, skip int) int {
	i := y - r.y - 1 - skip
	if i < 0 || i >= r.rows()-skip {
		return -1 << 30
	}
	return i
}

// paneAt returns the pane at a screen cell.
func (m *Model) paneAt(x, y int) (pane, bool) {
	l := m.layout()
	for p, r := range map[pane]rect{paneSessions: l.sessions, paneStreams: l.streams, paneFrames: l.frames, paneDetail: l.detail} {
		if r.contains(x, y) {
			return p, true
		}
	}
	return 0, false
}

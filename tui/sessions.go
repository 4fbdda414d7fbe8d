package tui

import (
	"slices"
	"strconv"

	"github.com/muxtop/muxtop/live"
)

// sessionCursor selects a session by id, so the selection survives
// sessions being added and forgotten; idx is its row.
type sessionCursor struct {
	id       uint64
	idx, top int
}

// syncSessions finds the selected session in the snapshot, or the one now
// in its row if it was forgotten.
func (m *Model) syncSessions() {
	ss := m.snap.Sessions
	if len(ss) == 0 {
		m.sess = sessionCursor{}
		return
	}
	if i, ok := sessionIndex(ss, m.sess.id); ok {
		m.sess.idx = i
	}
	m.sess.idx = max(0, min(m.sess.idx, len(ss)-1))
	m.sess.id = ss[m.sess.idx].ID
}

func sessionIndex(ss []*live.SessionSnap, id uint64) (int, bool) {
	lo, hi := 0, len(ss)
	for lo < hi {
		h := int(uint(lo+hi) >> 1)
		if ss[h].ID < id {
			lo = h + 1
		} else {
			hi = h
		}
	}
	return lo, lo < len(ss) && ss[lo].ID == id
}

// selectedSession returns the selected session, or nil.
func (m *Model) selectedSession() *live.SessionSnap {
	if len(m.snap.Sessions) == 0 {
		return nil
	}
	return m.snap.Sessions[m.sess.idx]
}

// sessionColumns are the sessions pane's columns. Widths fit the longest
// value each can hold (count, rate and size take at most five cells), so a
// number is never cut; peer, tapped and state take the room left over.
var sessionColumns = []column{
	{title: "#", w: 3, right: true, prio: 100},
	{title: "peer", w: 15, prio: 90, flex: true},
	{title: "tapped", w: 15, prio: 38, flex: true},
	{title: "ver", w: 3, prio: 40},
	{title: "open", w: 6, right: true, prio: 80},
	{title: "total", w: 5, right: true, prio: 50},
	{title: "fr/s", w: 5, right: true, prio: 70},
	{title: "→bytes", w: 6, right: true, prio: 60},
	{title: "←bytes", w: 6, right: true, prio: 60},
	{title: "viol", w: 5, right: true, prio: 65},
	{title: "state", w: 13, prio: 75, flex: true},
}

// sessionCols returns the sessions pane's columns, the id column as wide
// as the largest id.
func (m *Model) sessionCols() []column {
	cols := sessionColumns
	if ss := m.snap.Sessions; len(ss) > 0 {
		if n := digits(ss[len(ss)-1].ID); n > cols[0].w {
			cols = slices.Clone(cols)
			cols[0].w = n
		}
	}
	return cols
}

// digits returns how many decimal digits n has.
func digits(n uint64) int {
	d := 1
	for ; n >= 10; n /= 10 {
		d++
	}
	return d
}

// renderSessions draws the sessions pane's body: a heading and the visible rows.
func (m *Model) renderSessions(w, h int, focused bool) []string {
	if h <= 0 {
		return nil
	}
	st := &m.st
	cols := m.sessionCols()
	ws := layoutColumns(cols, w)
	out := []string{tableHeading(st, cols, ws, w)}
	ss := m.snap.Sessions
	if len(ss) == 0 {
		return append(out, newLine(w).add(" waiting for sessions…", st.dim).String())
	}
	top := scroll(m.sess.top, m.sess.idx, len(ss), h-1)
	for i := top; i < len(ss) && len(out) < h; i++ {
		out = append(out, tableRow(st, cols, ws, m.sessionCells(ss[i]), w, i == m.sess.idx, focused))
	}
	return out
}

func (m *Model) sessionCells(s *live.SessionSnap) []cell {
	st := &m.st
	base := style{}
	if s.Ended {
		base = st.dim
	}
	ver := "-"
	if s.Version != 0 {
		ver = "v" + strconv.Itoa(int(s.Version))
	}
	viol := uint64(len(s.Framing)) + s.AnomalyCount
	vs := base
	if viol > 0 {
		vs = st.bad
	}
	state, ss := "live", st.good
	if s.Ended {
		state, ss = "ended: "+s.Reason.String(), base
		if s.Err != "" {
			state += ": " + sanitize(s.Err)
		}
	} else if len(s.Framing) > 0 {
		state, ss = "violation: smux stops reading", st.bad
	}
	return []cell{
		{strconv.FormatUint(s.ID, 10), base},
		{sanitize(s.Peer()), base},
		{sanitize(tapped(s)), base},
		{ver, base},
		m.openCell(s, base),
		{count(s.Total), base},
		{rate(m.rates.session[s.ID]), base},
		{size(s.Counts.BytesDir(live.ClientToServer)), base},
		{size(s.Counts.BytesDir(live.ServerToClient)), base},
		{count(viol), vs},
		{state, ss},
	}
}

// openCell is a session's open streams, marked "!" in the warning colour
// when some of them are suspected leaks.
func (m *Model) openCell(s *live.SessionSnap, base style) cell {
	c := cell{count(uint64(s.Open)), base}
	if s.Leaks > 0 {
		c.text, c.st = c.text+"!", m.st.warn
	}
	return c
}

// tapped returns the address of the end muxtop taps: with a client-side
// tap every pooled session has the same peer, and this tells them apart.
func tapped(s *live.SessionSnap) string {
	if s.Info.Tap == live.Client {
		return s.Info.Client
	}
	return s.Info.Server
}

// sessionsTitle is the sessions pane's title.
func (m *Model) sessionsTitle() string {
	s := "Sessions · " + strconv.Itoa(m.snap.LiveSessions) + " live of " + strconv.Itoa(len(m.snap.Sessions))
	if f := m.snap.Forgotten.Sessions; f > 0 {
		s += " (+" + grouped(f) + " ended, folded)"
	}
	return s
}

package tui

import (
	"cmp"
	"slices"
	"strconv"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/printable"
)

// sessionsPane lists the sessions and selects one by id, so that the
// selection survives sessions being added and forgotten.
type sessionsPane struct {
	keys  *keyMap
	snap  *live.Snapshot
	rates map[uint64]float64
	id    uint64 // the selected session; 0 for none
	idx   int    // its row
	top   int    // the first row shown
	h     int    // the pane's height, for paging and scrolling
}

func newSessionsPane(keys *keyMap) sessionsPane { return sessionsPane{keys: keys} }

// dataRows is how many sessions the pane shows at once: its height less
// the border and the heading.
func (p *sessionsPane) dataRows() int { return max(p.h-3, 0) }

// Update handles a snapshot, a jump and the keys and clicks of the
// focused pane; it announces a new selection with sessionSelectedMsg.
func (p sessionsPane) Update(msg tea.Msg) (sessionsPane, tea.Cmd) {
	switch msg := msg.(type) {
	case snapshotMsg:
		p.snap, p.rates = msg.snap, msg.rates
		return p.locate()
	case gotoMsg:
		// The jump selects the session itself; the panes below get the
		// rest of the gotoMsg from the root, so there is nothing to announce.
		if i, ok := sessionIndex(p.sessions(), msg.session); ok {
			p.id, p.idx = msg.session, i
			p.top = scroll(p.top, p.idx, len(p.sessions()), p.dataRows())
		}
	case moveMsg:
		return p.move(msg.d)
	case clickMsg:
		if i := p.top + msg.row - 1; msg.row >= 1 && i < len(p.sessions()) {
			return p.move(i - p.idx)
		}
	case tea.KeyPressMsg:
		if d, ok := p.keys.movement(msg, p.dataRows()-1); ok {
			return p.move(d)
		}
		if key.Matches(msg, p.keys.Enter) && p.id != 0 {
			return p, emit(drillMsg{to: paneStreams})
		}
	}
	return p, nil
}

func (p *sessionsPane) sessions() []*live.SessionSnap {
	if p.snap == nil {
		return nil
	}
	return p.snap.Sessions
}

// locate finds the selected session in a new snapshot, or, if it was
// forgotten, selects the one now in its row.
func (p sessionsPane) locate() (sessionsPane, tea.Cmd) {
	ss := p.sessions()
	old := p.id
	if len(ss) == 0 {
		p.id, p.idx, p.top = 0, 0, 0
	} else {
		if i, ok := sessionIndex(ss, p.id); ok {
			p.idx = i
		}
		p.idx = max(0, min(p.idx, len(ss)-1))
		p.id = ss[p.idx].ID
		p.top = scroll(p.top, p.idx, len(ss), p.dataRows())
	}
	if p.id != old {
		return p, emit(sessionSelectedMsg{id: p.id})
	}
	return p, nil
}

// move moves the cursor by d rows, clamped.
func (p sessionsPane) move(d int) (sessionsPane, tea.Cmd) {
	ss := p.sessions()
	if len(ss) == 0 {
		return p, nil
	}
	p.idx = max(0, min(p.idx+d, len(ss)-1))
	p.top = scroll(p.top, p.idx, len(ss), p.dataRows())
	if id := ss[p.idx].ID; id != p.id {
		p.id = id
		return p, emit(sessionSelectedMsg{id: id})
	}
	return p, nil
}

func sessionIndex(ss []*live.SessionSnap, id uint64) (int, bool) {
	return slices.BinarySearchFunc(ss, id, func(s *live.SessionSnap, id uint64) int { return cmp.Compare(s.ID, id) })
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
func sessionCols(ss []*live.SessionSnap) []column {
	cols := sessionColumns
	if len(ss) > 0 {
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

// View draws the pane in w×h cells: a function of its state alone.
func (p sessionsPane) View(th *theme, w, h int, focused bool) string {
	return boxed(th, p.title(), focused, p.body(th, w-2, h-2, focused), w, h)
}

func (p *sessionsPane) body(th *theme, w, h int, focused bool) []string {
	if h <= 0 || p.snap == nil {
		return nil
	}
	st := &th.styles
	ss := p.snap.Sessions
	cols := sessionCols(ss)
	ws := layoutColumns(cols, w)
	out := []string{tableHeading(st, cols, ws, w)}
	if len(ss) == 0 {
		return append(out, newLine(w).add(" waiting for sessions…", st.dim).String())
	}
	top := scroll(p.top, p.idx, len(ss), h-1)
	for i := top; i < len(ss) && len(out) < h; i++ {
		out = append(out, tableRow(st, cols, ws, sessionCells(st, ss[i], p.rates[ss[i].ID]), w, i == p.idx, focused))
	}
	return out
}

func sessionCells(st *styles, s *live.SessionSnap, fps float64) []cell {
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
	switch {
	case s.NotSmux() && s.Ended:
		state, ss = "not smux, ended: "+s.Reason.String(), st.bad
	case s.NotSmux():
		state, ss = "not smux", st.bad
	case s.Ended:
		state, ss = "ended: "+s.Reason.String(), base
		if s.Err != "" {
			state += ": " + printable.Text(s.Err)
		}
	case len(s.Framing) > 0:
		state, ss = "violation: smux stops reading", st.bad
	}
	return []cell{
		{strconv.FormatUint(s.ID, 10), base},
		{printable.Text(s.Peer()), base},
		{printable.Text(tapped(s)), base},
		{ver, base},
		openCell(st, s, base),
		{count(s.Total), base},
		{rate(fps), base},
		{size(s.WireBytes(live.ClientToServer)), base},
		{size(s.WireBytes(live.ServerToClient)), base},
		{count(viol), vs},
		{state, ss},
	}
}

// openCell is a session's open streams, marked "!" in the warning colour
// when some of them are suspected leaks.
func openCell(st *styles, s *live.SessionSnap, base style) cell {
	c := cell{count(uint64(s.Open)), base}
	if s.Leaks > 0 {
		c.text, c.st = c.text+"!", st.warn
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

// title is the pane's title.
func (p *sessionsPane) title() string {
	if p.snap == nil {
		return "Sessions"
	}
	s := "Sessions · " + strconv.Itoa(p.snap.LiveSessions) + " live of " + strconv.Itoa(len(p.snap.Sessions))
	if f := p.snap.Forgotten.Sessions; f > 0 {
		s += " (+" + count(f) + " ended, folded)"
	}
	return s
}

package tui

import (
	"cmp"
	"net"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/printable"
)

// sessionOrder is the order of the sessions pane; S cycles through them.
// In every order live sessions come before ended ones when the key ties,
// so that after a server restart the new sessions do not sit under
// hundreds of ended ones.
type sessionOrder uint8

const (
	orderID         sessionOrder = iota // live ones by id, then ended ones, the latest first
	orderActivity                       // most frames/s first
	orderOpen                           // most open streams first
	orderLeaks                          // most suspected leaks first
	orderViolations                     // most framing violations first, then most anomalies
	numOrders
)

var orderNames = [numOrders]string{"id", "activity", "open", "leaks", "violations"}

// String returns the order's name as the pane title shows it.
func (o sessionOrder) String() string {
	if o < numOrders {
		return orderNames[o]
	}
	return "order(" + strconv.Itoa(int(o)) + ")"
}

// sessionsPane lists the sessions and selects one by id, so that the
// selection survives sessions being added, forgotten and re-sorted.
type sessionsPane struct {
	keys      *keyMap
	snap      *live.Snapshot
	rates     map[uint64]float64
	stale     bool // the rates are those of the last packet: nothing came since
	order     sessionOrder
	hideEnded bool
	rows      []*live.SessionSnap // the sessions shown, in order
	id        uint64              // the selected session; 0 for none
	h         int                 // the pane's height, for paging and scrolling
	// over is what the pane says, a line each, with no session once no
	// more can come (a capture read whole), instead of that it waits.
	over []string
	// waiting is why no session has come yet (Options.Waiting), said
	// while there is none in place of that the pane waits; "" for none.
	waiting string

	listCursor // the selected session's row and the first row shown
}

func newSessionsPane(keys *keyMap) sessionsPane { return sessionsPane{keys: keys} }

// sessionOrderMsg asks the sessions pane for its next order.
type sessionOrderMsg struct{}

// hideEndedMsg hides the ended sessions, or shows them again.
type hideEndedMsg struct{}

// dataRows is how many sessions the pane shows at once: its height less
// the border and the heading, and less the line that says how many more
// there are where they do not all fit (cueRows).
func (p *sessionsPane) dataRows() int { return cueRows(len(p.rows), max(p.h-3, 0)) }

// Update handles a snapshot, a jump, the order and the keys and clicks of
// the focused pane; it announces a new selection with sessionSelectedMsg.
func (p sessionsPane) Update(msg tea.Msg) (sessionsPane, tea.Cmd) {
	switch msg := msg.(type) {
	case snapshotMsg:
		p.snap, p.rates, p.stale, p.waiting = msg.snap, msg.rates, msg.stale, msg.waiting
		p.sort()
		return p.locate()
	case sessionOrderMsg:
		p.order = (p.order + 1) % numOrders
		p.sort()
		p.top = 0 // the new order's first rows, unless the selection is further down
		return p.locate()
	case hideEndedMsg:
		p.hideEnded = !p.hideEnded
		p.sort()
		return p.locate()
	case gotoMsg:
		// The jump selects the session itself, shown even if ended; the
		// panes below get the rest of the gotoMsg from the root, so there
		// is nothing to announce.
		if _, ok := p.row(msg.session); !ok && p.hideEnded {
			p.hideEnded = false
			p.sort()
		}
		if i, ok := p.row(msg.session); ok {
			p.id, p.idx = msg.session, i
			p.clamp(len(p.rows), p.dataRows())
		}
	case moveMsg:
		return p.move(msg.d)
	case clickMsg:
		from, _ := p.shown(len(p.rows), p.dataRows()) // as drawn: top may predate a resize
		if i := from + msg.row - 1; msg.row >= 1 && msg.row <= p.dataRows() && i < len(p.rows) {
			return p.move(i - p.idx)
		}
	case tea.KeyPressMsg:
		if d, ok := p.keys.movement(msg, p.dataRows()); ok {
			return p.move(d)
		}
		if key.Matches(msg, p.keys.Enter) && p.id != 0 {
			return p, emit(drillMsg{to: paneStreams})
		}
	}
	return p, nil
}

// row returns the row of session id.
func (p *sessionsPane) row(id uint64) (int, bool) {
	for i, s := range p.rows {
		if s.ID == id {
			return i, true
		}
	}
	return 0, false
}

// sort puts the snapshot's sessions in the pane's order, the ended ones
// left out if hidden. The snapshot lists them by id, so the id order
// takes no sort at all.
func (p *sessionsPane) sort() {
	// A new slice: models are values, and an older copy may still be drawn.
	rows := make([]*live.SessionSnap, 0, len(p.rows))
	if p.snap == nil {
		p.rows = rows
		return
	}
	all := p.snap.Sessions
	for _, s := range all {
		if !s.Ended {
			rows = append(rows, s)
		}
	}
	if !p.hideEnded {
		for i := len(all) - 1; i >= 0; i-- {
			if all[i].Ended {
				rows = append(rows, all[i])
			}
		}
	}
	if p.order != orderID {
		// Stable: ties keep the id order's live-first rows.
		keys := make(map[uint64][2]float64, len(rows))
		for _, s := range rows {
			keys[s.ID] = p.key(s)
		}
		slices.SortStableFunc(rows, func(a, b *live.SessionSnap) int {
			ka, kb := keys[a.ID], keys[b.ID]
			return cmp.Or(cmp.Compare(kb[0], ka[0]), cmp.Compare(kb[1], ka[1]))
		})
	}
	p.rows = rows
}

// key is what the pane's order sorts by, largest first: a column's value,
// and where two rows tie on it, a second one's.
func (p *sessionsPane) key(s *live.SessionSnap) [2]float64 {
	switch p.order {
	case orderActivity:
		return [2]float64{p.rates[s.ID]}
	case orderOpen:
		return [2]float64{float64(s.Open)}
	case orderLeaks:
		if p.snap != nil && p.snap.Evaluated.IsZero() {
			return [2]float64{float64(s.Aged)} // nothing looked for leaks: the oldest streams
		}
		return [2]float64{float64(s.Leaks)}
	case orderViolations:
		// The viol column, then the anom column beside it: a session has
		// at most a framing violation a direction, so most tie on the first.
		return [2]float64{float64(s.MuxViolations()), float64(s.AnomalyCount)}
	}
	return [2]float64{}
}

// locate finds the selected session among the rows, or, if it is gone,
// selects the one now in its row.
func (p sessionsPane) locate() (sessionsPane, tea.Cmd) {
	old := p.id
	if len(p.rows) == 0 {
		p.id, p.idx, p.top = 0, 0, 0
	} else {
		if i, ok := p.row(p.id); ok && p.id != 0 {
			p.idx = i
		}
		p.clamp(len(p.rows), p.dataRows())
		p.id = p.rows[p.idx].ID
	}
	if p.id != old {
		sel := emit(sessionSelectedMsg{id: p.id})
		if p.hiddenEnded(old) {
			return p, tea.Batch(sel, emit(sessionHiddenMsg{gone: old, now: p.id}))
		}
		return p, sel
	}
	return p, nil
}

// hiddenEnded reports whether session id is one the pane leaves out
// because it ended: in the snapshot, ended, and the ended hidden.
func (p *sessionsPane) hiddenEnded(id uint64) bool {
	if !p.hideEnded || id == 0 || p.snap == nil {
		return false
	}
	ss := p.snap.Session(id)
	return ss != nil && ss.Ended
}

// move moves the cursor by d rows, clamped.
func (p sessionsPane) move(d int) (sessionsPane, tea.Cmd) {
	if len(p.rows) == 0 {
		return p, nil
	}
	p.listCursor.move(d, len(p.rows), p.dataRows())
	if id := p.rows[p.idx].ID; id != p.id {
		p.id = id
		return p, emit(sessionSelectedMsg{id: id})
	}
	return p, nil
}

// sessionColumns are the sessions pane's columns. Widths fit the longest
// value each can hold (count and rate take at most five cells, size six;
// viol 2 at most: a framing violation ends its direction's decoding), so a
// number is never cut; the ends and the state take the room left over.
//
// viol and anom say apart a session's framing violations and its
// anomalies, as the counts bar's "viol N anom N" does. At 80 columns, and
// at 160 beside the streams pane, total gives them its room (proto has
// gone there already): what went wrong with a session before how many
// streams it ever opened (its open ones stay). total's prio is above the
// streams pane's →fr/←fr, below its reply: at 160 the joint shed takes
// total, and the streams pane keeps every column it had.
var sessionColumns = []column{
	{title: "#", w: 3, right: true, prio: 100},
	{title: "client → server", w: 15, prio: 90, flex: true},
	{title: "proto", w: 5, prio: 40},
	{title: "open", w: 6, right: true, prio: 80},
	{title: "total", w: 5, right: true, prio: 47},
	{title: "fr/s", w: 5, right: true, prio: 70},
	{title: "→bytes", w: 6, right: true, prio: 60},
	{title: "←bytes", w: 6, right: true, prio: 60},
	{title: "viol", w: 4, right: true, prio: 65},
	{title: "anom", w: 5, right: true, prio: 63},
	{title: "state", w: 13, prio: 75, flex: true},
}

// endsColumn is the index of the column of the two ends.
const endsColumn = 1

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
	return strings.Join(boxFoot(&th.styles, p.title(), p.foot(h-2), focused, p.body(th, w-2, h-2, focused), w, h), "\n")
}

// foot says, for the border, how many sessions do not show in a body h
// lines high too short for a line that says so (cueRows), or "".
func (p *sessionsPane) foot(h int) string {
	room := h - 1 // under the heading
	if p.snap == nil || room < 0 || len(p.rows) <= room || cueRows(len(p.rows), room) < room {
		return ""
	}
	from, to := p.shown(len(p.rows), room)
	return moreText(from, len(p.rows)-to, "session", "")
}

func (p *sessionsPane) body(th *theme, w, h int, focused bool) []string {
	if h <= 0 || p.snap == nil {
		return nil
	}
	st := &th.styles
	cols := sessionCols(p.snap.Sessions)
	ws := layoutColumns(cols, w)
	out := []string{tableHeading(st, cols, ws, w)}
	if len(p.rows) == 0 {
		msg := " waiting for sessions…"
		if p.hideEnded && len(p.snap.Sessions) > 0 {
			msg = " every session has ended; e shows them"
		} else if p.waiting != "" && p.over == nil {
			// Whole, wrapped: the header has room for its start only.
			lines := wrapText(printable.Text(p.waiting), w-2)
			for _, l := range lines[:min(len(lines), h-1)] {
				out = append(out, newLine(w).add(" "+l, st.dim).String())
			}
			return out
		} else if p.over != nil {
			// Then the notices, whole, which say why: the header has room
			// for the latest one's start only.
			lines := p.over
			for _, n := range p.snap.Notices {
				for i, l := range wrapText(printable.Text(n.Text), w-4) {
					lead := "· "
					if i > 0 {
						lead = "  "
					}
					lines = append(lines, lead+l)
				}
			}
			for _, l := range lines[:min(len(lines), h-1)] {
				out = append(out, newLine(w).add(" "+l, st.dim).String())
			}
			return out
		}
		return append(out, newLine(w).add(msg, st.dim).String())
	}
	rows := cueRows(len(p.rows), h-1)
	from, to := p.shown(len(p.rows), rows)
	for i := from; i < to; i++ {
		s := p.rows[i]
		out = append(out, tableRow(st, cols, ws, sessionCells(st, s, p.rates[s.ID], p.stale, ws[endsColumn]), w, i == p.idx, focused))
	}
	if rows < h-1 {
		// More than fit: the last line says how many are above and below,
		// and, with the focus here, how to scroll to them (elsewhere the
		// keys move another pane).
		how := ""
		switch {
		case focused && to < len(p.rows):
			how = "j/k or PgDn"
		case focused:
			how = "k or PgUp"
		}
		out = append(out, moreLine(th, w, from, len(p.rows)-to, "session", how))
	}
	return out
}

// sessionCells is a session's row; endsW is the width of its ends column.
// An ended session is dim, but what went wrong with it keeps its colour:
// red for a framing violation, yellow for anomalies (as the counts bar
// has them). A stale rate, that of the last packet (no input since), is
// dim too: the header says why.
func sessionCells(st *styles, s *live.SessionSnap, fps float64, stale bool, endsW int) []cell {
	base := style{}
	if s.Ended {
		base = st.dim
	}
	// smux sessions by their version, as before yamux: smux is the default.
	ver := "-"
	switch {
	case s.Proto == live.Yamux:
		ver = "yamux"
	case s.Version != 0:
		ver = "v" + strconv.Itoa(int(s.Version))
	}
	rateStyle := base
	if stale {
		rateStyle = st.dim
	}
	// A mux's framing violations: another protocol's bytes are no mux's
	// violation (the counts bar's "not a mux"), and the state column says
	// what the session is ("not smux", in red).
	viol := uint64(s.MuxViolations())
	vs, as := base, base
	if viol > 0 {
		vs = st.bad
	}
	if s.AnomalyCount > 0 {
		as = st.warn
	}
	// The id in the colour of the worse of the two.
	idStyle := as
	if viol > 0 {
		idStyle = vs
	}
	state, ss := "live", st.good
	switch {
	case s.NotSmux() && s.Ended:
		state, ss = "not "+notWhat(s)+", ended: "+s.Reason.String(), st.bad
	case s.NotSmux():
		state, ss = "not "+notWhat(s), st.bad
	case s.Ended:
		state, ss = "ended: "+s.Reason.String(), base
		if s.Err != "" {
			state += ": " + printable.Text(s.Err)
		}
		switch {
		case viol > 0:
			ss = st.bad
		case s.AnomalyCount > 0:
			ss = st.warn
		}
	case len(s.Framing) > 0 && s.Proto == live.Yamux:
		state, ss = "violation: yamux ends the session", st.bad
	case len(s.Framing) > 0:
		state, ss = "violation: smux stops reading", st.bad
	case s.DirEnded[0].IsZero() != s.DirEnded[1].IsZero():
		// Half open: one end closed its side of the connection, the
		// other has not, and the session lasts as long as the connection.
		// Short, to fit the column: the help says what it means.
		gone := live.ClientToServer
		if s.DirEnded[gone].IsZero() {
			gone = live.ServerToClient
		}
		state, ss = gone.Sender().String()+" closed", st.warn
	}
	switch {
	case s.Unseen != [2]bool{} && state == "live":
		// The capture holds one direction only: nothing about the other
		// side is judged (before INCOMPLETE: it says more).
		state, ss = "ONE-WAY", st.warn
	case s.Unseen != [2]bool{}:
		state, ss = "ONE-WAY "+state, st.warn
	case s.Incomplete && state == "live":
		// The capture did not see every byte: the counts are what it saw.
		// Not ended says live, and the word fits the column whole (as the
		// streams pane's row for the session says it).
		state, ss = "INCOMPLETE", st.warn
	case s.Incomplete:
		state, ss = "INCOMPLETE "+state, st.warn
	}
	return []cell{
		{strconv.FormatUint(s.ID, 10), idStyle},
		{ends(s.Info, endsW), base},
		{ver, base},
		openCell(st, s, base),
		{count(s.Total), base},
		{rate(fps), rateStyle},
		{size(s.WireBytes(live.ClientToServer)), base},
		{size(s.WireBytes(live.ServerToClient)), base},
		{count(viol), vs},
		{count(s.AnomalyCount), as},
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

// ends returns a session's two ends, client → server, the tapped one
// marked * (a captured session's are not: neither is tapped), in at most
// w cells. Pooled sessions share one end (the
// server, or the upstream behind attach), and their other end's port tells
// them apart, so when the room is short the ends give up, in turn: the
// server's host; the client's host, if both ends share it or it is
// loopback; the blanks around the arrow; and then the left of the text.
func ends(info live.SessionInfo, w int) string {
	c, s := printable.Text(live.EndName(live.Client, info.Client)), printable.Text(live.EndName(live.Server, info.Server))
	join := func(c, s, arrow string) string {
		switch {
		case info.Captured:
		case info.Tap == live.Client:
			c += "*"
		default:
			s += "*"
		}
		return c + arrow + s
	}
	text := join(c, s, " → ")
	if width(text) <= w {
		return text
	}
	ch, cp, cerr := net.SplitHostPort(c)
	sh, sp, serr := net.SplitHostPort(s)
	if serr == nil {
		s = ":" + sp
		if text = join(c, s, " → "); width(text) <= w {
			return text
		}
	}
	if cerr == nil && (ch == sh || loopbackHost(ch)) {
		c = ":" + cp
		if text = join(c, s, " → "); width(text) <= w {
			return text
		}
	}
	if text = join(c, s, "→"); width(text) <= w || w <= 1 {
		return text
	}
	return "…" + cutLeft(text, w-1)
}

// loopbackHost reports whether host names this machine.
func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// cutLeft returns the last w cells of plain text s.
func cutLeft(s string, w int) string {
	i, n := len(s), 0
	for i > 0 {
		r, size := utf8.DecodeLastRuneInString(s[:i])
		rw := width(string(r))
		if n+rw > w {
			break
		}
		n += rw
		i -= size
	}
	return s[i:]
}

// title is the pane's title.
func (p *sessionsPane) title() string {
	if p.snap == nil {
		return "Sessions"
	}
	s := "Sessions · " + count(uint64(p.snap.LiveSessions)) + " live of " + count(uint64(len(p.snap.Sessions)))
	if f := p.snap.Forgotten.Sessions; f > 0 {
		s += " (+" + count(f) + " ended, folded)"
	}
	s += " · sort " + p.order.String()
	if p.hideEnded {
		s += " · ended hidden"
	}
	// A capture's sessions have no tapped end, and no mark to explain.
	if slices.ContainsFunc(p.snap.Sessions, func(ss *live.SessionSnap) bool { return !ss.Info.Captured }) {
		s += " · * = tapped end"
	}
	return s
}

// notWhat names the protocol a session's bytes failed to be.
func notWhat(s *live.SessionSnap) string {
	if s.Proto == live.Yamux {
		return "yamux"
	}
	return "smux"
}

// nothingFound is what the sessions pane says when a capture read whole
// held no session: how many connections were skipped (its status's
// "skipped"), before the notices, which name them.
func nothingFound(st live.Status) []string {
	for _, f := range st {
		if f.Key != "skipped" {
			continue
		}
		if n, ok := f.Value.(uint64); ok && n > 0 {
			return []string{"capture read: no smux or yamux session decoded", plural(n, "connection") + " skipped, for these reasons:"}
		}
	}
	return []string{"capture read: no smux or yamux session decoded"}
}

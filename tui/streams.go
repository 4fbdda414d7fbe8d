package tui

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/muxtop/muxtop/live"
)

// streamSort is the order of the streams pane; s cycles through them.
type streamSort uint8

const (
	sortID    streamSort = iota // stream id, as smux allocates them
	sortAge                     // the suspected leaks (marked !) first, then the other live streams, oldest first in each
	sortIdle                    // longest idle first
	sortBytes                   // most wire bytes first
	sortState                   // open, half-closed, closed, ended; then by id
	numSorts
)

var sortNames = [numSorts]string{"id", "age", "idle", "bytes", "state"}

// String returns the sort's name as the pane title shows it.
func (s streamSort) String() string {
	if s < numSorts {
		return sortNames[s]
	}
	return "unknown"
}

// streamsPane lists the selected session's streams, the first row
// standing for the whole session. The selection is by id: it stays on its
// stream while streams come, go and are re-sorted, until the user moves.
// When the session folds the selected stream into its summary (it keeps
// only the latest closed ones in detail), the pane keeps showing the
// stream's last picture, marked folded, in its place.
type streamsPane struct {
	keys      *keyMap
	leakAfter time.Duration
	snap      *live.Snapshot
	session   uint64
	ss        *live.SessionSnap // its picture, with streams; nil before the first
	sort      streamSort
	rows      []*live.StreamSnap // the streams in sort order, the pinned one among them
	sorted    sortedFor          // what rows was sorted for
	all       bool               // the whole session is selected: the first row
	id        uint32             // else the selected stream
	seen      live.StreamSnap    // the selected stream's latest picture
	pinned    *live.StreamSnap   // that picture, once the session no longer lists the stream
	chosen    bool               // the user (or a jump) chose the selection
	wantFirst bool               // drilled in before the session had a stream: take the first to come
	h         int

	listCursor // idx 0 is the session row, idx i is rows[i-1]
}

// sortedFor identifies the input of a sort.
type sortedFor struct {
	ss     *live.SessionSnap
	by     streamSort
	pinned *live.StreamSnap
}

func newStreamsPane(keys *keyMap, leakAfter time.Duration) streamsPane {
	return streamsPane{keys: keys, leakAfter: leakAfter, all: true}
}

// foldedLine reports whether the pane shows the summary line of the
// session's folded streams.
func (p *streamsPane) foldedLine() bool { return p.ss != nil && p.ss.Closed.Streams > 0 }

// dataRows is how many rows the pane shows at once under its heading and
// the folded line, and above the line that says how many more there are
// where they do not all fit (cueRows).
func (p *streamsPane) dataRows() int {
	n := p.h - 3
	if p.foldedLine() {
		n--
	}
	return cueRows(len(p.rows)+1, max(n, 0))
}

// Update handles the selection of a session, snapshots, drilling in,
// sorting, jumps, and the keys and clicks of the focused pane; it
// announces a new selection with streamSelectedMsg.
func (p streamsPane) Update(msg tea.Msg) (streamsPane, tea.Cmd) {
	switch msg := msg.(type) {
	case snapshotMsg:
		p.snap = msg.snap
		return p.refresh()
	case sessionSelectedMsg:
		if msg.id == p.session {
			return p, nil
		}
		p.choose(msg.id)
		p, _ = p.refresh()
		return p, p.announce(0)
	case drillMsg:
		if p.all && !p.chosen {
			if len(p.rows) > 0 {
				p.selectRow(1)
				return p, p.announce(0)
			}
			p.wantFirst = true
		}
	case sortMsg:
		p.sort = (p.sort + 1) % numSorts
		p.resort()
		if msg.first && len(p.rows) > 0 {
			p.selectRow(1)
			p.chosen = false
			return p, p.announce(0)
		}
		if msg.first && p.all {
			// No streams yet: just after moving to a session, the read
			// of its streams has not come back. The first to come.
			p.chosen, p.wantFirst = false, true
		}
		p.locate()
	case gotoMsg:
		if msg.session != p.session {
			p.choose(msg.session)
		}
		p, _ = p.refresh()
		p.all, p.chosen, p.pinned = true, true, nil
		if st := p.stream(msg.sid); msg.sid != 0 && st != nil {
			p.all, p.id, p.seen = false, msg.sid, *st
		}
		p.resort()
		p.locate()
		return p, p.announce(msg.seq)
	case moveMsg:
		return p.move(msg.d)
	case clickMsg:
		skip := 1
		if p.foldedLine() {
			skip++
		}
		from, _ := p.shown(len(p.rows)+1, p.dataRows()) // as drawn: top may predate a resize
		if i := from + msg.row - skip; msg.row >= skip && msg.row-skip < p.dataRows() && i < len(p.rows)+1 {
			return p.move(i - p.idx)
		}
	case tea.KeyPressMsg:
		if d, ok := p.keys.movement(msg, p.dataRows()); ok {
			return p.move(d)
		}
		if key.Matches(msg, p.keys.Enter) && p.session != 0 {
			return p, emit(drillMsg{to: paneFrames})
		}
	}
	return p, nil
}

// choose makes session id the pane's, with the whole session selected.
func (p *streamsPane) choose(id uint64) {
	*p = streamsPane{keys: p.keys, leakAfter: p.leakAfter, snap: p.snap, sort: p.sort, session: id, all: true, h: p.h}
}

// announce returns the command that tells the frames pane the selection.
func (p *streamsPane) announce(land uint64) tea.Cmd {
	msg := streamSelectedMsg{session: p.session, all: p.all, land: land}
	if !p.all {
		msg.sid = p.id
	}
	return emit(msg)
}

// stream returns the session's tracked stream sid, or nil.
func (p *streamsPane) stream(sid uint32) *live.StreamSnap {
	if p.ss == nil || p.ss.StreamsOmitted {
		return nil
	}
	return p.ss.Stream(sid)
}

// refresh takes the session's picture from the snapshot and finds the
// selection in it.
func (p streamsPane) refresh() (streamsPane, tea.Cmd) {
	var ss *live.SessionSnap
	if p.snap != nil && p.session != 0 {
		ss = p.snap.Session(p.session)
	}
	if ss != nil && ss.StreamsOmitted && p.ss != nil && p.ss.ID == ss.ID && !p.ss.StreamsOmitted {
		ss = p.ss // a picture without streams: keep the last one with them until the next read
	}
	p.ss = ss
	if !p.all && ss != nil && !ss.StreamsOmitted {
		if st := ss.Stream(p.id); st != nil {
			p.seen, p.pinned = *st, nil
		} else if p.pinned == nil && p.seen.ID == p.id {
			pin := p.seen
			p.pinned = &pin
		}
	}
	p.resort()
	if p.wantFirst && p.all && !p.chosen && len(p.rows) > 0 {
		p.selectRow(1)
		return p, p.announce(0)
	}
	p.locate()
	return p, nil
}

// resort puts the streams in the pane's order, when their picture, the
// order or the pinned stream changed.
func (p *streamsPane) resort() {
	key := sortedFor{ss: p.ss, by: p.sort, pinned: p.pinned}
	if key == p.sorted {
		return
	}
	p.sorted = key
	// A new slice: models are values, and an older copy may still be drawn.
	p.rows = make([]*live.StreamSnap, 0, len(p.rows)+1)
	if p.ss != nil {
		for i := range p.ss.Streams {
			p.rows = append(p.rows, &p.ss.Streams[i])
		}
	}
	if p.pinned != nil {
		p.rows = append(p.rows, p.pinned)
	}
	sortStreams(p.rows, p.ss, p.sort, p.pinned == nil)
}

// locate finds the selected row.
func (p *streamsPane) locate() {
	p.idx = 0
	if !p.all {
		for i, st := range p.rows {
			if st.ID == p.id {
				p.idx = i + 1
				break
			}
		}
	}
	p.clamp(len(p.rows)+1, p.dataRows())
}

// selectRow selects row i, which exists.
func (p *streamsPane) selectRow(i int) {
	p.wantFirst = false
	p.all = i == 0
	if !p.all {
		p.id, p.seen = p.rows[i-1].ID, *p.rows[i-1]
	}
	p.locate()
}

// move moves the cursor by d rows. Leaving a folded stream drops it from
// the list.
func (p streamsPane) move(d int) (streamsPane, tea.Cmd) {
	if p.session == 0 {
		return p, nil
	}
	i := max(0, min(p.idx+d, len(p.rows)))
	all, id := p.all, p.id
	p.chosen = true
	if i == 0 {
		p.all = true
	} else {
		p.all, p.id, p.seen = false, p.rows[i-1].ID, *p.rows[i-1]
	}
	if p.pinned != nil && (p.all || p.id != p.pinned.ID) {
		p.pinned = nil
		p.resort()
	}
	p.wantFirst = false
	p.locate()
	if p.all != all || p.id != id {
		return p, p.announce(0)
	}
	return p, nil
}

// sortStreams puts streams in the order by. Streams come in id order
// (inID says all of them do), so sorting by id has little to do.
func sortStreams(streams []*live.StreamSnap, ss *live.SessionSnap, by streamSort, inID bool) {
	if by == sortID {
		if !inID {
			slices.SortStableFunc(streams, func(x, y *live.StreamSnap) int { return cmp.Compare(x.ID, y.ID) })
		}
		return
	}
	slices.SortStableFunc(streams, func(x, y *live.StreamSnap) int {
		switch by {
		case sortAge:
			if c := cmp.Compare(rankLeak(ss, x), rankLeak(ss, y)); c != 0 {
				return c
			}
			return x.First.Compare(y.First)
		case sortIdle:
			if c := cmp.Compare(rankLive(x), rankLive(y)); c != 0 {
				return c
			}
			return x.Last.Compare(y.Last)
		case sortBytes:
			return cmp.Compare(y.Wire[0]+y.Wire[1], x.Wire[0]+x.Wire[1])
		case sortState:
			return cmp.Compare(x.State, y.State)
		}
		return 0
	})
}

// rankLeak puts the suspected leaks (those marked !: markedLeak) first,
// then the other live
// streams: an old stream in use is no leak, and a younger idle one may be.
func rankLeak(ss *live.SessionSnap, s *live.StreamSnap) int {
	if markedLeak(ss, s) {
		return 0
	}
	return 1 + rankLive(s)
}

// markedLeak says whether stream s of session ss is shown as a suspected
// leak (marked !, sorted first by age): counted in an open LEAK of its
// session, whose leak count says one is open (a mark the snapshot kept
// from a LEAK since resolved is stale), or in one as the session ended.
// ss may be nil (a pinned stream with no session): its own mark then.
func markedLeak(ss *live.SessionSnap, s *live.StreamSnap) bool {
	return s.Leak && (ss == nil || ss.Leaks > 0 || s.State == live.EndedWithSession)
}

// rankLive puts live (open or half-closed) streams before the others.
func rankLive(s *live.StreamSnap) int {
	if s.State.Live() {
		return 0
	}
	return 1
}

// streamColumns are the streams pane's columns; like the sessions pane's,
// each is as wide as the longest value it can hold.
var streamColumns = []column{
	{title: "sid", w: 6, right: true, prio: 100},
	{title: "by", w: 2, prio: 55},
	{title: "state", w: 12, prio: 95, flex: true},
	{title: "→fr", w: 5, right: true, prio: 45},
	{title: "←fr", w: 5, right: true, prio: 45},
	{title: "→bytes", w: 6, right: true, prio: 60},
	{title: "←bytes", w: 6, right: true, prio: 60},
	{title: "age", w: 6, right: true, prio: 90},
	{title: "idle", w: 5, right: true, prio: 70},
	{title: "reply", w: 5, right: true, prio: 50},
	// The client's first payload bytes as printable text: the request,
	// kept for the stream's life (live.StreamSnap.Head). Shed first.
	{title: "→first", w: 18, prio: 30},
	{title: "in-flight/window", w: 23, prio: 85, flex: true},
}

// flowColumn is the index of the flow-control column (smux v2, yamux),
// dropped for smux v1 sessions.
const flowColumn = 11

// streamCols returns the streams pane's columns for a session: the flow
// column only in v2, the id column as wide as the largest id.
func streamCols(ss *live.SessionSnap) []column {
	cols := streamColumns
	if ss == nil || (ss.Version != 2 && ss.Proto != live.Yamux) {
		cols = cols[:flowColumn]
	}
	if ss != nil && len(ss.Streams) > 0 {
		if n := digits(uint64(ss.Streams[len(ss.Streams)-1].ID)); n > cols[0].w {
			cols = slices.Clone(cols)
			cols[0].w = n
		}
	}
	return cols
}

// View draws the pane in w×h cells: a function of its state alone.
func (p streamsPane) View(th *theme, w, h int, focused bool) string {
	body, foot := p.body(th, w-2, h-2, focused)
	return strings.Join(boxFoot(&th.styles, p.title(w-5), foot, focused, body, w, h), "\n")
}

// body is the pane's lines in w×h cells; where more rows than show have
// no line of their own to say so (cueRows), foot says it, for the border.
func (p *streamsPane) body(th *theme, w, h int, focused bool) (out []string, foot string) {
	if h <= 0 {
		return nil, ""
	}
	st := &th.styles
	ss := p.ss
	cols := streamCols(ss)
	ws := layoutColumns(cols, w)
	out = []string{tableHeading(st, cols, ws, w)}
	if ss == nil {
		return out, ""
	}
	if p.foldedLine() && len(out) < h {
		out = append(out, tableRow(st, cols, ws, foldedCells(st, &ss.Closed), w, false, false))
	}
	now := p.snap.At
	rows, room := len(p.rows)+1, h-len(out)
	from, to := p.shown(rows, cueRows(rows, room))
	for i := from; i < to; i++ {
		var cells []cell
		if i == 0 {
			cells = sessionRowCells(st, ss, now)
		} else {
			s := p.rows[i-1]
			leak := markedLeak(ss, s)
			cells = streamCells(st, s, ss.Ended, ss.End, s == p.pinned, now, p.snap.StallAfter, leak)
		}
		out = append(out, tableRow(st, cols, ws, cells, w, i == p.idx, focused))
	}
	if cueRows(rows, room) < room {
		// More than fit: the last line says how many streams are above
		// and below (the session's row, first, is none), as the sessions
		// pane says it.
		how := ""
		switch {
		case focused && to < rows:
			how = "j/k or PgDn"
		case focused:
			how = "k or PgUp"
		}
		out = append(out, moreLine(th, w, max(from-1, 0), rows-to, "stream", how))
	} else if above, below := max(from-1, 0), rows-max(to, 1); above+below > 0 {
		foot = moreText(above, below, "stream", "")
	}
	return out, foot
}

// foldedCells is the summary line of the streams a session folded.
func foldedCells(st *styles, c *live.ClosedSummary) []cell {
	return []cell{
		{"", style{}},
		{"", style{}},
		{"folded " + count(c.Streams), st.dim},
		{count(c.Frames[0]), st.dim},
		{count(c.Frames[1]), st.dim},
		{size(c.Wire[0]), st.dim},
		{size(c.Wire[1]), st.dim},
	}
}

// sessionRowCells is the streams pane's first row: the whole session.
func sessionRowCells(st *styles, ss *live.SessionSnap, now time.Time) []cell {
	c := &ss.Counts
	if ss.Ended {
		now = ss.End
	}
	name := cell{"session " + strconv.FormatUint(ss.ID, 10), st.bold}
	if ss.Incomplete {
		// As the sessions pane says, in a column as narrow as the word
		// (the title names the session, and the bytes lost): the capture
		// did not see every byte of the session, though maybe of every
		// stream (a loss inside one frame's payload loses no frame).
		name = cell{"INCOMPLETE", st.warn}
	}
	return []cell{
		{"all", st.bold},
		{"", style{}},
		name,
		{count(c.FramesDir(live.ClientToServer)), style{}},
		{count(c.FramesDir(live.ServerToClient)), style{}},
		{size(ss.WireBytes(live.ClientToServer)), style{}},
		{size(ss.WireBytes(live.ServerToClient)), style{}},
		{dur(now.Sub(ss.Start)), style{}},
		{dur(now.Sub(ss.Last)), style{}},
		{"", style{}},
		{"", style{}},
		{"", style{}},
	}
}

// streamCells is a stream's row; a folded stream shows its last picture.
// Its byte columns are the stream's wire bytes (StreamSnap.Wire), as the
// all row's are the session's.
// leak marks it as a suspected leak: one the session's open LEAK findings
// count (StreamSnap.Leak, while SessionSnap.Leaks says they are open), or,
// in a session that ended (at end), one they counted when it ended.
func streamCells(st *styles, s *live.StreamSnap, ended bool, end time.Time, folded bool, now time.Time, stallAfter time.Duration, leak bool) []cell {
	base := style{}
	if !s.State.Live() || folded {
		base = st.dim
	}
	age, idle, as := streamTimes(s, ended, end, now), "", base
	if ended {
		now = end
	}
	if over := s.State == live.Closed || s.State == live.StreamReset; !over && (!ended || s.State == live.EndedWithSession) {
		idle = dur(later(now, s.Last).Sub(s.Last))
	}
	if leak && !folded && (s.State.Live() || s.State == live.EndedWithSession) {
		age, as = age+"!", st.warn
	}
	reply := "-"
	if s.FirstReply > 0 {
		reply = dur(s.FirstReply)
	}
	state, ss := s.State.String(), base
	if folded {
		state = "folded"
	}
	if s.Setup && !folded {
		// Opened as its session was set up and held since, with no FIN
		// from either side: LEAK does not count it, however idle.
		state += " (setup)"
	}
	if s.Incomplete {
		// Opened before the capture saw it, or live at a loss: its counts
		// are what the capture saw.
		state, ss = "~"+state+" (incomplete)", st.warn
	}
	cells := []cell{
		{strconv.FormatUint(uint64(s.ID), 10), base},
		{s.Opener.Letter(), base},
		{state, ss},
		{count(s.Frames[0]), base},
		{count(s.Frames[1]), base},
		{size(s.Wire[0]), base},
		{size(s.Wire[1]), base},
		{age, as},
		{idle, base},
		{reply, base},
		{firstText(&s.Head[live.ClientToServer]), base},
	}
	// The flow column shows the direction nearest its window as plain
	// numbers, and STALLED only when its writer is held back.
	d := live.ClientToServer
	if f := s.Flow; fill(f[1]) > fill(f[0]) {
		d = live.ServerToClient
	}
	sd, stalled := s.Stalled(now, stallAfter)
	if stalled && !folded {
		d = sd
	}
	f := s.Flow[d]
	in := f.InFlight()
	flow := d.String() + " " + size(uint64(max(in, 0))) + "/" + size(uint64(f.Window()))
	fs := base
	switch {
	case in < 0:
		// smux's writer fails: never show a wrapped number.
		flow, fs = d.String()+" consumed>sent", st.bad
	case stalled && !folded:
		flow, fs = flow+" STALLED", st.bad
	}
	return append(cells, cell{flow, fs})
}

// firstText is a direction's first bytes as live renders them
// (FirstBytes.AppendText, AppendQuoted's rules without the quotes):
// printable ASCII, every other byte a '.', with … after them where a
// frame's payload was not all seen, and before them where the capture
// joined the stream mid-stream (they are not its first); "(none sent)"
// when none came.
func firstText(h *live.FirstBytes) string {
	return string(h.AppendText(make([]byte, 0, live.FirstBytesLen+6)))
}

// streamTimes is a stream's age: while its session is live, from its SYN
// to now; in a session that ended at end, how long it lived: to its close
// (its last frame, the FIN or RST that closed it) or, for a stream that
// ended with the session, to the session's end.
func streamTimes(s *live.StreamSnap, ended bool, end, now time.Time) string {
	switch {
	case s.State == live.Closed, s.State == live.StreamReset:
		// Closed by both FINs, or reset (yamux's RST): it lived until its
		// last frame, whether or not its session still lives.
	case !ended:
		return dur(now.Sub(s.First))
	case s.State == live.EndedWithSession:
		return dur(later(end, s.Last).Sub(s.First))
	}
	return dur(s.Last.Sub(s.First))
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// fill is how much of its window a direction has in flight.
func fill(f live.Flow) float64 {
	if f.Window() == 0 {
		return 1
	}
	return float64(f.InFlight()) / float64(f.Window())
}

// lostTitle is what the streams pane's title says of the bytes the
// capture lost of a session, per direction: " · capture lost →1.4KiB".
func lostTitle(ss *live.SessionSnap) string {
	if ss.Lost == [2]int64{} {
		return ""
	}
	s := " · capture lost"
	for _, d := range []live.Dir{live.ClientToServer, live.ServerToClient} {
		if n := ss.Lost[d]; n > 0 {
			s += " " + d.String() + size(uint64(n))
		}
	}
	return s
}

// titlePart is a piece of a pane's title that may be left out, whole,
// where the title is too long for the border: the least important first.
type titlePart struct {
	s     string
	short string // the compact form, where the kept parts alone are too long; "": as s
	prio  int
	keep  bool
}

// fitTitle joins parts, leaving out the least important whole until the
// rest fit in w cells (shed's rule); the kept ones are never left out,
// but take their compact forms where they alone are too long.
func fitTitle(parts []titlePart, w int) string {
	kept := 0
	for _, pt := range parts {
		if pt.keep {
			kept += width(pt.s)
		}
	}
	text := func(pt titlePart) string {
		if kept > w && pt.short != "" {
			return pt.short
		}
		return pt.s
	}
	items := make([]shedItem, len(parts))
	for i, pt := range parts {
		items[i] = shedItem{w: width(text(pt)), prio: pt.prio, keep: pt.keep}
	}
	shown, _ := shed(items, w)
	var b strings.Builder
	for i, pt := range parts {
		if shown[i] {
			b.WriteString(text(pt))
		}
	}
	return b.String()
}

// yamuxTitle is what the streams pane's title says of a yamux session:
// the protocol, the latest ping round trip of each side that pinged, and
// the first GoAway.
func yamuxTitle(ss *live.SessionSnap) string { return fitTitle(yamuxParts(ss), math.MaxInt) }

// yamuxParts are yamuxTitle's parts: the pings go first where the title
// is short, then the protocol; a GoAway stays longer, as it ends the
// session.
func yamuxParts(ss *live.SessionSnap) []titlePart {
	parts := []titlePart{{s: " · yamux", prio: 40}}
	for side := range 2 {
		if p := ss.Pings[side]; p.Sent > 0 {
			s := " · " + live.Side(side).String() + " ping "
			switch {
			case p.Answered == 0:
				s += strconv.FormatUint(p.Sent, 10) + " unanswered"
			case p.Answered < p.Sent:
				s += p.LastRTT.Round(time.Microsecond).String() + " (" + strconv.FormatUint(p.Sent-p.Answered, 10) + " unanswered)"
			default:
				s += p.LastRTT.Round(time.Microsecond).String()
			}
			parts = append(parts, titlePart{s: s, prio: 20})
		}
	}
	if len(ss.GoAways) > 0 {
		g := ss.GoAways[0]
		parts = append(parts, titlePart{s: " · GoAway by " + g.By.String() + ": " + g.Reason(), prio: 60})
	}
	return parts
}

// title is the pane's title in at most w cells. The open count, the
// suspected leaks and the sort are never left out; where the title is
// too long, the rest go first: the pings, the "s: by age" hint, the
// protocol, the reversed roles, a GoAway, the capture's loss.
func (p *streamsPane) title(w int) string {
	ss := p.ss
	if ss == nil {
		return "Streams"
	}
	parts := []titlePart{{s: "Streams of session " + strconv.FormatUint(ss.ID, 10) + " · " + strconv.Itoa(ss.Open) + " open", keep: true}}
	if ss.Proto == live.Yamux {
		parts = append(parts, yamuxParts(ss)...)
	}
	if ss.Reversed {
		// The server opens odd ids: it runs the mux's client role (a
		// reverse tunnel). The by column stays the TCP roles.
		parts = append(parts, titlePart{s: " · mux roles reversed", prio: 50})
	}
	// LEAK's count, as the header's; where nothing evaluated the
	// findings, the streams older than the threshold, said as such.
	old := 0
	switch {
	case ss.Leaks > 0:
		old = ss.Leaks
		parts = append(parts, titlePart{s: " · " + plural(uint64(old), "suspected leak"), short: " · " + count(uint64(old)) + " leak?", keep: true})
	case p.snap != nil && p.snap.Evaluated.IsZero() && ss.Aged > 0:
		old = ss.Aged
		parts = append(parts, titlePart{s: " · " + count(uint64(old)) + " open longer than " + dur(p.leakAfter),
			short: " · " + count(uint64(old)) + " open>" + dur(p.leakAfter), keep: true})
	}
	if lost := lostTitle(ss); lost != "" {
		parts = append(parts, titlePart{s: lost, prio: 70})
	}
	if !ss.Cut.IsZero() && !ss.Ended {
		// INCOMPLETE by no loss: the capture's writer stopped at its
		// --write-limit while the session was open.
		parts = append(parts, titlePart{s: " · capture cut at its writer's --write-limit", short: " · cut at --write-limit", prio: 70})
	}
	parts = append(parts, titlePart{s: " · sort " + p.sort.String(), keep: true})
	if old > 0 && p.sort == sortID {
		parts = append(parts, titlePart{s: " (s: by age)", prio: 30})
	}
	return fitTitle(parts, w)
}

package tui

import (
	"cmp"
	"slices"
	"strconv"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/printable"
)

// framesPane lists the records of the streams pane's selection: a
// stream's frames, or all of a session's records, filtered. It keeps the
// seqs of the records its view selects and, of the records themselves,
// only the rows on screen; reads of the registry bring both.
type framesPane struct {
	keys   *keyMap
	scope  scope
	filter *filter
	index  frameIndex
	rows   []row // the records of the rows shown and of the cursor's, by seq
	cursor int   // an index into index
	top    int
	// follow keeps the cursor on the newest record; so does the focus
	// being above the pane (!active).
	follow, active bool
	// land says where the cursor goes once the index is read.
	land   landing
	landAt uint64
	// missed: the record landAt was not in the view once its index was
	// read (history evicted it meanwhile); the pane says so with
	// landMissedMsg, so that a search can look again.
	missed bool
	shown  uint64 // the seq last announced with frameSelectedMsg
	// findFirst: a new filter; if it selects nothing here once the index
	// is read, ask for the first match in history.
	findFirst bool
	h         int
	// head is the first bytes of the stream in scope, as the streams pane
	// last saw it; the model sets it as it draws (Model.View), nil when
	// the scope is no one stream.
	head *[2]live.FirstBytes
}

// landing is where the cursor goes once the index is read.
type landing uint8

const (
	landNone  landing = iota
	landFirst         // the first record: drilling in
	landLast          // the newest record
	landSeq           // the record with seq landAt: n, N, the violations list
)

var landingNames = [...]string{"none", "first", "last", "seq"}

// String returns the landing's name.
func (l landing) String() string {
	if int(l) < len(landingNames) {
		return landingNames[l]
	}
	return "landing(" + strconv.Itoa(int(l)) + ")"
}

func newFramesPane(keys *keyMap) framesPane { return framesPane{keys: keys} }

func (p *framesPane) key() viewKey {
	k := viewKey{scope: p.scope}
	if p.filter != nil {
		k.filter = p.filter.text
	}
	return k
}

// tailing reports whether the cursor rests on the newest record.
func (p *framesPane) tailing() bool { return p.follow || !p.active }

// dataRows is how many records the pane shows at once (one at least: the
// cursor's record is the detail pane's, shown or not).
func (p *framesPane) dataRows() int { return max(p.h-2, 1) }

// cursorSeq returns the seq of the record under the cursor, or 0.
func (p *framesPane) cursorSeq() uint64 {
	if p.index.len() == 0 {
		return 0
	}
	return p.index.at(p.cursor)
}

// Update handles the selection above, the filter, reads of the registry,
// the focus, and the keys and clicks of the focused pane; it announces the
// record under the cursor with frameSelectedMsg.
func (p framesPane) Update(msg tea.Msg) (framesPane, tea.Cmd) {
	switch msg := msg.(type) {
	case streamSelectedMsg:
		sc := scope{session: msg.session, sid: msg.sid, stream: !msg.all}
		if msg.session == 0 {
			sc = scope{}
		}
		if sc != p.scope {
			// A new view opens at its start where the user reads it (drilling
			// in, as in less), at its newest record where it is tailed.
			p.scope = sc
			p.reset(landLast)
			if p.active {
				p.land = landFirst
			}
		}
		if msg.land != 0 {
			p.land, p.landAt, p.follow = landSeq, msg.land, false
		}
		return p.place()
	case filterMsg:
		seq := p.cursorSeq()
		p.filter = msg.f
		p.reset(landLast)
		p.findFirst = msg.f != nil
		if msg.f == nil && seq != 0 && !p.tailing() {
			// Clearing the filter keeps the record read, now among all
			// the view's, as less and vim keep the cursor on the match.
			p.land, p.landAt = landSeq, seq
		}
		return p.place()
	case framesRead:
		return p.apply(msg)
	case activeMsg:
		p.active = msg.on
		if !p.active {
			p.follow = false
		}
		return p.place()
	case followMsg:
		p.follow = msg.on
		return p.place()
	case drillMsg:
		// Drilling into a stream lands on its first frame, its SYN.
		p.land, p.follow = landFirst, false
		return p.place()
	case moveMsg:
		return p.move(msg.d)
	case clickMsg:
		if i := p.top + msg.row; msg.row >= 0 && i < p.index.len() {
			p.follow = false // a click picks a record: stop following
			return p.move(i - p.cursor)
		}
	case tea.KeyPressMsg:
		if d, ok := p.keys.movement(msg, p.dataRows()); ok {
			return p.move(d)
		}
		if key.Matches(msg, p.keys.Enter) && p.cursorSeq() != 0 {
			return p, emit(drillMsg{to: paneDetail})
		}
	}
	return p, nil
}

// reset starts a new view: its index is read anew.
func (p *framesPane) reset(land landing) {
	p.index = frameIndex{key: p.key()}
	p.cursor, p.top = 0, 0
	p.land = land
}

// move moves the cursor by d rows; moving back stops following, as in less.
func (p framesPane) move(d int) (framesPane, tea.Cmd) {
	if d < 0 {
		p.follow = false
	}
	if !p.tailing() {
		p.cursor = max(0, min(p.cursor+d, p.index.len()-1))
	}
	return p.place()
}

// apply takes in what a read found for the view.
func (p framesPane) apply(r framesRead) (framesPane, tea.Cmd) {
	if r.key != p.index.key {
		return p, nil // read for an earlier view
	}
	switch {
	case r.rebuilt:
		p.index.seqs, p.index.start, p.index.next, p.index.built = r.seqs, 0, r.next, true
	case p.index.built && r.from == p.index.next:
		p.index.seqs = append(p.index.seqs, r.seqs...)
		p.index.next = r.next
	}
	p.index.lapped = r.first > 1
	if r.trim && p.index.built {
		n := p.index.trim(r.first)
		p.cursor, p.top = max(0, p.cursor-n), max(0, p.top-n)
	}
	p.position()
	p.keepRows(r.rows)
	cmd := tea.Batch(p.announce(), p.tellMissed())
	if r.rebuilt && p.findFirst {
		p.findFirst = false
		if p.index.len() == 0 {
			cmd = tea.Batch(cmd, emit(noMatchHereMsg{}))
		}
	}
	return p, cmd
}

// place puts the cursor where it belongs and announces its record.
func (p framesPane) place() (framesPane, tea.Cmd) {
	p.position()
	p.keepRows(nil)
	return p, tea.Batch(p.announce(), p.tellMissed())
}

// tellMissed returns the command that says the cursor could not land on
// the record it was sent to, once.
func (p *framesPane) tellMissed() tea.Cmd {
	if !p.missed {
		return nil
	}
	p.missed = false
	return emit(landMissedMsg{seq: p.landAt})
}

// position puts the cursor on its landing place once the index is read,
// on the newest record while tailing, and keeps it in view.
func (p *framesPane) position() {
	n := p.index.len()
	if p.index.built {
		switch p.land {
		case landFirst:
			p.cursor, p.land = 0, landNone
		case landLast:
			p.cursor, p.land = n-1, landNone
		case landSeq:
			if i, ok := p.index.find(p.landAt); ok {
				p.cursor, p.land = i, landNone
			} else if p.landAt < p.index.next {
				p.land, p.missed = landNone, true // not in this view, or evicted
			}
		}
	}
	if p.tailing() {
		p.cursor = n - 1
	}
	p.cursor = max(0, min(p.cursor, n-1))
	rows := p.dataRows()
	if p.tailing() {
		p.top = max(0, n-rows)
	} else {
		p.top = scroll(p.top, p.cursor, n, rows)
	}
}

// needed returns the seqs of the records on screen and the cursor's.
func (p *framesPane) needed() []uint64 {
	n := p.index.len()
	if n == 0 {
		return nil
	}
	end := min(p.top+p.dataRows(), n)
	seqs := make([]uint64, 0, end-p.top+1)
	for i := p.top; i < end; i++ {
		seqs = append(seqs, p.index.at(i))
	}
	if p.cursor < p.top || p.cursor >= end {
		seqs = append(seqs, p.index.at(p.cursor))
		slices.Sort(seqs)
	}
	return seqs
}

// keepRows keeps the records now needed: from a read's fetch, else from
// before (a record history evicted stays while it is on screen).
func (p *framesPane) keepRows(fetched []row) {
	need := p.needed()
	rows := make([]row, 0, len(need))
	for _, s := range need {
		if r, ok := findRow(fetched, s); ok && (r.rec != nil || !hasRecord(p.rows, s)) {
			rows = append(rows, r)
		} else if r, ok := findRow(p.rows, s); ok {
			rows = append(rows, r)
		}
	}
	p.rows = rows
}

func findRow(rows []row, seq uint64) (row, bool) {
	i, ok := slices.BinarySearchFunc(rows, seq, func(r row, s uint64) int { return cmp.Compare(r.seq, s) })
	if !ok {
		return row{}, false
	}
	return rows[i], true
}

func hasRecord(rows []row, seq uint64) bool {
	r, ok := findRow(rows, seq)
	return ok && r.rec != nil
}

// needsRead reports whether the pane lacks its index or a record it shows.
func (p *framesPane) needsRead() bool {
	if !p.index.built {
		return true
	}
	for _, s := range p.needed() {
		if _, ok := findRow(p.rows, s); !ok {
			return true
		}
	}
	return false
}

// request is what the pane asks of the next read. A paused view scans for
// nothing new, and a paused view's new index nothing after upTo.
func (p *framesPane) request(paused bool, upTo uint64) indexReq {
	r := indexReq{key: p.key()}
	if p.scope.session != 0 {
		r.match = matcher(p.scope, p.filter)
	}
	rows := p.dataRows()
	if !p.index.built {
		r.rebuild = true
		if paused {
			r.upTo = upTo
		}
		switch {
		case p.land == landFirst:
			r.head = rows
		case p.land != landSeq:
			r.tail = rows
		}
		return r
	}
	r.from, r.scan = p.index.next, !paused
	if p.tailing() {
		r.tail, r.tailSeqs = rows, p.index.tail(rows)
	} else {
		r.seqs = p.needed()
	}
	return r
}

// announce tells the detail pane about the record under the cursor when
// it changed and its copy is at hand.
func (p *framesPane) announce() tea.Cmd {
	seq := p.cursorSeq()
	if seq == p.shown {
		return nil
	}
	var rec *live.Record
	if seq != 0 {
		r, ok := findRow(p.rows, seq)
		if !ok {
			return nil // the next read brings it
		}
		rec = r.rec
	}
	p.shown = seq
	return emit(frameSelectedMsg{rec: rec})
}

// View draws the pane in w×h cells: a function of its state alone.
func (p framesPane) View(th *theme, w, h int, focused bool) string {
	return boxed(th, p.title(), focused, p.body(th, w-2, h-2, focused), w, h)
}

// evicted reports that the pane, scoped to a session or stream and
// unfiltered, shows no frame because history evicted them all.
func (p *framesPane) evicted() bool {
	return p.index.len() == 0 && p.index.built && p.filter == nil && p.index.lapped && p.scope.session != 0
}

// detailNote is what the frame detail says while it shows no record:
// what the pane shows instead, where that is not a list to select from.
// "" for the usual hint.
func (p *framesPane) detailNote() string {
	switch {
	case !p.evicted():
		return ""
	case p.scope.stream && p.head != nil:
		return "no frames of this stream left in history; its first bytes are above"
	case p.scope.stream:
		return "no frames of this stream left in history"
	}
	return "no frames of this session left in history"
}

func (p *framesPane) body(th *theme, w, h int, focused bool) []string {
	if h <= 0 {
		return nil
	}
	st := &th.styles
	n := p.index.len()
	if n == 0 {
		msg := " no frames yet"
		switch {
		case !p.index.built:
			msg = " reading history…"
		case p.filter != nil && p.index.dropped > 0:
			// It had matches: a busy capture's history evicted them.
			msg = " the matches here left history: newer frames evicted them (--history); n goes to the newest"
		case p.filter != nil:
			msg = " no frames match " + p.filter.text
		case p.evicted():
			// A stream has a frame once named, a session its opening.
			msg = " none left in history: newer frames evicted these (--history); they still count"
			if p.scope.stream && p.head != nil {
				// What the stream carried, which it keeps for its life.
				out := append([]string{newLine(w).add(msg, st.dim).String()}, firstDump(th, p.head, w)...)
				return out[:min(len(out), h)]
			}
		}
		return []string{newLine(w).add(msg, st.dim).String()}
	}
	top := scroll(p.top, p.cursor, n, h)
	if p.tailing() {
		top = max(0, n-h)
	}
	out := make([]string, 0, h)
	buf := make([]byte, 0, 4*w)
	cols := newFrameCols(w, !p.scope.stream)
	for i := top; i < n && len(out) < h; i++ {
		seq := p.index.at(i)
		mark := i == p.cursor
		r, ok := findRow(p.rows, seq)
		switch {
		case ok && r.rec != nil:
			out = append(out, frameLine(th, r.rec, w, mark, mark && focused, cols, buf))
		case ok:
			out = append(out, markLine(st, w, mark).add("seq "+strconv.FormatUint(seq, 10)+": no longer in history", st.dim).String())
		default:
			out = append(out, markLine(st, w, mark).add("…", st.dim).String())
		}
	}
	return out
}

// markLine starts a row with the cursor mark or a blank.
func markLine(st *styles, w int, mark bool) *line {
	l := newLine(w)
	if mark {
		return l.text("▶")
	}
	return l.text(" ")
}

// frameCols says which optional columns the frames pane shows at width w:
// the stream id unless the view is one stream's, and the frame's version
// when it leaves room for an 8-byte payload (a RAND reply) in full, hex
// and ASCII. The version is the least important: the session's row and
// the detail show it, and a frame of another version is a violation.
type frameCols struct{ sid, ver bool }

// payloadFull8 is the room an 8-byte payload takes: its hex, a blank and
// its ASCII.
const payloadFull8 = 3*8 - 1 + 1 + 8

func newFrameCols(w int, sid bool) frameCols {
	fixed := 1 + len(live.TimeLayout) + 1 + 2 + 3 + 1 + len("len ") + 6 // mark, time, dir, cmd, len
	if sid {
		fixed += len("sid ") + 7
	}
	return frameCols{sid: sid, ver: w-fixed-len("v1 ") >= payloadFull8}
}

// frameLine draws one record of the frames pane:
//
//	▶12:01:03.441219 → v1 PSH sid 4413   len 4     52 41 4e 44              RAND
//	 12:01:03.441290 → v1 PSH sid 4413   len 3000  LOST 1448 47 45 54 20 2f  GET /…
//
// Numbers are never cut. The payload shows as many bytes as fit, 32, 16, 8
// or 4 a row, with the ASCII in a column; "…" says the row does not show
// every byte of the payload.
func frameLine(th *theme, r *live.Record, w int, mark, reverse bool, cols frameCols, buf []byte) string {
	st := &th.styles
	l := newLine(w)
	l.plain = reverse
	if mark {
		l.text("▶")
	} else {
		l.text(" ")
	}
	l.text(r.At.In(th.loc).Format(live.TimeLayout) + " ")
	switch r.Kind {
	case live.FrameRecord:
		if r.Proto == live.Yamux {
			yamuxFrameLine(st, l, r, cols, buf)
			break
		}
		h := r.Header
		l.text(r.Dir.String() + " ")
		if cols.ver {
			l.text("v" + strconv.Itoa(int(h.Version())) + " ")
		}
		l.add(h.Cmd().String(), cmdStyle(st, h.Cmd()))
		if cols.sid {
			l.text(" sid ").num(strconv.FormatUint(uint64(h.StreamID()), 10), 6)
		} else {
			l.text(" ")
		}
		l.text("len ").num(strconv.Itoa(int(h.Length())), 5)
		marks(st, l, r)
		if h.Cmd() == decoder.UPD {
			l.text("consumed " + strconv.FormatUint(uint64(r.Consumed), 10) + " window " + strconv.FormatUint(uint64(r.Window), 10))
			break
		}
		payloadCells(st, l, r, buf)
	case live.SessionOpened:
		l.text("● session " + strconv.FormatUint(r.Session, 10) + " opened " + printable.Text(live.Ends(r.Client, r.Server)))
	case live.SessionEnded:
		l.add("● session "+strconv.FormatUint(r.Session, 10)+" ended: "+printable.Text(r.EndText()), st.dim)
	case live.SessionHalfClosed:
		l.add(r.Dir.String()+" ● session "+strconv.FormatUint(r.Session, 10)+" "+r.HalfClosedName()+": "+printable.Text(r.Detail), st.warn)
	case live.FramingViolation:
		l.text(r.Dir.String() + " ")
		code := r.Code.String()
		if r.Proto == live.Yamux {
			code = r.YamuxCode.String()
		}
		l.add("VIOLATION "+code+" at offset "+strconv.FormatInt(r.Offset, 10)+": "+printable.Text(r.Detail), st.bad)
	case live.NoticeRecord:
		l.add("! "+printable.Text(r.Detail), st.bad)
	case live.ResyncRecord:
		l.text(r.Dir.String() + " ")
		l.add("RESYNC "+printable.Text(r.Detail), st.bad)
	case live.FindingOpened, live.FindingUpdated, live.FindingResolved:
		if f := r.Finding; f != nil {
			verb, sev := "FINDING ", f.Severity.String()
			switch r.Kind {
			case live.FindingUpdated:
				verb = "UPDATED " // its count or severity changed: the text as it is now
				if r.Was != 0 {
					sev = "now " + sev + " (was " + r.Was.String() + ")"
				}
			case live.FindingResolved:
				verb = "RESOLVED "
				if f.Unwatched {
					verb = "STILL-OPEN " // resolved only as muxtop stopped watching: not fixed
				}
			}
			l.add(verb+f.Code.String()+" "+sev+": "+printable.Text(f.Text), st.bad)
		}
	}
	if reverse {
		return st.selected.render(l.String())
	}
	return l.String()
}

// marks draws what is wrong with a frame, after its length: its anomaly,
// red, and LOST n, yellow, where the capture lost n bytes of its payload
// (the payload shown is what came before them). The detail pane says
// more of each.
func marks(st *styles, l *line, r *live.Record) {
	if r.Anomaly != 0 {
		l.add(r.Anomaly.String(), st.bad).text(" ")
	}
	if r.Lost > 0 {
		l.add("LOST "+strconv.FormatInt(r.Lost, 10), st.warn).text(" ")
	}
}

// payloadCells draws as much of a frame's payload as fits the rest of l.
func payloadCells(st *styles, l *line, r *live.Record, buf []byte) {
	p := r.Payload
	if len(p) == 0 {
		return
	}
	n, c, gap := payloadFit(l.room(), len(p), r.Truncated)
	if n <= 0 {
		return
	}
	l.text(string(printable.AppendHex(buf[:0], p[:n]))).spaces(3*(c-n) + gap)
	l.add(string(printable.AppendASCII(buf[:0], p[:n])), st.dim)
	if n < len(p) || r.Truncated {
		l.add("…", st.dim)
	}
}

// yamuxFrameLine draws a yamux frame after its time:
//
//	→ DATA SYN|ACK sid 3      len 4     52 41 4e 44              RAND
//	← DATA sid 3              len 3000  LOST 1000 78 78 78 78 78  xxxxx…
//	← WINDOW_UPDATE sid 3     delta 262144
//	→ PING SYN value 7
//	← GO_AWAY code 1 (protocol error)
func yamuxFrameLine(st *styles, l *line, r *live.Record, cols frameCols, buf []byte) {
	h := r.YamuxHeader
	l.text(r.Dir.String() + " ")
	l.add(h.Type().String(), typeStyle(st, h.Type()))
	if f := h.Flags(); f != 0 {
		l.text(" ").add(f.String(), flagsStyle(st, f))
	}
	switch h.Type() {
	case yamux.Ping:
		l.text(" value " + strconv.FormatUint(uint64(h.Length()), 10) + " ")
	case yamux.GoAway:
		l.add(" code "+strconv.FormatUint(uint64(h.Length()), 10)+" ("+yamux.GoAwayName(h.Length())+") ", typeStyle(st, yamux.GoAway))
	default:
		if cols.sid {
			l.text(" sid ").num(strconv.FormatUint(uint64(h.StreamID()), 10), 6)
		} else {
			l.text(" ")
		}
		l.text(h.LengthName()).text(" ").num(strconv.FormatUint(uint64(h.Length()), 10), 5)
	}
	marks(st, l, r)
	if h.Type() == yamux.Data {
		payloadCells(st, l, r, buf)
	}
}

// payloadFit decides how a payload of have captured bytes shows in room
// cells: n bytes as hex, padded to c bytes' width so that the ASCII of
// short payloads lines up (at 16 bytes, or 8 or 4 when narrow), then gap
// blanks, the ASCII, and "…" when not every byte of the payload shows.
// Longer payloads take up to 32 bytes where the room allows.
func payloadFit(room, have int, truncated bool) (n, c, gap int) {
	align := 16
	for align > 4 && 4*align > room {
		align /= 2
	}
	width := func(n, c, gap int) int {
		w := 3*c - 1 + gap + n
		if n < have || truncated {
			w++
		}
		return w
	}
	for n = min(have, 32); n > 0; n-- {
		if c = max(n, align); width(n, c, 1) > room {
			c = n
		}
		if width(n, c, 1) <= room {
			break
		}
	}
	gap = 1
	if width(n, c, 2) <= room {
		gap = 2
	}
	return n, c, gap
}

// title is the pane's title.
func (p *framesPane) title() string {
	var s string
	switch {
	case p.scope.session == 0:
		s = "Frames"
	case p.scope.stream:
		s = "Frames of stream " + strconv.FormatUint(uint64(p.scope.sid), 10) + " (session " + strconv.FormatUint(p.scope.session, 10) + ")"
	default:
		s = "Frames of session " + strconv.FormatUint(p.scope.session, 10)
	}
	n := uint64(p.index.len())
	if p.filter != nil {
		s += " · filter " + p.filter.text + " · " + count(n) + " match"
		if n != 1 {
			s += "es"
		}
	} else {
		s += " · " + plural(n, "record")
	}
	return s
}

package tui

import (
	"slices"
	"strconv"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/printable"
)

// findingsPane lists what muxtop names as wrong: the open findings, most
// severe first, then oldest (the snapshot's order), but for a half-closed
// LEAK before an open-and-idle one (halfClosedFirst), then the ones
// resolved within recentResolved, the latest first, marked; under the
// list, the selected one's evidence and advice in full. enter goes to
// what it concerns.
type findingsPane struct {
	overlayList[*live.Finding]
	w    int // the pane's width
	open int // list[:open] are open, the rest resolved
	// resolved is the snapshot's resolvedCount, counted as the list is
	// made: what the title says.
	resolved int
	// trend is how fast each open LEAK grows, by finding ID (leakTrend's,
	// never changed).
	trend map[uint64]growth
	id    uint64 // the selected finding's ID, which the cursor follows as the list changes
	// widest is, over the list, the widest code and the largest session
	// and stream ids, which a narrow screen sizes its columns to: found
	// as the list is made, not at each draw.
	widest struct {
		code    int
		session uint64
		sid     uint32
	}
}

// recentResolved is how long a resolved finding stays in the list.
const recentResolved = live.RecentResolved

// recentlyResolved is the tail of snap.Resolved (oldest first) that
// resolved within recentResolved of the snapshot: the resolved findings
// the pane lists, the latest live.MaxResolved at most.
func recentlyResolved(snap *live.Snapshot) []*live.Finding {
	i := len(snap.Resolved)
	for i > 0 && snap.At.Sub(snap.Resolved[i-1].Resolved) <= recentResolved {
		i--
	}
	return snap.Resolved[i:]
}

// resolvedCount is how many findings resolved within recentResolved of
// the snapshot, listed or not, recent being those it lists
// (recentlyResolved): what the header and the pane's title count.
func resolvedCount(snap *live.Snapshot, recent []*live.Finding) int {
	return max(snap.ResolvedRecent, len(recent))
}

func newFindingsPane(keys *keyMap) findingsPane {
	return findingsPane{overlayList: overlayList[*live.Finding]{keys: keys}}
}

// findFooter is the lines under a long list that show the selected
// finding, a blank line first.
const findFooter = 7

// dataRows is how many findings the pane shows at once, under its
// heading and above the selected finding's text.
func (p *findingsPane) dataRows() int {
	return max(listRows(len(p.list), p.h-2, len(p.explain(nil, p.w-2)))-1, 1)
}

// listRows is how many lines the list of n findings takes, its heading
// included, in a box h lines high whose selected finding's explanation
// takes need. The list takes the rows it needs, up to all but findFooter;
// the explanation, under it and a blank line, the rest. Where that is
// too little for the explanation, the list gives up rows to it, down to
// its heading and the selected finding: the cursor still walks the list,
// and what a finding says matters more than its neighbours.
func listRows(n, h, need int) int {
	rows := min(n+1, max(h-findFooter, 2))
	if rows+1+need > h {
		rows = max(min(rows, h-1-need), 2)
	}
	return rows
}

// Update handles snapshots (the root sends them while the pane is open)
// and the pane's keys; enter announces findingChosenMsg.
func (p findingsPane) Update(msg tea.Msg) (findingsPane, tea.Cmd) {
	f, ok := p.update(msg, p.dataRows(), p.collect)
	if len(p.list) > 0 {
		p.id = p.list[p.idx].ID
	}
	if ok {
		return p, emit(findingChosenMsg{f: f})
	}
	return p, nil
}

// collect makes the list from the snapshot, keeping the cursor on the
// finding it was on while that one is listed.
func (p *findingsPane) collect() {
	snap := p.snap
	// A new slice: models are values, and an older copy may still be drawn.
	list := make([]*live.Finding, 0, len(snap.Findings)+len(snap.Resolved))
	list = append(list, snap.Findings...)
	halfClosedFirst(list)
	p.open = len(list)
	recent := recentlyResolved(snap)
	for _, f := range slices.Backward(recent) {
		list = append(list, f)
	}
	p.list, p.resolved = list, resolvedCount(snap, recent)
	p.widest.code, p.widest.session, p.widest.sid = 0, 0, 0
	for _, f := range list {
		p.widest.code = max(p.widest.code, len(f.Code.String()))
		p.widest.session = max(p.widest.session, f.Session)
		p.widest.sid = max(p.widest.sid, f.Stream)
	}
	if i := slices.IndexFunc(list, func(f *live.Finding) bool { return f.ID == p.id }); i >= 0 {
		p.idx = i
	}
	p.clamp(len(list), p.dataRows())
	if len(list) > 0 {
		p.id = list[p.idx].ID
	}
}

// reopen puts the cursor where ! opens the list: on finding left, the
// one the user left it on, while that one is still open, else on the top,
// the most severe open finding, the list scrolled to its start. What is
// wrong now comes first: a resolved one the user left selected, 40 rows
// down, would open the list on the resolved ones, the open ones out of
// view above.
func (p *findingsPane) reopen(left uint64) {
	if left != 0 && p.idx < p.open && p.list[p.idx].ID == left {
		p.clamp(len(p.list), p.dataRows())
		return
	}
	p.idx, p.top = 0, 0
	if len(p.list) > 0 {
		p.id = p.list[0].ID
	}
}

// halfClosedFirst reorders the open findings, most severe first, so that
// within a severity the LEAKs with a direction (streams half-closed by
// one side: a certain leak) come before those without (streams open and
// idle, with no FIN from either side: perhaps a pool), each kind oldest
// first, in the places the LEAKs held; the other findings keep theirs.
// Pooled streams opened at the service's start are older than any leak
// that began later, and would otherwise be listed above it.
func halfClosedFirst(list []*live.Finding) {
	for start := 0; start < len(list); {
		end := start + 1
		for end < len(list) && list[end].Severity == list[start].Severity {
			end++
		}
		var at []int
		var leaks []*live.Finding
		for i := start; i < end; i++ {
			if list[i].Code == live.CodeLeak {
				at = append(at, i)
				leaks = append(leaks, list[i])
			}
		}
		slices.SortStableFunc(leaks, func(a, b *live.Finding) int {
			return b2i(b.HasDir) - b2i(a.HasDir)
		})
		for k, i := range at {
			list[i] = leaks[k]
		}
		start = end
	}
}

// View draws the pane in w×h cells: a function of its state alone.
func (p findingsPane) View(th *theme, w, h int) string {
	const none = " no findings: nothing muxtop diagnoses is wrong so far"
	return p.view(th, p.title(w-5), none, w, h, func(w, h int) []string { return p.body(th, w, h) })
}

// body is the list, then the selected finding in full: where and since
// when, its text, what to do, and for a resolved one why it resolved.
func (p *findingsPane) body(th *theme, w, h int) []string {
	st := &th.styles
	exp := p.explain(th, w)
	rows := listRows(len(p.list), h, len(exp))
	out := p.table(st, p.columns(w), w, len(p.list), rows, func(i int) []cell { return p.cells(th, i) })
	if len(out) < h {
		// The line between the list and the text says how many findings
		// the list does not show, where it is cut short to leave the
		// text its room: a list of one row must not pass for the lot.
		sep := newLine(w).String()
		if from, to := p.shown(len(p.list), rows-1); from > 0 || to < len(p.list) {
			sep = moreLine(th, w, from, len(p.list)-to, "finding", "j/k")
		}
		out = append(out, sep)
	}
	inner := max(w-1, 1)
	if room := h - len(out); len(exp) > room {
		exp = exp[:max(room, 0)]
		if room > 0 {
			// The last line that shows says there is more.
			last := &exp[room-1]
			last.s = cut(last.s, inner-1) + "…"
		}
	}
	for _, l := range exp {
		out = append(out, newLine(w).text(" ").add(l.s, l.st).String())
	}
	return out
}

var findingColumns = []column{
	{title: "sev", w: 4, prio: 100},
	{title: "code", w: 16, prio: 100},
	{title: "sess", w: 4, right: true, prio: 95}, // not "#": elsewhere #1 is a finding's id
	{title: "sid", w: 6, right: true, prio: 80},
	{title: "dir", w: 3, prio: 70},
	{title: "for", w: 6, right: true, prio: 90},
	{title: "state", w: 8, prio: 85},
	{title: "evidence", w: 20, prio: 60, flex: true},
}

// roomyEvidence is the width below which the evidence column would be
// too narrow to tell rows apart at the columns' usual widths: "1 stream
// open longer …", the count and the side cut off. Below it the other
// columns shrink to what they hold (columns).
const roomyEvidence = 60

// columns are findingColumns for a pane w cells wide. Where that leaves
// the evidence under roomyEvidence, as at 80 columns, the code, sess, sid
// and state columns are as wide as their widest entry (or title)
// instead: a list of LEAKs needs 4 cells for its code, not 16, and the
// text gets them.
func (p *findingsPane) columns(w int) []column {
	fixed := 1 // the cursor mark
	for _, c := range findingColumns {
		if !c.flex {
			fixed += c.w + 1
		}
	}
	if w-fixed >= roomyEvidence+1 {
		return findingColumns
	}
	code, state := max(width("code"), p.widest.code), width("open")
	if p.open < len(p.list) {
		state = len("resolved")
	}
	session := max(width("sess"), len(strconv.FormatUint(p.widest.session, 10)))
	sid := max(width("sid"), len(strconv.FormatUint(uint64(p.widest.sid), 10)))
	state = max(state, width("state"))
	cols := slices.Clone(findingColumns)
	for i := range cols {
		switch cols[i].title {
		case "code":
			cols[i].w = code
		case "sess":
			cols[i].w = session
		case "sid":
			cols[i].w = sid
		case "state":
			cols[i].w = state
		}
	}
	return cols
}

// cells are the columns of entry i.
func (p *findingsPane) cells(th *theme, i int) []cell {
	st := &th.styles
	f := p.list[i]
	open := i < p.open
	sev := st.warn
	if f.Severity == live.Critical {
		sev = st.bad
	}
	state, age, rest := "open", p.snap.At.Sub(f.Since), style{}
	if open {
		f = p.asOf(f)
	} else {
		state, age, sev, rest = "resolved", f.Resolved.Sub(f.Since), st.dim, st.dim
	}
	session, sid, dir := "", "", ""
	if f.Session != 0 {
		session = strconv.FormatUint(f.Session, 10)
	}
	if f.Stream != 0 {
		sid = strconv.FormatUint(uint64(f.Stream), 10)
	}
	if f.HasDir {
		dir = f.Dir.String()
	}
	return []cell{
		{f.Severity.String()[:4], sev},
		{f.Code.String(), sev},
		{session, rest},
		{sid, rest},
		{dir, rest},
		{dur(age), rest},
		{state, rest},
		{printable.Text(f.Text), rest},
	}
}

// asOf is open finding f worded with its age as of the snapshot, as the
// "for" column and the streams pane's ages count it: the engine words an
// age again only in steps (5 s below a minute, 30 s below ten, 5 min
// beyond), and its text lagged them by as much. Only the rows drawn are
// worded so.
func (p *findingsPane) asOf(f *live.Finding) *live.Finding {
	if p.snap == nil {
		return f
	}
	return f.AsOf(p.snap.At)
}

// explainLine is a line of explain's, in its paragraph's style.
type explainLine struct {
	s  string
	st style
}

// explain is the selected finding in full, wrapped to w cells with a
// margin: where and when, the text, the advice, why it resolved. With a
// nil th its lines have the right text and no style, as dataRows needs
// to count them.
func (p *findingsPane) explain(th *theme, w int) []explainLine {
	if len(p.list) == 0 {
		return nil
	}
	st, loc := &styles{}, time.Local
	if th != nil {
		st, loc = &th.styles, th.loc
	}
	f := p.list[p.idx]
	if p.idx < p.open {
		f = p.asOf(f)
	}
	where := f.Code.String() + " " + f.Severity.String()
	switch {
	case f.Session == 0:
		where += " · no one session"
	default:
		where += " · session " + strconv.FormatUint(f.Session, 10)
	}
	if f.Stream != 0 {
		where += " · stream " + strconv.FormatUint(uint64(f.Stream), 10)
	}
	if f.HasDir {
		where += " · " + f.Dir.String() + " " + f.Dir.Words()
	}
	// "finding opened", not "opened": after "stream 9" a bare "opened"
	// reads as the stream's opening, after its own "since".
	where += " · since " + f.Since.In(loc).Format(time.TimeOnly) + " · finding opened " + f.Opened.In(loc).Format(time.TimeOnly)
	paras := []explainLine{{where, st.dim}, {printable.Text(f.Text), style{}}}
	if g, ok := p.trend[f.ID]; ok && p.idx < p.open && g.told() {
		paras = append(paras, explainLine{g.words(), st.warn})
	}
	if h := f.First(); h != nil {
		// What the oldest leaked stream carried, which history may no
		// longer hold: the request that leaks.
		paras = append(paras, explainLine{"first bytes of " + firstLine(f.Stream, h), style{}})
	}
	paras = append(paras, explainLine{"→ " + printable.Text(f.Advice), st.bold})
	if p.idx >= p.open {
		paras = append(paras, explainLine{"resolved " + f.Resolved.In(loc).Format(time.TimeOnly) + ": " + printable.Text(f.Why), st.dim})
	}
	inner := max(w-1, 1)
	var ls []explainLine
	for _, pa := range paras {
		for _, s := range wrapText(pa.s, inner) {
			ls = append(ls, explainLine{s, pa.st})
		}
	}
	return ls
}

// title is the pane's title, in at most w cells: the keys go first.
func (p *findingsPane) title(w int) string {
	open, listed, resolved := 0, 0, 0
	if p.snap != nil {
		open, listed = p.open, len(p.list)-p.open
		resolved = p.resolved // at least those listed: collect lists recentlyResolved
	}
	t := "Findings · " + strconv.Itoa(open) + " open · " + strconv.Itoa(resolved) + " resolved"
	if listed < resolved {
		t += ", the latest " + strconv.Itoa(listed) + " listed" // the snapshot lists live.MaxResolved
	}
	if long := t + " · enter: go to it · !/esc: close"; width(long) <= w {
		return long
	}
	return t
}

package tui

import (
	"cmp"
	"slices"
	"strconv"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/live"
)

// violation is one line of the violations pane: a framing violation or an
// anomaly of some session.
type violation struct {
	at      time.Time
	session uint64
	dir     live.Dir
	offset  int64
	header  decoder.Header
	name    string
	detail  string
	smux    string // what smux does about it
	framing bool
}

// violations is the state of the v pane.
type violations struct {
	show     bool
	list     []violation
	idx, top int
	// counted is the snapshot's violation and anomaly count when list was made.
	counted uint64
}

// violFooter is the lines under the list that explain the selected entry.
const violFooter = 3

// collect rebuilds the list from the snapshot when its counts changed.
func (v *violations) collect(snap *live.Snapshot) {
	n := snap.Violations + snap.Anomalies
	if v.list != nil && n == v.counted {
		return
	}
	v.counted = n
	v.list = v.list[:0]
	for _, ss := range snap.Sessions {
		for _, f := range ss.Framing {
			v.list = append(v.list, violation{
				at: f.At, session: ss.ID, dir: f.Dir, offset: f.Offset, header: f.Header,
				name: f.Code.String(), detail: f.Detail, smux: f.Code.SmuxReaction(), framing: true,
			})
		}
		for _, a := range ss.Anomalies {
			v.list = append(v.list, violation{
				at: a.At, session: ss.ID, dir: a.Dir, offset: a.Offset, header: a.Header,
				name: a.Anomaly.String(), detail: a.Header.String(), smux: a.Anomaly.SmuxReaction(),
			})
		}
	}
	slices.SortStableFunc(v.list, func(a, b violation) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return cmp.Compare(a.session, b.session)
	})
	if v.list == nil {
		v.list = []violation{}
	}
	v.idx = max(0, min(v.idx, len(v.list)-1))
}

var violationColumns = []column{
	{title: "time", w: 15, prio: 60},
	{title: "#", w: 3, right: true, prio: 100},
	{title: "dir", w: 3, prio: 70},
	{title: "offset", w: 9, right: true, prio: 80},
	{title: "what", w: 15, prio: 100},
	{title: "detail", w: 20, prio: 90, flex: true},
}

// renderViolations draws the violations pane's body: the list, then what
// smux does about the selected entry.
func (m *Model) renderViolations(w, h int) []string {
	st, v := &m.st, &m.viol
	if h <= 0 {
		return nil
	}
	if len(v.list) == 0 {
		return []string{newLine(w).add(" no violations or anomalies: every frame so far is one smux accepts as is", st.dim).String()}
	}
	rows := max(h-violFooter, 1)
	ws := layoutColumns(violationColumns, w)
	out := []string{tableHeading(st, violationColumns, ws, w)}
	top := scroll(v.top, v.idx, len(v.list), rows-1)
	for i := top; i < len(v.list) && len(out) < rows; i++ {
		e := &v.list[i]
		ns := st.warn
		if e.framing {
			ns = st.bad
		}
		cells := []cell{
			{e.at.In(m.loc).Format(timeLayout), style{}},
			{strconv.FormatUint(e.session, 10), style{}},
			{e.dir.String(), style{}},
			{strconv.FormatInt(e.offset, 10), style{}},
			{e.name, ns},
			{sanitize(e.detail), style{}},
		}
		out = append(out, tableRow(st, violationColumns, ws, cells, w, i == v.idx, true))
	}
	if h > violFooter {
		for len(out) < rows {
			out = append(out, newLine(w).String())
		}
		e := &v.list[v.idx]
		for _, s := range wrapText("smux: "+e.smux, w) {
			if len(out) < h {
				out = append(out, newLine(w).add(s, st.bold).String())
			}
		}
	}
	return out
}

// violationsTitle is the violations pane's title.
func (m *Model) violationsTitle() string {
	s := m.snap
	return "Violations · " + grouped(s.Violations) + " framing · " + grouped(s.Anomalies) + " anomalies · enter: go to it · v/esc: close"
}

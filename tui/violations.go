package tui

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/printable"
	"github.com/muxtop/muxtop/wirekind"
)

// violation is one line of the violations pane: a framing violation or an
// anomaly of some session.
type violation struct {
	at      time.Time
	session uint64
	dir     live.Dir
	offset  int64
	header  decoder.Header
	sid     uint32 // the stream the frame names
	name    string
	detail  string
	smux    string // what smux (or yamux, for a yamux session) does about it
	lib     string // "smux" or "yamux"; "" where smux is not a mux's reaction but live.NotMuxText
	framing bool
	notMux  bool // a framing violation that is not a mux's (live.FramingInfo.NotMux)
}

// violationsPane lists every framing violation and anomaly the snapshot
// holds, oldest first; enter goes to the selected one.
type violationsPane struct {
	overlayList[violation]
	// counted is the snapshot's violation and anomaly count when list was made.
	counted uint64
	// kinds counts list's entries by kind (entryKind).
	kinds [numEntryKinds]int
	// libs names the library whose rules the snapshot's sessions are read
	// by: smux, yamux, or both, for the pane's words when it is empty.
	libs string
}

// entryKind is what an entry of the violations list is, as the pane's
// title counts them.
type entryKind uint8

const (
	kindFraming entryKind = iota // a mux's framing violation
	kindAnomaly                  // an anomaly
	kindNotMux                   // a framing violation that is another protocol's bytes
	numEntryKinds
)

// kind returns e's entryKind.
func (e *violation) kind() entryKind {
	switch {
	case e.notMux:
		return kindNotMux
	case e.framing:
		return kindFraming
	}
	return kindAnomaly
}

func newViolationsPane(keys *keyMap) violationsPane {
	return violationsPane{overlayList: overlayList[violation]{keys: keys}}
}

// dataRows is how many entries the pane shows at once, under its heading
// and above the explanation of the selected one, and less the line that
// says how many more there are where they do not all fit (cueRows).
func (p *violationsPane) dataRows() int { return cueRows(len(p.list), max(p.h-2-violFooter-1, 0)) }

// Update handles snapshots (the root sends them while the pane is open)
// and the pane's keys.
func (p violationsPane) Update(msg tea.Msg) (violationsPane, tea.Cmd) {
	if v, ok := p.update(msg, p.dataRows(), p.collect); ok {
		return p, emit(violationChosenMsg{v: v})
	}
	return p, nil
}

// violFooter is the lines under the list that explain the selected entry.
const violFooter = 3

// collect rebuilds the list from the snapshot when its counts changed.
func (v *violationsPane) collect() {
	snap := v.snap
	v.libs = sessionLibs(snap.Sessions)
	n := snap.Violations + snap.Anomalies
	if v.list != nil && n == v.counted {
		return
	}
	v.counted = n
	v.list = make([]violation, 0, len(v.list))
	for _, ss := range snap.Sessions {
		for _, f := range ss.Framing {
			e := violation{
				at: f.At, session: ss.ID, dir: f.Dir, offset: f.Offset, header: f.Header, sid: f.Header.StreamID(),
				name: f.Code.String(), detail: f.Detail, smux: f.Code.SmuxReaction(), lib: "smux", framing: true,
			}
			if f.Proto == live.Yamux {
				e.header, e.sid, e.name, e.smux, e.lib = decoder.Header{}, f.YamuxHeader.StreamID(), f.YamuxCode.String(), f.YamuxCode.YamuxReaction(), "yamux"
			}
			if k := f.NotMux(); k != wirekind.Unknown { // another protocol: no mux reacts
				e.smux, e.lib, e.notMux = live.NotMuxText(k, f.Dir, f.Proto), "", true
			}
			v.list = append(v.list, e)
		}
		for _, a := range ss.Anomalies {
			e := violation{
				at: a.At, session: ss.ID, dir: a.Dir, offset: a.Offset, header: a.Header, sid: a.Header.StreamID(),
				name: a.Anomaly.String(), detail: a.Header.String(), smux: a.Anomaly.SmuxReaction(), lib: "smux",
			}
			if a.Proto == live.Yamux {
				e.header, e.sid, e.detail, e.smux, e.lib = decoder.Header{}, a.YamuxHeader.StreamID(), a.YamuxHeader.String(), a.Anomaly.YamuxReaction(), "yamux"
			}
			v.list = append(v.list, e)
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
	v.kinds = [numEntryKinds]int{}
	for i := range v.list {
		v.kinds[v.list[i].kind()]++
	}
	v.clamp(len(v.list), v.dataRows())
}

// View draws the pane in w×h cells: a function of its state alone.
func (p violationsPane) View(th *theme, w, h int) string {
	none := " no violations or anomalies: every frame so far is one " + cmp.Or(p.libs, "smux") + " accepts as is"
	return p.view(th, p.title(), none, w, h, func(w, h int) []string { return p.body(th, w, h) })
}

// sessionLibs names the libraries sessions speak, as the pane words what
// accepts their frames: "yamux" when every one is a yamux session, "smux"
// when none is, "smux or yamux, each its own session's," when both.
func sessionLibs(sessions []*live.SessionSnap) string {
	var smux, yamux bool
	for _, ss := range sessions {
		if ss.Proto == live.Yamux {
			yamux = true
		} else {
			smux = true
		}
		if smux && yamux {
			return "smux or yamux, each its own session's,"
		}
	}
	if yamux {
		return "yamux"
	}
	return "smux"
}

// body is the list, then what smux does about the selected entry. Where
// the list is longer than its rows, the last says how many more are above
// and below, and how to get to them, as the other panes do.
func (p *violationsPane) body(th *theme, w, h int) []string {
	st := &th.styles
	rows := max(h-violFooter, 1)
	entries := cueRows(len(p.list), rows-1)
	out := p.table(st, violationColumns, w, len(p.list), entries+1, func(i int) []cell { return violationCells(th, &p.list[i]) })
	if entries < rows-1 {
		from, to := p.shown(len(p.list), entries)
		how := "j/k or PgDn"
		if to == len(p.list) {
			how = "k or PgUp"
		}
		// Named as what they are: the rows hidden may be anomalies only.
		hidden := p.kinds
		for i := from; i < to; i++ {
			hidden[p.list[i].kind()]--
		}
		out = append(out, newLine(w).add(" "+moreWords(from, len(p.list)-to, moreEntries(hidden[kindFraming], hidden[kindAnomaly], hidden[kindNotMux]), how), st.dim).String())
	}
	if h > violFooter {
		for len(out) < rows {
			out = append(out, newLine(w).String())
		}
		e := &p.list[p.idx]
		what := e.smux
		if e.lib != "" {
			what = e.lib + ": " + what
		}
		for _, s := range wrapText(what, w) {
			if len(out) < h {
				out = append(out, newLine(w).add(s, st.bold).String())
			}
		}
	}
	return out
}

// moreEntries words the entries of the violations list that it does not
// show, as the title counts them: "violations" or "anomalies" where all
// are of that kind (the arrows give the number), else how many there are
// of each kind, "(1 violation, 31 anomalies, 1 not a mux)".
func moreEntries(framing, anomalies, notMux int) string {
	switch {
	case anomalies == 0 && notMux == 0:
		if framing == 1 {
			return "violation"
		}
		return "violations"
	case framing == 0 && notMux == 0:
		if anomalies == 1 {
			return "anomaly"
		}
		return "anomalies"
	}
	var parts []string
	if framing > 0 {
		parts = append(parts, plural(uint64(framing), "violation"))
	}
	switch {
	case anomalies == 1:
		parts = append(parts, "1 anomaly")
	case anomalies > 1:
		parts = append(parts, count(uint64(anomalies))+" anomalies")
	}
	if notMux > 0 {
		parts = append(parts, count(uint64(notMux))+" not a mux")
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

var violationColumns = []column{
	{title: "time", w: 15, prio: 60},
	{title: "#", w: 3, right: true, prio: 100},
	{title: "dir", w: 3, prio: 70},
	{title: "offset", w: 9, right: true, prio: 80},
	{title: "what", w: 15, prio: 100},
	{title: "detail", w: 20, prio: 90, flex: true},
}

// violationCells is e's row.
func violationCells(th *theme, e *violation) []cell {
	st := &th.styles
	ns := st.warn
	if e.framing && !e.notMux {
		ns = st.bad
	}
	return []cell{
		{e.at.In(th.loc).Format(live.TimeLayout), style{}},
		{strconv.FormatUint(e.session, 10), style{}},
		{e.dir.String(), style{}},
		{strconv.FormatInt(e.offset, 10), style{}},
		{e.name, ns},
		{printable.Text(e.detail), style{}},
	}
}

// title is the pane's title.
func (p *violationsPane) title() string {
	var framing, anomalies, notMux uint64
	if p.snap != nil {
		framing, anomalies, notMux = p.snap.Violations-p.snap.NotMux, p.snap.Anomalies, p.snap.NotMux
	}
	other := ""
	if notMux > 0 {
		other = " · " + count(notMux) + " not a mux"
	}
	return "Violations · " + count(framing) + " framing · " + count(anomalies) + " anomalies" + other + " · enter: go to it · v/esc: close"
}

// matchViolation returns the predicate that finds v's record in history.
func matchViolation(v violation) func(*live.Record) bool {
	return func(r *live.Record) bool {
		if r.Session != v.session || r.Dir != v.dir || r.Offset != v.offset {
			return false
		}
		if v.framing {
			return r.Kind == live.FramingViolation
		}
		return r.Kind == live.FrameRecord && r.Anomaly != 0
	}
}

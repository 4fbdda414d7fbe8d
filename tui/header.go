package tui

import (
	"strconv"
	"strings"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/printable"
)

// noticeRecent is how long a notice stays red.
const noticeRecent = 10 * time.Second

// flashFor is how long a key's one-line answer stays.
const flashFor = 3 * time.Second

// header is what the header shows besides the snapshot.
type header struct {
	title string
	snap  *live.Snapshot // the view's picture, frozen while paused
	now   time.Time      // the latest read, paused or not: the clock runs while the view pauses
	rate  float64        // frames per second, all sessions
	// The view's state.
	paused bool
	behind uint64 // records captured since the pause
	follow bool
	done   bool // what is watched has no more to give: a capture read whole
	filter string
	// hasStatus says the caller gives a status line, status is its figures.
	hasStatus bool
	status    live.Status
	// idle is how long, by the wall clock, nothing has come (Options.Idle):
	// 0, or the header says so, and the rates are the last packet's.
	idle time.Duration
	// flash is a key's answer, for the messages line.
	flash string
	// leakAfter is the leak threshold, for the count of old streams
	// shown when no evaluation has looked for leaks.
	leakAfter time.Duration
	// leakGrowth is how the suspected leaks grew over the last minute.
	leakGrowth growth
	// resolved is how many findings resolved lately (resolvedCount of
	// snap), and halfClosed how many suspected leaks are half-closed
	// (halfClosedLeaks), counted once per snapshot: the view does not
	// walk the findings.
	resolved, halfClosed int
}

// The header's lines, top to bottom:
//
//   - what is watched and the totals: uptime, sessions, open streams,
//     frames/s, suspected leaks, stalls;
//   - the counts bar: frames per command, framing violations, anomalies,
//     records dropped, bytes each way; at its right end the view's state,
//     the filter, help;
//   - the title (mode and addresses), when the first line has no room for it;
//   - the caller's status line, such as the demo's load generator's, when
//     there is one;
//   - the messages: a key's answer, then the latest notice.
//
// Each line is made of whole fields. When a line is short it first takes
// its compact form ("viol" for "violations"), then drops whole fields,
// the least important first (fieldLine); a field is never cut. The
// messages line is the only one that is cut, at a word, with "…".

// statsBudget is the room the header's first line keeps for the totals
// after the title; a title longer than that goes on a line of its own.
// It is what the totals take in their short forms beside a leak being
// hunted (open streams, suspected leaks and their kinds, a stall,
// findings by severity, those resolved, the key that lists them,
// sessions, frames/s, the uptime): the demo's title, at 160 columns,
// took the room of the uptime and the frames/s.
const statsBudget = 110

// rateCells is the most cells rate takes; perTimeCells, growth.perTime
// ("-12.4k/min"); overCells, the longest growth.over.
const (
	rateCells    = 5
	perTimeCells = 1 + rateCells + len("/min")
	overCells    = "the last minute"
)

// titleApart reports whether the title needs a line of its own at width w.
func titleApart(title string, w int) bool {
	return title != "" && 10+width(title)+3+statsBudget > w
}

// headerLines returns how many lines the header takes on a w×h screen;
// status says the caller gives a status line. It depends on the size only,
// so that the panes below keep their place.
func headerLines(title string, status bool, w, h int) int {
	n := 3 // the totals, the counts, the messages
	if titleApart(title, w) {
		n++
	}
	if status {
		n++
	}
	if h < 16 {
		n = 2
	}
	return max(min(n, h), 0)
}

// seg is a piece of a field in one style.
type seg struct {
	s  string
	st style
}

// field is one whole piece of a header line: shown whole or not at all.
type field struct {
	long  []seg
	short []seg // the compact form; nil: as long
	prio  int   // the least important are dropped first
	keep  bool  // never dropped
	// glued says the field goes on the one before it with no separator,
	// a part of it that may be dropped alone: its prio is at most that
	// one's, so that it never shows without it.
	glued bool
	// grow is the cells the field's value may grow by, in its long and
	// its short form: counted as taken when the line chooses its form
	// and its fields, so that a value that changes (frames/s going
	// 0 ↔ 2.0 with each keepalive) does not flip the line between them.
	grow [2]int
}

func (f *field) segs(short bool) []seg {
	if short && f.short != nil {
		return f.short
	}
	return f.long
}

func segsWidth(ss []seg) int {
	n := 0
	for _, s := range ss {
		n += width(s.s)
	}
	return n
}

// fieldLine draws a line of w cells: the left fields from the left,
// separated by sep[0] in their long forms, and the right fields at the
// right end. If not all fit, the fields take their short forms, separated
// by sep[1], and the least important are dropped whole until the rest fit.
func fieldLine(left, right []field, w int, sep [2]string) string {
	var kept []bool
	short := false
	for _, short = range []bool{false, true} {
		items := make([]shedItem, 0, len(left)+len(right))
		for i := range left {
			w := segsWidth(left[i].segs(short)) + left[i].grow[b2i(short)]
			if !left[i].glued {
				w += width(sep[b2i(short)])
			}
			items = append(items, shedItem{w: w, prio: left[i].prio, keep: left[i].keep})
		}
		for i := range right {
			items = append(items, shedItem{w: segsWidth(right[i].segs(short)) + 1, prio: right[i].prio, keep: right[i].keep})
		}
		var used int
		kept, used = shed(items, w-1) // and the leading blank
		if short || used == fieldsWidth(items) {
			break
		}
	}
	l := newLine(w)
	l.text(" ")
	first := true
	for i := range left {
		if !kept[i] {
			continue
		}
		if !first && !left[i].glued {
			l.text(sep[b2i(short)])
		}
		first = false
		for _, s := range left[i].segs(short) {
			l.add(s.s, s.st)
		}
	}
	rw := 0
	for i := range right {
		if kept[len(left)+i] {
			rw += segsWidth(right[i].segs(short)) + 1
		}
	}
	if rw > 0 {
		l.spaces(max(w-l.w-rw, 1))
		for i := range right {
			if !kept[len(left)+i] {
				continue
			}
			for _, s := range right[i].segs(short) {
				l.add(s.s, s.st)
			}
			l.text(" ")
		}
	}
	return l.String()
}

func fieldsWidth(items []shedItem) int {
	n := 0
	for _, it := range items {
		n += it.w
	}
	return n
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// viewHeader draws the header's lines, at most n.
func viewHeader(th *theme, hd *header, w, n int) []string {
	if n <= 0 || hd.snap == nil {
		return nil
	}
	apart := titleApart(hd.title, w)
	out := []string{totalsLine(th, hd, apart, w), countsLine(th, hd, w)}
	if apart {
		out = append(out, fieldLine([]field{{long: []seg{{s: hd.title}}, keep: true}}, nil, w, [2]string{}))
	}
	if hd.hasStatus {
		out = append(out, statusLine(hd.status, w))
	}
	out = append(out, messagesLine(th, hd, w))
	return out[:min(n, len(out))]
}

// totalsLine is the first line: muxtop, the title if it fits, and the
// totals. In order of importance, for a user chasing a leak: open
// findings by severity, open streams, suspected leaks, stalls, how many
// of the leaks are half-closed, findings resolved lately, the key that lists the findings, sessions, frames/s,
// the uptime. So at 80 columns open streams, leaks and findings stay.
func totalsLine(th *theme, hd *header, apart bool, w int) string {
	snap := hd.snap
	fields := []field{{long: []seg{{s: "muxtop", st: th.title}}, keep: true}}
	if !apart && hd.title != "" {
		fields = append(fields, field{long: []seg{{s: hd.title}}, keep: true})
	}
	plain := func(long, short string, prio int) field {
		return field{long: []seg{{s: long}}, short: []seg{{s: short}}, prio: prio}
	}
	all := uint64(len(snap.Sessions)) + snap.Forgotten.Sessions
	alive := count(uint64(snap.LiveSessions)) + "/"
	rates := plain(rate(hd.rate)+" frames/s", rate(hd.rate)+" fr/s", 60)
	if hd.idle > 0 {
		// The capture's clock stood still with its input: its rates are
		// the last packet's, which a silent service must not look busy by.
		rates = plain(rate(hd.rate)+" frames/s at the last packet", rate(hd.rate)+" fr/s at last pkt", 60)
	}
	// A rate takes up to rateCells: room kept for it, so that a keepalive
	// on an idle session does not switch the line's wording.
	g := rateCells - width(rate(hd.rate))
	rates.grow = [2]int{g, g}
	fields = append(fields,
		plain("up "+clock(hd.now.Sub(snap.Started)), "up "+clock(hd.now.Sub(snap.Started)), 40),
		plain(alive+plural(all, "session"), alive+count(all)+" sess", 80),
		plain(plural(uint64(snap.OpenStreams), "open stream"), count(uint64(snap.OpenStreams))+" open", 92),
		rates,
	)
	if hd.idle > 0 {
		fields = append(fields, field{long: []seg{{"no input for " + wholeSeconds(hd.idle), th.warn}}, keep: true})
	}
	// The suspected leaks are the open LEAK findings' (snap.Leaks), which
	// the findings pane lists. Where nothing has evaluated the findings
	// yet, the age alone is all there is, and said as such.
	switch {
	case snap.Leaks > 0:
		fields = append(fields, field{long: []seg{{plural(uint64(snap.Leaks), "suspected leak"), th.warn}},
			short: []seg{{count(uint64(snap.Leaks)) + " leak?", th.warn}}, prio: 90})
		// Of those, the half-closed ones (one side sent FIN, the other
		// never will: a certain leak), apart from those open and idle
		// with no FIN from either side (perhaps a pool), in the LEAK
		// finding's and the streams pane's word for them; dropped before
		// the count where the line is short. "all" where no leak is of
		// the other kind: two equal numbers would have to be compared.
		if n := hd.halfClosed; n > 0 {
			hc := " (" + count(uint64(n)) + " half-closed)"
			if n == snap.Leaks {
				hc = " (all half-closed)"
			}
			fields = append(fields, field{long: []seg{{hc, th.warn}}, prio: 87, glued: true})
		}
		// And how fast they grow, over the last minute: what a user would
		// time the count for; no rate once the count has held for
		// trendMin (a burst long over). Of the count's prio: the two go
		// together.
		if g := hd.leakGrowth; g.told() && !g.steady() && g.perTime() != "" {
			grow := perTimeCells - width(g.perTime())
			fields = append(fields, field{long: []seg{{", " + g.perTime() + " over " + g.over(), th.warn}},
				short: []seg{{" " + g.perTime(), th.warn}}, prio: 90, glued: true,
				grow: [2]int{grow + max(width(overCells)-width(g.over()), 0), grow}})
		}
	case snap.Evaluated.IsZero() && snap.Aged > 0:
		fields = append(fields, field{long: []seg{{plural(uint64(snap.Aged), "stream") + " open longer than " + dur(hd.leakAfter), th.warn}},
			short: []seg{{count(uint64(snap.Aged)) + " open>" + dur(hd.leakAfter), th.warn}}, prio: 90})
	}
	if snap.Stalls > 0 {
		fields = append(fields, field{long: []seg{{count(uint64(snap.Stalls)) + " stalled", th.bad}}, prio: 89})
	}
	// Open findings by severity: what muxtop names as wrong, first of all,
	// and the key that lists them, for a user who does not know it yet.
	n := 0
	for sev := int(live.NumSeverities) - 1; sev >= 0; sev-- {
		c := snap.FindingCounts[sev]
		n += c
		if c > 0 {
			sty := th.warn
			if live.Severity(sev) == live.Critical {
				sty = th.bad
			}
			fields = append(fields, field{long: []seg{{plural(uint64(c), live.Severity(sev).String()), sty}},
				short: []seg{{count(uint64(c)) + " " + live.Severity(sev).String()[:4], sty}}, prio: 95})
		}
	}
	// Findings that came and went, such as those of sessions a client
	// redials (each ends on its problem), are there to see too.
	recent := hd.resolved
	if recent > 0 {
		fields = append(fields, field{long: []seg{{count(uint64(recent)) + " resolved", th.warn}}, prio: 86})
	}
	if n+recent > 0 {
		// A hint: "? help" on the counts line says it too.
		fields = append(fields, field{long: []seg{{s: "! lists them"}}, short: []seg{{s: "! lists"}}, prio: 83})
	}
	return fieldLine(fields, nil, w, [2]string{" · ", " · "})
}

// halfClosedLeaks counts, of the suspected leaks (Snapshot.Leaks, the
// open LEAK findings' counts), the half-closed streams: those the open
// LEAK findings with a direction, the one with no FIN, count.
func halfClosedLeaks(snap *live.Snapshot) int {
	n := 0
	for _, f := range snap.Findings {
		if f.Code == live.CodeLeak && f.HasDir {
			n += int(f.Evidence.Count)
		}
	}
	return n
}

// wholeSeconds is d as dur gives it, but in whole seconds under 10 s
// too ("3s", not "3.0s"): a silence counted by the second.
func wholeSeconds(d time.Duration) string {
	if d < time.Minute {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return dur(d)
}

// countsLine is the counts bar. In order of importance: the view's state
// (never dropped), framing violations, anomalies, records dropped, the
// filter, SYN and FIN, PSH, the bytes each way, the help key, NOP and UPD.
func countsLine(th *theme, hd *header, w int) string {
	st := &th.styles
	t := &hd.snap.Totals
	prios := [decoder.NumCmds]int{decoder.SYN: 50, decoder.FIN: 50, decoder.PSH: 40, decoder.NOP: 20, decoder.UPD: 20}
	var left []field
	// smux's commands, unless only yamux frames were seen: its SYN and FIN
	// are flags, and "SYN 0" would read as no stream opened.
	yamuxSeen := t.TypeFrames != [2][yamux.NumTypes]uint64{}
	if !yamuxSeen || t.Frames != [2][decoder.NumCmds]uint64{} {
		for c := range decoder.Cmd(decoder.NumCmds) {
			left = append(left, field{long: []seg{{c.String(), cmdStyle(st, c)}, {s: " " + count(t.Cmd(c))}}, prio: prios[c]})
		}
	}
	// yamux's types, once a yamux frame was seen.
	if yamuxSeen {
		names := [yamux.NumTypes]string{"DATA", "WND", "PING", "GOAWAY"}
		for ty := range yamux.Type(yamux.NumTypes) {
			left = append(left, field{long: []seg{{names[ty], typeStyle(st, ty)}, {s: " " + count(t.Type(ty))}}, prio: 45 - 5*int(ty)})
		}
	}
	num := func(n uint64, sty style) seg {
		if n == 0 {
			sty = style{}
		}
		return seg{count(n), sty}
	}
	// The framing violations and the anomalies apart, under the names
	// the plain summary ("violations 1 framing, 2 anomalies") and the
	// metrics (muxtop_violations_total, muxtop_anomalies_total) give
	// them: one sum under "violations" said more than either counts.
	// Another protocol's bytes from the first byte (a TLS service through
	// attach) are no mux's violation: counted apart, not in red.
	viol, anom, drop := hd.snap.Violations-hd.snap.NotMux, hd.snap.Anomalies, hd.snap.History.Dropped
	left = append(left,
		field{long: []seg{{s: "violations "}, num(viol, st.bad)}, short: []seg{{s: "viol "}, num(viol, st.bad)}, prio: 90},
		field{long: []seg{{s: "anomalies "}, num(anom, st.warn)}, short: []seg{{s: "anom "}, num(anom, st.warn)}, prio: 88},
		field{long: []seg{{s: "dropped "}, num(drop, st.warn)}, short: []seg{{s: "drop "}, num(drop, st.warn)}, prio: 85},
	)
	if n := hd.snap.NotMux; n > 0 {
		left = append(left, field{long: []seg{{s: "not a mux "}, num(n, st.warn)}, short: []seg{{s: "nomux "}, num(n, st.warn)}, prio: 80})
	}
	left = append(left,
		field{long: []seg{{s: live.ClientToServer.String() + size(hd.snap.WireBytes(live.ClientToServer)) + " " +
			live.ServerToClient.String() + size(hd.snap.WireBytes(live.ServerToClient))}}, prio: 30},
	)
	var state []seg
	switch {
	case hd.paused:
		s := "[paused"
		if hd.behind > 0 {
			s += " +" + count(hd.behind)
		}
		state = []seg{{s + "]", st.warn}}
	case hd.done:
		state = []seg{{"[read]", st.good}}
	case hd.idle > 0:
		state = []seg{{"[no input]", st.warn}}
	case hd.follow:
		state = []seg{{"[follow]", st.good}}
	default:
		state = []seg{{"[live]", st.good}}
	}
	right := []field{{long: state, keep: true}}
	if hd.filter != "" {
		right = append(right, field{long: []seg{{s: "filter "}, {hd.filter, st.match}}, prio: 80})
	}
	right = append(right, field{long: []seg{{s: "? help"}}, prio: 25})
	return fieldLine(left, right, w, [2]string{"  ", " "})
}

// statusLine is the watched system's figures, each a field; the last
// ones go first when the line is short.
func statusLine(status live.Status, w int) string {
	fields := make([]field, 0, len(status))
	for i, f := range status {
		var v string
		switch x := f.Value.(type) {
		case int:
			v = count(uint64(max(x, 0)))
		case int64:
			v = count(uint64(max(x, 0)))
		case uint64:
			v = count(x)
		case time.Duration:
			v = dur(x)
		case time.Time:
			v = x.Format(live.DateTimeLayout)
		case string:
			v = x
		default:
			continue
		}
		text := printable.Text(v + f.Unit)
		if f.Label != "" {
			text = printable.Text(f.Label) + " " + text
		}
		fields = append(fields, field{long: []seg{{s: text}}, prio: -i})
	}
	return fieldLine(fields, nil, w, [2]string{"  ", "  "})
}

// messagesLine is a key's answer, then the latest notice, red while
// recent: cut at a word, with "…", when longer than the line.
func messagesLine(th *theme, hd *header, w int) string {
	st := &th.styles
	l := newLine(w)
	l.text(" ")
	if hd.flash != "" {
		l.add(clip(hd.flash, l.room()-1), st.bold).text("  ")
	}
	if ns := hd.snap.Notices; len(ns) > 0 && l.room() > 12 {
		nt := ns[len(ns)-1]
		sty := st.dim
		if hd.now.Sub(nt.At) < noticeRecent {
			sty = st.bad
		}
		l.add(clip(nt.At.In(th.loc).Format(time.TimeOnly)+" "+printable.Text(nt.Text), l.room()-1), sty)
	}
	return l.String()
}

// clip returns plain text s in at most w cells: whole, or cut after its
// last word that fits, with "…".
func clip(s string, w int) string {
	if width(s) <= w {
		return s
	}
	if w <= 1 {
		return cut("…", w)
	}
	c := cut(s, w-1)
	if i := strings.LastIndexByte(c, ' '); i > 0 {
		c = strings.TrimRight(c[:i], " ")
	}
	return c + "…"
}

// typeStyle is the colour of a yamux type: WINDOW_UPDATE magenta, GO_AWAY red.
func typeStyle(st *styles, t yamux.Type) style {
	switch t {
	case yamux.WindowUpdate:
		return st.upd
	case yamux.GoAway:
		return st.bad
	}
	return style{}
}

// flagsStyle is the colour of yamux flags, as of the smux commands they
// stand for: SYN green, FIN yellow, RST red.
func flagsStyle(st *styles, f yamux.Flags) style {
	switch {
	case f&yamux.RST != 0:
		return st.bad
	case f&yamux.SYN != 0:
		return st.syn
	case f&yamux.FIN != 0:
		return st.fin
	}
	return style{}
}

// cmdStyle is the colour of a command: SYN green, FIN yellow, UPD magenta.
func cmdStyle(st *styles, c decoder.Cmd) style {
	switch c {
	case decoder.SYN:
		return st.syn
	case decoder.FIN:
		return st.fin
	case decoder.UPD:
		return st.upd
	}
	return style{}
}

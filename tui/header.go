package tui

import (
	"time"

	"github.com/muxtop/muxtop/decoder"
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
	filter string
	// The messages line: a key's answer, the caller's status line, the
	// latest notice.
	flash, status string
}

// statsBudget is the room the header's first line keeps for the totals
// after the title; a title longer than that goes on a line of its own.
const statsBudget = 60

// titleApart reports whether the title needs a line of its own at width w.
func titleApart(title string, w int) bool {
	return title != "" && 10+width(title)+3+statsBudget > w
}

// headerLines returns how many lines the header takes on a w×h screen:
// what is watched and the totals; the counts and the view's state; the
// title when it does not fit the first line; the messages. It depends on
// the size only, so that the panes below keep their place.
func headerLines(title string, w, h int) int {
	n := 3
	if titleApart(title, w) {
		n++
	}
	if h < 16 {
		n = 2
	}
	return max(min(n, h), 0)
}

// viewHeader draws the header's lines, at most n.
func viewHeader(th *theme, hd *header, w, n int) []string {
	if n <= 0 || hd.snap == nil {
		return nil
	}
	st := &th.styles
	l := newLine(w)
	l.add(" muxtop", st.title)
	apart := titleApart(hd.title, w)
	if !apart && hd.title != "" {
		l.text(" · " + hd.title)
	}
	stats := statsLine(th, hd, false)
	if l.w+stats.w > w {
		stats = statsLine(th, hd, true)
	}
	if l.w+stats.w <= w {
		l.raw(stats.b.String(), stats.w)
	} else {
		l.text(ansiStrip(stats.b.String()))
	}
	out := []string{l.String()}

	// The right end (state, filter, help) must stay visible: the counts give way.
	right := newLine(w)
	switch {
	case hd.paused:
		right.add("[paused", st.warn)
		if hd.behind > 0 {
			right.add(" +"+count(hd.behind), st.warn)
		}
		right.add("]", st.warn)
	case hd.follow:
		right.add("[follow]", st.good)
	default:
		right.add("[live]", st.good)
	}
	if hd.filter != "" {
		right.text(" filter ").add(hd.filter, st.match)
	}
	right.text(" ? help ")
	out = append(out, countsLine(th, hd.snap, w-right.w)+right.b.String())

	if apart {
		out = append(out, newLine(w).text(" "+hd.title).String())
	}
	l = newLine(w)
	l.text(" ")
	if hd.flash != "" {
		l.add(hd.flash, st.bold).text("  ")
	}
	if hd.status != "" {
		l.text(hd.status + "  ")
	}
	if ns := hd.snap.Notices; len(ns) > 0 {
		nt := ns[len(ns)-1]
		sty := st.dim
		if hd.now.Sub(nt.At) < noticeRecent {
			sty = st.bad
		}
		l.add(nt.At.In(th.loc).Format(time.TimeOnly)+" "+printable.Text(nt.Text), sty)
	}
	out = append(out, l.String())
	return out[:min(n, len(out))]
}

// statsLine draws the totals after "muxtop", compactly if asked.
func statsLine(th *theme, hd *header, compact bool) *line {
	snap := hd.snap
	l := newLine(1 << 20)
	l.text(" · up " + clock(hd.now.Sub(snap.Started)))
	sessions := count(uint64(snap.LiveSessions)) + "/" + plural(uint64(len(snap.Sessions))+snap.Forgotten.Sessions, "session")
	open := plural(uint64(snap.OpenStreams), "open stream")
	fps := rate(hd.rate) + " frames/s"
	leaks := plural(uint64(snap.Leaks), "suspected leak")
	if compact {
		sessions = count(uint64(snap.LiveSessions)) + "/" + count(uint64(len(snap.Sessions))+snap.Forgotten.Sessions) + " sess"
		open = count(uint64(snap.OpenStreams)) + " open"
		fps = rate(hd.rate) + " fr/s"
		leaks = count(uint64(snap.Leaks)) + " leak?"
	}
	l.text(" · " + sessions + " · " + open + " · " + fps)
	if snap.Leaks > 0 {
		l.text(" · ").add(leaks, th.warn)
	}
	return l
}

// countsLine draws the frames per command, the violations, the records
// dropped and the bytes each way in w cells, in the longest form that fits.
func countsLine(th *theme, snap *live.Snapshot, w int) string {
	st := &th.styles
	t := &snap.Totals
	viol, drop := snap.Violations+snap.Anomalies, snap.History.Dropped
	for form := 0; ; form++ {
		sep, vname, dname := "  ", "violations ", "dropped "
		if form > 0 {
			sep, vname, dname = " ", "viol ", "drop "
		}
		l := newLine(1 << 20)
		l.text(" ")
		for c := range decoder.Cmd(decoder.NumCmds) {
			l.add(c.String(), cmdStyle(st, c)).text(" " + count(t.Cmd(c)) + sep)
		}
		l.text(vname)
		if viol > 0 {
			l.add(count(viol), st.bad)
		} else {
			l.text("0")
		}
		if form < 3 || drop > 0 {
			l.text(sep + dname)
			if drop > 0 {
				l.add(count(drop), st.warn)
			} else {
				l.text("0")
			}
		}
		if form < 2 {
			l.text(sep + "→" + size(t.BytesDir(live.ClientToServer)) + " ←" + size(t.BytesDir(live.ServerToClient)))
		}
		if l.w <= w || form == 3 {
			if l.w > w {
				return newLine(max(w, 0)).text(cut(ansiStrip(l.b.String()), w)).String()
			}
			return newLine(max(w, 0)).raw(l.b.String(), l.w).String()
		}
	}
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

package tui

import (
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/live"
)

// noticeRecent is how long a notice stays red.
const noticeRecent = 10 * time.Second

// flashFor is how long a key's one-line answer stays.
const flashFor = 3 * time.Second

// headerLines returns the lines of the header: what is watched and the
// totals; the counts and the view's state; the title when it does not fit
// the first line; the status, a key's answer and the latest notice.
func (m *Model) headerLines() int {
	n := 2
	if m.titleApart() {
		n++
	}
	if m.status != "" || len(m.snap.Notices) > 0 || m.flash != "" {
		n++
	}
	if m.height < 16 {
		n = min(n, 2)
	}
	return n
}

// titleApart reports whether the title needs a line of its own.
func (m *Model) titleApart() bool {
	return m.opts.Title != "" && 10+width(m.opts.Title)+3+m.statsLine(1<<20, true).w > m.width
}

// statsLine draws the totals after "muxtop", compactly if asked.
func (m *Model) statsLine(w int, compact bool) *line {
	snap := m.snap
	l := newLine(w)
	l.text(" · up " + clock(snap.At.Sub(snap.Started)))
	sessions := grouped(uint64(snap.LiveSessions)) + "/" + plural(uint64(len(snap.Sessions))+snap.Forgotten.Sessions, "session")
	open := plural(uint64(snap.OpenStreams), "open stream")
	fps := rate(m.rates.total) + " frames/s"
	leaks := plural(uint64(m.snap.Leaks), "suspected leak")
	if compact {
		sessions = grouped(uint64(snap.LiveSessions)) + "/" + grouped(uint64(len(snap.Sessions))+snap.Forgotten.Sessions) + " sess"
		open = grouped(uint64(snap.OpenStreams)) + " open"
		fps = rate(m.rates.total) + " fr/s"
		leaks = grouped(uint64(m.snap.Leaks)) + " leak?"
	}
	l.text(" · " + sessions + " · " + open + " · " + fps)
	if m.snap.Leaks > 0 {
		l.text(" · ").add(leaks, m.st.warn)
	}
	return l
}

// renderHeader draws the header lines.
func (m *Model) renderHeader(w int) []string {
	st, snap := &m.st, m.snap
	l := newLine(w)
	l.add(" muxtop", st.title)
	apart := m.titleApart()
	if !apart && m.opts.Title != "" {
		l.text(" · " + m.opts.Title)
	}
	stats := m.statsLine(1<<20, false)
	if l.w+stats.w > w {
		stats = m.statsLine(1<<20, true)
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
	case m.paused:
		right.add("[paused", st.warn)
		if m.behind > 0 {
			right.add(" +"+count(m.behind), st.warn)
		}
		right.add("]", st.warn)
	case m.follow:
		right.add("[follow]", st.good)
	default:
		right.add("[live]", st.good)
	}
	if m.filter != nil {
		right.text(" filter ").add(m.filter.text, st.match)
	}
	right.text(" ? help ")
	out = append(out, m.countsLine(w-right.w)+right.b.String())

	if apart {
		out = append(out, newLine(w).text(" "+m.opts.Title).String())
	}
	if m.status != "" || len(snap.Notices) > 0 || m.flash != "" {
		l = newLine(w)
		l.text(" ")
		if m.flash != "" {
			l.add(m.flash, st.bold).text("  ")
		}
		if m.status != "" {
			l.text(m.status + "  ")
		}
		if n := len(snap.Notices); n > 0 {
			nt := snap.Notices[n-1]
			ns := st.dim
			if snap.At.Sub(nt.At) < noticeRecent {
				ns = st.bad
			}
			l.add(nt.At.In(m.loc).Format("15:04:05")+" "+sanitize(nt.Text), ns)
		}
		out = append(out, l.String())
	}
	return out
}

// countsLine draws the frames per command, the violations, the records
// dropped and the bytes each way in w cells, in the longest form that fits.
func (m *Model) countsLine(w int) string {
	st, snap := &m.st, m.snap
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
			l.add(c.String(), cmdStyle(st, c)).text(" " + grouped(t.Cmd(c)) + sep)
		}
		l.text(vname)
		if viol > 0 {
			l.add(grouped(viol), st.bad)
		} else {
			l.text("0")
		}
		if form < 3 || drop > 0 {
			l.text(sep + dname)
			if drop > 0 {
				l.add(grouped(drop), st.warn)
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

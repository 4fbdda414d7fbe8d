package tui

// renderHelp draws the help overlay in a box of w×h cells, scrolled to
// m.helpTop when it does not fit.
func (m *Model) renderHelp(w, h int) []string {
	body := m.helpBody(w-2, h-2)
	rows := max(h-2, 0)
	title := "Help · ? or esc closes"
	if len(body) > rows {
		top := max(0, min(m.helpTop, len(body)-rows))
		body = body[top:]
		title = "Help · j/k scroll · ? or esc closes"
	}
	return box(&m.st, title, true, body, w, h)
}

// helpBody returns the lines of the help: every key of the keyMap,
// grouped, in one or two columns (two when one would not fit rows), then
// notes on drilling down, sorting, the filter terms and the marks.
func (m *Model) helpBody(inner, rows int) []string {
	st := &m.st
	keyW := 0
	for _, g := range m.keys.FullHelp() {
		for _, b := range g {
			keyW = max(keyW, width(b.Help().Key))
		}
	}
	// Entries: a key and what it does; a blank between groups.
	type entry struct{ key, desc string }
	var entries []entry
	for i, g := range m.keys.FullHelp() {
		if i > 0 {
			entries = append(entries, entry{})
		}
		for _, b := range g {
			if b.Enabled() {
				entries = append(entries, entry{b.Help().Key, b.Help().Desc})
			}
		}
	}
	if m.opts.Mouse {
		entries = append(entries, entry{}, entry{"mouse", "wheel scrolls, click selects"})
	}
	notes := wrapText("enter drills down: session → its streams → its frames → the frame's bytes; "+
		"s sorts streams by id, age (leaks first), idle, bytes, state; space freezes the view while capture goes on", max(inner-1, 1))
	notes = append(notes, wrapText("! marks suspected leaks: streams open or half-closed longer than "+dur(m.opts.LeakAfter)+
		" (--leak-after), and the open count of the sessions holding them; "+
		"half-closed→: the client sent FIN and the server has not, half-closed← the reverse", max(inner-1, 1))...)
	notes = append(notes, wrapText(`filter terms, all must match: cmd:psh sid:4413 session:2 dir:> dir:< `+
		`len>100 len<8 len=0 ver:2 violation "text" hex:52414e44 (in the captured payload)`, max(inner-1, 1))...)
	notes = append(notes, wrapText("arrows: → client to server, ← server to client; "+
		"colours: SYN green, FIN yellow, violations red; STALLED: a v2 writer has its whole window in flight", max(inner-1, 1))...)

	cols := 1
	if len(entries)+1+len(notes) > rows && inner >= 2*(keyW+20) {
		cols = 2
	}
	perCol, height := len(entries), len(entries)
	if cols == 2 {
		// Break at the group boundary nearest the middle.
		for i, e := range entries {
			if e.key == "" && abs(2*i-len(entries)) < abs(2*perCol-len(entries)) {
				perCol = i
			}
		}
		height = max(perCol, len(entries)-perCol-1)
	}
	colW := inner / cols
	var body []string
	for r := range height {
		l := newLine(inner)
		for c := range cols {
			i := r
			if c == 1 {
				i = perCol + 1 + r // past the blank line that ends the first column
			} else if r >= perCol {
				i = -1
			}
			start := l.w
			if i >= 0 && i < len(entries) && entries[i].key != "" {
				l.text(" ").add(entries[i].key, st.key)
				l.spaces(keyW - width(entries[i].key) + 2)
				l.text(cut(entries[i].desc, max(colW-keyW-4, 0)))
			}
			l.spaces(colW - (l.w - start))
		}
		body = append(body, l.String())
	}
	body = append(body, newLine(inner).String())
	for _, n := range notes {
		body = append(body, newLine(inner).text(" "+n).String())
	}
	return body
}

// renderInput draws the filter input and, under it, why the last filter
// was refused.
func (m *Model) renderInput(w int) []string {
	out := []string{m.input.view(&m.st, w)}
	if m.inputErr != "" {
		out = append(out, newLine(w).add(sanitize(m.inputErr), m.st.bad).String())
	}
	return out
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

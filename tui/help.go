package tui

// renderHelp draws the help overlay: every key of the keyMap, grouped, in
// one or two columns, then the filter terms.
func (m *Model) renderHelp(w, h int) []string {
	st := &m.st
	inner := w - 2
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
	notes = append(notes, wrapText(`filter terms, all must match: cmd:psh sid:4413 session:2 dir:> dir:< `+
		`len>100 len<8 len=0 ver:2 violation "text" hex:52414e44 (in the captured payload)`, max(inner-1, 1))...)
	notes = append(notes, wrapText("arrows: → client to server, ← server to client; "+
		"colours: SYN green, FIN yellow, violations red; ! after an age: open longer than "+
		dur(m.opts.LeakAfter)+", a suspected leak", max(inner-1, 1))...)

	rows := h - 2
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
	for r := 0; r < height && len(body) < rows; r++ {
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
	if len(body) < rows {
		body = append(body, newLine(inner).String())
	}
	for _, n := range notes {
		if len(body) < rows {
			body = append(body, newLine(inner).text(" "+n).String())
		}
	}
	return box(st, "Help · ? or esc closes", true, body, w, h)
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

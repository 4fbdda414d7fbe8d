package tui

// column describes one column of a table pane. The first column always shows.
type column struct {
	title string
	w     int  // minimum width in cells
	right bool // numbers are right-aligned
	prio  int  // when the pane is narrow, lower prio columns go first
	flex  bool // takes the width left over
}

// cell is one value of a table row.
type cell struct {
	text string
	st   style
}

// layoutColumns decides which columns fit in avail cells (the cursor mark
// takes one) and how wide each is; hidden columns get width 0.
func layoutColumns(cols []column, avail int) []int {
	ws := make([]int, len(cols))
	shown := make([]bool, len(cols))
	used := 1
	for i, c := range cols {
		shown[i] = true
		ws[i] = c.w
		used += c.w + 1
	}
	// Columns of equal prio go together, so →bytes never shows without ←bytes.
	for used > avail {
		lowest := -1
		for i, c := range cols {
			if shown[i] && i > 0 && (lowest < 0 || c.prio < lowest) {
				lowest = c.prio
			}
		}
		if lowest < 0 {
			break
		}
		for i, c := range cols {
			if shown[i] && i > 0 && c.prio == lowest {
				shown[i] = false
				used -= ws[i] + 1
				ws[i] = 0
			}
		}
	}
	flex := 0
	for i, c := range cols {
		if shown[i] && c.flex {
			flex++
		}
	}
	if extra := avail - used; extra > 0 && flex > 0 {
		for i, c := range cols {
			if shown[i] && c.flex {
				ws[i] += extra / flex
			}
		}
	}
	return ws
}

// tableHeading renders the column titles.
func tableHeading(st *styles, cols []column, ws []int, w int) string {
	l := newLine(w)
	l.text(" ")
	for i, c := range cols {
		if ws[i] == 0 {
			continue
		}
		if c.right {
			l.rcol(c.title, ws[i], st.dim)
		} else {
			l.col(c.title, ws[i], st.dim)
		}
	}
	return l.String()
}

// tableRow renders one row; the selected row of the focused pane is drawn
// in reverse video, the selected row of another pane keeps its mark.
func tableRow(st *styles, cols []column, ws []int, cells []cell, w int, mark, focused bool) string {
	l := newLine(w)
	l.plain = mark && focused
	if mark {
		l.text("▶")
	} else {
		l.text(" ")
	}
	for i, c := range cols {
		if ws[i] == 0 || i >= len(cells) {
			continue
		}
		if c.right {
			l.rcol(cells[i].text, ws[i], cells[i].st)
		} else {
			l.col(cells[i].text, ws[i], cells[i].st)
		}
	}
	if l.plain {
		return st.selected.render(l.String())
	}
	return l.String()
}

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

// shedItem is one of the things that share a line: a column of a table,
// a field of the header.
type shedItem struct {
	w    int  // the cells it takes, its separator included
	prio int  // the least important go first
	keep bool // never dropped
}

// shed decides which items fit in room cells: it drops the least
// important first, items of equal prio together (so →bytes never shows
// without ←bytes), and never one marked keep. It returns which are shown
// and the cells they take. It is the one place that decides what a line
// gives up when it is short: the tables' columns, the two tables that
// share the top row, the header's fields.
func shed(items []shedItem, room int) (shown []bool, used int) {
	shown = make([]bool, len(items))
	for i, it := range items {
		shown[i] = true
		used += it.w
	}
	for used > room {
		lowest, found := 0, false
		for i, it := range items {
			if shown[i] && !it.keep && (!found || it.prio < lowest) {
				lowest, found = it.prio, true
			}
		}
		if !found {
			break
		}
		for i, it := range items {
			if shown[i] && !it.keep && it.prio == lowest {
				shown[i] = false
				used -= it.w
			}
		}
	}
	return shown, used
}

// columnItems are a table's columns as shed sees them: the first always shows.
func columnItems(cols []column) []shedItem {
	items := make([]shedItem, len(cols))
	for i, c := range cols {
		items[i] = shedItem{w: c.w + 1, prio: c.prio, keep: i == 0}
	}
	return items
}

// layoutColumns decides which columns fit in avail cells (the cursor mark
// takes one) and how wide each is; hidden columns get width 0.
func layoutColumns(cols []column, avail int) []int {
	shown, used := shed(columnItems(cols), avail-1)
	used++
	ws := make([]int, len(cols))
	flex := 0
	for i, c := range cols {
		if shown[i] {
			ws[i] = c.w
			if c.flex {
				flex++
			}
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

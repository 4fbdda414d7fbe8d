package tui

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/muxtop/muxtop/live"
)

// listCursor is the cursor of a list pane: the selected entry and the
// first one shown. The pane owns the list and knows how many entries it
// shows at once, its data rows; the methods take both, as n and rows.
// A page, for pgup and pgdown, is those rows: one screenful.
type listCursor struct {
	idx int // the selected entry
	top int // the first entry shown
}

// move moves the cursor by d entries, within a list of n, and scrolls as
// little as keeps it among the rows shown.
func (c *listCursor) move(d, n, rows int) {
	c.idx = max(0, min(c.idx+d, n-1))
	c.top = scroll(c.top, c.idx, n, rows)
}

// clamp keeps the cursor on a list that is now n entries long.
func (c *listCursor) clamp(n, rows int) { c.move(0, n, rows) }

// shown returns the entries in view, from up to but not including to, of
// a list of n shown rows at a time.
func (c *listCursor) shown(n, rows int) (from, to int) {
	from = scroll(c.top, c.idx, n, rows)
	return from, max(from, min(n, from+rows))
}

// cueRows is how many of n entries a list shows in rows lines: every
// line where they all fit, else all but the last, which says how many
// more there are (moreLine). Where rows is under 3, every line: in a
// pane squeezed that small (an overlay open below), two entries say more
// than one and the cue, and the title counts them.
func cueRows(n, rows int) int {
	if n > rows && rows >= 3 {
		return rows - 1
	}
	return rows
}

// table draws a list of n entries in w cells and at most rows lines: the
// heading of cols, then the entries in view, the selected one marked;
// cells returns entry i's.
func (c *listCursor) table(st *styles, cols []column, w, n, rows int, cells func(i int) []cell) []string {
	ws := layoutColumns(cols, w)
	out := []string{tableHeading(st, cols, ws, w)}
	from, to := c.shown(n, rows-1)
	for i := from; i < to; i++ {
		out = append(out, tableRow(st, cols, ws, cells(i), w, i == c.idx, true))
	}
	return out
}

// overlayList is what the violations and findings panes share: a list
// they make from each snapshot, its cursor, and enter, which picks the
// selected entry.
type overlayList[T any] struct {
	keys *keyMap
	snap *live.Snapshot
	list []T
	listCursor
	h int // the pane's height
}

// update takes in a snapshot, calling collect to make the list from it,
// and moves the cursor for a moveMsg or a cursor key, paging by rows; it
// returns the selected entry and true for enter.
func (l *overlayList[T]) update(msg tea.Msg, rows int, collect func()) (T, bool) {
	switch msg := msg.(type) {
	case snapshotMsg:
		l.snap = msg.snap
		collect()
	case tea.KeyPressMsg:
		if key.Matches(msg, l.keys.Enter) && len(l.list) > 0 {
			return l.list[l.idx], true
		}
	}
	if d, ok := l.keys.step(msg, rows); ok {
		l.move(d, len(l.list), rows)
	}
	var none T
	return none, false
}

// view draws the pane in w×h cells, boxed under title: the note none
// while the list is empty, else what body draws in the w×h cells inside
// the box.
func (l *overlayList[T]) view(th *theme, title, none string, w, h int, body func(w, h int) []string) string {
	var lines []string
	switch {
	case h <= 2:
	case len(l.list) == 0:
		lines = []string{newLine(w-2).add(none, th.styles.dim).String()}
	default:
		lines = body(w-2, h-2)
	}
	return boxed(th, title, true, lines, w, h)
}

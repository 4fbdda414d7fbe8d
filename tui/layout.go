package tui

// rect is a pane's place on the screen; a zero rect is a pane not shown.
type rect struct{ x, y, w, h int }

// rows returns how many body rows the pane has inside its border.
func (r rect) rows() int { return max(r.h-2, 0) }

// tableRows returns how many data rows a table pane has under its heading.
func (r rect) tableRows() int { return max(r.h-3, 0) }

func (r rect) contains(x, y int) bool {
	return r.w > 0 && x >= r.x && x < r.x+r.w && y >= r.y && y < r.y+r.h
}

// screen is where everything goes for a terminal size.
type screen struct {
	header               int
	sessions, streams    rect
	frames, detail, viol rect
	helpBox              rect
	footer               int // the filter input and its error
}

// wideLayout is the width from which sessions and streams sit side by side.
const wideLayout = 140

// layout places the panes for the model's terminal size and focus. At
// least as wide as wideLayout, sessions and streams share the top row;
// narrower, the top row shows the one nearer the focus. The focused pane
// gets the larger share of the height, and panes that do not fit at all
// are left out, focused pane last.
func (m *Model) layout() screen {
	var s screen
	if m.inputOn {
		s.footer = 1
		if m.inputErr != "" {
			s.footer = 2
		}
	}
	s.header = min(m.headerLines(), max(m.height-s.footer, 0))
	body := m.height - s.header - s.footer
	w := m.width
	if body <= 0 || w < 4 {
		return s
	}
	if m.help {
		s.helpBox = rect{0, s.header, w, body}
		return s
	}

	// The stacked boxes, in screen order, with the minimum height and the
	// share each wants.
	type slot struct {
		min, weight int
		prio        int // who keeps its place when the screen is short
		h           int
	}
	focusTop := m.focus <= paneStreams
	top := slot{min: 4, weight: 2, prio: 2}
	mid := slot{min: 3, weight: 2, prio: 3}
	bot := slot{min: 3, weight: 1, prio: 1}
	switch {
	case m.viol.show:
		top.weight, mid.weight, mid.min, mid.prio, bot.min = 1, 3, 3+violFooter, 4, 0
	case focusTop:
		top.weight, top.prio = 3, 4
	case m.focus == paneFrames:
		mid.weight = 3
	case m.focus == paneDetail:
		bot.weight, bot.prio = 3, 4
	}
	slots := []*slot{&top, &mid, &bot}
	if m.viol.show {
		slots = slots[:2]
	}
	// Leave out the least important boxes until the minimums fit.
	kept := slots
	for {
		need := 0
		for _, sl := range kept {
			need += sl.min
		}
		if need <= body || len(kept) == 1 {
			break
		}
		drop := 0
		for i, sl := range kept {
			if sl.prio < kept[drop].prio {
				drop = i
			}
		}
		kept = append(kept[:drop:drop], kept[drop+1:]...)
	}
	weights, need := 0, 0
	for _, sl := range kept {
		weights += sl.weight
		need += sl.min
	}
	extra := max(body-need, 0)
	left := body
	for i, sl := range kept {
		sl.h = sl.min + extra*sl.weight/weights
		if i == len(kept)-1 {
			sl.h = left
		}
		sl.h = min(sl.h, left)
		left -= sl.h
	}

	// A short table gives its spare lines to the frames.
	wide := w >= wideLayout
	showSessions := wide || m.focus == paneSessions
	showStreams := wide || !showSessions
	want := 4
	if showSessions {
		want = max(want, 3+len(m.snap.Sessions))
	}
	if showStreams {
		want = max(want, 3+m.strm.rows())
	}
	if top.h > want && mid.h > 0 {
		mid.h += top.h - want
		top.h = want
	}
	if want := 2 + max(m.view.len(), 1); !m.viol.show && mid.h > want && bot.h > 0 {
		bot.h += mid.h - want
		mid.h = want
	}

	y := s.header
	if top.h > 0 {
		if wide {
			sw := splitTop(m.sessionCols(), m.streamCols(), w)
			s.sessions = rect{0, y, sw, top.h}
			s.streams = rect{sw, y, w - sw, top.h}
		} else if showSessions {
			s.sessions = rect{0, y, w, top.h}
		} else {
			s.streams = rect{0, y, w, top.h}
		}
		y += top.h
	}
	if mid.h > 0 {
		if m.viol.show {
			s.viol = rect{0, y, w, mid.h}
		} else {
			s.frames = rect{0, y, w, mid.h}
		}
		y += mid.h
	}
	if bot.h > 0 {
		s.detail = rect{0, y, w, bot.h}
	}
	return s
}

// splitTop returns the width of the sessions pane when it shares w cells
// with the streams pane. The two tables give up their least important
// columns together until both fit; the cells left over go where a flexible
// column can use them.
func splitTop(sess, strm []column, w int) int {
	shown := [2][]bool{make([]bool, len(sess)), make([]bool, len(strm))}
	tables := [2][]column{sess, strm}
	used := [2]int{3, 3} // the borders and the cursor mark
	for t, cols := range tables {
		for i, c := range cols {
			shown[t][i] = true
			used[t] += c.w + 1
		}
	}
	for used[0]+used[1] > w {
		lowest := -1
		for t, cols := range tables {
			for i, c := range cols {
				if shown[t][i] && i > 0 && (lowest < 0 || c.prio < lowest) {
					lowest = c.prio
				}
			}
		}
		if lowest < 0 {
			return w * 9 / 20
		}
		for t, cols := range tables {
			for i, c := range cols {
				if shown[t][i] && i > 0 && c.prio == lowest {
					shown[t][i] = false
					used[t] -= c.w + 1
				}
			}
		}
	}
	flex := func(t int) bool {
		for i, c := range tables[t] {
			if shown[t][i] && c.flex {
				return true
			}
		}
		return false
	}
	extra := w - used[0] - used[1]
	switch {
	case flex(0) && flex(1):
		return used[0] + extra/2
	case flex(1):
		return used[0]
	}
	return used[0] + extra
}

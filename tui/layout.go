package tui

import "strconv"

// The screen's layout is a pure function of the terminal's size, the
// focus and the overlay: the model computes it when one of them changes,
// never from the data, so that panes keep their place while traffic flows.

// rect is a pane's place on the screen; a zero rect is a pane not shown.
type rect struct{ x, y, w, h int }

func (r rect) contains(x, y int) bool {
	return r.w > 0 && x >= r.x && x < r.x+r.w && y >= r.y && y < r.y+r.h
}

// overlay is what covers the panes below the top row, if anything.
type overlay uint8

const (
	overlayNone       overlay = iota
	overlayHelp               // the help takes the whole body
	overlayViolations         // the violations list takes the frames' and detail's place
	overlayFindings           // the findings list takes the frames' and detail's place
)

var overlayNames = [...]string{"none", "help", "violations", "findings"}

// String returns the overlay's name.
func (o overlay) String() string {
	if int(o) < len(overlayNames) {
		return overlayNames[o]
	}
	return "overlay(" + strconv.Itoa(int(o)) + ")"
}

// layoutKey is everything the layout depends on.
type layoutKey struct {
	w, h    int
	header  int // lines of the header
	footer  int // lines of the filter input and its error
	focus   pane
	overlay overlay
}

// screen is where everything goes.
type screen struct {
	key                  layoutKey
	sessions, streams    rect
	frames, detail, viol rect
	find                 rect // the findings list
	help                 rect
	footer               int // the first line of the filter input
}

// wideLayout is the width from which sessions and streams sit side by side.
const wideLayout = 140

// The height of the frames pane wherever it shows, when the screen allows:
// at 80×24 it shows 8 rows, enough for a few requests and their replies.
const framesMin = 10

// layout places the panes. At least as wide as wideLayout, sessions and
// streams share the top row; narrower, the top row shows the one nearer
// the focus. The focused pane gets the larger share of the height; the
// frames pane never less than framesMin. Panes that do not fit are left
// out, least important first: the detail when the focus is on a table,
// else the tables.
func layout(k layoutKey) screen {
	s := screen{key: k, footer: k.h - k.footer}
	body := k.h - k.header - k.footer
	w := k.w
	if body <= 0 || w < 4 {
		return s
	}
	if k.overlay == overlayHelp {
		s.help = rect{0, k.header, w, body}
		return s
	}

	// The stacked boxes, in screen order: the tables, then the frames (or
	// the violations), then the detail.
	type slot struct {
		min, weight int
		prio        int // who keeps its place when the screen is short
		h           int
	}
	top := slot{min: 4, weight: 1, prio: 1}
	mid := slot{min: framesMin, weight: 2, prio: 2}
	bot := slot{min: 6, weight: 1, prio: 0}
	switch {
	case k.overlay == overlayViolations:
		mid = slot{min: 3 + violFooter, weight: 3, prio: 2}
	case k.overlay == overlayFindings:
		mid = slot{min: 4 + findFooter, weight: 3, prio: 2}
	case k.focus <= paneStreams:
		top = slot{min: 8, weight: 3, prio: 3}
	case k.focus == paneFrames:
		mid.weight, mid.prio, bot.prio = 3, 3, 1
	case k.focus == paneDetail:
		bot = slot{min: 8, weight: 3, prio: 3}
	}
	slots := []*slot{&top, &mid, &bot}
	if k.overlay == overlayViolations || k.overlay == overlayFindings {
		slots = slots[:2]
	}
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

	y := k.header
	if top.h > 0 {
		switch {
		case w >= wideLayout:
			// The split is the same for every session: v2's columns, the most.
			sw := splitTop(sessionColumns, streamColumns, w)
			s.sessions = rect{0, y, sw, top.h}
			s.streams = rect{sw, y, w - sw, top.h}
		case k.focus == paneSessions:
			s.sessions = rect{0, y, w, top.h}
		default:
			s.streams = rect{0, y, w, top.h}
		}
		y += top.h
	}
	if mid.h > 0 {
		switch k.overlay {
		case overlayViolations:
			s.viol = rect{0, y, w, mid.h}
		case overlayFindings:
			s.find = rect{0, y, w, mid.h}
		default:
			s.frames = rect{0, y, w, mid.h}
		}
		y += mid.h
	}
	if bot.h > 0 {
		s.detail = rect{0, y, w, bot.h}
	}
	return s
}

// paneAt returns the pane at a screen cell.
func (s *screen) paneAt(x, y int) (pane, bool) {
	for p, r := range [...]rect{paneSessions: s.sessions, paneStreams: s.streams, paneFrames: s.frames, paneDetail: s.detail} {
		if r.contains(x, y) {
			return pane(p), true
		}
	}
	return 0, false
}

// splitTop returns the width of the sessions pane when it shares w cells
// with the streams pane. The two tables give up their least important
// columns together until both fit; the cells left over go where a flexible
// column can use them.
func splitTop(sess, strm []column, w int) int {
	// Each pane's borders and cursor mark take 3 cells.
	shown, used := shed(append(columnItems(sess), columnItems(strm)...), w-6)
	flex := [2]bool{}
	sessUsed := 3
	for i, c := range sess {
		if shown[i] {
			sessUsed += c.w + 1
			flex[0] = flex[0] || c.flex
		}
	}
	for i, c := range strm {
		flex[1] = flex[1] || (shown[len(sess)+i] && c.flex)
	}
	if used > w-6 {
		return w * 9 / 20
	}
	extra := w - 6 - used
	switch {
	case flex[0] && flex[1]:
		return sessUsed + extra/2
	case flex[1]:
		return sessUsed
	}
	return sessUsed + extra
}

package tui

import (
	"strings"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"
)

// width returns how many cells plain text s takes. Text of ASCII and the
// few other runes the screen draws with (arrows, box drawing, "…", "·",
// "µ") is counted rune by rune; anything else takes ansi's grapheme rules.
func width(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x80 {
			n++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if !narrow(r) {
			return ansi.StringWidth(s)
		}
		n++
		i += size - 1
	}
	return n
}

// narrow reports whether r is a rune the screen draws with that takes one
// cell on its own, as ansi counts it: Latin-1's letters and signs, general
// punctuation, arrows, box drawing and geometric shapes.
func narrow(r rune) bool {
	switch {
	case r >= 0xa0 && r < 0x300, // Latin-1 and Latin Extended: "·", "µ", "é"
		r >= 0x2010 && r <= 0x2027, // "–", "…"
		r >= 0x2190 && r <= 0x21ff, // arrows
		r >= 0x2500 && r <= 0x25ff: // box drawing, blocks, "▶"
		return true
	}
	return false
}

// cut returns plain text s cut to at most w cells.
func cut(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if width(s) <= w {
		return s
	}
	return ansi.Truncate(s, w, "")
}

// ellipsis returns plain text s in at most w cells: whole, or cut and
// ended with "…", so that a reader sees it goes on. Every text the screen
// cuts to fit is cut here.
func ellipsis(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if width(s) <= w {
		return s
	}
	return cut(s, w-1) + "…"
}

// blanks is a run of spaces to slice from rather than build.
const blanks = "                                                                                                                                "

// line builds one row of a pane at most max cells wide from plain text
// pieces and their styles. Pieces beyond max are cut; pad fills the rest.
type line struct {
	b     strings.Builder
	w     int
	max   int
	plain bool // ignore piece styles (the row is drawn in one style)
}

func newLine(max int) *line {
	l := &line{max: max}
	l.b.Grow(min(max, 512) + 16) // a row and a few style sequences, in one allocation
	return l
}

// add appends plain text s in style st, cut to the room left with "…".
func (l *line) add(s string, st style) *line {
	room := l.max - l.w
	if room <= 0 || s == "" {
		return l
	}
	sw := width(s)
	if sw > room {
		s = ellipsis(s, room)
		sw = width(s)
	}
	if l.plain {
		l.b.WriteString(s)
	} else {
		l.b.WriteString(st.render(s))
	}
	l.w += sw
	return l
}

// text appends unstyled plain text.
func (l *line) text(s string) *line { return l.add(s, style{}) }

// col appends s left-aligned in a column of w cells followed by one
// space, cut with "…" when longer.
func (l *line) col(s string, w int, st style) *line {
	s = ellipsis(s, w)
	l.add(s, st)
	return l.spaces(w - width(s) + 1)
}

// rcol appends s right-aligned in a column of w cells followed by one
// space. It is for numbers, which are never cut: a number wider than its
// column pushes the rest of the row right rather than lose digits.
func (l *line) rcol(s string, w int, st style) *line {
	l.spaces(w - width(s))
	l.add(s, st)
	return l.spaces(1)
}

// num appends a number left-aligned in a column of w cells followed by one
// space; a longer number is not cut but pushes the rest of the line right.
func (l *line) num(s string, w int) *line {
	l.text(s)
	return l.spaces(max(w-width(s), 0) + 1)
}

// ansiStrip removes escape sequences from s.
func ansiStrip(s string) string { return ansi.Strip(s) }

// spaces appends n blanks.
func (l *line) spaces(n int) *line {
	n = min(n, l.max-l.w)
	for n > 0 {
		k := min(n, len(blanks))
		l.b.WriteString(blanks[:k])
		l.w += k
		n -= k
	}
	return l
}

// room returns how many cells are left.
func (l *line) room() int { return l.max - l.w }

// String returns the row padded to max cells.
func (l *line) String() string {
	l.spaces(l.max - l.w)
	return l.b.String()
}

// border is the set of box-drawing runes of a pane.
type border struct{ tl, tr, bl, br, h, v string }

var (
	thinBorder  = border{"┌", "┐", "└", "┘", "─", "│"}
	thickBorder = border{"┏", "┓", "┗", "┛", "━", "┃"}
)

// box draws a pane of exactly w×h cells: a border with title (the focused
// pane's border is thick, so focus shows without colour) around body
// lines, each already exactly w-2 cells wide. Missing lines are blank;
// extra lines are dropped.
func box(st *styles, title string, focused bool, body []string, w, h int) []string {
	return boxFoot(st, title, "", focused, body, w, h)
}

// boxFoot is box with foot, if not "", in its bottom border: where a
// pane too short for a line of its own says how many more rows it holds.
func boxFoot(st *styles, title, foot string, focused bool, body []string, w, h int) []string {
	if w < 2 || h < 2 {
		return nil
	}
	b, bs := thinBorder, style{}
	if focused {
		b, bs = thickBorder, st.focus
	}
	out := make([]string, 0, h)
	inner := w - 2
	var top string
	if title = ellipsis(title, inner-3); title == "" || inner < 5 {
		top = bs.render(b.tl + strings.Repeat(b.h, inner) + b.tr)
	} else {
		// The title is styled apart from the border so it reads as a heading.
		top = bs.render(b.tl+b.h+" ") + st.bold.render(title) +
			bs.render(" "+strings.Repeat(b.h, inner-3-width(title))+b.tr)
	}
	out = append(out, top)
	v := bs.render(b.v)
	blank := strings.Repeat(" ", inner)
	for i := range h - 2 {
		s := blank
		if i < len(body) {
			s = body[i]
		}
		out = append(out, v+s+v)
	}
	if foot = ellipsis(foot, inner-3); foot == "" || inner < 5 {
		out = append(out, bs.render(b.bl+strings.Repeat(b.h, inner)+b.br))
	} else {
		out = append(out, bs.render(b.bl+b.h+" ")+st.dim.render(foot)+
			bs.render(" "+strings.Repeat(b.h, inner-3-width(foot))+b.br))
	}
	return out
}

// joinColumns puts two boxes of equal height side by side.
func joinColumns(left, right []string) []string {
	out := make([]string, max(len(left), len(right)))
	for i := range out {
		if i < len(left) {
			out[i] = left[i]
		}
		if i < len(right) {
			out[i] += right[i]
		}
	}
	return out
}

// scroll returns the first visible index of a list of n rows shown in h
// rows so that cursor stays visible, moving as little as possible from top.
func scroll(top, cursor, n, h int) int {
	if h <= 0 || n <= h {
		return 0
	}
	if cursor < top {
		top = cursor
	}
	if cursor >= top+h {
		top = cursor - h + 1
	}
	return max(0, min(top, n-h))
}

// boxed draws a pane of w×h cells as one string: see box.
func boxed(th *theme, title string, focused bool, body []string, w, h int) string {
	return strings.Join(box(&th.styles, title, focused, body, w, h), "\n")
}

package tui

import (
	"strings"
	"time"

	"charm.land/lipgloss/v2"
)

// style is a lipgloss style reduced to the escape sequences that open and
// close it, so that a View of thousands of cells costs string
// concatenation, not a lipgloss render per cell. The zero style is plain.
type style struct{ on, off string }

// newStyle extracts the escape sequences lipgloss emits around a text.
func newStyle(s lipgloss.Style) style {
	const mark = "\x00"
	out := s.Render(mark)
	i := strings.Index(out, mark)
	if i < 0 {
		return style{}
	}
	return style{on: out[:i], off: out[i+len(mark):]}
}

// render wraps s in the style. s must not contain escape sequences.
func (st style) render(s string) string {
	if st.on == "" || s == "" {
		return s
	}
	return st.on + s + st.off
}

// styles are the colours of the screen; each carries a meaning.
type styles struct {
	title    style // the header's first words
	dim      style // ended sessions, column headings, secondary text
	bold     style
	selected style // the cursor row of the focused pane
	focus    style // the border of the focused pane
	syn      style // SYN: a stream opens
	fin      style // FIN: a stream closes
	upd      style // UPD: flow control
	bad      style // violations, anomalies, STALLED, recent notices
	warn     style // suspected leaks
	good     style // [live]
	key      style // keys in the help
	match    style // filter text
}

// newStyles returns the colour styles, or, with noColor, styles that use
// no colour at all (reverse video and bold still mark the cursor).
func newStyles(noColor bool) styles {
	n := lipgloss.NewStyle
	if noColor {
		return styles{
			bold:     newStyle(n().Bold(true)),
			selected: newStyle(n().Reverse(true)),
			title:    newStyle(n().Bold(true)),
			focus:    newStyle(n().Bold(true)),
			key:      newStyle(n().Bold(true)),
		}
	}
	return styles{
		title:    newStyle(n().Bold(true).Foreground(lipgloss.Cyan)),
		dim:      newStyle(n().Faint(true)),
		bold:     newStyle(n().Bold(true)),
		selected: newStyle(n().Reverse(true)),
		focus:    newStyle(n().Foreground(lipgloss.Cyan)),
		syn:      newStyle(n().Foreground(lipgloss.Green)),
		fin:      newStyle(n().Foreground(lipgloss.Yellow)),
		upd:      newStyle(n().Foreground(lipgloss.Magenta)),
		bad:      newStyle(n().Bold(true).Foreground(lipgloss.Red)),
		warn:     newStyle(n().Foreground(lipgloss.Yellow)),
		good:     newStyle(n().Foreground(lipgloss.Green)),
		key:      newStyle(n().Bold(true).Foreground(lipgloss.Cyan)),
		match:    newStyle(n().Foreground(lipgloss.Magenta)),
	}
}

// theme is what every view needs besides its data: the styles and the
// time zone that times are shown in.
type theme struct {
	styles
	loc *time.Location
}

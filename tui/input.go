package tui

import (
	"unicode"

	tea "charm.land/bubbletea/v2"

	"github.com/muxtop/muxtop/printable"
)

// filterInput is the filter's input line, under the panes while open.
type filterInput struct {
	open bool
	line lineInput
	err  string // why the last filter was refused
}

// Update edits the line; enter applies a filter that parses (filterMsg),
// esc closes the input (inputClosedMsg).
func (p filterInput) Update(msg tea.Msg) (filterInput, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		switch msg.String() {
		case "enter":
			f, err := parseFilter(p.line.String())
			if err != nil {
				p.err = err.Error()
				return p, nil
			}
			p.open, p.err = false, ""
			return p, emit(filterMsg{f: f})
		case "ctrl+c":
			return p, tea.Quit
		case "esc":
			p.open, p.err = false, ""
			return p, emit(inputClosedMsg{})
		default:
			p.line.update(msg)
			p.err = ""
		}
	case tea.PasteMsg:
		p.line.insert(msg.Content)
	}
	return p, nil
}

// lines returns how many lines the input takes: none while closed, two
// with an error.
func (p *filterInput) lines() int {
	switch {
	case !p.open:
		return 0
	case p.err != "":
		return 2
	}
	return 1
}

// View draws the input and, under it, why the last filter was refused.
func (p filterInput) View(th *theme, w int) string {
	s := p.line.view(&th.styles, w)
	if p.err != "" {
		s += "\n" + newLine(w).add(printable.Text(p.err), th.bad).String()
	}
	return s
}

// lineInput is the one-line editor of the filter. A filter needs only
// typing, moving and deleting; unlike bubbles' textinput, this editor has no
// blink timer and no coloured cursor, so the screen stays a function of the
// model's state (golden tests) and NO_COLOR holds (the cursor is reverse video).
type lineInput struct {
	value []rune
	pos   int // cursor, in runes
}

func (in *lineInput) setValue(s string) {
	in.value = []rune(s) // a new slice: an older model may hold the old one
	in.pos = len(in.value)
}

func (in *lineInput) String() string { return string(in.value) }

// insert adds text at the cursor; control characters are dropped.
func (in *lineInput) insert(s string) {
	var add []rune
	for _, r := range s {
		if unicode.IsPrint(r) {
			add = append(add, r)
		}
	}
	if len(in.value)+len(add) > maxFilterLen {
		return
	}
	in.value = append(in.value[:in.pos], append(add, in.value[in.pos:]...)...)
	in.pos += len(add)
}

// maxFilterLen bounds the filter's length in runes.
const maxFilterLen = 256

// update edits the line for a key: typing, ←/→, home/end (ctrl+a/ctrl+e),
// backspace/delete, ctrl+w (word) and ctrl+u/ctrl+k (to the start/end).
func (in *lineInput) update(msg tea.KeyPressMsg) {
	switch msg.String() {
	case "left", "ctrl+b":
		in.pos = max(0, in.pos-1)
	case "right", "ctrl+f":
		in.pos = min(len(in.value), in.pos+1)
	case "home", "ctrl+a":
		in.pos = 0
	case "end", "ctrl+e":
		in.pos = len(in.value)
	case "backspace", "ctrl+h":
		if in.pos > 0 {
			in.value = append(in.value[:in.pos-1], in.value[in.pos:]...)
			in.pos--
		}
	case "delete", "ctrl+d":
		if in.pos < len(in.value) {
			in.value = append(in.value[:in.pos], in.value[in.pos+1:]...)
		}
	case "ctrl+w", "alt+backspace":
		i := in.pos
		for i > 0 && in.value[i-1] == ' ' {
			i--
		}
		for i > 0 && in.value[i-1] != ' ' {
			i--
		}
		in.value = append(in.value[:i], in.value[in.pos:]...)
		in.pos = i
	case "ctrl+u":
		in.value = append(in.value[:0], in.value[in.pos:]...)
		in.pos = 0
	case "ctrl+k":
		in.value = in.value[:in.pos]
	case "space":
		in.insert(" ")
	default:
		if msg.Text != "" && msg.Mod&^tea.ModShift == 0 {
			in.insert(msg.Text)
		}
	}
}

// view draws "/" and the text in w cells, the cursor in reverse video,
// scrolled so that the cursor shows.
func (in *lineInput) view(st *styles, w int) string {
	l := newLine(w)
	l.text("/")
	room := w - 2
	if room <= 0 {
		return l.String()
	}
	start := max(0, in.pos-room+1)
	for i := start; i < len(in.value) && l.w < w-1; i++ {
		if i == in.pos {
			l.add(string(in.value[i]), st.selected)
		} else {
			l.text(string(in.value[i]))
		}
	}
	if in.pos >= len(in.value) {
		l.add(" ", st.selected)
	}
	return l.String()
}

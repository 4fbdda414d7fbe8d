package tui

import (
	"unicode"

	tea "charm.land/bubbletea/v2"

	"github.com/muxtop/muxtop/printable"
)

// filterInput is the filter's input line, under the panes while open.
// It opens with the filter in place selected, so that typing replaces it
// and a cursor key edits it; ↑ and ↓ recall the filters applied before.
type filterInput struct {
	open bool
	line lineInput
	err  string // why the last filter was refused
	// history is the filters applied, oldest first; recall is the one
	// shown while recalling, len(history) for draft, the line as opened.
	history []string
	recall  int
	draft   string
}

// maxFilterHistory bounds how many filters ↑ recalls.
const maxFilterHistory = 100

// start opens the input on the filter in place, current, selected.
func (p filterInput) start(current string) filterInput {
	p.open, p.err, p.draft = true, "", current
	p.line = lineInput{}
	p.line.setValue(current)
	p.line.selected = current != ""
	p.recall = len(p.history)
	if n := len(p.history); n > 0 && p.history[n-1] == current {
		p.recall = n - 1 // the filter in place is the latest: ↑ goes to the one before
	}
	return p
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
			if f != nil && (len(p.history) == 0 || p.history[len(p.history)-1] != f.text) {
				// A new slice: an older model may hold the old one.
				h := append(make([]string, 0, len(p.history)+1), p.history[max(0, len(p.history)+1-maxFilterHistory):]...)
				p.history = append(h, f.text)
			}
			return p, emit(filterMsg{f: f})
		case "ctrl+c":
			return p, tea.Quit
		case "esc":
			p.open, p.err = false, ""
			return p, emit(inputClosedMsg{})
		case "up", "down":
			i := p.recall - 1
			if msg.String() == "down" {
				i = p.recall + 1
			}
			switch {
			case i >= 0 && i < len(p.history):
				p.recall = i
				p.line.setValue(p.history[i])
			case i == len(p.history):
				p.recall = i
				p.line.setValue(p.draft)
			}
			p.err = ""
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
	// selected: the whole value is selected; typing or deleting replaces
	// it, a cursor key keeps it.
	selected bool
}

func (in *lineInput) setValue(s string) {
	in.value = []rune(s) // a new slice: an older model may hold the old one
	in.pos = len(in.value)
	in.selected = false
}

// replaceSelection empties a selected value.
func (in *lineInput) replaceSelection() {
	if in.selected {
		in.value, in.pos, in.selected = nil, 0, false
	}
}

func (in *lineInput) String() string { return string(in.value) }

// insert adds text at the cursor, in place of the selection; control
// characters are dropped.
func (in *lineInput) insert(s string) {
	in.replaceSelection()
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
	case "backspace", "ctrl+h", "delete", "ctrl+d", "ctrl+w", "alt+backspace", "ctrl+u", "ctrl+k":
		if in.selected {
			in.replaceSelection()
			return
		}
	}
	if msg.Text == "" || msg.Mod&^tea.ModShift != 0 {
		in.selected = false // a cursor key: edit what is there
	}
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
		if i == in.pos || in.selected {
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

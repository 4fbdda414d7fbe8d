package tui

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// keyMap is every key muxtop answers to; the help overlay is built from it.
type keyMap struct {
	Up, Down         key.Binding
	PageUp, PageDown key.Binding
	Top, Bottom      key.Binding
	NextPane         key.Binding
	PrevPane         key.Binding
	Enter, Back      key.Binding
	Follow, Pause    key.Binding
	Filter           key.Binding
	NextMatch        key.Binding
	PrevMatch        key.Binding
	Sort             key.Binding
	SortSessions     key.Binding
	HideEnded        key.Binding
	Violations       key.Binding
	Findings         key.Binding
	Copy             key.Binding
	Help             key.Binding
	Quit             key.Binding
}

func newKeyMap() keyMap {
	b := func(keys []string, k, desc string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(k, desc))
	}
	return keyMap{
		Up:           b([]string{"up", "k"}, "↑/k", "move up"),
		Down:         b([]string{"down", "j"}, "↓/j", "move down"),
		PageUp:       b([]string{"pgup", "ctrl+u"}, "PgUp/ctrl+u", "page up"),
		PageDown:     b([]string{"pgdown", "ctrl+d"}, "PgDn/ctrl+d", "page down"),
		Top:          b([]string{"g", "home"}, "g/Home", "first row"),
		Bottom:       b([]string{"G", "end"}, "G/End", "last row"),
		NextPane:     b([]string{"tab"}, "tab", "next pane"),
		PrevPane:     b([]string{"shift+tab"}, "shift+tab", "previous pane"),
		Enter:        b([]string{"enter"}, "enter", "drill down a level"),
		Back:         b([]string{"esc"}, "esc", "back up; clear filter"),
		Follow:       b([]string{"f"}, "f", "follow the newest frame"),
		Pause:        b([]string{"space"}, "space", "pause/resume the view"),
		Filter:       b([]string{"/"}, "/", "filter frames"),
		NextMatch:    b([]string{"n"}, "n", "next match, any session"),
		PrevMatch:    b([]string{"N"}, "N", "previous match"),
		Sort:         b([]string{"s"}, "s", "cycle the stream sort"),
		SortSessions: b([]string{"S"}, "S", "cycle the session sort"),
		HideEnded:    b([]string{"e"}, "e", "hide/show ended sessions"),
		Violations:   b([]string{"v"}, "v", "violations and anomalies"),
		Findings:     b([]string{"!"}, "!", "findings: what is wrong"),
		Copy:         b([]string{"y"}, "y", "copy the payload as hex"),
		Help:         b([]string{"?"}, "?", "this help"),
		Quit:         b([]string{"q", "ctrl+c"}, "q/ctrl+c", "quit"),
	}
}

// FullHelp returns every key, grouped: moving, panes, the view, actions.
func (k keyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom},
		{k.NextPane, k.PrevPane, k.Enter, k.Back},
		{k.Follow, k.Pause, k.Filter, k.NextMatch, k.PrevMatch, k.Sort, k.SortSessions, k.HideEnded, k.Violations, k.Findings},
		{k.Copy, k.Help, k.Quit},
	}
}

// movement returns how many rows a cursor key moves a pane whose page is
// page rows, and whether msg is one.
func (k *keyMap) movement(msg tea.KeyPressMsg, page int) (int, bool) {
	page = max(page, 1)
	switch {
	case key.Matches(msg, k.Up):
		return -1, true
	case key.Matches(msg, k.Down):
		return 1, true
	case key.Matches(msg, k.PageUp):
		return -page, true
	case key.Matches(msg, k.PageDown):
		return page, true
	case key.Matches(msg, k.Top):
		return -1 << 30, true
	case key.Matches(msg, k.Bottom):
		return 1 << 30, true
	}
	return 0, false
}

// step returns how many rows msg moves a pane whose page is page rows,
// and whether msg is a moveMsg (the wheel) or a cursor key.
func (k *keyMap) step(msg tea.Msg, page int) (int, bool) {
	switch msg := msg.(type) {
	case moveMsg:
		return msg.d, true
	case tea.KeyPressMsg:
		return k.movement(msg, page)
	}
	return 0, false
}

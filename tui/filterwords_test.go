package tui

import (
	"strings"
	"testing"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/decoder/yamux"
)

// TestFilterCmdWords: the error of an unknown cmd: (or type:) lists what
// the filter takes, every smux command and every yamux type, each word of
// it a name the filter takes; and it fits the error line of an 80-column
// screen (79 cells), whatever was typed. Before, it listed "SYN FIN PSH NOP UPD DATA PING", without
// WINDOW_UPDATE (wnd) and GO_AWAY, which the filter takes.
func TestFilterCmdWords(t *testing.T) {
	for _, name := range []string{"cmd", "type"} {
		_, err := parseFilter(name + ":window_updates_please")
		if err == nil {
			t.Fatalf("%s: parsed", name)
		}
		msg := err.Error()
		if len([]rune(msg)) > 79 {
			t.Errorf("%s: %d cells, wider than the error line's 79: %q", name, len([]rune(msg)), msg)
		}
		_, list, ok := strings.Cut(msg, "; ")
		if !ok {
			t.Fatalf("%s: no list in %q", name, msg)
		}
		cmds, types := map[decoder.Cmd]bool{}, map[yamux.Type]bool{}
		for _, w := range strings.FieldsFunc(list, func(r rune) bool { return r == ' ' || r == ',' || r == ':' }) {
			if w == "try" || w == "yamux" || w == "smux" || w == "or" {
				continue
			}
			tm, err := parseTerm(name + ":" + w)
			if err != nil {
				t.Errorf("%s: %q, listed in %q, is refused: %v", name, w, msg, err)
				continue
			}
			switch tm.kind {
			case termCmd:
				cmds[tm.cmd] = true
			case termType:
				types[tm.typ] = true
			}
		}
		for c := range decoder.Cmd(decoder.NumCmds) {
			if name == "cmd" && !cmds[c] {
				t.Errorf("%s: %q does not list smux's %v", name, msg, c)
			}
		}
		for ty := range yamux.Type(yamux.NumTypes) {
			if !types[ty] {
				t.Errorf("%s: %q does not list yamux's %v", name, msg, ty)
			}
		}
	}
}

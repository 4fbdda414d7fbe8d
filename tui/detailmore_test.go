package tui

import (
	"fmt"
	"strings"
	"testing"
)

// detailLines returns the frame detail pane's lines.
func detailLines(screen string) []string {
	var out []string
	in := false
	for _, l := range strings.Split(screen, "\n") {
		switch {
		case strings.Contains(l, "Frame detail"):
			in = true
		case in && (strings.HasPrefix(l, "└") || strings.HasPrefix(l, "┗")):
			return out
		case in:
			out = append(out, l)
		}
	}
	return out
}

// TestLeakDetailSaysMore: at 160×45 the frame detail of a LEAK record that
// lists 32 streams, one line each, shows a few; it says what to do and how
// to see the stream first, and, on its last line, how many lines more
// there are and how to scroll to them; in the frames pane, enter and G
// show the last stream.
// Before: the pane showed where, the text, the streams and 5 of their
// first bytes, cut, with no word of the 30 lines below, "what to do"
// among them.
func TestLeakDetailSaysMore(t *testing.T) {
	m, _ := leakingAt(t, 160, 45, 30)
	m = press(m, "/")
	m = typeText(m, "LEAK")
	m = press(m, "enter")
	r := m.detail.rec
	if r == nil || r.Finding == nil || len(r.Finding.StreamIDs) != 32 {
		t.Fatalf("the detail shows %+v, want a LEAK record listing 32 streams", r)
	}
	lines := detailLines(screenOf(m))
	body := strings.Join(lines, "\n")
	last := lines[len(lines)-1]
	// The oldest stream LEAK counts: leakingAt's first streams opened as
	// its session began, setup streams LEAK leaves alone.
	if see := fmt.Sprintf("/session:1 sid:%d shows", r.Finding.Stream); !strings.Contains(body, "what to do: ") || !strings.Contains(body, see) {
		t.Errorf("the detail does not show what to do and how to see the stream:\n%s", body)
	}
	if !strings.Contains(last, "more lines") || !strings.Contains(last, "enter on the frame, then j/k") {
		t.Errorf("the detail's last line %q does not say there is more and how to see it:\n%s", last, body)
	}
	last32 := firstLine(r.Finding.StreamIDs[31], &r.Finding.Heads[31])
	m = press(m, "tab", "tab")
	if m.focus != paneFrames || m.detail.rec == nil || m.detail.rec.Seq != r.Seq {
		t.Fatalf("tab, tab: focus %v, the detail shows %+v, want the frames pane and the LEAK record", m.focus, m.detail.rec)
	}
	m = press(m, "enter", "G")
	lines = detailLines(screenOf(m))
	if m.focus != paneDetail || !strings.Contains(strings.Join(lines, "\n"), last32) || strings.Contains(strings.Join(lines, "\n"), "more lines") {
		t.Errorf("enter, G: focus %v, the detail does not end on the 32nd stream %q:\n%s", m.focus, last32, strings.Join(lines, "\n"))
	}
	checkFits(t, m, 160, 45)
}

package tui

import (
	"strings"
	"testing"
)

// TestCutTextEndsWithEllipsis: every text cut to fit ends with "…": a
// piece of a row (a finding's line in the frames pane), a column (the
// sessions pane's state, "ended: reset…"), a pane's title ("sort id (s:
// by ag…"). Before, they were cut with no mark: "…its reader, the client,
// is not" read as a whole sentence.
func TestCutTextEndsWithEllipsis(t *testing.T) {
	for _, tc := range []struct {
		s    string
		w    int
		want string
	}{
		{"its reader, the client, is not reading", 30, "its reader, the client, is no…"},
		{"fits", 4, "fits"},
		{"fits", 10, "fits"},
		{"ended: reset: read tcp", 13, "ended: reset…"},
		{"→ µs · …", 4, "→ µ…"},
		{"x", 0, ""},
		{"xy", 1, "…"},
	} {
		if got := ellipsis(tc.s, tc.w); got != tc.want || width(got) > tc.w {
			t.Errorf("ellipsis(%q, %d) = %q, want %q", tc.s, tc.w, got, tc.want)
		}
	}
	if got := newLine(20).text("finding: ").add("its reader, the client, is not reading", style{}).String(); got != "finding: its reader…" {
		t.Errorf("a row's piece cut to the room left: %q", got)
	}
	if got := newLine(20).col("ended: reset: read tcp", 13, style{}).String(); got != "ended: reset…       " {
		t.Errorf("a column's text: %q", got)
	}
	var th theme
	top := box(&th.styles, "Streams of session 1 · 3 open · sort id (s: by age)", false, nil, 40, 3)[0]
	if !strings.HasPrefix(top, "┌─ Streams of session 1 · 3 open · so… ┐") {
		t.Errorf("a title cut to the box: %q", top)
	}
}

package tui

import (
	"strings"
	"testing"
)

// TestFindingsListSaysMore: where the findings list gives up rows to the
// selected finding's text, at 80×24, the line between the two says how
// many findings it does not show. It showed one row and a blank line,
// as if that were the only finding.
func TestFindingsListSaysMore(t *testing.T) {
	m := findingsFixture().model(t, 80, 24)
	for _, keys := range [][]string{{"!"}, {"j"}, {"j"}, {"k"}} {
		m = press(m, keys...)
		box := paneBox(screenOf(m), "Findings ")
		rows := 0
		for _, l := range box {
			if strings.Contains(l, "warn ") || strings.Contains(l, "crit ") {
				rows++
			}
		}
		if rows == len(m.find.list) {
			continue
		}
		more := false
		for _, l := range box {
			more = more || strings.Contains(l, "more finding")
		}
		if !more {
			t.Errorf("after %v the list shows %d of %d findings and does not say there are more:\n%s", keys, rows, len(m.find.list), strings.Join(box, "\n"))
		}
	}
}

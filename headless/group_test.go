package headless

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/live"
)

// TestGroupFindings: the UI's summary on quitting writes the findings
// that differ in their numbers alone as one line, exact: how many, which
// findings and sessions, and each number that differs as its range; a
// finding unlike the others keeps its own line. The plain output lists
// each. Before, 501 sessions with a LEAK each made 501 lines.
func TestGroupFindings(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 2, 0, 0, 0, time.UTC)
	var fs []*live.Finding
	for i := range 501 {
		id := uint64(i + 1)
		fs = append(fs, &live.Finding{ID: id, Code: live.CodeLeak, Severity: live.Warning, Session: id, Opened: t0,
			Text: fmt.Sprintf("the server never closes its streams: 1 half-closed by the client, oldest %d s (stream 3)", 40+i%3)})
	}
	fs = append(fs, &live.Finding{ID: 502, Code: live.CodeLeak, Severity: live.Warning, Session: 700, Opened: t0, Resolved: t0.Add(1500 * time.Millisecond),
		Text: "the server never closes its streams: 1 half-closed by the client, oldest 40 s (stream 3)"})
	fs = append(fs, &live.Finding{ID: 503, Code: live.CodeChurn, Severity: live.Warning, Opened: t0, Text: "sessions open and close fast"})
	got := groupFindings(fs)
	want := []string{
		"    LEAK warning ×501 (findings #1–#501, sessions 1–501), open: the server never closes its streams: 1 half-closed by the client, oldest 40–42 s (stream 3)",
		"    #502 LEAK warning, session 700, resolved after 1.5 s: the server never closes its streams: 1 half-closed by the client, oldest 40 s (stream 3)",
		"    #503 CHURN warning, open: sessions open and close fast",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("grouped:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := idList([]uint64{9, 1, 2, 3, 7, 10, 11, 12, 20, 30, 31, 40}, ""); got != "1–3, 7, 9–12, 20 and 3 more" {
		t.Errorf("idList = %q", got)
	}
	for _, group := range []bool{false, true} {
		var b bytes.Buffer
		writeFindings(&b, Summary{Findings: fs, FindingsOpened: 503, GroupFindings: group})
		lines := strings.Count(b.String(), "\n")
		if group && lines != 4 || !group && lines != 504 {
			t.Errorf("group %v: %d lines, want a heading and %d:\n%.2000s", group, lines, map[bool]int{false: 503, true: 3}[group], b.String())
		}
	}
}

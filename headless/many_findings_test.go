package headless

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/live"
)

// manyLeaks returns n LEAK findings, one per session, as 9 000 sessions
// that leak alike make, still holding as muxtop stopped.
func manyLeaks(n int, t0 time.Time) []*live.Finding {
	var fs []*live.Finding
	for i := range n {
		id := uint64(i + 1)
		fs = append(fs, &live.Finding{ID: id, Code: live.CodeLeak, Severity: live.Warning, Session: id, Opened: t0, Resolved: t0.Add(27 * time.Second), Unwatched: true,
			Text: fmt.Sprintf("the server never closes its streams: 11 half-closed by the client and idle 30 s or more, oldest %d s (stream 3)", 40+i%3)})
	}
	return fs
}

// TestPlainSummaryGroupsManyFindings: with more findings than a screen
// holds, the plain summary writes those alike as one line, as the UI's
// does, says that JSON lists each, and keeps the totals and the leaks
// line within a screen of each other; a few findings are each listed on
// their own line as before. Before, 9 000 LEAKs made a summary of 9 000
// lines and more, the leaks line at the bottom.
func TestPlainSummaryGroupsManyFindings(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 2, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name  string
		n     int
		lines []string // the summary's findings, after its heading
	}{
		{"many", 9000, []string{
			"    LEAK warning ×9000 (findings #1–#9000, sessions 1–9000), open at the end (muxtop stopped watching): the server never closes its streams: 11 half-closed by the client and idle 30 s or more, oldest 40–42 s (stream 3)",
			"    (9000 findings listed, those alike on one line; --output json lists each)",
		}},
		{"few", 2, []string{
			"    #1 LEAK warning, session 1, open at the end (muxtop stopped watching): the server never closes its streams: 11 half-closed by the client and idle 30 s or more, oldest 40 s (stream 3)",
			"    #2 LEAK warning, session 2, open at the end (muxtop stopped watching): the server never closes its streams: 11 half-closed by the client and idle 30 s or more, oldest 41 s (stream 3)",
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := Summary{Sessions: uint64(c.n), Findings: manyLeaks(c.n, t0), FindingsOpened: uint64(c.n), Leaks: 11 * c.n, LeakAfter: 30 * time.Second, Evaluated: true, OldestLeak: 42 * time.Second}
			s.FindingsOpen[live.Warning] = c.n
			var b bytes.Buffer
			WriteSummary(&b, s)
			out := b.String()
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			head := fmt.Sprintf("  findings  %d opened, %d open at the end (0 critical, %d warning)", c.n, c.n, c.n)
			at := -1
			for i, l := range lines {
				if l == head {
					at = i
				}
			}
			if at < 0 || at+1+len(c.lines) > len(lines) || strings.Join(lines[at+1:at+1+len(c.lines)], "\n") != strings.Join(c.lines, "\n") {
				t.Fatalf("findings, after %q, want:\n%s\nsummary (%d lines):\n%.3000s", head, strings.Join(c.lines, "\n"), len(lines), out)
			}
			if len(lines) > 24 {
				t.Errorf("summary of %d lines: the totals and the leaks line a screen apart or more:\n%.3000s", len(lines), out)
			}
			if !strings.HasPrefix(lines[at+1+len(c.lines)], fmt.Sprintf("  leaks     %d suspected", 11*c.n)) {
				t.Errorf("line after the findings %q, want the leaks line", lines[at+1+len(c.lines)])
			}
		})
	}
}

// TestPlainStillOpenMany: as muxtop stops, every finding still holding
// resolves as STILL-OPEN at once; plain writes the first 20 as before and
// the rest as one line, before the summary: how many, of which codes,
// which findings and sessions, and that JSON has each. JSON writes a
// record for each. Before, 9 000 LEAKs made 9 000 STILL-OPEN lines.
func TestPlainStillOpenMany(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 2, 0, 0, 0, time.UTC)
	fs := manyLeaks(9000, t0)
	fs = append(fs, &live.Finding{ID: 9001, Code: live.CodeKeepalive, Severity: live.Warning, Session: 9001, Opened: t0, Resolved: t0.Add(27 * time.Second), Unwatched: true, Text: "the client has sent nothing for 12 s"})
	for _, f := range []Format{Plain, JSON} {
		t.Run(f.String(), func(t *testing.T) {
			var out bytes.Buffer
			p := NewPrinter(live.New(live.Config{}), &out, f)
			for _, f := range fs {
				p.write(&live.Record{Kind: live.FindingResolved, At: f.Resolved, Session: f.Session, Finding: f, Detail: "muxtop stopped watching (shutdown): still holding then"})
			}
			if _, err := p.Finish(Options{Format: f}); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(out.String(), "\n")
			if f == JSON {
				if n := strings.Count(out.String(), `"type":"finding-resolved"`); n != len(fs) {
					t.Errorf("%d finding-resolved records, want one per finding, %d", n, len(fs))
				}
				return
			}
			var still []string
			for _, l := range lines {
				if strings.Contains(l, "STILL-OPEN") {
					still = append(still, l)
				}
			}
			want := []string{
				"02:00:27.000000 #1 STILL-OPEN 1 LEAK after 27 s: muxtop stopped watching (shutdown): still holding then",
				"02:00:27.000000 STILL-OPEN 8981 more, not listed one by one: LEAK ×8980, KEEPALIVE ×1 (findings #21–#9001, sessions 21–9001): muxtop stopped watching their sessions: still holding then; the summary counts them, --output json has a record for each",
			}
			if len(still) != 21 || still[0] != want[0] || still[20] != want[1] {
				t.Fatalf("%d STILL-OPEN lines, want 21, the first and last:\n%s\ngot first and last:\n%s\n%s", len(still), strings.Join(want, "\n"), still[0], still[len(still)-1])
			}
			if i := strings.Index(out.String(), want[1]); i < 0 || !strings.HasPrefix(out.String()[i+len(want[1]):], "\nmuxtop summary:") {
				t.Errorf("the STILL-OPEN line is not right before the summary:\n%.3000s", out.String())
			}
		})
	}
}

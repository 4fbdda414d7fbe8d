package headless

import (
	"bytes"
	"testing"
	"time"

	"github.com/muxtop/muxtop/live"
)

// TestSummarySilentFinding: the JSON summary's findings say "silent" of
// an UNANSWERED of a silent side, as its records do, and not of one
// whose other side still sends. Before, the summary had no such field.
func TestSummarySilentFinding(t *testing.T) {
	at := time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC)
	mk := func(id uint64, silent bool) *live.Finding {
		return &live.Finding{ID: id, Code: live.CodeUnanswered, Severity: live.Warning, Session: 1, Stream: 3, Dir: live.ClientToServer, HasDir: true,
			Since: at.Add(-31 * time.Second), Opened: at, Evidence: live.Evidence{Count: 2, Age: 31 * time.Second, Limit: 30 * time.Second, Silent: silent},
			Text: "2 streams opened by the client wait for an answer", Advice: "take a goroutine dump"}
	}
	var out bytes.Buffer
	writeSummary(&out, JSON, Summary{Findings: []*live.Finding{mk(1, true), mk(2, false)}})
	j := leaksJSON(t, out.Bytes())
	if len(j.Findings) != 2 || j.Findings[0]["silent"] != true || j.Findings[1]["silent"] != nil {
		t.Errorf("JSON findings %v; want the first silent, the second without the field", j.Findings)
	}
}

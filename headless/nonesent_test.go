package headless

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/racetest"
	"github.com/muxtop/muxtop/live"
)

// TestLeakFirstNoneSent: a direction of a LEAK's oldest stream that sent
// nothing reads "(none sent)" in the plain FINDING line and the plain
// summary, as in the UI, the line still built without allocating.
// Before, both quoted it as sent empty: `· stream 5: "RAND" → ""`.
func TestLeakFirstNoneSent(t *testing.T) {
	at := time.Date(2026, 11, 27, 12, 1, 4, 0, time.UTC)
	var h [2]live.FirstBytes
	h[live.ClientToServer].N = uint8(copy(h[live.ClientToServer].Data[:], "RAND"))
	f := &live.Finding{ID: 7, Code: live.CodeLeak, Severity: live.Warning, Session: 3, Stream: 5, Dir: live.ServerToClient, HasDir: true,
		Since: at.Add(-43 * time.Second), Opened: at, Evidence: live.Evidence{Count: 1, Age: 43 * time.Second, Limit: 30 * time.Second},
		Text: "the server never closes its streams", Advice: "call Close()", StreamIDs: []uint32{5}, Heads: [][2]live.FirstBytes{h}}
	r := live.Record{Kind: live.FindingOpened, Seq: 12, Session: 3, At: at, Finding: f}
	const want = ` · stream 5: "RAND" → (none sent)`
	if plain := string(appendPlain(nil, &r)); !strings.Contains(plain, want) {
		t.Errorf("plain %q lacks %q", plain, want)
	}
	var out bytes.Buffer
	writeSummary(&out, Plain, Summary{FindingsOpened: 1, Findings: []*live.Finding{f}})
	if !strings.Contains(out.String(), want) {
		t.Errorf("plain summary lacks %q:\n%s", want, out.String())
	}
	if racetest.Enabled {
		return
	}
	line := make([]byte, 0, 4096)
	if n := testing.AllocsPerRun(10, func() { line = appendPlain(line[:0], &r) }); n != 0 {
		t.Errorf("plain %s: %v allocations", line, n)
	}
}

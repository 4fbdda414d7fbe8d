package headless

import (
	"bytes"
	"strings"
	"testing"
)

// TestIncompleteLineAgrees: the summary's INCOMPLETE line agrees with its
// count. Before, one session read "INCOMPLETE 1 sessions: … it began
// while they were open … their counts".
func TestIncompleteLineAgrees(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want string
	}{
		{1, "  INCOMPLETE 1 session: the capture did not see every byte: it began while it was open, or lost bytes (lost → 12  ← 0, skipped to a frame boundary → 7  ← 0); its counts are what was seen\n"},
		{2, "  INCOMPLETE 2 sessions: the capture did not see every byte: it began while they were open, or lost bytes (lost → 12  ← 0, skipped to a frame boundary → 7  ← 0); their counts are what was seen\n"},
	} {
		var b bytes.Buffer
		WriteSummary(&b, Summary{Sessions: uint64(tc.n), Incomplete: tc.n, Lost: [2]int64{12, 0}, Skipped: [2]int64{7, 0}})
		if !strings.Contains(b.String(), tc.want) {
			t.Errorf("%d incomplete: summary\n%s\nwant the line %q", tc.n, b.String(), tc.want)
		}
	}
}

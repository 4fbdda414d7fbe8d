package tap

import (
	"strings"
	"testing"

	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
)

// TestYamuxUpdateRSTAfterBothFINsReal: a raw client opens stream 1 on a
// real hashicorp/yamux v0.1.2 server, which closes it at once
// (closeFirstServer); the client's FIN, read after the server's, closes
// it both ways, and the server's recv loop removes it before it reads
// the next frame. A window update and then an RST from the client on it
// name a stream the server no longer has: yamux ignores both ("frame for
// missing stream"). muxtop must count them alike whether it still keeps
// stream 1 in detail or has folded it: untracked, the stream's frames
// and its clean close untouched. Before, the stream kept in detail took
// both frames, and the RST turned it to reset; the folded one counted
// them untracked.
func TestYamuxUpdateRSTAfterBothFINsReal(t *testing.T) {
	for _, folded := range []bool{false, true} {
		name := "kept in detail"
		if folded {
			name = "folded"
		}
		t.Run(name, func(t *testing.T) {
			reg, srv, log, write := closedBothWays(t, folded)
			write(rawFrame(yamux.WindowUpdate, 0, 1, 1000))
			write(rawFrame(yamux.WindowUpdate, yamux.RST, 1, 0))
			smuxtest.Eventually(t, "the server's yamux to ignore both frames", func() bool {
				return strings.Count(log.String(), "frame for missing stream") == 2
			})
			if srv.IsClosed() {
				t.Fatalf("the server's session ended: %s", log.String())
			}
			ss := reg.Snapshot().Sessions[0]
			if ss.AnomalyCount != 0 || ss.Untracked.Frames[live.ClientToServer] != 2 {
				t.Errorf("anomalies %v (%d), untracked c2s %d frames; want none, both frames untracked",
					ss.AnomaliesBy, ss.AnomalyCount, ss.Untracked.Frames[live.ClientToServer])
			}
			if st := ss.Stream(1); st != nil && (st.State != live.Closed || st.Frames[live.ClientToServer] != 2) {
				t.Errorf("stream 1 %v with %d frames from the client, want closed with its SYN and FIN", st.State, st.Frames[live.ClientToServer])
			}
		})
	}
}

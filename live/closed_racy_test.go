package live_test

import (
	"testing"

	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/live"
)

// TestYamuxFramesAfterOwnFINLast: stream 1 closed both ways, the
// server's own FIN last. hashicorp's yamux v0.1.2 Close sends that FIN
// before it removes the stream, so a frame from the client arriving in
// between still finds it: a window update grows its window, an RST
// resets it; after, both are ignored. muxtop counts them on the stream,
// as yamux may read them, and keeps its clean close: an RST resets
// nothing shown. Where the server's FIN came first (the client's closed
// the stream, and the server removed it at once), both are untracked,
// as once the stream is folded (tap.TestYamuxUpdateRSTAfterBothFINsReal).
// Before, an RST turned the closed stream to reset.
func TestYamuxFramesAfterOwnFINLast(t *testing.T) {
	for _, serverFirst := range []bool{false, true} {
		name := "the server's FIN last"
		if serverFirst {
			name = "the server's FIN first"
		}
		t.Run(name, func(t *testing.T) {
			reg := live.New(live.Config{})
			y := &yamuxFrames{s: reg.Open(live.SessionInfo{Proto: live.Yamux}, t0)}
			y.rec(c2s, yamux.WindowUpdate, yamux.SYN, 1, 0)
			y.rec(s2c, yamux.WindowUpdate, yamux.ACK, 1, 0)
			if serverFirst {
				y.rec(s2c, yamux.WindowUpdate, yamux.FIN, 1, 0)
				y.rec(c2s, yamux.WindowUpdate, yamux.FIN, 1, 0)
			} else {
				y.rec(c2s, yamux.WindowUpdate, yamux.FIN, 1, 0)
				y.rec(s2c, yamux.WindowUpdate, yamux.FIN, 1, 0)
			}
			y.rec(c2s, yamux.WindowUpdate, 0, 1, 1000)
			y.rec(c2s, yamux.WindowUpdate, yamux.RST, 1, 0)
			ss := reg.Snapshot().Sessions[0]
			st := ss.Stream(1)
			wantStream, wantUntracked := uint64(4), uint64(0)
			if serverFirst {
				wantStream, wantUntracked = 2, 2
			}
			if st == nil || st.State != live.Closed || st.Frames[c2s] != wantStream || ss.Untracked.Frames[c2s] != wantUntracked || ss.AnomalyCount != 0 {
				t.Fatalf("stream 1 %+v, untracked c2s %d, anomalies %d; want closed, %d frames from the client on it, %d untracked, none",
					st, ss.Untracked.Frames[c2s], ss.AnomalyCount, wantStream, wantUntracked)
			}
		})
	}
}

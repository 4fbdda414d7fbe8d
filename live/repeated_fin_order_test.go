package live_test

import (
	"strings"
	"testing"

	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/live"
)

// TestYamuxRepeatedFINOrder: the client repeats its FIN on stream 1,
// closed both ways. Where the server's FIN came first, the client's FIN
// closed the stream and the server's yamux (v0.1.2, processFlags in its
// recv loop) removed it before reading the next frame: the repeat is
// ignored, an untracked frame. Where the server's own FIN came second,
// its Close sent that FIN before removing the stream, and a FIN arriving
// in between ends the session ("unexpected FIN flag in state 6"): a
// REPEATED_FIN whose reaction says the race, and no PROTOCOL, yamux
// usually ignoring it. Before, both were untracked.
func TestYamuxRepeatedFINOrder(t *testing.T) {
	for _, tc := range []struct {
		name        string
		serverFirst bool
		rst         bool // the repeat carries RST too, which resets nothing (the rereading review: "state reset")
	}{{"the server's FIN first", true, false}, {"the client's FIN first", false, false}, {"the client's FIN first, the repeat with RST", false, true}} {
		t.Run(tc.name, func(t *testing.T) {
			reg := live.New(live.Config{})
			y := &yamuxFrames{s: reg.Open(live.SessionInfo{Proto: live.Yamux}, t0)}
			y.rec(c2s, yamux.WindowUpdate, yamux.SYN, 1, 0)
			y.rec(s2c, yamux.WindowUpdate, yamux.ACK, 1, 0)
			if tc.serverFirst {
				y.rec(s2c, yamux.WindowUpdate, yamux.FIN, 1, 0)
				y.rec(c2s, yamux.WindowUpdate, yamux.FIN, 1, 0)
			} else {
				y.rec(c2s, yamux.WindowUpdate, yamux.FIN, 1, 0)
				y.rec(s2c, yamux.WindowUpdate, yamux.FIN, 1, 0)
			}
			repeat := yamux.FIN
			if tc.rst {
				repeat |= yamux.RST
			}
			y.rec(c2s, yamux.WindowUpdate, repeat, 1, 0)
			reg.Evaluate(sec(1), live.FindingsConfig{Churn: -1})
			snap := reg.Snapshot()
			ss := snap.Sessions[0]
			if st := ss.Stream(1); st == nil || st.State != live.Closed {
				t.Fatalf("stream 1 %+v, want closed", st)
			}
			wantAnomaly, wantUntracked := uint64(1), uint64(0)
			if tc.serverFirst {
				wantAnomaly, wantUntracked = 0, 1
			}
			if got, un := ss.AnomaliesBy[live.RepeatedFIN], ss.Untracked.Frames[live.ClientToServer]; got != wantAnomaly || un != wantUntracked {
				t.Errorf("REPEATED_FIN %d, untracked c2s %d frames; want %d, %d", got, un, wantAnomaly, wantUntracked)
			}
			for _, f := range snap.Findings {
				if f.Code == live.CodeProtocol {
					t.Errorf("PROTOCOL opened: %s", f.Text)
				}
			}
		})
	}
	if r := live.RepeatedFIN.YamuxReaction(); !strings.Contains(r, "racily") || !strings.Contains(r, "before it removes the stream") {
		t.Errorf("REPEATED_FIN's reaction %q does not say the race", r)
	}
}

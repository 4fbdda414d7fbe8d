package live_test

import (
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/live"
)

// TestFatalFrameGoAwayOneFinding: a client's second SYN for a stream the
// server has ends hashicorp/yamux's session, and the GoAway (protocol
// error) its yamux queues as it closes now and then reaches the wire:
// one failure, one finding, the PROTOCOL that names the frame. Before,
// a GO_AWAY finding ("the server sent GoAway (protocol error): it ends
// the session") opened beside it where the GoAway came through (through
// attach under -race: TestYamuxFatalAnomalyProtocolReal, FLAKY in CI).
// A GoAway (protocol error) with no such frame before it, or sent by the
// fatal frame's own sender, is GO_AWAY's as before.
func TestFatalFrameGoAwayOneFinding(t *testing.T) {
	for _, tc := range []struct {
		name     string
		dup      bool     // the client's duplicate SYN comes before the GoAway
		goAwayBy live.Dir // the GoAway's direction
		want     []live.FindingCode
	}{
		{"GoAway answering the fatal frame", true, s2c, []live.FindingCode{live.CodeProtocol}},
		{"GoAway with no fatal frame", false, s2c, []live.FindingCode{live.CodeGoAway}},
		{"GoAway from the fatal frame's sender", true, c2s, []live.FindingCode{live.CodeProtocol, live.CodeGoAway}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := live.New(live.Config{})
			y := &yamuxFrames{s: reg.Open(live.SessionInfo{Proto: live.Yamux}, t0)}
			at := t0
			next := func() time.Time { at = at.Add(time.Millisecond); return at }
			y.recAt(next(), c2s, yamux.WindowUpdate, yamux.SYN, 1, 0)
			y.recAt(next(), s2c, yamux.WindowUpdate, yamux.ACK, 1, 0)
			if tc.dup {
				y.recAt(next(), c2s, yamux.WindowUpdate, yamux.SYN, 1, 0)
			}
			y.recAt(next(), tc.goAwayBy, yamux.GoAway, 0, 0, yamux.GoAwayProtocolError)
			// Evaluated before the close ends the session, as the
			// findings are evaluated every second.
			reg.Evaluate(next(), live.FindingsConfig{Churn: -1})
			y.s.End(next(), live.EOF, nil)
			reg.Evaluate(at.Add(time.Second), live.FindingsConfig{Churn: -1})
			var got []live.FindingCode
			recs, _ := reg.Frames(live.Query{From: 0}, nil)
			for _, r := range recs {
				if r.Kind == live.FindingOpened {
					got = append(got, r.Finding.Code)
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("findings opened %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("findings opened %v, want %v", got, tc.want)
				}
			}
		})
	}
}

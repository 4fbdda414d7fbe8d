package live_test

import (
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/live"
)

// TestYamuxRacyRepeatedFINEnd: the client repeats its FIN on stream 1,
// which the server's own FIN closed both ways (the server's FIN last),
// a racy REPEATED_FIN: hashicorp's yamux v0.1.2 ends the session on it
// only if it arrives while the server's Close is still removing the
// stream, one goroutine wake-up after that FIN went out, and then closes
// the connection at once. A repeat within live.RacyFINWindow after the
// server's FIN, the server's side of the connection closing right after
// it, with nothing else sent (a GoAway, protocol error, may be), says it
// did: a critical PROTOCOL naming the FIN. Its side closing long after,
// or after the server sent anything else, or the client closing first,
// says nothing of the FIN: no PROTOCOL. Nor a repeat long after the
// server's FIN: yamux had removed the stream and ignored it ("frame for
// missing stream"), untracked and no REPEATED_FIN, as where the server's
// FIN came first; an end right after it is not its. Before, a repeat 60 s
// after the server's FIN, its side closing 1.5 s later, opened
// "PROTOCOL critical ... the server's yamux failed with \"unexpected
// flag\"". The real race: tap.TestYamuxRacyRepeatedFINEndsReal.
func TestYamuxRacyRepeatedFINEnd(t *testing.T) {
	const soon = 5 * time.Millisecond // a repeat in the race window
	for _, tc := range []struct {
		name     string
		repeat   time.Duration        // when the FIN again comes, after the server's FIN
		after    func(y *yamuxFrames) // what the server sends after the FIN again
		end      time.Duration        // when the server's side closes, after the FIN again
		client   bool                 // the client's side closes first, at once
		protocol bool
	}{
		{"the server's side closes at once", soon, nil, 5 * time.Millisecond, false, true},
		{"its GoAway, then its side closes", soon, func(y *yamuxFrames) {
			y.recAt(t0.Add(soon), s2c, yamux.GoAway, 0, 0, yamux.GoAwayProtocolError)
		}, 5 * time.Millisecond, false, true},
		{"the server's side closes later", soon, nil, 10 * time.Second, false, false},
		{"the server pings, then its side closes", soon, func(y *yamuxFrames) {
			y.recAt(t0.Add(soon), s2c, yamux.Ping, yamux.SYN, 0, 7)
		}, 5 * time.Millisecond, false, false},
		{"the client closes first", soon, nil, 5 * time.Millisecond, true, false},
		{"the repeat long after the server's FIN", 60 * time.Second, nil, 1500 * time.Millisecond, false, false},
		{"the repeat just after the window", live.RacyFINWindow + time.Millisecond, nil, 5 * time.Millisecond, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := live.New(live.Config{})
			y := &yamuxFrames{s: reg.Open(live.SessionInfo{Proto: live.Yamux}, t0)}
			y.rec(c2s, yamux.WindowUpdate, yamux.SYN, 1, 0)
			y.rec(s2c, yamux.WindowUpdate, yamux.ACK, 1, 0)
			y.rec(c2s, yamux.WindowUpdate, yamux.FIN, 1, 0)
			y.rec(s2c, yamux.WindowUpdate, yamux.FIN, 1, 0)
			y.recAt(t0.Add(tc.repeat), c2s, yamux.WindowUpdate, yamux.FIN, 1, 0)
			// Within the window, counted on the stream, as yamux may
			// still have it; after it, untracked.
			racy := tc.repeat <= live.RacyFINWindow
			wantAnomaly, wantUntracked := uint64(1), uint64(0)
			if !racy {
				wantAnomaly, wantUntracked = 0, 1
			}
			ss := reg.Snapshot().Sessions[0]
			if got, un := ss.AnomaliesBy[live.RepeatedFIN], ss.Untracked.Frames[c2s]; got != wantAnomaly || un != wantUntracked {
				t.Errorf("REPEATED_FIN %d, untracked c2s %d frames; want %d, %d", got, un, wantAnomaly, wantUntracked)
			}
			if tc.after != nil {
				tc.after(y)
			}
			end := t0.Add(tc.repeat + tc.end)
			if tc.client {
				y.s.DirectionEnded(c2s, end.Add(-time.Millisecond))
			}
			y.s.DirectionEnded(s2c, end)
			y.s.End(end, live.EOF, nil)
			reg.Evaluate(end.Add(time.Second), live.FindingsConfig{Churn: -1})
			var got []*live.Finding
			for _, f := range reg.Snapshot().Findings {
				if f.Code == live.CodeProtocol {
					got = append(got, f)
				}
			}
			if !tc.protocol {
				for _, f := range got {
					t.Errorf("PROTOCOL opened: %s", f.Text)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("%d PROTOCOL findings, want 1", len(got))
			}
			f := got[0]
			if f.Severity != live.Critical || f.Stream != 1 || f.Dir != c2s || f.Evidence.Fatal != live.RepeatedFIN || !f.Evidence.Racy {
				t.Errorf("finding %v sid %d %v fatal %v racy %v; want critical, stream 1, c2s, REPEATED_FIN, racy", f.Severity, f.Stream, f.Dir, f.Evidence.Fatal, f.Evidence.Racy)
			}
			if !strings.Contains(f.Text, "which the server had closed both ways with its own FIN, the last, as its Close was still removing the stream") {
				t.Errorf("text %q", f.Text)
			}
		})
	}
}

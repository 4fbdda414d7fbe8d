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
// stream, and then closes the connection at once. The server's side of
// the connection closing right after it, with nothing else sent (a
// GoAway, protocol error, may be), says it did: a critical PROTOCOL
// naming the FIN. Its side closing long after, or after the server sent
// anything else, or the client closing first, says nothing of the FIN:
// no PROTOCOL. The real race: tap.TestYamuxRacyRepeatedFINEndsReal.
func TestYamuxRacyRepeatedFINEnd(t *testing.T) {
	for _, tc := range []struct {
		name     string
		after    func(y *yamuxFrames) // what the server sends after the FIN again
		end      time.Duration        // when the server's side closes, after the FIN again
		client   bool                 // the client's side closes first, at once
		protocol bool
	}{
		{"the server's side closes at once", nil, 5 * time.Millisecond, false, true},
		{"its GoAway, then its side closes", func(y *yamuxFrames) {
			y.recAt(sec(1), s2c, yamux.GoAway, 0, 0, yamux.GoAwayProtocolError)
		}, 5 * time.Millisecond, false, true},
		{"the server's side closes later", nil, 10 * time.Second, false, false},
		{"the server pings, then its side closes", func(y *yamuxFrames) {
			y.recAt(sec(1), s2c, yamux.Ping, yamux.SYN, 0, 7)
		}, 5 * time.Millisecond, false, false},
		{"the client closes first", nil, 5 * time.Millisecond, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := live.New(live.Config{})
			y := &yamuxFrames{s: reg.Open(live.SessionInfo{Proto: live.Yamux}, t0)}
			y.rec(c2s, yamux.WindowUpdate, yamux.SYN, 1, 0)
			y.rec(s2c, yamux.WindowUpdate, yamux.ACK, 1, 0)
			y.rec(c2s, yamux.WindowUpdate, yamux.FIN, 1, 0)
			y.rec(s2c, yamux.WindowUpdate, yamux.FIN, 1, 0)
			y.recAt(sec(1), c2s, yamux.WindowUpdate, yamux.FIN, 1, 0)
			if tc.after != nil {
				tc.after(y)
			}
			end := sec(1).Add(tc.end)
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

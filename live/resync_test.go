package live_test

import (
	"testing"

	"github.com/muxtop/muxtop/live"
)

// TestResynced checks that a session whose capture joined mid-stream
// adopts the streams it did not see open, marked incomplete, instead of
// calling their frames anomalies; that a loss marks the streams live at it
// incomplete and no other; and that the same frames in a session seen
// whole are anomalies and nothing is incomplete.
func TestResynced(t *testing.T) {
	c2s, s2c := live.ClientToServer, live.ServerToClient
	for _, tc := range []struct {
		name           string
		joined         bool
		wantAnomalies  uint64
		wantIncomplete bool
	}{
		{"seen whole", false, 4, false}, // PSH, PSH, FIN, FIN of a stream never opened,
		{"joined mid-stream", true, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := live.New(live.Config{})
			sc := openSession(reg, 1)
			if tc.joined {
				sc.s.Resynced(c2s, t0, 100, 7, 0, "joined mid-stream at offset 100, 7 bytes skipped")
			}
			sc.feed(psh(c2s, 5, "abcd"), psh(s2c, 5, "xy"), fin(c2s, 5), fin(s2c, 5), syn(c2s, 7), psh(c2s, 7, "q"))
			ss := reg.Snapshot().Session(sc.s.ID())
			if ss.AnomalyCount != tc.wantAnomalies || ss.Incomplete != tc.wantIncomplete {
				t.Fatalf("anomalies %d incomplete %v; want %d %v", ss.AnomalyCount, ss.Incomplete, tc.wantAnomalies, tc.wantIncomplete)
			}
			if !tc.joined {
				return
			}
			st5, st7 := ss.Stream(5), ss.Stream(7)
			if st5 == nil || !st5.Incomplete || st5.State != live.Closed || st5.Opener != live.Client || st5.Bytes != [2]uint64{4, 2} {
				t.Fatalf("adopted stream 5: %+v", st5)
			}
			if st7 == nil || st7.Incomplete {
				t.Fatalf("stream 7, opened in sight: %+v, want complete", st7)
			}
			if ss.Skipped != [2]int64{7, 0} {
				t.Fatalf("Skipped %v, want [7 0]", ss.Skipped)
			}
			// A loss marks the streams live at it.
			sc.feed(syn(c2s, 9))
			sc.s.Resynced(s2c, t0, 500, 0, 1000, "capture lost 1000 bytes at offset 500")
			sc.feed(syn(c2s, 11))
			ss = reg.Snapshot().Session(sc.s.ID())
			if !ss.Stream(7).Incomplete || !ss.Stream(9).Incomplete || ss.Stream(11).Incomplete || ss.Lost != [2]int64{0, 1000} {
				t.Fatalf("after a loss: 7 %v 9 %v 11 %v lost %v; want true true false [0 1000]",
					ss.Stream(7).Incomplete, ss.Stream(9).Incomplete, ss.Stream(11).Incomplete, ss.Lost)
			}
			if snap := reg.Snapshot(); snap.Incomplete != 1 {
				t.Fatalf("Snapshot.Incomplete %d, want 1", snap.Incomplete)
			}
		})
	}
}

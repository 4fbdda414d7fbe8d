package live_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/muxtop/muxtop/live"
)

// TestSetupStreamsCappedReal: a client that dials and at once opens a
// stream per request, leaking them all (11 in its first 0.2 s, each
// answered, none closed), on real smux (v1, v2) and hashicorp/yamux
// sessions. The first live.MaxSetupStreams (8) are setup streams, as a
// program's control streams would be; the 3 beyond them are counted,
// and a LEAK names them. Before, all 11 were setup streams and the
// session, leaking from its start, had no LEAK at all (a scale audit: 9,000
// such sessions, 99,000 streams idle 100 s, 0 findings).
func TestSetupStreamsCappedReal(t *testing.T) {
	for _, m := range realMuxes() {
		t.Run(m.name, func(t *testing.T) {
			h := newPluginHost(t, m.mux)
			var ids []uint32
			for i := range 11 {
				h.at(float64(i) / 50)
				st := h.open()
				h.call(st, fmt.Sprintf("Watch %d", i), "event")
				ids = append(ids, streamID(st[0]))
			}
			h.clk.quiet()
			leaks := h.evaluate()
			if len(leaks) == 0 {
				t.Fatal("no LEAK for 11 streams leaked from the session's start")
			}
			f := leaks[len(leaks)-1].Finding
			if want := ids[live.MaxSetupStreams:]; f.Evidence.Count != 3 || !slices.Equal(f.StreamIDs, want) {
				t.Errorf("LEAK count %d, streams %v: %q; want 3, %v (the streams beyond the first %d)", f.Evidence.Count, f.StreamIDs, f.Text, want, live.MaxSetupStreams)
			}
			snap := h.reg.SnapshotWith(live.SnapshotOptions{Now: sec(45), LeakAfter: live.DefaultLeakAfter})
			if snap.Setup != live.MaxSetupStreams || snap.Leaks != 3 {
				t.Errorf("the snapshot's Setup %d, Leaks %d; want %d, 3", snap.Setup, snap.Leaks, live.MaxSetupStreams)
			}
		})
	}
}

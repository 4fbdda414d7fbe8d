package live_test

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// leakyTapped runs smuxtest.LeakyRun over mux, its server tapped into a
// registry whose history holds 64 records, with 40 healthy streams after
// the bad one: their frames evict the bad stream's. It evaluates the
// findings with a LeakAfter the bad stream has passed, and returns the
// registry and the bad stream's id.
func leakyTapped(t *testing.T, mux smuxtest.Mux) (*live.Registry, uint32) {
	reg := live.New(live.Config{History: 64})
	bad := smuxtest.LeakyRun(t, mux, func(c net.Conn) net.Conn { return tap.Wrap(c, live.Server, reg, "srv") }, smuxtest.BadRequest, 40)
	st := waitStream(t, reg, bad, "the bad stream half-closed by the client", func(st *live.StreamSnap) bool {
		return st.State == live.HalfClosedByClient
	})
	for _, r := range allRecords(reg) {
		if r.Kind == live.FrameRecord && r.StreamID() == bad {
			t.Fatalf("history still holds a frame of stream %d: the test evicts them", bad)
		}
	}
	// A LEAK needs the stream idle LeakAfter as well as open that long:
	// measure from its latest frame (its FIN), not its SYN. Half the time
	// from there to the session's latest frame puts its deadline among the
	// healthy streams' frames, so that yamux's wait for a first ping (a
	// deadline after the server's last frame) does not excuse it. No LEAK
	// opens while a tapped write is in progress (it may be a block), as
	// one of the server's may be on a loaded machine: evaluate again.
	smuxtest.Eventually(t, "a LEAK opened", func() bool {
		sessLast := reg.Snapshot().Sessions[0].Last
		at := time.Now()
		reg.Evaluate(at, live.FindingsConfig{LeakAfter: sessLast.Sub(st.Last) / 2, UnansweredAfter: time.Hour, Churn: -1})
		for _, f := range reg.Snapshot().Findings {
			if f.Code == live.CodeLeak {
				return true
			}
		}
		return false
	})
	return reg, bad
}

// TestFirstBytesOutliveHistoryReal: a real smux (and yamux) server leaks
// the streams of one request, "GET /bad", among healthy ones; history is
// so short that the leaked stream's frames are gone when LEAK opens.
// The stream's snapshot still has its first bytes each way, and the LEAK
// record names them beside the stream, as the open finding does its
// oldest stream's (Finding.First): the request that leaks and its answer. Before, nothing kept them ("stream 1 has no first bytes").
func TestFirstBytesOutliveHistoryReal(t *testing.T) {
	for _, yam := range []bool{false, true} {
		name := map[bool]string{false: "smux", true: "yamux"}[yam]
		t.Run(name, func(t *testing.T) {
			reg, bad := leakyTapped(t, smuxtest.MuxOf(yam))
			st := reg.Snapshot().Sessions[0].Stream(bad)
			wantC2S := smuxtest.BadRequest[:live.FirstBytesLen]
			if got := st.Head[c2s].Bytes(); !bytes.Equal(got, wantC2S) || st.Head[c2s].Cut {
				t.Errorf("stream %d's first client bytes %q (cut %v), want %q", bad, got, st.Head[c2s].Cut, wantC2S)
			}
			if got := st.Head[s2c].Bytes(); !bytes.Equal(got, smuxtest.BadAnswer) {
				t.Errorf("stream %d's first server bytes %q, want %q", bad, got, smuxtest.BadAnswer)
			}
			// History shows records up to the first slot still being
			// written: a frame the session's own goroutines record (a
			// yamux ping, a window update) may hold the LEAK record back
			// for a moment on a loaded machine.
			var leak *live.Finding
			leakRecord := func() bool {
				for _, r := range findingRecords(reg) {
					if r.Kind == live.FindingOpened && r.Finding.Code == live.CodeLeak {
						leak = r.Finding
					}
				}
				return leak != nil
			}
			smuxtest.Eventually(t, "the LEAK record in history", leakRecord)
			if leak == nil {
				ss := reg.Snapshot().Sessions[0]
				st := ss.Stream(bad)
				t.Fatalf("no LEAK opened: %s; stream %d first %v last %v state %v; session last %v; now %v", codes(reg), bad, st.First, st.Last, st.State, ss.Last, time.Now())
			}
			if len(leak.StreamIDs) != 1 || leak.StreamIDs[0] != bad || len(leak.Heads) != 1 {
				t.Fatalf("LEAK names streams %v with %d heads, want [%d] with its", leak.StreamIDs, len(leak.Heads), bad)
			}
			if got := leak.Heads[0][c2s].Bytes(); !bytes.Equal(got, wantC2S) {
				t.Errorf("LEAK's stream %d first client bytes %q, want %q", bad, got, wantC2S)
			}
			if got := leak.Heads[0][s2c].Bytes(); !bytes.Equal(got, smuxtest.BadAnswer) {
				t.Errorf("LEAK's stream %d first server bytes %q, want %q", bad, got, smuxtest.BadAnswer)
			}
			// The open finding, as snapshots show it, has its oldest stream's.
			for _, f := range reg.Snapshot().Findings {
				if f.Code != live.CodeLeak {
					continue
				}
				if h := f.First(); h == nil || !bytes.Equal(h[c2s].Bytes(), wantC2S) || !bytes.Equal(h[s2c].Bytes(), smuxtest.BadAnswer) {
					t.Errorf("the snapshot's LEAK of stream %d has first bytes %v", f.Stream, f.First())
				}
				// One carrier: Heads, the oldest's alone where no ids are
				// named, the same bytes the record has beside its id.
				if f.StreamIDs != nil || len(f.Heads) != 1 || leak.HeadOf(f.Stream) == nil || f.Heads[0] != *leak.HeadOf(f.Stream) {
					t.Errorf("the snapshot's LEAK: ids %v, heads %v; want none, and the record's first bytes of stream %d", f.StreamIDs, f.Heads, f.Stream)
				}
			}
		})
	}
}

package capture_test

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/live"
)

// TestWireBytesOfALossyCapture: real smux v2 and yamux traffic read with
// one data segment dropped, each in turn, or with its first data segments
// dropped (joined mid-stream). README: over a capture the wire bytes are
// every byte it saw, a frame whose payload it lost in part counting
// whole; bytes lost between frames count only in lost. The oracle is the
// bytes of the packets kept: per direction, wire bytes are those, plus
// the segment's bytes where it lay inside one frame's payload.
func TestWireBytesOfALossyCapture(t *testing.T) {
	eachWatched(t, func(t *testing.T, yam bool, hs int64, ps []pkt, placedPs []placed, frames [2][]wholeFrame) {
		var all [2]int64
		for _, p := range placedPs {
			all[p.Dir] += p.N
		}
		last := [2]int64{}
		for _, p := range placedPs {
			last[p.Dir] = max(last[p.Dir], p.Off+p.N)
		}
		// check reads the capture without drop. A loss that ends its
		// direction's bytes shows only by a later ACK, which the capture
		// may not hold: then the frame it cut is cut short at the end, and
		// its lost bytes (endIn, of those in inFrame) do not count.
		check := func(what string, drop []placed, inFrame, endIn [2]int64) {
			t.Helper()
			seen := all
			var atEnd [2]bool
			for _, g := range drop {
				seen[g.Dir] -= g.N
				atEnd[g.Dir] = atEnd[g.Dir] || g.Off+g.N == last[g.Dir]
			}
			reg := readEvaluated(without(ps, drop...), capture.Config{}, live.FindingsConfig{})
			snap := reg.Snapshot()
			for d := range live.Dir(2) {
				want := uint64(seen[d] + inFrame[d])
				if got := snap.WireBytes(d); got != want && (!atEnd[d] || got != want-uint64(endIn[d])) {
					t.Errorf("%s: %v wire bytes %d, want %d (seen %d + lost inside a frame %d); unparsed %v skipped %v lost %v",
						what, d, got, want, seen[d], inFrame[d], snap.Unparsed, snap.Skipped, snap.Lost)
				}
				if snap.Skipped[d] > snap.Unparsed[d] {
					t.Errorf("%s: %v skipped %d > unparsed %d", what, d, snap.Skipped[d], snap.Unparsed[d])
				}
			}
		}
		for _, p := range placedPs {
			var in [2]int64
			if k := inside(frames[p.Dir], p.Off, p.N, hs); k >= 0 && p.Off+p.N <= frames[p.Dir][k].off+frames[p.Dir][k].size && (yam || frames[p.Dir][k].cmd != decoder.UPD) {
				// a UPD whose fields are lost is not framed: its header is skipped
				in[p.Dir] = p.N
			}
			check("drop segment", []placed{p}, in, in)
		}
		isIn := func(p placed) bool {
			k := inside(frames[p.Dir], p.Off, p.N, hs)
			return k >= 0 && p.Off+p.N <= frames[p.Dir][k].off+frames[p.Dir][k].size && (yam || frames[p.Dir][k].cmd != decoder.UPD)
		}
		for i, p := range placedPs {
			if !isIn(p) || p.Off+p.N == last[p.Dir] { // a loss at the end shows only by later bytes or ACKs
				continue
			}
			for _, q := range placedPs[i+1:] {
				if q.Dir == p.Dir && p.Off+p.N == q.Off {
					continue // one hole to the reassembly
				}
				var in, endIn [2]int64
				in[p.Dir] += p.N
				if isIn(q) {
					in[q.Dir] += q.N
					if q.Off+q.N == last[q.Dir] {
						endIn[q.Dir] = q.N
					}
				}
				check(fmt.Sprintf("drop two %+v %+v (q in %v)", p, q, isIn(q)), []placed{p, q}, in, endIn)
			}
		}
		// joined mid-stream: no handshake, the capture starts at packet j
		if !ps[0].TCP.SYN || ps[0].TCP.ACK {
			t.Fatal("the recording does not start with the client's SYN")
		}
		clientPort := uint16(ps[0].TCP.SrcPort)
		for _, j := range []int{3, 5, 8, 10, 12, 16} {
			if j >= len(ps) {
				continue
			}
			var seen [2]int64
			for _, p := range placedPs {
				if p.I >= j {
					seen[p.Dir] += p.N
				}
			}
			reg := readEvaluated(ps[j:], capture.Config{}, live.FindingsConfig{})
			snap := reg.Snapshot()
			// With no SYN, no filter port and no stream opened after j, the
			// roles are the reader's port guess, the higher port the
			// client's: where the loopback's ports fall the other way, the
			// session's directions are the recording's swapped.
			if len(snap.Sessions) > 0 {
				if ap, err := netip.ParseAddrPort(snap.Sessions[0].Info.Client); err != nil {
					t.Fatal(err)
				} else if ap.Port() != clientPort {
					seen[0], seen[1] = seen[1], seen[0]
				}
			}
			for d := range live.Dir(2) {
				if got := snap.WireBytes(d); len(snap.Sessions) > 0 && got != uint64(seen[d]) {
					t.Errorf("joined at packet %d: %v wire bytes %d, want the %d seen; unparsed %v skipped %v lost %v",
						j, d, got, seen[d], snap.Unparsed, snap.Skipped, snap.Lost)
				}
			}
			t.Logf("joined at packet %d: %d sessions, seen %v, skipped %v", j, len(snap.Sessions), seen, snap.Skipped)
		}
		// the first n data segments never seen
		for n := 1; n <= min(4, len(placedPs)); n++ {
			check("join", placedPs[:n], [2]int64{}, [2]int64{})
		}
	})
}

package capture_test

import (
	"testing"

	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/live"
)

// TestGapAcrossHeaderYamuxBigWindow: real hashicorp/yamux ends whose
// MaxStreamWindowSize is 4 MiB, recorded from their SYNs by a tap, three
// streams each answered by one Data frame of 3 MiB
// (TestYamuxBigWindowFromSYN), read without the segment that carries the
// second answer's header. The decoder hunts after that loss: the hunt
// used to take no Data frame above 256 KiB as a link of a chain, so it
// skipped the next two answers too, and only the last frames counted.
// Now only the answer whose header was lost (and any frame the segment
// also carried) is missing: the rest of its payload is skipped, and every
// frame after it counts as the tap counted it, the streams that followed
// too.
func TestGapAcrossHeaderYamuxBigWindow(t *testing.T) {
	path, tapped := recordBigWindow(t)
	ps := readPackets(t, path)
	placedPs, frames := placeAll(t, ps, true)
	s2c := live.ServerToClient
	var f wholeFrame // the second answer: the first is read while the connection is probed
	seen := 0
	for _, g := range frames[s2c] {
		if g.typ == yamux.Data && g.size > yamux.HeaderSize+yamux.MaxResyncData {
			if seen++; seen == 2 {
				f = g
				break
			}
		}
	}
	var drop placed
	for _, p := range placedPs {
		if p.Dir == s2c && p.Off <= f.off && f.off < p.Off+p.N {
			drop = p
			break
		}
	}
	if f.size == 0 || drop.N == 0 || drop.Off+drop.N >= f.off+f.size {
		t.Fatalf("no segment carrying a large Data frame's header and ending in its payload (frame %+v, segment %+v)", f, drop)
	}
	ss, _ := readBack(t, without(ps, drop))
	// The frames the segment cuts are missing (the segment may carry the
	// frames before the header too); their bytes that came are skipped.
	want := tapped.Counts
	var lost, skipped [2]int64
	lost[s2c] = drop.N
	for _, g := range frames[s2c] {
		if g.off+g.size <= drop.Off || g.off >= drop.Off+drop.N {
			continue
		}
		want.TypeFrames[s2c][g.typ]--
		want.TypeBytes[s2c][g.typ] -= uint64(g.size)
		skipped[s2c] += max(drop.Off-g.off, 0) + max(g.off+g.size-(drop.Off+drop.N), 0)
	}
	if ss.Counts != want {
		t.Errorf("read counted frames %v, bytes %v; want the tap's %v, %v but for the frames the lost segment cut",
			ss.Counts.TypeFrames, ss.Counts.TypeBytes, want.TypeFrames, want.TypeBytes)
	}
	if !ss.Incomplete || ss.Lost != lost || ss.Skipped != skipped {
		t.Errorf("incomplete %v, lost %v, skipped %v; want incomplete, %v lost and %v skipped",
			ss.Incomplete, ss.Lost, ss.Skipped, lost, skipped)
	}
	for _, sid := range []uint32{1, 5} {
		st, ts := ss.Stream(sid), tapped.Stream(sid)
		if st == nil || st.Frames != ts.Frames || st.Bytes != ts.Bytes {
			t.Errorf("stream %d: read %+v; the tap %v frames, %v bytes", sid, st, ts.Frames, ts.Bytes)
		}
	}
}

package yamux_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/muxtop/muxtop/decoder/internal/chunking"
	"github.com/muxtop/muxtop/decoder/internal/gaptest"
	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/internal/racetest"
)

// longStream returns a synthetic bulk transfer: Data frames on a few
// streams, most of them long links (above MaxResyncData), between small
// Data frames and WindowUpdates, and the frames' offsets.
func longStream(rng *rand.Rand, n int) (in []byte, bounds []int) {
	for range n {
		bounds = append(bounds, len(in))
		var h yamux.Header
		var size int
		switch rng.IntN(5) {
		case 0:
			h = yamux.MakeHeader(yamux.WindowUpdate, 0, uint32(1+2*rng.IntN(3)), uint32(yamux.MinResyncDelta+rng.IntN(1<<20)))
		case 1:
			size = 1 + rng.IntN(300)
			h = yamux.MakeHeader(yamux.Data, 0, uint32(1+2*rng.IntN(3)), uint32(size))
		default:
			size = yamux.MaxResyncData + 1 + rng.IntN(1<<20)
			h = yamux.MakeHeader(yamux.Data, 0, uint32(1+2*rng.IntN(3)), uint32(size))
		}
		in = append(in, h[:]...)
		for range size {
			in = append(in, byte(rng.Uint32()))
		}
	}
	return in, bounds
}

// TestLongLinkGaps cuts synthetic bulk transfers with long links where
// it makes trouble: the last k bytes of a frame and then m more (a frame
// a gap ended, then a gap that hunts through long links), told as two
// gaps at one place, joined at the start or mid-stream. With and without
// Next between the two gaps, in any chunking, the decoder yields the
// same, with its accounting exact (gaptest's DecodeGaps checks it); every
// frame it yields is a true one (lost bytes count in offsets, so they are
// the whole stream's), and the frame the first gap ended comes, cut.
func TestLongLinkGaps(t *testing.T) {
	if testing.Short() {
		t.Skip("megabytes per case")
	}
	rng := rand.New(rand.NewPCG(41, 42))
	rounds := 40
	if racetest.Enabled {
		// One goroutine, nothing for the detector (4 rounds were 30 s of
		// CI's race run): one round from the start, one joined.
		rounds = 2
	}
	for round := range rounds {
		in, bounds := longStream(rng, 14)
		all := proto.Frames(t, in)
		// two cuts, each at the end of a frame with a payload
		var cuts [][3]int // frame, k, m
		for i := 2; i+1 < len(all) && len(cuts) < 2; i += 1 + rng.IntN(5) {
			plen := int(all[i].Header.PayloadLength())
			if plen == 0 {
				continue
			}
			k := []int{1, 1 + rng.IntN(plen), plen}[rng.IntN(3)]
			m := []int{3, yamux.HeaderSize, 20, 5000, 400_000}[rng.IntN(5)]
			cuts = append(cuts, [3]int{i, k, m})
		}
		var cut []byte
		gaps := map[int][]int64{}
		prev := 0
		for _, c := range cuts {
			end := bounds[c[0]+1]
			from, to := end-c[1], min(end+c[2], len(in))
			if from < prev {
				continue
			}
			cut = append(cut, in[prev:from]...)
			gaps[len(cut)] = []int64{int64(c[1]), int64(to - end)}
			prev = to
		}
		cut = append(cut, in[prev:]...)
		j := 0
		start := gaptest.AtStart[*yamux.Decoder]
		if round%2 == 1 {
			j = rng.IntN(bounds[2]) // joined before the first cut
			start = (*yamux.Decoder).Resync
		}
		jg := map[int][]int64{}
		for at, gs := range gaps {
			jg[at-j] = gs
		}
		what := fmt.Sprintf("round %d, joined at %d, cuts %v", round, j, cuts)
		want := proto.DecodeGaps(t, start, cut[j:], jg, true, whole)
		for i, f := range want.Frames {
			off := int(f.Offset) + j
			k, ok := slices.BinarySearch(bounds, off)
			if !ok || all[k].Header != f.Header {
				t.Fatalf("%s: frame %d %v at %d is no frame of the stream", what, i, f, off)
			}
		}
		if d := proto.DecodeGaps(t, start, cut[j:], jg, false, whole).Diff(want); d != "" {
			t.Fatalf("%s: no Next between gaps: %s", what, d)
		}
		for _, limit := range []int{3000, 70000, 1 << 20} {
			if d := proto.DecodeGaps(t, start, cut[j:], jg, false, func() int { return 1 + rng.IntN(limit) }).Diff(want); d != "" {
				t.Fatalf("%s, chunks to %d: %s", what, limit, d)
			}
		}
	}
}

// FuzzResyncTwoGaps is FuzzResync with two gaps told one after the other
// at one place (the first may end a frame, the second then hunts), joined
// at the start or mid-stream: without Next between them, and in the
// chunking cuts gives, the decoder yields what it does with Next between.
func FuzzResyncTwoGaps(f *testing.F) {
	for _, r := range loadRecordings(f) {
		in := slices.Concat(r.c2s, r.s2c)
		f.Add(in[:min(len(in), 3000)], []byte{0, 7, 255, 3}, uint16(30), uint16(2), uint16(40), false)
		f.Add(in[min(len(in), 5):min(len(in), 3000)], []byte{1}, uint16(100), uint16(40), uint16(12), true)
	}
	f.Fuzz(func(t *testing.T, in, cuts []byte, at, g1, g2 uint16, joined bool) {
		start := gaptest.AtStart[*yamux.Decoder]
		if joined {
			start = (*yamux.Decoder).Resync
		}
		var gs []int64
		for _, g := range []uint16{g1, g2} {
			if g > 0 {
				gs = append(gs, int64(g))
			}
		}
		gaps := map[int][]int64{int(at) % (len(in) + 1): gs}
		want := proto.DecodeGaps(t, start, in, gaps, true, whole)
		if d := proto.DecodeGaps(t, start, in, gaps, false, whole).Diff(want); d != "" {
			t.Fatalf("no Next between the gaps: %s", d)
		}
		if d := proto.DecodeGaps(t, start, in, gaps, false, chunking.FromCuts(cuts)).Diff(want); d != "" {
			t.Fatalf("chunks from %v: %s", cuts, d)
		}
	})
}

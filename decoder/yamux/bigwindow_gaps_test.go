package yamux_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/muxtop/muxtop/decoder/internal/gaptest"
	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/internal/racetest"
)

// TestGapBigWindowEndThenHeader loses the last k payload bytes of a frame
// of the bulk transfer before a large one, then, with and without Next
// between, m bytes across the large frame's header: the cut frame comes
// whole with k lost, then the hunt follows long links and lands on the
// first boundary after the second gap, every frame from there the whole
// stream's, in any chunking.
func TestGapBigWindowEndThenHeader(t *testing.T) {
	if racetest.Enabled {
		t.Skip("megabytes decoded per case, in one goroutine: without -race")
	}
	in, all, bounds := bulkC2S(t)
	rng := rand.New(rand.NewPCG(31, 32))
	cases := 0
	for i := 1; i < len(all); i++ {
		f := all[i]
		if f.Header.PayloadLength() <= yamux.MaxResyncData {
			continue
		}
		prev := all[i-1]
		plen := int64(prev.Header.PayloadLength())
		if plen == 0 {
			continue
		}
		h := int(f.Offset)
		for _, k := range []int64{1, plen} {
			for _, m := range []int{3, yamux.HeaderSize, yamux.HeaderSize + 40, 70_000} {
				from := h - int(k)
				cut := slices.Concat(in[:from], in[h+m:])
				gaps := map[int][]int64{from: {k, int64(m)}}
				what := fmt.Sprintf("frame %d's last %d bytes lost, then %d across frame %d's header", i-1, k, m, i)
				want := proto.DecodeGaps(t, gaptest.AtStart, cut, gaps, true, whole)
				after, _ := slices.BinarySearch(bounds, int64(h+m))
				wantSkip := bounds[after] - int64(h+m)
				cutPrev := proto.Cut(prev, plen-k, k)
				if len(want.Frames) != i+len(all)-after || !slices.Equal(want.Frames[:i-1], all[:i-1]) || want.Frames[i-1] != cutPrev || want.Skipped != wantSkip {
					t.Fatalf("%s, Next between: %d frames, %d skipped; want %d and %d", what, len(want.Frames), want.Skipped, i+len(all)-after, wantSkip)
				}
				for j := i; j < len(want.Frames); j++ {
					if want.Frames[j] != all[after+j-i] {
						t.Fatalf("%s: frame %d is %v, want %v", what, j, want.Frames[j], all[after+j-i])
					}
				}
				if d := proto.DecodeGaps(t, gaptest.AtStart, cut, gaps, false, whole).Diff(want); d != "" {
					t.Fatalf("%s, no Next between: %s", what, d)
				}
				for _, limit := range []int{7, 3000, 70000} {
					if d := proto.DecodeGaps(t, gaptest.AtStart, cut, gaps, false, func() int { return 1 + rng.IntN(limit) }).Diff(want); d != "" {
						t.Fatalf("%s, chunks to %d: %s", what, limit, d)
					}
				}
				cases++
			}
		}
	}
	t.Logf("%d cases", cases)
}

// TestGapBigWindowAfterHunt loses bytes across a large frame's header,
// so that a hunt follows long links, then the last k payload bytes of the
// frame the hunt's replay ends inside of (the chain's third), then m
// more: each gap where the bytes come, with and without Next between.
func TestGapBigWindowAfterHunt(t *testing.T) {
	if racetest.Enabled {
		t.Skip("megabytes decoded per case, in one goroutine: without -race")
	}
	in, all, bounds := bulkC2S(t)
	rng := rand.New(rand.NewPCG(33, 34))
	cases := 0
	for i := 1; i+4 < len(all); i++ {
		f := all[i]
		if f.Header.PayloadLength() <= yamux.MaxResyncData {
			continue
		}
		h := int(f.Offset)
		g1 := 5 // across the header
		third := all[i+3]
		end := int(third.Offset) + yamux.HeaderSize + int(third.Header.PayloadLength())
		plen := int64(third.Header.PayloadLength())
		for _, k := range []int64{1, plen / 2, plen} {
			if k == 0 {
				continue
			}
			for _, m := range []int{1, yamux.HeaderSize + 3, 70_000} {
				from2 := end - int(k)
				if end+m > len(in) {
					continue
				}
				cut := slices.Concat(in[:h], in[h+g1:from2], in[end+m:])
				c2 := from2 - g1
				gaps := map[int][]int64{h: {int64(g1)}, c2: {k, int64(m)}}
				what := fmt.Sprintf("5 lost across frame %d's header, frame %d's last %d bytes, then %d", i, i+3, k, m)
				want := proto.DecodeGaps(t, gaptest.AtStart, cut, gaps, true, whole)
				after, _ := slices.BinarySearch(bounds, int64(end+m))
				// frames before i, then i+1..i+3 (i+3 cut), then from after on
				if len(want.Frames) != i+3+len(all)-after {
					t.Fatalf("%s: %d frames, want %d", what, len(want.Frames), i+3+len(all)-after)
				}
				if w := proto.Cut(third, plen-k, k); want.Frames[i+2] != w {
					t.Fatalf("%s: frame %d is %v, want %v", what, i+2, want.Frames[i+2], w)
				}
				if d := proto.DecodeGaps(t, gaptest.AtStart, cut, gaps, false, whole).Diff(want); d != "" {
					t.Fatalf("%s, no Next between: %s", what, d)
				}
				for _, limit := range []int{100, 70000} {
					if d := proto.DecodeGaps(t, gaptest.AtStart, cut, gaps, false, func() int { return 1 + rng.IntN(limit) }).Diff(want); d != "" {
						t.Fatalf("%s, chunks to %d: %s", what, limit, d)
					}
				}
				cases++
			}
		}
	}
	t.Logf("%d cases", cases)
}

package resync_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/muxtop/muxtop/internal/racetest"
)

// TestManyLongChains feeds runs of bytes where every third position
// begins a chain of plausible long links (a period of 3 whose length is a
// multiple of 3), so that MaxLong chains are followed at once and more
// are passed over, between true frames and junk, with gaps: every
// chunking yields what whole segments do, keeping at most the window and
// the long chains' records.
func TestManyLongChains(t *testing.T) {
	rng := rand.New(rand.NewPCG(91, 92))
	rounds := 400
	if racetest.Enabled {
		rounds = 100 // one goroutine: under -race (9 s of CI's race run) a quarter
	}
	for round := range rounds {
		var in []byte
		for range 1 + rng.IntN(4) {
			switch rng.IntN(3) {
			case 0:
				l := byte(3 * (15 + rng.IntN(70))) // a long link, a multiple of 3
				for range 3 * (1 + rng.IntN(120)) {
					in = append(in, magic, byte(rng.IntN(kinds)), l)
				}
				in = in[rng.IntN(3):]
			case 1:
				s, _ := stream(t, rng, 1+rng.IntN(8), true)
				in = append(in, s...)
			case 2:
				in = append(in, junk(rng, rng.IntN(200))...)
			}
		}
		var segs [][]byte
		var gaps []int64
		for range round % 3 {
			cut := rng.IntN(len(in) + 1)
			segs = append(segs, in[:cut])
			gaps = append(gaps, int64(1+rng.IntN(500)))
			in = in[cut:]
		}
		segs = append(segs, in)
		want := run(t, longWindow, segs, gaps, whole)
		for _, limit := range []int{1, 3, 7, 50, 400} {
			if d := run(t, longWindow, segs, gaps, random(rng, limit)).diff(want); d != "" {
				t.Fatalf("round %d, chunks to %d: %s", round, limit, d)
			}
		}
		ops := randomOps(rng, len(slices.Concat(segs...)), nil)
		all := slices.Concat(segs...)
		w := runOps(t, longWindow, 'r', all, drained(ops), whole)
		for _, limit := range []int{1, 5, 300} {
			if d := runOps(t, longWindow, 'r', all, undrained(ops), random(rng, limit)).diff(w); d != "" {
				t.Fatalf("round %d, ops %v, chunks to %d: %s", round, ops, limit, fmt.Sprint(d))
			}
		}
	}
}

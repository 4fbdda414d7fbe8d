package resync

import (
	"math/rand/v2"
	"testing"
)

// capFramer is a decoder of 3-byte headers, 0xA5 and a 16-bit payload
// length up to capMax, that never frames anything: the hunt only looks.
type capFramer struct{ off int64 }

const capMax = 1000

func (r *capFramer) Plausible(_, h []byte) (int, bool) {
	n := int(h[1])<<8 | int(h[2])
	return 3 + n, h[0] == 0xA5 && n <= capMax
}
func (r *capFramer) Next(p []byte) (int, *int, error) {
	r.off += int64(len(p))
	return len(p), nil, nil
}
func (r *capFramer) Advance(n int64)           { r.off += n }
func (r *capFramer) Drop() (int64, bool, bool) { return 0, false, true }
func (r *capFramer) SetSkipped(*int, int64)    {}
func (r *capFramer) Lose(int64) bool           { return false }

// TestLookCapacity: what a hunt allocates to hold bytes stays within
// twice its window, as New says: the bytes held are at most the window,
// and the buffer behind them is compacted once half of it is searched.
func TestLookCapacity(t *testing.T) {
	const w = Chain * (3 + capMax)
	rng := rand.New(rand.NewPCG(1, 2))
	var in []byte
	for len(in) < 200*w {
		// junk, then two plausible headers of the largest frames whose
		// third header is not: the search needs 2 frames ahead.
		for range rng.IntN(w / 2) {
			in = append(in, byte(rng.IntN(0xA5)))
		}
		for range 2 {
			in = append(in, 0xA5, capMax>>8, capMax&0xff)
			for range capMax {
				in = append(in, 0)
			}
		}
	}
	s := New[int](3, w)
	fr := &capFramer{}
	s.Resync(fr)
	peak := 0
	for p := in; len(p) > 0; {
		c := min(len(p), 1+rng.IntN(w))
		n, _, _ := s.Next(p[:c], fr)
		p = p[n:]
		peak = max(peak, cap(s.look))
	}
	if peak > 2*w {
		t.Fatalf("the hunt allocated %d bytes to hold, window %d: more than twice", peak, w)
	}
}

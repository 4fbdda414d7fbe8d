package yamux

import (
	"math/rand/v2"
	"testing"

	"github.com/muxtop/muxtop/decoder/internal/resync"
	"github.com/muxtop/muxtop/internal/racetest"
)

// TestResyncKeptBigWindow joins a bulk transfer of Data frames of up to
// 4 MiB at offsets inside its frames and checks, after every call to
// Next, what the hunt keeps in memory: at most ResyncWindow bytes held
// and the records of resync.MaxLong chains of long links, for the default
// snaplen and the largest; and that it lands on the frame after the join.
func TestResyncKeptBigWindow(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	var in []byte
	var bounds []int
	for _, n := range []int{4 << 20, 3<<20 + 5, 4 << 20, 300_000, 4 << 20, 1 << 20} {
		bounds = append(bounds, len(in))
		h := MakeHeader(Data, 0, 3, uint32(n))
		in = append(in, h[:]...)
		for range n {
			in = append(in, byte(rng.Uint32()))
		}
	}
	for _, snaplen := range []int{DefaultSnaplen, MaxSnaplen} {
		limit := ResyncWindow + resync.MaxLong*(resync.Chain-1)*(HeaderSize+snaplen)
		joins := []int{1, 4<<20 + 100, 7 << 20}
		if racetest.Enabled {
			// 60 MiB decoded in one goroutine, nothing for the detector
			// (11 s of CI's race run): one join; all three without -race.
			joins = joins[1:2]
		}
		for _, j := range joins {
			d := New(snaplen)
			d.Resync()
			peak, frames, first := 0, 0, int64(-1)
			for p := in[j:]; len(p) > 0; {
				n, f, err := d.Next(p[:min(len(p), 65536)])
				if err != nil {
					t.Fatal(err)
				}
				if f != nil {
					if frames++; frames == 1 {
						first = f.Offset
					}
				}
				p = p[n:]
				peak = max(peak, d.rs.Kept())
				if d.rs.Kept() > limit {
					t.Fatalf("snaplen %d, joined at %d: keeps %d bytes, want at most %d", snaplen, j, d.rs.Kept(), limit)
				}
			}
			k := 0
			for bounds[k] < j {
				k++
			}
			if first != int64(bounds[k]-j) || frames != len(bounds)-k {
				t.Fatalf("snaplen %d, joined at %d: %d frames, the first at %d; want %d at %d", snaplen, j, frames, first, len(bounds)-k, bounds[k]-j)
			}
			t.Logf("snaplen %d, joined at %d: kept at most %d bytes (window %d)", snaplen, j, peak, ResyncWindow)
		}
	}
}

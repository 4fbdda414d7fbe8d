package yamux_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/internal/racetest"
)

// TestMidReplay joins a synthetic bulk transfer, and once the hunt's first
// frame comes (a long chain's replay under way, Buffered above 0), calls
// Resync, ResyncAt, Gap or End before Next frames the rest: the decoder's
// accounting stays exact (frames' wire bytes + Unparsed + Pending +
// Skipped + Lost = Offset = bytes given + lost) at every step after.
func TestMidReplay(t *testing.T) {
	rng := rand.New(rand.NewPCG(51, 52))
	rounds := 24
	if racetest.Enabled {
		rounds = 3 // in one goroutine: the plain run takes all 24
	}
	for round := range rounds {
		in, bounds := longStream(rng, 8)
		j := 1 + rng.IntN(bounds[1])
		d := yamux.New(yamux.DefaultSnaplen)
		d.Resync()
		var given, framed, lost int64
		check := func(what string) {
			t.Helper()
			if d.Offset() != given+lost || framed+d.Unparsed()+d.Pending()+d.Skipped()+d.Lost() != d.Offset() {
				t.Fatalf("round %d %s: framed %d + unparsed %d + pending %d + skipped %d + lost %d vs Offset %d, given %d lost %d",
					round, what, framed, d.Unparsed(), d.Pending(), d.Skipped(), d.Lost(), d.Offset(), given, lost)
			}
		}
		add := func(f *yamux.Frame) {
			if f != nil {
				framed += f.Size() - f.Lost
			}
		}
		p := in[j:]
		act := round % 4
		acted := false
		for len(p) > 0 {
			n, f, _ := d.Next(p[:min(len(p), 1+rng.IntN(100_000))]) // ResyncAt at a wrong boundary finds a violation
			given += int64(n)
			p = p[n:]
			add(f)
			check("next")
			if f != nil && !acted && d.Buffered() > 0 {
				acted = true
				switch act {
				case 0:
					d.Resync()
				case 1:
					d.ResyncAt(int64(rng.IntN(1000)))
				case 2:
					g := int64(1 + rng.IntN(1000))
					d.Gap(g)
					lost += g
				case 3:
					d.End()
				}
				check(fmt.Sprintf("after act %d", act))
			}
		}
		for d.Buffered() > 0 {
			_, f, _ := d.Next(nil)
			add(f)
			check("drain")
		}
		d.End()
		check("end")
		if !acted {
			t.Logf("round %d: no replay caught", round)
		}
	}
}

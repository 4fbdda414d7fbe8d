package decoder_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/muxtop/muxtop/decoder"
)

// TestGapSequencesKeepWholeFrame: frame A's payload loses its last bytes
// to a Gap, which ends it, and before any Next the decoder gets more
// calls: a second and third Gap, Resync, ResyncAt, Flush, in random
// orders, then the rest of the stream. Next returns A first, whole, with
// its Lost, and the accounting is exact: Offset = framed (less lost) +
// Unparsed + Pending + Skipped + Lost.
func TestGapSequencesKeepWholeFrame(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	var in []byte
	type placed struct{ off, size int64 }
	var frames []placed
	for i := range 40 {
		n := 100 + rng.IntN(900)
		h := decoder.MakeHeader(2, decoder.PSH, uint16(n), uint32(3+2*(i%4)))
		frames = append(frames, placed{int64(len(in)), int64(decoder.HeaderSize + n)})
		in = append(in, h[:]...)
		for range n {
			in = append(in, 'x')
		}
	}
	for trial := range 3000 {
		a := frames[5+rng.IntN(20)]
		k := 1 + rng.Int64N(a.size-decoder.HeaderSize) // A's last k bytes lost
		d := decoder.New(64)
		var framed int64
		var got []*decoder.Frame
		take := func(f *decoder.Frame) {
			if f != nil {
				c := *f
				got = append(got, &c)
				framed += f.Size() - f.Lost
			}
		}
		feed := func(b []byte) {
			for len(b) > 0 {
				n, f, err := d.Next(b)
				if err != nil {
					t.Fatalf("trial %d: %v", trial, err)
				}
				b = b[n:]
				take(f)
			}
		}
		feed(in[:a.off+a.size-k])
		d.Gap(k)
		pos := a.off + a.size
		var ops []string
		for range 1 + rng.IntN(4) {
			switch rng.IntN(5) {
			case 0, 1:
				m := 1 + rng.Int64N(30)
				if pos+m > int64(len(in)) {
					continue
				}
				d.Gap(m)
				pos += m
				ops = append(ops, fmt.Sprintf("Gap(%d)", m))
			case 2:
				d.Resync()
				ops = append(ops, "Resync")
			case 3:
				d.Flush()
				ops = append(ops, "Flush")
			case 4:
				// the next boundary, if pos is one
				for _, f := range frames {
					if f.off >= pos {
						d.ResyncAt(f.off - pos)
						ops = append(ops, fmt.Sprintf("ResyncAt(%d)", f.off-pos))
						break
					}
				}
			}
		}
		for d.Buffered() > 0 {
			_, f, err := d.Next(nil)
			if err != nil {
				t.Fatalf("trial %d: %v", trial, err)
			}
			take(f)
		}
		feed(in[pos:])
		d.Flush()
		for d.Buffered() > 0 {
			_, f, _ := d.Next(nil)
			take(f)
		}
		var idx int
		for i, f := range frames {
			if f == a {
				idx = i
			}
		}
		if len(got) <= idx || got[idx].Offset != a.off || got[idx].Lost != k {
			var g string
			if len(got) > idx {
				g = fmt.Sprintf("%+v", *got[idx])
			}
			t.Fatalf("trial %d: A at %d lost its last %d bytes, then %v: frame %d is %s; want A with Lost %d", trial, a.off, k, ops, idx, g, k)
		}
		for i := range idx {
			if got[i].Offset != frames[i].off {
				t.Fatalf("trial %d: frame %d at %d, want %d", trial, i, got[i].Offset, frames[i].off)
			}
		}
		if v := d.End(); v != nil {
			t.Fatalf("trial %d, %v: End: %v", trial, ops, v)
		}
		if framed+d.Unparsed()+d.Pending()+d.Skipped()+d.Lost() != d.Offset() {
			t.Fatalf("trial %d, %v: framed %d + unparsed %d + pending %d + skipped %d + lost %d != offset %d",
				trial, ops, framed, d.Unparsed(), d.Pending(), d.Skipped(), d.Lost(), d.Offset())
		}
		var skips int64
		for _, f := range got {
			skips += f.Skipped
			ok := false
			for _, w := range frames {
				ok = ok || w.off == f.Offset && w.size == f.Size()
			}
			if !ok {
				t.Fatalf("trial %d, %v: a frame at %d of %d bytes is none of the stream's", trial, ops, f.Offset, f.Size())
			}
		}
		if skips != d.Skipped() {
			t.Fatalf("trial %d, %v: the frames' Skipped add up to %d, the decoder's to %d", trial, ops, skips, d.Skipped())
		}
		if d.Offset() != int64(len(in)) {
			t.Fatalf("trial %d: offset %d, want %d", trial, d.Offset(), len(in))
		}
	}
}

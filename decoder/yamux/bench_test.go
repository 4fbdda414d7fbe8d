package yamux_test

import (
	"os"
	"testing"

	"github.com/muxtop/muxtop/decoder/yamux"
)

// randMix is the recorded RAND traffic, both directions: small frames
// (WINDOW_UPDATE SYN, DATA "RAND", DATA of 8 bytes, FINs), each whole in
// the input.
func randMix(b testing.TB) []byte {
	var in []byte
	for _, n := range []string{"testdata/rand.c2s.bin", "testdata/rand.s2c.bin"} {
		p, err := os.ReadFile(n)
		if err != nil {
			b.Fatal(err)
		}
		in = append(in, p...)
	}
	return in
}

// BenchmarkDecodeYamuxRAND decodes the recorded yamux RAND traffic with the
// default snaplen: the twin of decoder's BenchmarkDecodeRAND.
func BenchmarkDecodeYamuxRAND(b *testing.B) {
	in := randMix(b)
	d := yamux.New(yamux.DefaultSnaplen)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	frames := 0
	for b.Loop() {
		frames += feed(d, in, len(in))
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(frames), "ns/frame")
}

// BenchmarkDecodeYamux32K decodes DATA frames of 32 KiB fed in 32 KiB
// reads, so that every frame straddles two reads and takes the split path.
func BenchmarkDecodeYamux32K(b *testing.B) {
	var in []byte
	payload := make([]byte, 32768)
	for range 64 {
		h := yamux.MakeHeader(yamux.Data, 0, 1, uint32(len(payload)))
		in = append(append(in, h[:]...), payload...)
	}
	d := yamux.New(yamux.DefaultSnaplen)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	frames := 0
	for b.Loop() {
		frames += feed(d, in, 32768)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(frames), "ns/frame")
}

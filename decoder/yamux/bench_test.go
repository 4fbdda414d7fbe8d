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

// BenchmarkResyncYamuxBulk joins a bulk transfer over a 4 MiB window one
// byte into its first frame: the hunt passes the rest of that frame and
// follows two more of 4 MiB before it lands, then decodes the others in
// step, fed in 64 KiB reads.
func BenchmarkResyncYamuxBulk(b *testing.B) {
	var in []byte
	payload := make([]byte, 4<<20)
	for i := range payload {
		payload[i] = byte(i * 7919 >> 3)
	}
	for range 6 {
		h := yamux.MakeHeader(yamux.Data, 0, 1, uint32(len(payload)))
		in = append(append(in, h[:]...), payload...)
	}
	in = in[1:]
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		d := yamux.New(yamux.DefaultSnaplen)
		d.Resync()
		if frames := feed(d, in, 65536); frames != 5 {
			b.Fatalf("%d frames, want 5", frames)
		}
	}
}

// BenchmarkResyncYamuxNoise hunts through 4 MiB of bytes that hold no
// yamux frame, fed in 64 KiB reads: the cost of a hunt per byte.
func BenchmarkResyncYamuxNoise(b *testing.B) {
	in := make([]byte, 4<<20)
	x := uint32(1)
	for i := range in {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		in[i] = byte(x)
	}
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		d := yamux.New(yamux.DefaultSnaplen)
		d.Resync()
		if frames := feed(d, in, 65536); frames != 0 {
			b.Fatalf("%d frames, want none", frames)
		}
	}
}

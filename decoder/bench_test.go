package decoder_test

import (
	"testing"

	"github.com/muxtop/muxtop/decoder"
)

// BenchmarkDecodeRAND decodes the recorded v1 RAND traffic, both directions:
// small frames (SYN, PSH "RAND", PSH of 8 bytes, FIN), each whole in the
// input, with the default snaplen.
func BenchmarkDecodeRAND(b *testing.B) {
	in := randMix(b)
	d := decoder.New(decoder.DefaultSnaplen)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	frames := 0
	for b.Loop() {
		frames += feed(d, in, len(in))
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(frames), "ns/frame")
}

// BenchmarkDecode32K decodes PSH frames of 32 KiB, smux's default
// MaxFrameSize, fed in 32 KiB reads, so that every frame straddles two
// reads and goes through the split path, with the default snaplen.
func BenchmarkDecode32K(b *testing.B) {
	in := bigFrames(64, 32768)
	d := decoder.New(decoder.DefaultSnaplen)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	frames := 0
	for b.Loop() {
		frames += feed(d, in, 32768)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(frames), "ns/frame")
}

// BenchmarkDecodeRANDExpect is BenchmarkDecodeRAND for a decoder told the
// receiving end's version: it must be as fast.
func BenchmarkDecodeRANDExpect(b *testing.B) {
	in := randMix(b)
	d := decoder.New(decoder.DefaultSnaplen)
	d.Expect(1)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	frames := 0
	for b.Loop() {
		frames += feed(d, in, len(in))
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(frames), "ns/frame")
}

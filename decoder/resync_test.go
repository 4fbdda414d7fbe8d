package decoder_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/decoder/internal/gaptest"
	"github.com/muxtop/muxtop/internal/racetest"
)

// resynced is what a resynchronising decoder yields for one input.
type resynced = gaptest.Result[frameRec]

// proto describes the smux decoder to the shared resynchronisation driver
// and gap tests (package gaptest).
var proto = gaptest.Protocol[*decoder.Decoder, decoder.Frame, frameRec]{
	New:        func() *decoder.Decoder { return decoder.New(decoder.DefaultSnaplen) },
	HeaderSize: decoder.HeaderSize,
	Snaplen:    decoder.DefaultSnaplen,
	Record:     recOf,
	Counts:     func(f *decoder.Frame) (size, lost, skipped int64) { return f.Size(), f.Lost, f.Skipped },
	Place:      func(r frameRec) (offset, length int64) { return r.Offset, int64(r.Header.Length()) },
	Resumes:    func(r frameRec) bool { return r.Header.Cmd() != decoder.UPD }, // a UPD's payload is its fields
	Cut: func(r frameRec, kept, n int64) frameRec {
		r.Payload = r.Payload[:min(int64(len(r.Payload)), kept)]
		r.Truncated = len(r.Payload) < int(r.Header.Length())
		r.Lost = n
		return r
	},
	Shift: func(r frameRec, by int64) frameRec {
		r.Offset -= by
		return r
	},
	End: func(d *decoder.Decoder) (string, bool) {
		if v := d.End(); v != nil {
			return fmt.Sprint(v.Code), true
		}
		return "", false
	},
	Code: func(err error) (string, bool) {
		v, ok := errors.AsType[*decoder.Violation](err)
		if !ok {
			return "", false
		}
		return fmt.Sprint(v.Code), true
	},
	Frames: func(t testing.TB, in []byte) []frameRec { return decode(t, decoder.DefaultSnaplen, in, whole).frames },
}

// resyncDecode is gaptest's ResyncDecode of the smux decoder.
func resyncDecode(t testing.TB, in []byte, gaps map[int]int64, chunk func() int) resynced {
	t.Helper()
	return proto.ResyncDecode(t, in, gaps, chunk)
}

// decodeFrom is gaptest's DecodeFrom of the smux decoder.
func decodeFrom(t testing.TB, start func(*decoder.Decoder), in []byte, gaps map[int]int64, chunk func() int) resynced {
	t.Helper()
	return proto.DecodeFrom(t, start, in, gaps, chunk)
}

// gapStreams returns both directions of every recording a receiver reads,
// for the gap tests: under -race only the small ones.
func gapStreams(t testing.TB) []gaptest.Stream {
	var streams []gaptest.Stream
	for _, r := range loadRecordings(t) {
		if r.exp.Scenario == "v1-client-v2-server" {
			continue // two versions: not a stream a receiver reads
		}
		for _, s := range []gaptest.Stream{{Name: r.exp.Scenario + ".c2s", In: r.c2s}, {Name: r.exp.Scenario + ".s2c", In: r.s2c}} {
			if racetest.Enabled && len(s.In) > 30000 {
				continue // a large recording: its gaps are cut without -race
			}
			streams = append(streams, s)
		}
	}
	return streams
}

// TestGap cuts bytes out of real traffic (gaptest's Gap): the frames
// before the cut are the whole stream's, the one it runs into is skipped,
// and decoding resumes at the first true boundary after it.
func TestGap(t *testing.T) { proto.Gap(t, loadRecording(t, "v1-many").c2s) }

// TestGapInPayload cuts bytes out of payloads of real traffic (gaptest's
// GapInPayload, every 37th offset and those near the ends and the
// snaplen): the decoder resumes right after the cut, the frame carrying
// what it lost. A UPD's payload is its fields: a cut in it is not kept,
// and the decoder hunts as before.
func TestGapInPayload(t *testing.T) {
	streams := gapStreams(t)
	if racetest.Enabled {
		// One goroutine, nothing for the detector (23 s of CI's race run,
		// each cut decoding its whole stream): the recordings up to 20 kB;
		// every one without -race.
		streams = slices.DeleteFunc(streams, func(s gaptest.Stream) bool { return len(s.In) > 20000 })
	}
	proto.GapInPayload(t, streams, func(int) int { return 37 })
}

// TestGapAfterGapEndingFrame loses a frame's last payload bytes and then
// more, with no Next between (gaptest's GapAfterGapEndingFrame): the
// frame comes with its Lost, and the second gap hunts as if Next had
// framed it first.
func TestGapAfterGapEndingFrame(t *testing.T) { proto.GapAfterGapEndingFrame(t, gapStreams(t)) }

// TestGapEndsLastFrame loses the last 10 bytes of a stream's last frame,
// a PSH of 100 (gaptest's GapEndsLastFrame): Next with no bytes returns
// it, 90 kept, and End finds nothing cut short.
func TestGapEndsLastFrame(t *testing.T) {
	syn, psh := decoder.MakeHeader(1, decoder.SYN, 0, 3), decoder.MakeHeader(1, decoder.PSH, 100, 3)
	in := slices.Concat(syn[:], psh[:], make([]byte, 90))
	want := frameRec{Offset: decoder.HeaderSize, Header: psh, Payload: string(make([]byte, 90)), Truncated: true, Lost: 10}
	proto.GapEndsLastFrame(t, in, 10, want)
}

// FuzzResync joins arbitrary bytes with arbitrary gaps in arbitrary
// chunkings and checks that every chunking yields what the whole input
// does, with the decoder's accounting exact; and that decoded from the
// start, a gap inside a payload resumes right after it (gaptest's Resync).
func FuzzResync(f *testing.F) {
	for _, r := range loadRecordings(f) {
		in := slices.Concat(r.c2s, r.s2c)
		f.Add(in[min(len(in), 5):min(len(in), 3000)], []byte{0, 7, 255, 3}, uint16(100), uint16(40))
		f.Add(in[:min(len(in), 3000)], []byte{0, 7, 255, 3}, uint16(30), uint16(2)) // at a boundary: a gap in a payload
	}
	f.Add([]byte(v1SYN3+v1RAND3+v1FIN3+v1SYN3+v1RAND3), []byte{1}, uint16(3), uint16(0))
	f.Fuzz(proto.Resync)
}

// boundaries returns the offsets of the frames of a whole, valid stream.
func boundaries(t testing.TB, in []byte) []int64 {
	t.Helper()
	res := decode(t, 0, in, whole)
	if len(res.violations) > 0 || res.pending > 0 {
		t.Fatalf("recording does not decode cleanly: %+v", res.violations)
	}
	var b []int64
	for _, f := range res.frames {
		b = append(b, f.Offset)
	}
	return b
}

// TestResyncEveryOffset joins each direction of every recording of real
// smux traffic at every offset and checks that the decoder lands on the
// first true frame boundary at or after it, and from there yields exactly
// the frames a decoder that saw the whole stream yields (the last ones
// chained to the end of the stream by Flush), or, when no frame begins
// after the join, reports every byte skipped. So the boundary it finds is
// never more than one frame (decoder.HeaderSize + 65535 bytes) after the join.
func TestResyncEveryOffset(t *testing.T) {
	for _, r := range loadRecordings(t) {
		for _, dir := range []struct {
			name string
			in   []byte
		}{{"c2s", r.c2s}, {"s2c", r.s2c}} {
			if r.exp.Scenario == "v1-client-v2-server" {
				continue // two versions: not a stream a receiver reads
			}
			t.Run(r.exp.Scenario+"."+dir.name, func(t *testing.T) {
				in := dir.in
				if racetest.Enabled && len(in) > 30000 {
					// As yamux's TestResyncEveryOffset: the decoder runs in
					// one goroutine, which the race detector slowed 25-fold
					// (219 s of CI's race run for these recordings).
					t.Skip("a large recording: joined at every offset without -race")
				}
				all := decode(t, decoder.DefaultSnaplen, in, whole).frames
				bounds := boundaries(t, in)
				maxSkip := 0
				for j := range len(in) {
					if len(in) > 30000 && j > 2000 && j%61 != 0 && !gaptest.NearBoundary(bounds, j, 64) {
						continue // the large recordings: every offset near a boundary, and a sample
					}
					if racetest.Enabled && j > 200 && j%61 != 0 && !gaptest.NearBoundary(bounds, j, 64) {
						// One goroutine, nothing for the detector (60 s of
						// CI's race run): a sample; every offset without -race.
						continue
					}
					got := resyncDecode(t, in[j:], nil, whole)
					k, _ := slices.BinarySearch(bounds, int64(j))
					left := len(bounds) - k
					if left == 0 {
						if len(got.Frames) != 0 || got.Skipped != int64(len(in)-j) {
							t.Fatalf("joined at %d with %d frames left: got %d frames, %d skipped; want none and %d",
								j, left, len(got.Frames), got.Skipped, len(in)-j)
						}
						continue
					}
					skip := bounds[k] - int64(j)
					maxSkip = max(maxSkip, int(skip))
					if len(got.Frames) == 0 {
						t.Fatalf("joined at %d, %d frames left, the next boundary %d bytes on: no frame found, %d skipped", j, left, skip, got.Skipped)
					}
					if len(got.Frames) != left || got.Skips[0] != skip || got.Skipped != skip {
						t.Fatalf("joined at %d: got %d frames, first skipped %d, in all %d; want %d frames and %d skipped",
							j, len(got.Frames), got.Skips[0], got.Skipped, left, skip)
					}
					for i, f := range got.Frames {
						want := all[k+i]
						want.Offset -= int64(j)
						if f != want {
							t.Fatalf("joined at %d, frame %d: got %v, want %v", j, i, f, want)
						}
					}
				}
				t.Logf("%d offsets, the most skipped %d bytes", len(in), maxSkip)
			})
		}
	}
}

// TestResyncChunking checks that a resynchronisation, with and without
// gaps, lands in the same place and yields the same frames whatever the
// chunking.
func TestResyncChunking(t *testing.T) {
	randomJoins(t, 1, func(scenario string, in []byte, round, j int, rng *rand.Rand) {
		if racetest.Enabled && round%3 != 0 {
			// One goroutine, nothing for the detector (9 s of CI's race
			// run): a third of the joins, of every gap count.
			return
		}
		gaps := map[int]int64{}
		for range round % 4 {
			gaps[j+rng.IntN(len(in)-j)] = int64(1 + rng.IntN(5000))
		}
		want := resyncDecode(t, in[j:], rebase(gaps, j), whole)
		gaptest.AnyChunking(t, rng, want, func(chunk func() int) resynced { return resyncDecode(t, in[j:], rebase(gaps, j), chunk) },
			fmt.Sprintf("%s joined at %d, gaps %v", scenario, j, gaps))
	})
}

// randomJoins calls join 30 times for each recording of at least 100
// bytes (its two directions one after the other), each at a random offset
// j in its first half, with a generator seeded by seed.
func randomJoins(t *testing.T, seed uint64, join func(scenario string, in []byte, round, j int, rng *rand.Rand)) {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	for _, r := range loadRecordings(t) {
		in := slices.Concat(r.c2s, r.s2c)
		if len(in) < 100 {
			continue
		}
		for round := range 30 {
			join(r.exp.Scenario, in, round, rng.IntN(len(in)/2), rng)
		}
	}
}

// TestResyncAt joins real traffic at random offsets, with and without
// gaps after the first frame, and checks that ResyncAt told the boundary
// Resync finds yields exactly what Resync yields, in any chunking: the
// same frames, each first frame's Skipped, and the same accounting.
// ResyncAt's frames come as their bytes do (TestResyncAtFramesAtOnce).
func TestResyncAt(t *testing.T) {
	randomJoins(t, 3, func(scenario string, in []byte, round, j int, rng *rand.Rand) {
		want := resyncDecode(t, in[j:], nil, whole)
		if len(want.Frames) == 0 {
			return
		}
		f0, skip := want.Frames[0], want.Skips[0]
		first := f0.Offset + decoder.HeaderSize + int64(f0.Header.Length())
		gaps := map[int]int64{}
		for range round % 3 {
			gaps[int(first)+rng.IntN(len(in)-j-int(first)+1)] = int64(1 + rng.IntN(5000))
		}
		want = resyncDecode(t, in[j:], gaps, whole)
		if len(want.Frames) == 0 || want.Frames[0] != f0 || want.Skips[0] != skip {
			return // a gap so near that the hunt found no chain to the first frame, which ResyncAt frames
		}
		at := func(d *decoder.Decoder) { d.ResyncAt(skip) }
		gaptest.AnyChunking(t, rng, want, func(chunk func() int) resynced { return decodeFrom(t, at, in[j:], gaps, chunk) },
			fmt.Sprintf("%s joined at %d, boundary %d on, gaps %v", scenario, j, skip, gaps))
	})
}

// TestResyncAtFramesAtOnce checks what ResyncAt is for: each frame is
// returned by the call that gives its last byte, where Resync holds the
// first frames until a chain of headers completes, and a gap before the
// boundary makes the decoder hunt as Gap does.
func TestResyncAtFramesAtOnce(t *testing.T) {
	r := loadRecording(t, "v1-many")
	in := r.c2s
	bounds := boundaries(t, in)
	if len(bounds) < 5 {
		t.Fatalf("recording has %d frames", len(bounds))
	}
	j := bounds[1] - 3 // joined 3 bytes before the second frame
	d := decoder.New(decoder.DefaultSnaplen)
	d.ResyncAt(3)
	pos := j
	for i := 1; i < 4; i++ {
		end := bounds[i+1]
		n, f, err := d.Next(in[pos:end])
		for f == nil && err == nil && n < int(end-pos) {
			var m int
			m, f, err = d.Next(in[pos+int64(n) : end])
			n += m
		}
		if err != nil || f == nil {
			t.Fatalf("frame %d: the bytes up to its end gave %v, %v", i, f, err)
		}
		if f.Offset != bounds[i]-j {
			t.Fatalf("frame %d at offset %d, want %d", i, f.Offset, bounds[i]-j)
		}
		if want := map[bool]int64{true: 3, false: 0}[i == 1]; f.Skipped != want {
			t.Fatalf("frame %d skipped %d, want %d", i, f.Skipped, want)
		}
		pos = end
	}

	d = decoder.New(decoder.DefaultSnaplen)
	d.ResyncAt(100)
	d.Next(in[:10])
	d.Gap(5)
	if !d.Hunting() || d.Lost() != 5 || d.Skipped() != 10 {
		t.Fatalf("a gap before the boundary: hunting %v, lost %d, skipped %d; want a hunt, 5 lost, 10 skipped", d.Hunting(), d.Lost(), d.Skipped())
	}
}

func rebase(gaps map[int]int64, j int) map[int]int64 {
	m := map[int]int64{}
	for k, v := range gaps {
		m[k-j] = v
	}
	return m
}

// TestResyncRandomBytes checks that bytes with no smux in them yield no
// frame and are all counted as skipped.
func TestResyncRandomBytes(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	in := make([]byte, 1<<20)
	for i := range in {
		in[i] = byte(rng.Uint32())
	}
	got := resyncDecode(t, in, nil, whole)
	if len(got.Frames) != 0 || got.Skipped != int64(len(in)) {
		t.Fatalf("random bytes: %d frames, %d of %d bytes skipped", len(got.Frames), got.Skipped, len(in))
	}
}

// TestResyncWithoutResync checks that a decoder never told to resync
// buffers nothing and reports nothing skipped or lost.
func TestResyncWithoutResync(t *testing.T) {
	d := decoder.New(decoder.DefaultSnaplen)
	feed(d, randMix(t), 13)
	if d.Buffered() != 0 || d.Skipped() != 0 || d.Lost() != 0 || d.Hunting() {
		t.Fatalf("Buffered %d Skipped %d Lost %d Hunting %v; want nothing", d.Buffered(), d.Skipped(), d.Lost(), d.Hunting())
	}
}

// TestResyncReplayEndsInFrame joins frames large enough that the bytes a
// hunt holds end inside one, given in one call: Next must still consume a
// byte or yield a frame each time it is given bytes, as its doc says.
func TestResyncReplayEndsInFrame(t *testing.T) {
	var in []byte
	for range 6 {
		h := decoder.MakeHeader(2, decoder.PSH, 60000, 3)
		in = append(in, h[:]...)
		in = append(in, make([]byte, 60000)...)
	}
	d := decoder.New(0)
	d.Resync()
	frames := 0
	for p := in; len(p) > 0; {
		n, f, err := d.Next(p)
		if n == 0 && f == nil && err == nil {
			t.Fatalf("Next(%d bytes) consumed nothing and yielded nothing", len(p))
		}
		if f != nil {
			frames++
		}
		p = p[n:]
	}
	if frames != 6 {
		t.Fatalf("%d frames, want 6", frames)
	}
}

// TestResyncAtGapBefore checks ResyncAt told a boundary that a gap comes
// before: the boundary, counted in bytes that were not all there, tells
// nothing any more, and the decoder hunts after the gap as Resync's
// would, yielding what Resync does with the same gap, in any chunking.
func TestResyncAtGapBefore(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, r := range loadRecordings(t) {
		in := slices.Concat(r.c2s, r.s2c)
		if len(in) < 100 {
			continue
		}
		for range 30 {
			j := rng.IntN(len(in) / 2)
			first := resyncDecode(t, in[j:], nil, whole)
			if len(first.Frames) == 0 || first.Skips[0] == 0 {
				continue
			}
			skip := first.Skips[0]
			gaps := map[int]int64{rng.IntN(int(skip)): int64(1 + rng.IntN(50))}
			want := resyncDecode(t, in[j:], gaps, whole)
			told := skip + 1 + int64(rng.IntN(20)) // not the boundary: the gap must make it moot
			at := func(d *decoder.Decoder) { d.ResyncAt(told) }
			for _, limit := range []int{1, 7, 3000} {
				got := decodeFrom(t, at, in[j:], gaps, func() int { return 1 + rng.IntN(limit) })
				if d := got.Diff(want); d != "" {
					t.Fatalf("%s joined at %d, boundary %d on, gaps %v, chunks to %d: %s", r.exp.Scenario, j, skip, gaps, limit, d)
				}
			}
		}
	}
}

// TestResyncAtNoBoundary checks ResyncAt told a wrong boundary: the
// decoder frames from there as from any boundary, and once a violation
// stops it, it counts the bytes after as unparsed, Resyncing no more.
func TestResyncAtNoBoundary(t *testing.T) {
	r := loadRecording(t, "v1-many")
	bounds := boundaries(t, r.c2s)
	d := decoder.New(decoder.DefaultSnaplen)
	d.ResyncAt(bounds[1] + 1) // a byte into the second frame's header: its version byte is not one
	in := r.c2s
	var viol error
	for len(in) > 0 {
		n, _, err := d.Next(in)
		in = in[n:]
		if err != nil && viol == nil {
			viol = err
		}
		if n == 0 && err == nil {
			t.Fatalf("Next consumed nothing with %d bytes left", len(in))
		}
	}
	if viol == nil || d.Violation() == nil {
		t.Fatalf("no violation framing from a wrong boundary")
	}
	if got, want := d.Skipped()+d.Unparsed()+d.Pending(), int64(len(r.c2s)); got != want || d.Skipped() != bounds[1]+1 {
		t.Fatalf("skipped %d + unparsed %d + pending %d = %d, want %d, %d skipped", d.Skipped(), d.Unparsed(), d.Pending(), got, want, bounds[1]+1)
	}
}

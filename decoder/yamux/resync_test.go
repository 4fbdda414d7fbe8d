package yamux_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/muxtop/muxtop/decoder/internal/gaptest"
	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/internal/racetest"
)

// resynced is what a resynchronising decoder yields for one input.
type resynced = gaptest.Result[frameRec]

// proto describes the yamux decoder to the shared resynchronisation
// driver and gap tests (package gaptest).
var proto = gaptest.Protocol[*yamux.Decoder, yamux.Frame, frameRec]{
	New:        func() *yamux.Decoder { return yamux.New(yamux.DefaultSnaplen) },
	HeaderSize: yamux.HeaderSize,
	Snaplen:    yamux.DefaultSnaplen,
	Record:     recOf,
	Counts:     func(f *yamux.Frame) (size, lost, skipped int64) { return f.Size(), f.Lost, f.Skipped },
	Place:      func(r frameRec) (offset, length int64) { return r.Offset, int64(r.Header.PayloadLength()) },
	Resumes:    func(frameRec) bool { return true }, // Data frames of any size
	Cut: func(r frameRec, kept, n int64) frameRec {
		r.Payload = r.Payload[:min(int64(len(r.Payload)), kept)]
		r.Truncated = int64(len(r.Payload)) < int64(r.Header.PayloadLength())
		r.Lost = n
		return r
	},
	Shift: func(r frameRec, by int64) frameRec {
		r.Offset -= by
		return r
	},
	End: func(d *yamux.Decoder) (string, bool) {
		if v := d.End(); v != nil {
			return fmt.Sprint(v.Code), true
		}
		return "", false
	},
	Code: func(err error) (string, bool) {
		v, ok := errors.AsType[*yamux.Violation](err)
		if !ok {
			return "", false
		}
		return fmt.Sprint(v.Code), true
	},
	Frames: func(t testing.TB, in []byte) []frameRec {
		return decode(t, yamux.DefaultSnaplen, in, whole, true).frames
	},
}

// resyncDecode is gaptest's ResyncDecode of the yamux decoder.
func resyncDecode(t testing.TB, in []byte, gaps map[int]int64, chunk func() int) resynced {
	t.Helper()
	return proto.ResyncDecode(t, in, gaps, chunk)
}

// decodeFrom is gaptest's DecodeFrom of the yamux decoder.
func decodeFrom(t testing.TB, start func(*yamux.Decoder), in []byte, gaps map[int]int64, chunk func() int) resynced {
	t.Helper()
	return proto.DecodeFrom(t, start, in, gaps, chunk)
}

// gapStreams returns both directions of every recording, for the gap
// tests: under -race only the small ones.
func gapStreams(t testing.TB) []gaptest.Stream {
	var streams []gaptest.Stream
	for _, r := range loadRecordings(t) {
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
func TestGap(t *testing.T) {
	for _, r := range loadRecordings(t) {
		if r.exp.Scenario == "many" {
			proto.Gap(t, r.c2s)
			return
		}
	}
	t.Fatal("no recording named many")
}

// TestGapInPayload cuts bytes out of payloads of real traffic (gaptest's
// GapInPayload, at offsets near the ends and the snaplen and a twelfth of
// the payload apart, 37 bytes at least): the decoder resumes right after
// the cut, the frame carrying what it lost. Frames larger than
// MaxResyncData (the recording "window") included: no hunt would find a
// chain through them.
func TestGapInPayload(t *testing.T) {
	proto.GapInPayload(t, gapStreams(t), func(length int) int { return max(37, length/12) })
}

// TestGapAfterGapEndingFrame loses a Data frame's last payload bytes and
// then more, with no Next between (gaptest's GapAfterGapEndingFrame): the
// frame comes with its Lost, and the second gap hunts as if Next had
// framed it first.
func TestGapAfterGapEndingFrame(t *testing.T) { proto.GapAfterGapEndingFrame(t, gapStreams(t)) }

// TestGapEndsLastFrame loses the last 2 bytes of a stream's last frame,
// a Data frame of "RAND" (gaptest's GapEndsLastFrame): Next with no bytes
// returns it, "RA" kept, and End finds nothing cut short.
func TestGapEndsLastFrame(t *testing.T) {
	in := []byte(synData1[:yamux.HeaderSize+2]) // "RA" of "RAND"
	want := frameRec{Offset: 0, Header: yamux.Header(in[:yamux.HeaderSize]), Payload: "RA", Truncated: true, Lost: 2}
	proto.GapEndsLastFrame(t, in, 2, want)
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
	f.Add([]byte(synData1+ackWnd1+data1+finWnd1+pingSYN7), []byte{1}, uint16(3), uint16(0))
	f.Fuzz(proto.Resync)
}

// boundaries returns the offsets of the frames of a whole, valid stream.
func boundaries(t testing.TB, in []byte) []int64 {
	t.Helper()
	res := decode(t, 0, in, whole, true)
	if res.violation != nil {
		t.Fatalf("recording does not decode cleanly: %v", res.violation)
	}
	var b []int64
	for _, f := range res.frames {
		b = append(b, f.Offset)
	}
	return b
}

// TestResyncEveryOffset joins each direction of every recording of real
// yamux v0.1.2 traffic at every offset and checks that the decoder lands
// on the first true frame boundary at or after it, and from there yields
// exactly the frames a decoder that saw the whole stream yields (the last
// ones chained to the end of the stream by Flush), or, when no frame
// begins after the join, reports every byte skipped.
func TestResyncEveryOffset(t *testing.T) {
	for _, r := range loadRecordings(t) {
		for _, dir := range []struct {
			name string
			in   []byte
		}{{"c2s", r.c2s}, {"s2c", r.s2c}} {
			t.Run(r.exp.Scenario+"."+dir.name, func(t *testing.T) {
				in := dir.in
				if racetest.Enabled && len(in) > 30000 {
					t.Skip("a large recording: joined at every offset without -race")
				}
				all := decode(t, yamux.DefaultSnaplen, in, whole, true).frames
				bounds := boundaries(t, in)
				// Frames above MaxResyncData (a window configured above
				// 256 KiB) are long links, followed without being held.
				large := slices.ContainsFunc(all, func(f frameRec) bool { return f.Header.PayloadLength() > yamux.MaxResyncData })
				maxSkip := 0
				stride, first := 1009, 2000
				if large {
					// Each join scans on along the large frames: fewer joins.
					stride, first = 16381, 100
				}
				for j := range len(in) {
					if len(in) > 30000 && j > first && j%stride != 0 && !gaptest.NearBoundary(bounds, j, 24) {
						continue // the large recordings: every offset near a boundary, and a sample
					}
					if racetest.Enabled && j > 200 && j%61 != 0 && !gaptest.NearBoundary(bounds, j, 24) {
						// One goroutine, nothing for the detector (7 s of CI's
						// race run): a sample; every offset without -race.
						continue
					}
					got := resyncDecode(t, in[j:], nil, whole)
					k, _ := slices.BinarySearch(bounds, int64(j))
					left := len(bounds) - k
					if left == 0 {
						if len(got.Frames) != 0 || got.Skipped != int64(len(in)-j) {
							t.Fatalf("joined at %d with no frame left: got %d frames, %d skipped; want none and %d",
								j, len(got.Frames), got.Skipped, len(in)-j)
						}
						continue
					}
					skip := bounds[k] - int64(j)
					maxSkip = max(maxSkip, int(skip))
					if len(got.Frames) != left || got.Skips[0] != skip || got.Skipped != skip {
						var first int64 = -1
						if len(got.Skips) > 0 {
							first = got.Skips[0]
						}
						t.Fatalf("joined at %d: got %d frames, first skipped %d, in all %d; want %d frames and %d skipped",
							j, len(got.Frames), first, got.Skipped, left, skip)
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
		if racetest.Enabled && max(len(r.c2s), len(r.s2c)) > 30000 {
			// The decoder runs in one goroutine: the large recordings'
			// joins run without -race (go test ./...), as the other
			// resync tests' do; under it TestResyncAt and
			// TestResyncChunking took 150 s each.
			continue
		}
		for round := range 30 {
			join(r.exp.Scenario, in, round, rng.IntN(len(in)/2), rng)
		}
	}
}

// TestResyncAt joins real traffic at random offsets, with and without
// gaps after the first frame, and checks that ResyncAt told the boundary
// Resync finds yields exactly what Resync yields, in any chunking, as the
// smux decoder's test of the same name does.
func TestResyncAt(t *testing.T) {
	randomJoins(t, 3, func(scenario string, in []byte, round, j int, rng *rand.Rand) {
		want := resyncDecode(t, in[j:], nil, whole)
		if len(want.Frames) == 0 {
			return
		}
		f0, skip := want.Frames[0], want.Skips[0]
		first := f0.Offset + yamux.HeaderSize + int64(f0.Header.PayloadLength())
		gaps := map[int]int64{}
		for range round % 3 {
			gaps[int(first)+rng.IntN(len(in)-j-int(first)+1)] = int64(1 + rng.IntN(5000))
		}
		want = resyncDecode(t, in[j:], gaps, whole)
		if len(want.Frames) == 0 || want.Frames[0] != f0 || want.Skips[0] != skip {
			return // a gap so near that the hunt found no chain to the first frame, which ResyncAt frames
		}
		at := func(d *yamux.Decoder) { d.ResyncAt(skip) }
		gaptest.AnyChunking(t, rng, want, func(chunk func() int) resynced { return decodeFrom(t, at, in[j:], gaps, chunk) },
			fmt.Sprintf("%s joined at %d, boundary %d on, gaps %v", scenario, j, skip, gaps))
	})
}

func rebase(gaps map[int]int64, j int) map[int]int64 {
	m := map[int]int64{}
	for k, v := range gaps {
		m[k-j] = v
	}
	return m
}

// TestResyncRandomBytes checks that bytes with no yamux in them yield no
// frame and are all counted as skipped, and so do zeros, which many
// payloads are full of.
func TestResyncRandomBytes(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	in := make([]byte, 1<<20)
	for i := range in {
		in[i] = byte(rng.Uint32())
	}
	for name, in := range map[string][]byte{"random": in, "zeros": make([]byte, 1<<16)} {
		got := resyncDecode(t, in, nil, whole)
		if len(got.Frames) != 0 || got.Skipped != int64(len(in)) {
			t.Fatalf("%s bytes: %d frames, %d of %d bytes skipped", name, len(got.Frames), got.Skipped, len(in))
		}
	}
}

// TestResyncPlausible checks the rule on single headers: a chain of three
// copies of each, then the end (Flush), is taken when the header is
// plausible and skipped whole when not.
func TestResyncPlausible(t *testing.T) {
	for _, tc := range []struct {
		name string
		hdr  yamux.Header
		want bool
	}{
		{"data", yamux.MakeHeader(yamux.Data, 0, 3, 4), true},
		{"data SYN", yamux.MakeHeader(yamux.Data, yamux.SYN, 3, 4), true},
		{"data on stream 0", yamux.MakeHeader(yamux.Data, 0, 0, 4), false},
		{"empty data", yamux.MakeHeader(yamux.Data, 0, 3, 0), false},
		{"data above the default window", yamux.MakeHeader(yamux.Data, 0, 3, yamux.MaxResyncData+1), true},
		{"data of a 16 MiB window", yamux.MakeHeader(yamux.Data, 0, 3, yamux.MaxResyncLongData), true},
		{"data above 16 MiB", yamux.MakeHeader(yamux.Data, 0, 3, yamux.MaxResyncLongData+1), false},
		{"update SYN", yamux.MakeHeader(yamux.WindowUpdate, yamux.SYN, 1, 0), true},
		{"update delta", yamux.MakeHeader(yamux.WindowUpdate, 0, 2, yamux.MinResyncDelta), true},
		{"empty update", yamux.MakeHeader(yamux.WindowUpdate, 0, 2, 0), false},
		{"small delta", yamux.MakeHeader(yamux.WindowUpdate, 0, 2, yamux.MinResyncDelta-1), false},
		{"update on a huge id", yamux.MakeHeader(yamux.WindowUpdate, yamux.ACK, yamux.MaxResyncStream+1, 0), false},
		{"data on a huge id", yamux.MakeHeader(yamux.Data, 0, yamux.MaxResyncStream+1, 4), false},
		{"update on stream 0", yamux.MakeHeader(yamux.WindowUpdate, yamux.ACK, 0, 0), false},
		{"huge delta", yamux.MakeHeader(yamux.WindowUpdate, 0, 2, yamux.MaxResyncDelta+1), false},
		{"unknown flag", yamux.MakeHeader(yamux.WindowUpdate, 16, 2, 0), false},
		{"ping", yamux.MakeHeader(yamux.Ping, yamux.SYN, 0, 7), true},
		{"ping reply", yamux.MakeHeader(yamux.Ping, yamux.ACK, 0, 7), true},
		{"ping without flags", yamux.MakeHeader(yamux.Ping, 0, 0, 7), false},
		{"ping on a stream", yamux.MakeHeader(yamux.Ping, yamux.SYN, 1, 7), false},
		{"goaway", yamux.MakeHeader(yamux.GoAway, 0, 0, yamux.GoAwayProtocolError), true},
		{"goaway unknown code", yamux.MakeHeader(yamux.GoAway, 0, 0, 3), false},
		{"unknown type", yamux.MakeHeader(4, 0, 1, 0), false},
		{"version 1", yamux.Header{1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if racetest.Enabled && tc.hdr.Type() == yamux.Data && tc.hdr.PayloadLength() >= yamux.MaxResyncLongData {
				// 48 MiB decoded in one goroutine, nothing for the detector
				// (40 s of CI's race run): without -race.
				t.Skip("a chain of 16 MiB frames: without -race")
			}
			var in []byte
			for range yamux.ResyncChain {
				in = append(in, tc.hdr[:]...)
				if tc.hdr.Type() == yamux.Data {
					in = append(in, make([]byte, min(tc.hdr.PayloadLength(), 17<<20))...)
				}
			}
			got := resyncDecode(t, in, nil, whole)
			if took := len(got.Frames) == yamux.ResyncChain; took != tc.want || (!tc.want && got.Skipped != int64(len(in))) {
				t.Fatalf("%v: %d frames, %d skipped; want plausible %v", tc.hdr, len(got.Frames), got.Skipped, tc.want)
			}
		})
	}
}

// TestPlausibleAtStart: at a known boundary a Data frame may carry up to
// MaxStartData bytes (a window configured above the default); every other
// part of the rule stands.
func TestPlausibleAtStart(t *testing.T) {
	for _, tc := range []struct {
		hdr       yamux.Header
		want, any bool // PlausibleAtStart, Plausible
	}{
		{yamux.MakeHeader(yamux.Data, 0, 3, yamux.MaxResyncData), true, true},
		{yamux.MakeHeader(yamux.Data, 0, 3, yamux.MaxResyncData+1), true, false},
		{yamux.MakeHeader(yamux.Data, 0, 3, 16<<20), true, false},
		{yamux.MakeHeader(yamux.Data, 0, 3, yamux.MaxStartData), true, false},
		{yamux.MakeHeader(yamux.Data, 0, 3, yamux.MaxStartData+1), false, false},
		{yamux.MakeHeader(yamux.Data, 0, 0, 16<<20), false, false},           // on stream 0
		{yamux.MakeHeader(yamux.Data, 16, 3, 16<<20), false, false},          // an unknown flag
		{yamux.MakeHeader(yamux.Data, 0, 0x0001_0002, 16<<20), false, false}, // a type and flags read as an id
		{yamux.MakeHeader(yamux.WindowUpdate, 0, 2, yamux.MinResyncDelta-1), false, false},
		{yamux.MakeHeader(yamux.WindowUpdate, yamux.SYN, 1, 15<<20), true, true},
	} {
		if got := tc.hdr.PlausibleAtStart(); got != tc.want || tc.hdr.Plausible() != tc.any {
			t.Errorf("%v: PlausibleAtStart %v, Plausible %v; want %v, %v", tc.hdr, got, tc.hdr.Plausible(), tc.want, tc.any)
		}
	}
}

// TestResyncWithoutResync checks that a decoder never told to resync
// buffers nothing and reports nothing skipped or lost.
func TestResyncWithoutResync(t *testing.T) {
	for _, r := range loadRecordings(t) {
		for _, in := range [][]byte{r.c2s, r.s2c} {
			d := yamux.New(yamux.DefaultSnaplen)
			for p := in; len(p) > 0; {
				n, _, err := d.Next(p[:min(len(p), 13)])
				if err != nil {
					t.Fatalf("%s: %v", r.exp.Scenario, err)
				}
				p = p[n:]
			}
			if d.Frames() == 0 || d.Offset() != int64(len(in)) {
				t.Fatalf("%s: %d frames, Offset %d of %d bytes; want the recording framed", r.exp.Scenario, d.Frames(), d.Offset(), len(in))
			}
			if d.Buffered() != 0 || d.Skipped() != 0 || d.Lost() != 0 || d.Hunting() {
				t.Fatalf("%s: Buffered %d Skipped %d Lost %d Hunting %v; want nothing", r.exp.Scenario, d.Buffered(), d.Skipped(), d.Lost(), d.Hunting())
			}
		}
	}
}

// TestResyncReplayEndsInFrame joins frames large enough that the bytes a
// hunt holds end inside one, given in one call: Next must still consume a
// byte or yield a frame each time it is given bytes, as its doc says.
func TestResyncReplayEndsInFrame(t *testing.T) {
	var in []byte
	for range 6 {
		h := yamux.MakeHeader(yamux.Data, 0, 3, 200000)
		in = append(in, h[:]...)
		in = append(in, make([]byte, 200000)...)
	}
	d := yamux.New(0)
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

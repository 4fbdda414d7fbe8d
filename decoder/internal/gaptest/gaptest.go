// Package gaptest drives the smux and yamux decoders through
// resynchronisations and gaps for their tests, and holds the gap tests
// the two share: a decoder, its frame type and a record of a frame that
// compares with == are described once per package (Protocol), and each
// test here runs on that package's recordings of real traffic.
package gaptest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/muxtop/muxtop/decoder/internal/chunking"
)

// Decoder is what the driver asks of a decoder whose frames are F: both
// decoders' methods of those names.
type Decoder[F any] interface {
	Next(p []byte) (int, *F, error)
	Buffered() int
	Flush()
	Gap(n int64) (resumed bool)
	Resync()
	ResyncAt(n int64)
	Offset() int64
	Pending() int64
	Unparsed() int64
	Skipped() int64
	Lost() int64
}

// Protocol describes one decoder to the driver: D decodes frames F, and
// R is a frame's record, its payload copied, so that it outlives the
// call to Next and compares with ==.
type Protocol[D Decoder[F], F any, R comparable] struct {
	// New returns a decoder that keeps the default snaplen.
	New func() D
	// HeaderSize is the size of the protocol's header.
	HeaderSize int
	// Snaplen is the payload bytes New's decoders keep.
	Snaplen int
	// Record returns the record of f.
	Record func(f *F) R
	// Counts returns f's wire size, the bytes of it lost and the bytes
	// skipped before it.
	Counts func(f *F) (size, lost, skipped int64)
	// Place returns where a record's frame begins and its payload's length.
	Place func(r R) (offset, length int64)
	// Resumes reports whether a gap inside r's payload lets decoding go on
	// with the frame (Decoder.Gap): smux keeps no UPD whose fields it lost.
	Resumes func(r R) bool
	// Cut returns r as the decoder yields it when n bytes of its payload
	// were lost after its first kept ones: only those kept, n lost.
	Cut func(r R, kept, n int64) R
	// Shift returns r as a decoder that began by bytes later yields it.
	Shift func(r R, by int64) R
	// End calls the decoder's End and returns the code of the violation
	// it found, if it found one.
	End func(d D) (code string, ok bool)
	// Code returns the code of err, a violation Next returned; ok is false
	// for an error that is not one.
	Code func(err error) (code string, ok bool)
	// Frames returns the frames of a whole, valid stream decoded from its
	// start, failing t if it does not decode cleanly.
	Frames func(t testing.TB, in []byte) []R
}

// Stream is one direction of a recording of real traffic.
type Stream struct {
	Name string
	In   []byte
}

// Whole is the chunking of the whole input in one call.
func Whole() int { return 1 << 62 }

// Result is what a decoder yields for one input, with its accounting.
type Result[R comparable] struct {
	Frames   []R
	Skips    []int64 // each frame's Skipped
	Viols    []string
	Offset   int64
	Skipped  int64
	Lost     int64
	Framed   int64 // the wire bytes of the frames, less those lost
	Unparsed int64
	Pending  int64
}

// Diff describes the first difference between r and want, or returns "".
func (r Result[R]) Diff(want Result[R]) string {
	for i := range min(len(r.Frames), len(want.Frames)) {
		if r.Frames[i] != want.Frames[i] || r.Skips[i] != want.Skips[i] {
			return fmt.Sprintf("frame %d: got %v skipped %d, want %v skipped %d", i, r.Frames[i], r.Skips[i], want.Frames[i], want.Skips[i])
		}
	}
	if len(r.Frames) != len(want.Frames) {
		return fmt.Sprintf("got %d frames, want %d", len(r.Frames), len(want.Frames))
	}
	r.Frames, r.Skips, want.Frames, want.Skips = nil, nil, nil, nil
	if fmt.Sprint(r) != fmt.Sprint(want) {
		return fmt.Sprintf("got %+v, want %+v", r, want)
	}
	return ""
}

// AtStart is a start for DecodeFrom: decoding from the stream's first byte.
func AtStart[D any](D) {}

// ResyncDecode decodes in after Resync, in the chunks chunk says, calling
// Gap(gaps[i]) before the byte at i, and End at the end. It checks Next's
// contract and the decoder's accounting.
func (p Protocol[D, F, R]) ResyncDecode(t testing.TB, in []byte, gaps map[int]int64, chunk func() int) Result[R] {
	t.Helper()
	return p.DecodeFrom(t, D.Resync, in, gaps, chunk)
}

// DecodeFrom is ResyncDecode with start, not Resync, called first.
func (p Protocol[D, F, R]) DecodeFrom(t testing.TB, start func(D), in []byte, gaps map[int]int64, chunk func() int) Result[R] {
	t.Helper()
	several := map[int][]int64{}
	for at, n := range gaps {
		several[at] = []int64{n}
	}
	return p.DecodeGaps(t, start, in, several, false, chunk)
}

// DecodeGaps is DecodeFrom with gaps[i] a list of gaps told one after
// another before the byte at i; with between, Next frames what the
// decoder holds between them, as a caller that drains it does.
func (p Protocol[D, F, R]) DecodeGaps(t testing.TB, start func(D), in []byte, gaps map[int][]int64, between bool, chunk func() int) Result[R] {
	t.Helper()
	d := p.New()
	start(d)
	var r Result[R]
	collect := func(f *F, err error) {
		if f != nil {
			size, lost, skipped := p.Counts(f)
			r.Frames = append(r.Frames, p.Record(f))
			r.Skips = append(r.Skips, skipped)
			r.Framed += size - lost
		}
		if err != nil {
			code, ok := p.Code(err)
			if !ok {
				t.Fatalf("Next returned %T %v", err, err)
			}
			r.Viols = append(r.Viols, code)
		}
	}
	drain := func() {
		for d.Buffered() > 0 {
			n, f, err := d.Next(nil)
			if n != 0 || (f == nil && err == nil && d.Buffered() > 0) {
				t.Fatalf("Next(nil) with %d bytes buffered consumed %d, framed %v, err %v", d.Buffered(), n, f, err)
			}
			collect(f, err)
		}
	}
	tell := func(gs []int64) {
		for i, g := range gs {
			if between && i > 0 {
				drain()
			}
			d.Gap(g)
		}
	}
	var given int64 // bytes Next consumed: Offset counts them all, framed or held
	pos := 0
	for pos < len(in) {
		if gs, ok := gaps[pos]; ok {
			d.Flush()
			drain()
			tell(gs)
		}
		c := min(max(chunk(), 1), len(in)-pos)
		for g := range gaps { // a chunk ends before a gap
			if g > pos && g < pos+c {
				c = g - pos
			}
		}
		b := in[pos : pos+c]
		pos += c
		for len(b) > 0 {
			n, f, err := d.Next(b)
			if n < 0 || n > len(b) || (n == 0 && f == nil && err == nil) {
				t.Fatalf("Next(%d bytes) consumed %d and yielded nothing", len(b), n)
			}
			b = b[n:]
			given += int64(n)
			if d.Offset() != given+d.Lost() {
				t.Fatalf("Offset %d after %d bytes given and %d lost", d.Offset(), given, d.Lost())
			}
			collect(f, err)
		}
		drain()
	}
	d.Flush()
	drain()
	tell(gaps[len(in)])
	drain() // a frame a gap ended
	if code, ok := p.End(d); ok {
		r.Viols = append(r.Viols, code)
	}
	r.Offset, r.Skipped, r.Lost, r.Unparsed, r.Pending = d.Offset(), d.Skipped(), d.Lost(), d.Unparsed(), d.Pending()
	if r.Framed+r.Unparsed+r.Pending+r.Skipped+r.Lost != r.Offset {
		t.Fatalf("framed %d + unparsed %d + pending %d + skipped %d + lost %d != Offset %d",
			r.Framed, r.Unparsed, r.Pending, r.Skipped, r.Lost, r.Offset)
	}
	return r
}

// AnyChunking checks that decode yields want in chunks of random sizes up
// to 1, 7, 100, 3000 and 70000 bytes; what names the case.
func AnyChunking[R comparable](t *testing.T, rng *rand.Rand, want Result[R], decode func(chunk func() int) Result[R], what string) {
	t.Helper()
	for _, limit := range []int{1, 7, 100, 3000, 70000} {
		if d := decode(func() int { return 1 + rng.IntN(limit) }).Diff(want); d != "" {
			t.Fatalf("%s, chunks to %d: %s", what, limit, d)
		}
	}
}

// boundaries returns the offsets of the frames all.
func (p Protocol[D, F, R]) boundaries(all []R) []int64 {
	b := make([]int64, len(all))
	for i, r := range all {
		b[i], _ = p.Place(r)
	}
	return b
}

// Gap cuts bytes out of in, real traffic of 50 frames or more, and checks
// that the frames before the cut are those of the whole stream, the frame
// the cut runs into counts as skipped, and decoding resumes at the first
// true boundary after the cut, with what it skipped said on that frame.
func (p Protocol[D, F, R]) Gap(t *testing.T, in []byte) {
	all := p.Frames(t, in)
	bounds := p.boundaries(all)
	if len(bounds) < 50 {
		t.Fatalf("the recording has %d frames, want 50 or more", len(bounds))
	}
	for _, tc := range []struct {
		name     string
		from, to int // the bytes lost
	}{
		{"inside a frame", int(bounds[10]) + 3, int(bounds[20]) + 5},
		{"on boundaries", int(bounds[10]), int(bounds[20])},
		{"one byte", int(bounds[30]) + 1, int(bounds[30]) + 2},
		{"a header's worth", int(bounds[40]), int(bounds[40]) + p.HeaderSize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cut := slices.Concat(in[:tc.from], in[tc.to:])
			got := p.ResyncDecode(t, cut, map[int]int64{tc.from: int64(tc.to - tc.from)}, Whole)
			n := 0 // frames wholly before the gap
			for n < len(all) {
				off, length := p.Place(all[n])
				if off+int64(p.HeaderSize)+length > int64(tc.from) {
					break
				}
				n++
			}
			after, _ := slices.BinarySearch(bounds, int64(tc.to))
			partial := max(int64(tc.from)-bounds[n], 0)
			wantSkip := partial + bounds[after] - int64(tc.to)
			if len(got.Frames) != n+len(all)-after {
				t.Fatalf("got %d frames, want %d before the gap and %d after", len(got.Frames), n, len(all)-after)
			}
			for i := range n {
				if got.Frames[i] != all[i] || got.Skips[i] != 0 {
					t.Fatalf("frame %d: got %v, want %v", i, got.Frames[i], all[i])
				}
			}
			if got.Skips[n] != wantSkip || got.Lost != int64(tc.to-tc.from) || got.Skipped != wantSkip {
				t.Fatalf("first frame after the gap skipped %d (in all %d), lost %d; want %d and %d", got.Skips[n], got.Skipped, got.Lost, wantSkip, tc.to-tc.from)
			}
			for i := n; i < len(got.Frames); i++ {
				if got.Frames[i] != all[after+i-n] {
					t.Fatalf("frame %d: got %v, want %v", i, got.Frames[i], all[after+i-n])
				}
			}
		})
	}
}

// GapInPayload cuts bytes out of the payload of frames of each stream, at
// every offset within 40 bytes of the payload's ends and of the snaplen
// and at every stride(length)th (of every 7th frame of a stream of many),
// each cut one byte long, half of what is left, and all of it (a cut
// that ends the frame), and checks that the decoder resumes right after
// the cut: every frame is the whole stream's, the cut one with the bytes
// lost in its Lost and only those before them in its Payload, nothing
// skipped, in any chunking. A frame that does not resume (Resumes) is
// not kept, and the decoder hunts as after any other gap.
func (p Protocol[D, F, R]) GapInPayload(t *testing.T, streams []Stream, stride func(length int) int) {
	rng := rand.New(rand.NewPCG(21, 22))
	for _, s := range streams {
		in := s.In
		all := p.Frames(t, in)
		cases, biggest := 0, 0
		for i, f := range all {
			if len(all) > 50 && i%7 != 3 {
				continue // many frames: a sample
			}
			off, length64 := p.Place(f)
			length := int(length64)
			biggest = max(biggest, length)
			start := int(off) + p.HeaderSize // the payload's first byte
			every := stride(length)
			for k := range length {
				near := func(x int) bool { return k >= x-40 && k < x+40 }
				if !near(0) && !near(length) && !near(p.Snaplen) && k%every != 0 {
					continue
				}
				for _, n := range []int{1, (length - k + 1) / 2, length - k} {
					from, to := start+k, start+k+n
					cut := slices.Concat(in[:from], in[to:])
					got := p.DecodeFrom(t, AtStart, cut, map[int]int64{from: int64(n)}, Whole)
					cases++
					if !p.Resumes(f) {
						if got.Skipped == 0 || len(got.Frames) >= len(all) {
							t.Fatalf("%s: %d bytes lost at %d in frame %v: %d frames, %d skipped; want it not kept, and a hunt", s.Name, n, from, f, len(got.Frames), got.Skipped)
						}
						continue
					}
					want := Result[R]{Frames: slices.Clone(all), Skips: make([]int64, len(all)),
						Offset: int64(len(in)), Lost: int64(n), Framed: int64(len(in) - n)}
					want.Frames[i] = p.Cut(f, int64(k), int64(n))
					if d := got.Diff(want); d != "" {
						t.Fatalf("%s: %d bytes lost at %d, %d into frame %d's payload of %d: %s", s.Name, n, from, k, i, length, d)
					}
					if rng.IntN(50) == 0 {
						AnyChunking(t, rng, want, func(chunk func() int) Result[R] {
							return p.DecodeFrom(t, AtStart, cut, map[int]int64{from: int64(n)}, chunk)
						}, fmt.Sprintf("%s: %d bytes lost at %d", s.Name, n, from))
					}
				}
			}
		}
		t.Logf("%s: %d gaps in %d frames, the largest %d bytes", s.Name, cases, len(all), biggest)
	}
}

// GapAfterGapEndingFrame loses the last bytes of a frame's payload and
// then, before Next is called, more bytes after it, in each stream
// decoded from its start: the first gap leaves the frame whole, and the
// second must not take it for a frame in progress. The decoder yields the
// frame with the first gap in its Lost and then hunts after the second,
// exactly as when Next frames the frame between the two gaps, in any
// chunking, with its accounting exact; joined 5 bytes before the frame
// at a known boundary (ResyncAt), the frame, the first, carries them in
// its Skipped.
func (p Protocol[D, F, R]) GapAfterGapEndingFrame(t *testing.T, streams []Stream) {
	rng := rand.New(rand.NewPCG(23, 24))
	joinAt := func(d D) { d.ResyncAt(5) }
	for _, s := range streams {
		in := s.In
		all := p.Frames(t, in)
		cases := 0
		for i, f := range all {
			off, length := p.Place(f)
			if length == 0 || !p.Resumes(f) || (len(all) > 50 && i%7 != 3) {
				continue // no payload a gap resumes in, or many frames: a sample
			}
			end := int(off) + p.HeaderSize + int(length)
			for _, k := range []int{1, int(length+1) / 2, int(length)} { // the payload's last k bytes lost
				for _, m := range []int{1, p.HeaderSize, p.HeaderSize + 5, 3000} { // then m more
					m = min(m, len(in)-end)
					if m == 0 {
						continue
					}
					from := end - k
					cut := slices.Concat(in[:from], in[end+m:])
					gaps := map[int][]int64{from: {int64(k), int64(m)}}
					what := fmt.Sprintf("%s: frame %d's last %d bytes lost, then %d", s.Name, i, k, m)
					want := p.DecodeGaps(t, AtStart, cut, gaps, true, Whole)
					cases++
					w := p.Cut(f, length-int64(k), int64(k))
					if len(want.Frames) <= i || !slices.Equal(want.Frames[:i], all[:i]) || want.Frames[i] != w {
						t.Fatalf("%s: with Next between, frames %v; want the first %d and %v", what, want.Frames, i, w)
					}
					if d := p.DecodeGaps(t, AtStart, cut, gaps, false, Whole).Diff(want); d != "" {
						t.Fatalf("%s, no Next between: %s", what, d)
					}
					if rng.IntN(20) == 0 {
						AnyChunking(t, rng, want, func(chunk func() int) Result[R] {
							return p.DecodeGaps(t, AtStart, cut, gaps, false, chunk)
						}, what)
					}
					if j := int(off) - 5; j >= 0 {
						joined := map[int][]int64{from - j: {int64(k), int64(m)}}
						want := p.DecodeGaps(t, joinAt, cut[j:], joined, true, Whole)
						if len(want.Frames) == 0 || want.Skips[0] != 5 || want.Frames[0] != p.Cut(p.Shift(f, int64(j)), length-int64(k), int64(k)) {
							t.Fatalf("%s, joined 5 bytes before: with Next between, frames %v skipped %v", what, want.Frames, want.Skips)
						}
						if d := p.DecodeGaps(t, joinAt, cut[j:], joined, false, Whole).Diff(want); d != "" {
							t.Fatalf("%s, joined 5 bytes before, no Next between: %s", what, d)
						}
					}
				}
			}
		}
		t.Logf("%s: %d double gaps in %d frames", s.Name, cases, len(all))
	}
}

// Resync is FuzzResync's check of in joined with a gap of gapLen bytes
// before its byte gapAt (none if gapLen is 0): every chunking cuts gives
// yields what the whole input does, with the decoder's accounting exact
// (ResyncDecode checks it); and decoded from the start, a gap inside a
// payload resumes right after it (GapExact).
func (p Protocol[D, F, R]) Resync(t *testing.T, in, cuts []byte, gapAt, gapLen uint16) {
	gaps := map[int]int64{}
	if gapLen > 0 && len(in) > 0 {
		gaps[int(gapAt)%(len(in)+1)] = int64(gapLen)
	}
	want := p.ResyncDecode(t, in, gaps, Whole)
	got := p.ResyncDecode(t, in, gaps, chunking.FromCuts(cuts))
	if d := got.Diff(want); d != "" {
		t.Fatalf("chunks from %v differ from the whole input: %s", cuts, d)
	}
	if gapLen > 0 && len(in) > 0 {
		p.GapExact(t, in, cuts, int(gapAt)%(len(in)+1), int64(gapLen))
	}
}

// GapExact checks the rule of a gap inside a payload on in, decoded from
// its start with n bytes lost before its byte at: where the whole stream
// (in with n bytes in their place) has a frame whose payload holds them
// all, and which resumes, the decoder yields the whole stream's frames,
// the cut one with Lost n and only the payload bytes before them, in the
// whole input and in the chunking cuts gives.
func (p Protocol[D, F, R]) GapExact(t *testing.T, in, cuts []byte, at int, n int64) {
	t.Helper()
	full := p.DecodeFrom(t, AtStart, slices.Concat(in[:at], make([]byte, n), in[at:]), nil, Whole)
	for i, f := range full.Frames {
		off, length := p.Place(f)
		payload := off + int64(p.HeaderSize)
		if int64(at) < payload || int64(at)+n > payload+length || !p.Resumes(f) {
			continue
		}
		want := full
		want.Frames = slices.Clone(full.Frames)
		want.Lost, want.Framed = n, full.Framed-n
		want.Frames[i] = p.Cut(f, int64(at)-payload, n)
		gaps := map[int]int64{at: n}
		if d := p.DecodeFrom(t, AtStart, in, gaps, Whole).Diff(want); d != "" {
			t.Fatalf("%d bytes lost at %d, inside frame %d's payload: %s", n, at, i, d)
		}
		if d := p.DecodeFrom(t, AtStart, in, gaps, chunking.FromCuts(cuts)).Diff(want); d != "" {
			t.Fatalf("%d bytes lost at %d, inside frame %d's payload, chunks from %v: %s", n, at, i, cuts, d)
		}
		return
	}
}

// GapEndsLastFrame loses the last lost bytes of in's last frame, whose
// payload in ends before them: the frame is whole but for them, Buffered
// says it is there to frame, Next with no bytes returns it, as want, and
// End finds nothing cut short.
func (p Protocol[D, F, R]) GapEndsLastFrame(t *testing.T, in []byte, lost int64, want R) {
	d := p.New()
	for b := in; len(b) > 0; {
		n, _, err := d.Next(b)
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		b = b[n:]
	}
	off, _ := p.Place(want)
	if !d.Gap(lost) || d.Buffered() != len(in)-int(off) {
		t.Fatalf("Gap(%d) at the end of the last payload: Buffered %d, want %d", lost, d.Buffered(), len(in)-int(off))
	}
	n, f, err := d.Next(nil)
	if n != 0 || err != nil || f == nil || p.Record(f) != want || d.Buffered() != 0 {
		t.Fatalf("Next(nil): %d, %v, %v, Buffered %d; want %v", n, f, err, d.Buffered(), want)
	}
	if code, ok := p.End(d); ok || d.Unparsed() != 0 || d.Offset() != int64(len(in))+lost {
		t.Fatalf("End: %q, unparsed %d, offset %d; want nothing cut, offset %d", code, d.Unparsed(), d.Offset(), int64(len(in))+lost)
	}
}

// NearBoundary reports whether offset j lies fewer than within bytes from
// a frame boundary in bounds (sorted ascending): some b with |b-j| < within.
// A caller whose radius is inclusive passes its radius plus one.
func NearBoundary(bounds []int64, j int, within int64) bool {
	k, _ := slices.BinarySearch(bounds, int64(j))
	return (k < len(bounds) && bounds[k]-int64(j) < within) || (k > 0 && int64(j)-bounds[k-1] < within)
}

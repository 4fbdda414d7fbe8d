package decoder_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/decoder/internal/chunking"
)

// resynced is what a resynchronising decoder yields for one input.
type resynced struct {
	frames  []frameRec
	skips   []int64 // each frame's Skipped
	viols   []decoder.Code
	offset  int64
	skipped int64
	lost    int64
	framed  int64
	unparse int64
	pending int64
}

func (r resynced) diff(want resynced) string {
	for i := range min(len(r.frames), len(want.frames)) {
		if r.frames[i] != want.frames[i] || r.skips[i] != want.skips[i] {
			return fmt.Sprintf("frame %d: got %v skipped %d, want %v skipped %d", i, r.frames[i], r.skips[i], want.frames[i], want.skips[i])
		}
	}
	if len(r.frames) != len(want.frames) {
		return fmt.Sprintf("got %d frames, want %d", len(r.frames), len(want.frames))
	}
	r.frames, r.skips, want.frames, want.skips = nil, nil, nil, nil
	if fmt.Sprint(r) != fmt.Sprint(want) {
		return fmt.Sprintf("got %+v, want %+v", r, want)
	}
	return ""
}

// resyncDecode decodes in after Resync, in the chunks chunk says, calling
// Gap(gaps[i]) before the byte at i, and End at the end. It checks Next's
// contract and the decoder's accounting.
func resyncDecode(t testing.TB, in []byte, gaps map[int]int64, chunk func() int) resynced {
	t.Helper()
	return decodeFrom(t, (*decoder.Decoder).Resync, in, gaps, chunk)
}

// decodeFrom is resyncDecode with start, not Resync, called first.
func decodeFrom(t testing.TB, start func(*decoder.Decoder), in []byte, gaps map[int]int64, chunk func() int) resynced {
	t.Helper()
	several := map[int][]int64{}
	for at, n := range gaps {
		several[at] = []int64{n}
	}
	return decodeGaps(t, start, in, several, false, chunk)
}

// decodeGaps is decodeFrom with gaps[i] a list of gaps told one after
// another before the byte at i; with between, Next frames what the
// decoder holds between them, as a caller that drains it does.
func decodeGaps(t testing.TB, start func(*decoder.Decoder), in []byte, gaps map[int][]int64, between bool, chunk func() int) resynced {
	t.Helper()
	d := decoder.New(decoder.DefaultSnaplen)
	start(d)
	var r resynced
	collect := func(n int, f *decoder.Frame, err error) {
		if f != nil {
			r.frames = append(r.frames, recOf(f))
			r.skips = append(r.skips, f.Skipped)
			r.framed += f.Size() - f.Lost
		}
		if err != nil {
			v, ok := errors.AsType[*decoder.Violation](err)
			if !ok {
				t.Fatalf("Next returned %T %v", err, err)
			}
			r.viols = append(r.viols, v.Code)
		}
	}
	drain := func() {
		for d.Buffered() > 0 {
			n, f, err := d.Next(nil)
			if n != 0 || (f == nil && err == nil && d.Buffered() > 0) {
				t.Fatalf("Next(nil) with %d bytes buffered consumed %d, framed %v, err %v", d.Buffered(), n, f, err)
			}
			collect(n, f, err)
		}
	}
	var given int64 // bytes Next consumed: Offset counts them all, framed or held
	pos := 0
	for pos < len(in) {
		if gs, ok := gaps[pos]; ok {
			d.Flush()
			drain()
			for i, g := range gs {
				if between && i > 0 {
					drain()
				}
				d.Gap(g)
			}
		}
		c := min(max(chunk(), 1), len(in)-pos)
		for g := range gaps { // a chunk ends before a gap
			if g > pos && g < pos+c {
				c = g - pos
			}
		}
		p := in[pos : pos+c]
		pos += c
		for len(p) > 0 {
			n, f, err := d.Next(p)
			if n < 0 || n > len(p) || (n == 0 && f == nil && err == nil) {
				t.Fatalf("Next(%d bytes) consumed %d and yielded nothing", len(p), n)
			}
			p = p[n:]
			given += int64(n)
			if d.Offset() != given+d.Lost() {
				t.Fatalf("Offset %d after %d bytes given and %d lost", d.Offset(), given, d.Lost())
			}
			collect(n, f, err)
		}
		drain()
	}
	d.Flush()
	drain()
	for i, g := range gaps[len(in)] {
		if between && i > 0 {
			drain()
		}
		d.Gap(g)
	}
	drain() // a frame a gap ended
	if v := d.End(); v != nil {
		r.viols = append(r.viols, v.Code)
	}
	r.offset, r.skipped, r.lost, r.unparse, r.pending = d.Offset(), d.Skipped(), d.Lost(), d.Unparsed(), d.Pending()
	if r.framed+r.unparse+r.pending+r.skipped+r.lost != r.offset {
		t.Fatalf("framed %d + unparsed %d + pending %d + skipped %d + lost %d != Offset %d",
			r.framed, r.unparse, r.pending, r.skipped, r.lost, r.offset)
	}
	return r
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
				all := decode(t, decoder.DefaultSnaplen, in, whole).frames
				bounds := boundaries(t, in)
				maxSkip := 0
				for j := range len(in) {
					if len(in) > 30000 && j > 2000 && j%61 != 0 && !nearBoundary(bounds, j) {
						continue // the large recordings: every offset near a boundary, and a sample
					}
					got := resyncDecode(t, in[j:], nil, whole)
					k, _ := slices.BinarySearch(bounds, int64(j))
					left := len(bounds) - k
					if left == 0 {
						if len(got.frames) != 0 || got.skipped != int64(len(in)-j) {
							t.Fatalf("joined at %d with %d frames left: got %d frames, %d skipped; want none and %d",
								j, left, len(got.frames), got.skipped, len(in)-j)
						}
						continue
					}
					skip := bounds[k] - int64(j)
					maxSkip = max(maxSkip, int(skip))
					if len(got.frames) == 0 {
						t.Fatalf("joined at %d, %d frames left, the next boundary %d bytes on: no frame found, %d skipped", j, left, skip, got.skipped)
					}
					if len(got.frames) != left || got.skips[0] != skip || got.skipped != skip {
						t.Fatalf("joined at %d: got %d frames, first skipped %d, in all %d; want %d frames and %d skipped",
							j, len(got.frames), got.skips[0], got.skipped, left, skip)
					}
					for i, f := range got.frames {
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

// nearBoundary reports whether j lies within 64 bytes of a frame boundary.
func nearBoundary(bounds []int64, j int) bool {
	k, _ := slices.BinarySearch(bounds, int64(j))
	return (k < len(bounds) && bounds[k]-int64(j) < 64) || (k > 0 && int64(j)-bounds[k-1] < 64)
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
		anyChunking(t, rng, want, func(chunk func() int) resynced { return resyncDecode(t, in[j:], rebase(gaps, j), chunk) },
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

// anyChunking checks that decode yields want in chunks of random sizes up
// to 1, 7, 100, 3000 and 70000 bytes; what names the case.
func anyChunking(t *testing.T, rng *rand.Rand, want resynced, decode func(chunk func() int) resynced, what string) {
	t.Helper()
	for _, limit := range []int{1, 7, 100, 3000, 70000} {
		if d := decode(func() int { return 1 + rng.IntN(limit) }).diff(want); d != "" {
			t.Fatalf("%s, chunks to %d: %s", what, limit, d)
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
		if len(want.frames) == 0 {
			return
		}
		f0, skip := want.frames[0], want.skips[0]
		first := f0.Offset + decoder.HeaderSize + int64(f0.Header.Length())
		gaps := map[int]int64{}
		for range round % 3 {
			gaps[int(first)+rng.IntN(len(in)-j-int(first)+1)] = int64(1 + rng.IntN(5000))
		}
		want = resyncDecode(t, in[j:], gaps, whole)
		if len(want.frames) == 0 || want.frames[0] != f0 || want.skips[0] != skip {
			return // a gap so near that the hunt found no chain to the first frame, which ResyncAt frames
		}
		at := func(d *decoder.Decoder) { d.ResyncAt(skip) }
		anyChunking(t, rng, want, func(chunk func() int) resynced { return decodeFrom(t, at, in[j:], gaps, chunk) },
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

// TestGap cuts bytes out of real traffic and checks that the frames
// before the cut are those of the whole stream, the frame the cut runs
// into counts as skipped, and decoding resumes at the first true boundary
// after the cut, with what it skipped said on that frame.
func TestGap(t *testing.T) {
	r := loadRecording(t, "v1-many")
	in := r.c2s
	all := decode(t, decoder.DefaultSnaplen, in, whole).frames
	bounds := boundaries(t, in)
	for _, tc := range []struct {
		name     string
		from, to int // the bytes lost
	}{
		{"inside a frame", int(bounds[10]) + 3, int(bounds[20]) + 5},
		{"on boundaries", int(bounds[10]), int(bounds[20])},
		{"one byte", int(bounds[30]) + 1, int(bounds[30]) + 2},
		{"a header's worth", int(bounds[40]), int(bounds[40]) + decoder.HeaderSize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cut := slices.Concat(in[:tc.from], in[tc.to:])
			got := resyncDecode(t, cut, map[int]int64{tc.from: int64(tc.to - tc.from)}, whole)
			// frames wholly before the gap
			whole := 0
			for whole < len(all) && all[whole].Offset+decoder.HeaderSize+int64(all[whole].Header.Length()) <= int64(tc.from) {
				whole++
			}
			after, _ := slices.BinarySearch(bounds, int64(tc.to))
			partial := int64(tc.from) - (all[whole].Offset)
			if partial < 0 {
				partial = 0
			}
			wantSkip := partial + bounds[after] - int64(tc.to)
			if len(got.frames) != whole+len(all)-after {
				t.Fatalf("got %d frames, want %d before the gap and %d after", len(got.frames), whole, len(all)-after)
			}
			for i := range whole {
				if got.frames[i] != all[i] || got.skips[i] != 0 {
					t.Fatalf("frame %d: got %v, want %v", i, got.frames[i], all[i])
				}
			}
			if got.skips[whole] != wantSkip || got.lost != int64(tc.to-tc.from) || got.skipped != wantSkip {
				t.Fatalf("first frame after the gap skipped %d (in all %d), lost %d; want %d and %d", got.skips[whole], got.skipped, got.lost, wantSkip, tc.to-tc.from)
			}
			for i := whole; i < len(got.frames); i++ {
				if got.frames[i] != all[after+i-whole] {
					t.Fatalf("frame %d: got %v, want %v", i, got.frames[i], all[after+i-whole])
				}
			}
		})
	}
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
	if len(got.frames) != 0 || got.skipped != int64(len(in)) {
		t.Fatalf("random bytes: %d frames, %d of %d bytes skipped", len(got.frames), got.skipped, len(in))
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

// FuzzResync joins arbitrary bytes with arbitrary gaps in arbitrary
// chunkings and checks that every chunking yields what the whole input
// does, with the decoder's accounting exact (resyncDecode checks it); and
// that decoded from the start, a gap inside a payload resumes right after
// it (gapExact).
func FuzzResync(f *testing.F) {
	for _, r := range loadRecordings(f) {
		in := slices.Concat(r.c2s, r.s2c)
		f.Add(in[min(len(in), 5):min(len(in), 3000)], []byte{0, 7, 255, 3}, uint16(100), uint16(40))
		f.Add(in[:min(len(in), 3000)], []byte{0, 7, 255, 3}, uint16(30), uint16(2)) // at a boundary: a gap in a payload
	}
	f.Add([]byte(v1SYN3+v1RAND3+v1FIN3+v1SYN3+v1RAND3), []byte{1}, uint16(3), uint16(0))
	f.Fuzz(func(t *testing.T, in, cuts []byte, gapAt, gapLen uint16) {
		gaps := map[int]int64{}
		if gapLen > 0 && len(in) > 0 {
			gaps[int(gapAt)%(len(in)+1)] = int64(gapLen)
		}
		want := resyncDecode(t, in, gaps, whole)
		got := resyncDecode(t, in, gaps, chunking.FromCuts(cuts))
		if d := got.diff(want); d != "" {
			t.Fatalf("chunks from %v differ from the whole input: %s", cuts, d)
		}
		if gapLen > 0 && len(in) > 0 {
			gapExact(t, in, cuts, int(gapAt)%(len(in)+1), int64(gapLen))
		}
	})
}

// gapExact checks the rule of a gap inside a payload on in, decoded from
// its start with n bytes lost before its byte at: where the whole stream
// (in with n bytes in their place) has a frame whose payload holds them
// all, the decoder yields the whole stream's frames, the cut one with
// Lost n and only the payload bytes before them, in any chunking.
func gapExact(t *testing.T, in, cuts []byte, at int, n int64) {
	t.Helper()
	atStart := func(*decoder.Decoder) {}
	full := decodeFrom(t, atStart, slices.Concat(in[:at], make([]byte, n), in[at:]), nil, whole)
	for i, f := range full.frames {
		if int64(at) < f.Offset+decoder.HeaderSize || int64(at)+n > f.Offset+decoder.HeaderSize+int64(f.Header.Length()) || f.Header.Cmd() == decoder.UPD {
			continue
		}
		want := full
		want.frames = slices.Clone(full.frames)
		want.lost, want.framed = n, full.framed-n
		w := &want.frames[i]
		w.Payload = w.Payload[:min(int64(len(w.Payload)), int64(at)-f.Offset-decoder.HeaderSize)]
		w.Truncated = int64(len(w.Payload)) < decoder.HeaderSize+int64(f.Header.Length())-decoder.HeaderSize
		w.Lost = n
		gaps := map[int]int64{at: n}
		if d := decodeFrom(t, atStart, in, gaps, whole).diff(want); d != "" {
			t.Fatalf("%d bytes lost at %d, inside frame %d's payload: %s", n, at, i, d)
		}
		if d := decodeFrom(t, atStart, in, gaps, chunking.FromCuts(cuts)).diff(want); d != "" {
			t.Fatalf("%d bytes lost at %d, inside frame %d's payload, chunks from %v: %s", n, at, i, cuts, d)
		}
		return
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
			if len(first.frames) == 0 || first.skips[0] == 0 {
				continue
			}
			skip := first.skips[0]
			gaps := map[int]int64{rng.IntN(int(skip)): int64(1 + rng.IntN(50))}
			want := resyncDecode(t, in[j:], gaps, whole)
			told := skip + 1 + int64(rng.IntN(20)) // not the boundary: the gap must make it moot
			at := func(d *decoder.Decoder) { d.ResyncAt(told) }
			for _, limit := range []int{1, 7, 3000} {
				got := decodeFrom(t, at, in[j:], gaps, func() int { return 1 + rng.IntN(limit) })
				if d := got.diff(want); d != "" {
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

// TestGapInPayload cuts bytes out of one frame's payload of real traffic,
// at every offset within 40 bytes of the payload's ends and of the
// snaplen and at every 37th (of every 7th frame of a recording of many),
// each cut one byte long, half of what is left, and all of it (a cut
// that ends the frame), and checks that the decoder resumes
// right after the cut: every frame is the whole stream's, the cut one
// with the bytes lost in its Lost and only those before them in its
// Payload, nothing skipped, in any chunking. A UPD's payload is its
// fields: a cut in it is not kept, and the decoder hunts as before.
func TestGapInPayload(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	atStart := func(*decoder.Decoder) {}
	for _, r := range loadRecordings(t) {
		if r.exp.Scenario == "v1-client-v2-server" {
			continue // two versions: not a stream a receiver reads
		}
		for _, in := range [][]byte{r.c2s, r.s2c} {
			if raceEnabled && len(in) > 30000 {
				continue // a large recording: its gaps are cut without -race
			}
			all := decode(t, decoder.DefaultSnaplen, in, whole).frames
			cases := 0
			for i, f := range all {
				if len(all) > 50 && i%7 != 3 {
					continue // many frames: a sample
				}
				length := int(f.Header.Length())
				start := int(f.Offset) + decoder.HeaderSize // the payload's first byte
				for k := range length {
					if !gapSample(k, length) {
						continue
					}
					for _, n := range []int{1, (length - k + 1) / 2, length - k} {
						from, to := start+k, start+k+n
						cut := slices.Concat(in[:from], in[to:])
						got := decodeFrom(t, atStart, cut, map[int]int64{from: int64(n)}, whole)
						cases++
						if f.Header.Cmd() == decoder.UPD {
							if got.skipped == 0 || len(got.frames) >= len(all) {
								t.Fatalf("%s: %d bytes lost at %d in a UPD: %d frames, %d skipped; want it not kept, and a hunt", r.exp.Scenario, n, from, len(got.frames), got.skipped)
							}
							continue
						}
						want := resynced{frames: slices.Clone(all), skips: make([]int64, len(all)),
							offset: int64(len(in)), lost: int64(n), framed: int64(len(in) - n)}
						w := &want.frames[i]
						w.Payload = w.Payload[:min(len(w.Payload), k)]
						w.Truncated = len(w.Payload) < length
						w.Lost = int64(n)
						if d := got.diff(want); d != "" {
							t.Fatalf("%s: %d bytes lost at %d, %d into frame %d's payload of %d: %s", r.exp.Scenario, n, from, k, i, length, d)
						}
						if rng.IntN(50) == 0 {
							anyChunking(t, rng, want, func(chunk func() int) resynced {
								return decodeFrom(t, atStart, cut, map[int]int64{from: int64(n)}, chunk)
							}, fmt.Sprintf("%s: %d bytes lost at %d", r.exp.Scenario, n, from))
						}
					}
				}
			}
			t.Logf("%s: %d gaps in %d frames", r.exp.Scenario, cases, len(all))
		}
	}
}

// gapSample reports whether TestGapInPayload cuts at offset k of a
// payload of length bytes: near its ends, near the snaplen, and a sample.
func gapSample(k, length int) bool {
	near := func(x int) bool { return k >= x-40 && k < x+40 }
	return near(0) || near(length) || near(decoder.DefaultSnaplen) || k%37 == 0
}

// TestGapEndsLastFrame loses the last bytes of a stream's last frame: the
// frame is whole but for them, Buffered says it is there to frame, Next
// with no bytes returns it, and End finds nothing cut short.
func TestGapEndsLastFrame(t *testing.T) {
	syn, psh := decoder.MakeHeader(1, decoder.SYN, 0, 3), decoder.MakeHeader(1, decoder.PSH, 100, 3)
	in := slices.Concat(syn[:], psh[:], make([]byte, 90))
	d := decoder.New(decoder.DefaultSnaplen)
	feed(d, in, len(in))
	if !d.Gap(10) || d.Buffered() != decoder.HeaderSize+90 {
		t.Fatalf("Gap(10) at the end of the last payload: Buffered %d, want %d", d.Buffered(), decoder.HeaderSize+90)
	}
	n, f, err := d.Next(nil)
	if n != 0 || err != nil || f == nil || f.Offset != decoder.HeaderSize || f.Lost != 10 || len(f.Payload) != 90 || !f.Truncated || d.Buffered() != 0 {
		t.Fatalf("Next(nil): %d, %+v, %v, Buffered %d; want the PSH, 10 lost, 90 kept", n, f, err, d.Buffered())
	}
	if v := d.End(); v != nil || d.Unparsed() != 0 || d.Offset() != int64(len(in))+10 {
		t.Fatalf("End: %v, unparsed %d, offset %d; want nothing cut, offset %d", v, d.Unparsed(), d.Offset(), len(in)+10)
	}
}

// TestGapAfterGapEndingFrame loses the last bytes of a frame's payload
// and then, before Next is called, more bytes after it, in real traffic
// decoded from its start: the first gap leaves the frame whole, and the
// second must not take it for a frame in progress. The decoder yields the
// frame with the first gap in its Lost and then hunts after the second,
// exactly as when Next frames the frame between the two gaps, in any
// chunking, with its accounting exact.
func TestGapAfterGapEndingFrame(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	atStart := func(*decoder.Decoder) {}
	for _, r := range loadRecordings(t) {
		if r.exp.Scenario == "v1-client-v2-server" {
			continue // two versions: not a stream a receiver reads
		}
		for _, in := range [][]byte{r.c2s, r.s2c} {
			if raceEnabled && len(in) > 30000 {
				continue // a large recording: its gaps are cut without -race
			}
			all := decode(t, decoder.DefaultSnaplen, in, whole).frames
			cases := 0
			for i, f := range all {
				length := int(f.Header.Length())
				if length == 0 || f.Header.Cmd() == decoder.UPD || (len(all) > 50 && i%7 != 3) {
					continue // no payload a gap resumes in, or many frames: a sample
				}
				end := int(f.Offset) + decoder.HeaderSize + length
				for _, k := range []int{1, (length + 1) / 2, length} { // the payload's last k bytes lost
					for _, m := range []int{1, decoder.HeaderSize, decoder.HeaderSize + 5, 3000} { // then m more
						m = min(m, len(in)-end)
						if m == 0 {
							continue
						}
						from := end - k
						cut := slices.Concat(in[:from], in[end+m:])
						gaps := map[int][]int64{from: {int64(k), int64(m)}}
						want := decodeGaps(t, atStart, cut, gaps, true, whole)
						cases++
						w := all[i]
						w.Payload = w.Payload[:min(len(w.Payload), length-k)]
						w.Truncated = len(w.Payload) < length
						w.Lost = int64(k)
						if len(want.frames) <= i || !slices.Equal(want.frames[:i], all[:i]) || want.frames[i] != w {
							t.Fatalf("%s: frame %d's last %d bytes lost, then %d: with Next between, frames %v; want the first %d and %v", r.exp.Scenario, i, k, m, want.frames, i, w)
						}
						got := decodeGaps(t, atStart, cut, gaps, false, whole)
						if d := got.diff(want); d != "" {
							t.Fatalf("%s: frame %d's last %d bytes lost, then %d, no Next between: %s", r.exp.Scenario, i, k, m, d)
						}
						if rng.IntN(20) == 0 {
							anyChunking(t, rng, want, func(chunk func() int) resynced {
								return decodeGaps(t, atStart, cut, gaps, false, chunk)
							}, fmt.Sprintf("%s: frame %d's last %d bytes lost, then %d", r.exp.Scenario, i, k, m))
						}
						// Joined 5 bytes before the frame at a known boundary (ResyncAt):
						// the frame, the first, carries them in its Skipped.
						if j := int(f.Offset) - 5; j >= 0 {
							joinAt := func(d *decoder.Decoder) { d.ResyncAt(5) }
							joined := map[int][]int64{from - j: {int64(k), int64(m)}}
							want := decodeGaps(t, joinAt, cut[j:], joined, true, whole)
							if len(want.frames) == 0 || want.skips[0] != 5 || want.frames[0].Lost != int64(k) {
								t.Fatalf("%s: joined before frame %d, its last %d bytes lost, then %d: with Next between, frames %v skipped %v", r.exp.Scenario, i, k, m, want.frames, want.skips)
							}
							if d := decodeGaps(t, joinAt, cut[j:], joined, false, whole).diff(want); d != "" {
								t.Fatalf("%s: joined before frame %d, its last %d bytes lost, then %d, no Next between: %s", r.exp.Scenario, i, k, m, d)
							}
						}
					}
				}
			}
			t.Logf("%s: %d double gaps in %d frames", r.exp.Scenario, cases, len(all))
		}
	}
}

package yamux_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/muxtop/muxtop/decoder/internal/chunking"
	"github.com/muxtop/muxtop/decoder/yamux"
)

// resynced is what a resynchronising decoder yields for one input.
type resynced struct {
	frames  []frameRec
	skips   []int64 // each frame's Skipped
	viols   []yamux.Code
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
	return decodeFrom(t, (*yamux.Decoder).Resync, in, gaps, chunk)
}

// decodeFrom is resyncDecode with start, not Resync, called first.
func decodeFrom(t testing.TB, start func(*yamux.Decoder), in []byte, gaps map[int]int64, chunk func() int) resynced {
	t.Helper()
	d := yamux.New(yamux.DefaultSnaplen)
	start(d)
	var r resynced
	collect := func(f *yamux.Frame, err error) {
		if f != nil {
			r.frames = append(r.frames, recOf(f))
			r.skips = append(r.skips, f.Skipped)
			r.framed += f.Size() - f.Lost
		}
		if err != nil {
			v, ok := errors.AsType[*yamux.Violation](err)
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
			collect(f, err)
		}
	}
	var given int64 // bytes Next consumed: Offset counts them all, framed or held
	pos := 0
	for pos < len(in) {
		if g, ok := gaps[pos]; ok {
			d.Flush()
			drain()
			d.Gap(g)
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
			collect(f, err)
		}
		drain()
	}
	d.Flush()
	drain()
	if g, ok := gaps[len(in)]; ok {
		d.Gap(g)
		drain() // a frame the gap ended
	}
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
				if raceEnabled && len(in) > 30000 {
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
					if len(in) > 30000 && j > first && j%stride != 0 && !nearBoundary(bounds, j) {
						continue // the large recordings: every offset near a boundary, and a sample
					}
					got := resyncDecode(t, in[j:], nil, whole)
					k, _ := slices.BinarySearch(bounds, int64(j))
					left := len(bounds) - k
					if left == 0 {
						if len(got.frames) != 0 || got.skipped != int64(len(in)-j) {
							t.Fatalf("joined at %d with no frame left: got %d frames, %d skipped; want none and %d",
								j, len(got.frames), got.skipped, len(in)-j)
						}
						continue
					}
					skip := bounds[k] - int64(j)
					maxSkip = max(maxSkip, int(skip))
					if len(got.frames) != left || got.skips[0] != skip || got.skipped != skip {
						var first int64 = -1
						if len(got.skips) > 0 {
							first = got.skips[0]
						}
						t.Fatalf("joined at %d: got %d frames, first skipped %d, in all %d; want %d frames and %d skipped",
							j, len(got.frames), first, got.skipped, left, skip)
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

// nearBoundary reports whether j lies within 24 bytes of a frame boundary.
func nearBoundary(bounds []int64, j int) bool {
	k, _ := slices.BinarySearch(bounds, int64(j))
	return (k < len(bounds) && bounds[k]-int64(j) < 24) || (k > 0 && int64(j)-bounds[k-1] < 24)
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
// Resync finds yields exactly what Resync yields, in any chunking, as the
// smux decoder's test of the same name does.
func TestResyncAt(t *testing.T) {
	randomJoins(t, 3, func(scenario string, in []byte, round, j int, rng *rand.Rand) {
		want := resyncDecode(t, in[j:], nil, whole)
		if len(want.frames) == 0 {
			return
		}
		f0, skip := want.frames[0], want.skips[0]
		first := f0.Offset + yamux.HeaderSize + int64(f0.Header.PayloadLength())
		gaps := map[int]int64{}
		for range round % 3 {
			gaps[int(first)+rng.IntN(len(in)-j-int(first)+1)] = int64(1 + rng.IntN(5000))
		}
		want = resyncDecode(t, in[j:], gaps, whole)
		if len(want.frames) == 0 || want.frames[0] != f0 || want.skips[0] != skip {
			return // a gap so near that the hunt found no chain to the first frame, which ResyncAt frames
		}
		at := func(d *yamux.Decoder) { d.ResyncAt(skip) }
		anyChunking(t, rng, want, func(chunk func() int) resynced { return decodeFrom(t, at, in[j:], gaps, chunk) },
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

// TestGap cuts bytes out of real traffic and checks that the frames
// before the cut are those of the whole stream, the frame the cut runs
// into counts as skipped, and decoding resumes at the first true boundary
// after the cut, with what it skipped said on that frame.
func TestGap(t *testing.T) {
	var in []byte
	for _, r := range loadRecordings(t) {
		if r.exp.Scenario == "many" {
			in = r.c2s
		}
	}
	all := decode(t, yamux.DefaultSnaplen, in, whole, true).frames
	bounds := boundaries(t, in)
	if len(bounds) < 50 {
		t.Fatalf("the many recording has %d frames, want 50 or more", len(bounds))
	}
	for _, tc := range []struct {
		name     string
		from, to int // the bytes lost
	}{
		{"inside a frame", int(bounds[10]) + 3, int(bounds[20]) + 5},
		{"on boundaries", int(bounds[10]), int(bounds[20])},
		{"one byte", int(bounds[30]) + 1, int(bounds[30]) + 2},
		{"a header's worth", int(bounds[40]), int(bounds[40]) + yamux.HeaderSize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cut := slices.Concat(in[:tc.from], in[tc.to:])
			got := resyncDecode(t, cut, map[int]int64{tc.from: int64(tc.to - tc.from)}, whole)
			n := 0 // frames wholly before the gap
			for n < len(all) && all[n].Offset+yamux.HeaderSize+int64(all[n].Header.PayloadLength()) <= int64(tc.from) {
				n++
			}
			after, _ := slices.BinarySearch(bounds, int64(tc.to))
			partial := max(int64(tc.from)-all[n].Offset, 0)
			wantSkip := partial + bounds[after] - int64(tc.to)
			if len(got.frames) != n+len(all)-after {
				t.Fatalf("got %d frames, want %d before the gap and %d after", len(got.frames), n, len(all)-after)
			}
			for i := range n {
				if got.frames[i] != all[i] || got.skips[i] != 0 {
					t.Fatalf("frame %d: got %v, want %v", i, got.frames[i], all[i])
				}
			}
			if got.skips[n] != wantSkip || got.lost != int64(tc.to-tc.from) || got.skipped != wantSkip {
				t.Fatalf("first frame after the gap skipped %d (in all %d), lost %d; want %d and %d", got.skips[n], got.skipped, got.lost, wantSkip, tc.to-tc.from)
			}
			for i := n; i < len(got.frames); i++ {
				if got.frames[i] != all[after+i-n] {
					t.Fatalf("frame %d: got %v, want %v", i, got.frames[i], all[after+i-n])
				}
			}
		})
	}
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
		if len(got.frames) != 0 || got.skipped != int64(len(in)) {
			t.Fatalf("%s bytes: %d frames, %d of %d bytes skipped", name, len(got.frames), got.skipped, len(in))
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
			var in []byte
			for range yamux.ResyncChain {
				in = append(in, tc.hdr[:]...)
				if tc.hdr.Type() == yamux.Data {
					in = append(in, make([]byte, min(tc.hdr.PayloadLength(), 17<<20))...)
				}
			}
			got := resyncDecode(t, in, nil, whole)
			if took := len(got.frames) == yamux.ResyncChain; took != tc.want || (!tc.want && got.skipped != int64(len(in))) {
				t.Fatalf("%v: %d frames, %d skipped; want plausible %v", tc.hdr, len(got.frames), got.skipped, tc.want)
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
	f.Add([]byte(synData1+ackWnd1+data1+finWnd1+pingSYN7), []byte{1}, uint16(3), uint16(0))
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
	atStart := func(*yamux.Decoder) {}
	full := decodeFrom(t, atStart, slices.Concat(in[:at], make([]byte, n), in[at:]), nil, whole)
	for i, f := range full.frames {
		if int64(at) < f.Offset+yamux.HeaderSize || int64(at)+n > f.Offset+yamux.HeaderSize+int64(f.Header.PayloadLength()) {
			continue
		}
		want := full
		want.frames = slices.Clone(full.frames)
		want.lost, want.framed = n, full.framed-n
		w := &want.frames[i]
		w.Payload = w.Payload[:min(int64(len(w.Payload)), int64(at)-f.Offset-yamux.HeaderSize)]
		w.Truncated = int64(len(w.Payload)) < yamux.HeaderSize+int64(f.Header.PayloadLength())-yamux.HeaderSize
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

// TestGapInPayload cuts bytes out of one Data frame's payload of real
// traffic, at every offset within 40 bytes of the payload's ends and of
// the snaplen and at a sample of the others, each cut one byte long, half
// of what is left, and all of it (a cut that ends the frame), and checks
// that the decoder resumes right after the cut: every frame is the whole
// stream's, the cut one with the bytes lost in its Lost and only those
// before them in its Payload, nothing skipped, in any chunking. Frames
// larger than MaxResyncData (the recording "window") included: no hunt
// would find a chain through them.
func TestGapInPayload(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	atStart := func(*yamux.Decoder) {}
	for _, r := range loadRecordings(t) {
		for _, in := range [][]byte{r.c2s, r.s2c} {
			if raceEnabled && len(in) > 30000 {
				continue // a large recording: its gaps are cut without -race
			}
			all := decode(t, yamux.DefaultSnaplen, in, whole, true).frames
			cases, biggest := 0, 0
			for i, f := range all {
				if len(all) > 50 && i%7 != 3 {
					continue // many frames: a sample
				}
				length := int(f.Header.PayloadLength())
				biggest = max(biggest, length)
				start := int(f.Offset) + yamux.HeaderSize // the payload's first byte
				stride := max(37, length/12)
				for k := range length {
					near := func(x int) bool { return k >= x-40 && k < x+40 }
					if !near(0) && !near(length) && !near(yamux.DefaultSnaplen) && k%stride != 0 {
						continue
					}
					for _, n := range []int{1, (length - k + 1) / 2, length - k} {
						from, to := start+k, start+k+n
						cut := slices.Concat(in[:from], in[to:])
						got := decodeFrom(t, atStart, cut, map[int]int64{from: int64(n)}, whole)
						cases++
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
			t.Logf("%s: %d gaps in %d frames, the largest %d bytes", r.exp.Scenario, cases, len(all), biggest)
		}
	}
}

// TestGapEndsLastFrame loses the last bytes of a stream's last frame: the
// frame is whole but for them, Buffered says it is there to frame, Next
// with no bytes returns it, and End finds nothing cut short.
func TestGapEndsLastFrame(t *testing.T) {
	in := []byte(synData1[:yamux.HeaderSize+2]) // "RA" of "RAND"
	d := yamux.New(yamux.DefaultSnaplen)
	if n, f, err := d.Next(in); n != len(in) || f != nil || err != nil {
		t.Fatalf("Next: %d, %v, %v", n, f, err)
	}
	if !d.Gap(2) || d.Buffered() != yamux.HeaderSize+2 {
		t.Fatalf("Gap(2) at the end of the last payload: Buffered %d, want %d", d.Buffered(), yamux.HeaderSize+2)
	}
	n, f, err := d.Next(nil)
	if n != 0 || err != nil || f == nil || f.Offset != 0 || f.Lost != 2 || string(f.Payload) != "RA" || !f.Truncated || d.Buffered() != 0 {
		t.Fatalf("Next(nil): %d, %+v, %v, Buffered %d; want the DATA, 2 lost, RA kept", n, f, err, d.Buffered())
	}
	if v := d.End(); v != nil || d.Unparsed() != 0 || d.Offset() != int64(len(in))+2 {
		t.Fatalf("End: %v, unparsed %d, offset %d; want nothing cut, offset %d", v, d.Unparsed(), d.Offset(), len(in)+2)
	}
}

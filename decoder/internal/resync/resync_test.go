package resync_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/muxtop/muxtop/decoder/internal/chunking"
	"github.com/muxtop/muxtop/decoder/internal/gaptest"
	"github.com/muxtop/muxtop/decoder/internal/resync"
	"github.com/muxtop/muxtop/internal/racetest"
)

// The toy protocol the engine is tested against: a frame is a 3-byte
// header, magic, a kind below kinds and the payload's length, and then
// the payload. Its decoder, toy, accepts exactly those headers and stops
// at any other, as the smux and yamux decoders stop at a violation; every
// header it accepts is plausible, so a true frame boundary is always a
// candidate.
const (
	magic   = 0xA5
	kinds   = 4
	hdrSize = 3
	maxSize = hdrSize + 255
	// window is the window the smux and yamux decoders give New:
	// Chain frames of the largest size.
	window = resync.Chain * maxSize
	// minWindow is the fewest bytes a decision at one position can need:
	// Chain-1 frames of the largest size and the header after them.
	minWindow = (resync.Chain-1)*maxSize + hdrSize
	// longWindow is a window for frames of up to 40 payload bytes: a toy
	// given it follows longer frames as long links (resync.Long), and
	// keeps longKeep bytes of each payload.
	longWindow = resync.Chain * (hdrSize + 40)
	longKeep   = 16
	// longRoom is the most a hunt keeps of the long chains it follows.
	longRoom = resync.MaxLong * (resync.Chain - 1) * (hdrSize + longKeep)
)

// valid reports whether h begins with a toy header.
func valid(h []byte) bool { return h[0] == magic && h[1] < kinds }

// errBad is the toy's violation: a header it does not accept.
var errBad = errors.New("toy: bad header")

// frame is a toy frame as the toy decoder returns it.
type frame struct {
	Offset  int64
	Kind    byte
	Len     int    // the payload's length
	Payload []byte // its first bytes, as the toy keeps them
	Skipped int64
	Lost    int64
}

// toy decodes the toy protocol, using resync.State as the smux and yamux
// decoders do: Next delegates to it while Resyncing, Resync, Gap and Flush
// are its, and End abandons what it holds.
type toy struct {
	hdr      [hdrSize]byte   // header being collected
	prog     resync.Progress // header and payload bytes of the current frame, and lost
	buf      [255]byte       // the current frame's payload
	frameOff int64           // offset of the current frame's header
	off      int64           // bytes consumed, and lost
	unparsed int64           // bytes after a violation, or of a frame End truncated
	stopped  bool
	frame    frame // Skipped is always 0: a frame found by a resynchronisation is given by rs
	rs       resync.State[frame]
	misuse   string // how the engine broke the Framer contract, if it did
	window   int    // given to New
	heldMax  int    // the most bytes kept while the engine asked Plausible
	keep     int    // with longWindow: the payload bytes a frame keeps (Long)
	// loses makes Lose take a gap inside a payload, as the smux and yamux
	// decoders do; without it the toy never does, and every gap hunts.
	loses bool
}

func newToy(window int) *toy {
	d := &toy{rs: resync.New[frame](hdrSize, window), window: window}
	if window == longWindow {
		d.keep = longKeep
	}
	return d
}

// framer returns the toy as the engine sees it: with longWindow, one that
// follows long frames.
func (d *toy) framer() resync.Framer[frame] {
	if d.keep > 0 {
		return longToyFramer{(*toyFramer)(d)}
	}
	return (*toyFramer)(d)
}

// kept is how many bytes of a payload of n the toy returns.
func (d *toy) kept(n int) int {
	if d.keep > 0 {
		return min(n, d.keep)
	}
	return n
}

// room is the most bytes the engine may keep while the toy hunts.
func (d *toy) room() int {
	if d.keep > 0 {
		return d.window + longRoom
	}
	return d.window
}

// Next consumes bytes from p until it completes a frame, meets a bad
// header or runs out of input, as the smux decoder's Next does.
func (d *toy) Next(p []byte) (int, *frame, error) {
	if d.stopped {
		d.off += int64(len(p))
		d.unparsed += int64(len(p))
		return len(p), nil, nil
	}
	if d.rs.Resyncing() {
		return d.rs.Next(p, d.framer())
	}
	// Fast path: a whole frame at the start of p, framed in place (so that
	// frames replayed from the bytes the engine holds point into them).
	if d.prog.Header == 0 && len(p) >= hdrSize && valid(p) {
		if size := hdrSize + int(p[2]); len(p) >= size {
			d.frame = frame{Offset: d.off, Kind: p[1], Len: size - hdrSize, Payload: p[hdrSize : hdrSize+d.kept(size-hdrSize)]}
			d.off += int64(size)
			return size, &d.frame, nil
		}
	}
	n := 0
	if d.prog.Header < hdrSize {
		if d.prog.Header == 0 {
			d.frameOff = d.off
		}
		before := d.prog.Header
		n = copy(d.hdr[d.prog.Header:], p)
		d.prog.Header += n
		if d.prog.Header < hdrSize {
			d.off += int64(n)
			return n, nil, nil
		}
		if !valid(d.hdr[:]) {
			d.off += int64(len(p))
			d.unparsed = int64(before + len(p))
			d.stopped = true
			d.prog.Reset()
			return len(p), nil, errBad
		}
		d.prog.Got = 0
	}
	length := int(d.hdr[2])
	got := int(d.prog.Got)
	take := min(length-got, len(p)-n)
	copy(d.buf[got:], p[n:n+take])
	d.prog.Got += int64(take)
	n += take
	d.off += int64(n)
	if int(d.prog.Got) < length {
		return n, nil, nil
	}
	d.frame = frame{Offset: d.frameOff, Kind: d.hdr[1], Len: length, Payload: d.buf[:d.prog.Kept(int64(d.kept(length)))], Lost: d.prog.Lost()}
	d.prog.Reset()
	return n, &d.frame, nil
}

// End stops the decoder: what a resynchronisation holds counts as
// skipped, a frame in progress as unparsed.
func (d *toy) End() {
	if d.stopped {
		return
	}
	if d.rs.Resyncing() {
		d.rs.Abandon(d.framer())
	}
	d.unparsed += d.prog.Came()
	d.prog.Reset()
	d.stopped = true
}

// Offset returns how many bytes the decoder consumed, and lost.
func (d *toy) Offset() int64 { return d.off + int64(d.rs.Held()) }

// toyFramer is the toy as the engine sees it.
type toyFramer toy

// Plausible is the toy's rule, any header the toy accepts; it notes in
// misuse a call that breaks the Framer contract or the window.
func (r *toyFramer) Plausible(first, h []byte) (int, bool) {
	held := r.rs.Kept()
	r.heldMax = max(r.heldMax, held)
	switch {
	case held > (*toy)(r).room():
		r.misuse = fmt.Sprintf("keeps %d bytes, window %d", held, r.window)
	case len(first) != hdrSize || len(h) != hdrSize:
		r.misuse = fmt.Sprintf("Plausible given headers of %d and %d bytes", len(first), len(h))
	case &first[0] != &h[0] && !valid(first):
		r.misuse = fmt.Sprintf("Plausible given a chain whose first header % x is not plausible", first)
	}
	return hdrSize + int(h[2]), valid(h)
}

// Next is the toy's.
func (r *toyFramer) Next(p []byte) (int, *frame, error) { return (*toy)(r).Next(p) }

// Advance counts n bytes in the offset.
func (r *toyFramer) Advance(n int64) { r.off += n }

// Drop abandons the frame in progress unless the toy has stopped, or a
// Gap ended it: that one is whole, and stays for Next.
func (r *toyFramer) Drop() (int64, bool, bool) {
	if r.stopped {
		return 0, false, false
	}
	partial, whole := r.prog.Drop(int64(r.hdr[2]))
	return partial, whole, true
}

// Lose takes a gap inside the payload of the frame in progress, if loses.
func (r *toyFramer) Lose(n int64) bool {
	if r.rs.Hunting() || r.rs.Held() > 0 {
		r.misuse = "Lose called while hunting or holding bytes"
	}
	if !r.loses || r.stopped || !r.prog.Lose(n, hdrSize, int64(r.hdr[2])) {
		return false
	}
	r.off += n
	return true
}

// SetSkipped sets f.Skipped.
func (r *toyFramer) SetSkipped(f *frame, n int64) { f.Skipped = n }

// longToyFramer is a toy given longWindow as the engine sees it.
type longToyFramer struct{ *toyFramer }

// Keep returns the payload bytes a frame keeps.
func (r longToyFramer) Keep() int { return r.keep }

// Pass takes n payload bytes after the first Keep as given.
func (r longToyFramer) Pass(n int64) {
	if got := int(r.prog.Got); r.prog.Header < hdrSize || got < r.keep || got+int(n) > int(r.hdr[2]) {
		r.misuse = fmt.Sprintf("Pass(%d) with %d header bytes and %d of %d payload bytes", n, r.prog.Header, got, r.hdr[2])
	}
	r.prog.Got += n
	r.off += n
}

// rec is a frame with its payload copied, so that it outlives the call to
// Next and compares with ==.
type rec struct {
	Offset  int64
	Kind    byte
	Len     int
	Payload string
	Skipped int64
}

func (f rec) String() string {
	return fmt.Sprintf("{@%d kind %d, %d bytes, skipped %d}", f.Offset, f.Kind, len(f.Payload), f.Skipped)
}

// result is what a resynchronising toy yields for one input.
type result struct {
	frames   []rec
	bad      int // violations
	skipped  int64
	lost     int64
	unparsed int64
	offset   int64
	maxHeld  int // the most bytes held, during calls too
}

// diff compares everything but maxHeld, which depends on the chunking.
func (r result) diff(want result) string {
	for i := range min(len(r.frames), len(want.frames)) {
		if r.frames[i] != want.frames[i] {
			return fmt.Sprintf("frame %d: got %v, want %v", i, r.frames[i], want.frames[i])
		}
	}
	if len(r.frames) != len(want.frames) {
		return fmt.Sprintf("got %d frames, want %d", len(r.frames), len(want.frames))
	}
	r.frames, want.frames, r.maxHeld, want.maxHeld = nil, nil, 0, 0
	if fmt.Sprint(r) != fmt.Sprint(want) {
		return fmt.Sprintf("got %+v, want %+v", r, want)
	}
	return ""
}

// whole gives each segment in one chunk; ones in chunks of one byte.
func whole() int { return 1 << 62 }
func ones() int  { return 1 }

// random returns chunk sizes from 1 to limit.
func random(rng *rand.Rand, limit int) func() int { return func() int { return 1 + rng.IntN(limit) } }

// run feeds segs to a toy told to Resync, in the chunks chunk says, with
// gaps[i] bytes lost after segs[i]; before each gap and at the end it
// Flushes and calls Next while Buffered is above 0, as the decoders' doc
// asks, and at the end it calls End. It checks Next's contract and the
// accounting after every call.
func run(t testing.TB, w int, segs [][]byte, gaps []int64, chunk func() int) result {
	t.Helper()
	d := newToy(w)
	d.rs.Resync(d.framer())
	var r result
	var given, framed, lostSince, prevEnd int64
	flushed := false
	check := func(n int, f *frame, err error) {
		t.Helper()
		if d.misuse != "" {
			t.Fatal(d.misuse)
		}
		if f != nil {
			if f.Offset < prevEnd || (len(r.frames) > 0 && f.Offset <= r.frames[len(r.frames)-1].Offset) {
				t.Fatalf("frame at %d after one ending at %d", f.Offset, prevEnd)
			}
			if f.Offset != prevEnd+f.Skipped+lostSince {
				t.Fatalf("frame at %d skipped %d; the last ended at %d and %d were lost since", f.Offset, f.Skipped, prevEnd, lostSince)
			}
			r.frames = append(r.frames, rec{f.Offset, f.Kind, f.Len, string(f.Payload), f.Skipped})
			size := int64(hdrSize + f.Len)
			framed += size
			prevEnd, lostSince = f.Offset+size, 0
		}
		if err != nil {
			if !errors.Is(err, errBad) {
				t.Fatalf("Next returned %v", err)
			}
			r.bad++
		}
		held := d.rs.Held()
		r.maxHeld = max(r.maxHeld, d.rs.Kept())
		if d.rs.Kept() > d.room() {
			t.Fatalf("keeps %d bytes, window %d", d.rs.Kept(), w)
		}
		if d.rs.Buffered() > held || (d.rs.Hunting() && !flushed && d.rs.Buffered() != 0) {
			t.Fatalf("Buffered %d, Held %d, Hunting %v", d.rs.Buffered(), held, d.rs.Hunting())
		}
		if d.Offset() != given+d.rs.Lost() {
			t.Fatalf("Offset %d after %d bytes given and %d lost", d.Offset(), given, d.rs.Lost())
		}
		pending := int64(d.prog.Header) + d.prog.Got
		if framed+d.rs.Skipped()+d.rs.Lost()+int64(held)+pending+d.unparsed != d.Offset() {
			t.Fatalf("framed %d + skipped %d + lost %d + held %d + pending %d + unparsed %d != Offset %d",
				framed, d.rs.Skipped(), d.rs.Lost(), held, pending, d.unparsed, d.Offset())
		}
	}
	drain := func() {
		t.Helper()
		for d.rs.Buffered() > 0 {
			n, f, err := d.Next(nil)
			if n != 0 || (f == nil && err == nil && d.rs.Buffered() > 0) {
				t.Fatalf("Next(nil) with bytes buffered consumed %d, framed %v, err %v, and %d are buffered", n, f, err, d.rs.Buffered())
			}
			check(n, f, err)
		}
	}
	flush := func() {
		t.Helper()
		d.rs.Flush()
		flushed = true
		drain()
		flushed = false
	}
	for i, seg := range segs {
		for len(seg) > 0 {
			p := seg[:min(max(chunk(), 1), len(seg))]
			seg = seg[len(p):]
			for len(p) > 0 {
				n, f, err := d.Next(p)
				if n < 0 || n > len(p) || (n == 0 && f == nil && err == nil) {
					t.Fatalf("Next(%d bytes) consumed %d and yielded nothing", len(p), n)
				}
				given += int64(n)
				p = p[n:]
				check(n, f, err)
			}
			drain()
		}
		if i < len(gaps) {
			flush()
			d.rs.Gap(gaps[i], d.framer())
			lostSince += max(gaps[i], 0)
			check(0, nil, nil)
		}
	}
	flush()
	d.End()
	r.skipped, r.lost, r.unparsed, r.offset = d.rs.Skipped(), d.rs.Lost(), d.unparsed, d.Offset()
	r.maxHeld = max(r.maxHeld, d.heldMax)
	if d.rs.Resyncing() || d.rs.Held() != 0 || d.prog != (resync.Progress{}) {
		t.Fatalf("after End: Resyncing %v, Held %d, pending %+v", d.rs.Resyncing(), d.rs.Held(), d.prog)
	}
	if framed+r.skipped+r.lost+r.unparsed != r.offset || r.offset != given+r.lost {
		t.Fatalf("after End: framed %d + skipped %d + lost %d + unparsed %d, Offset %d, %d bytes given",
			framed, r.skipped, r.lost, r.unparsed, r.offset, given)
	}
	return r
}

// one is run on a single segment.
func one(t testing.TB, in []byte, chunk func() int) result {
	t.Helper()
	return run(t, window, [][]byte{in}, nil, chunk)
}

// toyFrame returns the bytes of a toy frame.
func toyFrame(kind byte, payload []byte) []byte {
	return append([]byte{magic, kind, byte(len(payload))}, payload...)
}

// chain returns how many plausible headers, up to resync.Chain, chain from
// in[p:], and whether the last of them ends exactly where in does.
func chain(in []byte, p int) (depth int, toEnd bool) {
	for depth < resync.Chain && p+hdrSize <= len(in) && valid(in[p:]) {
		depth++
		p += hdrSize + int(in[p+2])
	}
	return depth, p == len(in)
}

// boundary reports whether the rule takes in[p:] as a frame boundary when
// in is all there is: resync.Chain plausible headers chain from it, or
// fewer whose last frame ends exactly at the end.
func boundary(in []byte, p int) bool {
	depth, toEnd := chain(in, p)
	return depth == resync.Chain || depth > 0 && toEnd
}

// stream returns n toy frames and their offsets. Payloads never hold the
// magic byte, and no length is the magic byte, except in decoys: with
// decoys, some payloads hold chains of up to Chain-1 plausible headers
// that end inside the same payload, on a byte that is not magic. So the
// true boundaries are the only ones, in every suffix of the stream.
func stream(t testing.TB, rng *rand.Rand, n int, decoys bool) (in []byte, bounds []int64) {
	t.Helper()
	for range n {
		l := rng.IntN(255)
		if rng.IntN(4) == 0 {
			l = rng.IntN(9)
		}
		if l == magic {
			l--
		}
		payload := make([]byte, l)
		for i := range payload {
			if payload[i] = byte(rng.IntN(256)); payload[i] == magic {
				payload[i] = 0
			}
		}
		if decoys && l > 8 && rng.IntN(2) == 0 {
			pos := rng.IntN(l / 2)
			for range 1 + rng.IntN(resync.Chain-1) {
				room := l - pos - hdrSize // the decoy's frame ends inside the payload
				if room <= 0 {
					break
				}
				dl := rng.IntN(min(room, 100))
				payload[pos], payload[pos+1], payload[pos+2] = magic, byte(rng.IntN(kinds)), byte(dl)
				pos += hdrSize + dl
			}
		}
		bounds = append(bounds, int64(len(in)))
		in = append(in, toyFrame(byte(rng.IntN(kinds)), payload)...)
	}
	for j := range in {
		if _, ok := slices.BinarySearch(bounds, int64(j)); ok != boundary(in, j) {
			t.Fatalf("stream: the rule takes %d as a boundary: %v, a true one: %v", j, !ok, ok)
		}
	}
	return in, bounds
}

// TestEveryOffset joins toy streams at every offset and checks that the
// engine lands on the first true frame boundary at or after the join,
// with the bytes before it skipped, and yields from there exactly the
// frames of the whole stream at their offsets (the last ones, fewer than
// Chain, chained to the end by Flush); with no boundary after the join,
// every byte is skipped.
//
// With longWindow, most frames are long links (resync.Long), and a chain
// of them is followed without being held: the engine lands on the same
// boundary, keeping no more than the window and longRoom.
func TestEveryOffset(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		decoys bool
		w      int
	}{{false, window}, {true, window}, {false, longWindow}, {true, longWindow}} {
		decoys, w := tc.decoys, tc.w
		t.Run(fmt.Sprintf("decoys=%v,window=%d", decoys, w), func(t *testing.T) {
			in, bounds := stream(t, rng, 30, decoys)
			one := func(t testing.TB, in []byte, chunk func() int) result {
				t.Helper()
				return run(t, w, [][]byte{in}, nil, chunk)
			}
			all := one(t, in, whole).frames
			if len(all) != len(bounds) {
				t.Fatalf("the whole stream: %d frames, want %d", len(all), len(bounds))
			}
			for i, f := range all {
				if f.Offset != bounds[i] || f.Skipped != 0 {
					t.Fatalf("the whole stream, frame %d: %v, want at %d, nothing skipped", i, f, bounds[i])
				}
			}
			for j := range len(in) + 1 {
				if racetest.Enabled && j%5 != 0 && !gaptest.NearBoundary(bounds, j, hdrSize+1) {
					// One goroutine, nothing for the detector (8 s of CI's
					// race run): every 5th offset and those at most
					// hdrSize bytes from a boundary; every offset without
					// -race.
					continue
				}
				got := one(t, in[j:], whole)
				k, _ := slices.BinarySearch(bounds, int64(j))
				var want result
				want.offset = int64(len(in) - j)
				want.skipped = want.offset
				if k < len(bounds) {
					want.skipped = bounds[k] - int64(j)
					for i, f := range all[k:] {
						f.Offset -= int64(j)
						if i == 0 {
							f.Skipped = want.skipped
						}
						want.frames = append(want.frames, f)
					}
				}
				if d := got.diff(want); d != "" {
					t.Fatalf("joined at %d: %s", j, d)
				}
				if j%7 == 0 {
					if d := one(t, in[j:], ones).diff(want); d != "" {
						t.Fatalf("joined at %d, chunks of one byte: %s", j, d)
					}
				}
			}
		})
	}
}

// framesAfter returns what the toy yields for tail after junk: tail's frames,
// at their offsets after the junk, the first having skipped it.
func framesAfter(t testing.TB, junk, tail []byte) result {
	t.Helper()
	want := result{skipped: int64(len(junk)), offset: int64(len(junk) + len(tail))}
	for i, f := range one(t, tail, whole).frames {
		f.Offset += int64(len(junk))
		if i == 0 {
			f.Skipped = int64(len(junk))
		}
		want.frames = append(want.frames, f)
	}
	return want
}

// plausibleChain returns depth toy frames of kind 1, each with a payload of
// size bytes that are not magic: depth plausible headers that chain.
func plausibleChain(depth, size int) []byte {
	var b []byte
	for range depth {
		b = append(b, toyFrame(1, make([]byte, size))...)
	}
	return b
}

// TestDecoys checks that bytes reading as fewer than Chain plausible
// headers that chain are skipped, and that the earliest position where
// Chain of them chain is taken, even when its first header is a false one.
func TestDecoys(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	tail, _ := stream(t, rng, 2*resync.Chain, false)
	for _, tc := range []struct {
		name  string
		junk  []byte
		taken bool // the junk begins a chain into tail, which the rule takes
	}{
		{"one plausible header", append(toyFrame(1, []byte{7, 7}), 0x11), false},
		{"Chain-1 plausible headers", append(plausibleChain(resync.Chain-1, 2), 0x11), false},
		{"Chain-1 plausible headers, the last running into the tail", append(plausibleChain(resync.Chain-2, 0), magic, 0, 3, 9, 9), false}, // on the tail's first kind byte
		{"a kind out of range", []byte{magic, kinds, 0}, false},
		{"magic bytes only", []byte{magic, magic, magic, magic}, false},
		{"a header whose frame ends on the tail", toyFrame(3, []byte{1, 2}), true},
		{"Chain-1 headers whose last frame ends on the tail", plausibleChain(resync.Chain-1, 4), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := slices.Concat(tc.junk, tail)
			want := framesAfter(t, tc.junk, tail)
			if tc.taken {
				want = framesAfter(t, nil, in)
			}
			for name, chunk := range map[string]func() int{"whole": whole, "ones": ones} {
				if d := one(t, in, chunk).diff(want); d != "" {
					t.Errorf("%s: %s", name, d)
				}
			}
		})
	}
}

// TestWindow checks the bound on what the engine holds: it reads ahead
// exactly to the window, never beyond, and a position whose decision needs
// Chain-1 frames of the largest size is decided within it (so is within
// minWindow), each position without a boundary skipped as the window
// slides on, whatever the length of the bytes without one.
func TestWindow(t *testing.T) {
	var junk []byte // each group needs minWindow bytes to be rejected
	for range 5 {
		junk = append(junk, plausibleChain(resync.Chain-1, 255)...)
		junk = append(junk, 0x11)
	}
	tail := plausibleChain(resync.Chain+2, 255)
	in := slices.Concat(junk, tail)
	want := framesAfter(t, junk, tail)
	for _, w := range []int{window, minWindow} {
		rng := rand.New(rand.NewPCG(5, 6))
		for name, chunk := range map[string]func() int{"whole": whole, "ones": ones, "random": random(rng, 1000)} {
			got := run(t, w, [][]byte{in}, nil, chunk)
			if d := got.diff(want); d != "" {
				t.Errorf("window %d, %s: %s", w, name, d)
			}
			if name == "whole" && got.maxHeld != w {
				t.Errorf("window %d, whole: held at most %d bytes, want the window", w, got.maxHeld)
			}
			if got.maxHeld < minWindow-1 {
				t.Errorf("window %d, %s: held at most %d bytes; the test no longer needs the window", w, name, got.maxHeld)
			}
		}
	}
}

// TestGap loses bytes of a toy stream and checks that the frames before
// the gap are those of the whole stream, the bytes of the frame the gap
// cuts count as skipped, the bytes lost as lost, and decoding resumes at
// the first true boundary after the gap, at the offset of the whole stream,
// with all that was skipped said on that frame.
func TestGap(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	in, bounds := stream(t, rng, 30, true)
	all := one(t, in, whole).frames
	b := func(i int) int { return int(bounds[i]) }
	for _, tc := range []struct {
		name     string
		from, to int // the bytes lost
	}{
		{"inside frames", b(5) + 2, b(9) + 7},
		{"on boundaries", b(5), b(9)},
		{"one byte", b(12) + 1, b(12) + 2},
		{"a header's worth", b(14), b(14) + hdrSize},
		{"inside one frame", b(16) + 1, b(16) + 3},
		{"to the end", b(20) + 4, len(in)},
		{"before the last frames", b(10), b(len(bounds) - 1)},
		{"into the last frame", b(10), b(len(bounds)-1) + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := run(t, window, [][]byte{in[:tc.from], in[tc.to:]}, []int64{int64(tc.to - tc.from)}, whole)
			want := result{lost: int64(tc.to - tc.from), offset: int64(len(in))}
			k, _ := slices.BinarySearch(bounds, int64(tc.from))
			want.frames = slices.Clone(all[:k])
			if k > 0 && all[k-1].Offset+hdrSize+int64(len(all[k-1].Payload)) > int64(tc.from) {
				want.frames = want.frames[:k-1] // the gap cuts it
			}
			var partial int64 // the bytes of the frame the gap cuts
			if first := len(want.frames); first < len(all) {
				partial = int64(tc.from) - all[first].Offset
			}
			after, _ := slices.BinarySearch(bounds, int64(tc.to))
			want.skipped = partial + int64(len(in)-tc.to)
			if after < len(all) {
				want.skipped = partial + bounds[after] - int64(tc.to)
				first := len(want.frames)
				want.frames = append(want.frames, all[after:]...)
				want.frames[first].Skipped = want.skipped
			}
			if d := got.diff(want); d != "" {
				t.Fatalf("%d bytes lost at %d: %s", tc.to-tc.from, tc.from, d)
			}
		})
	}
}

// TestFlush gives bytes with fewer than Chain frames after their first
// boundary and checks that the engine holds them, framing nothing, until
// Flush; that after Flush it takes the earliest chain whose last frame
// ends exactly where the bytes do and skips the bytes before it, or skips
// them all when there is none; and that without Flush, End counts them all
// as skipped.
func TestFlush(t *testing.T) {
	short := plausibleChain(resync.Chain-1, 2) // ends exactly at the end
	for _, tc := range []struct {
		name string
		in   []byte
		at   int // where the chain taken begins, or -1
	}{
		{"a shorter chain", short, 0},
		{"a shorter chain after junk", slices.Concat([]byte{0x11, magic, 0x22}, short), 3},
		{"one frame", toyFrame(2, nil), 0},
		{"a chain whose last frame runs past the end", slices.Concat(short, []byte{magic, 0}), -1},
		{"a chain whose last frame ends before the end", slices.Concat(short, []byte{0x11}), -1},
		{"a header whose frame ends at the end, before the chain", slices.Concat([]byte{magic, 0, byte(len(short))}, short), 0},
		{"junk", []byte{magic, 0x11, magic, 0, 9}, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := result{skipped: int64(len(tc.in)), offset: int64(len(tc.in))}
			if tc.at >= 0 {
				want = framesAfter(t, tc.in[:tc.at], tc.in[tc.at:])
			}
			if d := one(t, tc.in, ones).diff(want); d != "" {
				t.Fatalf("%s", d)
			}

			d := newToy(window)
			d.rs.Resync(d.framer())
			if n, f, err := d.Next(tc.in); n != len(tc.in) || f != nil || err != nil {
				t.Fatalf("Next(%d bytes) = %d, %v, %v; want all consumed, nothing framed", len(tc.in), n, f, err)
			}
			// The positions decided without more bytes are skipped already.
			if held := d.rs.Held(); !d.rs.Hunting() || held == 0 || int64(held)+d.rs.Skipped() != int64(len(tc.in)) || d.rs.Buffered() != 0 {
				t.Fatalf("before Flush: Hunting %v, Held %d, Skipped %d, Buffered %d; want true, Held+Skipped %d, nothing buffered",
					d.rs.Hunting(), held, d.rs.Skipped(), d.rs.Buffered(), len(tc.in))
			}
			d.End()
			if d.rs.Skipped() != int64(len(tc.in)) || d.Offset() != int64(len(tc.in)) {
				t.Fatalf("End without Flush: Skipped %d, Offset %d; want both %d", d.rs.Skipped(), d.Offset(), len(tc.in))
			}
		})
	}
}

// TestFlushThenMore checks what the engine does with bytes given after a
// Flush: a Flush that found no boundary leaves it hunting in them, and one
// that found a boundary leaves it decoding them; Flush without a hunt does
// nothing.
func TestFlushThenMore(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	tail, _ := stream(t, rng, 2*resync.Chain, false)
	short := plausibleChain(resync.Chain-1, 2)
	for _, tc := range []struct {
		name   string
		before []byte
	}{
		{"no boundary", []byte{magic, 0x11, 0x22}},
		{"a shorter chain", short},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newToy(window)
			d.rs.Resync(d.framer())
			d.Next(tc.before)
			d.rs.Flush()
			var got []rec
			for d.rs.Buffered() > 0 {
				if _, f, _ := d.Next(nil); f != nil {
					got = append(got, rec{f.Offset, f.Kind, f.Len, string(f.Payload), f.Skipped})
				}
			}
			if d.rs.Hunting() != (len(got) == 0) || d.rs.Held() != 0 {
				t.Fatalf("after Flush, %d frames: Hunting %v, Held %d", len(got), d.rs.Hunting(), d.rs.Held())
			}
			d.rs.Flush() // no hunt: nothing to do; a hunt: decided already
			for p := tail; len(p) > 0; {
				n, f, _ := d.Next(p)
				if f != nil {
					got = append(got, rec{f.Offset, f.Kind, f.Len, string(f.Payload), f.Skipped})
				}
				p = p[n:]
			}
			d.rs.Flush()
			for d.rs.Buffered() > 0 {
				if _, f, _ := d.Next(nil); f != nil {
					got = append(got, rec{f.Offset, f.Kind, f.Len, string(f.Payload), f.Skipped})
				}
			}
			want := one(t, slices.Concat(tc.before, tail), whole)
			if d := (result{frames: got, skipped: d.rs.Skipped(), offset: d.Offset()}).diff(want); d != "" {
				t.Fatal(d)
			}
		})
	}
}

// TestGapWhileHunting loses bytes before a hunt found a boundary: flushed
// first, the bytes before the gap are decided on as at the end (a shorter
// chain ending at the gap is taken); not flushed, Gap counts them all as
// skipped. Gap(n) for n ≤ 0 does nothing.
func TestGapWhileHunting(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	in, bounds := stream(t, rng, 12, true)
	all := one(t, in, whole).frames
	b := func(i int) int { return int(bounds[i]) }
	j := b(2) + 1 // the join
	rebase := func(fs []rec, skip int64) []rec {
		fs = slices.Clone(fs)
		for i := range fs {
			fs[i].Offset -= int64(j)
		}
		fs[0].Skipped = skip
		return fs
	}
	t.Run("flushed at a boundary", func(t *testing.T) {
		from, to := b(3+resync.Chain-1), b(8)+2 // Chain-1 frames from the boundary after the join
		got := run(t, window, [][]byte{in[j:from], in[to:]}, []int64{int64(to - from)}, ones)
		want := result{lost: int64(to - from), offset: int64(len(in) - j), skipped: int64(b(3) - j + b(9) - to)}
		want.frames = slices.Concat(rebase(all[3:3+resync.Chain-1], int64(b(3)-j)), rebase(all[9:], int64(b(9)-to)))
		if d := got.diff(want); d != "" {
			t.Fatal(d)
		}
	})
	t.Run("flushed inside a frame", func(t *testing.T) {
		from, to := b(4)+1, b(8)+2
		got := run(t, window, [][]byte{in[j:from], in[to:]}, []int64{int64(to - from)}, ones)
		want := result{lost: int64(to - from), offset: int64(len(in) - j), skipped: int64(from - j + b(9) - to)}
		want.frames = rebase(all[9:], want.skipped)
		if d := got.diff(want); d != "" {
			t.Fatal(d)
		}
	})
	t.Run("not flushed", func(t *testing.T) {
		d := newToy(window)
		d.rs.Resync(d.framer())
		given := b(3+resync.Chain-1) - j // Chain-1 frames after the first boundary: Flush would take them
		d.Next(in[j : j+given])
		skipped := int64(b(3) - j) // decided without more bytes
		if d.rs.Held() != b(3+resync.Chain-1)-b(3) || d.rs.Skipped() != skipped {
			t.Fatalf("given %d bytes: Held %d, Skipped %d; want %d, %d", given, d.rs.Held(), d.rs.Skipped(), b(3+resync.Chain-1)-b(3), skipped)
		}
		for _, n := range []int64{0, -5} {
			d.rs.Gap(n, d.framer())
			if d.rs.Held() != given-int(skipped) || d.rs.Lost() != 0 || d.Offset() != int64(given) || !d.rs.Hunting() {
				t.Fatalf("Gap(%d): Held %d, Lost %d, Offset %d, Hunting %v; want nothing changed", n, d.rs.Held(), d.rs.Lost(), d.Offset(), d.rs.Hunting())
			}
		}
		d.rs.Gap(7, d.framer())
		if !d.rs.Hunting() || d.rs.Held() != 0 || d.rs.Skipped() != int64(given) || d.rs.Lost() != 7 || d.Offset() != int64(given+7) {
			t.Fatalf("Gap(7): Hunting %v, Held %d, Skipped %d, Lost %d, Offset %d; want true, 0, %d, 7, %d",
				d.rs.Hunting(), d.rs.Held(), d.rs.Skipped(), d.rs.Lost(), d.Offset(), given, given+7)
		}
	})
}

// model states the rule for what run yields, position by position: segs
// are the bytes between gaps, gaps[i] > 0 bytes lost after segs[i]. While
// hunting, a position is a boundary if boundary says so of its segment
// (whose end is where Flush decides); once one is found, frames follow
// each other until the segment ends inside one, which counts as skipped
// before a gap and as unparsed at the end, or a bad header, from which on
// every byte is unparsed.
func model(segs [][]byte, gaps []int64) result {
	var r result
	var skip, base int64
	hunting, stopped := true, false
	for i, s := range segs {
		p := 0
		for p < len(s) && !stopped {
			if hunting {
				if boundary(s, p) {
					hunting = false
				} else {
					skip++
					r.skipped++
					p++
				}
				continue
			}
			if len(s)-p < hdrSize || valid(s[p:]) && len(s)-p < hdrSize+int(s[p+2]) {
				if n := int64(len(s) - p); i < len(gaps) {
					skip += n
					r.skipped += n
				} else {
					r.unparsed += n
				}
				p = len(s)
				break
			}
			if !valid(s[p:]) {
				stopped = true
				r.bad++
				break
			}
			size := hdrSize + int(s[p+2])
			r.frames = append(r.frames, rec{base + int64(p), s[p+1], size - hdrSize, string(s[p+hdrSize : p+size]), skip})
			skip = 0
			p += size
		}
		if stopped {
			r.unparsed += int64(len(s) - p)
		}
		base += int64(len(s))
		if i < len(gaps) {
			r.lost += gaps[i]
			base += gaps[i]
			hunting = true
		}
	}
	r.offset = base
	return r
}

// junk returns n bytes drawn mostly from magic and small numbers, so that
// they hold many plausible headers, chains of them, and bad headers.
func junk(rng *rand.Rand, n int) []byte {
	alphabet := []byte{magic, magic, 0, 1, 2, 3, 4, 5, 9}
	b := make([]byte, n)
	for i := range b {
		if rng.IntN(4) == 0 {
			b[i] = byte(rng.IntN(256))
		} else {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
	}
	return b
}

// TestChunking checks on inputs of toy frames, decoys and junk, joined at
// random offsets and cut by gaps, that the engine yields what model says,
// and the same frames, Skipped, Lost and the rest in any chunking: whole
// segments, one byte at a time and random cuts.
//
// With longWindow, whole segments decide as the rule of long chains says,
// which the model does not follow: every chunking must yield what they do.
func TestChunking(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for round := range 600 {
		w := window
		if round%2 == 1 {
			w = longWindow
		}
		in, _ := stream(t, rng, 1+rng.IntN(20), round%2 == 0)
		in = in[rng.IntN(len(in)):]
		if round%3 == 0 {
			in = slices.Concat(junk(rng, rng.IntN(300)), in, junk(rng, rng.IntN(10)))
		}
		var segs [][]byte
		var gaps []int64
		for range round % 4 {
			cut := rng.IntN(len(in) + 1)
			segs = append(segs, in[:cut])
			gaps = append(gaps, int64(1+rng.IntN(1000)))
			in = in[cut:]
		}
		segs = append(segs, in)
		want := run(t, w, segs, gaps, whole)
		if d := want.diff(model(segs, gaps)); d != "" && w == window {
			t.Fatalf("round %d: whole segments differ from the model: %s", round, d)
		}
		for _, limit := range []int{1, 2, 7, 300, 2000} {
			if d := run(t, w, segs, gaps, random(rng, limit)).diff(want); d != "" {
				t.Fatalf("round %d, window %d, chunks of 1 to %d: %s", round, w, limit, d)
			}
		}
	}
}

// FuzzEngine feeds arbitrary bytes, with a gap of gapLen bytes after
// gapAt of them if gapLen > 0, whole and in chunks whose sizes come from
// cuts. run checks that frame offsets strictly increase, each one where
// the last frame ended plus what was skipped and lost since, and that the
// frames, skipped, lost, held, pending and unparsed bytes make the offset
// after every call; the whole input must yield what model says, and every
// chunking what the whole input does, with long links (longWindow) too.
func FuzzEngine(f *testing.F) {
	rng := rand.New(rand.NewPCG(15, 16))
	in, _ := stream(f, rng, 12, true)
	f.Add(in, []byte{0, 7, 255, 3}, uint16(0), uint16(0))
	f.Add(in[5:], []byte{1}, uint16(300), uint16(40))
	f.Add(slices.Concat(junk(rng, 200), in), []byte{}, uint16(100), uint16(1))
	f.Add(slices.Concat(plausibleChain(resync.Chain-1, 255), []byte{0x11}, plausibleChain(resync.Chain+1, 255)), []byte{16, 3}, uint16(0), uint16(0))
	f.Fuzz(func(t *testing.T, in, cuts []byte, gapAt, gapLen uint16) {
		segs, gaps := [][]byte{in}, []int64(nil)
		if gapLen > 0 {
			at := int(gapAt) % (len(in) + 1)
			segs, gaps = [][]byte{in[:at], in[at:]}, []int64{int64(gapLen)}
		}
		want := run(t, window, segs, gaps, whole)
		if d := want.diff(model(segs, gaps)); d != "" {
			t.Fatalf("whole input differs from the model: %s", d)
		}
		if d := run(t, window, segs, gaps, chunking.FromCuts(cuts)).diff(want); d != "" {
			t.Fatalf("chunks from %v differ from the whole input: %s", cuts, d)
		}
		want = run(t, longWindow, segs, gaps, whole)
		if d := run(t, longWindow, segs, gaps, chunking.FromCuts(cuts)).diff(want); d != "" {
			t.Fatalf("long links, chunks from %v differ from the whole input: %s", cuts, d)
		}
	})
}

// TestGapResumes checks the engine's part of a gap inside a payload: in
// step, a Framer that takes the gap (Lose) goes on with its frame, nothing
// held, hunted or skipped; a gap longer than the rest of the payload, or
// one while hunting (where Lose is not even asked), resynchronises as
// before.
func TestGapResumes(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	in, bounds := stream(t, rng, 12, false)
	all := one(t, in, whole).frames
	k := 0 // a frame with a payload of 3 bytes at least
	for len(all[k].Payload) < 3 {
		k++
	}
	from := int(bounds[k]) + hdrSize + 1 // one payload byte in
	rest := len(all[k].Payload) - 1
	for _, n := range []int{1, rest} {
		d := newToy(window)
		d.loses = true
		fs := framesOf(t, d, in[:from])
		if !d.rs.Gap(int64(n), d.framer()) || d.rs.Resyncing() || d.rs.Hunting() || d.rs.Skipped() != 0 || d.rs.Lost() != int64(n) || d.Offset() != int64(from+n) {
			t.Fatalf("Gap(%d) inside a payload: Resyncing %v, Hunting %v, Skipped %d, Lost %d, Offset %d; want in step, nothing skipped, %d lost, Offset %d",
				n, d.rs.Resyncing(), d.rs.Hunting(), d.rs.Skipped(), d.rs.Lost(), d.Offset(), n, from+n)
		}
		fs = append(fs, framesOf(t, d, in[from+n:])...)
		if len(fs) != len(all) {
			t.Fatalf("Gap(%d): %d frames, want %d", n, len(fs), len(all))
		}
		for i, f := range fs {
			if f.Offset != all[i].Offset || f.Kind != all[i].Kind || (i == k) != (f.Lost == int64(n)) || i != k && string(f.Payload) != all[i].Payload {
				t.Fatalf("Gap(%d): frame %d is %+v, want %+v", n, i, f, all[i])
			}
		}
	}
	d := newToy(window)
	d.loses = true
	framesOf(t, d, in[:from])
	if d.rs.Gap(int64(rest+1), d.framer()) || !d.rs.Hunting() || d.rs.Skipped() != int64(hdrSize+1) {
		t.Fatalf("a gap past the payload: Hunting %v, Skipped %d; want a hunt, the frame's %d bytes skipped", d.rs.Hunting(), d.rs.Skipped(), hdrSize+1)
	}
	d = newToy(window)
	d.loses = true
	d.rs.Resync(d.framer())
	d.Next(in[:from])
	if d.rs.Gap(1, d.framer()) || d.misuse != "" || !d.rs.Hunting() {
		t.Fatalf("a gap while hunting: Hunting %v, misuse %q; want a hunt, Lose not asked", d.rs.Hunting(), d.misuse)
	}
}

// TestGapResumesAfterSkip: a gap inside the payload of the first frame
// after a skip to a known boundary (Skip, the decoders' ResyncAt, which a
// capture joined mid-stream uses), once its header is whole, resumes as
// one in step does: the engine holds nothing then. The frame carries the
// bytes skipped and those lost, and every frame after it comes. Before,
// the gap abandoned the frame and hunted: a capture that lost bytes in a
// joined direction's first frame lost that frame, and with it, if the
// frames that follow are too large for a hunt's chain, all of them.
func TestGapResumesAfterSkip(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 20))
	in, bounds := stream(t, rng, 12, false)
	all := one(t, in, whole).frames
	k := 1 // a frame after the first with a payload of 3 bytes at least
	for len(all[k].Payload) < 3 {
		k++
	}
	from := int(bounds[k]) + hdrSize + 1 // one payload byte in
	d := newToy(window)
	d.loses = true
	d.rs.Skip(bounds[k], d.framer())
	fs := framesOf(t, d, in[:from])
	if !d.rs.Gap(1, d.framer()) || d.rs.Hunting() || d.misuse != "" {
		t.Fatalf("a gap in the first frame's payload after Skip: resumed false, Hunting %v, misuse %q; want resumed", d.rs.Hunting(), d.misuse)
	}
	fs = append(fs, framesOf(t, d, in[from+1:])...)
	if len(fs) != len(all)-k || d.rs.Skipped() != bounds[k] || d.rs.Lost() != 1 {
		t.Fatalf("%d frames, skipped %d, lost %d; want %d frames, %d skipped, 1 lost", len(fs), d.rs.Skipped(), d.rs.Lost(), len(all)-k, bounds[k])
	}
	if f := fs[0]; f.Offset != all[k].Offset || f.Skipped != bounds[k] || f.Lost != 1 {
		t.Fatalf("the first frame is %+v; want offset %d, %d skipped, 1 lost", f, all[k].Offset, bounds[k])
	}
}

// framesOf gives p to d, and what d holds that it can frame, and returns
// copies of the frames it yields.
func framesOf(t *testing.T, d *toy, p []byte) (fs []frame) {
	t.Helper()
	for len(p) > 0 || d.rs.Buffered() > 0 {
		n, f, err := d.Next(p)
		if err != nil {
			t.Fatal(err)
		}
		p = p[n:]
		if f != nil {
			g := *f
			g.Payload = slices.Clone(f.Payload)
			fs = append(fs, g)
		}
	}
	return fs
}

package resync_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/muxtop/muxtop/decoder/internal/chunking"
	"github.com/muxtop/muxtop/decoder/internal/resync"
	"github.com/muxtop/muxtop/internal/racetest"
)

// op is something a caller tells the toy before the byte at: a Gap of
// n (kind 'g'), a Resync ('r'), a Skip of n ('s'), a Flush and drain
// ('f'); with drain, Next frames what the toy holds before it.
type op struct {
	at    int
	kind  byte
	n     int64
	drain bool
}

var opsWhat string

type opsResult struct {
	frames []rec
	lost   []int64
	res    result
}

func (r opsResult) diff(w opsResult) string {
	for i := range min(len(r.frames), len(w.frames)) {
		if r.frames[i] != w.frames[i] || r.lost[i] != w.lost[i] {
			return fmt.Sprintf("frame %d: got %v lost %d, want %v lost %d", i, r.frames[i], r.lost[i], w.frames[i], w.lost[i])
		}
	}
	if len(r.frames) != len(w.frames) {
		return fmt.Sprintf("got %d frames, want %d", len(r.frames), len(w.frames))
	}
	return r.res.diff(w.res)
}

// runOps feeds in to a toy that loses gaps inside payloads (loses), told
// ops at their positions, in the chunks chunk says, draining after every
// chunk, and checks the accounting after every call.
func runOps(t testing.TB, w int, start byte, in []byte, ops []op, chunk func() int) opsResult {
	t.Helper()
	d := newToy(w)
	d.loses = true
	switch start {
	case 'r':
		d.rs.Resync(d.framer())
	case 's':
		d.rs.Skip(3, d.framer())
	}
	var r opsResult
	var given, framed, prevEnd int64
	type gapAt struct{ pos, n int64 }
	var gapsTold []gapAt
	check := func(f *frame, err error) {
		t.Helper()
		if d.misuse != "" {
			t.Fatal(d.misuse)
		}
		if f != nil {
			between := int64(0)
			for _, g := range gapsTold {
				if g.pos >= prevEnd && g.pos < f.Offset {
					between += g.n
				}
			}
			if f.Offset != prevEnd+f.Skipped+between {
				t.Fatalf("%s: frame at %d skipped %d; the last ended at %d and %d were lost between", opsWhat, f.Offset, f.Skipped, prevEnd, between)
			}
			prevEnd = f.Offset + int64(hdrSize+f.Len)
			r.frames = append(r.frames, rec{f.Offset, f.Kind, f.Len, string(f.Payload), f.Skipped})
			r.lost = append(r.lost, f.Lost)
			framed += int64(hdrSize+f.Len) - f.Lost
		}
		if err != nil {
			if !errors.Is(err, errBad) {
				t.Fatalf("Next returned %v", err)
			}
			r.res.bad++
		}
		if d.rs.Kept() > d.room() {
			t.Fatalf("keeps %d bytes, room %d", d.rs.Kept(), d.room())
		}
		if d.Offset() != given+d.rs.Lost() {
			t.Fatalf("Offset %d after %d bytes given and %d lost", d.Offset(), given, d.rs.Lost())
		}
		if got := framed + d.rs.Skipped() + d.rs.Lost() + int64(d.rs.Held()) + d.prog.Came() + d.unparsed; got != d.Offset() {
			t.Fatalf("framed %d + skipped %d + lost %d + held %d + came %d + unparsed %d = %d != Offset %d",
				framed, d.rs.Skipped(), d.rs.Lost(), d.rs.Held(), d.prog.Came(), d.unparsed, got, d.Offset())
		}
	}
	buffered := func() bool { return d.rs.Buffered() > 0 || d.prog.Whole(int64(d.hdr[2])) }
	drain := func() {
		t.Helper()
		for i := 0; buffered(); i++ {
			n, f, err := d.Next(nil)
			if n != 0 || i > 1<<20 {
				t.Fatalf("Next(nil) consumed %d", n)
			}
			check(f, err)
			if f == nil && err == nil && buffered() {
				t.Fatalf("Next(nil) yielded nothing with %d buffered", d.rs.Buffered())
			}
		}
	}
	do := func(o op) {
		t.Helper()
		if o.drain {
			drain()
		}
		switch o.kind {
		case 'g':
			gapsTold = append(gapsTold, gapAt{d.Offset(), o.n})
			d.rs.Gap(o.n, d.framer())
		case 'r':
			d.rs.Resync(d.framer())
		case 's':
			d.rs.Skip(o.n, d.framer())
		case 'f':
			d.rs.Flush()
			drain()
		}
		check(nil, nil)
	}
	k := 0
	pos := 0
	for {
		for k < len(ops) && ops[k].at <= pos {
			do(ops[k])
			k++
		}
		if pos == len(in) {
			break
		}
		c := min(max(chunk(), 1), len(in)-pos)
		if k < len(ops) && ops[k].at < pos+c {
			c = ops[k].at - pos
		}
		p := in[pos : pos+c]
		pos += c
		for len(p) > 0 {
			n, f, err := d.Next(p)
			if n < 0 || n > len(p) || (n == 0 && f == nil && err == nil) {
				t.Fatalf("%s: Next(%d bytes) consumed %d and yielded nothing (Resyncing %v Hunting %v Held %d Buffered %d prog %+v)", opsWhat, len(p), n, d.rs.Resyncing(), d.rs.Hunting(), d.rs.Held(), d.rs.Buffered(), d.prog)
			}
			given += int64(n)
			p = p[n:]
			check(f, err)
		}
		drain()
	}
	d.rs.Flush()
	drain()
	d.End()
	check(nil, nil)
	r.res.skipped, r.res.lost, r.res.unparsed, r.res.offset = d.rs.Skipped(), d.rs.Lost(), d.unparsed, d.Offset()
	return r
}

// randomOps returns ops at random positions of in, some of them in runs
// at one position: a gap that ends a frame, then another, a Resync or a
// Skip, with and without Next between.
func randomOps(rng *rand.Rand, n int, bounds []int64) []op {
	var ops []op
	for range rng.IntN(5) {
		at := rng.IntN(n + 1)
		if len(bounds) > 0 && rng.IntN(2) == 0 {
			at = min(n, int(bounds[rng.IntN(len(bounds))])-rng.IntN(4)) // near a frame's end
			at = max(at, 0)
		}
		for range 1 + rng.IntN(3) {
			o := op{at: at, drain: rng.IntN(3) == 0}
			switch rng.IntN(6) {
			case 0, 1, 2:
				o.kind, o.n = 'g', int64(1+rng.IntN(1+rng.IntN(300)))
			case 3:
				o.kind = 'r'
			case 4:
				o.kind, o.n = 's', int64(rng.IntN(60))
			case 5:
				o.kind = 'f'
			}
			ops = append(ops, o)
		}
	}
	slices.SortStableFunc(ops, func(a, b op) int { return a.at - b.at })
	return ops
}

// undrained is ops with no Next between the ops at one position.
func undrained(ops []op) []op {
	out := slices.Clone(ops)
	for i := range out {
		if i > 0 && out[i-1].at == out[i].at && out[i-1].kind != 'f' {
			out[i].drain = false
		}
	}
	return out
}

// drained is ops with Next framing what the toy holds before each.
func drained(ops []op) []op {
	out := slices.Clone(ops)
	for i := range out {
		out[i].drain = true
	}
	return out
}

// TestOps: every chunking yields what whole segments do, and a caller
// that calls no Next between ops at one position gets what one that
// drains between them gets (a frame a gap ended survives what follows).
func TestOps(t *testing.T) {
	rng := rand.New(rand.NewPCG(71, 72))
	rounds := 3000
	if testing.Short() || racetest.Enabled {
		rounds = 300 // one goroutine: under -race (27 s of CI's race run) a tenth
	}
	for round := range rounds {
		w := window
		if round%2 == 1 {
			w = longWindow
		}
		in, bounds := stream(t, rng, 1+rng.IntN(20), round%4 < 2)
		start := []byte{'r', 0, 's'}[rng.IntN(3)]
		if start == 0 {
			for i := range bounds {
				bounds[i] += int64(hdrSize) // frame ends, roughly
			}
		}
		ops := randomOps(rng, len(in), bounds)
		what := fmt.Sprintf("round %d, window %d, start %q, ops %+v", round, w, start, ops)
		opsWhat = what
		want := runOps(t, w, start, in, drained(ops), whole)
		got := runOps(t, w, start, in, undrained(ops), whole)
		if d := got.diff(want); d != "" {
			t.Fatalf("%s: no Next between ops differs from Next between: %s", what, d)
		}
		for _, limit := range []int{1, 2, 7, 60, 300} {
			if d := runOps(t, w, start, in, undrained(ops), random(rng, limit)).diff(want); d != "" {
				t.Fatalf("%s, chunks to %d: %s", what, limit, d)
			}
		}
	}
}

// FuzzOps is TestOps on arbitrary bytes and ops.
func FuzzOps(f *testing.F) {
	rng := rand.New(rand.NewPCG(73, 74))
	in, _ := stream(f, rng, 12, true)
	f.Add(in, []byte{0, 7, 255, 3}, []byte{10, 1, 5, 10, 1, 7, 40, 2, 0}, true)
	f.Add(in[5:], []byte{1}, []byte{30, 1, 2, 30, 0, 9}, false)
	f.Fuzz(func(t *testing.T, in, cuts, opb []byte, long bool) {
		w := window
		if long {
			w = longWindow
		}
		var ops []op
		for i := 0; i+2 < len(opb) && len(ops) < 8; i += 3 {
			at := int(opb[i]) * (len(in) + 1) / 256
			o := op{at: at, n: int64(opb[i+2]) + 1}
			o.kind = "grsf"[opb[i+1]%4]
			ops = append(ops, o)
		}
		slices.SortStableFunc(ops, func(a, b op) int { return a.at - b.at })
		want := runOps(t, w, 'r', in, drained(ops), whole)
		if d := runOps(t, w, 'r', in, undrained(ops), whole).diff(want); d != "" {
			t.Fatalf("no Next between: %s", d)
		}
		if d := runOps(t, w, 'r', in, undrained(ops), chunking.FromCuts(cuts)).diff(want); d != "" {
			t.Fatalf("chunks: %s", d)
		}
		if d := runOps(t, w, 0, in, undrained(ops), chunking.FromCuts(cuts)).diff(runOps(t, w, 0, in, drained(ops), whole)); d != "" {
			t.Fatalf("from the start, chunks: %s", d)
		}
	})
}

var _ = resync.Chain

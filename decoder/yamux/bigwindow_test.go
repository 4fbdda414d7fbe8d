package yamux_test

import (
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	hyamux "github.com/hashicorp/yamux"
	"github.com/muxtop/muxtop/internal/racetest"

	"github.com/muxtop/muxtop/decoder/yamux"
)

// bigWindow is the MaxStreamWindowSize of the bulk recording: a window
// configured for bulk transfers, far above yamux's default 256 KiB.
const bigWindow = 4 << 20

// bulk records, once per test binary, real hashicorp/yamux ends whose
// MaxStreamWindowSize is bigWindow: the client writes 9 MiB on one stream
// in three writes to a fast reader, so that its Data frames are as large
// as the window lets them be, and the server answers with 1000 bytes.
var bulk = sync.OnceValues(func() (recording, error) {
	sc := scenario{
		name: "bulk",
		configure: func(c, s *hyamux.Config) {
			c.MaxStreamWindowSize, s.MaxStreamWindowSize = bigWindow, bigWindow
		},
		run: func(a *app) error {
			rng := rand.New(rand.NewPCG(9, 9))
			var reqs [][]byte
			for _, n := range []int{5 << 20, 300_000, 3<<20 + 7} {
				reqs = append(reqs, payload(rng, n))
			}
			return exchange(a, reqs, payload(rng, 1000), 1<<20, 0)
		},
	}
	exp, c2s, s2c, err := sc.record()
	return recording{exp: exp, c2s: c2s, s2c: s2c}, err
})

// bulkC2S returns the client's bytes of the bulk recording, its frames
// decoded whole, and their offsets; it checks that three frames or more
// in a row are larger than MaxResyncData.
func bulkC2S(t *testing.T) (in []byte, all []frameRec, bounds []int64) {
	t.Helper()
	if testing.Short() {
		t.Skip("records a live yamux session; skipped in short mode")
	}
	r, err := bulk()
	if err != nil {
		t.Fatalf("recording the bulk transfer: %v", err)
	}
	in = r.c2s
	all = decode(t, yamux.DefaultSnaplen, in, whole, true).frames
	bounds = boundaries(t, in)
	run, longest := 0, 0
	for _, f := range all {
		if f.Header.PayloadLength() > yamux.MaxResyncData {
			run++
		} else {
			run = 0
		}
		longest = max(longest, run)
	}
	if longest < 3 {
		t.Fatalf("the bulk recording has at most %d frames above %d bytes in a row, want 3 or more", longest, yamux.MaxResyncData)
	}
	return in, all, bounds
}

// TestResyncBigWindowJoin joins the client's side of a bulk transfer over
// a 4 MiB window (TestResyncEveryOffset does it for the recordings in
// testdata) at every offset within 24 bytes of a frame boundary and at a
// sample of the others, and checks that the decoder lands on the first
// frame boundary at or after the join and yields every frame from there
// as a decoder that saw the whole stream does: a join inside a bulk
// transfer sees the transfer, not only what follows it.
func TestResyncBigWindowJoin(t *testing.T) {
	in, all, bounds := bulkC2S(t)
	if racetest.Enabled {
		t.Skip("megabytes hunted per join: without -race")
	}
	rng := rand.New(rand.NewPCG(5, 6))
	var joins []int
	for _, b := range bounds {
		for j := max(int(b)-24, 0); j < min(int(b)+24, len(in)); j++ {
			joins = append(joins, j)
		}
	}
	for range 40 {
		joins = append(joins, rng.IntN(len(in)))
	}
	slices.Sort(joins)
	joins = slices.Compact(joins)
	maxSkip := int64(0)
	for _, j := range joins {
		got := resyncDecode(t, in[j:], nil, whole)
		k, _ := slices.BinarySearch(bounds, int64(j))
		if k == len(bounds) {
			if len(got.Frames) != 0 || got.Skipped != int64(len(in)-j) {
				t.Fatalf("joined at %d with no frame left: got %d frames, %d skipped", j, len(got.Frames), got.Skipped)
			}
			continue
		}
		skip := bounds[k] - int64(j)
		if len(got.Frames) != len(bounds)-k || got.Skipped != skip || got.Skips[0] != skip {
			t.Fatalf("joined at %d of %d: got %d frames, %d bytes skipped; want %d frames and %d skipped (the first frame boundary after the join)",
				j, len(in), len(got.Frames), got.Skipped, len(bounds)-k, skip)
		}
		for i, f := range got.Frames {
			want := all[k+i]
			want.Offset -= int64(j)
			if f != want {
				t.Fatalf("joined at %d, frame %d: got %v, want %v", j, i, f, want)
			}
		}
		maxSkip = max(maxSkip, skip)
	}
	t.Logf("%d joins in %d bytes, %d frames; the most skipped %d bytes", len(joins), len(in), len(all), maxSkip)
}

// TestGapBigWindowHeader cuts bytes across the header of each large Data
// frame of the bulk transfer decoded from its start (a gap that begins in
// the previous frame's payload and ends in the header, one that takes the
// header only, and one that begins in the header and ends in the payload)
// and checks that the frames before the gap are the whole stream's and
// that decoding resumes at the first frame boundary after it, with every
// frame from there.
func TestGapBigWindowHeader(t *testing.T) {
	if racetest.Enabled {
		t.Skip("megabytes decoded per case, in one goroutine: without -race")
	}
	in, all, bounds := bulkC2S(t)
	cases := 0
	for i, f := range all {
		if i == 0 || f.Header.PayloadLength() <= yamux.MaxResyncData {
			continue
		}
		h := int(f.Offset)
		for _, cut := range [][2]int{{max(h-1000, int(all[i-1].Offset)+1), h + 5}, {h, h + yamux.HeaderSize}, {h + 3, h + 70_000}} {
			from, to := cut[0], cut[1]
			got := decodeFrom(t, func(*yamux.Decoder) {}, slices.Concat(in[:from], in[to:]), map[int]int64{from: int64(to - from)}, whole)
			n := 0 // frames wholly before the gap
			for n < len(all) && all[n].Offset+yamux.HeaderSize+int64(all[n].Header.PayloadLength()) <= int64(from) {
				n++
			}
			after, _ := slices.BinarySearch(bounds, int64(to))
			wantSkip := max(int64(from)-all[n].Offset, 0) + bounds[after] - int64(to)
			if len(got.Frames) != n+len(all)-after || got.Skipped != wantSkip {
				t.Fatalf("%d bytes lost at %d, across frame %d's header: got %d frames, %d bytes skipped; want %d before the gap, %d after, %d skipped",
					to-from, from, i, len(got.Frames), got.Skipped, n, len(all)-after, wantSkip)
			}
			for k := range got.Frames {
				want := all[k]
				if k >= n {
					want = all[after+k-n] // the lost bytes count in offsets
				}
				if got.Frames[k] != want {
					t.Fatalf("%d bytes lost at %d, frame %d: got %v, want %v", to-from, from, k, got.Frames[k], want)
				}
			}
			cases++
		}
	}
	t.Logf("%d gaps across the headers of %d frames", cases, len(all))
}

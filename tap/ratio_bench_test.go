//go:build unix

package tap

import (
	"bufio"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/xtaci/smux"
)

// BenchmarkRatio measures the tap's cost as a ratio, robustly on a
// shared machine: an untapped and a tapped pair (BenchmarkRAND's and
// BenchmarkBulk's) live side by side in one process, and each op runs
// one chunk of requests on each, in alternating order, timing both. A
// burst of other work on the machine slows the two chunks of a pair
// alike, so the median of the pairs' ratios is far steadier than the
// ratio of two benchmarks run one after the other.
//
// It reports ratio, the median over pairs of untapped time ÷ tapped time
// (throughput tapped/untapped, 1 meaning free), cpu-ratio the same for
// the process's CPU time, and each variant's median time per request
// (RAND) or per 64 KiB write (Bulk). The tapped variants tap both ends
// into one registry, twice what a program that embeds the tap pays, except
// RAND's server-end loads, which tap only the server's end: that program's
// cost. A tap reads ahead (Conn.Read), which saves smux a system call a
// frame: RAND/callers=1/vs-read-ahead sets the tap beside a program that
// reads ahead without it, and tells what decoding and recording cost alone.
func BenchmarkRatio(b *testing.B) {
	type load struct {
		name string
		// start sets up one variant and returns a func that runs one chunk.
		start func(b *testing.B, tapped bool) func() error
	}
	loads := []load{
		{"RAND/callers=1", randChunk(1, 200, true)},
		{"RAND/callers=64", randChunk(64, 1280, true)},
		{"RAND/callers=1/server-end", randChunk(1, 200, false)},
		{"RAND/callers=64/server-end", randChunk(64, 1280, false)},
		{"RAND/callers=1/vs-read-ahead", randChunkVsReadAhead(200)},
		{"Bulk/v1", bulkChunk(1, 64)},
		{"Bulk/v2", bulkChunk(2, 64)},
		{"YamuxRAND/callers=1", yamuxRandChunk(200)},
		{"YamuxBulk", yamuxBulkChunk(64)},
	}
	for _, l := range loads {
		b.Run(l.name, func(b *testing.B) {
			run := [2]func() error{l.start(b, false), l.start(b, true)}
			var wall, cpu [2][]float64
			ratio := func(x [2][]float64) float64 {
				r := make([]float64, len(x[0]))
				for i := range r {
					r[i] = x[0][i] / x[1][i]
				}
				return median(r)
			}
			i := 0
			for b.Loop() {
				for k := range 2 {
					v := (i + k) % 2 // alternate which variant goes first
					t0, c0 := time.Now(), cpuTime()
					if err := run[v](); err != nil {
						b.Fatal(err)
					}
					wall[v] = append(wall[v], float64(time.Since(t0)))
					cpu[v] = append(cpu[v], float64(cpuTime()-c0))
				}
				i++
			}
			b.ReportMetric(ratio(wall), "ratio")
			b.ReportMetric(ratio(cpu), "cpu-ratio")
			n := float64(chunkOps[l.name])
			b.ReportMetric(median(wall[0])/n, "untapped-ns/req")
			b.ReportMetric(median(wall[1])/n, "tapped-ns/req")
		})
	}
}

// chunkOps is how many requests or writes a chunk of each load makes.
var chunkOps = map[string]int{"RAND/callers=1": 200, "RAND/callers=64": 1280, "RAND/callers=1/server-end": 200, "RAND/callers=64/server-end": 1280, "RAND/callers=1/vs-read-ahead": 200, "Bulk/v1": 64, "Bulk/v2": 64,
	"YamuxRAND/callers=1": 200, "YamuxBulk": 64}

func median(x []float64) float64 {
	if len(x) == 0 {
		return 0
	}
	s := slices.Clone(x)
	slices.Sort(s)
	return s[len(s)/2]
}

// randChunk runs n RAND requests per chunk from callers goroutines,
// tapping both ends or, unless both, only the server's: the service that
// taps its listener, as a program that embeds muxtop does.
func randChunk(callers, n int, both bool) func(*testing.B, bool) func() error {
	return func(b *testing.B, tapped bool) func() error {
		cli, srv := benchPairTapped(b, 1, tapped && both, tapped)
		go serveRAND(srv)
		return func() error {
			if callers == 1 {
				for range n {
					if err := randRequest(cli); err != nil {
						return err
					}
				}
				return nil
			}
			var wg sync.WaitGroup
			var first atomic.Value
			for range callers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range n / callers {
						if err := randRequest(cli); err != nil {
							first.CompareAndSwap(nil, err)
							return
						}
					}
				}()
			}
			wg.Wait()
			err, _ := first.Load().(error)
			return err
		}
	}
}

// randChunkVsReadAhead is randChunk's one caller, both ends tapped,
// beside an untapped pair whose conns read ahead as a tapped one does
// (Conn.Read): a bufio.Reader of readAhead bytes under each smux. Its
// ratio is what decoding and recording cost alone, without the system
// calls the tap's read-ahead saves smux.
func randChunkVsReadAhead(n int) func(*testing.B, bool) func() error {
	return func(b *testing.B, tapped bool) func() error {
		var cli, srv *smux.Session
		if tapped {
			cli, srv = benchPairTapped(b, 1, true, true)
		} else {
			wrap := func(c net.Conn) net.Conn { return &readAheadConn{Conn: c, br: bufio.NewReaderSize(c, readAhead)} }
			cli, srv = smuxtest.Pair(b, smuxtest.Config(1), wrap, wrap)
		}
		go serveRAND(srv)
		return func() error {
			for range n {
				if err := randRequest(cli); err != nil {
					return err
				}
			}
			return nil
		}
	}
}

// readAheadConn reads its conn through a bufio.Reader: what a tap.Conn's
// read-ahead does, without decoding.
type readAheadConn struct {
	net.Conn
	br *bufio.Reader
}

func (c *readAheadConn) Read(p []byte) (int, error) { return c.br.Read(p) }

// bulkChunk writes n 64 KiB buffers on one stream per chunk, and returns
// when the reader has read them all, so nothing of one chunk is still
// moving during the next.
func bulkChunk(version, n int) func(*testing.B, bool) func() error {
	return func(b *testing.B, tapped bool) func() error {
		cli, srv := benchPair(b, version, tapped)
		var got, want atomic.Int64
		done := make(chan struct{}, 1)
		go func() {
			st, err := srv.AcceptStream()
			if err != nil {
				return
			}
			defer st.Close()
			buf := make([]byte, 64<<10)
			for {
				k, err := st.Read(buf)
				g := got.Add(int64(k))
				if w := want.Load(); w > 0 && g >= w && want.CompareAndSwap(w, 0) {
					done <- struct{}{}
				}
				if err != nil {
					return
				}
			}
		}()
		st, err := cli.OpenStream()
		if err != nil {
			b.Fatal(err)
		}
		buf := make([]byte, 64<<10)
		var sent int64
		return func() error {
			for range n {
				k, err := st.Write(buf)
				sent += int64(k)
				if err != nil {
					return err
				}
			}
			want.Store(sent)
			if got.Load() >= sent && want.CompareAndSwap(sent, 0) {
				return nil // the reader had it all before it could see want
			}
			select {
			case <-done:
				return nil
			case <-time.After(10 * time.Second):
				return io.ErrNoProgress
			}
		}
	}
}

package headless

import (
	"context"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/internal/racetest"
	"github.com/muxtop/muxtop/live"
)

// randFeeder records the demo's RAND exchange on its own session, frame
// by frame, a new stream each time, as fast as it is called.
type randFeeder struct {
	s      *live.Session
	frames []decoder.Frame
	dirs   []live.Dir
	off    [2]int64
	sid    uint32
	i      int
}

func newRandFeeder(reg *live.Registry) *randFeeder {
	f := &randFeeder{s: reg.Open(live.SessionInfo{Client: "127.0.0.1:51234", Server: "127.0.0.1:9000"}, t0), sid: 1}
	for _, r := range randMix() {
		f.frames = append(f.frames, decoder.Frame{Header: r.Header, Payload: r.Payload, Consumed: r.Consumed, Window: r.Window})
		f.dirs = append(f.dirs, r.Dir)
	}
	return f
}

func (f *randFeeder) next() {
	fr, d := &f.frames[f.i], f.dirs[f.i]
	if fr.Header.Cmd() == decoder.SYN && d == live.ClientToServer {
		f.sid += 2
	}
	fr.Header = decoder.MakeHeader(fr.Header.Version(), fr.Header.Cmd(), fr.Header.Length(), f.sid)
	fr.Offset = f.off[d]
	f.off[d] += fr.Size()
	f.s.Record(d, t0, fr)
	if f.i++; f.i == len(f.frames) {
		f.i = 0
	}
}

// feeding says how feeders record frames, each on its own session.
type feeding struct {
	feeders int // goroutines
	n       int // frames each
	// rate, if not 0, paces the feeders at about rate records/s in all:
	// each records a burst at full speed every millisecond, and one that
	// falls a millisecond behind skips ahead rather than catch up, so that
	// a stall never turns into a bigger burst.
	rate float64
	// yield, if not 0, has each feeder yield the processor after every
	// yield frames, as a data path that waits for its next read does.
	yield int
}

// feed records the frames and returns the rate achieved in records/s.
func (fe feeding) feed(reg *live.Registry) float64 {
	const period = time.Millisecond
	burst := fe.n
	switch {
	case fe.rate > 0:
		burst = max(1, int(fe.rate/float64(fe.feeders)*period.Seconds()))
	case fe.yield > 0:
		burst = fe.yield
	}
	fs := make([]*randFeeder, fe.feeders)
	for i := range fs {
		fs[i] = newRandFeeder(reg)
	}
	start := time.Now()
	var wg sync.WaitGroup
	for _, fd := range fs {
		wg.Go(func() {
			next := start
			for left := fe.n; left > 0; left -= burst {
				for range min(burst, left) {
					fd.next()
				}
				if fe.rate == 0 {
					runtime.Gosched()
					continue
				}
				next = next.Add(period)
				if d := time.Until(next); d > 0 {
					time.Sleep(d)
				} else if d < -period {
					next = time.Now()
				}
			}
		})
	}
	wg.Wait()
	return float64(fe.feeders*fe.n) / time.Since(start).Seconds()
}

// printWhileFeeding runs a printer of reg, printing every tick and, with
// wake, whenever the ring is a quarter full, while feeders record n
// frames each at rate (0: full speed); then it stops the printer and
// returns it with the feed rate achieved.
func printWhileFeeding(t testing.TB, reg *live.Registry, f Format, tick time.Duration, wake bool, fe feeding) (*Printer, float64) {
	p := NewPrinter(reg, io.Discard, f)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := p.run(ctx, Options{}, tick, wake)
		done <- err
	}()
	got := fe.feed(reg)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return p, got
}

// TestPrinterKeepsUp has feeders record into a small ring at full speed,
// and takes the ticker out of the picture (a tick of an hour): the
// ticker-only loop misses all but the last ring, the printer woken at a
// quarter full misses nothing.
//
// It runs on one P, and the feeders yield it between bursts of 64 frames,
// as a data path does between reads, with no timers: the printer, readied
// by the wake, runs at the latest when the burst that woke it ends. A
// loaded machine stalls the printer and the feeders together, so the
// result depends on the wake-ups alone, not on the load or the clock. The
// feeders still interleave with one another and with the printer, and
// the race detector still sees them.
func TestPrinterKeepsUp(t *testing.T) {
	const ring = 4096
	fe := feeding{feeders: 4, n: 50_000, yield: 64}
	if racetest.Enabled {
		fe.n = 12_500
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	total := uint64(fe.feeders * fe.n)
	for _, f := range []Format{Plain, JSON} {
		t.Run(f.String(), func(t *testing.T) {
			old, _ := printWhileFeeding(t, live.New(live.Config{History: ring}), f, time.Hour, false, fe)
			if old.Missed() == 0 {
				t.Errorf("the ticker-only loop missed nothing: the test does not feed enough")
			}
			p, got := printWhileFeeding(t, live.New(live.Config{History: ring}), f, time.Hour, true, fe)
			t.Logf("%d records at %.0f/s: ticker only missed %d, woken missed %d", total, got, old.Missed(), p.Missed())
			if p.Missed() != 0 {
				t.Errorf("woken printer missed %d of %d records", p.Missed(), total)
			}
			if want := total + uint64(fe.feeders); p.next != want+1 {
				t.Errorf("printed up to seq %d, want %d", p.next-1, want)
			}
		})
	}
}

// BenchmarkPrinterLossless measures how fast feeders may record into a
// default-size registry while Run prints to io.Discard without missing a
// record. Each iteration feeds 4 feeders at full speed and reports the
// rate and the share missed (full-records/s, full-missed/record), then
// searches the paced rates (bursts every millisecond) for the highest
// that misses nothing (lossless-records/s: the rate achieved, not the one
// asked). Each trial feeds five rings' worth of records.
func BenchmarkPrinterLossless(b *testing.B) {
	for _, f := range []Format{Plain, JSON} {
		b.Run(f.String(), func(b *testing.B) {
			const feeders = 4
			n := 5 * live.DefaultHistory / feeders
			trial := func(rate float64) (got float64, missed uint64) {
				p, got := printWhileFeeding(b, live.New(live.Config{}), f, Interval, true, feeding{feeders: feeders, n: n, rate: rate})
				return got, p.Missed()
			}
			var full, fullMissed, lossless float64
			for range b.N {
				got, missed := trial(0)
				full, fullMissed = got, float64(missed)/float64(feeders*n)
				lossless = 0
				if missed == 0 {
					lossless = got
					continue
				}
				// Double from 1 M/s while lossless, then halve the gap.
				lo, hi := 0.0, full
				for r := 1e6; r < hi; r *= 2 {
					got, missed := trial(r)
					if missed != 0 {
						hi = r
						break
					}
					lo, lossless = r, got
				}
				for range 4 {
					r := (lo + hi) / 2
					if lo == 0 {
						r = hi / 2
					}
					got, missed := trial(r)
					if missed != 0 {
						hi = r
					} else {
						lo, lossless = r, max(lossless, got)
					}
				}
			}
			b.ReportMetric(lossless, "lossless-records/s")
			b.ReportMetric(full, "full-records/s")
			b.ReportMetric(fullMissed, "full-missed/record")
		})
	}
}

// echoWriter is output whose every write records more frames: a capture
// that always has more for the printer to read.
type echoWriter struct {
	fd     *randFeeder
	frames int         // recorded per write
	stop   atomic.Bool // set by Options.Stop, on Run's goroutine
	writes int
	cancel func() // called at the 10th write
}

func (w *echoWriter) Write(p []byte) (int, error) {
	if !w.stop.Load() {
		for range w.frames {
			w.fd.next()
		}
	}
	if w.writes++; w.writes == 10 {
		w.cancel()
	}
	return len(p), nil
}

// TestRunStopsWhileFeeding cancels Run while the capture never lets the
// printer catch up: a drain reads at most a ring's worth before it looks
// at ctx again, so Run stops the capture and returns instead of chasing it.
func TestRunStopsWhileFeeding(t *testing.T) {
	reg := live.New(live.Config{History: 4096})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// 2000 frames print as more than the 64 KiB the output buffers: every
	// batch read writes, and every write records more.
	w := &echoWriter{fd: newRandFeeder(reg), frames: 2000, cancel: cancel}
	w.Write(nil)
	if _, err := Run(ctx, reg, w, Options{Stop: func() { w.stop.Store(true) }}); err != nil {
		t.Fatal(err)
	}
	if w.writes < 10 {
		t.Errorf("stopped after %d writes, before the cancel", w.writes)
	}
}

package metrics_test

import (
	"encoding/binary"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/metrics"
)

// randFeed records the frames of RAND exchanges into a session: SYN and
// a 4-byte PSH from the client, an 8-byte PSH and FIN back, FIN.
type randFeed struct {
	s      *live.Session
	frames [5]decoder.Frame
	dirs   [5]live.Dir
	sid    uint32
	i      int
	off    [2]int64
	at     time.Time
}

func newRandFeed(s *live.Session, at time.Time) *randFeed {
	r := &randFeed{s: s, sid: 1, at: at}
	c2s, s2c := live.ClientToServer, live.ServerToClient
	for i, w := range []struct {
		dir live.Dir
		cmd decoder.Cmd
		n   int
	}{{c2s, decoder.SYN, 0}, {c2s, decoder.PSH, 4}, {s2c, decoder.PSH, 8}, {s2c, decoder.FIN, 0}, {c2s, decoder.FIN, 0}} {
		r.frames[i] = decoder.Frame{Header: decoder.MakeHeader(1, w.cmd, uint16(w.n), 0), Payload: make([]byte, w.n)}
		r.dirs[i] = w.dir
	}
	return r
}

// next records the next frame of the cycle.
func (r *randFeed) next() {
	if r.i == 0 {
		r.sid += 2
		for i := range r.frames {
			binary.LittleEndian.PutUint32(r.frames[i].Header[4:], r.sid)
		}
	}
	f, d := &r.frames[r.i], r.dirs[r.i]
	f.Offset = r.off[d]
	r.off[d] += f.Size()
	r.s.Record(d, r.at, f)
	if r.i++; r.i == len(r.frames) {
		r.i = 0
	}
}

// fleet returns a registry of n sessions, each having served requests
// RAND exchanges and with open streams in flight, as a busy server sees
// its clients.
func fleet(n, requests, open int) *live.Registry {
	reg := live.New(live.Config{})
	at := time.Now()
	for range n {
		feed := newRandFeed(reg.Open(live.SessionInfo{Client: "127.0.0.1:1", Server: "127.0.0.1:2", Label: "bench"}, at), at)
		for range requests * 5 {
			feed.next()
		}
		for range open * 2 { // SYN and the request: in flight
			feed.next()
			if feed.i == 2 {
				feed.i = 0
			}
		}
	}
	return reg
}

// scrapeOnce does what a scrape of muxtop's collector does: Collect, and
// encoding in the text exposition format.
func scrapeOnce(b *testing.B, pr *prometheus.Registry) {
	mfs, err := pr.Gather()
	if err != nil {
		b.Fatal(err)
	}
	enc := expfmt.NewEncoder(io.Discard, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkScrape is one scrape of a registry of 10 000 sessions that
// served 100 requests each and have 4 in flight: the README's figure.
func BenchmarkScrape(b *testing.B) {
	for _, sessions := range []int{0, 100} {
		name := map[int]string{0: "10k-sessions", 100: "10k-sessions-100-with-series"}[sessions]
		b.Run(name, func(b *testing.B) {
			reg := fleet(10_000, 100, 4)
			pr := prometheus.NewRegistry()
			pr.MustRegister(metrics.NewCollector(reg, metrics.Options{Sessions: sessions}))
			b.ReportAllocs()
			for b.Loop() {
				scrapeOnce(b, pr)
			}
		})
	}
}

// BenchmarkCaptureWhileScraped records RAND exchanges into one session of
// a 10 000-session registry, alone and while another goroutine scrapes
// the registry every second (Prometheus's shortest usual interval), every
// 100 ms and every 10 ms. ns/op is per frame. A scrape of 10 000 sessions
// keeps a core busy for about 10 ms: every 10 ms, that is a core taken
// from the capture on a 2-core machine, which the figure shows; the lock
// a scrape shares with the capture is one session's, for a copy of its
// counters.
func BenchmarkCaptureWhileScraped(b *testing.B) {
	reg := fleet(10_000, 100, 4)
	pr := prometheus.NewRegistry()
	pr.MustRegister(metrics.NewCollector(reg, metrics.Options{}))
	for _, every := range []time.Duration{0, time.Second, 100 * time.Millisecond, 10 * time.Millisecond} {
		name := "alone"
		if every > 0 {
			name = "scraped-every-" + every.String()
		}
		scraped := every > 0
		b.Run(name, func(b *testing.B) {
			feed := newRandFeed(reg.Open(live.SessionInfo{}, time.Now()), time.Now())
			for range 5 * 2 * live.DefaultClosedStreams {
				feed.next()
			}
			stop := make(chan struct{})
			var wg sync.WaitGroup
			var scrapes int
			if scraped {
				wg.Add(1)
				go func() { // owned by this sub-benchmark: stopped and waited for below
					defer wg.Done()
					t := time.NewTicker(every)
					defer t.Stop()
					for {
						select {
						case <-stop:
							return
						case <-t.C:
							scrapeOnce(b, pr)
							scrapes++
						}
					}
				}()
			}
			b.ReportAllocs()
			for b.Loop() {
				feed.next()
			}
			close(stop)
			wg.Wait()
			if scraped {
				b.ReportMetric(float64(scrapes), "scrapes")
			}
		})
	}
}

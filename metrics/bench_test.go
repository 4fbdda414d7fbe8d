package metrics_test

import (
	"io"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/internal/livetest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/metrics"
)

// fleet returns a registry of n sessions, each having served requests
// RAND exchanges and with open streams in flight, as a busy server sees
// its clients.
func fleet(n, requests, open int) *live.Registry {
	reg := live.New(live.Config{})
	at := time.Now()
	for range n {
		feed := livetest.NewRandFeed(reg.Open(live.SessionInfo{Client: "127.0.0.1:1", Server: "127.0.0.1:2", Label: "bench"}, at), 1, at)
		for range requests * 5 {
			feed.Next()
		}
		for range open {
			feed.Open()
		}
	}
	return reg
}

// mixedFleet is fleet with every other session a yamux one.
func mixedFleet(n, requests, open int) *live.Registry {
	reg := live.New(live.Config{})
	at := time.Now()
	for i := range n {
		s := reg.Open(live.SessionInfo{Client: "127.0.0.1:1", Server: "127.0.0.1:2", Label: "bench"}, at)
		if i%2 == 0 {
			feed := livetest.NewRandFeed(s, 1, at)
			for range requests {
				feed.Cycle()
			}
			for range open {
				feed.Open()
			}
			continue
		}
		feed := livetest.NewYamuxRandFeed(s, at)
		for range requests {
			feed.Cycle()
		}
		for range open {
			feed.Open()
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
// served 100 requests each and have 4 in flight: the README's figure. The
// mixed registry has 5 000 smux sessions and 5 000 yamux ones (which
// pinged once per request).
func BenchmarkScrape(b *testing.B) {
	for _, c := range []struct {
		name     string
		mixed    bool
		sessions int
	}{
		{"10k-sessions", false, 0},
		{"10k-sessions-100-with-series", false, 100},
		{"10k-mixed-smux-yamux", true, 0},
		{"10k-mixed-smux-yamux-100-with-series", true, 100},
	} {
		sessions := c.sessions
		b.Run(c.name, func(b *testing.B) {
			var reg *live.Registry
			if c.mixed {
				reg = mixedFleet(10_000, 100, 4)
				snap := reg.Snapshot()
				if y, s := snap.Totals.Type(yamux.Data), snap.Totals.Cmd(decoder.PSH); y != 5_000*(2*100+4) || s != 5_000*(2*100+4) || snap.PingRTT.Count != 5_000*(100+4) {
					b.Fatalf("the mixed fleet has %d yamux DATA, %d smux PSH frames, %d pings", y, s, snap.PingRTT.Count)
				}
			} else {
				reg = fleet(10_000, 100, 4)
			}
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
			feed := livetest.NewRandFeed(reg.Open(live.SessionInfo{}, time.Now()), 1, time.Now())
			for range 5 * 2 * live.DefaultClosedStreams {
				feed.Next()
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
				feed.Next()
			}
			close(stop)
			wg.Wait()
			if scraped {
				b.ReportMetric(float64(scrapes), "scrapes")
			}
		})
	}
}

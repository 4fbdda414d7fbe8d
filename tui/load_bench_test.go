package tui

import (
	"context"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/xtaci/smux"

	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// tappedSessions returns n real smux v1 sessions (keepalive on, smux's
// defaults) whose server ends a tap records into reg, each serving the
// demo's request: RAND, answered with 8 bytes. stop closes them all.
func tappedSessions(b *testing.B, reg *live.Registry, n int) (clients []*smux.Session, stop func()) {
	b.Helper()
	var closers []io.Closer
	for range n {
		cc, sc := net.Pipe()
		srv, err := smux.Server(tap.Wrap(sc, live.Server, reg, "load"), smux.DefaultConfig())
		if err != nil {
			b.Fatal(err)
		}
		cli, err := smux.Client(cc, smux.DefaultConfig())
		if err != nil {
			b.Fatal(err)
		}
		go func() {
			for {
				st, err := srv.AcceptStream()
				if err != nil {
					return
				}
				go func() {
					defer st.Close()
					buf := make([]byte, 4)
					if _, err := io.ReadFull(st, buf); err == nil {
						st.Write([]byte("12345678"))
					}
				}()
			}
		}()
		clients = append(clients, cli)
		closers = append(closers, cli, srv)
	}
	return clients, func() {
		for _, c := range closers {
			c.Close()
		}
	}
}

// spin is what the burners add up, so that their loops are not optimised away.
var spin atomic.Int64

// call makes one request on cli and returns how long it took.
func call(b *testing.B, cli *smux.Session) time.Duration {
	start := time.Now()
	st, err := cli.OpenStream()
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Write([]byte("RAND")); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 8)
	if _, err := io.ReadFull(st, buf); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// BenchmarkTappedLatency measures what the UI's cycle costs the traffic
// it watches, in one process as attach runs them: 8 000 real smux v1
// sessions (keepalive on) tapped into one registry, evaluated every
// 100 ms as every front end does, carry requests at about 1 000/s (one
// op is one request on a random session); ui=off runs nothing else,
// ui=on the UI's program too, as attach runs it (its ticks, its reads in
// commands, its 160×45 screen rendered to io.Discard). p50-ms and p99-ms
// are the requests' latencies; reads/s and read-share (of the wall time)
// the UI's reads. Pin it to one CPU (taskset -c 0) to see what a busy
// machine's Ps do.
func BenchmarkTappedLatency(b *testing.B) {
	const sessions = 8000
	reg := live.New(live.Config{})
	clients, stop := tappedSessions(b, reg, sessions)
	defer stop()
	done := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(done)
	wg.Go(func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				reg.Evaluate(now, live.FindingsConfig{})
			}
		}
	})
	// MUXTOP_BENCH_BURNERS=N spins N goroutines besides, standing for
	// a loaded machine (the reviewer's load was 15-25 on 2 cores): they
	// keep the Ps busy, and a read's wall time grows as it waits for one.
	burners, _ := strconv.Atoi(os.Getenv("MUXTOP_BENCH_BURNERS"))
	for range burners {
		wg.Go(func() {
			sum := 0
			defer func() { spin.Add(int64(sum)) }()
			for {
				select {
				case <-done:
					return
				default:
					for i := range 100_000 {
						sum += i
					}
				}
			}
		})
	}
	for _, ui := range []bool{false, true, false, true} {
		name := "ui=off"
		if ui {
			name = "ui=on"
		}
		b.Run(name, func(b *testing.B) {
			ctx, cancel := context.WithCancel(context.Background())
			var uiWG sync.WaitGroup
			var reads atomic.Int64
			var inRead atomic.Int64 // ns, by the wall clock
			if ui {
				// The real program, as attach runs it: its ticks, its
				// reads in commands, its renderer (to nowhere).
				snapshot := func(o live.SnapshotOptions) *live.Snapshot {
					start := time.Now()
					defer func() { inRead.Add(int64(time.Since(start))) }()
					reads.Add(1)
					return reg.SnapshotWith(o)
				}
				m := newModel(reg, Options{NoColor: true}, snapshot, time.UTC, tickEvery)
				p := tea.NewProgram(m, tea.WithContext(ctx), tea.WithInput(nil), tea.WithOutput(io.Discard),
					tea.WithWindowSize(160, 45), tea.WithoutSignals())
				uiWG.Go(func() { p.Run() })
			}
			began := time.Now()
			var lat []time.Duration
			pace := time.NewTicker(time.Millisecond)
			defer pace.Stop()
			for b.Loop() {
				<-pace.C
				lat = append(lat, call(b, clients[rand.IntN(len(clients))]))
			}
			elapsed := time.Since(began)
			cancel()
			uiWG.Wait()
			if ui {
				b.ReportMetric(float64(reads.Load())/elapsed.Seconds(), "reads/s")
				b.ReportMetric(float64(inRead.Load())/float64(elapsed), "read-share")
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}

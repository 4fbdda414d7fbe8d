package live_test

import (
	"encoding/binary"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/internal/livetest"
	"github.com/muxtop/muxtop/internal/racetest"
	"github.com/muxtop/muxtop/live"
)

// leastAllocs returns the fewest allocations of three runs of f.
func leastAllocs(f func()) float64 {
	least := testing.AllocsPerRun(1, f)
	for range 2 {
		least = min(least, testing.AllocsPerRun(1, f))
	}
	return least
}

func TestRecordZeroAlloc(t *testing.T) {
	if racetest.Enabled {
		t.Skip("the race detector changes allocation counts")
	}
	tests := []struct {
		name  string
		cfg   live.Config
		ver   uint8
		warm  int // RAND cycles before counting: past ClosedStreams, so stream structs are reused
		count int
	}{
		{"defaults v1", live.Config{}, 1, 5 * live.DefaultClosedStreams, 20_000},
		{"defaults v2", live.Config{}, 2, 5 * live.DefaultClosedStreams, 20_000},
		{"few closed streams", live.Config{ClosedStreams: 8}, 1, 100, 20_000},
		{"no closed streams kept", live.Config{ClosedStreams: -1}, 1, 100, 20_000},
		{"no history", live.Config{History: -1}, 1, 5 * live.DefaultClosedStreams, 20_000},
		{"small ring, long payloads cut", live.Config{History: 64, Snaplen: 2}, 1, 5 * live.DefaultClosedStreams, 20_000},
	}
	for _, tt := range tests {
		t.Run(tt.name+"/RAND cycle", func(t *testing.T) {
			reg := live.New(tt.cfg)
			feed := livetest.NewRandFeed(reg.Open(live.SessionInfo{}, t0), tt.ver, t0)
			for range tt.warm {
				feed.Cycle()
			}
			// One run of many cycles: AllocsPerRun rounds its average down,
			// which would hide an allocation every few hundred frames. The
			// runtime allocates too, now and then (a GC's mark workers, the
			// scavenger's timers), and AllocsPerRun counts that: the least
			// of three runs is the record path's own, which is the same in
			// every run.
			allocs := leastAllocs(func() {
				for range tt.count {
					feed.Cycle()
				}
			})
			if allocs != 0 {
				t.Errorf("%d RAND cycles allocated %v times, want 0", tt.count, allocs)
			}
		})
		t.Run(tt.name+"/PSH", func(t *testing.T) {
			reg := live.New(tt.cfg)
			sc := openSession(reg, tt.ver)
			sc.feed(syn(c2s, 3), psh(c2s, 3, "warm"), psh(s2c, 3, "up"))
			f := frame(tt.ver, psh(c2s, 3, "0123456789abcdef"), 0)
			back := frame(tt.ver, psh(s2c, 3, "fedcba9876543210"), 0)
			allocs := testing.AllocsPerRun(1, func() {
				for range tt.count {
					sc.s.Record(c2s, t0, f)
					sc.s.Record(s2c, t0, back)
				}
			})
			if allocs != 0 {
				t.Errorf("%d PSH frames allocated %v times, want 0", 2*tt.count, allocs)
			}
		})
	}
}

// BenchmarkRecord records the frames of RAND exchanges from one feeder.
func BenchmarkRecord(b *testing.B) {
	reg := live.New(live.Config{})
	feed := livetest.NewRandFeed(reg.Open(live.SessionInfo{}, t0), 1, t0)
	for range 2 * live.DefaultClosedStreams {
		feed.Cycle()
	}
	b.ReportAllocs()
	for b.Loop() {
		feed.Next()
	}
}

// BenchmarkRecordParallel runs 64 feeders at once, each with its own
// session, sharing the registry's history.
func BenchmarkRecordParallel(b *testing.B) {
	const feeders = 64
	reg := live.New(live.Config{})
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((feeders + procs - 1) / procs)
	var mu sync.Mutex
	var started int
	before := reg.Snapshot().History.Dropped
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		feed := livetest.NewRandFeed(reg.Open(live.SessionInfo{}, t0), 1, t0)
		mu.Lock()
		started++
		mu.Unlock()
		for pb.Next() {
			feed.Next()
		}
	})
	b.StopTimer()
	dropped := reg.Snapshot().History.Dropped - before
	b.ReportMetric(float64(dropped)/float64(b.N), "dropped/op")
	b.ReportMetric(float64(started), "feeders")
}

// BenchmarkSnapshot takes snapshots of 1 000 sessions of 100 open streams
// each, when every session changed since the last snapshot and when none did.
func BenchmarkSnapshot(b *testing.B) {
	const (
		sessions = 1000
		streams  = 100
	)
	reg := live.New(live.Config{History: 10_000})
	var scripts []*script
	for range sessions {
		sc := openSession(reg, 2)
		for j := range streams {
			sc.feed(syn(c2s, uint32(3+2*j)), psh(c2s, uint32(3+2*j), "RAND"))
		}
		scripts = append(scripts, sc)
	}
	touch := frame(2, psh(s2c, 3, "12345678"), 0)
	b.Run("all changed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			for _, sc := range scripts {
				sc.s.Record(s2c, t0, touch)
			}
			b.StartTimer()
			reg.Snapshot()
		}
	})
	// What the UI asks for: one session's streams, and leak counts.
	ui := live.SnapshotOptions{Streams: func(id uint64) bool { return id == 1 }, LeakAfter: 30 * time.Second}
	b.Run("all changed, one session's streams", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			for _, sc := range scripts {
				sc.s.Record(s2c, t0, touch)
			}
			b.StartTimer()
			reg.SnapshotWith(ui)
		}
	})
	b.Run("none changed", func(b *testing.B) {
		reg.Snapshot()
		b.ReportAllocs()
		for b.Loop() {
			reg.Snapshot()
		}
	})
}

// BenchmarkFrames reads 10 000 records of 64-byte payloads in one call.
func BenchmarkFrames(b *testing.B) {
	const n = 10_000
	reg := live.New(live.Config{History: n})
	sc := openSession(reg, 1)
	sc.feed(syn(c2s, 3))
	p := frame(1, psh(c2s, 3, string(make([]byte, 64))), 0)
	for range n {
		sc.s.Record(c2s, t0, p)
	}
	first := reg.Snapshot().History.First
	dst := make([]live.Record, 0, n)
	b.ReportAllocs()
	for b.Loop() {
		recs, _ := reg.Frames(live.Query{From: first, Scan: n}, dst[:0])
		if len(recs) != n {
			b.Fatalf("read %d records, want %d", len(recs), n)
		}
	}
	b.ReportMetric(float64(n), "records/op")
}

// loopFeeder is one direction of one tapped end of RAND exchanges over a
// loopback socket, as smux's reader or writer goroutine drives it: it
// records the frames it writes before writing them and the frames it reads
// after reading them, as a tap.Conn does, into its end's session.
type loopFeeder struct {
	s      *live.Session // nil: the socket traffic alone, nothing recorded
	conn   net.Conn
	frames [5]decoder.Frame // the RAND cycle, livetest.RandFeed's
	dirs   [5]live.Dir
	first  int // the first frame of the cycle this feeder handles
	off    [2]int64
	sid    uint32
	buf    [64]byte
	spent  atomic.Int64 // ns spent in Record, for a metric
}

func newLoopFeeder(s *live.Session, conn net.Conn, first int) *loopFeeder {
	e := &loopFeeder{s: s, conn: conn, first: first, sid: 1}
	for i, w := range []wire{syn(c2s, 0), psh(c2s, 0, "RAND"), psh(s2c, 0, "\x0b\x5e\x9a\x13\x77\x02\xc1\xaa"), fin(s2c, 0), fin(c2s, 0)} {
		e.frames[i] = *frame(1, w, 0)
		e.dirs[i] = w.dir
	}
	return e
}

// record records frames [from, to) of the cycle, stamped now, as one
// feed of a tap.Conn would. It returns their wire size.
func (e *loopFeeder) record(from, to int) int {
	if from == e.first {
		e.sid += 2
		for i := range e.frames {
			binary.LittleEndian.PutUint32(e.frames[i].Header[4:], e.sid)
		}
	}
	var n int64
	at := time.Now() // as a tap stamps what it decodes
	for i := from; i < to; i++ {
		f, d := &e.frames[i], e.dirs[i]
		f.Offset = e.off[d]
		e.off[d] += f.Size()
		n += f.Size()
		if e.s != nil {
			e.s.Record(d, at, f)
		}
	}
	e.spent.Add(int64(time.Since(at)))
	return int(n)
}

func (e *loopFeeder) send(from, to int) error {
	_, err := e.conn.Write(e.buf[:e.record(from, to)])
	return err
}

func (e *loopFeeder) recv(from, to int) error {
	n := 0
	for i := from; i < to; i++ {
		n += int(e.frames[i].Size())
	}
	if _, err := io.ReadFull(e.conn, e.buf[:n]); err != nil {
		return err
	}
	e.record(from, to)
	return nil
}

// BenchmarkRecordLoopback records RAND exchanges as the two tapped ends of
// one connection do: each end a reader and a writer goroutine, like smux's
// recvLoop and sendLoop, handing off through channels as smux's do, and
// recording between socket writes and reads into the end's session. This
// is the pattern of a tapped smux session, where BenchmarkRecord's tight
// loop keeps everything a record touches in cache. One op is one
// exchange: 10 records, 3 writes and 3 reads; ns/record is the time spent
// in Record. Compare record=off, the socket traffic alone, with
// record=on; the other variants tell where the time goes: history=off
// records no history, history=1k keeps a ring small enough to stay in
// cache, and registries=2 gives each end its own registry, so the ends
// share no history counter.
func BenchmarkRecordLoopback(b *testing.B) {
	variants := []struct {
		name   string
		cfg    live.Config
		record bool
		regs   int
	}{
		{"record=off", live.Config{}, false, 1},
		{"record=on", live.Config{}, true, 1},
		{"record=on/history=off", live.Config{History: -1}, true, 1},
		{"record=on/history=1k", live.Config{History: 1024}, true, 1},
		{"record=on/registries=2", live.Config{}, true, 2},
	}
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			cc, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			defer cc.Close()
			sc, err := ln.Accept()
			if err != nil {
				b.Fatal(err)
			}
			defer sc.Close()
			var cs, ss *live.Session
			if v.record {
				regs := []*live.Registry{live.New(v.cfg), live.New(v.cfg)}
				for _, reg := range regs[:v.regs] {
					warmRing(reg)
				}
				cs = regs[0].Open(live.SessionInfo{Tap: live.Client}, time.Now())
				ss = regs[v.regs-1].Open(live.SessionInfo{Tap: live.Server}, time.Now())
			}
			// Frames 0-1 (SYN, PSH) and 4 (FIN) go client to server,
			// 2-3 (PSH, FIN) back.
			cw, cr := newLoopFeeder(cs, cc, 0), newLoopFeeder(cs, cc, 2)
			sr, sw := newLoopFeeder(ss, sc, 0), newLoopFeeder(ss, sc, 2)
			feeders := []*loopFeeder{cw, cr, sr, sw}
			replied, request := make(chan struct{}), make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(3)
			go func() { // the client's reader
				defer wg.Done()
				defer close(replied)
				for cr.recv(2, 4) == nil {
					replied <- struct{}{}
				}
			}()
			go func() { // the server's reader
				defer wg.Done()
				defer close(request)
				for sr.recv(0, 2) == nil {
					request <- struct{}{}
					if sr.recv(4, 5) != nil {
						return
					}
				}
			}()
			go func() { // the server's writer
				defer wg.Done()
				for range request {
					if sw.send(2, 4) != nil {
						return
					}
				}
			}()
			defer func() {
				cc.Close()
				sc.Close()
				wg.Wait()
			}()
			exchange := func() error { // the client's writer
				if err := cw.send(0, 2); err != nil {
					return err
				}
				if _, ok := <-replied; !ok {
					return io.ErrUnexpectedEOF
				}
				return cw.send(4, 5)
			}
			// Past ClosedStreams, so stream structs are reused, as in a
			// long capture.
			for range 2 * live.DefaultClosedStreams {
				if err := exchange(); err != nil {
					b.Fatal(err)
				}
			}
			spent := func() (ns int64) {
				for _, f := range feeders {
					ns += f.spent.Load()
				}
				return ns
			}
			b.ReportAllocs()
			before := spent()
			for b.Loop() {
				if err := exchange(); err != nil {
					b.Fatal(err)
				}
			}
			// The server may still be recording the last FIN: a
			// negligible part of a large b.N.
			b.ReportMetric(float64(spent()-before)/float64(10*b.N), "ns/record")
		})
	}
}

// warmRing writes one lap of reg's history, so that the first lap's page
// faults are not charged to the benchmark (see tap's warmHistory).
func warmRing(reg *live.Registry) {
	s := reg.Open(live.SessionInfo{Label: "warm-up"}, time.Now())
	f := &decoder.Frame{Header: decoder.MakeHeader(1, decoder.NOP, 0, 0), Payload: make([]byte, reg.Config().Snaplen)}
	for range reg.Config().History {
		s.Record(live.ClientToServer, time.Now(), f)
	}
	s.End(time.Now(), live.Shutdown, nil)
}

// idleRegistry returns a registry of sessions v2 sessions idle for a
// minute, each with ten streams open since it started (a request and its
// answer each, then nothing: suspected leaks) beside one it closed, and
// the time of the evaluation that found them: the shape of the scale
// audit's 9 000 sessions, 99 000 open streams and 9 000 LEAK findings.
func idleRegistry(b *testing.B, sessions int) (*live.Registry, time.Time) {
	b.Helper()
	reg := live.New(live.Config{History: 1 << 16})
	for range sessions {
		sc := openSession(reg, 2)
		sc.worked(t0)
		for j := range uint32(10) {
			sid := 3 + 2*j
			sc.feedAt(t0, syn(c2s, sid), psh(c2s, sid, "RAND"), psh(s2c, sid, "12345678"))
		}
	}
	evaluated := t0.Add(time.Minute)
	reg.Evaluate(evaluated, live.FindingsConfig{LeakAfter: live.DefaultLeakAfter})
	if n := len(reg.Snapshot().Findings); n != sessions {
		b.Fatalf("%d findings open, want %d", n, sessions)
	}
	return reg, evaluated
}

// BenchmarkSnapshotIdle takes the snapshots a front end takes every
// 100 ms of 10 000 idle sessions that each hold a LEAK finding: the UI's
// (one session's streams, leak and stall counts: tui's Model.request) and
// Snapshot's (every stream, and the latency histograms). Nothing changes
// between them but the clock.
func BenchmarkSnapshotIdle(b *testing.B) {
	const sessions = 10_000
	reg, now := idleRegistry(b, sessions)
	tests := []struct {
		name string
		opts live.SnapshotOptions
	}{
		{"ui", live.SnapshotOptions{Streams: func(id uint64) bool { return id == 1 }, LeakAfter: live.DefaultLeakAfter}},
		{"all", live.SnapshotOptions{Latency: true}},
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			o := tt.opts
			o.Now = now
			if snap := reg.SnapshotWith(o); len(snap.Sessions) != sessions || tt.name == "ui" && snap.Leaks != 10*sessions {
				b.Fatalf("%d sessions, %d leaks; want %d and %d", len(snap.Sessions), snap.Leaks, sessions, 10*sessions)
			}
			b.ReportAllocs()
			for b.Loop() {
				o.Now = o.Now.Add(100 * time.Millisecond)
				reg.SnapshotWith(o)
			}
		})
	}
}

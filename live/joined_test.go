package live_test

import (
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/live"
)

// TestJoinedHeldDirection replays what a capture joined mid-stream of a
// healthy smux v2 session records: each direction is held until its
// resynchronisation finds three chained headers, so one direction's
// frames of a stream can be recorded before the other's that came first
// on the wire. The server's answer before the client's SYN must not open
// a second stream (left open, UNANSWERED 5 s later), and the client's UPD
// before the server's data it reports must not be CONSUMED_MORE_THAN_SENT.
func TestJoinedHeldDirection(t *testing.T) {
	cfg := live.FindingsConfig{UnansweredAfter: 5 * time.Second, Churn: -1}
	for _, tc := range []struct {
		name  string
		first live.Dir
	}{{"server's frames first", s2c}, {"client's frames first", c2s}} {
		t.Run(tc.name, func(t *testing.T) {
			reg := live.New(live.Config{})
			sc := openSession(reg, 2)
			// On the wire, a millisecond apart: SYN, PSH, UPD, PSH, FIN, UPD, FIN.
			client := []wire{syn(c2s, 67), psh(c2s, 67, "RAND"), upd(c2s, 67, 8, 65536), fin(c2s, 67)}
			clientAt := []float64{0, 0.001, 0.005, 0.006}
			server := []wire{upd(s2c, 67, 4, 65536), psh(s2c, 67, "12345678"), fin(s2c, 67)}
			serverAt := []float64{0.002, 0.003, 0.004}
			feed := func(ws []wire, ats []float64) {
				for i, w := range ws {
					sc.feedAt(sec(ats[i]), w)
				}
			}
			if tc.first == s2c {
				sc.s.Resynced(s2c, sec(0.002), 0, 0, 0, "joined mid-stream at offset 0, 0 bytes skipped")
				feed(server, serverAt)
				sc.s.Resynced(c2s, sec(0), 0, 0, 0, "joined mid-stream at offset 0, 0 bytes skipped")
				feed(client, clientAt)
			} else {
				sc.s.Resynced(c2s, sec(0), 0, 0, 0, "joined mid-stream at offset 0, 0 bytes skipped")
				feed(client, clientAt)
				sc.s.Resynced(s2c, sec(0.002), 0, 0, 0, "joined mid-stream at offset 0, 0 bytes skipped")
				feed(server, serverAt)
			}
			sc.feedAt(sec(1), syn(c2s, 69), psh(c2s, 69, "RAND"), upd(s2c, 69, 4, 65536), psh(s2c, 69, "12345678"),
				fin(s2c, 69), upd(c2s, 69, 8, 65536), fin(c2s, 69))
			for i := range 7 {
				sc.feedAt(sec(float64(2+i)), nop(c2s), nop(s2c))
			}
			reg.Evaluate(sec(8.5), cfg)
			expect(t, reg)
			ss := sc.snap(t, reg)
			if ss.Total != 2 || ss.Open != 0 || ss.AnomalyCount != 0 {
				t.Fatalf("streams %d open %d anomalies %d %v; want 2 0 0", ss.Total, ss.Open, ss.AnomalyCount, ss.AnomaliesBy)
			}
		})
	}
}

// TestJoinedQuietStream checks that a stream opened before the capture
// began, first named after a later stream's SYN, is adopted, not
// UNKNOWN_STREAM; that a stream adopted from the opener's data, whose
// answer may have gone by before the capture, is not UNANSWERED; that a
// stream folded after it closed is not adopted again; and that none is
// adopted once the session ended.
func TestJoinedQuietStream(t *testing.T) {
	cfg := live.FindingsConfig{UnansweredAfter: 5 * time.Second, Churn: -1}
	reg := live.New(live.Config{ClosedStreams: 1})
	sc := openSession(reg, 1)
	sc.s.Resynced(c2s, sec(0), 0, 0, 0, "joined mid-stream at offset 0, 0 bytes skipped")
	sc.s.Resynced(s2c, sec(0), 0, 0, 0, "joined mid-stream at offset 0, 0 bytes skipped")
	// 5: an upload the server never answers on; 3: a download, quiet
	// until after stream 207 opened.
	sc.feedAt(sec(0), psh(c2s, 5, "upload"), syn(c2s, 207), psh(c2s, 207, "RAND"), psh(s2c, 3, "download"),
		psh(s2c, 207, "12345678"), fin(s2c, 207), fin(c2s, 207))
	for i := range 7 {
		sc.feedAt(sec(float64(1+i)), psh(c2s, 5, "upload"), psh(s2c, 3, "download"))
	}
	reg.Evaluate(sec(7.5), cfg)
	expect(t, reg)
	ss := sc.snap(t, reg)
	if ss.AnomalyCount != 0 || ss.Total != 3 || ss.Open != 2 {
		t.Fatalf("anomalies %d %v streams %d open %d; want 0, 3, 2", ss.AnomalyCount, ss.AnomaliesBy, ss.Total, ss.Open)
	}
	if st := ss.Stream(3); st == nil || !st.Incomplete || st.Bytes[s2c] != 8*8 {
		t.Fatalf("stream 3: %+v", st)
	}
	// Stream 3 closes and is folded behind later ones: data on it again is
	// an anomaly, not a new stream.
	sc.feedAt(sec(8), fin(s2c, 3), fin(c2s, 3), syn(c2s, 209), fin(c2s, 209), fin(s2c, 209),
		syn(c2s, 211), fin(c2s, 211), fin(s2c, 211), psh(s2c, 3, "late"))
	ss = sc.snap(t, reg)
	if ss.AnomalyCount != 1 || ss.Total != 5 {
		t.Fatalf("after 3 folded: anomalies %d %v streams %d; want 1 UNKNOWN_STREAM, 5", ss.AnomalyCount, ss.AnomaliesBy, ss.Total)
	}
	// Once the session ended, a stream opened before the capture and named
	// only now is not adopted: in flight as the session ended.
	sc.s.End(sec(9), live.EOF, nil)
	sc.feedAt(sec(9), psh(s2c, 1, "late"))
	if ss = sc.snap(t, reg); ss.AnomalyCount != 1 || ss.Total != 5 {
		t.Fatalf("after the end: anomalies %d %v streams %d; want 1, 5", ss.AnomalyCount, ss.AnomaliesBy, ss.Total)
	}
}

// TestLossHeldDirection checks a capture that lost bytes of the server's
// direction: a stream live at the loss, whose answer may be in what was
// lost, is not UNANSWERED; and a stream opened while that direction
// waits to resume, whose answer is recorded after the client's UPD that
// reports it, is not CONSUMED_MORE_THAN_SENT.
func TestLossHeldDirection(t *testing.T) {
	cfg := live.FindingsConfig{UnansweredAfter: 5 * time.Second, Churn: -1}
	reg, sc := lostAnswer(2) // 3's UPD and PSH
	sc.feedAt(sec(0.003), fin(c2s, 3))
	sc.feedAt(sec(0.010), syn(c2s, 5), psh(c2s, 5, "RAND"))
	sc.feedAt(sec(0.013), upd(c2s, 5, 8, 65536), fin(c2s, 5))
	sc.s.Resynced(s2c, sec(0.011), 24, 0, 0, "resumed at offset 24 after lost bytes, 0 bytes skipped")
	sc.feedAt(sec(0.011), upd(s2c, 5, 4, 65536), psh(s2c, 5, "12345678"), fin(s2c, 5))
	for i := range 7 {
		sc.feedAt(sec(float64(1+i)), nop(c2s), nop(s2c))
	}
	reg.Evaluate(sec(7.5), cfg)
	expect(t, reg)
	if ss := sc.snap(t, reg); ss.AnomalyCount != 0 {
		t.Fatalf("anomalies %d %v; want 0", ss.AnomalyCount, ss.AnomaliesBy)
	}
}

// TestLossOpenerDirection is TestLossHeldDirection's other side: bytes
// lost from the opener's direction cannot hold the answer to its stream,
// so a stream the server never answers is still UNANSWERED.
func TestLossOpenerDirection(t *testing.T) {
	cfg := live.FindingsConfig{UnansweredAfter: 5 * time.Second, Churn: -1}
	reg := live.New(live.Config{})
	sc := openSession(reg, 2)
	sc.feedAt(sec(0), syn(c2s, 3), psh(c2s, 3, "RAND"))
	sc.s.Resynced(c2s, sec(0.001), 16, 0, 24, "capture lost 24 bytes at offset 16")
	sc.s.Resynced(c2s, sec(0.002), 40, 0, 0, "resumed at offset 40 after lost bytes, 0 bytes skipped")
	for i := range 7 {
		sc.feedAt(sec(float64(1+i)), nop(c2s), nop(s2c))
	}
	reg.Evaluate(sec(7.5), cfg)
	if recs := expect(t, reg, "+UNANSWERED"); recs[0].Finding.Stream != 3 {
		t.Fatalf("unanswered: %+v", recs[0].Finding)
	}
}

// TestJoinedKeepaliveCadence checks that a capture joined mid-stream,
// whose first NOPs came just after it began, does not take the moment
// between its start and them for the keepalive's cadence: a 1 s keepalive
// whose next NOPs are a few milliseconds late is not KEEPALIVE, and the
// cadence its NOPs set from then on still finds a side gone silent.
func TestJoinedKeepaliveCadence(t *testing.T) {
	cfg := live.FindingsConfig{Churn: -1}
	reg := live.New(live.Config{})
	sc := openSession(reg, 1)
	sc.s.Resynced(c2s, sec(0), 0, 0, 0, "joined mid-stream at offset 0, 0 bytes skipped")
	sc.s.Resynced(s2c, sec(0), 0, 0, 0, "joined mid-stream at offset 0, 0 bytes skipped")
	sc.feedAt(sec(0.002), nop(s2c))
	sc.feedAt(sec(0.003), nop(c2s))
	for i := 1; i < 4; i++ {
		reg.Evaluate(sec(float64(i)+0.008), cfg) // the next ones come 10 ms late
		sc.feedAt(sec(float64(i)+0.012), nop(s2c))
		sc.feedAt(sec(float64(i)+0.013), nop(c2s))
	}
	expect(t, reg)
	// The cadence the NOPs set still counts: a client silent from then on
	// is KEEPALIVE once the silence outlasts it.
	for i := 4; i < 7; i++ {
		sc.feedAt(sec(float64(i)+0.012), nop(s2c))
		reg.Evaluate(sec(float64(i)+0.5), cfg)
	}
	if recs := expect(t, reg, "+KEEPALIVE"); recs[0].Finding.Dir != c2s {
		t.Errorf("KEEPALIVE of %v, want the client's", recs[0].Finding.Dir)
	}
}

// TestJoinedYamuxHeldSYN is TestJoinedHeldDirection for yamux: the
// server's ACK, answer and FIN recorded before the client's SYN, its data
// and its FIN open one stream, closed, and nothing.
func TestJoinedYamuxHeldSYN(t *testing.T) {
	cfg := live.FindingsConfig{UnansweredAfter: 5 * time.Second, Churn: -1}
	reg := live.New(live.Config{})
	s, rec := openYamux(reg)
	s.Resynced(s2c, sec(0.002), 0, 0, 0, "joined mid-stream at offset 0, 0 bytes skipped")
	rec(0.002, s2c, yamux.WindowUpdate, yamux.ACK, 7, 0)
	rec(0.003, s2c, yamux.Data, 0, 7, 8)
	rec(0.004, s2c, yamux.WindowUpdate, yamux.FIN, 7, 0)
	s.Resynced(c2s, sec(0), 0, 0, 0, "joined mid-stream at offset 0, 0 bytes skipped")
	rec(0, c2s, yamux.WindowUpdate, yamux.SYN, 7, 0)
	rec(0.001, c2s, yamux.Data, 0, 7, 4)
	rec(0.005, c2s, yamux.WindowUpdate, yamux.FIN, 7, 0)
	for i := range 7 {
		rec(float64(1+i), c2s, yamux.Ping, yamux.SYN, 0, uint32(i))
		rec(float64(1+i)+0.001, s2c, yamux.Ping, yamux.ACK, 0, uint32(i))
	}
	reg.Evaluate(sec(7.5), cfg)
	expect(t, reg)
	ss := reg.Snapshot().Session(s.ID())
	if ss.Total != 1 || ss.Open != 0 || ss.AnomalyCount != 0 {
		t.Fatalf("streams %d open %d anomalies %d %v; want 1 0 0", ss.Total, ss.Open, ss.AnomalyCount, ss.AnomaliesBy)
	}
}

// TestJoinedYamuxQuietControl checks which frames adopt a yamux stream
// opened before the capture began, first named after a later stream's
// SYN: its data or its FIN do, as in smux; a window update or an RST alone
// do not, and are not UNKNOWN_STREAM either.
func TestJoinedYamuxQuietControl(t *testing.T) {
	for _, tc := range []struct {
		name  string
		typ   yamux.Type
		flags yamux.Flags
		total uint64
	}{{"update", yamux.WindowUpdate, 0, 1}, {"RST", yamux.WindowUpdate, yamux.RST, 1}, {"data RST", yamux.Data, yamux.RST, 1},
		{"FIN", yamux.WindowUpdate, yamux.FIN, 2}, {"data", yamux.Data, 0, 2}} {
		t.Run(tc.name, func(t *testing.T) {
			reg := live.New(live.Config{})
			s, recAt := openYamux(reg)
			rec := func(dir live.Dir, typ yamux.Type, flags yamux.Flags, sid, length uint32) {
				recAt(0, dir, typ, flags, sid, length)
			}
			s.Resynced(c2s, sec(0), 0, 0, 0, "joined mid-stream at offset 0, 0 bytes skipped")
			s.Resynced(s2c, sec(0), 0, 0, 0, "joined mid-stream at offset 0, 0 bytes skipped")
			rec(c2s, yamux.WindowUpdate, yamux.SYN, 7, 0)
			rec(s2c, tc.typ, tc.flags, 5, 0)
			ss := reg.Snapshot().Session(s.ID())
			if ss.Total != tc.total || ss.AnomalyCount != 0 {
				t.Fatalf("streams %d anomalies %d %v; want %d 0", ss.Total, ss.AnomalyCount, ss.AnomaliesBy, tc.total)
			}
		})
	}
}

// TestLossNoLeak checks that a stream live when a capture lost bytes,
// whose FIN may be among them, is not a LEAK, while a stream opened
// after the loss and left half-closed still is.
func TestLossNoLeak(t *testing.T) {
	cfg := live.FindingsConfig{LeakAfter: 30 * time.Second, Churn: -1}
	reg, sc := lostAnswer(1) // 3's answer and FIN
	sc.s.Resynced(s2c, sec(0.002), 24, 0, 0, "resumed at offset 24 after lost bytes, 0 bytes skipped")
	sc.feedAt(sec(0.003), fin(c2s, 3))
	for i := range 40 {
		sc.feedAt(sec(float64(1+i)), nop(c2s), nop(s2c))
		reg.Evaluate(sec(float64(1+i)+0.5), cfg)
	}
	expect(t, reg)
	sc.feedAt(sec(41), syn(c2s, 5), psh(c2s, 5, "RAND"), psh(s2c, 5, "12345678"), fin(c2s, 5))
	for i := range 32 {
		sc.feedAt(sec(float64(42+i)), nop(c2s), nop(s2c))
		reg.Evaluate(sec(float64(42+i)+0.5), cfg)
	}
	if recs := expect(t, reg, "+LEAK"); recs[0].Finding.Stream != 5 || recs[0].Finding.Evidence.Count != 1 {
		t.Fatalf("leak: %+v", recs[0].Finding)
	}
}

// lostAnswer opens a session of version ver in which the client opens
// stream 3 and sends on it at 0 s, and the capture then loses the 24
// bytes the server sent next (at 0.001 s): the start of TestLossHeldDirection
// and TestLossNoLeak.
func lostAnswer(ver uint8) (*live.Registry, *script) {
	reg := live.New(live.Config{})
	sc := openSession(reg, ver)
	sc.feedAt(sec(0), syn(c2s, 3), psh(c2s, 3, "RAND"))
	sc.s.Resynced(s2c, sec(0.001), 0, 0, 24, "capture lost 24 bytes at offset 0")
	return reg, sc
}

// TestJoinedYamuxHeldGrant: a capture that joined a yamux session with
// windows configured above 256 KiB (Consul's and Nomad's 16 MiB) inside a
// large Data frame of the server's holds that direction until it finds a
// boundary, past 256 KiB, so the client's direction is framed first: the
// client's data on a stream opened after the join is recorded before the
// server's ACK that grew its window (seen with hashicorp/yamux v0.1.2 and
// MaxStreamWindowSize 16 MiB under `muxtop sniff`). It is no
// WINDOW_EXCEEDED; with the server's direction recorded and no grant, it
// still is.
func TestJoinedYamuxHeldGrant(t *testing.T) {
	const grant = 16<<20 - 256<<10
	for _, tc := range []struct {
		name   string
		held   bool // the server's direction is recorded after the client's data
		anomal uint64
	}{{"grant held", true, 0}, {"no grant", false, 1}} {
		t.Run(tc.name, func(t *testing.T) {
			reg := live.New(live.Config{})
			s, rec := openYamux(reg)
			const skipped = "joined mid-stream at offset 498909, 498909 bytes skipped"
			if tc.held {
				s.Resynced(c2s, sec(0.5), 0, 0, 0, "joined mid-stream at offset 0, 0 bytes skipped")
				rec(0.5, c2s, yamux.WindowUpdate, yamux.SYN, 129, grant)
				rec(0.502, c2s, yamux.Data, 0, 129, 8)
				rec(0.505, c2s, yamux.Data, 0, 129, 1121570)
				s.Resynced(s2c, sec(0.3), 498909, 498909, 0, skipped)
				rec(0.501, s2c, yamux.WindowUpdate, yamux.ACK, 129, grant)
			} else {
				// In time order: the server's ACK grants nothing.
				s.Resynced(s2c, sec(0.3), 498909, 498909, 0, skipped)
				s.Resynced(c2s, sec(0.5), 0, 0, 0, "joined mid-stream at offset 0, 0 bytes skipped")
				rec(0.5, c2s, yamux.WindowUpdate, yamux.SYN, 129, grant)
				rec(0.501, s2c, yamux.WindowUpdate, yamux.ACK, 129, 0)
				rec(0.502, c2s, yamux.Data, 0, 129, 8)
				rec(0.505, c2s, yamux.Data, 0, 129, 1121570)
			}
			rec(0.51, s2c, yamux.Data, 0, 129, 538492)
			rec(0.511, s2c, yamux.WindowUpdate, yamux.FIN, 129, 0)
			rec(0.512, c2s, yamux.WindowUpdate, yamux.FIN, 129, 0)
			ss := reg.Snapshot().Session(s.ID())
			if ss.AnomalyCount != tc.anomal {
				t.Fatalf("anomalies %d %v, want %d", ss.AnomalyCount, ss.AnomaliesBy, tc.anomal)
			}
		})
	}
}

// TestJoinedYamuxHeldGrantStall: as TestJoinedYamuxHeldGrant, the
// client's data on a stream opened after the join is recorded before the
// server's held ACK that grew its window; here it fills that window, and
// the server, which accepted the stream, never reads it: its writer is
// held, WINDOW_STALL. The data made no window finding while the grant
// was held, and the grant recorded after it leaves the window full: the
// flow must count as at the window from then, or the stall is never said
// (nothing more is written on it to say so).
func TestJoinedYamuxHeldGrantStall(t *testing.T) {
	const grant = 16<<20 - 256<<10
	reg := live.New(live.Config{})
	s, rec := openYamux(reg)
	s.Resynced(c2s, sec(0.5), 0, 0, 0, "joined mid-stream at offset 0, 0 bytes skipped")
	rec(0.5, c2s, yamux.WindowUpdate, yamux.SYN, 129, grant)
	for i := range 16 {
		rec(0.502+float64(i)/1000, c2s, yamux.Data, 0, 129, 1<<20) // the whole 16 MiB window
	}
	s.Resynced(s2c, sec(0.3), 498909, 498909, 0, "joined mid-stream at offset 498909, 498909 bytes skipped")
	rec(0.501, s2c, yamux.WindowUpdate, yamux.ACK, 129, grant)
	cfg := live.FindingsConfig{StallAfter: time.Second, Churn: -1}
	for ms := 600; ms <= 5000; ms += 100 {
		at := sec(float64(ms) / 1000)
		if ms%1000 == 0 {
			id := uint32(ms)
			rec(at.Sub(t0).Seconds(), c2s, yamux.Ping, yamux.SYN, 0, id)
			rec(at.Sub(t0).Seconds(), s2c, yamux.Ping, yamux.ACK, 0, id)
		}
		reg.Evaluate(at, cfg)
	}
	ss := reg.Snapshot().Session(s.ID())
	if ss.AnomalyCount != 0 {
		t.Errorf("anomalies %d %v, want none", ss.AnomalyCount, ss.AnomaliesBy)
	}
	if got := codes(reg); got != "+WINDOW_STALL" {
		t.Errorf("%s, want +WINDOW_STALL:%s", got, describeRecords(findingRecords(reg)))
	}
}

// openYamux opens a yamux session in reg at sec(0), and returns it with a
// function that records a frame of it at sec(at), keeping each
// direction's offsets.
func openYamux(reg *live.Registry) (*live.Session, func(at float64, dir live.Dir, typ yamux.Type, flags yamux.Flags, sid, length uint32)) {
	s := reg.Open(live.SessionInfo{Client: "127.0.0.1:1000", Server: "127.0.0.1:9000", Proto: live.Yamux}, sec(0))
	var off [2]int64
	return s, func(at float64, dir live.Dir, typ yamux.Type, flags yamux.Flags, sid, length uint32) {
		f := &yamux.Frame{Offset: off[dir], Header: yamux.MakeHeader(typ, flags, sid, length)}
		off[dir] += f.Size()
		s.RecordYamux(dir, sec(at), f)
	}
}

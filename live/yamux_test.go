package live_test

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	hyamux "github.com/hashicorp/yamux"
	"github.com/muxtop/muxtop/internal/racetest"

	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/live"
)

// yamuxTap records the bytes each end of a real yamux session writes, as
// the tap does: decoded and recorded before they go out, so the history is
// in causal order. It also keeps the raw bytes, for an independent count.
type yamuxTap struct {
	net.Conn
	mu     *sync.Mutex // shared by both ends: one recorder at a time
	sess   *live.Session
	dir    live.Dir
	dec    *yamux.Decoder
	raw    bytes.Buffer
	frozen bool // Freeze: writes are swallowed, neither recorded nor sent
}

// Freeze makes the end stop sending, as a frozen process would, without
// closing the connection.
func (c *yamuxTap) Freeze() {
	c.mu.Lock()
	c.frozen = true
	c.mu.Unlock()
}

func (c *yamuxTap) Write(p []byte) (int, error) {
	c.mu.Lock()
	if c.frozen {
		c.mu.Unlock()
		return len(p), nil
	}
	c.raw.Write(p)
	for q := p; len(q) > 0; {
		n, f, err := c.dec.Next(q)
		q = q[n:]
		if f != nil {
			c.sess.RecordYamux(c.dir, time.Now(), f)
		}
		if err != nil {
			c.sess.ViolationYamux(c.dir, time.Now(), c.dec.Violation())
		}
	}
	c.mu.Unlock()
	return c.Conn.Write(p)
}

// yamuxPair returns a yamux client and server over a pipe whose two
// directions are recorded into one session of reg.
func yamuxPair(t *testing.T, reg *live.Registry, cfg func(c, s *hyamux.Config)) (cli, srv *hyamux.Session, c2s, s2c *yamuxTap) {
	t.Helper()
	a, b := net.Pipe()
	sess := reg.Open(live.SessionInfo{Label: "test", Proto: live.Yamux}, time.Now())
	var mu sync.Mutex
	c2s = &yamuxTap{Conn: a, mu: &mu, sess: sess, dir: live.ClientToServer, dec: yamux.New(64)}
	s2c = &yamuxTap{Conn: b, mu: &mu, sess: sess, dir: live.ServerToClient, dec: yamux.New(64)}
	ccfg, scfg := hyamux.DefaultConfig(), hyamux.DefaultConfig()
	for _, c := range []*hyamux.Config{ccfg, scfg} {
		c.EnableKeepAlive = false
		c.LogOutput = io.Discard
	}
	if cfg != nil {
		cfg(ccfg, scfg)
	}
	var err error
	if cli, err = hyamux.Client(c2s, ccfg); err != nil {
		t.Fatal(err)
	}
	if srv, err = hyamux.Server(s2c, scfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cli.Close()
		srv.Close()
	})
	return cli, srv, c2s, s2c
}

// wireCount counts yamux frames by type and their wire bytes, with
// nothing but encoding/binary: the independent count.
func wireCount(b []byte) (frames, wire [yamux.NumTypes]uint64, data map[uint32]uint64) {
	data = make(map[uint32]uint64)
	for len(b) >= 12 {
		typ, sid, length := b[1], binary.BigEndian.Uint32(b[4:]), binary.BigEndian.Uint32(b[8:])
		size := 12
		if typ == 0 {
			size += int(length)
			data[sid] += uint64(length)
		}
		frames[typ]++
		wire[typ] += uint64(size)
		b = b[size:]
	}
	return frames, wire, data
}

// TestYamuxRealSession drives real yamux sessions and checks the live
// state against the wire: counts per type and direction, stream states and
// bytes, windows, pings, GoAway.
func TestYamuxRealSession(t *testing.T) {
	reg := live.New(live.Config{})
	cli, srv, c2s, s2c := yamuxPair(t, reg, nil)

	// Five RAND exchanges opened by the client.
	done := make(chan error, 1)
	go func() {
		for range 5 {
			st, err := srv.AcceptStream()
			if err != nil {
				done <- err
				return
			}
			buf := make([]byte, 4)
			if _, err := io.ReadFull(st, buf); err != nil {
				done <- err
				return
			}
			st.Write([]byte("\x0b\x5e\x9a\x13\x77\x02\xc1\xaa"))
			st.Close()
		}
		done <- nil
	}()
	for range 5 {
		st, err := cli.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		st.Write([]byte("RAND"))
		if b, err := io.ReadAll(st); err != nil || len(b) != 8 {
			t.Fatalf("read %d bytes, %v", len(b), err)
		}
		st.Close()
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// A bulk transfer from the server, larger than a window: the client's
	// WINDOW_UPDATEs let it go on.
	big := bytes.Repeat([]byte("x"), 700_000)
	go func() {
		st, err := srv.OpenStream()
		if err != nil {
			done <- err
			return
		}
		_, err = st.Write(big)
		st.Close()
		done <- err
	}()
	st, err := cli.AcceptStream()
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(st); err != nil || len(b) != len(big) {
		t.Fatalf("read %d bytes, %v", len(b), err)
	}
	st.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	for range 2 {
		if _, err := cli.Ping(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := srv.Ping(); err != nil {
		t.Fatal(err)
	}
	if err := srv.GoAway(); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Ping(); err != nil { // the client has read the GoAway once it answers
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // the last FINs and the ping reply go out

	c2s.mu.Lock()
	raw := [2][]byte{bytes.Clone(c2s.raw.Bytes()), bytes.Clone(s2c.raw.Bytes())}
	c2s.mu.Unlock()
	snap := reg.Snapshot()
	ss := snap.Sessions[0]
	if ss.Proto != live.Yamux {
		t.Errorf("Proto = %v, want yamux", ss.Proto)
	}
	for d := range 2 {
		frames, wire, data := wireCount(raw[d])
		if ss.Counts.TypeFrames[d] != frames || ss.Counts.TypeBytes[d] != wire {
			t.Errorf("%s: counted %v frames, %v bytes; the wire has %v, %v", live.Dir(d).Code(), ss.Counts.TypeFrames[d], ss.Counts.TypeBytes[d], frames, wire)
		}
		if got := ss.WireBytes(live.Dir(d)); got != uint64(len(raw[d])) {
			t.Errorf("%s: WireBytes %d, the wire carried %d", live.Dir(d).Code(), got, len(raw[d]))
		}
		for _, st := range ss.Streams {
			if st.Bytes[d] != data[st.ID] {
				t.Errorf("stream %d %s: %d bytes, the wire carried %d", st.ID, live.Dir(d).Code(), st.Bytes[d], data[st.ID])
			}
		}
	}
	if got, want := ss.Accounted(), ss.Counted(); got != want {
		t.Errorf("Accounted %+v, Counted %+v", got, want)
	}
	if len(ss.Streams) != 6 || ss.Open != 0 || ss.AnomalyCount != 0 {
		t.Fatalf("%d streams, %d open, %d anomalies %v; want 6, 0, 0", len(ss.Streams), ss.Open, ss.AnomalyCount, ss.Anomalies)
	}
	ids := []uint32{1, 2, 3, 5, 7, 9} // clients open odd ids from 1, servers even ids from 2
	for i, st := range ss.Streams {
		if st.ID != ids[i] || (st.Opener == live.Client) != (st.ID%2 == 1) {
			t.Errorf("stream %d: id %d opened by %v", i, st.ID, st.Opener)
		}
		if st.State != live.Closed {
			t.Errorf("stream %d is %v, want closed", st.ID, st.State)
		}
	}
	bulk := ss.Stream(2)
	if bulk == nil || bulk.Bytes[live.ServerToClient] != uint64(len(big)) {
		t.Fatalf("bulk stream: %+v", bulk)
	}
	// The writer never had more than the window in flight; every byte it
	// wrote beyond the first 256 KiB was granted by a WINDOW_UPDATE.
	fl := bulk.Flow[live.ServerToClient]
	if fl.Written != uint32(len(big)) || fl.InFlight() > int64(fl.Window()) || fl.Window() < yamux.InitialWindow ||
		fl.Window()-yamux.InitialWindow+fl.PeerConsumed < uint32(len(big))-yamux.InitialWindow {
		t.Errorf("bulk flow: written %d, %d in flight of a window of %d", fl.Written, fl.InFlight(), fl.Window())
	}
	if p := ss.Pings[live.Client]; p.Sent != 2 || p.Answered != 2 || p.LastRTT <= 0 || p.MinRTT > p.MaxRTT {
		t.Errorf("client pings: %+v", p)
	}
	if p := ss.Pings[live.Server]; p.Sent != 2 || p.Answered != 2 {
		t.Errorf("server pings: %+v", p)
	}
	if len(ss.GoAways) != 1 || ss.GoAways[0].By != live.Server || ss.GoAways[0].Code != yamux.GoAwayNormal || ss.GoAways[0].Reason() != "normal" {
		t.Errorf("GoAways: %+v", ss.GoAways)
	}

	// History keeps the yamux headers as they were on the wire.
	recs, _ := reg.Frames(live.Query{Scan: 1 << 20}, nil)
	var framed [2]int64
	for _, r := range recs {
		if r.Kind != live.FrameRecord {
			continue
		}
		if r.Proto != live.Yamux {
			t.Fatalf("record %d: proto %v", r.Seq, r.Proto)
		}
		d := r.Dir
		if r.Offset != framed[d] || !bytes.Equal(r.YamuxHeader[:], raw[d][r.Offset:r.Offset+12]) {
			t.Fatalf("record %d at %d: header % x, the wire has % x", r.Seq, r.Offset, r.YamuxHeader[:], raw[d][r.Offset:r.Offset+12])
		}
		framed[d] += 12 + int64(r.YamuxHeader.PayloadLength())
		if r.YamuxHeader.Type() == yamux.Data && !bytes.HasPrefix(raw[d][r.Offset+12:], r.Payload) {
			t.Fatalf("record %d: payload differs from the wire", r.Seq)
		}
	}
	if framed[0] != int64(len(raw[0])) || framed[1] != int64(len(raw[1])) {
		t.Errorf("history frames cover %v bytes, the wire %d and %d", framed, len(raw[0]), len(raw[1]))
	}
}

// yamuxFrames records hand-written yamux frames into a new session.
type yamuxFrames struct {
	s   *live.Session
	off [2]int64
}

func (y *yamuxFrames) rec(dir live.Dir, t yamux.Type, flags yamux.Flags, sid, length uint32) {
	y.recAt(t0, dir, t, flags, sid, length)
}

// recAt records the frame with the header given, dir's next, at at.
func (y *yamuxFrames) recAt(at time.Time, dir live.Dir, t yamux.Type, flags yamux.Flags, sid, length uint32) {
	f := &yamux.Frame{Offset: y.off[dir], Header: yamux.MakeHeader(t, flags, sid, length)}
	y.off[dir] += f.Size()
	y.s.RecordYamux(dir, at, f)
}

// TestYamuxLateSYNAfterForgotten: a yamux SYN recorded after its session
// was forgotten opens a stream that ended with the session.
func TestYamuxLateSYNAfterForgotten(t *testing.T) {
	reg := live.New(live.Config{EndedSessions: -1})
	y := &yamuxFrames{s: reg.Open(live.SessionInfo{Proto: live.Yamux}, t0)}
	y.rec(c2s, yamux.WindowUpdate, yamux.SYN, 1, 0)
	y.s.End(t0, live.EOF, nil)
	y.rec(c2s, yamux.WindowUpdate, yamux.SYN, 3, 0)
	if f := reg.Snapshot().Forgotten; f.Sessions != 1 || f.Streams != 2 || f.EndedStreams != 2 {
		t.Errorf("forgotten sessions %d, streams %d, ended with the session %d; want 1, 2, 2", f.Sessions, f.Streams, f.EndedStreams)
	}
}

// TestYamuxStreamStates walks a stream through yamux's states: SYN sent,
// acknowledged, half-closed, reset.
func TestYamuxStreamStates(t *testing.T) {
	reg := live.New(live.Config{})
	y := &yamuxFrames{s: reg.Open(live.SessionInfo{Proto: live.Yamux}, t0)}
	state := func(sid uint32) live.State {
		t.Helper()
		st := reg.Snapshot().Sessions[0].Stream(sid)
		if st == nil {
			t.Fatalf("no stream %d", sid)
		}
		return st.State
	}
	y.rec(c2s, yamux.WindowUpdate, yamux.SYN, 1, 0)
	if s := state(1); s != live.SYNSent || !s.Live() {
		t.Fatalf("after SYN: %v", s)
	}
	y.rec(s2c, yamux.WindowUpdate, yamux.ACK, 1, 0)
	if s := state(1); s != live.Open {
		t.Fatalf("after ACK: %v", s)
	}
	y.rec(c2s, yamux.WindowUpdate, yamux.FIN, 1, 0)
	if s := state(1); s != live.HalfClosedByClient {
		t.Fatalf("after the client's FIN: %v", s)
	}
	y.rec(s2c, yamux.WindowUpdate, yamux.RST, 1, 0)
	ss := reg.Snapshot().Sessions[0]
	if s := state(1); s != live.StreamReset || s.Live() || ss.Open != 0 {
		t.Fatalf("after RST: %v, %d open", s, ss.Open)
	}
	// Data for the reset stream is discarded: it counts as untracked.
	y.rec(c2s, yamux.Data, 0, 1, 5)
	ss = reg.Snapshot().Sessions[0]
	if ss.Untracked.Bytes[live.ClientToServer] != 5 || ss.AnomalyCount != 0 {
		t.Errorf("untracked %+v, %d anomalies", ss.Untracked, ss.AnomalyCount)
	}
	// A SYN carried on DATA, answered by DATA with ACK: opener's stream, both FINs close it.
	y.rec(c2s, yamux.Data, yamux.SYN, 3, 4)
	y.rec(s2c, yamux.Data, yamux.ACK|yamux.FIN, 3, 8)
	y.rec(c2s, yamux.WindowUpdate, yamux.FIN, 3, 0)
	st := reg.Snapshot().Sessions[0].Stream(3)
	if st.State != live.Closed || st.Bytes != [2]uint64{4, 8} || st.Frames != [2]uint64{2, 1} {
		t.Errorf("stream 3: %+v", st)
	}
	// The session's end leaves a reset stream reset, and ends the one
	// still waiting for its ACK.
	y.rec(c2s, yamux.WindowUpdate, yamux.SYN, 5, 0)
	y.s.End(sec(1), live.EOF, nil)
	ss = reg.Snapshot().Sessions[0]
	if ss.Stream(1).State != live.StreamReset || ss.Stream(5).State != live.EndedWithSession || ss.StreamsEnded != 1 {
		t.Errorf("after End: stream 1 %v, stream 5 %v, %d ended; want reset, ended, 1", ss.Stream(1).State, ss.Stream(5).State, ss.StreamsEnded)
	}
}

// TestYamuxAnomalies proves each yamux anomaly by a frame that has it,
// next to frames that do not.
func TestYamuxAnomalies(t *testing.T) {
	tests := []struct {
		name   string
		frames func(y *yamuxFrames)
		want   []live.Anomaly
	}{
		{"healthy window use", func(y *yamuxFrames) {
			y.rec(c2s, yamux.WindowUpdate, yamux.SYN, 1, 0)
			y.rec(c2s, yamux.Data, 0, 1, yamux.InitialWindow)
			y.rec(s2c, yamux.WindowUpdate, yamux.ACK, 1, 1000)
			y.rec(c2s, yamux.Data, 0, 1, 1000)
		}, nil},
		{"data over the window", func(y *yamuxFrames) {
			y.rec(c2s, yamux.WindowUpdate, yamux.SYN, 1, 0)
			y.rec(c2s, yamux.Data, 0, 1, yamux.InitialWindow)
			y.rec(c2s, yamux.Data, 0, 1, 1)
		}, []live.Anomaly{live.WindowExceeded}},
		{"duplicate SYN", func(y *yamuxFrames) {
			y.rec(c2s, yamux.WindowUpdate, yamux.SYN, 1, 0)
			y.rec(c2s, yamux.WindowUpdate, yamux.SYN, 1, 0)
		}, []live.Anomaly{live.DuplicateSYN}},
		{"wrong parity", func(y *yamuxFrames) {
			// The first SYN settles that the dialer opens odd ids: then
			// it opens an even one, and the acceptor an odd one.
			y.rec(c2s, yamux.WindowUpdate, yamux.SYN, 1, 0)
			y.rec(c2s, yamux.WindowUpdate, yamux.SYN, 2, 0)
			y.rec(s2c, yamux.WindowUpdate, yamux.SYN, 2+1, 0)
		}, []live.Anomaly{live.WrongParity, live.WrongParity}},
		{"id 0", func(y *yamuxFrames) {
			y.rec(c2s, yamux.WindowUpdate, yamux.SYN, 0, 0)
			y.rec(c2s, yamux.WindowUpdate, yamux.SYN, 1, 0)
		}, []live.Anomaly{live.WrongParity}},
		{"data and an update on stream 0", func(y *yamuxFrames) {
			// Stream 0 is the session's: hashicorp's yamux has no such
			// stream, and discards both ("frame for missing stream",
			// handleStreamMessage). Before, sid 0 passed for a stream
			// closed and folded (0 <= the even ids' highest, 0).
			y.rec(c2s, yamux.WindowUpdate, yamux.SYN, 1, 0)
			y.rec(c2s, yamux.Data, 0, 0, 4)
			y.rec(c2s, yamux.WindowUpdate, 0, 0, 1000)
		}, []live.Anomaly{live.UnknownStream, live.UnknownStream}},
		{"reversed roles", func(y *yamuxFrames) {
			// The dialer runs yamux.Server: the acceptor opens odd ids.
			y.rec(s2c, yamux.WindowUpdate, yamux.SYN, 1, 0)
			y.rec(c2s, yamux.WindowUpdate, yamux.ACK, 1, 0)
			y.rec(c2s, yamux.WindowUpdate, yamux.SYN, 2, 0)
			y.rec(s2c, yamux.WindowUpdate, yamux.ACK, 2, 0)
			y.rec(s2c, yamux.WindowUpdate, yamux.SYN, 3, 0)
		}, nil},
		{"reversed roles, then the dialer opens an odd id", func(y *yamuxFrames) {
			y.rec(s2c, yamux.WindowUpdate, yamux.SYN, 1, 0)
			y.rec(c2s, yamux.WindowUpdate, yamux.SYN, 3, 0)
		}, []live.Anomaly{live.WrongParity}},
		{"unknown stream", func(y *yamuxFrames) {
			y.rec(c2s, yamux.Data, 0, 9, 3)
		}, []live.Anomaly{live.UnknownStream}},
		{"repeated FIN", func(y *yamuxFrames) {
			y.rec(c2s, yamux.WindowUpdate, yamux.SYN, 1, 0)
			y.rec(c2s, yamux.WindowUpdate, yamux.FIN, 1, 0)
			y.rec(c2s, yamux.WindowUpdate, yamux.FIN, 1, 0)
		}, []live.Anomaly{live.RepeatedFIN}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := live.New(live.Config{})
			y := &yamuxFrames{s: reg.Open(live.SessionInfo{Proto: live.Yamux}, t0)}
			tt.frames(y)
			ss := reg.Snapshot().Sessions[0]
			var got []live.Anomaly
			for _, a := range ss.Anomalies {
				got = append(got, a.Anomaly)
				if a.Proto != live.Yamux || a.Anomaly.YamuxReaction() == "" {
					t.Errorf("%v: proto %v, reaction %q", a.Anomaly, a.Proto, a.Anomaly.YamuxReaction())
				}
			}
			if len(got) != len(tt.want) || (len(got) > 0 && got[0] != tt.want[0]) {
				t.Errorf("anomalies %v, want %v", got, tt.want)
			}
		})
	}
}

// TestYamuxRecordZeroAlloc asserts that recording yamux RAND exchanges
// allocates nothing once stream structs are reused.
func TestYamuxRecordZeroAlloc(t *testing.T) {
	if racetest.Enabled {
		t.Skip("the race detector changes allocation counts")
	}
	reg := live.New(live.Config{})
	y := &yamuxFrames{s: reg.Open(live.SessionInfo{Proto: live.Yamux}, t0)}
	sid := uint32(1)
	cycle := func() {
		y.rec(c2s, yamux.WindowUpdate, yamux.SYN, sid, 0)
		y.rec(c2s, yamux.Data, 0, sid, 0)
		y.rec(s2c, yamux.WindowUpdate, yamux.ACK, sid, 0)
		y.rec(s2c, yamux.WindowUpdate, yamux.FIN, sid, 0)
		y.rec(c2s, yamux.WindowUpdate, yamux.FIN, sid, 0)
		sid += 2
	}
	for range 5 * live.DefaultClosedStreams {
		cycle()
	}
	if a := leastAllocs(func() {
		for range 20_000 {
			cycle()
		}
	}); a != 0 {
		t.Errorf("20000 cycles allocated %v times", a)
	}
}

// TestYamuxAdviceOlderVersions: what the LEAK and UNANSWERED advice says
// yamux does about them is true of every version. yamux before 2021 (the
// pseudo-version v0.0.0-20181012175058-2f1d1f20f75d, read in the module
// cache) has neither StreamCloseTimeout (added by hashicorp/yamux#88, in
// 2021; v0.0.0-20211028200310-0bc27b27de87 has it) nor StreamOpenTimeout
// (hashicorp/yamux#96, 2021): a stream one side closed stays until the
// session ends, with no RST, and an unACKed SYN waits for ever. The frames
// are what such a pair sends (stream.go of the 2018 version: OpenStream's
// WINDOW_UPDATE SYN, AcceptStream's WINDOW_UPDATE ACK, DATA, Close's
// WINDOW_UPDATE FIN; session.go: Ping SYN and its ACK).
func TestYamuxAdviceOlderVersions(t *testing.T) {
	reg := live.New(live.Config{})
	y := &yamuxFrames{s: reg.Open(live.SessionInfo{Proto: live.Yamux}, t0)}
	at := func(s float64, dir live.Dir, typ yamux.Type, flags yamux.Flags, sid, length uint32) {
		y.recAt(sec(s), dir, typ, flags, sid, length)
	}
	// Stream 1: the server answers and never closes.
	at(0, c2s, yamux.WindowUpdate, yamux.SYN, 1, 0)
	at(0, c2s, yamux.Data, 0, 1, 4)
	at(0, s2c, yamux.WindowUpdate, yamux.ACK, 1, 0)
	at(0, s2c, yamux.Data, 0, 1, 8)
	at(0, c2s, yamux.WindowUpdate, yamux.FIN, 1, 0)
	// Stream 3: never ACKed, while the server answers pings.
	at(1, c2s, yamux.WindowUpdate, yamux.SYN, 3, 0)
	for s := 2.0; s < 13; s++ {
		at(s, c2s, yamux.Ping, yamux.SYN, 0, uint32(s))
		at(s, s2c, yamux.Ping, yamux.ACK, 0, uint32(s))
	}
	cfg := live.FindingsConfig{LeakAfter: 10 * time.Second, UnansweredAfter: 5 * time.Second, Churn: -1}
	for s := 6.0; s < 13; s += 0.1 {
		reg.Evaluate(sec(s), cfg)
	}
	found := map[live.FindingCode]*live.Finding{}
	for _, f := range reg.Snapshot().Findings {
		if f.Code != live.CodeLeak || f.HasDir { // the leak of the server that never closes
			found[f.Code] = f
		}
	}
	if f := found[live.CodeLeak]; f == nil || !strings.Contains(f.Advice, "StreamCloseTimeout") || !strings.Contains(f.Advice, "before 2021") {
		t.Errorf("LEAK %+v: its advice must not promise StreamCloseTimeout's RST of every version", f)
	}
	if f := found[live.CodeUnanswered]; f == nil || !strings.Contains(f.Advice, "StreamOpenTimeout") || !strings.Contains(f.Advice, "before 2021") {
		t.Errorf("UNANSWERED %+v: its advice must not promise StreamOpenTimeout of every version", f)
	}
}

package live_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/live"
)

const (
	c2s = live.ClientToServer
	s2c = live.ServerToClient
)

// t0 is the time of the first fed frame; feed advances it by a
// millisecond per frame, so frame i of a script is at at(i).
var t0 = time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)

func at(i int) time.Time { return t0.Add(time.Duration(i) * time.Millisecond) }

// wire is one frame of a test script.
type wire struct {
	dir     live.Dir
	cmd     decoder.Cmd
	sid     uint32
	payload string
}

func syn(d live.Dir, sid uint32) wire           { return wire{d, decoder.SYN, sid, ""} }
func fin(d live.Dir, sid uint32) wire           { return wire{d, decoder.FIN, sid, ""} }
func psh(d live.Dir, sid uint32, p string) wire { return wire{d, decoder.PSH, sid, p} }
func nop(d live.Dir) wire                       { return wire{d, decoder.NOP, 0, ""} }
func upd(d live.Dir, sid, consumed, window uint32) wire {
	var b [8]byte
	binary.LittleEndian.PutUint32(b[:], consumed)
	binary.LittleEndian.PutUint32(b[4:], window)
	return wire{d, decoder.UPD, sid, string(b[:])}
}

// frame builds the decoder.Frame the decoder would yield for w at offset off.
func frame(ver uint8, w wire, off int64) *decoder.Frame {
	f := &decoder.Frame{
		Offset:  off,
		Header:  decoder.MakeHeader(ver, w.cmd, uint16(len(w.payload)), w.sid),
		Payload: []byte(w.payload),
	}
	if w.cmd == decoder.UPD && len(w.payload) == decoder.UPDSize {
		f.Consumed = binary.LittleEndian.Uint32(f.Payload)
		f.Window = binary.LittleEndian.Uint32(f.Payload[4:])
	}
	return f
}

// script feeds frames to a session as the two decoders of a tap would,
// with exact per-direction offsets and a clock that ticks once per frame.
type script struct {
	s   *live.Session
	ver uint8
	off [2]int64
	n   int
}

func (sc *script) feed(ws ...wire) {
	for _, w := range ws {
		f := frame(sc.ver, w, sc.off[w.dir])
		sc.s.Record(w.dir, at(sc.n), f)
		sc.n++
		sc.off[w.dir] += f.Size()
	}
}

// openSession opens a session in reg and returns a script that feeds it.
func openSession(reg *live.Registry, ver uint8) *script {
	s := reg.Open(live.SessionInfo{Client: "127.0.0.1:1000", Server: "127.0.0.1:9000", Tap: live.Client, Label: "test"}, t0)
	return &script{s: s, ver: ver}
}

// worked records, at at, a stream the server opens and both sides close
// at once: work the session did, so that no stream it opens after is one
// of its setup streams (live.SetupWindow), which LEAK does not count
// however long they are held. A test of a leak whose stream opens in the
// session's first second, the session having closed none before (a
// control stream's shape), calls it before that stream opens.
func (sc *script) worked(at time.Time) { sc.feedAt(at, syn(s2c, 2), fin(s2c, 2), fin(c2s, 2)) }

// sessionSnap returns the snapshot of the script's session.
func (sc *script) snap(t *testing.T, reg *live.Registry) *live.SessionSnap {
	t.Helper()
	ss := reg.Snapshot().Session(sc.s.ID())
	if ss == nil {
		t.Fatalf("session %d missing from snapshot", sc.s.ID())
	}
	return ss
}

// allRecords reads the whole history.
func allRecords(reg *live.Registry) []live.Record {
	var recs []live.Record
	next := uint64(0)
	for {
		var n uint64
		recs, n = reg.Frames(live.Query{From: next}, recs)
		if n == next {
			return recs
		}
		next = n
	}
}

func TestStreamStates(t *testing.T) {
	tests := []struct {
		name      string
		frames    []wire
		end       bool
		sid       uint32
		want      live.State
		opener    live.Side
		open      int
		frameCnt  [2]uint64
		sessOpen  int
		sessTotal uint64
	}{
		{"open", []wire{syn(c2s, 3)}, false, 3, live.Open, live.Client, 1, [2]uint64{1, 0}, 1, 1},
		{"half-closed by client", []wire{syn(c2s, 3), fin(c2s, 3)}, false, 3, live.HalfClosedByClient, live.Client, 1, [2]uint64{2, 0}, 1, 1},
		{"half-closed by server", []wire{syn(c2s, 3), fin(s2c, 3)}, false, 3, live.HalfClosedByServer, live.Client, 1, [2]uint64{1, 1}, 1, 1},
		{"closed client first", []wire{syn(c2s, 3), fin(c2s, 3), fin(s2c, 3)}, false, 3, live.Closed, live.Client, 0, [2]uint64{2, 1}, 0, 1},
		{"closed server first", []wire{syn(c2s, 3), fin(s2c, 3), fin(c2s, 3)}, false, 3, live.Closed, live.Client, 0, [2]uint64{2, 1}, 0, 1},
		{"opened by server", []wire{syn(s2c, 2), fin(s2c, 2)}, false, 2, live.HalfClosedByServer, live.Server, 1, [2]uint64{0, 2}, 1, 1},
		{"open ends with session", []wire{syn(c2s, 3)}, true, 3, live.EndedWithSession, live.Client, 0, [2]uint64{1, 0}, 0, 1},
		{"half-closed ends with session", []wire{syn(c2s, 3), syn(c2s, 5), fin(s2c, 3)}, true, 3, live.EndedWithSession, live.Client, 0, [2]uint64{1, 1}, 0, 2},
		{"closed stays closed on end", []wire{syn(c2s, 3), fin(c2s, 3), fin(s2c, 3)}, true, 3, live.Closed, live.Client, 0, [2]uint64{2, 1}, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := live.New(live.Config{})
			sc := openSession(reg, 1)
			sc.feed(tt.frames...)
			if tt.end {
				sc.s.End(at(100), live.EOF, nil)
			}
			ss := sc.snap(t, reg)
			st := ss.Stream(tt.sid)
			if st == nil {
				t.Fatalf("stream %d missing; streams %+v", tt.sid, ss.Streams)
			}
			if st.State != tt.want {
				t.Errorf("state = %v, want %v", st.State, tt.want)
			}
			if st.Opener != tt.opener {
				t.Errorf("opener = %v, want %v", st.Opener, tt.opener)
			}
			if st.Frames != tt.frameCnt {
				t.Errorf("frames = %v, want %v", st.Frames, tt.frameCnt)
			}
			if ss.Open != tt.sessOpen || ss.Total != tt.sessTotal {
				t.Errorf("session open/total = %d/%d, want %d/%d", ss.Open, ss.Total, tt.sessOpen, tt.sessTotal)
			}
			if got := reg.Snapshot().OpenStreams; got != tt.sessOpen {
				t.Errorf("snapshot open streams = %d, want %d", got, tt.sessOpen)
			}
			if got := st.State.Live(); got != (tt.open == 1) {
				t.Errorf("Live() = %v, want %v", got, tt.open == 1)
			}
			if ss.AnomalyCount != 0 {
				t.Errorf("anomalies = %d %+v, want none", ss.AnomalyCount, ss.Anomalies)
			}
		})
	}
}

// Frames can still arrive after End: the tap ends a session on the first
// failing Read, while smux may go on writing FINs for its streams.
func TestFramesAfterEnd(t *testing.T) {
	tests := []struct {
		name  string
		after []wire
		sid   uint32
		want  live.State
	}{
		{"FIN of half-closed stream", []wire{fin(c2s, 3)}, 3, live.EndedWithSession},
		{"both FINs of open stream", []wire{fin(c2s, 5), fin(s2c, 5)}, 5, live.EndedWithSession},
		{"new SYN", []wire{syn(c2s, 7)}, 7, live.EndedWithSession},
		{"new stream closed", []wire{syn(c2s, 7), fin(c2s, 7), fin(s2c, 7)}, 7, live.EndedWithSession},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := live.New(live.Config{})
			sc := openSession(reg, 1)
			sc.feed(syn(c2s, 3), fin(s2c, 3), syn(c2s, 5))
			sc.s.End(at(50), live.EOF, nil)
			sc.feed(tt.after...)
			snap := reg.Snapshot()
			ss := snap.Session(sc.s.ID())
			if ss.Open != 0 || snap.OpenStreams != 0 || snap.LiveSessions != 0 {
				t.Errorf("open streams = %d (snapshot %d), live sessions %d, want 0, 0, 0", ss.Open, snap.OpenStreams, snap.LiveSessions)
			}
			st := ss.Stream(tt.sid)
			if st == nil {
				t.Fatalf("stream %d missing", tt.sid)
			}
			if st.State != tt.want {
				t.Errorf("state = %v, want %v", st.State, tt.want)
			}
			var want uint64
			want = 3 + uint64(len(tt.after))
			if got := ss.Counts.Total(); got != want {
				t.Errorf("frames counted = %d, want %d", got, want)
			}
		})
	}
}

func TestFirstReply(t *testing.T) {
	tests := []struct {
		name   string
		frames []wire // frame i is at i ms
		sid    uint32
		want   time.Duration
	}{
		{"reply from server", []wire{syn(c2s, 3), psh(c2s, 3, "RAND"), nop(c2s), psh(s2c, 3, "12345678")}, 3, 3 * time.Millisecond},
		{"no reply yet", []wire{syn(c2s, 3), psh(c2s, 3, "RAND")}, 3, 0},
		{"opener's data is no reply", []wire{syn(c2s, 3), psh(c2s, 3, "a"), psh(c2s, 3, "b")}, 3, 0},
		{"empty PSH is no reply", []wire{syn(c2s, 3), psh(s2c, 3, ""), psh(s2c, 3, "x")}, 3, 2 * time.Millisecond},
		{"FIN is no reply", []wire{syn(c2s, 3), fin(s2c, 3)}, 3, 0},
		{"only the first reply counts", []wire{syn(c2s, 3), psh(s2c, 3, "x"), psh(s2c, 3, "y")}, 3, time.Millisecond},
		{"server-opened stream", []wire{syn(s2c, 2), psh(s2c, 2, "hi"), nop(s2c), nop(s2c), psh(c2s, 2, "yo")}, 2, 4 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := live.New(live.Config{})
			sc := openSession(reg, 1)
			sc.feed(tt.frames...)
			st := sc.snap(t, reg).Stream(tt.sid)
			if st == nil {
				t.Fatalf("stream %d missing", tt.sid)
			}
			if st.FirstReply != tt.want {
				t.Errorf("first reply = %v, want %v", st.FirstReply, tt.want)
			}
			if !st.First.Equal(at(0)) {
				t.Errorf("first = %v, want %v", st.First, at(0))
			}
		})
	}
}

func TestStreamCounts(t *testing.T) {
	tests := []struct {
		name    string
		ver     uint8
		frames  []wire
		sid     uint32
		frames2 [2]uint64
		bytes   [2]uint64
	}{
		{"RAND", 1, []wire{syn(c2s, 3), psh(c2s, 3, "RAND"), psh(s2c, 3, "12345678"), fin(s2c, 3), fin(c2s, 3)}, 3, [2]uint64{3, 2}, [2]uint64{4, 8}},
		{"several PSH", 1, []wire{syn(c2s, 3), psh(c2s, 3, "ab"), psh(c2s, 3, "cde"), psh(s2c, 3, "f")}, 3, [2]uint64{3, 1}, [2]uint64{5, 1}},
		{"other streams and NOP do not count", 1, []wire{syn(c2s, 3), syn(c2s, 5), psh(c2s, 5, "zzz"), nop(s2c), psh(s2c, 3, "ok")}, 3, [2]uint64{1, 1}, [2]uint64{0, 2}},
		{"UPD counts as a frame, not as bytes", 2, []wire{syn(c2s, 3), psh(c2s, 3, "RAND"), upd(s2c, 3, 4, 65536), psh(s2c, 3, "12345678"), upd(c2s, 3, 8, 65536)}, 3, [2]uint64{3, 2}, [2]uint64{4, 8}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := live.New(live.Config{})
			sc := openSession(reg, tt.ver)
			sc.feed(tt.frames...)
			st := sc.snap(t, reg).Stream(tt.sid)
			if st == nil {
				t.Fatalf("stream %d missing", tt.sid)
			}
			if st.Frames != tt.frames2 {
				t.Errorf("frames = %v, want %v", st.Frames, tt.frames2)
			}
			if st.Bytes != tt.bytes {
				t.Errorf("bytes = %v, want %v", st.Bytes, tt.bytes)
			}
		})
	}
}

func TestSessionCounts(t *testing.T) {
	reg := live.New(live.Config{})
	sc := openSession(reg, 2)
	sc.feed(
		syn(c2s, 3), psh(c2s, 3, "RAND"), upd(s2c, 3, 4, 65536),
		psh(s2c, 3, "12345678"), upd(c2s, 3, 8, 65536),
		fin(s2c, 3), fin(c2s, 3), nop(c2s), nop(c2s), nop(s2c),
		syn(s2c, 2), psh(s2c, 2, ""), // empty PSH: an anomaly, still counted
	)
	const (
		syn_, fin_, psh_, nop_, upd_ = decoder.SYN, decoder.FIN, decoder.PSH, decoder.NOP, decoder.UPD
	)
	var want live.Counts
	set := func(d live.Dir, cmd decoder.Cmd, frames, bytes uint64) {
		want.Frames[d][cmd], want.Bytes[d][cmd] = frames, bytes
	}
	set(c2s, syn_, 1, 8)
	set(c2s, psh_, 1, 8+4)
	set(c2s, upd_, 1, 8+8)
	set(c2s, fin_, 1, 8)
	set(c2s, nop_, 2, 16)
	set(s2c, upd_, 1, 8+8)
	set(s2c, psh_, 2, 8+8+8)
	set(s2c, fin_, 1, 8)
	set(s2c, nop_, 1, 8)
	set(s2c, syn_, 1, 8)

	snap := reg.Snapshot()
	ss := snap.Session(sc.s.ID())
	if ss.Counts != want {
		t.Errorf("counts =\n%+v\nwant\n%+v", ss.Counts, want)
	}
	if snap.Totals != want {
		t.Errorf("totals =\n%+v\nwant\n%+v", snap.Totals, want)
	}
	for _, tc := range []struct {
		name      string
		got, want uint64
	}{
		{"Cmd(PSH)", ss.Counts.Cmd(decoder.PSH), 3},
		{"Cmd(UPD)", ss.Counts.Cmd(decoder.UPD), 2},
		{"Cmd(unknown)", ss.Counts.Cmd(decoder.Cmd(9)), 0},
		{"FramesDir(→)", ss.Counts.FramesDir(c2s), 6},
		{"FramesDir(←)", ss.Counts.FramesDir(s2c), 6},
		{"BytesDir(→)", ss.Counts.BytesDir(c2s), 6*8 + 4 + 8},
		{"BytesDir(←)", ss.Counts.BytesDir(s2c), 6*8 + 8 + 8},
		{"Total", ss.Counts.Total(), 12},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %d, want %d", tc.name, tc.got, tc.want)
		}
	}
	if ss.Version != 2 {
		t.Errorf("version = %d, want 2", ss.Version)
	}
	if !ss.Last.Equal(at(sc.n - 1)) {
		t.Errorf("last = %v, want %v", ss.Last, at(sc.n-1))
	}
}

func TestAnomalies(t *testing.T) {
	const unknown = live.State(255) // no such stream is created
	tests := []struct {
		name   string
		frames []wire // the last frame is the anomalous one
		want   live.Anomaly
		sid    uint32
		state  live.State // the stream's state after the anomaly
	}{
		{"duplicate SYN", []wire{syn(c2s, 3), syn(c2s, 3)}, live.DuplicateSYN, 3, live.Open},
		{"duplicate SYN from the other side", []wire{syn(c2s, 3), syn(s2c, 3)}, live.DuplicateSYN, 3, live.Open},
		// The first SYN settles which side opens odd ids (a TCP dialer may
		// run the mux's server role); a later SYN of the other side's
		// parity is the anomaly.
		{"client changes parity", []wire{syn(c2s, 3), syn(c2s, 4)}, live.WrongParity, 4, live.Open},
		{"server opens the client's parity", []wire{syn(c2s, 3), syn(s2c, 5)}, live.WrongParity, 5, live.Open},
		// smux bumps its counter before use: a client's first id is 3, a server's 2.
		{"client opens id 1", []wire{syn(c2s, 1)}, live.WrongParity, 1, live.Open},
		{"server opens id 0", []wire{syn(s2c, 0)}, live.WrongParity, 0, live.Open},
		// smux removed the stream after both FINs: the SYN opens a new one.
		{"reused id", []wire{syn(c2s, 3), psh(c2s, 3, "old"), fin(c2s, 3), fin(s2c, 3), syn(c2s, 3)}, live.ReusedID, 3, live.Open},
		{"PSH to unknown stream", []wire{psh(c2s, 9, "x")}, live.UnknownStream, 9, unknown},
		{"FIN to unknown stream", []wire{fin(s2c, 9)}, live.UnknownStream, 9, unknown},
		{"UPD to unknown stream", []wire{upd(s2c, 9, 1, 65536)}, live.UnknownStream, 9, unknown},
		{"PSH to closed stream", []wire{syn(c2s, 3), fin(c2s, 3), fin(s2c, 3), psh(s2c, 3, "late")}, live.ClosedStream, 3, live.Closed},
		{"empty PSH", []wire{syn(c2s, 3), psh(c2s, 3, "")}, live.EmptyPSH, 3, live.Open},
		{"PSH after FIN", []wire{syn(c2s, 3), fin(c2s, 3), psh(c2s, 3, "more")}, live.PSHAfterFIN, 3, live.HalfClosedByClient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := live.New(live.Config{})
			sc := openSession(reg, 1)
			sc.feed(tt.frames...)
			last := tt.frames[len(tt.frames)-1]
			lastOff := sc.off[last.dir] - decoder.HeaderSize - int64(len(last.payload))
			// The anomaly is not fatal: a new stream works as usual.
			sc.feed(syn(c2s, 101), psh(c2s, 101, "RAND"), psh(s2c, 101, "reply"))

			snap := reg.Snapshot()
			ss := snap.Session(sc.s.ID())
			if ss.AnomalyCount != 1 || len(ss.Anomalies) != 1 || snap.Anomalies != 1 {
				t.Fatalf("anomalies = %d %+v (snapshot %d), want one %v", ss.AnomalyCount, ss.Anomalies, snap.Anomalies, tt.want)
			}
			a := ss.Anomalies[0]
			wantInfo := live.AnomalyInfo{Anomaly: tt.want, Dir: last.dir, At: at(len(tt.frames) - 1), Offset: lastOff,
				Header: decoder.MakeHeader(1, last.cmd, uint16(len(last.payload)), last.sid)}
			if a != wantInfo {
				t.Errorf("anomaly = %+v, want %+v", a, wantInfo)
			}
			if a.Anomaly.SmuxReaction() == "" {
				t.Errorf("anomaly %v has no smux reaction", a.Anomaly)
			}
			if ss.Ended || len(ss.Framing) != 0 || snap.Violations != 0 {
				t.Errorf("ended %v, framing %v: an anomaly must not be fatal", ss.Ended, ss.Framing)
			}
			if st := ss.Stream(101); st == nil || st.State != live.Open || st.Bytes != [2]uint64{4, 5} {
				t.Errorf("stream after the anomaly = %+v, want open with bytes [4 5]", st)
			}
			if tt.state != unknown {
				st := ss.Stream(tt.sid)
				if st == nil {
					t.Fatalf("stream %d missing", tt.sid)
				}
				if st.State != tt.state {
					t.Errorf("stream %d state = %v, want %v", tt.sid, st.State, tt.state)
				}
			} else if len(ss.Streams) != 1 {
				t.Errorf("streams = %+v, want only 101: an unknown stream is not created", ss.Streams)
			}
			// The history record of the anomalous frame carries the code, the others none.
			var marked []live.Anomaly
			for _, r := range allRecords(reg) {
				if r.Kind == live.FrameRecord && r.Anomaly != 0 {
					marked = append(marked, r.Anomaly)
				}
			}
			if len(marked) != 1 || marked[0] != tt.want {
				t.Errorf("history anomalies = %v, want [%v]", marked, tt.want)
			}
		})
	}
}

func TestAnomalyStrings(t *testing.T) {
	tests := []struct {
		a    live.Anomaly
		want string
	}{
		{live.DuplicateSYN, "DUPLICATE_SYN"},
		{live.WrongParity, "WRONG_PARITY"},
		{live.UnknownStream, "UNKNOWN_STREAM"},
		{live.ClosedStream, "CLOSED_STREAM"},
		{live.EmptyPSH, "EMPTY_PSH"},
		{live.PSHAfterFIN, "PSH_AFTER_FIN"},
		{live.ReusedID, "REUSED_ID"},
		{live.ConsumedMoreThanSent, "CONSUMED_MORE_THAN_SENT"},
		{0, "UNKNOWN_ANOMALY_0"},
		{live.WindowExceeded, "WINDOW_EXCEEDED"},
		{live.RepeatedFIN, "REPEATED_FIN"},
		{live.NumAnomalies, "UNKNOWN_ANOMALY_11"},
	}
	for _, tt := range tests {
		if got := tt.a.String(); got != tt.want {
			t.Errorf("Anomaly(%d).String() = %q, want %q", uint8(tt.a), got, tt.want)
		}
		if got := tt.a.SmuxReaction(); (got != "") != (tt.a != 0 && tt.a < live.NumAnomalies) {
			t.Errorf("Anomaly(%d).SmuxReaction() = %q", uint8(tt.a), got)
		}
	}
}

func TestViolation(t *testing.T) {
	reg := live.New(live.Config{})
	sc := openSession(reg, 1)
	sc.feed(syn(c2s, 3), psh(c2s, 3, "RAND"))
	bad := decoder.MakeHeader(7, decoder.PSH, 3, 3)
	v := &decoder.Violation{Code: decoder.BadVersion, Offset: 20, Header: bad}
	sc.s.Violation(c2s, at(10), v)
	sc.s.Unparsed(c2s, 11)
	// A second violation in the same direction cannot happen with one
	// decoder, but must not count twice if it does.
	sc.s.Violation(c2s, at(11), &decoder.Violation{Code: decoder.UnknownCmd, Offset: 40})
	sc.s.Unparsed(c2s, 30)
	v2 := &decoder.Violation{Code: decoder.LengthNotZero, Offset: 0, Header: decoder.MakeHeader(1, decoder.SYN, 4, 2)}
	sc.s.Violation(s2c, at(12), v2)

	snap := reg.Snapshot()
	ss := snap.Session(sc.s.ID())
	want := []live.FramingInfo{
		{Dir: c2s, At: at(10), Code: decoder.BadVersion, Offset: 20, Header: bad, Detail: v.Detail()},
		{Dir: s2c, At: at(12), Code: decoder.LengthNotZero, Offset: 0, Header: v2.Header, Detail: v2.Detail()},
	}
	if len(ss.Framing) != len(want) {
		t.Fatalf("framing = %+v, want %+v", ss.Framing, want)
	}
	for i := range want {
		if ss.Framing[i] != want[i] {
			t.Errorf("framing[%d] = %+v, want %+v", i, ss.Framing[i], want[i])
		}
	}
	if snap.Violations != 2 {
		t.Errorf("snapshot violations = %d, want 2", snap.Violations)
	}
	if ss.Unparsed != [2]int64{30, 0} {
		t.Errorf("unparsed = %v, want [30 0]", ss.Unparsed)
	}
	if ss.Ended {
		t.Errorf("a violation ended the session; smux closes it only on keepalive timeout")
	}

	var got []live.Record
	for _, r := range allRecords(reg) {
		if r.Kind == live.FramingViolation {
			got = append(got, r)
		}
	}
	if len(got) != 2 {
		t.Fatalf("violation records = %+v, want 2", got)
	}
	for i, w := range want {
		r := got[i]
		if r.Session != sc.s.ID() || r.Dir != w.Dir || !r.At.Equal(w.At) || r.Code != w.Code || r.Offset != w.Offset || r.Header != w.Header || r.Detail != w.Detail || r.Payload != nil {
			t.Errorf("violation record %d = %+v, want %+v", i, r, w)
		}
		if r.Kind.String() != "violation" {
			t.Errorf("kind = %q, want %q", r.Kind, "violation")
		}
	}
}

func TestSessionEvents(t *testing.T) {
	reg := live.New(live.Config{})
	info := live.SessionInfo{Client: "10.0.0.1:5000", Server: "10.0.0.2:9000", Tap: live.Server, Label: "attach"}
	s := reg.Open(info, at(0))
	f := frame(1, syn(c2s, 3), 0)
	s.Record(c2s, at(1), f)
	s.End(at(2), live.ReadError, errors.New("read: boom"))
	s.End(at(3), live.EOF, nil) // only the first End counts

	recs := allRecords(reg)
	// Records carry facts as fields: addresses, the reason as a code, the
	// error apart.
	want := []live.Record{
		{Kind: live.SessionOpened, At: at(0), Client: "10.0.0.1:5000", Server: "10.0.0.2:9000", Label: "attach", Tap: live.Server},
		{Kind: live.FrameRecord, At: at(1), Header: f.Header},
		{Kind: live.SessionEnded, At: at(2), Reason: live.ReadError, Detail: "read: boom"},
	}
	if len(recs) != len(want) {
		t.Fatalf("records = %+v, want %d", recs, len(want))
	}
	for i, w := range want {
		w.Seq, w.Session = uint64(i+1), s.ID()
		r := recs[i]
		r.At, w.At = r.At.UTC(), w.At.UTC()
		if fmt.Sprintf("%+v", r) != fmt.Sprintf("%+v", w) {
			t.Errorf("record %d =\n%+v\nwant\n%+v", i, r, w)
		}
	}
	ss := reg.Snapshot().Session(s.ID())
	if ss.Info != info || ss.Peer() != "10.0.0.1:5000" || !ss.Start.Equal(at(0)) || !ss.End.Equal(at(2)) {
		t.Errorf("session = info %+v peer %q start %v end %v", ss.Info, ss.Peer(), ss.Start, ss.End)
	}
	if s.Info() != info {
		t.Errorf("Info() = %+v, want %+v", s.Info(), info)
	}
	if reg.Session(s.ID()) != s || reg.Session(s.ID()+1) != nil {
		t.Errorf("Registry.Session does not find session %d alone", s.ID())
	}
}

func TestCloseReasons(t *testing.T) {
	tests := []struct {
		reason live.CloseReason
		err    error
		name   string
		errStr string
		code   string
	}{
		{live.EOF, nil, "EOF", "", "eof"},
		{live.Reset, nil, "reset", "", "reset"},
		{live.LocalClose, nil, "local close", "", "local_close"},
		{live.ReadError, errors.New("read tcp: i/o error"), "I/O error", "read tcp: i/o error", "io_error"},
		{live.Shutdown, nil, "shutdown", "", "shutdown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := live.New(live.Config{})
			sc := openSession(reg, 1)
			sc.feed(syn(c2s, 3))
			if ss := sc.snap(t, reg); ss.Ended || ss.Reason != live.NotClosed || ss.Reason.String() != "open" {
				t.Errorf("before End: ended %v reason %v, want false open", ss.Ended, ss.Reason)
			}
			sc.s.End(at(9), tt.reason, tt.err)
			ss := sc.snap(t, reg)
			if !ss.Ended || ss.Reason != tt.reason || ss.Err != tt.errStr || !ss.End.Equal(at(9)) {
				t.Errorf("ended %v reason %v err %q end %v, want true %v %q %v", ss.Ended, ss.Reason, ss.Err, ss.End, tt.reason, tt.errStr, at(9))
			}
			if got := tt.reason.String(); got != tt.name {
				t.Errorf("String() = %q, want %q", got, tt.name)
			}
			if got := tt.reason.Code(); got != tt.code {
				t.Errorf("Code() = %q, want %q", got, tt.code)
			}
			recs := allRecords(reg)
			last := recs[len(recs)-1]
			if last.Kind != live.SessionEnded || last.Reason != tt.reason || last.Detail != tt.errStr {
				t.Errorf("last record = %v %v %q, want %v %v %q", last.Kind, last.Reason, last.Detail, live.SessionEnded, tt.reason, tt.errStr)
			}
		})
	}
}

func TestStrings(t *testing.T) {
	tests := []struct {
		name      string
		got, want string
	}{
		{"Client", live.Client.String(), "client"},
		{"Server", live.Server.String(), "server"},
		{"Client letter", live.Client.Letter(), "c"},
		{"Server letter", live.Server.Letter(), "s"},
		{"→", c2s.String(), "→"},
		{"←", s2c.String(), "←"},
		{"c2s", c2s.Code(), "c2s"},
		{"s2c", s2c.Code(), "s2c"},
		{"client to server", c2s.Words(), "client to server"},
		{"server to client", s2c.Words(), "server to client"},
		{"open", live.Open.String(), "open"},
		{"half-closed by client", live.HalfClosedByClient.String(), "half-closed→"},
		{"half-closed by server", live.HalfClosedByServer.String(), "half-closed←"},
		{"closed", live.Closed.String(), "closed"},
		{"ended", live.EndedWithSession.String(), "ended"},
		{"bad state", live.State(9).String(), "unknown"},
		{"frame", live.FrameRecord.String(), "frame"},
		{"session-opened", live.SessionOpened.String(), "session-opened"},
		{"session-ended", live.SessionEnded.String(), "session-ended"},
		{"session-half-closed", live.SessionHalfClosed.String(), "session-half-closed"},
		{"bad kind", live.Kind(10).String(), "unknown"},
		{"bad reason", live.CloseReason(9).String(), "unknown"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
	}
	for _, tt := range []struct {
		name string
		got  any
		want any
	}{
		{"→ sender", c2s.Sender(), live.Client},
		{"← sender", s2c.Sender(), live.Server},
		{"→ reverse", c2s.Reverse(), s2c},
		{"client sends", live.Client.Sends(), c2s},
		{"server sends", live.Server.Sends(), s2c},
	} {
		if tt.got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	tests := []struct {
		name string
		in   live.Config
		want live.Config
	}{
		{"zero", live.Config{}, live.Config{History: live.DefaultHistory, Snaplen: live.DefaultSnaplen,
			ClosedStreams: live.DefaultClosedStreams, StreamBudget: live.DefaultStreamBudget, EndedSessions: live.DefaultEndedSessions, Anomalies: live.DefaultAnomalies}},
		{"negative means none", live.Config{History: -1, Snaplen: -1, ClosedStreams: -1, StreamBudget: -1, EndedSessions: -1, Anomalies: -1}, live.Config{}},
		{"exactly 0", live.Config{History: live.Exactly(0), Snaplen: live.Exactly(0), ClosedStreams: live.Exactly(0),
			StreamBudget: live.Exactly(0), EndedSessions: live.Exactly(0), Anomalies: live.Exactly(0)}, live.Config{}},
		{"exactly n", live.Config{History: live.Exactly(1), Snaplen: live.Exactly(2), ClosedStreams: live.Exactly(3),
			StreamBudget: live.Exactly(6), EndedSessions: live.Exactly(4), Anomalies: live.Exactly(5)},
			live.Config{History: 1, Snaplen: 2, ClosedStreams: 3, StreamBudget: 6, EndedSessions: 4, Anomalies: 5}},
		{"kept", live.Config{History: 1, Snaplen: 2, ClosedStreams: 3, StreamBudget: 6, EndedSessions: 4, Anomalies: 5},
			live.Config{History: 1, Snaplen: 2, ClosedStreams: 3, StreamBudget: 6, EndedSessions: 4, Anomalies: 5}},
	}
	for _, tt := range tests {
		if got := live.New(tt.in).Config(); got.Clock != nil || fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s: Config() = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestNotices(t *testing.T) {
	reg := live.New(live.Config{})
	for i := range live.MaxNotices + 3 {
		reg.Notice(at(i), fmt.Sprintf("notice %d", i))
	}
	snap := reg.Snapshot()
	if len(snap.Notices) != live.MaxNotices {
		t.Fatalf("notices = %d, want %d", len(snap.Notices), live.MaxNotices)
	}
	for i, n := range snap.Notices {
		want := fmt.Sprintf("notice %d", i+3)
		if n.Text != want || !n.At.Equal(at(i+3)) {
			t.Errorf("notice %d = %q at %v, want %q at %v", i, n.Text, n.At, want, at(i+3))
		}
	}
	recs := allRecords(reg)
	if len(recs) != live.MaxNotices+3 || recs[0].Kind != live.NoticeRecord || recs[0].Detail != "notice 0" || recs[0].Kind.String() != "notice" {
		t.Errorf("history = %d records, first %v %q; want %d, notice %q", len(recs), recs[0].Kind, recs[0].Detail, live.MaxNotices+3, "notice 0")
	}
	// A snapshot's notices are its own.
	reg.Notice(at(99), "later")
	if snap.Notices[live.MaxNotices-1].Text != fmt.Sprintf("notice %d", live.MaxNotices+2) {
		t.Errorf("old snapshot's last notice changed to %q", snap.Notices[live.MaxNotices-1].Text)
	}
}

// TestLateFramesOfFoldedStream: smux sends FIN and UPD for a stream after
// both FINs (a Close after CloseWrite before the peer's FIN is read; a v2
// reader consuming what came before the FIN). Once the stream is folded
// into the summary they name no tracked stream, but they are not an
// anomaly: its id was opened. A PSH is, and so is any frame for an id
// above every one opened.
func TestLateFramesOfFoldedStream(t *testing.T) {
	reg := live.New(live.Config{ClosedStreams: 1})
	sc := openSession(reg, 2)
	sc.feed(syn(c2s, 3), psh(s2c, 3, "data"), fin(c2s, 3), fin(s2c, 3),
		syn(c2s, 5), fin(c2s, 5), fin(s2c, 5)) // stream 3 is folded
	sc.feed(fin(c2s, 3), upd(c2s, 3, 4, 65536))
	ss := sc.snap(t, reg)
	if ss.Stream(3) != nil || ss.AnomalyCount != 0 {
		t.Fatalf("stream 3 %+v, anomalies %v: want it folded, and no anomaly", ss.Stream(3), ss.Anomalies)
	}
	sc.feed(psh(s2c, 3, "late"), upd(c2s, 7, 0, 65536))
	ss = sc.snap(t, reg)
	var got []string
	for _, a := range ss.Anomalies {
		got = append(got, fmt.Sprintf("%v %d", a.Anomaly, a.Header.StreamID()))
	}
	if fmt.Sprint(got) != "[UNKNOWN_STREAM 3 UNKNOWN_STREAM 7]" {
		t.Errorf("anomalies %v, want a PSH to the folded stream 3 and a UPD to the never opened 7", got)
	}
	if a, c := ss.Accounted(), ss.Counted(); a != c {
		t.Errorf("accounted %+v, counted %+v", a, c)
	}
}

// TestVersionChangedBySender: a tap told its end's version names a foreign
// frame VERSION_MISMATCH. When the sender had spoken that version before
// (no smux end changes it; a raw peer may), the ends do not speak
// different versions: only that direction stops, and the tapped end's
// frames are still recorded. Found by internal/smuxdiff.
func TestVersionChangedBySender(t *testing.T) {
	reg := live.New(live.Config{})
	sc := openSession(reg, 2)
	sc.feed(syn(c2s, 3), psh(c2s, 3, "ok"))
	sc.s.Violation(c2s, at(sc.n), &decoder.Violation{Code: decoder.VersionMismatch, Offset: sc.off[c2s],
		Header: decoder.MakeHeader(1, decoder.NOP, 0, 0), Want: 2})
	if !sc.s.Record(s2c, at(sc.n+1), frame(2, upd(s2c, 3, 2, 65536), 0)) {
		t.Fatal("the receiver's v2 UPD was refused as if the ends spoke different versions")
	}
	ss := sc.snap(t, reg)
	if len(ss.Framing) != 1 || ss.Counts.Frames[s2c][decoder.UPD] != 1 || ss.Versions != [2]uint8{2, 2} {
		t.Errorf("framing %+v, UPDs %d, versions %v; want one violation, the UPD counted, versions [2 2]", ss.Framing, ss.Counts.Frames[s2c][decoder.UPD], ss.Versions)
	}
}

// TestRetractAfterFold: a tap records the frames of a Write before the
// bytes go out; if the session ends meanwhile (folding the frame's stream
// into the summary) and then the Write fails, the frame is taken back from
// the summary, where it now is, not from the untracked frames, which would
// lose one (or wrap below zero). Found by internal/smuxdiff, a session
// closed mid-write.
func TestRetractAfterFold(t *testing.T) {
	reg := live.New(live.Config{ClosedStreams: -1}) // the ended session keeps no stream in detail
	sc := openSession(reg, 2)
	sc.feed(syn(c2s, 3), nop(c2s))
	f := frame(2, upd(c2s, 3, 1, 65536), sc.off[c2s])
	ref, ok := sc.s.RecordRef(c2s, at(sc.n), f)
	if !ok {
		t.Fatal("the UPD was refused")
	}
	sc.s.End(at(sc.n+1), live.Reset, nil)
	sc.s.Retract(c2s, f.Header, ref)
	ss := sc.snap(t, reg)
	if ss.Untracked.Frames[c2s] != 1 || ss.Closed.Frames[c2s] != 1 || ss.Counts.Frames[c2s][decoder.UPD] != 0 {
		t.Errorf("untracked %+v, folded %+v, UPDs %d: want the NOP untracked, the SYN folded, no UPD",
			ss.Untracked, ss.Closed, ss.Counts.Frames[c2s][decoder.UPD])
	}
	if a, c := ss.Accounted(), ss.Counted(); a != c {
		t.Errorf("accounted %+v, counted %+v", a, c)
	}
}

// TestRetractTakesBackFirstBytes: a tap records a PSH before its Write;
// when the Write fails, Retract takes back the bytes it added to the
// stream's first bytes, which never went on the wire; a retracted frame
// that added none (a FIN) leaves them. Before, the snapshot showed
// "GET /SECRET-NEVER-SENT" as what the stream carried.
func TestRetractTakesBackFirstBytes(t *testing.T) {
	reg := live.New(live.Config{})
	sc := openSession(reg, 2)
	sc.feed(syn(c2s, 3), psh(c2s, 3, "GET /"))
	f := frame(2, psh(c2s, 3, "SECRET-NEVER-SENT"), sc.off[c2s])
	ref, ok := sc.s.RecordRef(c2s, at(sc.n+5), f)
	if !ok {
		t.Fatal("the PSH was refused")
	}
	sc.s.Retract(c2s, f.Header, ref)
	closing := frame(2, fin(c2s, 3), sc.off[c2s])
	if ref, ok = sc.s.RecordRef(c2s, at(sc.n+6), closing); !ok {
		t.Fatal("the FIN was refused")
	}
	sc.s.Retract(c2s, closing.Header, ref)
	st := sc.snap(t, reg).Stream(3)
	if got := string(st.Head[c2s].Bytes()); got != "GET /" || st.Head[c2s].Cut {
		t.Errorf("first client bytes %q (cut %v), want %q: the unsent frames' bytes are taken back, no more", got, st.Head[c2s].Cut, "GET /")
	}
	if st.Bytes[c2s] != 5 {
		t.Errorf("bytes %d, want 5", st.Bytes[c2s])
	}
}

// TestUnsentNoticesCapped: failed writes are named one notice each up to
// live.MaxUnsentNotices over every session, then once that the rest are
// not; every one still counts its bytes. Before, each was a line of its
// own (37 identical "← a write failed: the last 8 bytes …" in one run):
//
//	12 notices of failed writes, want 6
func TestUnsentNoticesCapped(t *testing.T) {
	reg := live.New(live.Config{})
	const n = 12
	for i := range n {
		s := reg.Open(live.SessionInfo{}, at(i))
		s.Unsent(live.ServerToClient, at(i), 0, 8)
	}
	var named, more int
	for _, r := range allRecords(reg) {
		switch {
		case r.Kind != live.NoticeRecord:
		case r.Detail == live.UnsentText(live.ServerToClient, 0, 8):
			named++
		case r.Detail == live.UnsentMoreText:
			more++
		}
	}
	if named+more != live.MaxUnsentNotices+1 || named != live.MaxUnsentNotices || more != 1 {
		t.Errorf("%d notices of failed writes, want %d: %d named, %d saying the rest are not", named+more, live.MaxUnsentNotices+1, named, more)
	}
	if got := reg.Snapshot().Unsent[live.ServerToClient]; got != 8*n {
		t.Errorf("unsent ← %d bytes, want %d: every failed write counts", got, 8*n)
	}
}

package live_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/internal/racetest"
	"github.com/muxtop/muxtop/live"
)

// pshN returns n PSH frames on stream 3 whose payloads are "p0", "p1", ….
func pshN(n int) []wire {
	ws := make([]wire, n)
	for i := range ws {
		ws[i] = psh(c2s, 3, fmt.Sprintf("p%d", i))
	}
	return ws
}

func TestHistoryEviction(t *testing.T) {
	tests := []struct {
		name    string
		history int
		frames  int // PSH frames after the SessionOpened event and a SYN
		want    live.HistoryStats
	}{
		{"fits", 10, 3, live.HistoryStats{Cap: 10, First: 1, Next: 6}},
		{"exactly full", 5, 3, live.HistoryStats{Cap: 5, First: 1, Next: 6}},
		{"one evicted", 5, 4, live.HistoryStats{Cap: 5, First: 2, Next: 7, Evicted: 1}},
		{"many evicted", 4, 100, live.HistoryStats{Cap: 4, First: 99, Next: 103, Evicted: 98}},
		{"one slot", 1, 10, live.HistoryStats{Cap: 1, First: 12, Next: 13, Evicted: 11}},
		{"no history", -1, 10, live.HistoryStats{Cap: 0, First: 1, Next: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := live.New(live.Config{History: tt.history})
			sc := openSession(reg, 1)
			sc.feed(syn(c2s, 3))
			sc.feed(pshN(tt.frames)...)
			snap := reg.Snapshot()
			if snap.History != tt.want {
				t.Errorf("history = %+v, want %+v", snap.History, tt.want)
			}
			if got, want := snap.History.Len(), min(tt.want.Cap, 2+tt.frames); got != want {
				t.Errorf("Len() = %d, want %d", got, want)
			}
			// Evicted frames still count.
			if got, want := snap.Totals.Frames[c2s][decoder.PSH], uint64(tt.frames); got != want {
				t.Errorf("PSH frames = %d, want %d", got, want)
			}
			recs := allRecords(reg)
			if len(recs) != tt.want.Len() {
				t.Fatalf("read %d records, want %d", len(recs), tt.want.Len())
			}
			for i, r := range recs {
				if r.Seq != tt.want.First+uint64(i) {
					t.Errorf("record %d seq = %d, want %d", i, r.Seq, tt.want.First+uint64(i))
				}
			}
			// The newest record is the last PSH, with its payload.
			if n := len(recs); n > 0 {
				want := fmt.Sprintf("p%d", tt.frames-1)
				if got := string(recs[n-1].Payload); got != want || recs[n-1].Kind != live.FrameRecord {
					t.Errorf("newest record = %v %q, want frame %q", recs[n-1].Kind, got, want)
				}
			}
		})
	}
}

func TestHistoryRecordFields(t *testing.T) {
	reg := live.New(live.Config{})
	sc := openSession(reg, 2)
	sc.feed(syn(c2s, 3), psh(c2s, 3, "RAND"), upd(s2c, 3, 4, 65536), psh(c2s, 9, "?"))
	recs := allRecords(reg)
	if len(recs) != 5 {
		t.Fatalf("records = %d, want 5", len(recs))
	}
	want := []live.Record{
		{Seq: 2, Kind: live.FrameRecord, Session: sc.s.ID(), Dir: c2s, At: at(0), Offset: 0, Header: decoder.MakeHeader(2, decoder.SYN, 0, 3)},
		{Seq: 3, Kind: live.FrameRecord, Session: sc.s.ID(), Dir: c2s, At: at(1), Offset: 8, Header: decoder.MakeHeader(2, decoder.PSH, 4, 3), Payload: []byte("RAND")},
		{Seq: 4, Kind: live.FrameRecord, Session: sc.s.ID(), Dir: s2c, At: at(2), Offset: 0, Header: decoder.MakeHeader(2, decoder.UPD, 8, 3),
			Payload: []byte(upd(s2c, 3, 4, 65536).payload), Consumed: 4, Window: 65536},
		{Seq: 5, Kind: live.FrameRecord, Session: sc.s.ID(), Dir: c2s, At: at(3), Offset: 20, Header: decoder.MakeHeader(2, decoder.PSH, 1, 9),
			Payload: []byte("?"), Anomaly: live.UnknownStream},
	}
	for i, w := range want {
		if got := recs[i+1]; !sameRecord(got, w) {
			t.Errorf("record %d =\n%+v\nwant\n%+v", i+1, got, w)
		}
	}
}

// sameRecord compares records; times by instant, as history keeps no zone.
func sameRecord(a, b live.Record) bool {
	p, q := a.Payload, b.Payload
	a.Payload, b.Payload = nil, nil
	sameTime := a.At.Equal(b.At)
	a.At, b.At = time.Time{}, time.Time{}
	return reflect.DeepEqual(a, b) && bytes.Equal(p, q) && sameTime
}

func TestSnaplen(t *testing.T) {
	long := "0123456789"
	tests := []struct {
		name      string
		snaplen   int
		f         *decoder.Frame
		payload   string
		truncated bool
	}{
		{"shorter than snaplen", 4, frame(1, psh(c2s, 3, "abc"), 0), "abc", false},
		{"as long as snaplen", 4, frame(1, psh(c2s, 3, "abcd"), 0), "abcd", false},
		{"longer than snaplen", 4, frame(1, psh(c2s, 3, long), 0), "0123", true},
		{"truncated by the decoder", 4, &decoder.Frame{Header: decoder.MakeHeader(1, decoder.PSH, 100, 3), Payload: []byte("01"), Truncated: true}, "01", true},
		{"decoder's snapshot longer than snaplen", 4, &decoder.Frame{Header: decoder.MakeHeader(1, decoder.PSH, 100, 3), Payload: []byte(long), Truncated: true}, "0123", true},
		{"no snaplen", -1, frame(1, psh(c2s, 3, long), 0), "", true},
		{"default snaplen", 0, frame(1, psh(c2s, 3, long), 0), long, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := live.New(live.Config{Snaplen: tt.snaplen})
			s := reg.Open(live.SessionInfo{}, t0)
			s.Record(c2s, t0, frame(1, syn(c2s, 3), 0))
			s.Record(c2s, t0, tt.f)
			recs, _ := reg.Frames(live.Query{From: 3}, nil)
			if len(recs) != 1 {
				t.Fatalf("records = %d, want 1", len(recs))
			}
			r := recs[0]
			if string(r.Payload) != tt.payload || r.Truncated != tt.truncated {
				t.Errorf("payload %q truncated %v, want %q %v", r.Payload, r.Truncated, tt.payload, tt.truncated)
			}
			if r.Header != tt.f.Header {
				t.Errorf("header = %v, want %v", r.Header, tt.f.Header)
			}
			// Counts use the header's length, not the kept bytes.
			ss := reg.Snapshot().Session(s.ID())
			if got, want := ss.Counts.Bytes[c2s][decoder.PSH], uint64(decoder.HeaderSize)+uint64(tt.f.Length()); got != want {
				t.Errorf("PSH bytes = %d, want %d", got, want)
			}
		})
	}
}

// TestPayloadPastSlot records payloads of every length around the 64
// bytes a history slot holds itself, the rest kept elsewhere, into a ring
// small enough that each slot is reused by payloads of other lengths: a
// record reads back exactly its own first snaplen bytes, in Frames' copy
// and in what Match is shown.
func TestPayloadPastSlot(t *testing.T) {
	lens := []int{0, 1, 8, 63, 64, 65, 100, 127, 128, 129, 255, 256, 257, 1000}
	for _, snaplen := range []int{1, 63, 64, 65, 100, 256, 1000} {
		reg := live.New(live.Config{History: 5, Snaplen: snaplen})
		s := reg.Open(live.SessionInfo{}, t0)
		s.Record(c2s, t0, frame(1, syn(c2s, 3), 0))
		for round := range 3 {
			for j, n := range lens {
				p := make([]byte, n)
				for k := range p {
					p[k] = byte(round*31 + j*7 + k)
				}
				s.Record(c2s, t0, frame(1, psh(c2s, 3, string(p)), 0))
				want := p[:min(n, snaplen)]
				next := reg.Snapshot().History.Next
				var seen []byte
				recs, _ := reg.Frames(live.Query{From: next - 1, Match: func(r *live.Record) bool {
					seen = append([]byte(nil), r.Payload...)
					return true
				}}, nil)
				if len(recs) != 1 {
					t.Fatalf("snaplen %d, payload %d: %d records, want 1", snaplen, n, len(recs))
				}
				if r := recs[0]; !bytes.Equal(r.Payload, want) || r.Truncated != (n > snaplen) {
					t.Errorf("snaplen %d, payload %d: read %d bytes (truncated %v), want %d (%v)",
						snaplen, n, len(r.Payload), r.Truncated, len(want), n > snaplen)
				}
				if !bytes.Equal(seen, want) {
					t.Errorf("snaplen %d, payload %d: Match saw %d bytes, want %d", snaplen, n, len(seen), len(want))
				}
			}
		}
	}
}

// historyOf returns a registry whose history holds a SessionOpened event,
// a SYN and n PSH frames "p0"…, and the session.
func historyOf(t *testing.T, cfg live.Config, n int) (*live.Registry, *script) {
	t.Helper()
	reg := live.New(cfg)
	sc := openSession(reg, 1)
	sc.feed(syn(c2s, 3))
	sc.feed(pshN(n)...)
	return reg, sc
}

func seqs(recs []live.Record) []uint64 {
	s := make([]uint64, len(recs))
	for i, r := range recs {
		s[i] = r.Seq
	}
	return s
}

func seqRange(first, next uint64) []uint64 {
	s := []uint64{}
	for q := first; q < next; q++ {
		s = append(s, q)
	}
	return s
}

func TestFrames(t *testing.T) {
	isPSH := func(r *live.Record) bool { return r.Kind == live.FrameRecord && r.Header.Cmd() == decoder.PSH }
	odd := func(r *live.Record) bool { return r.Seq%2 == 1 }
	tests := []struct {
		name     string
		history  int
		n        int // PSH frames; the history holds n+2 records, seqs 1..n+2
		q        live.Query
		wantSeqs []uint64
		wantNext uint64
	}{
		{"all from 0", 0, 10, live.Query{}, seqRange(1, 13), 13},
		{"all from 1", 0, 10, live.Query{From: 1}, seqRange(1, 13), 13},
		{"from the middle", 0, 10, live.Query{From: 5}, seqRange(5, 13), 13},
		{"caught up", 0, 10, live.Query{From: 13}, []uint64{}, 13},
		{"beyond next", 0, 10, live.Query{From: 50}, []uint64{}, 50},
		{"max", 0, 10, live.Query{From: 2, Max: 3}, []uint64{2, 3, 4}, 5},
		{"max beyond available", 0, 10, live.Query{Max: 100}, seqRange(1, 13), 13},
		{"scan", 0, 10, live.Query{From: 2, Scan: 4}, []uint64{2, 3, 4, 5}, 6},
		{"scan with match", 0, 10, live.Query{Scan: 4, Match: odd}, []uint64{1, 3}, 5},
		{"match", 0, 10, live.Query{Match: isPSH}, seqRange(3, 13), 13},
		{"match and max", 0, 10, live.Query{Match: odd, Max: 2}, []uint64{1, 3}, 4},
		{"match none", 0, 10, live.Query{Match: func(*live.Record) bool { return false }}, []uint64{}, 13},
		{"evicted from is skipped", 5, 10, live.Query{From: 1}, seqRange(8, 13), 13},
		{"evicted with max", 5, 10, live.Query{From: 3, Max: 2}, []uint64{8, 9}, 10},
		{"many chunks", 0, 1000, live.Query{}, seqRange(1, 1003), 1003},
		{"default scan", 0, 10000, live.Query{}, seqRange(1, live.DefaultScan+1), live.DefaultScan + 1},
		{"no history", -1, 10, live.Query{}, []uint64{}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg, _ := historyOf(t, live.Config{History: tt.history}, tt.n)
			recs, next := reg.Frames(tt.q, nil)
			got := seqs(recs)
			if fmt.Sprint(got) != fmt.Sprint(tt.wantSeqs) || next != tt.wantNext {
				if len(got) > 20 {
					t.Errorf("got %d records %d…%d, next %d; want %d, next %d", len(got), got[0], got[len(got)-1], next, len(tt.wantSeqs), tt.wantNext)
				} else {
					t.Errorf("got seqs %v, next %d; want %v, next %d", got, next, tt.wantSeqs, tt.wantNext)
				}
			}
		})
	}
}

func TestFramesCursor(t *testing.T) {
	reg, sc := historyOf(t, live.Config{}, 3)
	recs, next := reg.Frames(live.Query{}, nil)
	if got := seqs(recs); fmt.Sprint(got) != "[1 2 3 4 5]" || next != 6 {
		t.Fatalf("first read: seqs %v next %d, want [1 2 3 4 5] 6", got, next)
	}
	if next != reg.Snapshot().History.Next {
		t.Errorf("next = %d, want History.Next %d after catching up", next, reg.Snapshot().History.Next)
	}
	// Nothing new: nothing read, same cursor.
	recs, next2 := reg.Frames(live.Query{From: next}, nil)
	if len(recs) != 0 || next2 != next {
		t.Errorf("idle read: %d records, next %d; want 0, %d", len(recs), next2, next)
	}
	sc.feed(psh(s2c, 3, "new1"), psh(s2c, 3, "new2"))
	sc.s.End(at(99), live.EOF, nil)
	// dst is appended to.
	dst := []live.Record{{Detail: "kept"}}
	recs, next = reg.Frames(live.Query{From: next}, dst)
	if len(recs) != 4 || recs[0].Detail != "kept" {
		t.Fatalf("records = %+v, want the kept one and 3 new", recs)
	}
	if got := seqs(recs[1:]); fmt.Sprint(got) != "[6 7 8]" || next != 9 {
		t.Errorf("second read: seqs %v next %d, want [6 7 8] 9", got, next)
	}
	if string(recs[1].Payload) != "new1" || string(recs[2].Payload) != "new2" || recs[3].Kind != live.SessionEnded {
		t.Errorf("second read = %q %q %v, want new1 new2 session-ended", recs[1].Payload, recs[2].Payload, recs[3].Kind)
	}
}

func TestFramesCopies(t *testing.T) {
	// A ring of 4 records, each payload at snaplen.
	reg, sc := historyOf(t, live.Config{History: 4, Snaplen: 4}, 0)
	sc.feed(psh(c2s, 3, "aaaa"), psh(c2s, 3, "bbbb"))
	recs, next := reg.Frames(live.Query{Match: func(r *live.Record) bool { return len(r.Payload) > 0 }}, nil)
	if len(recs) != 2 || string(recs[0].Payload) != "aaaa" || string(recs[1].Payload) != "bbbb" {
		t.Fatalf("read %+v, want payloads aaaa bbbb", recs)
	}
	// Overwrite every slot of the ring.
	sc.feed(psh(c2s, 3, "cccc"), psh(c2s, 3, "dddd"), psh(c2s, 3, "eeee"), psh(c2s, 3, "ffff"))
	if string(recs[0].Payload) != "aaaa" || string(recs[1].Payload) != "bbbb" {
		t.Errorf("payloads after the ring moved on = %q %q, want aaaa bbbb", recs[0].Payload, recs[1].Payload)
	}
	// Appending to one copy does not clobber the next one.
	_ = append(recs[0].Payload, "XXXX"...)
	if string(recs[1].Payload) != "bbbb" {
		t.Errorf("appending to one payload changed the next to %q", recs[1].Payload)
	}
	// Writing into a copy does not change the ring.
	more, _ := reg.Frames(live.Query{From: next}, nil)
	for i := range more[0].Payload {
		more[0].Payload[i] = 'Z'
	}
	again, _ := reg.Frames(live.Query{From: next}, nil)
	if string(again[0].Payload) != "cccc" {
		t.Errorf("ring payload after writing into a copy = %q, want cccc", again[0].Payload)
	}
}

// TestHistoryRecordLost checks that a frame whose payload the capture lost
// bytes of keeps how many in its record, smux and yamux alike, and that
// the slot that holds them (a UPD's window) reads as zero then.
func TestHistoryRecordLost(t *testing.T) {
	reg := live.New(live.Config{})
	s := reg.Open(live.SessionInfo{Client: "a:1", Server: "b:2", Tap: live.Client}, t0)
	s.Record(c2s, t0, &decoder.Frame{Offset: 8, Header: decoder.MakeHeader(1, decoder.PSH, 3000, 3), Payload: []byte("ab"), Truncated: true, Lost: 1448})
	s.Record(c2s, t0, &decoder.Frame{Offset: 3016, Header: decoder.MakeHeader(1, decoder.PSH, 4, 3), Payload: []byte("RAND")})
	y := reg.Open(live.SessionInfo{Client: "a:3", Server: "b:4", Tap: live.Client, Proto: live.Yamux}, t0)
	y.RecordYamux(c2s, t0, &yamux.Frame{Offset: 12, Header: yamux.MakeHeader(yamux.Data, 0, 1, 1<<20), Payload: []byte("x"), Truncated: true, Lost: 65536})
	var lost []int64
	for _, r := range allRecords(reg) {
		if r.Kind == live.FrameRecord {
			if r.Window != 0 {
				t.Errorf("record %d: window %d, want 0", r.Seq, r.Window)
			}
			lost = append(lost, r.Lost)
		}
	}
	if want := []int64{1448, 0, 65536}; !slices.Equal(lost, want) {
		t.Fatalf("frames lost %v, want %v", lost, want)
	}
}

// TestHistorySlotLost pins how a slot stores a frame's Lost: in the
// window field, under its own flag. A frame with Lost comes back with it
// and Window 0; an smux UPD, the one frame whose window field is its own,
// keeps Window and Consumed with Lost 0; a yamux frame, whose length
// field lies in the slot's consumed field, keeps its whole 12-byte header
// beside its Lost, up to the largest a yamux length allows, and its
// anomaly too.
func TestHistorySlotLost(t *testing.T) {
	reg := live.New(live.Config{})
	s := reg.Open(live.SessionInfo{Client: "a:1", Server: "b:2", Tap: live.Client}, t0)
	y := reg.Open(live.SessionInfo{Client: "a:3", Server: "b:4", Tap: live.Client, Proto: live.Yamux}, t0)
	var upd [8]byte
	binary.LittleEndian.PutUint32(upd[:], 4096)
	binary.LittleEndian.PutUint32(upd[4:], 262144)
	const maxLen = 1<<32 - 1
	s.Record(c2s, at(0), &decoder.Frame{Offset: 0, Header: decoder.MakeHeader(2, decoder.SYN, 0, 3)})
	s.Record(c2s, at(1), &decoder.Frame{Offset: 8, Header: decoder.MakeHeader(2, decoder.PSH, 65535, 3), Payload: []byte("ab"), Truncated: true, Lost: 65533})
	s.Record(s2c, at(2), &decoder.Frame{Offset: 0, Header: decoder.MakeHeader(2, decoder.UPD, 8, 3), Payload: upd[:], Consumed: 4096, Window: 262144})
	y.RecordYamux(c2s, at(3), &yamux.Frame{Offset: 0, Header: yamux.MakeHeader(yamux.WindowUpdate, yamux.SYN, 1, 0)})
	y.RecordYamux(c2s, at(4), &yamux.Frame{Offset: 12, Header: yamux.MakeHeader(yamux.Data, 0, 1, maxLen), Payload: []byte("x"), Truncated: true, Lost: maxLen - 1})
	y.RecordYamux(s2c, at(5), &yamux.Frame{Offset: 0, Header: yamux.MakeHeader(yamux.WindowUpdate, yamux.ACK, 1, 3<<20)})

	want := []live.Record{
		{Kind: live.FrameRecord, Session: s.ID(), Dir: c2s, At: at(1), Offset: 8, Header: decoder.MakeHeader(2, decoder.PSH, 65535, 3),
			Payload: []byte("ab"), Truncated: true, Lost: 65533},
		{Kind: live.FrameRecord, Session: s.ID(), Dir: s2c, At: at(2), Offset: 0, Header: decoder.MakeHeader(2, decoder.UPD, 8, 3),
			Payload: upd[:], Consumed: 4096, Window: 262144},
		{Kind: live.FrameRecord, Session: y.ID(), Dir: c2s, At: at(4), Offset: 12, Proto: live.Yamux,
			YamuxHeader: yamux.MakeHeader(yamux.Data, 0, 1, maxLen), Payload: []byte("x"), Truncated: true, Lost: maxLen - 1,
			Anomaly: live.WindowExceeded}, // past the 256 KiB window: kept beside the loss
		{Kind: live.FrameRecord, Session: y.ID(), Dir: s2c, At: at(5), Offset: 0, Proto: live.Yamux,
			YamuxHeader: yamux.MakeHeader(yamux.WindowUpdate, yamux.ACK, 1, 3<<20)},
	}
	var got []live.Record
	for _, r := range allRecords(reg) {
		if r.Kind == live.FrameRecord && !r.At.Equal(at(0)) && !r.At.Equal(at(3)) { // all but the SYNs
			r.Seq = 0
			got = append(got, r)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d frame records, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if !sameRecord(got[i], want[i]) {
			t.Errorf("record %d =\n%+v\nwant\n%+v", i, got[i], want[i])
		}
	}
}

// TestFramesIntoReusesBuf reads the same records with Frames and with
// FramesInto: the same records, payloads included; FramesInto's payloads
// lie in the buffer it was given while they fit, and the rest in its
// grown copy, and a second read into the returned buffer allocates
// nothing.
func TestFramesIntoReusesBuf(t *testing.T) {
	reg := live.New(live.Config{})
	sc := openSession(reg, 1)
	sc.feed(syn(c2s, 3))
	sc.feed(pshN(1000)...) // "p0" … "p999": 3 890 bytes
	want, _ := reg.Frames(live.Query{}, nil)
	buf := make([]byte, 0, 1000)
	got, grown, _ := reg.FramesInto(live.Query{}, nil, buf)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("FramesInto read other records than Frames")
	}
	if n := len(grown); n != 3890 {
		t.Errorf("the payloads take %d bytes of the returned buffer, want 3890", n)
	}
	// got[0] is the session's opening, got[1] the SYN: "p0" is got[2]'s.
	buf[:1][0] = 'X'
	if p := string(got[2].Payload); p != "X0" {
		t.Errorf("the first payload is %q after a write to the given buffer, want %q: not read into it", p, "X0")
	}
	buf[:1][0] = 'p'
	if cap(grown) <= cap(buf) {
		t.Errorf("the returned buffer's capacity is %d, want it grown past %d", cap(grown), cap(buf))
	}
	if racetest.Enabled {
		return // the race detector changes allocation counts
	}
	if allocs := testing.AllocsPerRun(5, func() { got, grown, _ = reg.FramesInto(live.Query{}, got[:0], grown[:0]) }); allocs != 0 {
		t.Errorf("a read into the returned buffer allocated %v times, want none", allocs)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("the second read read other records than Frames")
	}
}

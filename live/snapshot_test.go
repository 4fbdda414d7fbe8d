package live_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/live"
)

// exchange returns the frames of a stream that carries req and resp and is
// closed by both sides.
func exchange(sid uint32, req, resp string) []wire {
	return []wire{syn(c2s, sid), psh(c2s, sid, req), psh(s2c, sid, resp), fin(s2c, sid), fin(c2s, sid)}
}

func TestClosedStreamsFolded(t *testing.T) {
	tests := []struct {
		name    string
		limit   int
		streams int
		kept    []uint32 // closed streams still tracked, besides the open stream 1001
		summary live.ClosedSummary
	}{
		{"within the limit", 5, 3, []uint32{3, 5, 7}, live.ClosedSummary{}},
		{"at the limit", 3, 3, []uint32{3, 5, 7}, live.ClosedSummary{}},
		// Stream i (sid 3+2i) carries i+1 bytes each way; each frame's
		// wire bytes are its 8-byte header and payload.
		{"beyond the limit", 3, 10, []uint32{17, 19, 21}, live.ClosedSummary{Streams: 7, Frames: [2]uint64{21, 14}, Bytes: [2]uint64{28, 28}, Wire: [2]uint64{21*8 + 28, 14*8 + 28}}},
		{"none kept", -1, 4, []uint32{}, live.ClosedSummary{Streams: 4, Frames: [2]uint64{12, 8}, Bytes: [2]uint64{10, 10}, Wire: [2]uint64{12*8 + 10, 8*8 + 10}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := live.New(live.Config{ClosedStreams: tt.limit})
			sc := openSession(reg, 1)
			sc.feed(syn(c2s, 1001), psh(c2s, 1001, "long-lived"))
			var frames [2]uint64
			var bytes [2]uint64
			for i := range tt.streams {
				p := strings.Repeat("x", i+1)
				sc.feed(exchange(uint32(3+2*i), p, p)...)
				frames[c2s] += 3
				frames[s2c] += 2
				bytes[c2s] += uint64(i + 1)
				bytes[s2c] += uint64(i + 1)
			}
			ss := sc.snap(t, reg)
			var got []uint32
			for _, st := range ss.Streams {
				if st.ID != 1001 {
					got = append(got, st.ID)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.kept) {
				t.Errorf("kept streams = %v, want %v", got, tt.kept)
			}
			if st := ss.Stream(1001); st == nil || st.State != live.Open {
				t.Errorf("open stream 1001 = %+v, want kept and open", st)
			}
			if ss.Closed != tt.summary {
				t.Errorf("closed summary = %+v, want %+v", ss.Closed, tt.summary)
			}
			// Kept and folded streams add up to everything that was sent.
			sum := ss.Closed
			for _, st := range ss.Streams {
				if st.ID == 1001 {
					continue
				}
				for d := range 2 {
					sum.Frames[d] += st.Frames[d]
					sum.Bytes[d] += st.Bytes[d]
					sum.Wire[d] += st.Wire[d]
				}
			}
			if sum.Frames != frames || sum.Bytes != bytes {
				t.Errorf("kept + folded = frames %v bytes %v, want %v %v", sum.Frames, sum.Bytes, frames, bytes)
			}
			if want := [2]uint64{frames[0]*8 + bytes[0], frames[1]*8 + bytes[1]}; sum.Wire != want {
				t.Errorf("kept + folded = wire bytes %v, want %v: 8 a frame and the payloads", sum.Wire, want)
			}
			if ss.Total != uint64(tt.streams+1) || ss.Open != 1 {
				t.Errorf("total %d open %d, want %d 1", ss.Total, ss.Open, tt.streams+1)
			}
			// A frame for a folded stream is still an anomaly, not a crash.
			sc.feed(psh(c2s, 3, "late"))
			if ss := sc.snap(t, reg); ss.AnomalyCount != 1 {
				t.Errorf("late PSH: anomalies = %d, want 1", ss.AnomalyCount)
			}
		})
	}
}

// TestCountsAddUp: a session's counts are the sum over its streams, the
// folded ones and the frames that name no tracked stream, however streams
// are folded away under them.
func TestCountsAddUp(t *testing.T) {
	for _, limit := range []int{-1, 1, 3, 1000} {
		t.Run(fmt.Sprint("closed streams kept ", limit), func(t *testing.T) {
			reg := live.New(live.Config{ClosedStreams: limit})
			sc := openSession(reg, 2)
			sc.feed(nop(c2s), nop(s2c))
			for i := range 40 {
				sid := uint32(3 + 2*i)
				sc.feed(exchange(sid, "RAND", strings.Repeat("r", i))...)
				// Late frames for streams that may be folded by now: a UPD, a
				// PSH to a closed stream, a repeated FIN.
				sc.feed(upd(s2c, sid, 4, 65536), psh(c2s, sid, "late"), fin(s2c, sid))
				if i%5 == 0 {
					sc.feed(psh(s2c, 9999, "stray"), upd(c2s, 9999, 1, 1), nop(c2s))
				}
				ss := sc.snap(t, reg)
				if got, want := ss.Accounted(), ss.Counted(); got != want {
					t.Fatalf("after stream %d: accounted %+v, counted %+v", sid, got, want)
				}
			}
			sc.s.End(at(10_000), live.EOF, nil)
			ss := sc.snap(t, reg)
			if got, want := ss.Accounted(), ss.Counted(); got != want {
				t.Fatalf("after End: accounted %+v, counted %+v", got, want)
			}
			if ss.Counts.FramesDir(c2s) != 1+40*4+8*2 { // NOP; SYN, PSH, FIN, late PSH; UPD, NOP
				t.Errorf("c2s frames = %d, want %d", ss.Counts.FramesDir(c2s), 1+40*4+8*2)
			}
		})
	}
}

func TestEndedSessionsForgotten(t *testing.T) {
	tests := []struct {
		name      string
		limit     int
		ended     int
		live      int
		forgotten uint64
	}{
		{"within the limit", 5, 3, 2, 0},
		{"at the limit", 3, 3, 2, 0},
		{"beyond the limit", 2, 6, 2, 4},
		{"none kept", -1, 4, 1, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := live.New(live.Config{EndedSessions: tt.limit})
			var want live.Counts
			var wantStreams, wantAnomalies, wantViolations uint64
			var endedIDs, liveIDs []uint64
			// Ended and live sessions interleave; session i carries i+1 streams.
			for i := range tt.ended + tt.live {
				sc := openSession(reg, 1)
				for j := range i + 1 {
					sc.feed(exchange(uint32(3+2*j), "RAND", strings.Repeat("r", i+1))...)
				}
				sc.feed(psh(c2s, 999, "?")) // an anomaly
				sc.s.Violation(s2c, at(0), &decoder.Violation{Code: decoder.BadVersion})
				c := reg.Snapshot().Session(sc.s.ID()).Counts
				want = addCounts(want, c)
				wantStreams += uint64(i + 1)
				wantAnomalies++
				wantViolations++
				if i%2 == 0 && len(endedIDs) < tt.ended || len(liveIDs) == tt.live {
					sc.s.End(at(1), live.EOF, nil)
					endedIDs = append(endedIDs, sc.s.ID())
				} else {
					liveIDs = append(liveIDs, sc.s.ID())
				}
			}
			snap := reg.Snapshot()
			if snap.Totals != want {
				t.Errorf("totals =\n%+v\nwant\n%+v", snap.Totals, want)
			}
			if snap.StreamsTotal != wantStreams || snap.Anomalies != wantAnomalies || snap.Violations != wantViolations {
				t.Errorf("streams %d anomalies %d violations %d, want %d %d %d",
					snap.StreamsTotal, snap.Anomalies, snap.Violations, wantStreams, wantAnomalies, wantViolations)
			}
			if snap.Forgotten.Sessions != tt.forgotten {
				t.Errorf("forgotten sessions = %d, want %d", snap.Forgotten.Sessions, tt.forgotten)
			}
			// The newest ended sessions are kept, and all live ones, in id order.
			keptEnded := endedIDs[tt.forgotten:]
			var gotEnded, gotLive []uint64
			for i, ss := range snap.Sessions {
				if i > 0 && ss.ID <= snap.Sessions[i-1].ID {
					t.Errorf("sessions out of order: %d after %d", ss.ID, snap.Sessions[i-1].ID)
				}
				if ss.Ended {
					gotEnded = append(gotEnded, ss.ID)
				} else {
					gotLive = append(gotLive, ss.ID)
				}
			}
			if fmt.Sprint(gotEnded) != fmt.Sprint(keptEnded) || fmt.Sprint(gotLive) != fmt.Sprint(liveIDs) {
				t.Errorf("sessions: ended %v live %v, want %v %v", gotEnded, gotLive, keptEnded, liveIDs)
			}
			if snap.LiveSessions != tt.live {
				t.Errorf("live sessions = %d, want %d", snap.LiveSessions, tt.live)
			}
			for _, id := range endedIDs[:tt.forgotten] {
				if reg.Session(id) != nil || snap.Session(id) != nil {
					t.Errorf("forgotten session %d still found", id)
				}
			}
		})
	}
}

// TestForgottenEndedStreams: a forgotten session's streams that ended with
// it, folded into its summary or still kept in detail, are all counted in
// Forgotten.EndedStreams, and the stream both sides closed is not.
func TestForgottenEndedStreams(t *testing.T) {
	for _, keep := range []int{1, 10} {
		t.Run(fmt.Sprintf("closed=%d", keep), func(t *testing.T) {
			reg := live.New(live.Config{EndedSessions: -1, ClosedStreams: keep})
			sc := openSession(reg, 1)
			sc.feed(syn(c2s, 3), fin(c2s, 3), fin(s2c, 3), syn(c2s, 5), syn(c2s, 7), fin(s2c, 7), syn(c2s, 9))
			sc.s.End(at(5), live.EOF, nil)
			if f := reg.Snapshot().Forgotten; f.Sessions != 1 || f.Streams != 4 || f.EndedStreams != 3 {
				t.Errorf("forgotten sessions %d, streams %d, ended with the session %d; want 1, 4, 3", f.Sessions, f.Streams, f.EndedStreams)
			}
			// A SYN still in flight as the session ended opens a stream
			// that ends with it: not one both sides closed.
			sc.feed(syn(c2s, 11))
			if f := reg.Snapshot().Forgotten; f.Streams != 5 || f.EndedStreams != 4 {
				t.Errorf("after a late SYN: forgotten streams %d, ended with the session %d; want 5, 4", f.Streams, f.EndedStreams)
			}
		})
	}
}

// A tap ends a session when one direction fails; the other direction can
// go on delivering frames for a while, even after the session is forgotten.
func TestFramesAfterForgotten(t *testing.T) {
	reg := live.New(live.Config{EndedSessions: -1})
	sc := openSession(reg, 1)
	sc.feed(syn(c2s, 3), psh(c2s, 3, "RAND"))
	sc.s.End(at(5), live.EOF, nil)
	if snap := reg.Snapshot(); len(snap.Sessions) != 0 || snap.Forgotten.Sessions != 1 {
		t.Fatalf("sessions %d forgotten %d, want 0 1", len(snap.Sessions), snap.Forgotten.Sessions)
	}
	sc.feed(psh(s2c, 3, "12345678"), fin(s2c, 3), syn(c2s, 5), psh(c2s, 77, "?"))
	sc.s.Violation(c2s, at(9), &decoder.Violation{Code: decoder.UnknownCmd})
	snap := reg.Snapshot()
	var want live.Counts
	want.Frames[c2s][decoder.SYN], want.Bytes[c2s][decoder.SYN] = 2, 16
	want.Frames[c2s][decoder.PSH], want.Bytes[c2s][decoder.PSH] = 2, 8+4+8+1
	want.Frames[s2c][decoder.PSH], want.Bytes[s2c][decoder.PSH] = 1, 8+8
	want.Frames[s2c][decoder.FIN], want.Bytes[s2c][decoder.FIN] = 1, 8
	if snap.Totals != want {
		t.Errorf("totals =\n%+v\nwant\n%+v", snap.Totals, want)
	}
	if snap.StreamsTotal != 2 || snap.Anomalies != 1 || snap.Violations != 1 {
		t.Errorf("streams %d anomalies %d violations %d, want 2 1 1", snap.StreamsTotal, snap.Anomalies, snap.Violations)
	}
}

func addCounts(a, b live.Counts) live.Counts {
	for d := range 2 {
		for c := range decoder.NumCmds {
			a.Frames[d][c] += b.Frames[d][c]
			a.Bytes[d][c] += b.Bytes[d][c]
		}
	}
	return a
}

func TestAnomaliesBounded(t *testing.T) {
	tests := []struct {
		name  string
		limit int
		n     int
		kept  []uint32 // the sids of the kept anomalies, oldest first
	}{
		{"within the limit", 5, 3, []uint32{100, 101, 102}},
		{"at the limit", 3, 3, []uint32{100, 101, 102}},
		{"wrapped", 3, 10, []uint32{107, 108, 109}},
		{"wrapped to the start", 3, 9, []uint32{106, 107, 108}},
		{"none kept", -1, 10, []uint32{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := live.New(live.Config{Anomalies: tt.limit})
			sc := openSession(reg, 1)
			for i := range tt.n {
				sc.feed(fin(c2s, uint32(100+i)))
			}
			snap := reg.Snapshot()
			ss := snap.Session(sc.s.ID())
			got := []uint32{}
			for _, a := range ss.Anomalies {
				got = append(got, a.Header.StreamID())
				if a.Anomaly != live.UnknownStream {
					t.Errorf("anomaly = %v, want %v", a.Anomaly, live.UnknownStream)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.kept) {
				t.Errorf("kept anomalies on streams %v, want %v", got, tt.kept)
			}
			if ss.AnomalyCount != uint64(tt.n) || snap.Anomalies != uint64(tt.n) {
				t.Errorf("anomaly count = %d (snapshot %d), want %d", ss.AnomalyCount, snap.Anomalies, tt.n)
			}
		})
	}
}

// cloneSnap deep-copies what a Snapshot refers to.
func cloneSnap(s *live.Snapshot) live.Snapshot {
	c := *s
	c.Notices = append([]live.Notice(nil), s.Notices...)
	c.Sessions = make([]*live.SessionSnap, len(s.Sessions))
	for i, ss := range s.Sessions {
		cs := *ss
		cs.Streams = append([]live.StreamSnap(nil), ss.Streams...)
		cs.Framing = append([]live.FramingInfo(nil), ss.Framing...)
		cs.Anomalies = append([]live.AnomalyInfo(nil), ss.Anomalies...)
		c.Sessions[i] = &cs
	}
	return c
}

func TestSnapshotImmutable(t *testing.T) {
	reg := live.New(live.Config{ClosedStreams: 1, EndedSessions: -1, Anomalies: 2})
	a := openSession(reg, 2)
	a.feed(syn(c2s, 3), psh(c2s, 3, "RAND"), upd(s2c, 3, 4, 65536), syn(c2s, 5), fin(c2s, 7))
	b := openSession(reg, 1)
	b.feed(exchange(3, "RAND", "12345678")...)
	reg.Notice(at(0), "first")

	old := reg.Snapshot()
	want := cloneSnap(old)

	// Change everything the snapshot shows.
	a.feed(psh(c2s, 3, "more"), upd(s2c, 3, 8, 1), fin(c2s, 5), fin(s2c, 5), fin(s2c, 9), fin(s2c, 11))
	a.feed(exchange(13, "x", "y")...)
	a.s.Violation(s2c, at(50), &decoder.Violation{Code: decoder.BadVersion})
	a.s.Unparsed(s2c, 100)
	b.feed(exchange(5, "RAND", "87654321")...)
	b.s.End(at(60), live.Reset, errors.New("boom"))
	reg.Notice(at(61), "second")

	if got := cloneSnap(old); !reflect.DeepEqual(got, want) {
		t.Errorf("old snapshot changed:\n%+v\nwant\n%+v", got, want)
	}
	// The new snapshot does show the changes.
	now := reg.Snapshot()
	if reflect.DeepEqual(cloneSnap(now).Sessions, want.Sessions) || len(now.Sessions) != 1 || now.Forgotten.Sessions != 1 {
		t.Errorf("new snapshot: %d sessions, %d forgotten; want the changes", len(now.Sessions), now.Forgotten.Sessions)
	}
}

func TestSnapshotReuse(t *testing.T) {
	reg := live.New(live.Config{})
	a := openSession(reg, 1)
	b := openSession(reg, 1)
	c := openSession(reg, 1)
	a.feed(syn(c2s, 3))
	b.feed(syn(c2s, 3))
	c.feed(syn(c2s, 3))

	tests := []struct {
		name    string
		change  func()
		changed []bool // per session a, b, c
	}{
		{"nothing changed", func() {}, []bool{false, false, false}},
		{"a frame", func() { b.feed(psh(c2s, 3, "x")) }, []bool{false, true, false}},
		{"an anomaly", func() { c.feed(psh(c2s, 9, "x")) }, []bool{false, false, true}},
		{"a violation", func() { a.s.Violation(c2s, at(1), &decoder.Violation{Code: decoder.UnknownCmd}) }, []bool{true, false, false}},
		{"unparsed bytes", func() { a.s.Unparsed(c2s, 10) }, []bool{true, false, false}},
		{"the same unparsed count", func() { a.s.Unparsed(c2s, 10) }, []bool{false, false, false}},
		{"end", func() { c.s.End(at(2), live.EOF, nil) }, []bool{false, false, true}},
		{"a second end", func() { c.s.End(at(3), live.EOF, nil) }, []bool{false, false, false}},
		{"another session opened", func() { openSession(reg, 1) }, []bool{false, false, false}},
	}
	prev := reg.Snapshot()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.change()
			next := reg.Snapshot()
			for i, want := range tt.changed {
				if got := next.Sessions[i] != prev.Sessions[i]; got != want {
					t.Errorf("session %d: new picture %v, want %v", next.Sessions[i].ID, got, want)
				}
			}
			prev = next
		})
	}
}

// Streams still open when a session ends join its closed streams, so an
// ended session keeps at most ClosedStreams of them in detail; the folded
// ones stay counted as ended.
func TestEndFoldsOpenStreams(t *testing.T) {
	reg := live.New(live.Config{ClosedStreams: 2})
	sc := openSession(reg, 1)
	for sid := uint32(3); sid < 3+2*5; sid += 2 {
		sc.feed(syn(c2s, sid))
	}
	sc.s.End(at(9), live.EOF, nil)
	sc.feed(fin(c2s, 3)) // smux writes FINs as it closes: not an anomaly
	ss := reg.Snapshot().Sessions[0]
	if len(ss.Streams) != 2 || ss.Closed.Streams != 3 || ss.Closed.Ended != 3 || ss.Open != 0 || ss.AnomalyCount != 0 {
		t.Errorf("tracked %d, folded %d (ended %d), open %d, anomalies %d; want 2, 3 (3), 0, 0",
			len(ss.Streams), ss.Closed.Streams, ss.Closed.Ended, ss.Open, ss.AnomalyCount)
	}
	for _, st := range ss.Streams {
		if st.State != live.EndedWithSession {
			t.Errorf("stream %d is %v, want ended", st.ID, st.State)
		}
	}
}

func TestSnapshotWith(t *testing.T) {
	reg := live.New(live.Config{})
	a, b := openSession(reg, 1), openSession(reg, 1)
	a.feed(syn(c2s, 3), syn(c2s, 5), fin(c2s, 5), fin(s2c, 5))
	b.feed(syn(c2s, 3))
	snap := reg.SnapshotWith(live.SnapshotOptions{Streams: func(id uint64) bool { return id == a.s.ID() }, LeakAfter: time.Nanosecond})
	sa, sb := snap.Session(a.s.ID()), snap.Session(b.s.ID())
	if sa.StreamsOmitted || len(sa.Streams) != 2 || sa.Tracked != 2 {
		t.Errorf("selected session: omitted %v, %d streams, tracked %d; want false 2 2", sa.StreamsOmitted, len(sa.Streams), sa.Tracked)
	}
	if !sb.StreamsOmitted || sb.Streams != nil || sb.Tracked != 1 || sb.Open != 1 {
		t.Errorf("other session: omitted %v, streams %v, tracked %d, open %d; want true nil 1 1", sb.StreamsOmitted, sb.Streams, sb.Tracked, sb.Open)
	}
	// The streams were opened at fixed times long ago: both live ones are
	// older than LeakAfter.
	if sa.Aged != 1 || sb.Aged != 1 || snap.Aged != 2 {
		t.Errorf("aged %d %d total %d, want 1 1 2", sa.Aged, sb.Aged, snap.Aged)
	}
	if full := reg.Snapshot(); full.Session(b.s.ID()).StreamsOmitted || full.Aged != 0 {
		t.Errorf("Snapshot omitted streams or counted old streams without LeakAfter")
	}
}

// TestWireBytes: the bytes a session sent count whether they were framed
// or not, after the session is forgotten too, and a session whose first
// bytes broke the framing is not smux.
func TestWireBytes(t *testing.T) {
	reg := live.New(live.Config{EndedSessions: 1})
	smux := openSession(reg, 1)
	smux.feed(exchange(3, "RAND", "12345678")...)
	framed := reg.Snapshot().Session(smux.s.ID()).Counts.BytesDir(c2s)

	http := reg.Open(live.SessionInfo{Client: "c", Server: "s"}, at(0))
	http.Violation(c2s, at(0), &decoder.Violation{Code: decoder.BadVersion, Header: decoder.Header([]byte("GET / HT"))})
	http.Unparsed(c2s, 1024)
	snap := reg.Snapshot()
	hs := snap.Session(http.ID())
	if got := hs.WireBytes(c2s); got != 1024 {
		t.Errorf("session WireBytes(→) = %d, want 1024", got)
	}
	if got := snap.WireBytes(c2s); got != framed+1024 {
		t.Errorf("snapshot WireBytes(→) = %d, want %d", got, framed+1024)
	}
	if !hs.NotSmux() || snap.Session(smux.s.ID()).NotSmux() {
		t.Errorf("NotSmux: %v for the HTTP session, %v for the smux one; want true, false", hs.NotSmux(), snap.Session(smux.s.ID()).NotSmux())
	}
	// Forgotten: two ended sessions, one kept.
	http.End(at(1), live.EOF, nil)
	smux.s.End(at(2), live.EOF, nil)
	snap = reg.Snapshot()
	if snap.Forgotten.Sessions != 1 {
		t.Fatalf("%d sessions forgotten, want 1", snap.Forgotten.Sessions)
	}
	if got := snap.WireBytes(c2s); got != framed+1024 {
		t.Errorf("after forgetting, WireBytes(→) = %d, want %d", got, framed+1024)
	}
}

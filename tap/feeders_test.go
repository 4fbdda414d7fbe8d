package tap_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// yframe is a yamux frame's wire bytes.
func yframe(t yamux.Type, flags yamux.Flags, sid uint32, payload string) []byte {
	length := uint32(len(payload))
	if t != yamux.Data {
		length = 0
	}
	h := yamux.MakeHeader(t, flags, sid, length)
	return append(h[:], payload...)
}

// exchange returns the two directions of yamux streams 1 and 3, each a
// request "RAND" answered with 8 bytes, opened, accepted and closed.
func exchange() (c2s, s2c []byte) {
	for _, sid := range []uint32{1, 3} {
		c2s = slices.Concat(c2s, yframe(yamux.WindowUpdate, yamux.SYN, sid, ""), yframe(yamux.Data, 0, sid, "RAND"),
			yframe(yamux.WindowUpdate, yamux.FIN, sid, ""))
		s2c = slices.Concat(s2c, yframe(yamux.WindowUpdate, yamux.ACK, sid, ""), yframe(yamux.Data, 0, sid, "12345678"),
			yframe(yamux.WindowUpdate, yamux.FIN, sid, ""))
	}
	return c2s, s2c
}

// TestFeedersYamuxJoined feeds a yamux connection to NewFeeders as a
// capture does: both directions joined, the client's five bytes into its
// first header, the server's at a boundary and with its third frame lost
// before stream 3 opens.
// The join lands on the next header, the stream opened unseen is adopted,
// marked incomplete, without anomalies; the loss is counted and
// resynchronised over, and the stream opened after it is complete.
func TestFeedersYamuxJoined(t *testing.T) {
	c2s, s2c := exchange()
	reg := live.New(live.Config{})
	at := time.Unix(1000, 0)
	sess := reg.Open(live.SessionInfo{Client: "a:1", Server: "b:2", Tap: live.Server, Proto: live.Yamux}, at)
	out, in := tap.NewFeeders(sess, 64, tap.Yamux, 0)
	half := len(c2s) / 2 // stream 1's frames, then stream 3's
	out.Resync()
	out.Feed(c2s[5:half], at)
	third := 2*yamux.HeaderSize + 8 // the server's FIN of stream 1 is lost
	in.Resync()                     // the server's direction joined at a boundary
	in.Feed(s2c[:third], at)
	in.Gap(yamux.HeaderSize, at)
	out.Feed(c2s[half:], at)
	in.Feed(s2c[third+yamux.HeaderSize:], at)
	out.End(at, true)
	in.End(at, true)

	ss := reg.Snapshot().Session(sess.ID())
	// The bytes skipped to the first boundary are the only ones seen and
	// not framed: all of Unparsed.
	if ss.Proto != live.Yamux || !ss.Incomplete || ss.AnomalyCount != 0 || ss.Unparsed != [2]int64{yamux.HeaderSize - 5, 0} {
		t.Fatalf("proto %v incomplete %v anomalies %d unparsed %v; want yamux, incomplete, none, [7 0]", ss.Proto, ss.Incomplete, ss.AnomalyCount, ss.Unparsed)
	}
	if ss.Skipped != [2]int64{yamux.HeaderSize - 5, 0} || ss.Lost != [2]int64{0, yamux.HeaderSize} {
		t.Fatalf("skipped %v lost %v; want [7 0] [0 12]", ss.Skipped, ss.Lost)
	}
	// The wire bytes are those the feeders saw, framed or not: the lost
	// header was not seen.
	for d, seen := range [2]int{len(c2s) - 5, len(s2c) - yamux.HeaderSize} {
		if got := ss.WireBytes(live.Dir(d)); got != uint64(seen) {
			t.Errorf("%s: %d wire bytes, the feeders saw %d", live.Dir(d).Code(), got, seen)
		}
	}
	st1, st3 := ss.Stream(1), ss.Stream(3)
	if st1 == nil || !st1.Incomplete || st1.Bytes != [2]uint64{4, 8} {
		t.Fatalf("stream 1, opened unseen: %+v; want adopted, incomplete, 4 and 8 bytes", st1)
	}
	if st3 == nil || st3.Incomplete || st3.State != live.Closed || st3.Bytes != [2]uint64{4, 8} {
		t.Fatalf("stream 3, seen whole: %+v; want complete and closed", st3)
	}
	// 5 frames of the client's 6, 5 of the server's 6.
	if got := ss.Counts.Total(); got != 10 {
		t.Fatalf("%d frames counted, want 10", got)
	}
}

// TestFeedersDetectSkip checks NewFeeders with Detect and a prefix: the
// client's first byte, Consul's RPC type, is skipped, and the byte after
// it makes the connection yamux for both directions.
func TestFeedersDetectSkip(t *testing.T) {
	c2s, s2c := exchange()
	reg := live.New(live.Config{})
	at := time.Unix(1000, 0)
	sess := reg.Open(live.SessionInfo{Client: "a:1", Server: "b:2", Tap: live.Server}, at)
	out, in := tap.NewFeeders(sess, 64, tap.Detect, 1)
	out.Feed(append([]byte{4}, c2s...), at)
	in.Feed(s2c, at)
	ss := reg.Snapshot().Session(sess.ID())
	if ss.Proto != live.Yamux || ss.Prefix != [2]int64{1, 0} || ss.Counts.Total() != 12 || ss.Incomplete || ss.AnomalyCount != 0 {
		t.Fatalf("proto %v prefix %v frames %d incomplete %v anomalies %d; want yamux [1 0] 12 false 0",
			ss.Proto, ss.Prefix, ss.Counts.Total(), ss.Incomplete, ss.AnomalyCount)
	}
}

// TestFeederEndCuts ends a yamux direction with a frame cut short: it is
// named TRUNCATED at its offset and its bytes count as unparsed, unless
// the end was this end's own (report false), which names nothing. A
// direction joined mid-stream that ends before any frame boundary says
// so, with the bytes it skipped.
func TestFeederEndCuts(t *testing.T) {
	c2s, _ := exchange()
	first := yamux.HeaderSize // the SYN of stream 1, then its data frame
	cut := first + yamux.HeaderSize + 2
	for _, report := range []bool{true, false} {
		reg := live.New(live.Config{})
		at := time.Unix(1000, 0)
		sess := reg.Open(live.SessionInfo{Client: "a:1", Server: "b:2", Tap: live.Server, Proto: live.Yamux}, at)
		out, _ := tap.NewFeeders(sess, 64, tap.Yamux, 0)
		out.Feed(c2s[:cut], at)
		out.End(at, report)
		ss := reg.Snapshot().Session(sess.ID())
		if ss.Unparsed != [2]int64{int64(cut - first), 0} || ss.Counts.Total() != 1 {
			t.Fatalf("report %v: unparsed %v frames %d; want [%d 0] 1", report, ss.Unparsed, ss.Counts.Total(), cut-first)
		}
		switch {
		case !report && len(ss.Framing) != 0:
			t.Fatalf("the tapped end's own end named %+v", ss.Framing)
		case report && (len(ss.Framing) != 1 || ss.Framing[0].YamuxCode != yamux.Truncated ||
			ss.Framing[0].Offset != int64(first) || ss.Framing[0].Dir != live.ClientToServer):
			t.Fatalf("framing %+v; want TRUNCATED at %d", ss.Framing, first)
		}
	}

	// Joined mid-stream, and ended before a frame boundary: the rest of
	// a header, in which none begins.
	smuxHdr := decoder.MakeHeader(2, decoder.SYN, 0, 1)
	for _, c := range []struct {
		proto tap.Protocol
		rest  []byte
	}{{tap.Yamux, c2s[5:yamux.HeaderSize]}, {tap.Smux, smuxHdr[1:]}} {
		reg := live.New(live.Config{})
		at := time.Unix(1000, 0)
		sess := reg.Open(live.SessionInfo{Client: "a:1", Server: "b:2", Tap: live.Server}, at)
		out, _ := tap.NewFeeders(sess, 64, c.proto, 0)
		out.Resync()
		out.Feed(c.rest, at)
		out.End(at, true)
		ss := reg.Snapshot().Session(sess.ID())
		recs, _ := reg.Frames(live.Query{Match: func(r *live.Record) bool { return r.Kind == live.ResyncRecord }}, nil)
		n := int64(len(c.rest))
		want := fmt.Sprintf("no frame boundary found before the end: %d bytes skipped", n)
		if ss.Skipped != [2]int64{n, 0} || len(recs) != 1 || recs[0].Detail != want || ss.Counts.Total() != 0 {
			t.Fatalf("%v: skipped %v, records %+v, frames %d; want [%d 0], %q, none", c.proto, ss.Skipped, recs, ss.Counts.Total(), n, want)
		}
	}
}

// TestFeederHeldTimes: a direction joined mid-stream is framed only once
// a chain of headers shows where frames begin, from bytes that came in
// several chunks; each frame found in them, and the record of where the
// join landed, is stamped with the time of the chunk that completed the
// frame, as a frame decoded in step is: its end counts the payload (a
// PSH or Data cut in two), and no more (a yamux window update's delta).
// The client's frames of exchange() in yamux, and the same shape in
// smux v1. Told where the boundary is (ResyncAt), the feeder records the
// same frames with the same times, each as its last byte comes.
func TestFeederHeldTimes(t *testing.T) {
	ysizes, ybytes := []int{}, []byte{}
	yc2s, _ := exchange()
	for _, sid := range []uint32{1, 3} {
		for _, f := range [][]byte{yframe(yamux.WindowUpdate, yamux.SYN, sid, ""), yframe(yamux.Data, 0, sid, "RAND"), yframe(yamux.WindowUpdate, yamux.FIN, sid, "")} {
			ysizes = append(ysizes, len(f))
			ybytes = append(ybytes, f...)
		}
	}
	if !slices.Equal(ybytes, yc2s) {
		t.Fatal("the yamux frames are not exchange()'s")
	}
	// A window update's length is its delta, with no payload: give each
	// one a delta, so that a frame's end counted with it fails.
	for i, off := 0, 0; i < len(ysizes); off, i = off+ysizes[i], i+1 {
		if h := yamux.Header(ybytes[off : off+yamux.HeaderSize]); h.Type() == yamux.WindowUpdate {
			w := yamux.MakeHeader(yamux.WindowUpdate, h.Flags(), h.StreamID(), 1<<20)
			copy(ybytes[off:], w[:])
		}
	}
	ssizes, sbytes := []int{}, []byte{}
	for _, sid := range []uint32{1, 3} {
		for _, f := range []string{v1frame(decoder.SYN, sid, ""), v1frame(decoder.PSH, sid, "RAND"), v1frame(decoder.FIN, sid, "")} {
			ssizes = append(ssizes, len(f))
			sbytes = append(sbytes, f...)
		}
	}
	for _, c := range []struct {
		proto tap.Protocol
		sizes []int
		b     []byte
	}{{tap.Yamux, ysizes, ybytes}, {tap.Smux, ssizes, sbytes}} {
		for _, at := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/ResyncAt=%v", c.proto, at), func(t *testing.T) {
				var ends []int // each frame's end
				for i, n := range c.sizes {
					ends = append(ends, n)
					if i > 0 {
						ends[i] += ends[i-1]
					}
				}
				// Chunks: from 5 bytes into the first frame to 2 bytes into
				// the second's payload; to half the third; its other half; the
				// fourth; the rest. The chain of headers that finds the
				// boundary completes with the fourth frame's chunk.
				cuts := []int{5, ends[1] - 2, ends[1] + c.sizes[2]/2, ends[2], ends[3], len(c.b)}
				base := time.Unix(1000, 0)
				reg := live.New(live.Config{})
				sess := reg.Open(live.SessionInfo{Client: "a:1", Server: "b:2", Tap: live.Server}, base)
				out, _ := tap.NewFeeders(sess, 64, c.proto, 0)
				if at {
					out.ResyncAt(int64(ends[0] - cuts[0])) // the boundary a look at the same bytes found
				} else {
					out.Resync()
				}
				for k := 1; k < len(cuts); k++ {
					out.Feed(c.b[cuts[k-1]:cuts[k]], base.Add(time.Duration(k)*time.Second))
					if !at {
						continue
					}
					// Told the boundary, the feeder records each frame as its
					// last byte comes: no chain to wait for.
					recs, _ := reg.Frames(live.Query{From: 1}, nil)
					got, want := 0, 0
					for _, r := range recs {
						if r.Kind == live.FrameRecord {
							got++
						}
					}
					for _, e := range ends[1:] {
						if e <= cuts[k] {
							want++
						}
					}
					if got != want {
						t.Fatalf("after chunk %d: %d frames recorded, want %d", k, got, want)
					}
				}
				want := func(end int) time.Time {
					for k := 1; k < len(cuts); k++ {
						if end <= cuts[k] {
							return base.Add(time.Duration(k) * time.Second)
						}
					}
					return time.Time{}
				}
				recs, _ := reg.Frames(live.Query{From: 1}, nil)
				var frames []live.Record
				for _, r := range recs {
					switch r.Kind {
					case live.FrameRecord:
						frames = append(frames, r)
					case live.ResyncRecord:
						if w := want(ends[1]); !r.At.Equal(w) {
							t.Errorf("the join recorded at %v, want the first frame's %v", r.At.Sub(base), w.Sub(base))
						}
					}
				}
				if len(frames) != len(ends)-1 {
					t.Fatalf("%d frames, want %d: all but the one joined in", len(frames), len(ends)-1)
				}
				for i, r := range frames {
					if w := want(ends[i+1]); !r.At.Equal(w) {
						t.Errorf("frame %d recorded at %v, want %v, when its last byte came", i+1, r.At.Sub(base), w.Sub(base))
					}
				}
			})
		}
	}
}

// v1frame is an smux v1 frame's wire bytes.
func v1frame(cmd decoder.Cmd, sid uint32, payload string) string {
	h := decoder.MakeHeader(1, cmd, uint16(len(payload)), sid)
	return string(h[:]) + payload
}

// TestFeederGapInPayload loses bytes of the client's direction inside a
// frame's payload, smux and yamux alike, one gap ending short of the
// payload's end and one ending with it: decoding resumes right after
// them, said at once in the loss's record ("capture lost N bytes at
// offset X inside a frame's payload: resumed at offset Y, no frame
// lost"), the frame is counted with its full length, every other frame
// too, nothing is skipped, and the session is marked incomplete, with
// the bytes lost counted. No stream is: no frame was lost, so the
// findings go on watching them (the server's answer still ends the
// client's wait, and no stream drops out of LEAK's count).
func TestFeederGapInPayload(t *testing.T) {
	payload := string(slices.Repeat([]byte("0123456789"), 300)) // 3000 bytes
	for _, proto := range []tap.Protocol{tap.Smux, tap.Yamux} {
		var c2s, s2c []byte
		var start int // where the big payload begins
		if proto == tap.Yamux {
			c2s = yframe(yamux.WindowUpdate, yamux.SYN, 1, "")
			start = len(c2s) + yamux.HeaderSize
			c2s = slices.Concat(c2s, yframe(yamux.Data, 0, 1, payload), yframe(yamux.WindowUpdate, yamux.FIN, 1, ""))
			s2c = slices.Concat(yframe(yamux.WindowUpdate, yamux.ACK, 1, ""), yframe(yamux.Data, 0, 1, "12345678"),
				yframe(yamux.WindowUpdate, yamux.FIN, 1, ""))
		} else {
			sframe := func(cmd decoder.Cmd, p string) []byte {
				h := decoder.MakeHeader(1, cmd, uint16(len(p)), 3) // an smux client's first stream
				return append(h[:], p...)
			}
			c2s = sframe(decoder.SYN, "")
			start = len(c2s) + decoder.HeaderSize
			c2s = slices.Concat(c2s, sframe(decoder.PSH, payload), sframe(decoder.FIN, ""))
			s2c = slices.Concat(sframe(decoder.PSH, "12345678"), sframe(decoder.FIN, ""))
		}
		for _, gap := range []struct{ from, n int }{{start + 100, 1448}, {start + 3000 - 1448, 1448}} {
			t.Run(fmt.Sprintf("%v/%d+%d", proto, gap.from-start, gap.n), func(t *testing.T) {
				reg := live.New(live.Config{})
				at := time.Unix(1000, 0)
				sess := reg.Open(live.SessionInfo{Client: "a:1", Server: "b:2", Tap: live.Server}, at)
				out, in := tap.NewFeeders(sess, 64, proto, 0)
				out.Feed(c2s[:gap.from], at)
				out.Gap(int64(gap.n), at)
				if st := reg.Snapshot().Session(sess.ID()).Stream(map[tap.Protocol]uint32{tap.Smux: 3, tap.Yamux: 1}[proto]); st == nil || st.Incomplete {
					t.Fatalf("stream after the gap: %+v; want it open and not incomplete: no frame was lost", st)
				}
				in.Feed(s2c, at)
				out.Feed(c2s[gap.from+gap.n:], at)
				out.End(at, true)
				in.End(at, true)

				ss := reg.Snapshot().Session(sess.ID())
				if !ss.Incomplete || ss.Lost != [2]int64{int64(gap.n), 0} || ss.Skipped != [2]int64{} || ss.AnomalyCount != 0 || ss.Unparsed != [2]int64{} {
					t.Fatalf("incomplete %v lost %v skipped %v anomalies %d unparsed %v; want incomplete, [%d 0] lost, nothing else",
						ss.Incomplete, ss.Lost, ss.Skipped, ss.AnomalyCount, ss.Unparsed, gap.n)
				}
				if got, want := ss.Counts.Total(), uint64(map[tap.Protocol]int{tap.Smux: 5, tap.Yamux: 6}[proto]); got != want {
					t.Fatalf("%d frames counted, want every one, %d", got, want)
				}
				sid := map[tap.Protocol]uint32{tap.Smux: 3, tap.Yamux: 1}[proto]
				if st := ss.Stream(sid); st == nil || st.Bytes != [2]uint64{3000, 8} || st.State != live.Closed {
					t.Fatalf("stream %d: %+v; want 3000 and 8 bytes, closed", sid, st)
				}
				rs, _ := reg.Frames(live.Query{Scan: 1 << 30, Match: func(r *live.Record) bool { return r.Kind == live.ResyncRecord }}, nil)
				var got []string
				for _, r := range rs {
					got = append(got, fmt.Sprintf("%v off=%d %s", r.Dir, r.Offset, r.Detail))
				}
				want := []string{
					fmt.Sprintf("%v off=%d capture lost %d bytes at offset %d inside a frame's payload: resumed at offset %d, no frame lost",
						live.ClientToServer, gap.from, gap.n, gap.from, gap.from+gap.n),
				}
				if !slices.Equal(got, want) {
					t.Fatalf("resync records\n got %q\nwant %q", got, want)
				}
			})
		}
	}
}

// TestFeederGapInFirstFrameAfterJoin: a direction joined mid-stream at a
// known boundary (ResyncAt, as the capture reader joins one), which loses
// bytes inside the payload of its first frame, resumes after them as a
// direction in step does: that frame is counted with what it lost, and
// every frame after it. Before, the gap made the decoder hunt: the first
// frame was skipped.
func TestFeederGapInFirstFrameAfterJoin(t *testing.T) {
	payload := string(slices.Repeat([]byte("0123456789"), 300)) // 3000 bytes
	junk := "xyzxyzxyzxyz"                                      // the end of a frame before the join
	c2s := []byte(junk + v1frame(decoder.PSH, 3, payload) + v1frame(decoder.FIN, 3, "") + v1frame(decoder.SYN, 5, ""))
	from, lost := len(junk)+decoder.HeaderSize+100, 50
	reg := live.New(live.Config{})
	at := time.Unix(1000, 0)
	sess := reg.Open(live.SessionInfo{Client: "a:1", Server: "b:2", Tap: live.Server}, at)
	out, in := tap.NewFeeders(sess, 64, tap.Smux, 0)
	out.ResyncAt(int64(len(junk)))
	out.Feed(c2s[:from], at)
	out.Gap(int64(lost), at)
	out.Feed(c2s[from+lost:], at)
	out.End(at, true)
	in.End(at, true)
	ss := reg.Snapshot().Session(sess.ID())
	if ss.Counts.Total() != 3 || ss.Lost != [2]int64{int64(lost), 0} || ss.Skipped != [2]int64{int64(len(junk)), 0} {
		t.Fatalf("%d frames, lost %v, skipped %v; want 3, [%d 0], [%d 0]", ss.Counts.Total(), ss.Lost, ss.Skipped, lost, len(junk))
	}
	rs, _ := reg.Frames(live.Query{Scan: 1 << 30, Match: func(r *live.Record) bool { return r.Kind == live.FrameRecord }}, nil)
	if len(rs) == 0 || rs[0].Offset != int64(len(junk)) || rs[0].Lost != int64(lost) {
		t.Fatalf("frame records %+v; want the first at offset %d, %d bytes lost", rs, len(junk), lost)
	}
}

// TestFeederJoinedSaid: a direction joined mid-stream says what that
// means, the capture beginning inside the connection, and the bytes it
// skipped to the first frame boundary; before, it said "joined mid-stream
// at offset 0, 0 bytes skipped", an offset that counts from the capture's
// first byte and told the user nothing.
func TestFeederJoinedSaid(t *testing.T) {
	hdr := decoder.MakeHeader(2, decoder.NOP, 0, 0)
	for _, c := range []struct {
		lead []byte // the end of a frame sent before the capture
		want string
	}{
		{nil, "the capture began inside the connection, at a frame boundary: nothing skipped; what was sent before it is not counted"},
		{[]byte("ABCDEFG"), "the capture began inside the connection: 7 bytes before the first frame boundary, the end of a frame sent before, skipped; what was sent before it is not counted"},
	} {
		reg := live.New(live.Config{})
		at := time.Unix(1000, 0)
		sess := reg.Open(live.SessionInfo{Client: "a:1", Server: "b:2", Tap: live.Server}, at)
		out, _ := tap.NewFeeders(sess, 64, tap.Smux, 0)
		out.Resync()
		var b []byte
		b = append(b, c.lead...)
		for range 4 { // a chain of headers: the boundary is sure
			b = append(b, hdr[:]...)
		}
		out.Feed(b, at)
		out.End(at, true)
		recs, _ := reg.Frames(live.Query{Match: func(r *live.Record) bool { return r.Kind == live.ResyncRecord }}, nil)
		if len(recs) != 1 || recs[0].Detail != c.want {
			var got []string
			for _, r := range recs {
				got = append(got, r.Detail)
			}
			t.Errorf("joined after %d bytes: resync %q, want %q", len(c.lead), got, c.want)
		}
	}
}

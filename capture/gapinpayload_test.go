package capture_test

import (
	"fmt"
	"io"
	"net"
	"slices"
	"testing"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/internal/pcaptest"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
)

// Real traffic with large frames, recorded by a tap, read back with TCP
// segments removed: a segment that lies inside a frame's payload costs
// the capture its bytes and nothing else, as the decoder resumes at the
// header it knows comes next; one that carries a header still makes it
// hunt for a chain of headers, as before.

// placed is a packet of a recorded capture: its index, direction, and
// where its payload lies in its direction's byte stream.
type placed = pcaptest.Placed

// placeAll returns the data packets of ps, placed, and each direction's
// frames (yamux if yam), decoded from the whole byte stream.
func placeAll(t *testing.T, ps []pkt, yam bool) ([]placed, [2][]wholeFrame) {
	t.Helper()
	all, stream := pcaptest.Place(ps)
	var out []placed
	for _, p := range all {
		if p.N > 0 {
			out = append(out, p)
		}
	}
	return out, [2][]wholeFrame{decodeAll(t, stream[0], yam), decodeAll(t, stream[1], yam)}
}

// inside returns the frame of fs whose payload holds the bytes [off,
// off+n), or -1; hs is the protocol's header size.
func inside(fs []wholeFrame, off, n, hs int64) int {
	for k, f := range fs {
		if off >= f.off+hs && off+n <= f.off+f.size {
			return k
		}
	}
	return -1
}

// without returns ps without the packets at drop.
func without(ps []pkt, drop ...placed) []pkt { return pcaptest.Without(ps, drop...) }

// readBack reads ps as sniff and read do and returns its one session,
// streams included, and its resync records.
func readBack(t *testing.T, ps []pkt) (live.SessionSnap, [2][]string) {
	t.Helper()
	reg := readEvaluated(ps, capture.Config{}, live.FindingsConfig{})
	snap := reg.SnapshotWith(live.SnapshotOptions{Streams: func(uint64) bool { return true }})
	if len(snap.Sessions) != 1 {
		t.Fatalf("%d sessions, want 1", len(snap.Sessions))
	}
	return *snap.Sessions[0], resyncRecords(reg)
}

// sameStreams checks that every stream of the tap's session has the
// frames and bytes the read counted.
func sameStreams(t *testing.T, got, tapped live.SessionSnap) {
	t.Helper()
	if got.Total != tapped.Total {
		t.Errorf("%d streams read, the tap %d", got.Total, tapped.Total)
	}
	for _, ts := range tapped.Streams {
		st := got.Stream(ts.ID)
		if st == nil {
			t.Errorf("stream %d not read", ts.ID)
			continue
		}
		if st.Frames != ts.Frames || st.Bytes != ts.Bytes {
			t.Errorf("stream %d: %v frames, %v bytes; the tap %v, %v", ts.ID, st.Frames, st.Bytes, ts.Frames, ts.Bytes)
		}
	}
}

// readResumed reads ps without the segments drop, each inside a frame's
// payload, and checks that the decoding resumed after each: every frame
// and stream tapped counted as the tap counted them, the session
// incomplete with drop's bytes lost, no stream incomplete (no frame was
// lost, so no stream's counts miss one), nothing skipped, and the resync
// records resumedRecords says. It returns the session read.
func readResumed(t *testing.T, ps []pkt, tapped live.SessionSnap, drop ...placed) live.SessionSnap {
	t.Helper()
	ss, recs := readBack(t, without(ps, drop...))
	var lost int64
	var want [2]int64
	for _, g := range drop {
		lost += g.N
		want[g.Dir] += g.N
	}
	t.Logf("dropped %d segments, %d bytes: %d frames read, lost %v, skipped %v", len(drop), lost, ss.Counts.Total(), ss.Lost, ss.Skipped)
	if ss.Counts != tapped.Counts {
		t.Errorf("read counted %+v; the tap %+v", ss.Counts, tapped.Counts)
	}
	sameStreams(t, ss, tapped)
	if !ss.Incomplete || ss.Lost != want || ss.Skipped != [2]int64{} {
		t.Errorf("incomplete %v, lost %v, skipped %v; want incomplete, %v lost, nothing skipped", ss.Incomplete, ss.Lost, ss.Skipped, want)
	}
	for _, st := range ss.Streams {
		if st.Incomplete {
			t.Errorf("stream %d incomplete; want only the session: no frame was lost", st.ID)
		}
	}
	if want := resumedRecords(drop...); !slices.Equal(recs[0], want[0]) || !slices.Equal(recs[1], want[1]) {
		t.Errorf("resync records\n got %q\nwant %q", recs, want)
	}
	return ss
}

// resumedRecords are the resync records of gaps inside payloads: one
// each, "capture lost N bytes at offset X inside a frame's payload:
// resumed at offset X+N, no frame lost".
func resumedRecords(gaps ...placed) (recs [2][]string) {
	for _, g := range gaps {
		recs[g.Dir] = append(recs[g.Dir], fmt.Sprintf("off=%d capture lost %d bytes at offset %d inside a frame's payload: resumed at offset %d, no frame lost", g.Off, g.N, g.Off, g.Off+g.N))
	}
	return recs
}

// TestGapInPayloadYamuxBigWindow: real hashicorp/yamux ends whose
// MaxStreamWindowSize is 4 MiB, recorded from their SYNs by a tap, three
// streams each answered by one Data frame of 3 MiB (TestYamuxBigWindowFromSYN),
// read with one 32 KiB segment of each answer removed. Each loss lies
// inside a Data frame far larger than the 256 KiB a hunt accepts: a
// decoder that abandoned the frame and hunted lost it and found no chain
// of headers through the next ones. Now every frame the tap saw is
// counted, each stream's frames and bytes too, the session is
// incomplete, and the bytes lost are the removed segments'.
func TestGapInPayloadYamuxBigWindow(t *testing.T) {
	path, tapped := recordBigWindow(t)
	ps := readPackets(t, path)
	placedPs, frames := placeAll(t, ps, true)
	// In each answer's Data frame larger than a hunt accepts (the whole
	// answer in one, as the window allows), the segment a third of the way in.
	var drop []placed
	for k, f := range frames[live.ServerToClient] {
		if f.typ != yamux.Data || f.size <= yamux.HeaderSize+yamux.MaxResyncData {
			continue
		}
		for _, p := range placedPs {
			if p.Dir == live.ServerToClient && p.Off >= f.off+f.size/3 && inside(frames[p.Dir], p.Off, p.N, yamux.HeaderSize) == k {
				drop = append(drop, p)
				break
			}
		}
	}
	if len(drop) == 0 {
		t.Fatal("no segment inside a large Data frame to drop")
	}
	ss := readResumed(t, ps, tapped, drop...)
	if len(ss.Framing) != 0 || ss.AnomalyCount != 0 {
		t.Errorf("%d violations, %d anomalies; want none", len(ss.Framing), ss.AnomalyCount)
	}
}

// TestGapInPayloadSmux: real smux v2 ends whose frames carry up to 65535
// bytes, recorded by a tap: an echo of 400 KB, sent as frames of 65543
// bytes, each a write the recording cuts into segments of 32 KiB: one
// that begins with the header, one inside the payload, and the payload's
// last 7 bytes. Removing a middle segment and, in another frame, a last
// one (a loss that ends where the payload does) costs nothing but their
// bytes: every frame the tap saw is read, each stream's frames and bytes
// too. Removing a first segment, which carries a header, makes the
// decoder hunt as before: that frame is lost, the rest of it skipped,
// and the frames after it read.
func TestGapInPayloadSmux(t *testing.T) {
	const size = 400_000
	var tapped live.SessionSnap
	path := writeCapture(t, func(w *pcapout.Writer) {
		reg := live.New(live.Config{})
		cfg := smuxtest.Config(2)
		cfg.MaxFrameSize = 65535
		wrap := func(c net.Conn) net.Conn {
			return tap.Wrap(c, live.Client, reg, "test", tap.Version(2), tap.Record(w))
		}
		cli, srv := smuxtest.Pair(t, cfg, wrap, nil)
		done := make(chan struct{})
		go func() {
			defer close(done)
			st, err := srv.AcceptStream()
			if err != nil {
				return
			}
			io.Copy(st, st)
			st.Close()
		}()
		st, err := cli.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		go st.Write(make([]byte, size))
		if _, err := io.ReadFull(st, make([]byte, size)); err != nil {
			t.Fatal(err)
		}
		st.Close()
		<-done
		smuxtest.Eventually(t, "the stream closed", func() bool {
			s := reg.Snapshot()
			return s.OpenStreams == 0 && s.StreamsTotal == 1
		})
		cli.Close()
		srv.Close()
		smuxtest.Eventually(t, "the session ended", func() bool { return reg.Snapshot().LiveSessions == 0 })
		tapped = *reg.SnapshotWith(live.SnapshotOptions{Streams: func(uint64) bool { return true }}).Sessions[0]
	})
	ps := readPackets(t, path)
	placedPs, frames := placeAll(t, ps, false)
	d := live.ClientToServer
	var middle, last, header []placed // in the client's direction, by kind
	for _, p := range placedPs {
		if p.Dir != d {
			continue
		}
		k := inside(frames[d], p.Off, p.N, decoder.HeaderSize)
		switch {
		case k >= 0 && p.Off+p.N < frames[d][k].off+frames[d][k].size:
			middle = append(middle, p)
		case k >= 0:
			last = append(last, p)
		case slices.ContainsFunc(frames[d], func(f wholeFrame) bool { return f.off == p.Off && f.size > p.N }):
			header = append(header, p) // a frame's first bytes, not all of it
		}
	}
	if len(middle) < 1 || len(last) < 2 || len(header) < 2 {
		t.Fatalf("segments: %d inside payloads, %d ending them, %d beginning them; want 1, 2, 2 at least", len(middle), len(last), len(header))
	}
	frameOf := func(p placed) int { return inside(frames[d], p.Off, p.N, decoder.HeaderSize) }
	t.Run("inside payloads", func(t *testing.T) {
		drop := []placed{middle[0], last[len(last)-1]} // in two frames
		if frameOf(drop[0]) == frameOf(drop[1]) {
			drop[1] = last[0]
		}
		readResumed(t, ps, tapped, drop...)
	})
	t.Run("across a header", func(t *testing.T) {
		g := header[1]
		ss, recs := readBack(t, without(ps, g))
		k := slices.IndexFunc(frames[d], func(f wholeFrame) bool { return f.off == g.Off })
		cut := frames[d][k]
		want := tapped.Counts
		want.Frames[d][decoder.PSH]--
		want.Bytes[d][decoder.PSH] -= uint64(cut.size) // wire bytes
		skipped := cut.off + cut.size - (g.Off + g.N)  // the rest of the frame
		if ss.Counts != want || !ss.Incomplete || ss.Lost != [2]int64{g.N, 0} || ss.Skipped != [2]int64{skipped, 0} {
			t.Errorf("frames %v, bytes %v, incomplete %v, lost %v, skipped %v; want %v, %v, incomplete, [%d 0], [%d 0]",
				ss.Counts.Frames, ss.Counts.Bytes, ss.Incomplete, ss.Lost, ss.Skipped, want.Frames, want.Bytes, g.N, skipped)
		}
		wantRecs := []string{fmt.Sprintf("off=%d capture lost %d bytes at offset %d", g.Off, g.N, g.Off),
			fmt.Sprintf("off=%d resumed at offset %d after lost bytes, %d bytes skipped", cut.off+cut.size, cut.off+cut.size, skipped)}
		if !slices.Equal(recs[d], wantRecs) || len(recs[d.Reverse()]) != 0 {
			t.Errorf("resync records\n got %q\nwant %q", recs, wantRecs)
		}
	})
}

package capture_test

import (
	"io"
	"net"
	"testing"
	"time"

	hyamux "github.com/hashicorp/yamux"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
)

// watchedAnswer is the answer of TestGapInPayloadStillWatched's served
// stream: large enough for frames whose payload spans several segments.
const watchedAnswer = 200_000

// eachWatched runs f as a subtest, "smux" then "yamux", on recordWatched's
// recording of that protocol: its packets, their places in each
// direction's bytes, each direction's frames, and the protocol's header
// size.
func eachWatched(t *testing.T, f func(t *testing.T, yam bool, hs int64, ps []pkt, placedPs []placed, frames [2][]wholeFrame)) {
	for _, yam := range []bool{false, true} {
		name, hs := "smux", int64(decoder.HeaderSize)
		if yam {
			name, hs = "yamux", yamux.HeaderSize
		}
		t.Run(name, func(t *testing.T) {
			ps := readPackets(t, recordWatched(t, yam))
			placedPs, frames := placeAll(t, ps, yam)
			f(t, yam, hs, ps, placedPs, frames)
		})
	}
}

// recordWatched records, by a tap on the client, real smux v2 (or yamux)
// ends: after a first request served and closed both ways, the client
// opens stream A, with a request the server accepts and
// reads, then stream B, which the server never accepts; then the server
// answers A with watchedAnswer bytes, which the client reads whole.
// Neither stream is closed, and the recording stops with the session
// live: the capture sees no end of it.
func recordWatched(t *testing.T, yam bool) string {
	return writeCapture(t, func(w *pcapout.Writer) {
		var reg *live.Registry
		var open func() (net.Conn, error)
		var accept func() (net.Conn, error)
		if yam {
			cfg := hyamux.DefaultConfig()
			var cli, srv *hyamux.Session
			reg, cli, srv = tappedYamux(t, w, cfg)
			open = func() (net.Conn, error) { return cli.OpenStream() }
			accept = func() (net.Conn, error) { return srv.AcceptStream() }
		} else {
			reg = live.New(live.Config{})
			cfg := smuxtest.Config(2)
			cfg.MaxFrameSize = 65535
			wrap := func(c net.Conn) net.Conn {
				return tap.Wrap(c, live.Client, reg, "test", tap.Version(2), tap.Record(w))
			}
			cli, srv := smuxtest.Pair(t, cfg, wrap, nil)
			open = func() (net.Conn, error) { return cli.OpenStream() }
			accept = func() (net.Conn, error) { return srv.AcceptStream() }
		}
		// A request served and closed first, both ways: A and B, opened
		// after it, are no setup streams held for the session's life
		// (which LEAK does not count) but requests.
		w0, err := open()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w0.Write([]byte("GET\n")); err != nil {
			t.Fatal(err)
		}
		s0, err := accept()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(s0, make([]byte, 4)); err != nil {
			t.Fatal(err)
		}
		s0.Close()
		io.Copy(io.Discard, w0)
		w0.Close()
		smuxtest.Eventually(t, "the first request's stream closed both ways", func() bool {
			s := reg.SnapshotWith(live.SnapshotOptions{Streams: func(uint64) bool { return true }})
			return len(s.Sessions) == 1 && s.Sessions[0].Total == 1 && s.Sessions[0].Open == 0
		})
		a, err := open()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Write([]byte("GET\n")); err != nil {
			t.Fatal(err)
		}
		served, err := accept()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(served, make([]byte, 4)); err != nil {
			t.Fatal(err)
		}
		// B: opened, asked, never accepted (a SYN alone asks nothing of an
		// smux server: UNANSWERED counts only a stream that carried a request).
		b, err := open()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Write([]byte("GET\n")); err != nil {
			t.Fatal(err)
		}
		go served.Write(make([]byte, watchedAnswer))
		if _, err := io.ReadFull(a, make([]byte, watchedAnswer)); err != nil {
			t.Fatal(err)
		}
		smuxtest.Eventually(t, "the tap saw the answer", func() bool {
			s := reg.SnapshotWith(live.SnapshotOptions{Streams: func(uint64) bool { return true }})
			return len(s.Sessions) == 1 && len(s.Sessions[0].Streams) == 3 &&
				s.Sessions[0].Streams[1].Bytes[live.ServerToClient] == watchedAnswer
		})
	})
}

// TestGapInPayloadStillWatched: real smux v2 and yamux traffic, recorded
// by a tap (recordWatched), read with one segment inside the payload of
// the server's answer removed, while stream A, which it answers, and
// stream B, which asks and is never accepted, are both open. No frame was lost: only the
// session is incomplete, neither stream is, and the findings go on
// watching both: B opens UNANSWERED once past --unanswered-after, and A,
// never closed, opens LEAK once idle past --leak-after. A loss that may hide
// frames (live.Session.Resynced) would excuse both: their answer, or
// their FIN, might be in it.
func TestGapInPayloadStillWatched(t *testing.T) {
	cfg := live.FindingsConfig{Churn: -1, LeakAfter: 10 * time.Second, UnansweredAfter: 2 * time.Second}
	eachWatched(t, func(t *testing.T, yam bool, hs int64, ps []pkt, placedPs []placed, frames [2][]wholeFrame) {
		d := live.ServerToClient
		var drop *placed
		for _, p := range placedPs {
			if k := inside(frames[d], p.Off, p.N, hs); p.Dir == d && k >= 0 && p.Off+p.N < frames[d][k].off+frames[d][k].size {
				drop = &p
				break
			}
		}
		if drop == nil {
			t.Fatal("no segment inside an answer's payload to drop")
		}
		reg := readEvaluated(without(ps, *drop), capture.Config{}, cfg)
		all := live.SnapshotOptions{Streams: func(uint64) bool { return true }}
		snap := reg.SnapshotWith(all)
		if len(snap.Sessions) != 1 {
			t.Fatalf("%d sessions, want 1", len(snap.Sessions))
		}
		ss := snap.Sessions[0]
		if ss.Ended || !ss.Incomplete || ss.Lost != [2]int64{0, drop.N} || ss.Skipped != [2]int64{} || len(ss.Streams) != 3 {
			t.Fatalf("ended %v, incomplete %v, lost %v, skipped %v, %d streams; want live, incomplete, [0 %d] lost, nothing skipped, 3 streams (the first closed)",
				ss.Ended, ss.Incomplete, ss.Lost, ss.Skipped, len(ss.Streams), drop.N)
		}
		a, b := ss.Streams[1], ss.Streams[2] // after the first request's, closed
		for _, st := range []live.StreamSnap{a, b} {
			if st.Incomplete || !st.State.Live() {
				t.Errorf("stream %d: %v, incomplete %v; want it open and not incomplete: the loss hid no frame of it", st.ID, st.State, st.Incomplete)
			}
		}
		if a.Bytes[d] != watchedAnswer || b.Frames[d] != 0 {
			t.Fatalf("stream %d answered %d bytes, stream %d %d frames; want %d and none", a.ID, a.Bytes[d], b.ID, b.Frames[d], watchedAnswer)
		}

		finding := func(at time.Time, code live.FindingCode) *live.Finding {
			reg.Evaluate(at, cfg)
			for _, f := range reg.SnapshotWith(all).FindingsOf(ss.ID) {
				if f.Code == code {
					return f
				}
			}
			return nil
		}
		if f := finding(b.First.Add(cfg.UnansweredAfter+time.Second), live.CodeUnanswered); f == nil || f.Evidence.Count != 1 || f.Dir != live.ClientToServer {
			t.Errorf("UNANSWERED %+v; want it open for stream %d, the client's: the loss hid no frame of the server's", f, b.ID)
		}
		// A LEAK once idle --leak-after since its latest frame (the
		// answer), and past the second a yamux session waits, until its
		// first ping, for a stream opened as it began.
		if f := finding(a.Last.Add(cfg.LeakAfter+live.NOPLateness+time.Second), live.CodeLeak); f == nil || f.Evidence.Count != 1 {
			t.Errorf("LEAK %+v; want it open for stream %d, never closed: the loss hid no FIN", f, a.ID)
		}
	})
}

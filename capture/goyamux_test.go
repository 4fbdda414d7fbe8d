package capture_test

import (
	"testing"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// TestGoYamuxCapture reads tcpdump's capture of a healthy session of
// libp2p's go-yamux v5.1.0 (default config), client and server over
// loopback TCP: both ends' round-trip ping at the session's start (its
// session.go:368), three requests answered and closed both ways, a
// stream the server resets with ResetWithError(42) and one the client
// resets with ResetWithError(7) (the code in the RST's length,
// stream.go:257), then 2.5 s idle and the client's Close. The programs
// wrote, client then server: DATA 5 and 3 (80 and 60 bytes with
// headers), WINDOW_UPDATE 9 and 9, PING 2 and 2; 212 and 192 bytes.
//
// Nothing is wrong with it. Before, read opened KEEPALIVE both ways 1 s
// into the idle (the start ping taken for a cadence of 111 µs), and the
// reset streams showed -38 and -7 bytes in flight (the codes taken for
// window deltas).
func TestGoYamuxCapture(t *testing.T) {
	const file = "testdata/goyamux-idle-reset.pcap"
	opened, _, _ := readPcapFindings(t, file, "port 19500", 0, true)
	if len(opened) != 0 {
		t.Errorf("opened %v on a healthy go-yamux session, want none", opened)
	}
	filter, err := capture.ParseFilter("port 19500")
	if err != nil {
		t.Fatal(err)
	}
	reg := readEvaluated(readPackets(t, file), capture.Config{Filter: filter, Protocol: tap.Yamux}, live.FindingsConfig{})
	snap := reg.SnapshotWith(live.SnapshotOptions{Streams: func(uint64) bool { return true }})
	if len(snap.Sessions) != 1 {
		t.Fatalf("%d sessions, want 1", len(snap.Sessions))
	}
	ss := snap.Sessions[0]
	want := [2][yamux.NumTypes]uint64{{5, 9, 2, 0}, {3, 9, 2, 0}}
	wantBytes := [2][yamux.NumTypes]uint64{{80, 108, 24, 0}, {60, 108, 24, 0}}
	if ss.Counts.TypeFrames != want || ss.Counts.TypeBytes != wantBytes {
		t.Errorf("frames %v, bytes %v; the programs wrote %v, %v", ss.Counts.TypeFrames, ss.Counts.TypeBytes, want, wantBytes)
	}
	if ss.AnomalyCount != 0 || len(ss.Framing) != 0 || ss.Total != 5 {
		t.Errorf("%d anomalies, %d violations, %d streams; want 0, 0, 5", ss.AnomalyCount, len(ss.Framing), ss.Total)
	}
	for _, c := range []struct {
		sid   uint32
		state live.State
	}{{1, live.Closed}, {3, live.Closed}, {5, live.Closed}, {7, live.StreamReset}, {9, live.StreamReset}} {
		st := ss.Stream(c.sid)
		if st == nil {
			t.Errorf("no stream %d", c.sid)
			continue
		}
		if st.State != c.state {
			t.Errorf("stream %d %v, want %v", c.sid, st.State, c.state)
		}
		for d, fl := range st.Flow {
			if fl.InFlight() != int64(st.Bytes[d]) || fl.Window() != yamux.InitialWindow {
				t.Errorf("stream %d %v: %d/%d in flight, want %d/%d (no update returned a byte)",
					c.sid, live.Dir(d), fl.InFlight(), fl.Window(), st.Bytes[d], yamux.InitialWindow)
			}
		}
	}
	if p := ss.Pings; p[0].Sent != 1 || p[0].Answered != 1 || p[1].Sent != 1 || p[1].Answered != 1 {
		t.Errorf("pings %+v, want one each way, answered", p)
	}
}

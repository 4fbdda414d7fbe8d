package capture_test

import (
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
)

// TestJoinedRecordsInTimeOrder reads the captures of real smux v1, v2 and
// yamux traffic joined mid-stream, as read finds their connections and
// picked by the server's port with the protocol forced: the frames of the
// two directions are recorded in the order their packets came. Before
// each direction's first frame boundary was looked for in the bytes held
// (aligning), the first frames of the direction whose chain of headers
// completed later were recorded after the other's later frames, and the
// history stepped back in time (0.4 ms in joined-answer-first-v2, 100 ms
// in joined-after-server-fin-v1).
func TestJoinedRecordsInTimeOrder(t *testing.T) {
	paths, _ := filepath.Glob("testdata/joined-*")
	more, _ := filepath.Glob("testdata/midstream-*")
	paths = append(paths, more...)
	if len(paths) < 7 {
		t.Fatalf("%d joined captures in testdata", len(paths))
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			ps := readPackets(t, path)
			found := readEvaluated(ps, capture.Config{}, live.FindingsConfig{Churn: -1})
			ss := found.Snapshot().Sessions
			if len(ss) == 0 {
				t.Fatal("no session found")
			}
			server, err := netip.ParseAddrPort(ss[0].Info.Server)
			if err != nil {
				t.Fatal(err)
			}
			proto := tap.Smux
			if ss[0].Info.Proto == live.Yamux {
				proto = tap.Yamux
			}
			picked := readEvaluated(ps, capture.Config{Filter: capture.Port(server.Port()), Protocol: proto}, live.FindingsConfig{Churn: -1})
			var frames [2]int
			for i, reg := range []*live.Registry{found, picked} {
				recs, _ := reg.Frames(live.Query{From: 1}, nil)
				var last time.Time
				for _, r := range recs {
					if r.Kind != live.FrameRecord && r.Kind != live.ResyncRecord {
						continue
					}
					if r.Kind == live.FrameRecord {
						frames[i]++
					}
					if r.At.Before(last) {
						t.Errorf("read %d: record %d (%v %s) at %v, after one at %v", i, r.Seq, r.Kind, r.Dir, r.At.Format("05.000000"), last.Format("05.000000"))
					}
					last = r.At
				}
			}
			if frames[0] == 0 || frames[0] != frames[1] {
				t.Errorf("%d frames found, %d picked by port %d", frames[0], frames[1], server.Port())
			}
		})
	}
}

// TestJoinedLateDataAfterHeldFIN: a capture joins a connection 3 bytes
// before the client's FIN of stream 3, which began before it; the
// client's next frames come later, so a chain of three headers that
// frames its direction completes only at 0.3 s. Meanwhile, at 0.15 s, the
// server writes on stream 3, after the client closed it:
// DATA_AFTER_CLOSE. Recorded in the order the chains completed, the FIN
// came after the data, and the finding was missed.
func TestJoinedLateDataAfterHeldFIN(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	path := writeCapture(t, func(w *pcapout.Writer) {
		c := w.Conn("127.0.0.1:40007", "127.0.0.1:9000", t0)
		c.Write(live.ClientToServer, t0, []byte("xyz"+v1("\x01", 1, "")+v1("\x01", 1, "")+v1("\x01", 1, "")))
		at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
		for _, s := range []float64{0.05, 0.06, 0.07} {
			c.Write(live.ServerToClient, at(s), []byte(v1("\x03", 0, ""))) // keepalive NOPs: its chain completes at once
		}
		c.Write(live.ClientToServer, at(0.1), []byte(v1("\x01", 3, "")))
		c.Write(live.ServerToClient, at(0.15), []byte(v1("\x02", 3, "late")))
		c.Write(live.ClientToServer, at(0.2), []byte(v1("\x00", 5, "")))
		c.Write(live.ClientToServer, at(0.3), []byte(v1("\x02", 5, "RAND")))
		c.Write(live.ServerToClient, at(0.4), []byte(v1("\x02", 5, "12345678")))
	})
	var ps []pkt
	joined := false
	for _, p := range readPackets(t, path) {
		if !joined && len(p.payload) == 0 {
			continue // the handshake, before the capture
		}
		if !joined {
			// The capture joins 3 bytes before the FIN: only the end of the
			// FINs before it, which the first packet carries, is in it.
			p, joined = trim(t, p, len(p.payload)-3), true
		}
		ps = append(ps, p)
	}
	for _, filter := range []capture.Config{{}, {Filter: capture.Port(9000), Protocol: tap.Smux}} {
		fs := findingsOf(t, ps, filter.Filter, live.FindingsConfig{Churn: -1, UnansweredAfter: time.Hour})
		var got []string
		for _, r := range fs {
			if r.Kind == live.FindingOpened {
				got = append(got, r.Finding.Code.String()+"/"+r.Finding.Dir.Code())
			}
		}
		if strings.Join(got, " ") != "DATA_AFTER_CLOSE/s2c" {
			t.Errorf("filter %v: findings opened %q, want the server's DATA_AFTER_CLOSE", filter.Filter, got)
		}
	}
}

package capture_test

import (
	"testing"
	"time"

	"github.com/gopacket/gopacket"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
)

// TestJoinedResetEndsSession reads tcpdump's capture of one session of
// the demo's --fault mismatch (a v2 client, a v1 server), begun after the
// session opened: the client sends requests the server never answers,
// the server's first keepalive NOP makes the client close (FIN), and the
// server's next NOP is answered by the client's RST. The RST ends the
// connection, as it ends the client's session: VERSION_MISMATCH opens and
// nothing else. Before, the session lived on to the capture's end, waiting
// for the server's FIN: LEAK for the unanswered requests and KEEPALIVE for
// the server's silence after the RST, which the client's tap never opened;
// and the NOPs of the server's direction, too few to chain, were decoded
// only then.
func TestJoinedResetEndsSession(t *testing.T) {
	opened, ended, last := readPcapFindings(t, "testdata/joined-reset-v2-v1.pcap", "port 36585", 6*time.Second, false)
	if len(opened) != 1 || opened[0] != "VERSION_MISMATCH" {
		t.Errorf("opened %v, want [VERSION_MISMATCH] alone", opened)
	}
	if !ended.Equal(last) {
		t.Errorf("the session ended at %v, want the RST's time %v", ended, last)
	}
}

// TestJoinedAnswerFirst reads tcpdump's captures of a healthy pool
// session of the demo, smux v2 and yamux, begun between requests: the
// first request's SYN and data come first, but the client's direction
// chains (three frames) only at its next frame, after the server's answer
// (UPD, data, FIN) has chained and been recorded. The SYN opens the stream
// the answer adopted: before, it opened a second one with the same id,
// never answered nor closed, and read opened UNANSWERED and two LEAKs on
// a healthy session.
func TestJoinedAnswerFirst(t *testing.T) {
	for _, tc := range []struct {
		file, filter string
		yam          bool
	}{
		{"testdata/joined-answer-first-v2.pcap", "port 20468", false},
		{"testdata/joined-answer-first-yamux.pcap", "port 28484", true},
	} {
		t.Run(tc.file, func(t *testing.T) {
			opened, _, _ := readPcapFindings(t, tc.file, tc.filter, 0, tc.yam)
			if len(opened) != 0 {
				t.Errorf("opened %v on a healthy session, want none", opened)
			}
		})
	}
}

// readPcapFindings reads a pcap file of Ethernet packets with filter, a
// quiet tail of capture time after its last packet, and the thresholds of
// the tcpdump end-to-end tests; it returns the codes of the findings
// opened, when the last session ended and the last packet's time.
func readPcapFindings(t *testing.T, file, expr string, tail time.Duration, yam bool) (opened []string, ended, last time.Time) {
	t.Helper()
	ps := readPackets(t, file)
	last = ps[len(ps)-1].CI.Timestamp
	if tail > 0 {
		ps = append(ps, pkt{CI: gopacket.CaptureInfo{Timestamp: last.Add(tail)}})
	}
	filter, err := capture.ParseFilter(expr)
	if err != nil {
		t.Fatal(err)
	}
	cfg := live.FindingsConfig{LeakAfter: 2 * time.Second, UnansweredAfter: 2 * time.Second,
		StallAfter: time.Second, BlockedAfter: time.Second}
	rcfg := capture.Config{Filter: filter}
	if yam {
		rcfg.Protocol = tap.Yamux
	}
	reg := readEvaluated(ps, rcfg, cfg)
	recs, _ := reg.Frames(live.Query{From: 1}, nil)
	for _, r := range recs {
		switch r.Kind {
		case live.FindingOpened:
			opened = append(opened, r.Finding.Code.String())
		case live.SessionEnded:
			ended = r.At
		}
	}
	return opened, ended, last
}

// TestJoinedAfterServerFIN reads tcpdump's capture of a healthy smux v1
// pool session begun between a request's two FINs: its first frame is
// the client's FIN of stream 63, which the session adopts. Whether the
// server answered it went by unseen: no UNANSWERED (before, read opened
// it, which the client's tap never did). Whether the server's FIN came
// before the capture cannot be told from one that never shows the stream
// again: it is half-closed by the client, a LEAK after --leak-after, as
// it would be if the server never closed it.
func TestJoinedAfterServerFIN(t *testing.T) {
	opened, _, _ := readPcapFindings(t, "testdata/joined-after-server-fin-v1.pcap", "port 28992", 0, false)
	if len(opened) != 1 || opened[0] != "LEAK" {
		t.Errorf("opened %v, want [LEAK] alone", opened)
	}
}

// TestResetBehindHole: a client's RST captured before a segment it
// follows (reordered on the way to the capture point) is not taken by
// reassembly yet: the connection waits for the segment, whose frames
// are decoded, none lost, and then ends, reset. Only a RST its
// direction's reassembly took ends the whole connection at once.
func TestResetBehindHole(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	path := writeCapture(t, func(w *pcapout.Writer) {
		c := w.Conn("127.0.0.1:40009", "127.0.0.1:9000", t0)
		c.Write(live.ClientToServer, t0.Add(10*time.Millisecond), []byte(v1("\x00", 3, "")))
		c.Write(live.ClientToServer, t0.Add(20*time.Millisecond), []byte(v1("\x02", 3, "RAND")))
		c.Write(live.ServerToClient, t0.Add(30*time.Millisecond), []byte(v1("\x02", 3, "12345678")))
		c.Write(live.ClientToServer, t0.Add(40*time.Millisecond), []byte(v1("\x02", 3, "MORE")))
		c.End(live.ClientToServer, t0.Add(50*time.Millisecond))
	})
	ps := readPackets(t, path)
	last, rst := -1, -1
	for i, p := range ps {
		if uint16(p.TCP.SrcPort) != 40009 {
			continue
		}
		if len(p.Payload) > 0 {
			last = i
		}
		if p.TCP.FIN {
			tcp := *p.TCP
			tcp.FIN, tcp.RST = false, true
			ps[i], rst = reserialize(t, p, &tcp, nil), i
		}
	}
	if last < 0 || rst < last {
		t.Fatalf("no client data before its FIN in %d packets", len(ps))
	}
	// The RST first, the segment it follows 1 ms after.
	ps[last], ps[rst] = ps[rst], ps[last]
	ps[last].CI.Timestamp, ps[rst].CI.Timestamp = ps[rst].CI.Timestamp, ps[rst].CI.Timestamp.Add(time.Millisecond)
	ps = ps[:rst+1]

	reg := readEvaluated(ps, capture.Config{Filter: capture.Port(9000)}, live.FindingsConfig{Churn: -1})
	snap := reg.Snapshot()
	if len(snap.Sessions) != 1 {
		t.Fatalf("%d sessions, want one", len(snap.Sessions))
	}
	if got := snap.Totals.Total(); got != 4 {
		t.Errorf("%d frames decoded, want 4 (SYN, RAND, its answer, MORE)", got)
	}
	if s := snap.Sessions[0]; s.Lost != [2]int64{} {
		t.Errorf("lost %v bytes, want none", s.Lost)
	}
}

// TestLateSegmentsAfterReset: the client closes with an answer unread and
// resets; the server's next segment, sent before the RST reached it, and
// the client's RST that answers it come after. They belong to the
// connection that ended, not to another: the session ends once, reset,
// and no second session opens for them.
func TestLateSegmentsAfterReset(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	path := writeCapture(t, func(w *pcapout.Writer) {
		c := w.Conn("127.0.0.1:40009", "127.0.0.1:9000", t0)
		for i := range 3 {
			at := t0.Add(time.Duration(10+10*i) * time.Millisecond)
			c.Write(live.ClientToServer, at, []byte(v1("\x03", 0, "")))
			c.Write(live.ServerToClient, at.Add(time.Millisecond), []byte(v1("\x03", 0, "")))
		}
		c.Write(live.ServerToClient, t0.Add(50*time.Millisecond), []byte(v1("\x03", 0, ""))) // unread
		c.End(live.ClientToServer, t0.Add(60*time.Millisecond))
	})
	ps := readPackets(t, path)
	var server pkt // the server's last NOP
	for i, p := range ps {
		if uint16(p.TCP.SrcPort) == 9000 && len(p.Payload) > 0 {
			server = p
		}
		if uint16(p.TCP.SrcPort) == 40009 && p.TCP.FIN {
			tcp := *p.TCP
			tcp.FIN, tcp.RST = false, true
			ps[i] = reserialize(t, p, &tcp, nil)
			ps = ps[:i+1]
			break
		}
	}
	rst := ps[len(ps)-1]
	late := *server.TCP // the server's next NOP, in flight
	late.Seq += uint32(len(server.Payload))
	inFlight := reserialize(t, server, &late, server.Payload)
	inFlight.CI.Timestamp = rst.CI.Timestamp.Add(time.Millisecond)
	again := rst
	again.CI.Timestamp = rst.CI.Timestamp.Add(2 * time.Millisecond)
	ps = append(ps, inFlight, again)

	reg := readEvaluated(ps, capture.Config{Filter: capture.Port(9000)}, live.FindingsConfig{Churn: -1})
	if n := len(reg.Snapshot().Sessions); n != 1 {
		t.Fatalf("%d sessions, want one", n)
	}
}

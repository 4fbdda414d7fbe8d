package capture_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
)

// findingsOf reads ps with a Reader that evaluates in capture time, and
// returns the finding records it made.
func findingsOf(t *testing.T, ps []pkt, filter capture.Filter, cfg live.FindingsConfig) []live.Record {
	t.Helper()
	reg := readEvaluated(ps, capture.Config{Filter: filter}, cfg)
	recs, _ := reg.Frames(live.Query{From: 1}, nil)
	var fs []live.Record
	for _, r := range recs {
		if r.Kind == live.FindingOpened || r.Kind == live.FindingResolved {
			fs = append(fs, r)
		}
	}
	return fs
}

// readEvaluated reads ps, Ethernet frames, with a Reader of rcfg that
// evaluates the findings with cfg in capture time, into a new registry
// and returns it.
func readEvaluated(ps []pkt, rcfg capture.Config, cfg live.FindingsConfig) *live.Registry {
	reg := live.New(live.Config{})
	rcfg.Registry = reg
	rcfg.Evaluate = func(now time.Time) { reg.Evaluate(now, cfg) }
	rd := capture.NewReader(rcfg)
	for _, p := range ps {
		rd.Packet(p.Data, p.CI, layers.LinkTypeEthernet)
	}
	rd.Close()
	return reg
}

// withWindow returns ps with the TCP window the end on port sets on its
// packets between from and to (capture time) set to win.
func withWindow(t *testing.T, ps []pkt, port uint16, from, to time.Time, win uint16) []pkt {
	t.Helper()
	out := append([]pkt(nil), ps...)
	for i, p := range out {
		if uint16(p.TCP.SrcPort) != port || p.CI.Timestamp.Before(from) || p.CI.Timestamp.After(to) {
			continue
		}
		tcp := *p.TCP
		tcp.Window = win
		out[i] = reserialize(t, p, &tcp, p.Payload)
	}
	return out
}

// zeroT0 is when zeroWindowCapture's connection begins; zeroSec(s) is s
// seconds after it.
var zeroT0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func zeroSec(s float64) time.Time { return zeroT0.Add(time.Duration(s * float64(time.Second))) }

// zeroWindowCapture is an smux v1 connection between cport and sport
// whose server advertises a zero window from 0.1 s to 4.9 s, while it
// still sends keepalives and opens a stream; the client answers rtt
// after it opens again, and both go on to 8 s.
func zeroWindowCapture(t *testing.T, cport, sport int, rtt float64) []pkt {
	t.Helper()
	t0, sec := zeroT0, zeroSec
	path := writeCapture(t, func(w *pcapout.Writer) {
		c := w.Conn("127.0.0.1:"+strconv.Itoa(cport), "127.0.0.1:"+strconv.Itoa(sport), t0)
		// Three frames at once: a direction joined mid-stream is found in step at once.
		c.Write(live.ServerToClient, sec(0.1), []byte(strings.Repeat(v1("\x03", 0, ""), 3)))
		c.Write(live.ClientToServer, sec(0.1), []byte(strings.Repeat(v1("\x03", 0, ""), 3)))
		c.Write(live.ServerToClient, sec(0.3), []byte(v1("\x00", 2, "")))
		for s := 0.5; s <= 5; s += 0.5 { // the one at 5 s with the window open
			c.Write(live.ServerToClient, sec(s), []byte(v1("\x03", 0, "")))
		}
		// The server reads again: the client answers rtt later (where
		// the capture is taken), and both go on.
		c.Write(live.ClientToServer, sec(5+rtt), []byte(v1("\x02", 2, "ok")))
		for s := 5.5; s < 8; s += 0.5 {
			c.Write(live.ClientToServer, sec(s), []byte(v1("\x03", 0, "")))
			c.Write(live.ServerToClient, sec(s), []byte(v1("\x03", 0, "")))
		}
	})
	return withWindow(t, readPackets(t, path), uint16(sport), sec(0.1), sec(4.9), 0)
}

// TestZeroWindowDirection: the server stops reading and advertises a zero
// TCP window from its first packet on, while it still sends keepalives
// and opens a stream: it is the client's direction (c2s) that is blocked,
// SESSION_BLOCKED since the window closed, however the capture tells the
// roles: the SYN, the filter's port, or, joined mid-stream, the stream id
// the server opens, with the port guess right or wrong (swapped while the
// connection was held). The client's silence meanwhile is not KEEPALIVE.
func TestZeroWindowDirection(t *testing.T) {
	t0, sec := zeroT0, zeroSec
	capture1 := func(cport, sport int, rtt float64) []pkt { return zeroWindowCapture(t, cport, sport, rtt) }
	cfg := live.FindingsConfig{Churn: -1, BlockedAfter: 2 * time.Second}
	for _, tc := range []struct {
		name         string
		cport, sport int
		midstream    bool
		filter       capture.Filter
		rtt          float64 // after the window opens, the client's answer
	}{
		{"syn", 40006, 9000, false, capture.Filter{}, 0.05},
		{"port", 40006, 9000, false, capture.Port(9000), 0.05},
		{"midstream, guessed right", 40006, 9000, true, capture.Filter{}, 0.05},
		{"midstream, guessed wrong", 1000, 61000, true, capture.Filter{}, 0.05},
		// Captured at the server, the client's answer comes a round trip
		// after the window opened, past an evaluation: its silence is
		// still the block's.
		{"answer a round trip later", 40006, 9000, false, capture.Filter{}, 0.15},
		{"answer a round trip later, midstream", 1000, 61000, true, capture.Filter{}, 0.4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps := capture1(tc.cport, tc.sport, tc.rtt)
			if tc.midstream {
				ps = ps[3:] // joined after the handshake, before the first byte
			}
			fs := findingsOf(t, ps, tc.filter, cfg)
			if len(fs) != 2 || fs[0].Kind != live.FindingOpened || fs[1].Kind != live.FindingResolved {
				t.Fatalf("%d finding records, want SESSION_BLOCKED opened and resolved: %+v", len(fs), fs)
			}
			f := fs[0].Finding
			if f.Code != live.CodeSessionBlocked || f.Dir != live.ClientToServer || !f.Since.Equal(sec(0.1)) {
				t.Errorf("opened %v on %v since %v, want SESSION_BLOCKED on c2s since %v: %s", f.Code, f.Dir, f.Since, sec(0.1), f.Text)
			}
			if at := fs[0].At; at.Before(sec(2.1)) || at.After(sec(2.2)) {
				t.Errorf("opened at %v, want 2 s after the window closed", at.Sub(t0))
			}
			if at := fs[1].At; at.Before(sec(5)) || at.After(sec(5.1)) {
				t.Errorf("resolved at %v, want as the window opened (5 s)", at.Sub(t0))
			}
		})
	}
}

// TestZeroWindowMomentary: a window that closes for a moment, as a busy
// receiver's does under load (TestTcpdumpBulkThenRead), blocks nothing:
// an evaluation that falls within it must not take the session for
// blocked, which would resolve its open findings (here LEAK, which a
// blocked session does not open) only to open them again at the next.
func TestZeroWindowMomentary(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	sec := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	path := writeCapture(t, func(w *pcapout.Writer) {
		c := w.Conn("127.0.0.1:40008", "127.0.0.1:9000", t0)
		// A request served and closed first: stream 3, opened after it,
		// is no setup stream held for the session's life (which LEAK
		// does not count) but one a request left open.
		c.Write(live.ClientToServer, sec(0.03), []byte(v1("\x00", 1, "")+v1("\x02", 1, "RAND")))
		c.Write(live.ServerToClient, sec(0.04), []byte(v1("\x02", 1, "7")+v1("\x01", 1, "")))
		c.Write(live.ClientToServer, sec(0.05), []byte(v1("\x01", 1, "")))
		c.Write(live.ClientToServer, sec(0.1), []byte(v1("\x00", 3, "")+v1("\x02", 3, "RAND")))
		c.Write(live.ServerToClient, sec(0.1), []byte(v1("\x02", 3, "42")))
		for s := 0.5; s < 6; s += 0.5 {
			c.Write(live.ClientToServer, sec(s), []byte(v1("\x03", 0, "")))
			c.Write(live.ServerToClient, sec(s), []byte(v1("\x03", 0, "")))
			if s == 3 {
				// The window open again. Written in time order: a packet
				// written after the others carries their ACKs, and a
				// capture can show no ACK of bytes not yet sent (read would
				// take them for lost).
				c.Write(live.ServerToClient, sec(3.15), []byte(v1("\x03", 0, "")))
			}
		}
	})
	ps := readPackets(t, path)
	slices.SortStableFunc(ps, func(a, b pkt) int { return a.CI.Timestamp.Compare(b.CI.Timestamp) })
	ps = withWindow(t, ps, 9000, sec(3), sec(3), 0)
	fs := findingsOf(t, ps, capture.Filter{}, live.FindingsConfig{Churn: -1, LeakAfter: time.Second})
	if len(fs) != 1 || fs[0].Kind != live.FindingOpened || fs[0].Finding.Code != live.CodeLeak {
		for _, r := range fs {
			t.Logf("%v %v %v: %s", r.At.Sub(t0), r.Kind, r.Finding.Code, r.Detail)
		}
		t.Errorf("%d finding records, want one: LEAK opened, and open to the end", len(fs))
	}
}

// TestZeroWindowWritten: sniff --write rewrites the connections it
// decodes as packets of its own (pcapout), and the server's zero window
// it saw must be in them: read back, the file opens SESSION_BLOCKED c2s
// from when the window closed (worded as a tap's held write, sign write:
// pcapout's interfaces are all a tap's, a known limit the README states),
// resolved as it opened,
// and nothing else (the client's silence is the block's). Also where the
// capture joined the connection mid-stream and held it undecided as the
// window closed. Before, every packet it wrote advertised 65535 and the
// file's read said nothing of the block.
func TestZeroWindowWritten(t *testing.T) {
	sec := zeroSec
	cfg := live.FindingsConfig{Churn: -1, BlockedAfter: 2 * time.Second}
	for _, tc := range []struct {
		name         string
		cport, sport int
		midstream    bool
	}{
		{"syn", 40006, 9000, false},
		{"midstream, guessed wrong", 1000, 61000, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps := zeroWindowCapture(t, tc.cport, tc.sport, 0.05)
			if tc.midstream {
				ps = ps[3:]
			}
			written := writeCapture(t, func(w *pcapout.Writer) {
				readEvaluated(ps, capture.Config{Recorder: w}, cfg)
			})
			fs := findingsOf(t, readPackets(t, written), capture.Filter{}, cfg)
			if len(fs) != 2 || fs[0].Kind != live.FindingOpened || fs[1].Kind != live.FindingResolved {
				t.Fatalf("read of the written capture: %d finding records, want SESSION_BLOCKED opened and resolved: %+v", len(fs), fs)
			}
			f := fs[0].Finding
			if f.Code != live.CodeSessionBlocked || f.Dir != live.ClientToServer || !f.Since.Equal(sec(0.1)) {
				t.Errorf("read of the written capture opened %v on %v since %v, want SESSION_BLOCKED on c2s since %v: %s", f.Code, f.Dir, f.Since, sec(0.1), f.Text)
			}
			if at := fs[1].At; at.Before(sec(4.9)) || at.After(sec(5.1)) {
				t.Errorf("read of the written capture resolved it at %v, want as the window opened (4.9-5 s)", at.Sub(zeroT0))
			}
		})
	}
}

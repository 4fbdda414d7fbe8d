package capture_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
)

// TestZeroWindowBetweenEvaluations: a window closed for 550 ms, longer
// than BlockedAfter (500 ms), but opened again before the first
// evaluation 500 ms after it closed (read evaluates every 100 ms of
// capture time: at 0.6 s and 0.7 s of a window closed from 0.12 s to
// 0.67 s). The file holds a block that long, so read of it opens
// SESSION_BLOCKED c2s and resolves it. Before, no evaluation saw the
// window closed for BlockedAfter and read said nothing of the block: the
// --write file of a session attach saw blocked (its held write, 586 ms in
// the file) opened nothing 1 run in 8 (TestAttachWriteHeldYamuxResumes).
func TestZeroWindowBetweenEvaluations(t *testing.T) {
	t0, sec := zeroT0, zeroSec
	path := writeCapture(t, func(w *pcapout.Writer) {
		c := w.Conn("127.0.0.1:40010", "127.0.0.1:9000", t0).(*pcapout.Conn)
		c.Write(live.ServerToClient, sec(0.01), []byte(strings.Repeat(v1("\x03", 0, ""), 3)))
		c.Write(live.ClientToServer, sec(0.01), []byte(strings.Repeat(v1("\x03", 0, ""), 3)))
		c.Write(live.ClientToServer, sec(0.05), []byte(v1("\x00", 3, "")+v1("\x02", 3, "RAND")))
		c.Write(live.ServerToClient, sec(0.06), []byte(v1("\x02", 3, "42")))
		c.ReceiveWindow(live.ClientToServer, true, sec(0.12))
		c.ReceiveWindow(live.ClientToServer, false, sec(0.67))
		c.Write(live.ClientToServer, sec(0.68), []byte(v1("\x02", 3, "more")))
		c.Write(live.ServerToClient, sec(0.69), []byte(v1("\x02", 3, "43")))
	})
	fs := findingsOf(t, readPackets(t, path), capture.Filter{}, live.FindingsConfig{Churn: -1, BlockedAfter: 500 * time.Millisecond})
	if len(fs) != 2 || fs[0].Kind != live.FindingOpened || fs[1].Kind != live.FindingResolved {
		for _, r := range fs {
			t.Logf("%v %v %v %v: %s", r.At.Sub(t0), r.Kind, r.Finding.Code, r.Finding.Dir, r.Finding.Text)
		}
		t.Fatalf("%d finding records, want SESSION_BLOCKED opened and resolved", len(fs))
	}
	f := fs[0].Finding
	if f.Code != live.CodeSessionBlocked || f.Dir != live.ClientToServer || !f.Since.Equal(sec(0.12)) {
		t.Errorf("opened %v on %v since %v, want SESSION_BLOCKED on c2s since %v: %s", f.Code, f.Dir, f.Since.Sub(t0), sec(0.12).Sub(t0), f.Text)
	}
	if at := fs[0].At; at.Before(sec(0.62)) || at.After(sec(0.67)) {
		t.Errorf("opened at %v, want by the time the window opened (0.67 s)", at.Sub(t0))
	}
}

// TestFlappingWindowEvaluatesBySteps: the evaluation made before a zero
// window opens (TestZeroWindowBetweenEvaluations) is for a window closed
// a step or longer: a window that flaps, closed a moment a thousand
// times, costs none of its own, and windows opening at one instant make
// one. Before, each opening made an evaluation of every session: 1,013
// in 1.2 s of capture (2,000 other sessions: the read 4.5× as long).
// Before: "1000 windows of 0.5 ms: 1013 evaluations over 1.2 s of capture, want the 100 ms steps' (about 13)".
func TestFlappingWindowEvaluatesBySteps(t *testing.T) {
	t0, sec := zeroT0, zeroSec
	path := writeCapture(t, func(w *pcapout.Writer) {
		c := w.Conn("127.0.0.1:40010", "127.0.0.1:9000", t0).(*pcapout.Conn)
		c.Write(live.ServerToClient, sec(0.01), []byte(strings.Repeat(v1("\x03", 0, ""), 3)))
		c.Write(live.ClientToServer, sec(0.01), []byte(strings.Repeat(v1("\x03", 0, ""), 3)))
		c.Write(live.ClientToServer, sec(0.05), []byte(v1("\x00", 3, "")+v1("\x02", 3, "RAND")))
		for i := range 1000 {
			at := 0.1 + float64(i)*0.001
			c.ReceiveWindow(live.ClientToServer, true, sec(at))
			c.ReceiveWindow(live.ClientToServer, false, sec(at+0.0005))
		}
		c.Write(live.ClientToServer, sec(1.2), []byte(v1("\x02", 3, "more")))
	})
	reg := live.New(live.Config{})
	n := 0
	rd := capture.NewReader(capture.Config{Registry: reg, Evaluate: func(now time.Time) { n++; reg.Evaluate(now, live.FindingsConfig{Churn: -1}) }})
	for _, p := range readPackets(t, path) {
		rd.Packet(p.Data, p.CI, layers.LinkTypeEthernet)
	}
	rd.Close()
	if n > 20 {
		t.Errorf("1000 windows of 0.5 ms: %d evaluations over 1.2 s of capture, want the 100 ms steps' (about 13)", n)
	}
}

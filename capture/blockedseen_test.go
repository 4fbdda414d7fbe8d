package capture_test

import (
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
)

// TestBlockedAfterLossNamesTheStream: the capture saw stream 3 open (its
// SYN and request) and the server's answer on it, but lost a packet of
// that answer, as tcpdump drops under load; then the client stops
// reading, its TCP window closed for 4 s. SESSION_BLOCKED names stream 3,
// which the capture saw. A loss sets the live streams aside (no leak
// suspects), and the finding looked only among the others: it said "the
// capture never saw the streams it holds: it joined the connection after
// they opened, or lost their bytes", of a stream whose SYN it had.
func TestBlockedAfterLossNamesTheStream(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	sec := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	path := writeCapture(t, func(w *pcapout.Writer) {
		c := w.Conn("127.0.0.1:40015", "127.0.0.1:9000", t0)
		c.Write(live.ClientToServer, sec(0.1), []byte(v1("\x00", 3, "")+v1("\x02", 3, "RAND")))
		c.Write(live.ServerToClient, sec(0.2), []byte(v1("\x02", 3, strings.Repeat("a", 1000)))) // lost
		c.Write(live.ServerToClient, sec(0.3), []byte(v1("\x02", 3, strings.Repeat("b", 1000))))
		for s := 0.5; s < 6; s += 0.5 {
			c.Write(live.ClientToServer, sec(s), []byte(v1("\x03", 0, "")))
			c.Write(live.ServerToClient, sec(s), []byte(v1("\x03", 0, "")))
		}
	})
	var ps []pkt
	for _, p := range readPackets(t, path) {
		if !(p.CI.Timestamp.Equal(sec(0.2)) && len(p.Payload) > 0) {
			ps = append(ps, p)
		}
	}
	ps = withWindow(t, ps, 40015, sec(0.5), sec(4.9), 0)
	fs := findingsOf(t, ps, capture.Filter{}, live.FindingsConfig{Churn: -1, BlockedAfter: 2 * time.Second})
	var blocked *live.Finding
	for i, r := range fs {
		if r.Kind == live.FindingOpened && r.Finding.Code == live.CodeSessionBlocked {
			blocked = fs[i].Finding
			break
		}
	}
	if blocked == nil {
		t.Fatalf("no SESSION_BLOCKED among %d finding records", len(fs))
	}
	if blocked.Stream != 3 || strings.Contains(blocked.Text, "never saw") {
		t.Errorf("SESSION_BLOCKED of stream %d: %s; want stream 3, which the capture saw open", blocked.Stream, blocked.Text)
	}
}

package capture_test

import (
	"testing"
	"time"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
)

// TestSegmentHeldKeepsItsTime: the capture loses a packet of the
// server's (its FIN of stream 1, as tcpdump drops under load), so
// reassembly holds the server's next segments, its reply on stream 3 and
// its FIN, behind the hole until the client's FIN of stream 3
// acknowledges them. Delivered then, they keep the times their packets
// came: the reply is recorded at 110 ms, before the client's FIN at
// 112 ms, and no DATA_AFTER_CLOSE opens. Reassembly kept one context for
// every packet, the reader's, and the reply took the FIN's time: at it,
// it counted as written after the FIN, in 3 to 6 findings per lossy
// demo capture.
func TestSegmentHeldKeepsItsTime(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	var lost time.Time
	path := writeCapture(t, func(w *pcapout.Writer) {
		c := w.Conn("127.0.0.1:40013", "127.0.0.1:9000", t0)
		for i, sid := range []uint32{1, 3, 5, 7} {
			at := 100 * i
			c.Write(live.ClientToServer, ms(at), []byte(v1("\x00", sid, "")+v1("\x02", sid, "RAND")))
			c.Write(live.ServerToClient, ms(at+10), []byte(v1("\x02", sid, "12345678")))
			c.Write(live.ServerToClient, ms(at+11), []byte(v1("\x01", sid, "")))
			c.Write(live.ClientToServer, ms(at+12), []byte(v1("\x01", sid, "")))
		}
		lost = ms(11) // the server's FIN of stream 1
	})
	var ps []pkt
	for _, p := range readPackets(t, path) {
		if !(p.CI.Timestamp.Equal(lost) && len(p.Payload) > 0) {
			ps = append(ps, p)
		}
	}
	reg := readEvaluated(ps, capture.Config{Filter: capture.Port(9000)}, live.FindingsConfig{Churn: -1})
	recs, _ := reg.Frames(live.Query{From: 1}, nil)
	var reply time.Time
	for _, r := range recs {
		switch {
		case r.Kind == live.FindingOpened:
			t.Errorf("a finding opened: %s %s", r.Finding.Code, r.Finding.Dir.Code())
		case r.Kind == live.FrameRecord && r.Dir == live.ServerToClient && r.Header.StreamID() == 3 && len(r.Payload) == 8:
			reply = r.At
		}
	}
	if !reply.Equal(ms(110)) {
		t.Errorf("the server's reply on stream 3, held behind the lost bytes, recorded at %v, want its packet's 110ms", reply.Sub(t0))
	}
}

package capture_test

import (
	"testing"
	"time"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
)

// TestLonePing: a connection joined mid-stream whose one frame is a yamux
// ping alone in its packet, its FIN 10 s later (a frozen peer's session,
// captured from after its last byte), is decided yamux at that packet
// and its session opens at its time, so that the evaluations after it
// see the session: KEEPALIVE opens 5 s after the ping, before the FIN.
// Before, no chain of three headers came: the connection was held until
// it ended. A 12-byte packet that is not exactly a ping (flags SYN|ACK, a
// stream id, a byte more or a byte fewer) decides nothing: the
// connection, probed to its end, is not taken for a mux on it.
func TestLonePing(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ping := []byte{0, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7}
	for _, tc := range []struct {
		name    string
		payload []byte
		mux     bool
	}{
		{"ping SYN", ping, true},
		{"ping ACK", []byte{0, 2, 0, 2, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}, true},
		{"SYN|ACK", []byte{0, 2, 0, 3, 0, 0, 0, 0, 0, 0, 0, 7}, false},
		{"stream 1", []byte{0, 2, 0, 1, 0, 0, 0, 1, 0, 0, 0, 7}, false},
		{"version 1", []byte{1, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7}, false},
		{"a byte more", append(append([]byte(nil), ping...), 0), false},
		{"a byte fewer", ping[:11], false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeCapture(t, func(w *pcapout.Writer) {
				c := w.Conn("127.0.0.1:51000", "127.0.0.1:7800", t0)
				c.Write(live.ClientToServer, t0.Add(10*time.Millisecond), tc.payload)
				c.End(live.ClientToServer, t0.Add(10*time.Second))
			})
			var ps []pkt
			var synAck *pkt
			for _, p := range readPackets(t, path) {
				if p.TCP.SYN && p.TCP.ACK {
					synAck = &p
				}
				if !p.TCP.SYN { // joined mid-stream
					ps = append(ps, p)
				}
			}
			// The silent end's kernel ACKs the ping, as a frozen process's
			// does (a gone host's would not: TestOneDirectionGoneServer).
			ack := *ps[0].TCP
			ack.SrcPort, ack.DstPort = ps[0].TCP.DstPort, ps[0].TCP.SrcPort
			ack.Seq, ack.Ack = synAck.TCP.Seq+1, ps[0].TCP.Seq+uint32(len(ps[0].Payload))
			ack.PSH, ack.ACK, ack.Options = false, true, nil
			a := reserialize(t, ps[0], &ack, nil)
			a.CI.Timestamp = a.CI.Timestamp.Add(40 * time.Millisecond)
			ps = append([]pkt{ps[0], a}, ps[1:]...)
			reg := readEvaluated(ps, capture.Config{}, live.FindingsConfig{Churn: -1})
			recs, _ := reg.Frames(live.Query{From: 1}, nil)
			var opened, keepalive time.Time
			for _, r := range recs {
				switch {
				case r.Kind == live.SessionOpened:
					opened = r.At
				case r.Kind == live.FindingOpened && r.Finding.Code == live.CodeKeepalive:
					keepalive = r.At
				}
			}
			if !tc.mux {
				if !opened.IsZero() {
					t.Errorf("% x alone decoded as a mux, opened at %v", tc.payload, opened.Sub(t0))
				}
				return
			}
			if s := reg.Snapshot().Sessions; len(s) != 1 || s[0].Proto != live.Yamux {
				t.Fatalf("sessions %v, want one, yamux", s)
			}
			if want := t0.Add(10 * time.Millisecond); !opened.Equal(want) {
				t.Errorf("the session opened at %v, want the ping's %v", opened.Sub(t0), want.Sub(t0))
			}
			if tc.payload[3] == 1 && (keepalive.Before(t0.Add(5010*time.Millisecond)) || keepalive.After(t0.Add(5200*time.Millisecond))) {
				t.Errorf("KEEPALIVE opened at %v, want 5 s after the ping at 10ms", keepalive.Sub(t0))
			}
		})
	}
}

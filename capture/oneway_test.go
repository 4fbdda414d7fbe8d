package capture_test

import (
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
)

// TestOneDirection: a capture that holds no segment at all of one end of
// a healthy smux session, not even an ACK (tcpdump's "dst port 9000" or
// "src port 9000"), judges nothing about that end: no KEEPALIVE for its
// silence, which is the capture's, where one opened; a notice says so
// once, and the session's snapshot marks the direction unseen. The whole
// capture has no notice and no finding; a server that sends no frame but
// whose SYN-ACK the capture holds is seen, and its silence is KEEPALIVE's.
func TestOneDirection(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	write := func(serverSends bool) string {
		at := at
		return writeCapture(t, func(w *pcapout.Writer) {
			c := w.Conn("127.0.0.1:40005", "127.0.0.1:9000", at)
			for range 20 {
				at = at.Add(time.Second)
				c.Write(live.ClientToServer, at, []byte(v1("\x03", 0, "")))
				if serverSends {
					c.Write(live.ServerToClient, at.Add(time.Millisecond), []byte(v1("\x03", 0, "")))
				}
			}
		})
	}
	healthy := readPackets(t, write(true))
	keep := func(toServer bool) []pkt {
		var out []pkt
		for _, p := range healthy {
			if (p.TCP.DstPort == 9000) == toServer {
				out = append(out, p)
			}
		}
		return out
	}
	cfg := live.FindingsConfig{Churn: -1}
	for _, tc := range []struct {
		name   string
		ps     []pkt
		unseen [2]bool
		notice string
		code   string // the finding wanted, if any
	}{
		{"whole", healthy, [2]bool{}, "", ""},
		{"dst port", keep(true), [2]bool{false, true}, "the capture holds only the client's packets of 127.0.0.1:40005 → 127.0.0.1:9000", ""},
		{"src port", keep(false), [2]bool{true, false}, "the capture holds only the server's packets of 127.0.0.1:40005 → 127.0.0.1:9000", ""},
		{"frozen server, seen", readPackets(t, write(false)), [2]bool{}, "", "KEEPALIVE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := readEvaluated(tc.ps, capture.Config{Filter: capture.Port(9000)}, cfg)
			recs, _ := reg.Frames(live.Query{From: 1}, nil)
			var codes, notices []string
			for _, r := range recs {
				switch r.Kind {
				case live.FindingOpened:
					codes = append(codes, r.Finding.Code.String()+" "+r.Finding.Dir.Code())
				case live.NoticeRecord:
					if strings.Contains(r.Detail, "the capture holds only") {
						notices = append(notices, r.Detail)
					}
				}
			}
			switch {
			case tc.code == "" && len(codes) > 0:
				t.Errorf("findings opened: %q", codes)
			case tc.code != "" && (len(codes) != 1 || !strings.HasPrefix(codes[0], tc.code)):
				t.Errorf("findings opened: %q, want %s", codes, tc.code)
			}
			switch {
			case tc.notice == "" && len(notices) > 0:
				t.Errorf("notices: %q, want none", notices)
			case tc.notice != "" && (len(notices) != 1 || !strings.HasPrefix(notices[0], tc.notice)):
				t.Errorf("notices: %q, want one: %s…", notices, tc.notice)
			}
			snap := reg.Snapshot()
			if len(snap.Sessions) != 1 {
				t.Fatalf("%d sessions, want 1", len(snap.Sessions))
			}
			if got := snap.Sessions[0].Unseen; got != tc.unseen {
				t.Errorf("Unseen %v, want %v", got, tc.unseen)
			}
			if want := map[bool]int{false: 0, true: 1}[tc.unseen != [2]bool{}]; snap.OneWay != want {
				t.Errorf("OneWay %d, want %d", snap.OneWay, want)
			}
		})
	}
}

// TestOneDirectionUpload: a yamux upload of 1 MiB, four times the
// default window, whose receiver's window updates the capture of one
// direction does not hold: the data is no "recv window exceeded" anomaly,
// nor its writer held at the window, since the window is not known; with
// the updates, the whole capture has neither either.
func TestOneDirectionUpload(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	path := writeCapture(t, func(w *pcapout.Writer) {
		c := w.Conn("127.0.0.1:40005", "127.0.0.1:9000", at)
		at = at.Add(time.Millisecond)
		c.Write(live.ClientToServer, at, []byte(ym(yamux.WindowUpdate, yamux.SYN, 1, "", 0)))
		c.Write(live.ServerToClient, at.Add(time.Millisecond), []byte(ym(yamux.WindowUpdate, yamux.ACK, 1, "", 0)))
		chunk := strings.Repeat("x", 16<<10)
		for i := range 64 {
			at = at.Add(10 * time.Millisecond)
			c.Write(live.ClientToServer, at, []byte(ym(yamux.Data, 0, 1, chunk, 0)))
			if i%8 == 7 { // the reader read 128 KiB: its update
				c.Write(live.ServerToClient, at.Add(time.Millisecond), []byte(ym(yamux.WindowUpdate, 0, 1, "", 128<<10)))
			}
		}
	})
	all := readPackets(t, path)
	var toServer []pkt
	for _, p := range all {
		if p.TCP.DstPort == 9000 {
			toServer = append(toServer, p)
		}
	}
	for name, ps := range map[string][]pkt{"whole": all, "dst port": toServer} {
		reg := readEvaluated(ps, capture.Config{}, live.FindingsConfig{Churn: -1})
		snap := reg.SnapshotWith(live.SnapshotOptions{Streams: func(uint64) bool { return true }})
		if len(snap.Sessions) != 1 {
			t.Fatalf("%s: %d sessions, want 1", name, len(snap.Sessions))
		}
		ss := snap.Sessions[0]
		if ss.AnomalyCount != 0 || len(snap.Findings) != 0 {
			t.Errorf("%s: %d anomalies %v, findings %v; want none", name, ss.AnomalyCount, ss.AnomaliesBy, snap.Findings)
		}
		if st := ss.Stream(1); st == nil || !st.Flow[live.ClientToServer].FullSince.IsZero() {
			t.Errorf("%s: stream 1 %v: its writer held at the window", name, st)
		}
	}
}

// TestOneDirectionGoneServer: a yamux server's host vanishes (powered
// off, cut off) a second into the session, and the capture begins after
// its last byte: it holds no segment of the server, as a capture of the
// client's direction only would. Nothing of the server's came to
// acknowledge: the client's ACK number stays put through its ping and the
// ping's retransmissions, and the server's silence against the ping is
// KEEPALIVE's, 5 s after it; no notice calls the capture one-way. Where
// the server did answer the ping and the capture holds only the client's
// packets, the client's ACK of the pong acknowledges 12 bytes the capture
// does not have: that is a capture of one direction, said once, and no
// KEEPALIVE opens. Before, no segment of the server was taken alone for a
// capture of one direction: the gone server's KEEPALIVE did not open.
func TestOneDirectionGoneServer(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ping := t0.Add(2 * time.Second)
	for _, answered := range []bool{false, true} {
		name := map[bool]string{false: "gone", true: "one way"}[answered]
		t.Run(name, func(t *testing.T) {
			path := writeCapture(t, func(w *pcapout.Writer) {
				c := w.Conn("127.0.0.1:40005", "127.0.0.1:9000", t0)
				at := t0.Add(time.Millisecond)
				c.Write(live.ClientToServer, at, []byte(ym(yamux.WindowUpdate, yamux.SYN, 1, "", 0)))
				c.Write(live.ServerToClient, at.Add(time.Millisecond), []byte(ym(yamux.WindowUpdate, yamux.ACK, 1, "", 0)))
				for range 9 {
					at = at.Add(100 * time.Millisecond)
					c.Write(live.ClientToServer, at, []byte(ym(yamux.Data, 0, 1, "hello", 0)))
					c.Write(live.ServerToClient, at.Add(time.Millisecond), []byte(ym(yamux.Data, 0, 1, "hello", 0)))
				}
				c.Write(live.ClientToServer, ping, []byte(ym(yamux.Ping, yamux.SYN, 0, "", 7)))
				if answered {
					c.Write(live.ServerToClient, ping.Add(time.Millisecond), []byte(ym(yamux.Ping, yamux.ACK, 0, "", 7)))
				}
				c.End(live.ClientToServer, t0.Add(10*time.Second))
			})
			var ps []pkt
			for _, p := range readPackets(t, path) {
				// Cut to begin after the server's last byte, and of the
				// client's packets only.
				if p.CI.Timestamp.After(t0.Add(1500*time.Millisecond)) && p.TCP.DstPort == 9000 {
					ps = append(ps, p)
				}
			}
			if len(ps) != 2 || len(ps[0].Payload) != 12 {
				t.Fatalf("%d packets, the first of %d bytes: want the ping and the FIN", len(ps), len(ps[0].Payload))
			}
			if answered {
				// The client's delayed ACK of the pong.
				ack := *ps[0].TCP
				ack.Seq, ack.Ack = ps[0].TCP.Seq+12, ps[0].TCP.Ack+12
				ack.PSH, ack.Options = false, nil
				a := reserialize(t, ps[0], &ack, nil)
				a.CI.Timestamp = ping.Add(40 * time.Millisecond)
				ps = []pkt{ps[0], a, ps[1]}
			} else {
				// The ping's retransmissions, the ACK number unchanged.
				var rtx []pkt
				for _, after := range []time.Duration{200, 600, 1400, 3000, 6200} {
					p := ps[0]
					p.CI.Timestamp = ping.Add(after * time.Millisecond)
					rtx = append(rtx, p)
				}
				ps = append(append([]pkt{ps[0]}, rtx...), ps[1])
			}
			reg := readEvaluated(ps, capture.Config{}, live.FindingsConfig{Churn: -1})
			recs, _ := reg.Frames(live.Query{From: 1}, nil)
			var keepalive time.Time
			var notices []string
			for _, r := range recs {
				switch {
				case r.Kind == live.FindingOpened && r.Finding.Code == live.CodeKeepalive && r.Finding.Dir == live.ServerToClient:
					keepalive = r.At
				case r.Kind == live.NoticeRecord && strings.Contains(r.Detail, "the capture holds only"):
					notices = append(notices, r.Detail)
				}
			}
			snap := reg.Snapshot()
			if len(snap.Sessions) != 1 || snap.Sessions[0].Proto != live.Yamux {
				t.Fatalf("sessions %v, want one, yamux", snap.Sessions)
			}
			if !answered {
				if want := ping.Add(live.PingAnswerLimit); keepalive.Before(want) || keepalive.After(want.Add(200*time.Millisecond)) {
					t.Errorf("the server's KEEPALIVE opened at %v, want 5 s after the ping at %v", keepalive.Sub(t0), ping.Sub(t0))
				}
				if len(notices) > 0 || snap.Sessions[0].Unseen != [2]bool{} || snap.OneWay != 0 {
					t.Errorf("a gone server taken for a capture of one direction: Unseen %v, OneWay %d, notices %q", snap.Sessions[0].Unseen, snap.OneWay, notices)
				}
				return
			}
			if !keepalive.IsZero() {
				t.Errorf("the server's KEEPALIVE opened at %v in a capture of one direction", keepalive.Sub(t0))
			}
			want := "the capture holds only the client's packets of 127.0.0.1:40005 → 127.0.0.1:9000, not even an ACK of the server's, while the client's ACKs acknowledge 12 bytes of the server's the capture does not have"
			if len(notices) != 1 || !strings.HasPrefix(notices[0], want) {
				t.Errorf("notices %q, want one: %s…", notices, want)
			}
			if got := snap.Sessions[0].Unseen; got != [2]bool{false, true} || snap.OneWay != 1 {
				t.Errorf("Unseen %v, OneWay %d; want the server's direction unseen", got, snap.OneWay)
			}
		})
	}
}

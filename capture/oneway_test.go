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

package capture_test

import (
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
)

func lostFinFrame(cmd decoder.Cmd, sid uint32, payload string) string {
	h := decoder.MakeHeader(1, cmd, uint16(len(payload)), sid)
	return string(h[:]) + payload
}

// TestCloseWaitLostFIN: a capture drops the server's FIN (its ACK by the
// client, ack = FIN+1, is in the capture) after the client's: the
// session knows the server's direction lost bytes after the client's
// close, and its own FIN may be among them. CLOSE_WAIT said "the server
// has not closed its own nor sent a frame since" 150 s after, of a
// server that closed. Its twin, nothing dropped, ends at the server's
// FIN (EOF), no finding. A loss of the server's bytes before the
// client's close (a frame the capture dropped, the server's FIN not
// sent) leaves what the server sent since the close known: nothing,
// CLOSE_WAIT opens.
func TestCloseWaitLostFIN(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := func(n float64) time.Time { return t0.Add(time.Duration(n * float64(time.Second))) }
	capture1 := func(serverCloses bool) string {
		return writeCapture(t, func(w *pcapout.Writer) {
			c := w.Conn("127.0.0.1:40014", "127.0.0.1:9000", t0)
			c.Write(live.ClientToServer, s(0.1), []byte(lostFinFrame(decoder.SYN, 1, "")+lostFinFrame(decoder.PSH, 1, "GET")))
			c.Write(live.ServerToClient, s(0.2), []byte(lostFinFrame(decoder.PSH, 1, "OK")))
			c.Write(live.ClientToServer, s(0.3), []byte(lostFinFrame(decoder.FIN, 1, "")))
			c.Write(live.ServerToClient, s(0.4), []byte(lostFinFrame(decoder.FIN, 1, "")))
			c.End(live.ClientToServer, s(1))
			if serverCloses {
				c.End(live.ServerToClient, s(1.5))
			}
			// another session keeps the capture's clock going for 3 minutes
			o := w.Conn("127.0.0.1:40015", "127.0.0.1:9000", s(2))
			o.Write(live.ClientToServer, s(2), []byte(lostFinFrame(decoder.SYN, 1, "")))
			for i := 0; i < 18; i++ {
				o.Write(live.ClientToServer, s(float64(10+10*i)), []byte(lostFinFrame(decoder.NOP, 0, "")))
				o.Write(live.ServerToClient, s(float64(10+10*i)), []byte(lostFinFrame(decoder.NOP, 0, "")))
			}
		})
	}
	fromServer := func(p pkt) bool { return p.TCP.SrcPort == 9000 && p.TCP.DstPort == 40014 }
	for _, c := range []struct {
		name         string
		serverCloses bool
		drop         func(p pkt) bool
		ended        bool
		closeWait    bool
	}{
		{"nothing dropped", true, func(pkt) bool { return false }, true, false},
		{"server's FIN dropped", true, func(p pkt) bool { return fromServer(p) && p.TCP.FIN }, false, false},
		{"server's frame dropped before the client's close", false, func(p pkt) bool {
			return fromServer(p) && len(p.TCP.Payload) > 0 && p.CI.Timestamp.Equal(s(0.2))
		}, false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			var ps []pkt
			dropped := 0
			for _, p := range readPackets(t, capture1(c.serverCloses)) {
				if c.drop(p) {
					dropped++
					continue
				}
				ps = append(ps, p)
			}
			if want := map[bool]int{false: 0, true: 1}[c.name != "nothing dropped"]; dropped != want {
				t.Fatalf("dropped %d packets, want %d", dropped, want)
			}
			reg := readEvaluated(ps, capture.Config{Filter: capture.Port(9000)}, live.FindingsConfig{Churn: -1, CloseWaitAfter: time.Minute})
			snap := reg.Snapshot()
			ss := snap.Session(1)
			if ss == nil {
				t.Fatal("no session 1")
			}
			t.Logf("session 1: ended %v reason %v lost %v incomplete %v", ss.Ended, ss.Reason, ss.Lost, ss.Incomplete)
			if ss.Ended != c.ended || (dropped > 0) != ss.Incomplete {
				t.Errorf("session 1: ended %v incomplete %v; want ended %v incomplete %v", ss.Ended, ss.Incomplete, c.ended, dropped > 0)
			}
			var closeWaits []string
			for _, f := range snap.Findings {
				t.Logf("open: %v %s", f.Code, f.Text)
				if f.Code == live.CodeCloseWait {
					closeWaits = append(closeWaits, f.Text)
				}
			}
			switch {
			case !c.closeWait && len(closeWaits) > 0:
				t.Errorf("CLOSE_WAIT for a server whose bytes after the client's close the capture lost: %s", strings.Join(closeWaits, "; "))
			case c.closeWait && (len(closeWaits) != 1 || !strings.Contains(closeWaits[0], "the server has not closed its own nor sent a frame since")):
				t.Errorf("want one CLOSE_WAIT of the quiet server, got %q", closeWaits)
			}
		})
	}
}

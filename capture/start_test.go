package capture_test

import (
	"testing"
	"time"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
)

// TestSessionStartsAtSYN: a session whose first frames come a keepalive
// interval after its connection began (an idle smux session's NOPs, each
// side's ticker started with the session) begins at the client's SYN,
// not at its first frame. Read from the first frame, the server's first
// NOP a moment after the client's was a keepalive cadence of a
// millisecond, and the server frozen after it was KEEPALIVE a second
// early (a fault capture of the real demo showed it); taken for no
// cadence at all, it was none when it was due.
func TestSessionStartsAtSYN(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	nop := v1("\x03", 0, "")
	path := writeCapture(t, func(w *pcapout.Writer) {
		c := w.Conn("127.0.0.1:40007", "127.0.0.1:9000", t0)
		c.Write(live.ClientToServer, at(1), []byte(nop))
		c.Write(live.ServerToClient, at(1.0015), []byte(nop))
		for s := 2.0; s <= 4; s++ {
			c.Write(live.ClientToServer, at(s), []byte(nop)) // the server is frozen: no NOP
		}
	})
	ps := readPackets(t, path)
	var fs []live.Record
	for _, r := range findingsOf(t, ps, capture.Filter{}, live.FindingsConfig{Churn: -1}) {
		if r.Kind == live.FindingOpened {
			fs = append(fs, r)
		}
	}
	reg := readEvaluated(ps, capture.Config{}, live.FindingsConfig{Churn: -1})
	if snap := reg.Snapshot(); len(snap.Sessions) != 1 || !snap.Sessions[0].Start.Equal(t0) {
		t.Fatalf("sessions %+v, want one that began at the SYN, %v", snap.Sessions, t0)
	}
	if len(fs) != 1 || fs[0].Finding.Code != live.CodeKeepalive || fs[0].Finding.Evidence.Every.Round(10*time.Millisecond) != time.Second {
		t.Fatalf("findings %v, want one KEEPALIVE against a 1 s cadence", fs)
	}
	// The server's last NOP at 1.0015 s, a 1 s cadence: silent 2 s at 3.0015 s.
	if opened := fs[0].At; opened.Before(at(3.0015)) || opened.After(at(3.2)) {
		t.Errorf("KEEPALIVE opened at %v, want within an evaluation of 3.0015 s", opened.Sub(t0))
	}
}

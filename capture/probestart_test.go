package capture_test

import (
	"context"
	"testing"
	"time"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/live"
)

// TestJoinedAtWindowProbeReset: sniff joins an smux v1 session whose
// server's window is closed (demo --fault hol, as
// TestTcpdumpFaultThenRead/hol-joined-late runs it): the client's first
// segment the capture sees is a window probe, a bare ACK carrying
// snd_una-1 (Linux's tcp_xmit_probe_skb), and the server's keepalive
// NOPs come every second. The client's process exits; the server's next
// NOP reaches its closed socket, which answers with a RST at its true
// sequence, snd_una. The session ends there, reset by the client, and
// the server's silence after it is no KEEPALIVE. Before, the client's
// direction started at the probe's sequence, a byte behind: the RST was
// out of order and ignored, the session stayed open until the capture
// ended, and KEEPALIVE opened 2 s after the server's last NOP (ci75:
// sniff opened KEEPALIVE/s2c, the client's tap not).
func TestJoinedAtWindowProbeReset(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const snd, rcv = 1_000_000, 5_000_000 // the client's snd_una, the server's
	var ps []pkt
	add := func(at time.Duration, c2s bool, flags string, seq, ack uint32, win uint16, payload string) {
		src, dst := uint16(40009), uint16(9000)
		if !c2s {
			src, dst = dst, src
		}
		ps = append(ps, segment(t, t0.Add(at), src, dst, flags, seq, ack, win, []byte(payload)))
	}
	ms := time.Millisecond
	nop := v1("\x03", 0, "")
	// The probe, and the server's answer: its window still closed.
	add(0, true, "A", snd-1, rcv, 64, "")
	add(ms/100, false, "A", rcv, snd, 0, "")
	s := uint32(rcv)
	for i := range 4 { // the server's NOPs, every second, each ACKed
		at := time.Duration(i)*time.Second + 400*ms
		add(at, false, "PA", s, snd, 0, nop)
		s += uint32(len(nop))
		add(at+ms/100, true, "A", snd, s, 64, "")
		if i == 1 { // another probe, and its answer
			add(at+300*ms, true, "A", snd-1, s, 64, "")
			add(at+300*ms+ms/100, false, "A", s, snd, 0, "")
		}
	}
	// The client's process has exited: the server's next NOP is
	// answered with a RST, at the client's snd_una.
	last := 4*time.Second + 100*ms
	add(last, false, "PA", s, snd, 0, nop)
	add(last+ms/10, true, "R", snd, 0, 0, "")
	rstAt := t0.Add(last + ms/10)

	clock := new(capture.Clock)
	reg := live.New(live.Config{Clock: clock.Now})
	rd := capture.NewReader(capture.Config{Registry: reg, Filter: capture.Port(9000), Clock: clock, Evaluate: func(now time.Time) {
		reg.Evaluate(now, live.FindingsConfig{BlockedAfter: time.Second})
	}})
	src := &quietSource{ps: ps}
	var endedBy time.Time // the first quiet moment the session had ended at
	var opened []*live.Finding
	src.at = func(now time.Time) {
		snap := reg.Snapshot()
		if endedBy.IsZero() && len(snap.Sessions) == 1 && snap.Sessions[0].Ended {
			endedBy = now
		}
		for _, f := range snap.Findings {
			if f.Code == live.CodeKeepalive && len(opened) == 0 {
				opened = append(opened, f)
			}
		}
	}
	// As sniff on a quiet interface: a quiet moment every 100 ms, for
	// longer than the server's 2 s silence limit.
	for d := 100 * ms; d <= 4*time.Second; d += 100 * ms {
		src.times = append(src.times, rstAt.Add(d))
	}
	if err := rd.Run(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	snap := reg.Snapshot()
	if len(snap.Sessions) != 1 {
		t.Fatalf("%d sessions, want the one joined", len(snap.Sessions))
	}
	ss := snap.Sessions[0]
	if endedBy.IsZero() || endedBy.Sub(rstAt) > 100*ms || !ss.End.Equal(rstAt) || ss.Reason != live.Reset {
		seen := "only as the capture ended"
		if !endedBy.IsZero() {
			seen = endedBy.Sub(rstAt).String() + " after the client's RST"
		}
		t.Errorf("the session ended at %v (%s, %q), seen ended %s; want at the RST (%v), reset, by the first quiet moment",
			ss.End.Sub(t0), ss.Reason, ss.Err, seen, rstAt.Sub(t0))
	}
	if len(opened) > 0 {
		t.Errorf("KEEPALIVE opened after the session's end: %s", opened[0].Text)
	}
	if got := ss.Lost; got != [2]int64{} {
		t.Errorf("lost %v bytes (c2s, s2c), want none: the probe's byte was sent and acknowledged before the capture", got)
	}
}

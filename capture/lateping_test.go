package capture_test

import (
	"testing"
	"time"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/live"
)

// lateFrozenPing builds the packets of a yamux session whose server froze
// at its start, as tcpdump saw TestTcpdumpFrozenServerAcks's with the
// client's first keepalive ping ping after the handshake: the handshake,
// the client's ping alone in its packet and the server's kernel ACK of
// it, then nothing until the client closes its side at ping+6 s, the
// server's FIN and the client's ACK a moment later.
func lateFrozenPing(t *testing.T, t0 time.Time, ping time.Duration) []pkt {
	t.Helper()
	const cseq, sseq = 1_000_000, 5_000_000
	var ps []pkt
	add := func(at time.Duration, c2s bool, flags string, seq, ack uint32, payload []byte) {
		src, dst := uint16(40378), uint16(21365)
		if !c2s {
			src, dst = dst, src
		}
		ps = append(ps, segment(t, t0.Add(at), src, dst, flags, seq, ack, 64, payload))
	}
	us := time.Microsecond
	pingSyn := []byte{0, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0} // PING SYN, value 0
	fin := ping + 6*time.Second
	add(0, true, "S", cseq, 0, nil)
	add(15*us, false, "SA", sseq, cseq+1, nil)
	add(54*us, true, "A", cseq+1, sseq+1, nil)
	add(ping, true, "PA", cseq+1, sseq+1, pingSyn)
	add(ping+21*us, false, "A", sseq+1, cseq+13, nil)
	add(fin, true, "FA", cseq+13, sseq+1, nil)
	add(fin+112*us, false, "FA", sseq+1, cseq+14, nil)
	add(fin+139*us, true, "A", cseq+14, sseq+2, nil)
	return ps
}

// TestFrozenServerLatePing: a yamux session read from a capture whose
// client's first keepalive ping comes 4.8 s after the SYN, longer than
// the 3 s a connection holds the others' records for (holdWait): the
// connection was late before its first byte, so its bytes, decided as
// yamux only at the FIN 6 s later, stepped back behind evaluations
// already made, and KEEPALIVE, which a live registry fed the same frames
// opens for the silent server (1.5 times the time to the first ping,
// first_ping, 7.2 s into the session), never opened: the evaluations
// up to the FIN had no session, those after it an ended one. With the
// ping 2.8 s in (held, not late) it opened. It must open, before the
// client's FIN, in both, as in the live twin.
func TestFrozenServerLatePing(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, ping := range []time.Duration{2800 * time.Millisecond, 4800 * time.Millisecond} {
		t.Run(ping.String(), func(t *testing.T) {
			fin := t0.Add(ping + 6*time.Second)
			// The live twin: a registry fed the same frames at the same
			// times, evaluated every 100 ms, as a tap's front end does.
			reg := live.New(live.Config{})
			s := reg.Open(live.SessionInfo{Client: "127.0.0.1:40378", Server: "127.0.0.1:21365", Captured: true}, t0)
			s.SetProtocol(live.Yamux)
			var liveAt time.Time
			step := func(from, to time.Time) {
				for at := from; !at.After(to); at = at.Add(100 * time.Millisecond) {
					reg.Evaluate(at, live.FindingsConfig{})
					if liveAt.IsZero() && keepaliveOpen(reg) {
						liveAt = at
					}
				}
			}
			step(t0.Add(100*time.Millisecond), t0.Add(ping))
			s.RecordYamux(live.ClientToServer, t0.Add(ping), &yamux.Frame{Header: yamux.Header{0, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}})
			step(t0.Add(ping).Truncate(100*time.Millisecond).Add(100*time.Millisecond), fin)
			if liveAt.IsZero() {
				t.Fatalf("live: no KEEPALIVE before the client's FIN at %v", fin.Sub(t0))
			}

			rreg := readEvaluated(lateFrozenPing(t, t0, ping), capture.Config{}, live.FindingsConfig{})
			recs, _ := rreg.Frames(live.Query{From: 1}, nil)
			var opened time.Time
			var text string
			for _, r := range recs {
				if r.Kind == live.FindingOpened && r.Finding.Code == live.CodeKeepalive && opened.IsZero() {
					opened, text = r.At, r.Finding.Text
				}
			}
			if opened.IsZero() {
				t.Fatalf("read: no KEEPALIVE, want one before the client's FIN at %v, as live opened it at %v", fin.Sub(t0), liveAt.Sub(t0))
			}
			if !opened.Before(fin) {
				t.Fatalf("read: KEEPALIVE opened at %v, want before the client's FIN at %v, as live opened it at %v", opened.Sub(t0), fin.Sub(t0), liveAt.Sub(t0))
			}
			if d := opened.Sub(liveAt); d < -100*time.Millisecond || d > 100*time.Millisecond {
				t.Errorf("read: KEEPALIVE opened at %v, live at %v", opened.Sub(t0), liveAt.Sub(t0))
			}
			t.Logf("KEEPALIVE at %v (live %v): %s", opened.Sub(t0), liveAt.Sub(t0), text)
		})
	}
}

// keepaliveOpen reports whether reg has a KEEPALIVE finding open.
func keepaliveOpen(reg *live.Registry) bool {
	for _, f := range reg.Snapshot().Findings {
		if f.Code == live.CodeKeepalive && f.Resolved.IsZero() {
			return true
		}
	}
	return false
}

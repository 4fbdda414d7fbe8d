package live_test

import (
	"testing"

	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/live"
)

// TestYamuxRetractAfterEndNoWindowExceeded is a tap's held write at its
// session's end, as a demo client's through the capture tests' blocked
// fault: a DATA frame of a whole 256 KiB window is recorded as it goes to
// the conn, the session ends (the tapped end closes) while the write is
// held, and the write fails with only part of the frame sent. The tap
// takes the frame back (RetractYamux) and reports it TRUNCATED, its
// header whole (ViolationYamux). Its bytes must come off the stream's
// window whatever its state: before, a stream ended with its session kept
// them, and the cut frame found the window full of its own bytes, a false
// WINDOW_EXCEEDED, which now opens a critical PROTOCOL ("the client sent
// a DATA frame of 256 KiB on stream 31, 256 KiB past the 0 B its receive
// window had free"), 2 of 4 runs of TestTcpdumpFaultThenRead/blocked.
func TestYamuxRetractAfterEndNoWindowExceeded(t *testing.T) {
	reg := live.New(live.Config{})
	s := reg.Open(live.SessionInfo{Proto: live.Yamux}, t0)
	syn := &yamux.Frame{Header: yamux.MakeHeader(yamux.WindowUpdate, yamux.SYN, 1, 0)}
	s.RecordYamux(c2s, t0, syn)
	data := &yamux.Frame{Offset: syn.Size(), Header: yamux.MakeHeader(yamux.Data, 0, 1, yamux.InitialWindow)}
	ref := s.RecordYamuxRef(c2s, t0, data)
	s.End(t0, live.LocalClose, nil)
	s.RetractYamux(c2s, data.Header, ref)
	s.ViolationYamux(c2s, t0, &yamux.Violation{Code: yamux.Truncated, Offset: data.Offset, Header: data.Header, HeaderComplete: true, Got: yamux.HeaderSize + 1000})
	ss := reg.Snapshot().Sessions[0]
	if ss.AnomaliesBy[live.WindowExceeded] != 0 {
		t.Errorf("WINDOW_EXCEEDED %d, want 0: the cut frame's own bytes filled the window; anomalies %+v", ss.AnomaliesBy[live.WindowExceeded], ss.Anomalies)
	}
	reg.Evaluate(t0.Add(1e9), live.FindingsConfig{Churn: -1})
	if n := len(reg.Snapshot().Findings); n != 0 {
		t.Errorf("%d findings open: %s", n, reg.Snapshot().Findings[0].Text)
	}
}

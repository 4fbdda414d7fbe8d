package capture_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
)

// idleSource replays packets, then says it is idle (capture.ErrIdle) at
// each of idle's times, calling at before each, then ends.
type idleSource struct {
	ps   []pkt
	idle []time.Time
	at   func(now time.Time)
}

func (s *idleSource) ReadPacketData() ([]byte, gopacket.CaptureInfo, error) {
	if len(s.ps) > 0 {
		p := s.ps[0]
		s.ps = s.ps[1:]
		return p.data, p.ci, nil
	}
	if len(s.idle) > 0 {
		now := s.idle[0]
		s.idle = s.idle[1:]
		s.at(now)
		return nil, gopacket.CaptureInfo{Timestamp: now}, capture.ErrIdle
	}
	return nil, gopacket.CaptureInfo{}, io.EOF
}

func (s *idleSource) LinkType() layers.LinkType { return layers.LinkTypeEthernet }

// TestIdleEndsWaits: sniff on an interface that falls quiet. A connection
// joined mid-stream whose server says nothing is held while its client's
// frames wait for the server's direction to show where its frames begin;
// once the wait (2 s) has passed, the session is shown although no packet
// came to end it: the live source's idle moments (capture.ErrIdle) end it.
func TestIdleEndsWaits(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	path := writeCapture(t, func(w *pcapout.Writer) {
		c := w.Conn("127.0.0.1:40009", "127.0.0.1:9000", t0)
		c.Write(live.ClientToServer, t0.Add(100*time.Millisecond), []byte(v1("\x00", 3, "")+v1("\x02", 3, "RAND")+v1("\x00", 5, "")+v1("\x02", 5, "RAND")))
	})
	var ps []pkt
	for _, p := range readPackets(t, path) {
		if len(p.payload) > 0 || len(ps) > 0 {
			ps = append(ps, p) // joined: from the client's frames on
		}
	}
	reg := live.New(live.Config{})
	rd := capture.NewReader(capture.Config{Registry: reg, Filter: capture.Port(9000)})
	var shown time.Time
	var idle []time.Time
	for d := 500 * time.Millisecond; d <= 4*time.Second; d += 500 * time.Millisecond {
		idle = append(idle, t0.Add(d))
	}
	src := &idleSource{ps: ps, idle: idle, at: func(now time.Time) {
		if shown.IsZero() && reg.Snapshot().Totals.Total() > 0 {
			shown = now
		}
	}}
	if err := rd.Run(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	if shown.IsZero() || shown.Sub(t0) > 3500*time.Millisecond {
		t.Errorf("the held connection's frames were recorded at %v of idle time, want by 3.5 s (zero: only when the capture ended)", shown.Sub(t0))
	}
}

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

// udpSource replays packets, then a UDP datagram at each of times,
// calling at before each, then ends.
type udpSource struct {
	ps    []pkt
	times []time.Time
	at    func(now time.Time)
	udp   []byte
}

func (s *udpSource) ReadPacketData() ([]byte, gopacket.CaptureInfo, error) {
	if len(s.ps) > 0 {
		p := s.ps[0]
		s.ps = s.ps[1:]
		return p.data, p.ci, nil
	}
	if len(s.times) > 0 {
		now := s.times[0]
		s.times = s.times[1:]
		s.at(now)
		return s.udp, gopacket.CaptureInfo{Timestamp: now, CaptureLength: len(s.udp), Length: len(s.udp)}, nil
	}
	return nil, gopacket.CaptureInfo{}, io.EOF
}

func (s *udpSource) LinkType() layers.LinkType { return layers.LinkTypeEthernet }

// TestOtherTrafficEndsWaits is TestIdleEndsWaits on an interface that is
// not quiet but carries no TCP: UDP every 500 ms (DNS, statsd, a VXLAN
// overlay's outer packets on -i any), so that the live source is never
// idle for a poll period. Capture time passes by every packet, TCP or
// not: the held session is shown by 3.5 s, not when the capture ends.
func TestOtherTrafficEndsWaits(t *testing.T) {
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
	buf := gopacket.NewSerializeBuffer()
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: []byte{127, 0, 0, 1}, DstIP: []byte{127, 0, 0, 53}}
	udp := &layers.UDP{SrcPort: 5353, DstPort: 53}
	udp.SetNetworkLayerForChecksum(ip)
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		&layers.Ethernet{SrcMAC: make([]byte, 6), DstMAC: make([]byte, 6), EthernetType: layers.EthernetTypeIPv4}, ip, udp, gopacket.Payload("ping")); err != nil {
		t.Fatal(err)
	}
	reg := live.New(live.Config{})
	rd := capture.NewReader(capture.Config{Registry: reg, Filter: capture.Port(9000)})
	var shown time.Time
	var times []time.Time
	for d := 500 * time.Millisecond; d <= 4*time.Second; d += 500 * time.Millisecond {
		times = append(times, t0.Add(d))
	}
	src := &udpSource{ps: ps, times: times, udp: buf.Bytes(), at: func(now time.Time) {
		if shown.IsZero() && reg.Snapshot().Totals.Total() > 0 {
			shown = now
		}
	}}
	if err := rd.Run(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	if shown.IsZero() || shown.Sub(t0) > 3500*time.Millisecond {
		t.Errorf("the held connection's frames were recorded at %v of capture time, want by 3.5 s (zero: only when the capture ended)", shown.Sub(t0))
	}
}

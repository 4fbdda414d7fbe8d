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

// quietSource replays packets, then, at each of times, calls at and gives
// other, a packet of no TCP connection, or, if other is nil, says it is
// idle (capture.ErrIdle) as a live source with no packet for a poll
// period does; then it ends.
type quietSource struct {
	ps    []pkt
	times []time.Time
	other []byte
	at    func(now time.Time)
}

func (s *quietSource) ReadPacketData() ([]byte, gopacket.CaptureInfo, error) {
	if len(s.ps) > 0 {
		p := s.ps[0]
		s.ps = s.ps[1:]
		return p.Data, p.CI, nil
	}
	if len(s.times) > 0 {
		now := s.times[0]
		s.times = s.times[1:]
		s.at(now)
		if s.other == nil {
			return nil, gopacket.CaptureInfo{Timestamp: now}, capture.ErrIdle
		}
		return s.other, gopacket.CaptureInfo{Timestamp: now, CaptureLength: len(s.other), Length: len(s.other)}, nil
	}
	return nil, gopacket.CaptureInfo{}, io.EOF
}

func (s *quietSource) LinkType() layers.LinkType { return layers.LinkTypeEthernet }

// heldShownAt reads, as sniff does, a connection joined mid-stream whose
// client sends frames at 0.1 s and whose server says nothing: it is held
// while the client's frames wait for the server's direction to show where
// its frames begin (2 s). Then no TCP packet comes: other (see
// quietSource) every 500 ms up to 4 s. It returns when the connection's
// frames were first recorded, or 0 if only when the capture ended.
func heldShownAt(t *testing.T, other []byte) time.Duration {
	t.Helper()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	path := writeCapture(t, func(w *pcapout.Writer) {
		c := w.Conn("127.0.0.1:40009", "127.0.0.1:9000", t0)
		c.Write(live.ClientToServer, t0.Add(100*time.Millisecond), []byte(v1("\x00", 3, "")+v1("\x02", 3, "RAND")+v1("\x00", 5, "")+v1("\x02", 5, "RAND")))
	})
	var ps []pkt
	for _, p := range readPackets(t, path) {
		if len(p.Payload) > 0 || len(ps) > 0 {
			ps = append(ps, p) // joined: from the client's frames on
		}
	}
	reg := live.New(live.Config{})
	rd := capture.NewReader(capture.Config{Registry: reg, Filter: capture.Port(9000)})
	var shown time.Time
	src := &quietSource{ps: ps, other: other, at: func(now time.Time) {
		if shown.IsZero() && reg.Snapshot().Totals.Total() > 0 {
			shown = now
		}
	}}
	for d := 500 * time.Millisecond; d <= 4*time.Second; d += 500 * time.Millisecond {
		src.times = append(src.times, t0.Add(d))
	}
	if err := rd.Run(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	if shown.IsZero() {
		return 0
	}
	return shown.Sub(t0)
}

// TestIdleEndsWaits: sniff on an interface that falls quiet. Once the wait
// (2 s) for the silent server's frame boundary has passed, the held
// session is shown although no packet came to end it: the live source's
// idle moments (capture.ErrIdle) end it.
func TestIdleEndsWaits(t *testing.T) {
	if at := heldShownAt(t, nil); at == 0 || at > 3500*time.Millisecond {
		t.Errorf("the held connection's frames were recorded at %v of idle time, want by 3.5 s (0: only when the capture ended)", at)
	}
}

// TestOtherTrafficEndsWaits is TestIdleEndsWaits on an interface that is
// not quiet but carries no TCP: UDP every 500 ms (DNS, statsd, a VXLAN
// overlay's outer packets on -i any), so that the live source is never
// idle for a poll period. Capture time passes by every packet, TCP or
// not: the held session is shown by 3.5 s, not when the capture ends.
func TestOtherTrafficEndsWaits(t *testing.T) {
	buf := gopacket.NewSerializeBuffer()
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: []byte{127, 0, 0, 1}, DstIP: []byte{127, 0, 0, 53}}
	udp := &layers.UDP{SrcPort: 5353, DstPort: 53}
	udp.SetNetworkLayerForChecksum(ip)
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		&layers.Ethernet{SrcMAC: make([]byte, 6), DstMAC: make([]byte, 6), EthernetType: layers.EthernetTypeIPv4}, ip, udp, gopacket.Payload("ping")); err != nil {
		t.Fatal(err)
	}
	if at := heldShownAt(t, buf.Bytes()); at == 0 || at > 3500*time.Millisecond {
		t.Errorf("the held connection's frames were recorded at %v of capture time, want by 3.5 s (0: only when the capture ended)", at)
	}
}

// TestIdleRunsTheClock: a live source's quiet moments are capture time
// for the findings too, as sniff evaluates them: a server that falls
// silent after its frames, on an interface with no other packet, is a
// KEEPALIVE finding at the quiet moment past its silence limit, and the
// clock the registry measures ages by has run on to it.
func TestIdleRunsTheClock(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	path := writeCapture(t, func(w *pcapout.Writer) {
		c := w.Conn("127.0.0.1:40009", "127.0.0.1:9000", t0)
		for i := range 3 { // both sides' keepalive NOPs, every second
			at := t0.Add(time.Duration(i) * time.Second)
			c.Write(live.ClientToServer, at, []byte(v1("\x03", 0, "")))
			c.Write(live.ServerToClient, at.Add(time.Millisecond), []byte(v1("\x03", 0, "")))
		}
	})
	clock := new(capture.Clock)
	reg := live.New(live.Config{Clock: clock.Now})
	var evals []time.Time
	rd := capture.NewReader(capture.Config{Registry: reg, Filter: capture.Port(9000), Clock: clock, Evaluate: func(now time.Time) {
		evals = append(evals, now)
		reg.Evaluate(now, live.FindingsConfig{})
	}})
	src := &quietSource{ps: readPackets(t, path), at: func(time.Time) {}}
	for d := 2500 * time.Millisecond; d <= 8*time.Second; d += 100 * time.Millisecond {
		src.times = append(src.times, t0.Add(d))
	}
	var opened []*live.Finding
	src.at = func(now time.Time) {
		if len(opened) == 0 {
			opened = reg.Snapshot().Findings
		}
	}
	if err := rd.Run(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	if got := clock.Now(); !got.Equal(t0.Add(8 * time.Second)) {
		t.Errorf("the clock stands at %v, want the last quiet moment's, %v", got.Sub(t0), 8*time.Second)
	}
	if len(evals) == 0 || evals[len(evals)-1].Before(t0.Add(7900*time.Millisecond)) {
		t.Fatalf("evaluated at %v, want steps to 8 s", evals)
	}
	if len(opened) == 0 || opened[0].Code != live.CodeKeepalive {
		t.Fatalf("opened %v during the quiet moments, want KEEPALIVE", opened)
	}
}

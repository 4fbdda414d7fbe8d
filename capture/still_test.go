package capture_test

import (
	"bytes"
	"fmt"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/internal/pcaptest"
	"github.com/muxtop/muxtop/live"
)

// pipeSource is a pipe from a live tcpdump: its packets, then nothing
// until end is closed (the pipe stays open), then io.EOF. It fails the
// test if read again while a read is under way, or if a packet's data is
// used after the next read began.
type pipeSource struct {
	t       *testing.T
	ps      []pcaptest.Packet
	end     chan struct{}
	reading atomic.Bool
	last    []byte
}

func (s *pipeSource) ReadPacketData() ([]byte, gopacket.CaptureInfo, error) {
	if !s.reading.CompareAndSwap(false, true) {
		s.t.Error("two reads of the source at once")
	}
	defer s.reading.Store(false)
	if s.last != nil {
		clear(s.last) // as a zero-copy read's next packet overwrites it
	}
	if len(s.ps) > 0 {
		p := s.ps[0]
		s.ps = s.ps[1:]
		s.last = bytes.Clone(p.Data)
		return s.last, p.CI, nil
	}
	<-s.end
	return nil, gopacket.CaptureInfo{}, io.EOF
}

func (s *pipeSource) LinkType() layers.LinkType { return layers.LinkTypeEthernet }

// TestStillReleasesHeldByWallClock: a real yamux capture whose first
// client connected and never spoke, come down a pipe that then stays
// quiet: through Still, the busy session's frames are recorded once the
// silent connection has held them 3 s, counted on by the wall clock from
// the last packet, not when the pipe closes; and the clock stays at the
// last packet's time (a quiet pipe's capture time stands still).
func TestStillReleasesHeldByWallClock(t *testing.T) {
	data, _ := idleYamux(t, 300*time.Millisecond, 1, 0)
	ps := pcaptest.Read(t, bytes.NewReader(data))
	var idler layers.TCPPort
	var kept []pcaptest.Packet
	for _, p := range ps {
		tcp, _ := gopacket.NewPacket(p.Data, layers.LayerTypeEthernet, gopacket.Default).Layer(layers.LayerTypeTCP).(*layers.TCP)
		if tcp == nil {
			t.Fatal("a packet without TCP")
		}
		if idler == 0 {
			idler = tcp.SrcPort
		}
		if (tcp.SrcPort == idler || tcp.DstPort == idler) && (len(tcp.Payload) > 0 || tcp.FIN || tcp.RST) {
			continue
		}
		kept = append(kept, p)
	}
	syn, last := kept[0].CI.Timestamp, kept[len(kept)-1].CI.Timestamp
	if last.Sub(syn) >= 3*time.Second {
		t.Fatalf("the capture lasts %v: the hold ends by its packets", last.Sub(syn))
	}
	var all uint64
	whole, _ := pcaptest.ReadAll(t, bytes.NewReader(data), capture.Config{})
	for _, ss := range whole.Snapshot().Sessions {
		if ss.Info.Client != fmt.Sprintf("127.0.0.1:%d", idler) {
			for d := range ss.Counts.TypeFrames {
				for _, n := range ss.Counts.TypeFrames[d] {
					all += n
				}
			}
		}
	}
	if all < 10 {
		t.Fatalf("the busy session has %d frames", all)
	}
	clock := new(capture.Clock)
	reg := live.New(live.Config{Clock: clock.Now})
	src := &pipeSource{t: t, ps: kept, end: make(chan struct{})}
	rd := capture.NewReader(capture.Config{Registry: reg, Clock: clock})
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- rd.Run(t.Context(), capture.Still(src, 20*time.Millisecond)) }()
	frames := func() (n uint64) {
		for _, rec := range records(reg) {
			if rec.Kind == live.FrameRecord {
				n++
			}
		}
		return n
	}
	for frames() < all {
		if time.Since(start) > 3*time.Second+2*time.Second {
			close(src.end)
			<-done
			t.Fatalf("the busy session's frames: %d of %d recorded %v after its capture came down a pipe still open", frames(), all, time.Since(start).Round(time.Millisecond))
		}
		time.Sleep(20 * time.Millisecond)
	}
	took := time.Since(start)
	if want := 3*time.Second - last.Sub(syn); took < want-100*time.Millisecond {
		t.Errorf("the busy session's frames recorded %v after the capture came, before the silent client held them 3 s (%v)", took, want)
	}
	if now := clock.Now(); now.After(last) {
		t.Errorf("the clock went on to %v, past the last packet's %v", now, last)
	}
	t.Logf("the busy session's %d frames recorded %v after the capture came (its last packet %v after the silent SYN)", all, took.Round(time.Millisecond), last.Sub(syn))
	close(src.end)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

package capture_test

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/internal/tapiface"
)

// A statistics block is a heartbeat only on a tap's interface (pcapout
// writes them there): the one dumpcap writes on its interface as it stops
// says nothing of every packet before its time having been written, and
// read must not take it for the capture's clock going on. Before, any
// statistics block was, and a dumpcap file's tail aged what was open:
//
//	eth0's statistics block was read as a heartbeat: true (ErrIdle at [2023-11-14 22:13:25 +0000 UTC]), want false
func TestForeignStatisticsNoHeartbeat(t *testing.T) {
	for _, tc := range []struct {
		iface string
		beat  bool
	}{{"eth0", false}, {tapiface.Name(""), true}} {
		var buf bytes.Buffer
		ng, err := pcapgo.NewNgWriterInterface(&buf, pcapgo.NgInterface{Name: tc.iface, LinkType: layers.LinkTypeEthernet}, pcapgo.DefaultNgWriterOptions)
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.Unix(1_700_000_000, 0)
		frame := make([]byte, 60)
		write := func(at time.Time) {
			if err := ng.WritePacket(gopacket.CaptureInfo{Timestamp: at, CaptureLength: len(frame), Length: len(frame)}, frame); err != nil {
				t.Fatal(err)
			}
		}
		write(t0)
		stats := pcapgo.NgInterfaceStatistics{LastUpdate: t0.Add(5 * time.Second), PacketsReceived: pcapgo.NgNoValue64, PacketsDropped: pcapgo.NgNoValue64}
		if err := ng.WriteInterfaceStats(0, stats); err != nil {
			t.Fatal(err)
		}
		write(t0.Add(6 * time.Second))
		if err := ng.Flush(); err != nil {
			t.Fatal(err)
		}
		f, err := capture.Open(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		f.Heartbeats()
		var idle []time.Time
		for {
			_, ci, err := f.ReadPacketData()
			if errors.Is(err, io.EOF) {
				break
			}
			if errors.Is(err, capture.ErrIdle) {
				idle = append(idle, ci.Timestamp)
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if got := len(idle) > 0; got != tc.beat {
			t.Errorf("%s's statistics block was read as a heartbeat: %v (ErrIdle at %v), want %v", tc.iface, got, idle, tc.beat)
		}
	}
}

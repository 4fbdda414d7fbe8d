//go:build linux

package sniff_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/internal/capperm"
	"github.com/muxtop/muxtop/sniff"
)

// TestNoPacketBeforeFilter opens captures on lo for one port while other
// loopback traffic flows: no packet the socket took before its filter was
// in place may come out. AF_PACKET's socket takes packets from the moment
// it exists, on every interface until it is bound, and the ring is set up
// before the filter is attached: `muxtop sniff -i lo --port N` counted a
// handful of other connections, and their packets, on a machine where
// other programs talked over loopback (seen with a go-plugin host and
// plugin on one port: 17 connections, 16 skipped, for its one).
func TestNoPacketBeforeFilter(t *testing.T) {
	// The other traffic: small writes over loopback, as fast as they go.
	other, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(stop)
	wg.Add(1)
	go func() {
		defer wg.Done()
		c, err := other.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 4096)
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	}()
	busy, err := net.Dial("tcp", other.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	wg.Add(1)
	go func() {
		defer wg.Done()
		b := []byte("other traffic")
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := busy.Write(b); err != nil {
				return
			}
		}
	}()

	// The port captured: nothing is sent to it, so every packet read is one
	// the filter should have dropped.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	for range 5 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		h, err := sniff.Open(ctx, "lo", capture.Port(port))
		if errors.Is(err, sniff.ErrPermission) {
			cancel()
			capperm.Missing(t, "capturing needs root or CAP_NET_RAW")
		}
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		go func() { time.Sleep(300 * time.Millisecond); cancel() }()
		for {
			data, _, err := h.ReadPacketData()
			if errors.Is(err, capture.ErrIdle) {
				continue
			}
			if err != nil {
				break
			}
			p := gopacket.NewPacket(data, layers.LinkTypeEthernet, gopacket.Default)
			if p.Layer(layers.LayerTypeIPv4) == nil && p.Layer(layers.LayerTypeIPv6) == nil {
				// A frame that is not IP passes the filter by design, for
				// the reader to judge (an ARP; the root package's
				// TestSniffNoPacketsDespiteOtherFrames sends such frames on
				// lo, and go test runs packages side by side).
				continue
			}
			tcp, _ := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
			if tcp == nil || (uint16(tcp.SrcPort) != port && uint16(tcp.DstPort) != port) {
				h.Close()
				cancel()
				t.Fatalf("a capture of port %d returned a packet of another connection, taken before its filter:\n%v", port, p)
			}
		}
		h.Close()
		cancel()
	}
}

//go:build linux

package sniff_test

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/sys/unix"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/internal/capperm"
	"github.com/muxtop/muxtop/sniff"
)

// TestAnyIndexReused: under -i any, an interface index that a tun had
// (bare IP) and that, once the tun is deleted, a tap (Ethernet) is given
// (as ip link add ... index N, or a move between network namespaces,
// does) must read as Ethernet again: the link type sniff looked up for
// the tun must not stay with the index for the rest of the capture, which
// read every frame of the tap as a bare IP packet and decoded none.
func TestAnyIndexReused(t *testing.T) {
	h, port, index, name := anyAtFreeIndex(t, 200000, "mxr")
	src, dst := netip.MustParseAddr("10.79.0.2"), netip.MustParseAddr("10.79.0.1")
	bare := syn4(t, src, dst, port, 1234)
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, EthernetType: layers.EthernetTypeIPv4}
	framed := syn4(t, src, dst, port, 1235, eth) // 1235, the tap's: not a packet of the tun's left in the ring

	// read writes pkt into the device f until sniff returns a packet of
	// index, and reports whether it decoded it as TCP to dport.
	read := func(f *os.File, pkt []byte, dport layers.TCPPort) bool {
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			for {
				f.Write(pkt)
				select {
				case <-stop:
					return
				case <-time.After(50 * time.Millisecond):
				}
			}
		}()
		data, link := packetOf(t, h, index)
		tcp, ok := gopacket.NewPacket(data, link, gopacket.Default).Layer(layers.LayerTypeTCP).(*layers.TCP)
		return ok && tcp.DstPort == dport
	}

	tun := newTun(t, name, index, unix.IFF_TUN)
	if !read(tun, bare, 1234) {
		t.Fatal("the tun's packet was not decoded")
	}
	t.Logf("index %d: the tun's packet read as bare IP", index)
	tun.Close() // deletes it
	waitGone(index)
	tap := newTun(t, name, index, unix.IFF_TAP)
	defer tap.Close()
	misread := 0
	for !read(tap, framed, 1235) {
		// The first frames may still be read by the tun's link type; not
		// for good.
		if misread++; misread == 1 {
			t.Logf("index %d: a frame of the tap not decoded; reading on", index)
		}
	}
}

// TestAnyIndexGone: under -i any, the packets of a tun still in the ring
// when the tun is deleted (sniff behind, a VPN gone) are read as the bare
// IP they are, though the tun's index can no longer be looked up, and
// though a second has passed since it was (linkRecheck).
func TestAnyIndexGone(t *testing.T) {
	h, port, index, name := anyAtFreeIndex(t, 400000, "mxg")
	pkt := syn4(t, netip.MustParseAddr("10.79.0.2"), netip.MustParseAddr("10.79.0.1"), port, 1234)
	next := func() (layers.LinkType, bool) {
		data, link := packetOf(t, h, index)
		return link, gopacket.NewPacket(data, link, gopacket.Default).Layer(layers.LayerTypeTCP) != nil
	}
	tun := newTun(t, name, index, unix.IFF_TUN)
	if _, err := tun.Write(pkt); err != nil {
		t.Fatal(err)
	}
	if link, ok := next(); !ok {
		t.Fatalf("the tun's first packet read as %v, not decoded", link)
	}
	time.Sleep(1100 * time.Millisecond) // past linkRecheck in capture time: not a measure
	if _, err := tun.Write(pkt); err != nil {
		t.Fatal(err)
	}
	tun.Close() // deletes it; its packet stays in the ring
	waitGone(index)
	if link, ok := next(); !ok {
		t.Fatalf("the packet of the tun since deleted read as %v, not decoded", link)
	}
}

// anyAtFreeIndex opens a capture on every interface with the filter of a
// random port, for 30 seconds at the most (a failsafe), and picks for a
// tun a free interface index (from base on) and a name (prefix and random
// hex digits).
func anyAtFreeIndex(t *testing.T, base int, prefix string) (h *sniff.Handle, port layers.TCPPort, index int, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	var rnd [4]byte
	rand.Read(rnd[:])
	p := 1024 + binary.BigEndian.Uint16(rnd[:2])%60000
	h = openOn(t, ctx, sniff.Any, capture.Port(p))
	index = freeIndex(t, base+int(rnd[2])*100)
	return h, layers.TCPPort(p), index, fmt.Sprintf("%s%x", prefix, rnd[1:])
}

// newTun makes a tun (IFF_TUN) or tap (IFF_TAP) device of that name and
// index, up, deleted when the file returned is closed.
func newTun(t *testing.T, name string, index int, kind uint16) *os.File {
	t.Helper()
	return newTunOf(t, name, index, kind, 0)
}

// newTunOf is newTun whose device says ARPHRD type hw (TUNSETLINK) from
// the first, if hw is not 0.
func newTunOf(t *testing.T, name string, index int, kind, hw uint16) *os.File {
	t.Helper()
	f, err := os.OpenFile("/dev/net/tun", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no tun device: %v", err)
	}
	if index != 0 {
		if err := unix.IoctlSetPointerInt(int(f.Fd()), unix.TUNSETIFINDEX, index); err != nil {
			f.Close()
			t.Skipf("TUNSETIFINDEX: %v", err)
		}
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		t.Fatal(err)
	}
	ifr.SetUint16(kind | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(int(f.Fd()), unix.TUNSETIFF, ifr); err != nil {
		f.Close()
		t.Skipf("creating a tun needs CAP_NET_ADMIN: %v", err)
	}
	if hw != 0 {
		if err := unix.IoctlSetInt(int(f.Fd()), unix.TUNSETLINK, int(hw)); err != nil {
			f.Close()
			t.Fatalf("TUNSETLINK: %v", err)
		}
	}
	if ifc, err := net.InterfaceByName(name); err != nil || index != 0 && ifc.Index != index {
		f.Close()
		t.Fatalf("%s: %v, %v: want index %d", name, ifc, err, index)
	}
	if out, err := exec.Command("ip", "link", "set", name, "up").CombinedOutput(); err != nil {
		f.Close()
		t.Fatalf("ip link set %s up: %v: %s", name, err, out)
	}
	return f
}

// openOn opens a capture on iface (sniff.Any: every interface) with
// filter f, closed when the test ends; it skips the test without the
// permission to capture.
func openOn(t *testing.T, ctx context.Context, iface string, f capture.Filter) *sniff.Handle {
	t.Helper()
	h, err := sniff.Open(ctx, iface, f)
	if errors.Is(err, sniff.ErrPermission) {
		capperm.Missing(t, "capturing needs root or CAP_NET_RAW")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

// nextPacket is h.ReadPacketData past the quiet moments it reports
// (capture.ErrIdle).
func nextPacket(h *sniff.Handle) ([]byte, gopacket.CaptureInfo, error) {
	for {
		data, ci, err := h.ReadPacketData()
		if !errors.Is(err, capture.ErrIdle) {
			return data, ci, err
		}
	}
}

// linkOf is the link type of a packet h read with ci: the one ci carries
// (under -i any, the packet's interface's), else h's.
func linkOf(h *sniff.Handle, ci gopacket.CaptureInfo) layers.LinkType {
	if len(ci.AncillaryData) > 0 {
		return ci.AncillaryData[0].(layers.LinkType)
	}
	return h.LinkType()
}

// packetOf returns the next packet h reads of the interface index, and
// the link type it reads as; a read's error fails the test.
func packetOf(t *testing.T, h *sniff.Handle, index int) ([]byte, layers.LinkType) {
	t.Helper()
	for {
		data, ci, err := nextPacket(h)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if ci.InterfaceIndex == index {
			return data, linkOf(h, ci)
		}
	}
}

// waitGone returns once no interface has the index.
func waitGone(index int) {
	for {
		if _, err := net.InterfaceByIndex(index); err != nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// freeIndex returns an interface index no interface has, from base on.
func freeIndex(t *testing.T, base int) int {
	t.Helper()
	for i := base; i < base+100; i++ {
		if _, err := net.InterfaceByIndex(i); err != nil {
			return i
		}
	}
	t.Fatal("no free interface index")
	return 0
}

// serialize lays the layers ls out as one packet, with their lengths and
// checksums computed.
func serialize(t *testing.T, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	b := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(b, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// syn4 is an IPv4 TCP SYN from src:sport to dst:dport, serialized behind
// the layers link (none: a bare IP packet, as a tun's).
func syn4(t *testing.T, src, dst netip.Addr, sport, dport layers.TCPPort, link ...gopacket.SerializableLayer) []byte {
	t.Helper()
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
	tcp := &layers.TCP{SrcPort: sport, DstPort: dport, SYN: true, Window: 100}
	tcp.SetNetworkLayerForChecksum(ip)
	return serialize(t, slices.Concat(link, []gopacket.SerializableLayer{ip, tcp})...)
}

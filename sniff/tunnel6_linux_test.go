//go:build linux

package sniff_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/sys/unix"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/sniff"
)

// TestTunnelIPv6 sniffs IPv6 TCP on a tun (bare IPv6 packets) with a port
// filter, in the kernel: bound to the tun, and with -i any opened before
// the tun existed (its index looked up on its first packet). A segment
// the kernel sends into the tun (a SYN to an address routed there) and one
// written into it (as from the far end) must both be read, as bare IP
// (LinkType, or the packet's CaptureInfo under any), and an IPv6 UDP
// datagram to the same port must not be. Under any, also with a filter
// too long for the socket filter's jumps (the port twenty times over),
// where the kernel runs only the preamble, which must still keep the
// tun's bare IP packets (the UDP one too, then, for the reader to skip).
func TestTunnelIPv6(t *testing.T) {
	for _, c := range []struct {
		name  string
		any   bool
		terms int
	}{{"bound", false, 1}, {sniff.Any, true, 1}, {sniff.Any + "-preamble-only", true, 20}} {
		t.Run(c.name, func(t *testing.T) { tunnelIPv6(t, c.any, c.terms) })
	}
}

func tunnelIPv6(t *testing.T, anyIf bool, terms int) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // a failsafe, not a measure
	defer cancel()
	port := uint16(40000 + os.Getpid()%20000)
	filter, err := capture.ParseFilter(strings.TrimSuffix(strings.Repeat(fmt.Sprintf("port %d and ", port), terms), " and "))
	if err != nil {
		t.Fatal(err)
	}
	var h *sniff.Handle
	if anyIf {
		h = openOn(t, ctx, sniff.Any, filter) // before the tun: its index is new to sniff
	}
	var rnd [3]byte
	rand.Read(rnd[:])
	name := fmt.Sprintf("mx6%x", rnd)
	f := newTun(t, name, 0, unix.IFF_TUN)
	defer f.Close() // deletes the interface
	os.WriteFile("/proc/sys/net/ipv6/conf/"+name+"/disable_ipv6", []byte("0"), 0)
	local := netip.MustParseAddr(fmt.Sprintf("fd77:%x:%x::1", rnd[0], uint16(rnd[1])<<8|uint16(rnd[2])))
	remote := local.Next()
	args := []string{"-6", "addr", "add", local.String() + "/64", "dev", name, "nodad"}
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Skipf("ip %v: %v: %s", args, err, out)
	}
	if !anyIf {
		h = openOn(t, ctx, name, filter)
		if h.LinkType() != layers.LinkTypeRaw {
			t.Fatalf("LinkType %v, want %v", h.LinkType(), layers.LinkTypeRaw)
		}
	}

	// The far end's segment and datagram, written into the tun.
	ip6 := func(next layers.IPProtocol) *layers.IPv6 {
		return &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: next, SrcIP: remote.AsSlice(), DstIP: local.AsSlice()}
	}
	tcpIn := &layers.TCP{SrcPort: layers.TCPPort(port), DstPort: 1234, SYN: true, ACK: true, Window: 100}
	udpIn := &layers.UDP{SrcPort: layers.UDPPort(port), DstPort: 1234}
	ipT, ipU := ip6(layers.IPProtocolTCP), ip6(layers.IPProtocolUDP)
	tcpIn.SetNetworkLayerForChecksum(ipT)
	udpIn.SetNetworkLayerForChecksum(ipU)
	in := [][]byte{serialize(t, ipU, udpIn, gopacket.Payload("udp")), serialize(t, ipT, tcpIn)}

	done := make(chan struct{})
	defer close(done)
	go func() {
		// The kernel's SYN, sent (and resent) into the tun: nobody answers.
		c, err := net.DialTimeout("tcp6", netip.AddrPortFrom(remote, port).String(), 50*time.Second)
		if err == nil {
			c.Close()
		}
	}()
	go func() {
		for {
			for _, pkt := range in {
				f.Write(pkt)
			}
			select {
			case <-done:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()

	var sawOut, sawIn bool
	for !sawOut || !sawIn {
		data, ci, err := nextPacket(h)
		if err != nil {
			t.Fatalf("read: %v (the SYN sent: %v, the one written: %v)", err, sawOut, sawIn)
		}
		link := linkOf(h, ci)
		pkt := gopacket.NewPacket(data, link, gopacket.Default)
		n, _ := pkt.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
		if n == nil {
			if ci.InterfaceIndex == ifIndex(name) {
				t.Fatalf("a packet of the tun read as %v: % x", link, data)
			}
			continue // another interface's, under any
		}
		if pkt.Layer(layers.LayerTypeUDP) != nil && terms == 1 {
			t.Fatalf("the kernel filter kept a UDP datagram to port %d", port)
		}
		tcp, _ := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if tcp == nil {
			continue
		}
		src, _ := netip.AddrFromSlice(n.SrcIP)
		switch {
		case src == local && tcp.DstPort == layers.TCPPort(port):
			sawOut = true
		case src == remote && tcp.SrcPort == layers.TCPPort(port):
			sawIn = true
		}
	}
}

func ifIndex(name string) int {
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		return -1
	}
	return ifc.Index
}

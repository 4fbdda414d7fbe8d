package sniff

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"

	"github.com/muxtop/muxtop/capture"
)

// frame is a packet the prefilter judges, and what the reader makes of it.
type frame struct {
	data []byte
	tcp  bool // an IPv4 or IPv6 TCP segment the reader decodes
	a, b netip.AddrPort
	what string
}

// makeFrame serializes an Ethernet frame from src to dst over proto
// (6 TCP, 17 UDP); frag makes it an IPv4 fragment past the first.
func makeFrame(t *testing.T, src, dst netip.AddrPort, proto layers.IPProtocol, frag bool) frame {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}}
	var net gopacket.NetworkLayer
	var ls []gopacket.SerializableLayer
	if src.Addr().Is4() {
		eth.EthernetType = layers.EthernetTypeIPv4
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: proto, SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
		if frag {
			ip.FragOffset = 100
		}
		net = ip
		ls = append(ls, eth, ip)
	} else {
		eth.EthernetType = layers.EthernetTypeIPv6
		ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: proto, SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
		net = ip
		ls = append(ls, eth, ip)
	}
	switch proto {
	case layers.IPProtocolTCP:
		tcp := &layers.TCP{SrcPort: layers.TCPPort(src.Port()), DstPort: layers.TCPPort(dst.Port()), Seq: 1, ACK: true, Window: 100}
		tcp.SetNetworkLayerForChecksum(net)
		ls = append(ls, tcp)
	default:
		udp := &layers.UDP{SrcPort: layers.UDPPort(src.Port()), DstPort: layers.UDPPort(dst.Port())}
		udp.SetNetworkLayerForChecksum(net)
		ls = append(ls, udp)
	}
	ls = append(ls, gopacket.Payload("muxtop"))
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return frame{data: buf.Bytes(), tcp: proto == layers.IPProtocolTCP && !frag, a: src, b: dst,
		what: fmt.Sprintf("%v %v→%v frag=%v", proto, src, dst, frag)}
}

// bareFrame is fr as an interface without a link-layer header (a tun,
// WireGuard) gives it: the bare IP packet.
func bareFrame(fr frame) frame {
	fr.data = fr.data[ethernet:]
	fr.what += " (bare IP)"
	return fr
}

// TestSocketFilterIsTheReadersFilter runs the socket filter in x/net/bpf's
// virtual machine over random frames and filters: a TCP segment is kept
// exactly when the reader's Filter.Match picks its connection, UDP is
// dropped, and what the prefilter cannot judge (an IPv4 fragment past the
// first, another EtherType) is kept for the reader. So on an Ethernet
// interface (bound) and on one that gives bare IP packets (boundIP).
func TestSocketFilterIsTheReadersFilter(t *testing.T) {
	for _, pre := range []preamble{bound, boundIP} {
		t.Run(map[preamble]string{bound: "ethernet", boundIP: "bare-ip"}[pre], func(t *testing.T) { readersFilter(t, pre) })
	}
}

func readersFilter(t *testing.T, pre preamble) {
	addrs := []netip.Addr{
		netip.MustParseAddr("10.0.0.5"), netip.MustParseAddr("10.0.0.6"), netip.MustParseAddr("127.0.0.1"),
		netip.MustParseAddr("fd00::5"), netip.MustParseAddr("fd00::6"), netip.MustParseAddr("::ffff:10.0.0.5"),
	}
	ports := []uint16{9000, 9001, 443, 52000}
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func() netip.AddrPort {
		return netip.AddrPortFrom(addrs[rng.IntN(len(addrs))], ports[rng.IntN(len(ports))])
	}
	judged := map[bool]int{} // TCP segments of picked connections, kept; others, dropped
	defer func() {
		if judged[true] < 100 || judged[false] < 100 {
			t.Errorf("the random frames were too one-sided to prove much: %v", judged)
		}
	}()
	for n := range 400 {
		var terms []string
		for range rng.IntN(4) {
			if rng.IntN(2) == 0 {
				terms = append(terms, fmt.Sprintf("port %d", ports[rng.IntN(len(ports))]))
			} else {
				terms = append(terms, "host "+addrs[rng.IntN(len(addrs))].String())
			}
		}
		expr := strings.Join(terms, " and ")
		f, err := capture.ParseFilter(expr)
		if err != nil {
			t.Fatal(err)
		}
		ins, ok := socketFilter(pre, f)
		if !ok {
			t.Fatalf("%q: too long", expr)
		}
		if f.Empty() {
			if ins != nil {
				t.Errorf("the empty filter is a program: %v", ins)
			}
			continue
		}
		vm, err := bpf.NewVM(ins)
		if err != nil {
			t.Fatalf("%q: %v", expr, err)
		}
		for range 20 {
			src, dst := pick(), pick()
			if src.Addr().Unmap().Is4() != dst.Addr().Unmap().Is4() {
				continue // no such packet
			}
			if src.Addr().Unmap().Is4() {
				src, dst = netip.AddrPortFrom(src.Addr().Unmap(), src.Port()), netip.AddrPortFrom(dst.Addr().Unmap(), dst.Port())
				if rng.IntN(4) == 0 { // IPv4-mapped on the wire, in IPv6
					src = netip.AddrPortFrom(netip.AddrFrom16(src.Addr().As16()), src.Port())
					dst = netip.AddrPortFrom(netip.AddrFrom16(dst.Addr().As16()), dst.Port())
				}
			}
			proto := layers.IPProtocolTCP
			if rng.IntN(5) == 0 {
				proto = layers.IPProtocolUDP
			}
			frag := src.Addr().Is4() && rng.IntN(6) == 0
			fr := makeFrame(t, src, dst, proto, frag)
			if pre == boundIP {
				fr = bareFrame(fr)
			}
			kept, err := vm.Run(fr.data)
			if err != nil {
				t.Fatalf("%q on %s: %v", expr, fr.what, err)
			}
			var want bool
			switch {
			case proto != layers.IPProtocolTCP:
				want = false
			case frag:
				want = true // a TCP fragment past the first: the reader judges it
			default:
				want = f.Match(fr.a, fr.b)
			}
			if (kept != 0) != want {
				t.Errorf("filter %d %q on %s: kept %d, want kept=%v", n, expr, fr.what, kept, want)
			}
			if fr.tcp {
				judged[want]++
			}
			if kept != 0 && kept != keepAll {
				t.Errorf("kept %d bytes, want all", kept)
			}
		}
	}
}

// TestSocketFilterOtherFrames: a frame that is not IPv4 or IPv6 (ARP, or
// one whose VLAN tag stayed in it) is kept for the reader.
func TestSocketFilterOtherFrames(t *testing.T) {
	ins, _ := socketFilter(bound, capture.Port(9000))
	vm, err := bpf.NewVM(ins)
	if err != nil {
		t.Fatal(err)
	}
	fr := makeFrame(t, netip.MustParseAddrPort("10.0.0.5:9000"), netip.MustParseAddrPort("10.0.0.6:1234"), layers.IPProtocolTCP, false)
	tagged := append(append(append([]byte(nil), fr.data[:12]...), 0x81, 0x00, 0x00, 0x05), fr.data[12:]...)
	arp := append(append([]byte(nil), fr.data[:12]...), 0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1)
	for name, data := range map[string][]byte{"802.1Q": tagged, "ARP": arp} {
		if kept, err := vm.Run(data); err != nil || kept != keepAll {
			t.Errorf("%s: kept %d (%v), want all", name, kept, err)
		}
	}
}

// TestSocketFilterShapes: every preamble assembles, with and without
// terms, and a filter too long for 8-bit jumps is refused (the reader
// filters alone).
func TestSocketFilterShapes(t *testing.T) {
	f, err := capture.ParseFilter("host 10.0.0.5 and host fd00::1 and port 9000 and port 9001")
	if err != nil {
		t.Fatal(err)
	}
	for _, pre := range []preamble{bound, loopback, every, boundIP} {
		for _, f := range []capture.Filter{{}, f} {
			ins, ok := socketFilter(pre, f)
			if !ok {
				t.Fatalf("preamble %d, %q: too long", pre, f)
			}
			if (pre == bound || pre == boundIP) && f.Empty() {
				if ins != nil {
					t.Errorf("preamble %d: the empty filter is a program", pre)
				}
				continue
			}
			if _, err := bpf.Assemble(ins); err != nil {
				t.Errorf("preamble %d, %q: %v", pre, f, err)
			}
		}
	}
	long := strings.Repeat("host fd00::1 and ", 30) + "port 1"
	lf, err := capture.ParseFilter(long)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := socketFilter(bound, lf); ok {
		t.Errorf("a filter of 31 terms fits 8-bit jumps?")
	}
}

// TestSocketFilterHopByHop: an IPv6 TCP segment after a Hop-by-Hop
// header (the jumbo option of an IPv6 BIG TCP segment, which taps see)
// is decoded by the reader, as gopacket's IPv6 layer takes the header in:
// the socket filter judges it by its ports, past the header.
func TestSocketFilterHopByHop(t *testing.T) {
	const ip6 = 14
	// withHBH inserts a Hop-by-Hop header of 8*(1+ext) bytes (PadN) before
	// fr's TCP or UDP header.
	withHBH := func(fr frame, ext int) []byte {
		hbh := make([]byte, 8*(1+ext))
		hbh[0], hbh[1], hbh[2], hbh[3] = fr.data[ip6+6], byte(ext), 1, byte(len(hbh)-4)
		data := append(append(append([]byte(nil), fr.data[:ip6+40]...), hbh...), fr.data[ip6+40:]...)
		data[ip6+6] = 0 // next: Hop-by-Hop
		binary.BigEndian.PutUint16(data[ip6+4:], binary.BigEndian.Uint16(data[ip6+4:])+uint16(len(hbh)))
		return data
	}
	src := netip.MustParseAddrPort("[fd00::5]:52000")
	picked := makeFrame(t, src, netip.MustParseAddrPort("[fd00::6]:9000"), layers.IPProtocolTCP, false)
	other := makeFrame(t, src, netip.MustParseAddrPort("[fd00::6]:9001"), layers.IPProtocolTCP, false)
	udp := makeFrame(t, src, netip.MustParseAddrPort("[fd00::6]:9000"), layers.IPProtocolUDP, false)

	// The reader's decoders (capture.Reader's parser) find the TCP segment.
	var eth layers.Ethernet
	var ip layers.IPv6
	var tcp layers.TCP
	p := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &eth, &ip, &tcp)
	p.IgnoreUnsupported = true
	var decoded []gopacket.LayerType
	if err := p.DecodeLayers(withHBH(picked, 1), &decoded); err != nil || len(decoded) != 3 || tcp.DstPort != 9000 {
		t.Fatalf("the reader's decoders: %v, %v, port %d", err, decoded, tcp.DstPort)
	}

	for _, pre := range []preamble{bound, boundIP} {
		link := 0 // where the packet starts in the frames built
		if pre == boundIP {
			link = ethernet
		}
		for _, expr := range []string{"port 9000", "host fd00::6 and port 9000"} {
			f, err := capture.ParseFilter(expr)
			if err != nil {
				t.Fatal(err)
			}
			ins, _ := socketFilter(pre, f)
			vm, err := bpf.NewVM(ins)
			if err != nil {
				t.Fatal(err)
			}
			for _, ext := range []int{0, 1, 3} {
				for _, c := range []struct {
					fr   frame
					want int
				}{{picked, keepAll}, {other, drop}, {udp, drop}} {
					if kept, err := vm.Run(withHBH(c.fr, ext)[link:]); err != nil || kept != c.want {
						t.Errorf("preamble %d, %q: kept %d (%v) of %s after a Hop-by-Hop header of %d bytes, want %d", pre, expr, kept, err, c.fr.what, 8*(1+ext), c.want)
					}
				}
			}
			if kept, err := vm.Run(picked.data[link:]); err != nil || kept != keepAll {
				t.Errorf("preamble %d, %q: kept %d (%v) of %s, want all", pre, expr, kept, err, picked.what)
			}
		}
	}
}

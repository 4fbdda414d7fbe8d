package capture_test

import (
	"encoding/binary"
	"net"
	"testing"

	"github.com/gopacket/gopacket/layers"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/live"
)

// TestLinkTypes reads the same real smux and yamux traffic under each
// link-layer header a capture may carry, rewritten from the Ethernet
// frames tcpdump -i lo wrote: what read makes of it must not depend on
// the header. Linux cooked v2 (SLL2) is what tcpdump -i any writes since
// libpcap 1.10 (Debian 12); read refused it before, with a message that
// said the "any" interface was supported.
func TestLinkTypes(t *testing.T) {
	for _, path := range []string{"testdata/base-v2.pcapng", "testdata/base-yamux.pcapng"} {
		ps := readPackets(t, path)
		eth := readLinked(ps, layers.LinkTypeEthernet, nil)
		if eth.Totals.Total() == 0 {
			t.Fatalf("%s: no frame read", path)
		}
		want := counts(eth)
		for _, c := range []struct {
			link layers.LinkType
			head func(ip []byte, out bool) []byte // the header before the IP packet
		}{
			{layers.LinkTypeLinuxSLL2, func(ip []byte, out bool) []byte {
				h := make([]byte, 20)
				binary.BigEndian.PutUint16(h[0:], 0x0800) // protocol: IPv4
				binary.BigEndian.PutUint32(h[4:], 1)      // interface index
				binary.BigEndian.PutUint16(h[8:], 772)    // ARPHRD_LOOPBACK
				if out {
					h[10] = 4 // PACKET_OUTGOING
				}
				h[11] = 6 // address length
				return h
			}},
			{layers.LinkTypeLinuxSLL, func(ip []byte, out bool) []byte {
				h := make([]byte, 16)
				if out {
					binary.BigEndian.PutUint16(h[0:], 4)
				}
				binary.BigEndian.PutUint16(h[2:], 772)
				binary.BigEndian.PutUint16(h[4:], 6)
				binary.BigEndian.PutUint16(h[14:], 0x0800)
				return h
			}},
			{layers.LinkTypeNull, func([]byte, bool) []byte { return binary.LittleEndian.AppendUint32(nil, 2) }}, // AF_INET
			{layers.LinkTypeRaw, func([]byte, bool) []byte { return nil }},
		} {
			got := counts(readLinked(ps, c.link, c.head))
			if got != want {
				t.Errorf("%s as %v:\n got %s\nwant %s", path, c.link, got, want)
			}
		}
	}
}

// readLinked reads ps, Ethernet frames, as captured under link type link:
// each frame's Ethernet header replaced by head's (Ethernet keeps it).
func readLinked(ps []pkt, link layers.LinkType, head func(ip []byte, out bool) []byte) *live.Snapshot {
	reg := live.New(live.Config{})
	rd := capture.NewReader(capture.Config{Registry: reg})
	for i, p := range ps {
		data := p.Data
		if link != layers.LinkTypeEthernet {
			ip := p.Data[14:]
			data = append(head(ip, i%2 == 0), ip...)
		}
		rd.Packet(data, p.CI, link)
	}
	rd.Close()
	return reg.Snapshot()
}

// TestLinkTypesVLANIPv6 reads the traffic of TestLinkTypes over IPv6, and
// under -i any's headers with an 802.1Q tag (libpcap puts back the tag
// the kernel stripped: protocol 0x8100, then the tag and the IP
// protocol), over IPv4 and IPv6: the counts are those of the Ethernet
// IPv4 read.
func TestLinkTypesVLANIPv6(t *testing.T) {
	sll2 := func(vlan bool) func(ip []byte, out bool) []byte {
		return func(ip []byte, out bool) []byte {
			proto := uint16(0x0800)
			if ip[0]>>4 == 6 {
				proto = 0x86dd
			}
			h := make([]byte, 20)
			binary.BigEndian.PutUint16(h[0:], proto)
			binary.BigEndian.PutUint32(h[4:], 3) // interface index
			binary.BigEndian.PutUint16(h[8:], 1) // ARPHRD_ETHER
			if out {
				h[10] = 4 // PACKET_OUTGOING
			}
			h[11] = 6
			if vlan {
				binary.BigEndian.PutUint16(h[0:], 0x8100)
				h = binary.BigEndian.AppendUint16(h, 100) // VLAN 100
				h = binary.BigEndian.AppendUint16(h, proto)
			}
			return h
		}
	}
	for _, path := range []string{"testdata/base-v2.pcapng", "testdata/base-yamux.pcapng"} {
		ps := readPackets(t, path)
		want := counts(readLinked(ps, layers.LinkTypeEthernet, nil))
		ps6 := make([]pkt, len(ps))
		for i, p := range ps {
			ip4 := p.IP.(*layers.IPv4)
			eth := *p.Eth
			eth.EthernetType = layers.EthernetTypeIPv6
			q := p
			q.Eth = &eth
			q.IP = &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP,
				SrcIP: net.ParseIP("fd00::" + ip4.SrcIP.String()[len("127.0.0."):]), DstIP: net.ParseIP("fd00::" + ip4.DstIP.String()[len("127.0.0."):])}
			tcp := *p.TCP
			ps6[i] = reserialize(t, q, &tcp, p.Payload)
		}
		for _, c := range []struct {
			name string
			ps   []pkt
			link layers.LinkType
			head func(ip []byte, out bool) []byte
		}{
			{"IPv6 Ethernet", ps6, layers.LinkTypeEthernet, nil},
			{"IPv6 SLL2", ps6, layers.LinkTypeLinuxSLL2, sll2(false)},
			{"IPv4 SLL2 VLAN", ps, layers.LinkTypeLinuxSLL2, sll2(true)},
			{"IPv6 SLL2 VLAN", ps6, layers.LinkTypeLinuxSLL2, sll2(true)},
		} {
			if got := counts(readLinked(c.ps, c.link, c.head)); got != want {
				t.Errorf("%s as %s:\n got %s\nwant %s", path, c.name, got, want)
			}
		}
	}
}

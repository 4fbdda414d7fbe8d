// Package pcaptest exists for tests: it gives muxtop's tests one copy of
// what they do with the packets of a capture: parse them, place each
// one's TCP payload in its direction's byte stream, leave some out, and
// write the rest back as pcapng.
package pcaptest

import (
	"bytes"
	"io"
	"slices"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/live"
)

// Packet is a packet of a capture, an Ethernet frame of TCP, parsed.
type Packet struct {
	CI      gopacket.CaptureInfo
	Data    []byte
	Eth     *layers.Ethernet
	IP      gopacket.SerializableLayer // *layers.IPv4 or *layers.IPv6
	TCP     *layers.TCP
	Payload []byte
}

// Read returns the packets of the pcap or pcapng capture r, every one an
// Ethernet frame of TCP over IPv4 or IPv6.
func Read(t testing.TB, r io.Reader) []Packet {
	t.Helper()
	src, err := capture.Open(r)
	if err != nil {
		t.Fatal(err)
	}
	var ps []Packet
	for {
		data, ci, err := src.ReadPacketData()
		if err == io.EOF {
			return ps
		}
		if err != nil {
			t.Fatal(err)
		}
		data = bytes.Clone(data) // valid until the next read
		p := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
		pk := Packet{CI: ci, Data: data, Eth: p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet), TCP: p.Layer(layers.LayerTypeTCP).(*layers.TCP)}
		if ip4, ok := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4); ok {
			pk.IP = ip4
		} else {
			pk.IP = p.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
		}
		pk.Payload = pk.TCP.Payload
		ps = append(ps, pk)
	}
}

// Write writes ps to w as a pcapng capture of Ethernet frames.
func Write(t testing.TB, w io.Writer, ps []Packet) {
	t.Helper()
	ng, err := pcapgo.NewNgWriter(w, layers.LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		ci := p.CI
		// Its one interface: a tap's capture has one per transport and
		// per thing its taps were told (pcapout), whose marks this
		// capture, as tcpdump's, does not carry.
		ci.InterfaceIndex = 0
		if err := ng.WritePacket(ci, p.Data); err != nil {
			t.Fatal(err)
		}
	}
	if err := ng.Flush(); err != nil {
		t.Fatal(err)
	}
}

// Placed is a packet of a capture: its index, its direction, and where
// its TCP payload lies in its direction's byte stream.
type Placed struct {
	I      int
	Dir    live.Dir
	Off, N int64
}

// Place returns every packet of ps, placed, and each direction's byte
// stream. The first packet of ps is the client's SYN.
func Place(ps []Packet) ([]Placed, [2][]byte) {
	server := ps[0].TCP.DstPort
	out := make([]Placed, len(ps))
	var stream [2][]byte
	for i, p := range ps {
		d := live.ServerToClient
		if p.TCP.DstPort == server {
			d = live.ClientToServer
		}
		out[i] = Placed{i, d, int64(len(stream[d])), int64(len(p.Payload))}
		stream[d] = append(stream[d], p.Payload...)
	}
	return out, stream
}

// Without returns ps without the packets drop.
func Without(ps []Packet, drop ...Placed) []Packet {
	var out []Packet
	for i, p := range ps {
		if !slices.ContainsFunc(drop, func(d Placed) bool { return d.I == i }) {
			out = append(out, p)
		}
	}
	return out
}

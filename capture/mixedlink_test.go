package capture_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/live"
)

// TestMixedLinkTypes reads a pcapng capture of two interfaces of
// different link types, as dumpcap writes one of an Ethernet interface
// and a tunnel's (bare IP): the real smux traffic of base-v2, its
// packets alternating between the two. Every packet counts, as read of
// the Ethernet capture counts them; pcapgo's default dropped the second
// interface's packets without a word.
func TestMixedLinkTypes(t *testing.T) {
	ps := readPackets(t, "testdata/base-v2.pcapng")
	want := counts(readLinked(ps, layers.LinkTypeEthernet, nil))
	var buf bytes.Buffer
	w, tun := twoInterfaces(t, &buf, pcapgo.NgInterface{Name: "tun0", LinkType: layers.LinkTypeRaw})
	for i, p := range ps {
		ci, data := p.CI, p.Data
		ci.InterfaceIndex = 0
		if i%2 == 1 {
			ci.InterfaceIndex, data = tun, p.Data[14:] // the IP packet alone
		}
		ci.CaptureLength, ci.Length = len(data), len(data)
		if err := w.WritePacket(ci, data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	file, err := capture.Open(&buf)
	if err != nil {
		t.Fatal(err)
	}
	reg, rd := runFile(t, file)
	if st := rd.Stats(); st.Packets != uint64(len(ps)) || st.NotTCP != 0 {
		t.Errorf("read %d packets (%d not TCP), want %d", st.Packets, st.NotTCP, len(ps))
	}
	if got := counts(reg.Snapshot()); got != want {
		t.Errorf("mixed link types:\n got %s\nwant %s", got, want)
	}
}

// TestMixedLinkTypesFirstUnsupported reads a pcapng of two interfaces, as
// dumpcap -i eth0 -i usbmon0 writes one, whose first packet is on the
// interface read does not decode (USB): Open takes the capture by its
// link type (its first interface's, Ethernet), as Run does, and the USB
// packet counts as not TCP. Before, Open refused the capture by its first
// packet's interface, whatever the rest held.
func TestMixedLinkTypesFirstUnsupported(t *testing.T) {
	ps := readPackets(t, "testdata/base-v2.pcapng")
	want := counts(readLinked(ps, layers.LinkTypeEthernet, nil))
	var buf bytes.Buffer
	w, usb := twoInterfaces(t, &buf, pcapgo.NgInterface{Name: "usbmon0", LinkType: layers.LinkTypeLinuxUSB})
	first := ps[0].CI
	usbData := make([]byte, 48) // a usbmon header's worth
	first.InterfaceIndex, first.CaptureLength, first.Length = usb, len(usbData), len(usbData)
	if err := w.WritePacket(first, usbData); err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		ci := p.CI
		ci.InterfaceIndex = 0
		if err := w.WritePacket(ci, p.Data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	file, err := capture.Open(&buf)
	if err != nil {
		t.Fatalf("Open of an Ethernet and USB capture, its first packet USB's: %v", err)
	}
	reg, rd := runFile(t, file)
	if st := rd.Stats(); st.Packets != uint64(len(ps)+1) || st.NotTCP != 1 {
		t.Errorf("read %d packets (%d not TCP), want %d (1 not TCP)", st.Packets, st.NotTCP, len(ps)+1)
	}
	if got := counts(reg.Snapshot()); got != want {
		t.Errorf("Ethernet and USB:\n got %s\nwant %s", got, want)
	}
}

// twoInterfaces returns a pcapng writer to buf of an Ethernet interface,
// eth0 (index 0), and second, and second's index.
func twoInterfaces(t *testing.T, buf *bytes.Buffer, second pcapgo.NgInterface) (*pcapgo.NgWriter, int) {
	t.Helper()
	w, err := pcapgo.NewNgWriterInterface(buf, pcapgo.NgInterface{Name: "eth0", LinkType: layers.LinkTypeEthernet}, pcapgo.DefaultNgWriterOptions)
	if err != nil {
		t.Fatal(err)
	}
	i, err := w.AddInterface(second)
	if err != nil {
		t.Fatal(err)
	}
	return w, i
}

// runFile reads file into a new registry and returns it and the reader.
func runFile(t *testing.T, file *capture.File) (*live.Registry, *capture.Reader) {
	t.Helper()
	reg := live.New(live.Config{})
	rd := capture.NewReader(capture.Config{Registry: reg})
	if err := rd.Run(context.Background(), file); err != nil {
		t.Fatal(err)
	}
	return reg, rd
}

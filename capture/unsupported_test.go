package capture_test

import (
	"bytes"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/muxtop/muxtop/capture"
)

// TestUnsupportedLinkType reads a capture of a link type read does not
// decode (802.11 with radiotap, a Wi-Fi monitor capture), as pcap and as
// pcapng: Run says so in one line rather than read it as packets that
// are not TCP, which shows an empty capture without a word. (Reading
// pcapng of mixed link types once lost the pcapng half: its LinkType was
// no interface's.)
func TestUnsupportedLinkType(t *testing.T) {
	ci := gopacket.CaptureInfo{CaptureLength: 4, Length: 4}
	data := []byte{0, 0, 4, 0}
	var pcapBuf, ngBuf bytes.Buffer
	w := pcapgo.NewWriter(&pcapBuf)
	if err := w.WriteFileHeader(65535, layers.LinkTypeIEEE80211Radio); err != nil {
		t.Fatal(err)
	}
	if err := w.WritePacket(ci, data); err != nil {
		t.Fatal(err)
	}
	ng, err := pcapgo.NewNgWriterInterface(&ngBuf, pcapgo.NgInterface{Name: "wlan0mon", LinkType: layers.LinkTypeIEEE80211Radio}, pcapgo.DefaultNgWriterOptions)
	if err != nil {
		t.Fatal(err)
	}
	if err := ng.WritePacket(ci, data); err != nil {
		t.Fatal(err)
	}
	if err := ng.Flush(); err != nil {
		t.Fatal(err)
	}
	for name, buf := range map[string]*bytes.Buffer{"pcap": &pcapBuf, "pcapng": &ngBuf} {
		t.Run(name, func(t *testing.T) {
			// Open says so, before a packet is read (a summary of nothing
			// would follow Run's error).
			_, err := capture.Open(buf)
			want := `capture: link type 127 (RadioTap) is not supported: capture on an Ethernet, loopback, Linux "any" or raw-IP (tun, WireGuard, IPIP) interface`
			if err == nil || err.Error() != want {
				t.Errorf("Open of an 802.11 capture: %v, want %s", err, want)
			}
		})
	}
}

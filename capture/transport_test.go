package capture_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/internal/pcaptest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
)

// dumpcap writes ps as dumpcap writes a capture of two interfaces, eth0
// and lo, every packet lo's (interface 1).
func dumpcap(t *testing.T, w io.Writer, ps []pcaptest.Packet) {
	t.Helper()
	opts := pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{OS: "Linux 6.8.0", Application: "Dumpcap (Wireshark) 4.2.2"}}
	ng, err := pcapgo.NewNgWriterInterface(w, pcapgo.NgInterface{Name: "eth0", LinkType: layers.LinkTypeEthernet, TimestampResolution: 9}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ng.AddInterface(pcapgo.NgInterface{Name: "lo", LinkType: layers.LinkTypeEthernet}); err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		ci := p.CI
		ci.InterfaceIndex = 1
		if err := ng.WritePacket(ci, p.Data); err != nil {
			t.Fatal(err)
		}
	}
	if err := ng.Flush(); err != nil {
		t.Fatal(err)
	}
}

// wordsOf returns the words of every record of reg, and the transports
// of its sessions.
func wordsOf(reg *live.Registry) (words, transports []string) {
	recs, _ := reg.Frames(live.Query{From: 1}, nil)
	for _, r := range recs {
		words = append(words, r.Kind.String()+" "+r.Detail)
	}
	for _, s := range reg.Snapshot().Sessions {
		transports = append(transports, s.Info.Transport)
	}
	return words, transports
}

// TestDumpcapCaptureReadAsBefore: a capture of real interfaces, as
// dumpcap writes one (two interfaces, its packets the second's), reads
// exactly as pcapgo reads it — each packet's CaptureInfo, AncillaryData
// included, untouched — and its sessions are TCP's, every record's words
// those of the same packets in a capture of one interface.
func TestDumpcapCaptureReadAsBefore(t *testing.T) {
	raw, err := os.ReadFile("testdata/base-v2.pcapng")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	dumpcap(t, &b, pcaptest.Read(t, bytes.NewReader(raw)))

	src, err := capture.NewSource(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	ng, err := pcapgo.NewNgReader(bytes.NewReader(b.Bytes()), pcapgo.NgReaderOptions{WantMixedLinkType: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		data, ci, err := src.ReadPacketData()
		wdata, wci, werr := ng.ReadPacketData()
		if errors.Is(err, io.EOF) && errors.Is(werr, io.EOF) {
			break
		}
		if err != nil || werr != nil {
			t.Fatalf("packet %d: %v, pcapgo's %v", i, err, werr)
		}
		if !bytes.Equal(data, wdata) || !reflect.DeepEqual(ci, wci) {
			t.Fatalf("packet %d: %+v, pcapgo's %+v", i, ci, wci)
		}
	}

	want, _ := pcaptest.ReadAll(t, bytes.NewReader(raw), capture.Config{})
	got, _ := pcaptest.ReadAll(t, bytes.NewReader(b.Bytes()), capture.Config{})
	ww, wt := wordsOf(want)
	gw, gt := wordsOf(got)
	if len(gt) == 0 || !reflect.DeepEqual(gt, wt) || !reflect.DeepEqual(gw, ww) {
		t.Errorf("the dumpcap capture reads as\n\t%q\n\tover %q\nthe capture of one interface as\n\t%q\n\tover %q", gw, gt, ww, wt)
	}
}

// TestTapInterfaceNotReusedAcrossSections: a pcapout file whose TLS
// connection is interface 1, followed by a dumpcap section whose
// interface 1 is lo (pcapng files concatenate so, as cat joins them):
// the first section's packets of interface 1 are TLS's, and the second's
// are no tap's, though their interface index is the same.
func TestTapInterfaceNotReusedAcrossSections(t *testing.T) {
	var b bytes.Buffer
	w, err := pcapout.New(&b, 0)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Unix(1e9, 0)
	c := w.ConnOver("127.0.0.1:5000", "127.0.0.1:443", "tls", at)
	c.Write(live.ClientToServer, at, []byte("\x01\x00\x00\x00\x03\x00\x00\x00"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("testdata/base-v2.pcapng")
	if err != nil {
		t.Fatal(err)
	}
	dumpcap(t, &b, pcaptest.Read(t, bytes.NewReader(raw))[:4])

	src, err := capture.NewSource(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for {
		_, ci, err := src.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		tr := "none"
		for _, a := range ci.AncillaryData {
			if t, ok := a.(capture.Transport); ok {
				tr = string(t)
			}
		}
		got = append(got, tr)
	}
	want := []string{"tls", "tls", "tls", "tls", "none", "none", "none", "none"} // the handshake and the bytes; dumpcap's 4
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the packets' transports: %q, want %q", got, want)
	}
}

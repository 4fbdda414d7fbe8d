package capture_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/live"
)

// writeAs writes ps as a capture: pcap of Ethernet frames, pcapng of bare
// IP packets (the Ethernet header dropped: a tun interface's), or pcap
// compressed with gzip.
func writeAs(t *testing.T, format string, ps []pkt) []byte {
	t.Helper()
	var buf bytes.Buffer
	switch format {
	case "pcap", "pcap.gz":
		var out io.Writer = &buf
		var zw *gzip.Writer
		if format == "pcap.gz" {
			zw = gzip.NewWriter(&buf)
			out = zw
		}
		w := pcapgo.NewWriterNanos(out)
		if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			if err := w.WritePacket(p.CI, p.Data); err != nil {
				t.Fatal(err)
			}
		}
		if zw != nil {
			if err := zw.Close(); err != nil {
				t.Fatal(err)
			}
		}
	case "pcapng-raw":
		w, err := pcapgo.NewNgWriter(&buf, layers.LinkTypeRaw)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			ci, data := p.CI, p.Data[14:]
			ci.CaptureLength, ci.Length = len(data), len(data)
			if err := w.WritePacket(ci, data); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// mergeOf opens the captures and merges them, in the order given.
func mergeOf(t *testing.T, captures ...[]byte) *capture.Merged {
	t.Helper()
	var files []*capture.File
	for _, c := range captures {
		f, err := capture.Open(bytes.NewReader(c))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return capture.Merge(files...)
}

// ipOf returns a packet's IP packet, under whichever link header.
func ipOf(t *testing.T, data []byte, ci gopacket.CaptureInfo, link layers.LinkType) []byte {
	t.Helper()
	if l, ok := ci.AncillaryData[0].(layers.LinkType); ok {
		link = l
	}
	switch link {
	case layers.LinkTypeEthernet:
		return data[14:]
	case layers.LinkTypeRaw:
		return data
	}
	t.Fatalf("a packet of link type %v", link)
	return nil
}

// TestMergeRing reads the real yamux and smux v2 traffic of base-yamux
// and base-v2 split in three consecutive files, as a tcpdump ring (-C)
// writes them, each in a format of its own (pcap of Ethernet frames,
// pcapng of bare IP, gzip-compressed pcap), merged in every order: the
// packets come as the whole capture's, in its order, each with its own
// file's link type, and a Reader counts what it counts of the whole
// capture.
func TestMergeRing(t *testing.T) {
	for _, fixture := range []string{"testdata/base-yamux.pcapng", "testdata/base-v2.pcapng"} {
		ps := readPackets(t, fixture)
		want := counts(readLinked(ps, layers.LinkTypeEthernet, nil))
		n := len(ps) / 3
		parts := [][]byte{
			writeAs(t, "pcap", ps[:n]),
			writeAs(t, "pcapng-raw", ps[n:2*n]),
			writeAs(t, "pcap.gz", ps[2*n:]),
		}
		for _, order := range [][3]int{{0, 1, 2}, {2, 0, 1}, {1, 2, 0}, {2, 1, 0}} {
			m := mergeOf(t, parts[order[0]], parts[order[1]], parts[order[2]])
			if !m.Start().Equal(ps[0].CI.Timestamp) {
				t.Errorf("%s %v: Start %v, want the first packet's %v", fixture, order, m.Start(), ps[0].CI.Timestamp)
			}
			for i := 0; ; i++ {
				data, ci, err := m.ReadPacketData()
				if err == io.EOF {
					if i != len(ps) {
						t.Errorf("%s %v: %d packets, want %d", fixture, order, i, len(ps))
					}
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if i >= len(ps) || !ci.Timestamp.Equal(ps[i].CI.Timestamp) || !bytes.Equal(ipOf(t, data, ci, m.LinkType()), ps[i].Data[14:]) {
					t.Fatalf("%s %v: packet %d (%v) is not the whole capture's", fixture, order, i, ci.Timestamp)
				}
			}

			reg := live.New(live.Config{})
			rd := capture.NewReader(capture.Config{Registry: reg})
			if err := rd.Run(context.Background(), mergeOf(t, parts[order[0]], parts[order[1]], parts[order[2]])); err != nil {
				t.Fatal(err)
			}
			if got := counts(reg.Snapshot()); got != want {
				t.Errorf("%s %v:\n got %s\nwant %s", fixture, order, got, want)
			}
			if st := rd.Stats(); st.Packets != uint64(len(ps)) || st.NotTCP != 0 {
				t.Errorf("%s %v: read %d packets (%d not TCP), want %d", fixture, order, st.Packets, st.NotTCP, len(ps))
			}
		}
	}
}

// TestMergeOverlapping merges two captures of the same time, the real
// yamux traffic of base-yamux dealt between them time by time, as
// captures of two interfaces or two machines overlap: the packets come in
// time order, the whole capture's, whichever file is given first.
func TestMergeOverlapping(t *testing.T) {
	ps := readPackets(t, "testdata/base-yamux.pcapng")
	// Packets of the same time go to the same file: across files, which
	// came first is not in the captures.
	var odd, even []pkt
	side := 0
	for i, p := range ps {
		if i > 0 && !p.CI.Timestamp.Equal(ps[i-1].CI.Timestamp) {
			side ^= 1
		}
		if side == 0 {
			even = append(even, p)
		} else {
			odd = append(odd, p)
		}
	}
	for _, pair := range [][2][]byte{
		{writeAs(t, "pcap", even), writeAs(t, "pcap", odd)},
		{writeAs(t, "pcap", odd), writeAs(t, "pcap", even)},
	} {
		m := mergeOf(t, pair[0], pair[1])
		for i := 0; ; i++ {
			data, ci, err := m.ReadPacketData()
			if err == io.EOF {
				if i != len(ps) {
					t.Errorf("%d packets, want %d", i, len(ps))
				}
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if i >= len(ps) || !ci.Timestamp.Equal(ps[i].CI.Timestamp) || !bytes.Equal(data, ps[i].Data) {
				t.Fatalf("packet %d (%v) is not the whole capture's", i, ci.Timestamp)
			}
		}
	}
}

// TestMergeFailed: a file of the merge cut in a packet (the real yamux
// traffic of base-yamux, its first half cut in its last packet) ends
// there, alone, as mergecap goes on: the other file's packets come to its
// end, in time order, and the merge ends with a FilesFailed that names
// the cut file, ErrTruncated, after how many of its packets and the time
// of the last; so does a file cut in its first packet, after none. Before,
// the cut failed the whole merge: the other file's later packets were
// never read.
func TestMergeFailed(t *testing.T) {
	ps := readPackets(t, "testdata/base-yamux.pcapng")
	n := len(ps) / 2
	first, second := writeAs(t, "pcap", ps[:n]), writeAs(t, "pcap", ps[n:])
	cut := first[:len(first)-5] // in its last packet
	early := first[:24+16+5]    // in its first packet
	for _, tc := range []struct {
		files   [][]byte
		want    []capture.Failure // File, Packets, Last
		packets int
	}{
		{[][]byte{second, cut}, []capture.Failure{{File: 1, Packets: n - 1, Last: ps[n-2].CI.Timestamp}}, len(ps) - 1},
		{[][]byte{cut, second}, []capture.Failure{{File: 0, Packets: n - 1, Last: ps[n-2].CI.Timestamp}}, len(ps) - 1},
		{[][]byte{early, second, cut}, []capture.Failure{{File: 0}, {File: 2, Packets: n - 1, Last: ps[n-2].CI.Timestamp}}, len(ps) - 1},
	} {
		m := mergeOf(t, tc.files...)
		read := 0
		var err error
		for {
			var ci gopacket.CaptureInfo
			if _, ci, err = m.ReadPacketData(); err != nil {
				break
			}
			want := read
			if read >= n-1 {
				want++ // the packet the cut lost
			}
			if want >= len(ps) || !ci.Timestamp.Equal(ps[want].CI.Timestamp) {
				t.Fatalf("packet %d at %v, not the whole capture's, without the packet cut", read, ci.Timestamp)
			}
			read++
		}
		var ff *capture.FilesFailed
		if !errors.As(err, &ff) || read != tc.packets {
			t.Fatalf("after %d packets: %v; want a FilesFailed after %d", read, err, tc.packets)
		}
		if len(ff.Failures) != len(tc.want) {
			t.Fatalf("failures %+v, want %+v", ff.Failures, tc.want)
		}
		for i, f := range ff.Failures {
			w := tc.want[i]
			if f.File != w.File || f.Packets != w.Packets || !f.Last.Equal(w.Last) || !errors.Is(f.Err, capture.ErrTruncated) {
				t.Errorf("failure %d: %+v, want file %d cut (ErrTruncated) after %d packets, the last at %v", i, f, w.File, w.Packets, w.Last)
			}
		}
		if got := m.Failures(); len(got) != len(tc.want) {
			t.Errorf("Failures: %+v, want %d", got, len(tc.want))
		}
		// Read again, the merge is still at its end.
		if _, _, err := m.ReadPacketData(); !errors.As(err, &ff) {
			t.Errorf("read again at the end: %v", err)
		}
	}
}

package capture_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/internal/pcaptest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
)

var update = flag.Bool("update", false, "regenerate the capture fixtures in testdata/ from new real smux and yamux traffic")

// The fixtures: testdata/base-v1.pcapng and base-v2.pcapng are real smux
// traffic (echoTraffic, recorded by pcapout), base-yamux.pcapng real
// hashicorp/yamux v0.1.2 traffic (echoTrafficYamux); the others are
// perturbations of them, made by perturb below. Regenerate them all with
//
//	go test ./capture -run TestFixtures -update
//
// The table test works out what each must count from the base's byte
// streams (expect), not from the muxtop code under test.
var perturbations = []string{"midstream", "loss", "reorder", "retransmit"}

// pkt is a packet of a fixture, parsed.
type pkt = pcaptest.Packet

// readPackets returns the packets of the pcap or pcapng capture at path,
// every one an Ethernet frame of TCP.
func readPackets(t *testing.T, path string) []pkt {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return pcaptest.Read(t, f)
}

// readShifted returns readPackets(path), those after cut moved later by
// shift: as a side that paused that long at cut would have sent them.
func readShifted(t *testing.T, path string, cut time.Time, shift time.Duration) []pkt {
	t.Helper()
	ps := readPackets(t, path)
	for i := range ps {
		if ps[i].CI.Timestamp.After(cut) {
			ps[i].CI.Timestamp = ps[i].CI.Timestamp.Add(shift)
		}
	}
	return ps
}

func writePackets(t *testing.T, path string, ps []pkt) {
	t.Helper()
	var buf bytes.Buffer
	pcaptest.Write(t, &buf, ps)
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// trim returns p without its first n payload bytes, its sequence number moved on.
func trim(t *testing.T, p pkt, n int) pkt {
	t.Helper()
	tcp := *p.TCP
	tcp.Seq += uint32(n)
	return reserialize(t, p, &tcp, p.Payload[n:])
}

// reserialize returns p with its TCP header tcp and payload, lengths and
// checksums fixed.
func reserialize(t *testing.T, p pkt, tcp *layers.TCP, payload []byte) pkt {
	t.Helper()
	switch ip := p.IP.(type) {
	case *layers.IPv4:
		tcp.SetNetworkLayerForChecksum(ip)
	case *layers.IPv6:
		tcp.SetNetworkLayerForChecksum(ip)
	}
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, p.Eth, p.IP, tcp, gopacket.Payload(payload)); err != nil {
		t.Fatal(err)
	}
	q := p
	q.Data = append([]byte(nil), buf.Bytes()...)
	q.TCP, q.Payload = tcp, payload
	q.CI.CaptureLength, q.CI.Length = len(q.Data), len(q.Data)
	return q
}

// writeCapture writes, with pcapout as --write does, the connections that
// write records, and returns the pcapng file's path.
func writeCapture(t *testing.T, write func(w *pcapout.Writer)) string {
	t.Helper()
	var buf bytes.Buffer
	w, err := pcapout.New(&buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	write(w)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "written.pcapng")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// dataPackets returns the indexes of the packets that carry payload.
func dataPackets(ps []pkt) []int {
	var idx []int
	for i, p := range ps {
		if len(p.Payload) > 0 {
			idx = append(idx, i)
		}
	}
	return idx
}

// perturb makes fixture kind from the packets of a base fixture. It
// returns the packets, and for the table test, the packets of the base
// whose frames the capture lost, and the packet whose first trimmed
// bytes it joined in the middle of (or -1).
func perturb(t *testing.T, kind string, base []pkt) (out []pkt, lost []int, joined, cut int) {
	t.Helper()
	data := dataPackets(base)
	mid := data[len(data)/2]
	switch kind {
	case "midstream":
		// The capture starts 3 bytes into a frame, half-way through.
		out = append(out, trim(t, base[mid], 3))
		out = append(out, base[mid+1:]...)
		return out, nil, mid, 3
	case "loss":
		// Two frames of the middle never reach the capture.
		a, b := data[len(data)/2], data[len(data)/2+5]
		for i, p := range base {
			if i != a && i != b {
				out = append(out, p)
			}
		}
		return out, []int{a, b}, -1, 0
	case "reorder":
		// Segments overtake each other in their direction: pairs of
		// packets next to each other swapped all along. (Across
		// directions the order a capture saw is what happened.)
		out = append(out, base...)
		swaps := 0
		for i := 1; i+1 < len(base); i++ {
			a, b := base[i], base[i+1]
			if len(a.Payload) > 0 && len(b.Payload) > 0 && a.TCP.SrcPort == b.TCP.SrcPort {
				out[i], out[i+1] = out[i+1], out[i]
				swaps++
				i += 3
			}
		}
		if swaps < 5 {
			t.Fatalf("only %d pairs to swap", swaps)
		}
		return out, nil, -1, 0
	case "retransmit":
		// Segments sent again, some whole, some overlapping what came.
		for i, p := range base {
			out = append(out, p)
			if len(p.Payload) > 4 && i%5 == 0 {
				out = append(out, p)             // a whole retransmission
				out = append(out, trim(t, p, 2)) // and one of its tail
			}
		}
		return out, nil, -1, 0
	}
	t.Fatalf("no perturbation %q", kind)
	return nil, nil, -1, 0
}

// variants are the protocols of the fixtures: smux v1 and v2, and yamux.
var variants = []string{"v1", "v2", "yamux"}

func fixture(variant, kind string) string {
	return filepath.Join("testdata", kind+"-"+variant+".pcapng")
}

// TestFixtures regenerates the fixtures with -update, and checks that
// each perturbed capture reads as its perturbation says: reordering and
// retransmission change no count; a loss costs exactly the frames lost,
// counted as lost bytes, the session marked incomplete; a capture that
// joins mid-stream finds the next frame boundary, skipping the rest of
// the frame it joined in, and counts every frame after it.
func TestFixtures(t *testing.T) {
	for i, variant := range variants {
		yam := variant == "yamux"
		if *update {
			w, err := pcapout.Create(fixture(variant, "base"), 0)
			if err != nil {
				t.Fatal(err)
			}
			if yam {
				echoTrafficYamux(t, 30, 10, 103, live.New(live.Config{}), w)
			} else {
				echoTraffic(t, i+1, 30, 10, uint64(101+i), live.New(live.Config{}), w)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
		}
		base := readPackets(t, fixture(variant, "base"))
		server := uint16(base[0].TCP.DstPort) // the first packet is the client's SYN
		filter := capture.Port(server)
		baseReg, _ := readFileInto(t, fixture(variant, "base"), filter)
		want := baseReg.Snapshot()
		if want.Incomplete != 0 || want.Violations != 0 || want.Totals.Total() == 0 {
			t.Fatalf("%s base: %s", variant, counts(want))
		}
		if rs := resyncRecords(baseReg); len(rs[0])+len(rs[1]) != 0 {
			t.Fatalf("%s base: resync records %q in a whole capture", variant, rs)
		}
		for _, kind := range perturbations {
			t.Run(variant+"/"+kind, func(t *testing.T) {
				ps, lost, joined, cut := perturb(t, kind, base)
				if *update {
					writePackets(t, fixture(variant, kind), ps)
				}
				reg, _ := readFileInto(t, fixture(variant, kind), filter)
				got := reg.Snapshot()
				ss := got.Sessions[0]
				wantProto := map[bool]live.Protocol{false: live.Smux, true: live.Yamux}[yam]
				if ss.Proto != wantProto {
					t.Fatalf("the session is labelled %v, want %v", ss.Proto, wantProto)
				}
				// Without a filter the connection is found by its bytes alone,
				// and read the same. (Joined mid-stream, without a SYN or a
				// port to tell the server, the first stream opened tells it:
				// TestRolesFromStreamIDs.)
				unfiltered, _ := readFile(t, fixture(variant, kind), capture.Filter{})
				switch {
				case len(unfiltered.Sessions) != 1 || unfiltered.Sessions[0].Proto != wantProto:
					t.Fatalf("without the filter: %d sessions, want one of %v", len(unfiltered.Sessions), wantProto)
				case unfiltered.Totals.Total() != got.Totals.Total():
					t.Fatalf("without the filter %d frames, with it %d", unfiltered.Totals.Total(), got.Totals.Total())
				case counts(unfiltered) != counts(got):
					t.Fatalf("without the filter\n got %s\nwith it %s", counts(unfiltered), counts(got))
				}
				t.Logf("%d frames, lost %v, skipped %v, incomplete %v", got.Totals.Total(), ss.Lost, ss.Skipped, ss.Incomplete)
				switch kind {
				case "reorder", "retransmit":
					if counts(got) != counts(want) {
						t.Fatalf("\n got %s\nwant %s", counts(got), counts(want))
					}
				case "loss", "midstream":
					exp, skipped, lostBytes, resyncs := expect(t, base, server, lost, joined, cut, yam)
					// The other direction's frames must not overtake those after
					// the gap: the ACKs that show the loss let reassembly skip it
					// at once, so no reply comes before its request (an anomaly).
					if got.Totals != exp || ss.Skipped != skipped || ss.Lost != lostBytes || !ss.Incomplete || got.Anomalies != 0 {
						t.Fatalf("got %v skipped %v lost %v incomplete %v anomalies %d;\nwant %v skipped %v lost %v and none",
							got.Totals, ss.Skipped, ss.Lost, ss.Incomplete, got.Anomalies, exp, skipped, lostBytes)
					}
					// What the user is told, where and how much: "joined
					// mid-stream at offset X, N bytes skipped", "capture lost
					// N bytes at offset X", "resumed at offset X ...".
					if got := resyncRecords(reg); !reflect.DeepEqual(got, resyncs) {
						t.Fatalf("resync records\n got %q\nwant %q", got, resyncs)
					}
				}
			})
		}
	}
}

// expect works out, from the base capture, what reading a perturbation
// of it must count: the base packets in lost never arrived, and the
// capture began with packet joined (cut bytes into it), or at the start if
// joined is -1. Each direction's frames are those of its byte stream that
// lie wholly in what arrived and begin at or after the first frame
// boundary after each gap or join: the boundary resynchronisation must
// find. Skipped are the bytes that arrived but lie outside those frames.
//
// resyncs are the records of where decoding left the byte stream and
// came back to it, per direction, as resyncRecords lists them: offsets
// count from the first byte the capture has of the direction.
func expect(t *testing.T, base []pkt, server uint16, lost []int, joined, cut int, yam bool) (c live.Counts, skipped, lostBytes [2]int64, resyncs [2][]string) {
	t.Helper()
	var stream [2][]byte
	var start [2][]int64 // by packet index: the packet's offset in its direction, or -1
	var arrived [2][]bool
	for d := range 2 {
		start[d] = make([]int64, len(base))
	}
	isLost := map[int]bool{}
	for _, i := range lost {
		isLost[i] = true
	}
	// resume[d] holds the offsets where decoding restarts: after a gap, or the join.
	var resume [2][]int64
	for i, p := range base {
		if len(p.Payload) == 0 {
			continue
		}
		d := dirOf(base, i, server)
		off := int64(len(stream[d]))
		stream[d] = append(stream[d], p.Payload...)
		ok := !isLost[i] && (joined < 0 || i >= joined)
		for range p.Payload {
			arrived[d] = append(arrived[d], ok)
		}
		if i == joined && cut > 0 {
			for k := range cut {
				arrived[d][off+int64(k)] = false
			}
		}
		if isLost[i] {
			lostBytes[d] += int64(len(p.Payload))
		}
	}
	for d := range 2 {
		// Where decoding restarts: the first arrived byte after bytes that did not.
		for k := range arrived[d] {
			if arrived[d][k] && k > 0 && !arrived[d][k-1] {
				resume[d] = append(resume[d], int64(k))
			}
		}
		res := decodeAll(t, stream[d], yam)
		next := 0 // index into resume[d]
		synced := len(resume[d]) == 0 || resume[d][0] > 0 && arrived[d][0]
		var counted int64
		origin := int64(0) // the first byte the capture has
		if joined >= 0 && len(resume[d]) > 0 {
			origin = resume[d][0]
		}
		why := "" // why the next whole frame is a resynchronisation's, if it is
		if joined >= 0 && len(resume[d]) > 0 {
			why = "joined"
		}
		from := origin // where the arrived bytes not yet counted begin
		for _, f := range res {
			for next < len(resume[d]) && f.off >= resume[d][next] {
				if r := resume[d][next]; r > origin {
					gap := r // where the bytes lost before r begin
					for gap > 0 && !arrived[d][gap-1] {
						gap--
					}
					resyncs[d] = append(resyncs[d], fmt.Sprintf("off=%d capture lost %d bytes at offset %d", gap-origin, r-gap, gap-origin))
					why = "resumed at offset %d after lost bytes, %d bytes skipped"
				}
				synced = true
				next++
			}
			whole := true
			for k := f.off; k < f.off+f.size; k++ {
				if !arrived[d][k] {
					whole = false
					break
				}
			}
			if !whole {
				synced = false
				continue
			}
			if !synced {
				continue
			}
			if why != "" {
				var n int64 // the arrived bytes before f not counted
				for k := from; k < f.off; k++ {
					if arrived[d][k] {
						n++
					}
				}
				detail := fmt.Sprintf(why, f.off-origin, n)
				if why == "joined" {
					detail = tap.JoinedDetail(f.off-origin, n)
				}
				resyncs[d] = append(resyncs[d], fmt.Sprintf("off=%d %s", f.off-origin, detail))
				why = ""
			}
			from = f.off + f.size
			if yam {
				c.TypeFrames[d][f.typ]++
				c.TypeBytes[d][f.typ] += uint64(f.size)
			} else {
				c.Frames[d][f.cmd]++
				c.Bytes[d][f.cmd] += uint64(f.size)
			}
			counted += f.size
		}
		var got int64
		for _, a := range arrived[d] {
			if a {
				got++
			}
		}
		skipped[d] = got - counted
	}
	return c, skipped, lostBytes, resyncs
}

// resyncRecords lists the resynchronisation records in reg's history per
// direction, each as its offset and detail.
func resyncRecords(reg *live.Registry) (recs [2][]string) {
	rs, _ := reg.Frames(live.Query{Scan: 1 << 30, Match: func(r *live.Record) bool { return r.Kind == live.ResyncRecord }}, nil)
	for _, r := range rs {
		recs[r.Dir] = append(recs[r.Dir], fmt.Sprintf("off=%d %s", r.Offset, r.Detail))
	}
	return recs
}

type wholeFrame struct {
	off, size int64
	cmd       decoder.Cmd // smux
	typ       yamux.Type  // yamux
}

// decodeAll returns the frames of a whole, valid byte stream of smux, or
// of yamux if yam.
func decodeAll(t *testing.T, b []byte, yam bool) []wholeFrame {
	t.Helper()
	if yam {
		dec := yamux.New(0)
		var fs []wholeFrame
		for len(b) > 0 {
			n, f, err := dec.Next(b)
			if err != nil {
				t.Fatal(err)
			}
			b = b[n:]
			if f != nil {
				fs = append(fs, wholeFrame{off: f.Offset, size: f.Size(), typ: f.Type()})
			}
		}
		return fs
	}
	dec := decoder.New(0)
	var fs []wholeFrame
	for len(b) > 0 {
		n, f, err := dec.Next(b)
		if err != nil {
			t.Fatal(err)
		}
		b = b[n:]
		if f != nil {
			fs = append(fs, wholeFrame{off: f.Offset, size: f.Size(), cmd: f.Cmd()})
		}
	}
	return fs
}

// dirOf returns the direction of base packet i.
func dirOf(base []pkt, i int, server uint16) live.Dir {
	if uint16(base[i].TCP.DstPort) == server {
		return live.ClientToServer
	}
	return live.ServerToClient
}

// segment returns a loopback Ethernet/IPv4 TCP segment captured at at,
// from port src to dst, with flags (letters of "SAPFR": SYN, ACK, PSH,
// FIN, RST), seq, ack, win and payload: for a test that lays out a
// connection packet by packet, at the times it needs.
func segment(t *testing.T, at time.Time, src, dst uint16, flags string, seq, ack uint32, win uint16, payload []byte) pkt {
	t.Helper()
	tcp := &layers.TCP{SrcPort: layers.TCPPort(src), DstPort: layers.TCPPort(dst), Seq: seq, Ack: ack, Window: win, DataOffset: 5}
	for _, f := range flags {
		switch f {
		case 'S':
			tcp.SYN = true
		case 'A':
			tcp.ACK = true
		case 'P':
			tcp.PSH = true
		case 'F':
			tcp.FIN = true
		case 'R':
			tcp.RST = true
		default:
			t.Fatalf("segment: flag %q is none of SAPFR", f)
		}
	}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: []byte{127, 0, 0, 1}, DstIP: []byte{127, 0, 0, 1}}
	eth := &layers.Ethernet{SrcMAC: make([]byte, 6), DstMAC: make([]byte, 6), EthernetType: layers.EthernetTypeIPv4}
	tcp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, tcp, gopacket.Payload(payload)); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	return pkt{Data: data, CI: gopacket.CaptureInfo{Timestamp: at, CaptureLength: len(data), Length: len(data)}}
}

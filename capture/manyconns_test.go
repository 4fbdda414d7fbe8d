package capture_test

import (
	"encoding/binary"
	"runtime"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/live"
)

// TestManyConnectionsMemory: what a connection costs the reader while it
// is open is its decoding, not a reassembly pool sized for a thousand
// connections. Each connection had an assembler and stream pool of its
// own, which gopacket sizes for 1024 connections: 272 KB of heap per TCP
// connection before a byte was decoded (16 000 open connections read in
// 4.4 GB of RSS, 100 000 did not fit in 24 GB), and as much allocated and
// cleared for every connection a capture opened.
func TestManyConnectionsMemory(t *testing.T) {
	const conns = 2000
	reg := live.New(live.Config{History: 1000})
	filter, err := capture.ParseFilter("port 9000")
	if err != nil {
		t.Fatal(err)
	}
	r := capture.NewReader(capture.Config{Registry: reg, Filter: filter})
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	// An smux v1 client's first bytes: a SYN and a PSH on stream 3, then a
	// NOP.
	mux := []byte("\x01\x00\x00\x00\x03\x00\x00\x00\x01\x02\x04\x00\x03\x00\x00\x00RAND\x01\x03\x00\x00\x00\x00\x00\x00")
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	send := func(i int, syn bool, payload []byte) {
		src := make([]byte, 4)
		binary.BigEndian.PutUint32(src, 10<<24|uint32(i+1))
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: src, DstIP: []byte{10, 255, 0, 1}}
		tcp := &layers.TCP{SrcPort: 40000, DstPort: 9000, Seq: 1000, SYN: syn, Window: 65535}
		if !syn {
			tcp.Seq, tcp.ACK, tcp.PSH, tcp.Ack = 1001, true, true, 1
		}
		tcp.SetNetworkLayerForChecksum(ip)
		if err := gopacket.SerializeLayers(buf, opts,
			&layers.Ethernet{SrcMAC: make([]byte, 6), DstMAC: make([]byte, 6), EthernetType: layers.EthernetTypeIPv4}, ip, tcp, gopacket.Payload(payload)); err != nil {
			t.Fatal(err)
		}
		at := t0.Add(time.Duration(i) * time.Microsecond)
		r.Packet(buf.Bytes(), gopacket.CaptureInfo{Timestamp: at, CaptureLength: len(buf.Bytes()), Length: len(buf.Bytes())}, layers.LinkTypeEthernet)
	}
	heap := func() uint64 {
		var m runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	for i := range conns {
		send(i, true, nil)
		send(i, false, mux)
	}
	after := heap()
	if n := r.Stats().Connections; n != conns {
		t.Fatalf("the reader holds %d connections of %d", n, conns)
	}
	per := (int64(after) - int64(before)) / conns
	t.Logf("%d B of heap per open connection", per)
	if per > 32<<10 {
		t.Errorf("an open connection costs the reader %d B of heap, want under 32 KiB", per)
	}
	runtime.KeepAlive(r)
}

package capture_test

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/live"
)

// benchSize is the size of the captures BenchmarkRead generates:
// MUXTOP_BENCH_CAPTURE_MB MiB (1024 for the figures in the README), 64 by
// default so that a plain go test -bench stays short.
func benchSize(b *testing.B) int64 {
	mb := int64(64)
	if s := os.Getenv("MUXTOP_BENCH_CAPTURE_MB"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			b.Fatalf("MUXTOP_BENCH_CAPTURE_MB=%q: want a number of MiB", s)
		}
		mb = n
	}
	return mb << 20
}

// BenchmarkRead measures muxtop read on generated pcapng captures of one
// smux session, each frame in a segment of its own as smux writes them:
// "rand", the demo's request (SYN, PSH "RAND", an 8-byte PSH answer, two
// FINs) over and over, "bulk", 32 KiB PSH frames, and "yamux-rand", the
// yamux demo's request (WindowUpdate SYN, Data "RAND", WindowUpdate ACK,
// an 8-byte Data answer, two WindowUpdate FINs). It reports frames/s
// and MB/s of capture file read; the file is generated once per run into
// a temporary directory and not timed.
func BenchmarkRead(b *testing.B) {
	size := benchSize(b)
	for _, kind := range []string{"rand", "bulk", "yamux-rand"} {
		b.Run(kind, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), kind+".pcapng")
			frames := generate(b, path, kind, size)
			st, err := os.Stat(path)
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				f, err := os.Open(path)
				if err != nil {
					b.Fatal(err)
				}
				file, err := capture.Open(f)
				if err != nil {
					b.Fatal(err)
				}
				clock := new(capture.Clock)
				reg := live.New(live.Config{Clock: clock.Now})
				rd := capture.NewReader(capture.Config{Registry: reg, Clock: clock})
				if err := rd.Run(context.Background(), file); err != nil {
					b.Fatal(err)
				}
				f.Close()
				if got := reg.Snapshot().Totals.Total(); got != frames {
					b.Fatalf("read %d frames, generated %d", got, frames)
				}
			}
			secs := time.Since(start).Seconds()
			b.ReportMetric(float64(frames)*float64(b.N)/secs, "frames/s")
			b.ReportMetric(float64(st.Size())*float64(b.N)/secs/1e6, "MB/s")
			b.ReportMetric(float64(st.Size())/1e6, "file-MB")
		})
	}
}

// generate writes a capture of about size bytes of kind and returns how
// many smux frames it holds.
func generate(b *testing.B, path, kind string, size int64) uint64 {
	b.Helper()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	w, err := pcapgo.NewNgWriter(bw, layers.LinkTypeEthernet)
	if err != nil {
		b.Fatal(err)
	}
	g := &gen{w: w, at: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), seq: [2]uint32{1000, 900000}}
	g.eth = layers.Ethernet{SrcMAC: []byte{2, 0, 0, 0, 0, 1}, DstMAC: []byte{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	g.packet(b, 0, layers.TCP{SYN: true}, nil)
	g.seq[0]++
	g.packet(b, 1, layers.TCP{SYN: true, ACK: true}, nil)
	g.seq[1]++
	bulk := make([]byte, 32<<10)
	var frames uint64
	frame := func(dir int, cmd decoder.Cmd, sid uint32, payload []byte) {
		h := decoder.MakeHeader(1, cmd, uint16(len(payload)), sid)
		g.packet(b, dir, layers.TCP{ACK: true, PSH: true}, append(h[:], payload...))
		frames++
	}
	yframe := func(dir int, t yamux.Type, flags yamux.Flags, sid uint32, payload []byte) {
		h := yamux.MakeHeader(t, flags, sid, uint32(len(payload)))
		g.packet(b, dir, layers.TCP{ACK: true, PSH: true}, append(h[:], payload...))
		frames++
	}
	if kind == "bulk" {
		frame(0, decoder.SYN, 3, nil)
	}
	for sid := uint32(3); g.n < size; sid += 2 {
		if kind == "yamux-rand" {
			yframe(0, yamux.WindowUpdate, yamux.SYN, sid, nil)
			yframe(0, yamux.Data, 0, sid, []byte("RAND"))
			yframe(1, yamux.WindowUpdate, yamux.ACK, sid, nil)
			yframe(1, yamux.Data, 0, sid, []byte{1, 2, 3, 4, 5, 6, 7, 8})
			yframe(0, yamux.WindowUpdate, yamux.FIN, sid, nil)
			yframe(1, yamux.WindowUpdate, yamux.FIN, sid, nil)
			continue
		}
		if kind == "bulk" {
			frame(0, decoder.PSH, 3, bulk)
			continue
		}
		frame(0, decoder.SYN, sid, nil)
		frame(0, decoder.PSH, sid, []byte("RAND"))
		frame(1, decoder.PSH, sid, []byte{1, 2, 3, 4, 5, 6, 7, 8})
		frame(0, decoder.FIN, sid, nil)
		frame(1, decoder.FIN, sid, nil)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		b.Fatal(err)
	}
	return frames
}

// gen synthesizes the packets of one TCP connection.
type gen struct {
	w   *pcapgo.NgWriter
	at  time.Time
	seq [2]uint32
	n   int64
	eth layers.Ethernet
	buf gopacket.SerializeBuffer
}

func (g *gen) packet(b *testing.B, dir int, tcp layers.TCP, payload []byte) {
	if g.buf == nil {
		g.buf = gopacket.NewSerializeBuffer()
	}
	ips := [2][]byte{{127, 0, 0, 1}, {127, 0, 0, 2}}
	ports := [2]layers.TCPPort{40000, 9000}
	ip := layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: ips[dir], DstIP: ips[1-dir]}
	tcp.SrcPort, tcp.DstPort = ports[dir], ports[1-dir]
	tcp.Seq, tcp.Window = g.seq[dir], 65535
	if tcp.ACK {
		tcp.Ack = g.seq[1-dir]
	}
	tcp.SetNetworkLayerForChecksum(&ip)
	if err := gopacket.SerializeLayers(g.buf, gopacket.SerializeOptions{FixLengths: true}, &g.eth, &ip, &tcp, gopacket.Payload(payload)); err != nil {
		b.Fatal(err)
	}
	g.seq[dir] += uint32(len(payload))
	g.at = g.at.Add(time.Microsecond)
	data := g.buf.Bytes()
	if err := g.w.WritePacket(gopacket.CaptureInfo{Timestamp: g.at, CaptureLength: len(data), Length: len(data)}, data); err != nil {
		b.Fatal(err)
	}
	g.n += int64(len(data)) + 32 // the pcapng block around it
}

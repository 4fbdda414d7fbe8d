package headless

import (
	"runtime"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/live"
)

// randMix is the record mix of the demo's RAND exchange as history hands
// it out: SYN → PSH "RAND" → PSH 8 bytes ← FIN ← FIN →, and a v2 UPD
// every fourth exchange. Times are local, as Registry.Frames returns them.
func randMix() []live.Record {
	at := time.Unix(0, t0.UnixNano())
	var recs []live.Record
	var off [2]int64
	add := func(dir live.Dir, cmd decoder.Cmd, sid uint32, payload string) {
		r := live.Record{
			Seq: uint64(len(recs) + 1), Kind: live.FrameRecord, Session: 2, Dir: dir,
			At: at.Add(time.Duration(len(recs)) * 1700 * time.Nanosecond), Offset: off[dir],
			Header: decoder.MakeHeader(2, cmd, uint16(len(payload)), sid),
		}
		if cmd == decoder.UPD {
			r.Consumed, r.Window = 8, 262144
		} else if payload != "" {
			r.Payload = []byte(payload)
		}
		off[dir] += decoder.HeaderSize + int64(len(payload))
		recs = append(recs, r)
	}
	for i := range 4 {
		sid := uint32(3 + 2*i)
		add(live.ClientToServer, decoder.SYN, sid, "")
		add(live.ClientToServer, decoder.PSH, sid, "RAND")
		add(live.ServerToClient, decoder.PSH, sid, "\x0b\x5e\x9a\x13\x77\x02\xc1\xaa")
		add(live.ServerToClient, decoder.FIN, sid, "")
		add(live.ClientToServer, decoder.FIN, sid, "")
		if i == 3 {
			add(live.ClientToServer, decoder.UPD, sid, "\x08\x00\x00\x00\x00\x00\x04\x00")
		}
	}
	return recs
}

// bulkMix is a bulk transfer's records: 32 KiB PSH frames, each keeping
// the default snaplen's 256 bytes of an arbitrary payload.
func bulkMix() []live.Record {
	var recs []live.Record
	for i := range 4 {
		p := make([]byte, 256)
		for j := range p {
			p[j] = byte(i*131 + j*7)
		}
		recs = append(recs, live.Record{
			Seq: uint64(i + 1), Kind: live.FrameRecord, Session: 2, Dir: live.ClientToServer,
			At: t0.Add(time.Duration(i) * 40 * time.Microsecond), Offset: int64(i) * (decoder.HeaderSize + 32768),
			Header:  decoder.MakeHeader(1, decoder.PSH, 32768, 3),
			Payload: p, Truncated: true,
		})
	}
	return recs
}

// benchAppend appends the records of randMix one per iteration into a
// reused line, as Printer.write does, and reports the cost per record.
func benchAppend(b *testing.B, appendRec func([]byte, *live.Record) []byte) {
	benchAppendOf(b, randMix(), appendRec)
}

// benchAppendOf is benchAppend over recs.
func benchAppendOf(b *testing.B, recs []live.Record, appendRec func([]byte, *live.Record) []byte) {
	line := make([]byte, 0, 4096) // a bulk frame's plain line fits without growing
	b.ReportAllocs()
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	b.ResetTimer()
	for i := range b.N {
		line = appendRec(line[:0], &recs[i%len(recs)])
	}
	b.StopTimer()
	runtime.ReadMemStats(&ms1)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/record")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(b.N), "allocs/record")
}

func BenchmarkJSON(b *testing.B)  { benchAppend(b, appendJSON) }
func BenchmarkPlain(b *testing.B) { benchAppend(b, appendPlain) }

// BenchmarkJSONBulk and BenchmarkPlainBulk format bulk frames, whose
// cost is their 256 payload bytes.
func BenchmarkJSONBulk(b *testing.B)  { benchAppendOf(b, bulkMix(), appendJSON) }
func BenchmarkPlainBulk(b *testing.B) { benchAppendOf(b, bulkMix(), appendPlain) }

// BenchmarkJSONMarshal is the json.Marshal-based appender that appendJSON
// replaced (the tests' oracle), for comparison.
func BenchmarkJSONMarshal(b *testing.B) { benchAppend(b, appendJSONMarshal) }

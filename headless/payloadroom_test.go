package headless

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/internal/racetest"
	"github.com/muxtop/muxtop/live"
)

// bulkFeeder records a bulk transfer: one stream's SYN, then 32 KiB PSH
// frames, each a different payload, of which history keeps snaplen bytes.
type bulkFeeder struct {
	s   *live.Session
	f   decoder.Frame
	off int64
	n   int
}

func newBulkFeeder(reg *live.Registry) *bulkFeeder {
	b := &bulkFeeder{s: reg.Open(live.SessionInfo{Client: "127.0.0.1:51234", Server: "127.0.0.1:9000"}, t0)}
	syn := decoder.Frame{Header: decoder.MakeHeader(1, decoder.SYN, 0, 3)}
	b.s.Record(live.ClientToServer, t0, &syn)
	b.off = syn.Size()
	b.f = decoder.Frame{Header: decoder.MakeHeader(1, decoder.PSH, 32768, 3), Payload: make([]byte, 32768)}
	return b
}

// next records one PSH frame; its payload starts with 300 bytes of the
// letter its number modulo 26 picks.
func (b *bulkFeeder) next() {
	b.n++
	for i := range 300 {
		b.f.Payload[i] = byte('a' + b.n%26)
	}
	b.f.Offset = b.off
	b.off += b.f.Size()
	b.s.Record(live.ClientToServer, t0, &b.f)
}

// TestPrinterReusesPayloadRoom checks that a printer that keeps up with
// bulk traffic allocates nothing per record: it reads the records'
// payloads into room it keeps (Registry.FramesInto), where a read that
// allocated its payloads made garbage of every byte it printed, 256 a
// bulk record, and the Go heap grew into new memory for it. The lines
// are checked too: each record's payload is its own, not an earlier
// read's left in the reused room.
func TestPrinterReusesPayloadRoom(t *testing.T) {
	reg := live.New(live.Config{})
	fd := newBulkFeeder(reg)
	var out bytes.Buffer
	p := NewPrinter(reg, &out, JSON)
	const n = 20_000 // five reads of p.batch records
	round := func() {
		for range n {
			fd.next()
		}
		if err := p.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	round() // grows the printer's room and lines to their size
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != n+2 { // and the session's opening and the SYN
		t.Fatalf("printed %d lines, want %d", len(lines), n+2)
	}
	for i, line := range lines[2:] {
		var rec struct {
			Payload string `json:"payload"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("line %d: %v: %s", i+3, err, line)
		}
		want := strings.Repeat(string(rune('a'+(i+1)%26)), 4)
		if !strings.HasPrefix(rec.Payload, fmt.Sprintf("% x", want)) {
			t.Fatalf("line %d: payload %.16s…, want %s…: another record's bytes", i+3, rec.Payload, fmt.Sprintf("% x", want))
		}
	}
	if racetest.Enabled {
		t.Skip("the race detector changes allocation counts")
	}
	p.out.w = io.Discard // flushed: the lines checked above are all out
	if allocs := testing.AllocsPerRun(3, round) / n; allocs > 0.001 {
		t.Errorf("the printer allocated %.4f times a bulk record, want none", allocs)
	}
	if p.Missed() != 0 {
		t.Errorf("missed %d records", p.Missed())
	}
}

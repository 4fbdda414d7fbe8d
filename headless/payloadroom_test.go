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
	p.out.w = io.Discard // flushed: the lines checked above are all out
	allocs := testing.AllocsPerRun(3, round) / n
	if allocs > 0.001 && !racetest.Enabled { // the race detector changes allocation counts
		t.Errorf("the printer allocated %.4f times a bulk record, want none", allocs)
	}
	if p.Missed() != 0 {
		t.Errorf("missed %d records", p.Missed())
	}
	if cap(p.buf) > p.batch || cap(p.payloads) > readPayloads {
		t.Errorf("the printer's room grew to %d records and %d payload bytes, want at most %d and %d", cap(p.buf), cap(p.payloads), p.batch, readPayloads)
	}
}

// TestPrinterRoomBounded checks the room a printer keeps for its reads,
// whatever the registry's bounds: none before its first read (a printer
// that only writes a summary makes none), and then at most one read's
// records (live.DefaultScan, or the history if smaller) with at most
// readPayloads bytes of payload (64 snaplens where those are more). A
// snaplen of 0 once made room for a million records, 240 MB.
func TestPrinterRoomBounded(t *testing.T) {
	for _, tt := range []struct {
		name         string
		cfg          live.Config
		records      int // the most records one read takes
		payloadBytes int // the most payload room kept
	}{
		{"defaults", live.Config{}, 4096, readPayloads},
		{"snaplen 0", live.Config{Snaplen: live.Exactly(0)}, live.DefaultScan, 0},
		{"snaplen 16", live.Config{Snaplen: 16}, live.DefaultScan, live.DefaultScan * 16},
		{"snaplen 65535", live.Config{Snaplen: 65535}, 64, 64 * 65535},
		{"history 100", live.Config{History: 100}, 100, 100 * live.DefaultSnaplen},
	} {
		t.Run(tt.name, func(t *testing.T) {
			reg := live.New(tt.cfg)
			p := NewPrinter(reg, io.Discard, JSON)
			if p.buf != nil || p.payloads != nil {
				t.Errorf("a new printer made room for %d records and %d payload bytes, want none before it reads", cap(p.buf), cap(p.payloads))
			}
			fd := newBulkFeeder(reg)
			for range 3 {
				for range 2*tt.records + 10 { // past two reads' worth
					fd.next()
				}
				if err := p.Flush(); err != nil {
					t.Fatal(err)
				}
			}
			if got := cap(p.buf); got > tt.records {
				t.Errorf("room for %d records, want at most %d", got, tt.records)
			}
			if got := cap(p.payloads); got > tt.payloadBytes {
				t.Errorf("room for %d payload bytes, want at most %d", got, tt.payloadBytes)
			}
		})
	}
}

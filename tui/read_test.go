package tui

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/live"
)

// TestTickReadsOnce: in steady state a tick is one read of the registry,
// whether the frames pane follows, holds its cursor or is tailed from
// above: the read predicts the rows the pane will show.
func TestTickReadsOnce(t *testing.T) {
	cases := []struct {
		name string
		keys []string
	}{
		{"tailed from the sessions pane", nil},
		{"following", []string{"enter", "k", "enter", "f"}},
		{"cursor held", []string{"enter", "k", "enter", "j", "j"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// History holds all that is fed: no row on screen is evicted,
			// which takes a second read to show other rows.
			l := &loaded{capture: newCapture(live.Config{History: 10_000})}
			for i := range 10 {
				l.sessions = append(l.sessions, l.open("10.0.0.1:"+strconv.Itoa(10000+i), "10.0.0.2:9000", base))
				l.sid = append(l.sid, 1)
			}
			l.feed(2000)
			reads := 0
			snapshot := func(o live.SnapshotOptions) *live.Snapshot {
				reads++
				return l.snapshot(o)
			}
			m := newModel(l.reg, Options{NoColor: true}, snapshot, time.UTC, 0)
			m = press(resize(m, 120, 40), tc.keys...)
			for i := range 5 {
				l.feed(500)
				reads = 0
				m = send(m, tickMsg(l.now))
				if reads != 1 {
					t.Fatalf("tick %d: %d reads, want 1", i, reads)
				}
				if m.frames.needsRead() {
					t.Fatalf("tick %d: the frames pane still lacks rows after the read", i)
				}
			}
		})
	}
}

// TestSearch walks history both ways, from a seq, for records a predicate
// selects, and stops at the oldest record held.
func TestSearch(t *testing.T) {
	c := newCapture(live.Config{History: 20_000})
	s := c.open("127.0.0.1:1", "127.0.0.1:2", base)
	for i := range 3000 { // 15 000 records: a backward search reads two chunks
		c.exchange(s, 1, uint32(3+2*i), base.Add(time.Duration(i)*time.Millisecond), "12345678")
	}
	isSYN := func(r *live.Record) bool { return r.Kind == live.FrameRecord && r.Header.Cmd() == decoder.SYN }
	hist := c.reg.Snapshot().History
	tests := []struct {
		name    string
		from    uint64
		forward bool
		want    uint64 // 0: none
	}{
		{"first", 0, true, 2},
		{"next", 2, true, 7},
		{"previous", 7, false, 2},
		{"none before the first", 2, false, 0},
		{"last", hist.Next, false, hist.Next - 5},
		{"none after the last", hist.Next - 5, true, 0},
		{"across chunks", hist.Next - 5, false, hist.Next - 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, ok := search(c.reg, isSYN, tc.from, hist.First, tc.forward)
			got := uint64(0)
			if ok {
				got = r.Seq
			}
			if got != tc.want {
				t.Fatalf("search from %d forward %v found seq %d, want %d", tc.from, tc.forward, got, tc.want)
			}
		})
	}
	// Far back: a search that starts past 8 192 records reads back in chunks.
	r, ok := search(c.reg, func(r *live.Record) bool { return r.Kind == live.SessionOpened }, hist.Next, hist.First, false)
	if !ok || r.Seq != 1 {
		t.Fatalf("backward search to the session's opening: %v %+v", ok, r)
	}
}

// TestIndexAndRows: the index of a view holds the seqs it selects, a
// paused scan stops where the paused picture does, and rows evicted from
// history come back without a record.
func TestIndexAndRows(t *testing.T) {
	c := newCapture(live.Config{History: 100})
	s := c.open("127.0.0.1:1", "127.0.0.1:2", base)
	for i := range 10 {
		c.exchange(s, 1, uint32(3+2*i), base, "12345678")
	}
	match := matcher(scope{session: 1, sid: 5, stream: true}, nil)
	seqs, next := scanIndex(c.reg, match, 0, 0)
	if fmt.Sprint(seqs) != "[7 8 9 10 11]" || next != 52 {
		t.Fatalf("stream 5: seqs %v next %d, want [7 8 9 10 11] 52", seqs, next)
	}
	if seqs, next := scanIndex(c.reg, match, 0, 9); fmt.Sprint(seqs) != "[7 8]" || next != 9 {
		t.Fatalf("up to seq 9: %v next %d, want [7 8] 9", seqs, next)
	}
	for i := range 20 { // 100 more records: history holds seqs 52 to 151
		c.exchange(s, 1, uint32(100+2*i), base, "abcdefgh")
	}
	rows := fetchRows(c.reg, []uint64{8, 150, 149, 7})
	var got []string
	for _, r := range rows {
		switch {
		case r.rec == nil:
			got = append(got, fmt.Sprintf("%d:gone", r.seq))
		default:
			got = append(got, fmt.Sprintf("%d:%s", r.seq, r.rec.Header.Cmd()))
		}
	}
	if fmt.Sprint(got) != "[7:gone 8:gone 149:PSH 150:FIN]" {
		t.Fatalf("rows %v", got)
	}
	if p := rows[2].rec.Payload; string(p) != "abcdefgh" {
		t.Fatalf("payload %q", p)
	}
}

// TestScanDoesNotAllocatePerRecord: scanning history for a view copies
// no record; what it allocates does not grow with the records read.
func TestScanDoesNotAllocatePerRecord(t *testing.T) {
	c := newCapture(live.Config{History: 8192})
	s := c.open("127.0.0.1:1", "127.0.0.1:2", base)
	for i := range 1000 {
		c.exchange(s, 1, uint32(3+2*i), base, "12345678")
	}
	none := matcher(scope{session: 2}, nil)
	allocs := testing.AllocsPerRun(20, func() { scanIndex(c.reg, none, 0, 0) })
	if allocs > 2 {
		t.Fatalf("a scan of %d records that selects none: %v allocations, want at most 2", c.reg.Snapshot().History.Len(), allocs)
	}
}

package headless

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/muxtop/muxtop/live"
)

// TestMissedRecordAtTheGap: records evicted from history before the
// printer wrote them are a record of their own where they were, in JSON
// ({"type":"missed","seq":first,"count":n}) and plain ("MISSED n records
// (seq a to b) not printed"), the count the seq's jump; the printer's
// Missed and Options.Missed's counter say the same. Before, the output
// only jumped ("582 -> 38138"): "no missed record in the output".
func TestMissedRecordAtTheGap(t *testing.T) {
	for _, f := range []Format{JSON, Plain} {
		t.Run(f.String(), func(t *testing.T) {
			reg := live.New(live.Config{History: live.Exactly(100)})
			feed := newRandFeeder(reg)
			var out bytes.Buffer
			p := NewPrinter(reg, &out, f)
			p.missedTo = new(atomic.Uint64)
			for range 50 {
				feed.next()
			}
			if err := p.Flush(); err != nil {
				t.Fatal(err)
			}
			before := out.Len()
			last := reg.History().Next - 1 // printed
			for range 500 {
				feed.next()
			}
			if err := p.Flush(); err != nil {
				t.Fatal(err)
			}
			first := reg.History().Next - 100 // the oldest the ring holds
			want := first - last - 1
			lines := strings.Split(strings.TrimSuffix(out.String()[before:], "\n"), "\n")
			if f == JSON {
				var m struct {
					Type  string
					Seq   uint64
					Time  string
					Count uint64
				}
				if err := json.Unmarshal([]byte(lines[0]), &m); err != nil {
					t.Fatalf("%s: %v", lines[0], err)
				}
				if m.Type != "missed" {
					t.Fatalf("no missed record in the output where the seq jumps from %d: %s", last, lines[0])
				}
				if m.Seq != last+1 || m.Count != want || m.Time == "" {
					t.Errorf("%s, want seq %d, count %d and a time", lines[0], last+1, want)
				}
				var next struct{ Seq uint64 }
				json.Unmarshal([]byte(lines[1]), &next)
				if next.Seq != m.Seq+m.Count {
					t.Errorf("the record after the gap has seq %d, want %d + %d", next.Seq, m.Seq, m.Count)
				}
			} else {
				re := regexp.MustCompile(fmt.Sprintf(`^\d\d:\d\d:\d\d\.\d{6} MISSED %d records \(seq %d to %d\) not printed: the output fell behind the history, or the history never stored them \(dropped\)$`, want, last+1, first-1))
				if !re.MatchString(lines[0]) {
					t.Errorf("first line after the gap: %q, want %s", lines[0], re)
				}
			}
			if p.Missed() != want || p.missedTo.Load() != want {
				t.Errorf("Missed %d, Options.Missed %d, want %d", p.Missed(), p.missedTo.Load(), want)
			}
		})
	}
}

// TestSummaryMissedLine: the plain summary names the records the output
// missed missed, as JSON's summary does, not dropped (which is history's
// records never stored, muxtop_history_dropped_records_total).
func TestSummaryMissedLine(t *testing.T) {
	for _, tc := range []struct {
		dropped, missed uint64
		want            string
	}{
		{0, 27171, "  missed    27171 records not printed: the output fell behind the history\n"},
		{5, 27171, "  missed    27171 records not printed: the output fell behind the history; 5 of them never stored in history, their frames still count\n"},
		{5, 0, "  dropped   5 records never stored in history; their frames still count\n"},
	} {
		var b strings.Builder
		WriteSummary(&b, Summary{Dropped: tc.dropped, Missed: tc.missed})
		if !strings.Contains(b.String(), tc.want) {
			t.Errorf("dropped %d, missed %d: no line %q in\n%s", tc.dropped, tc.missed, tc.want, b.String())
		}
	}
}

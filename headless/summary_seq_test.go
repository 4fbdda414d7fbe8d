package headless

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/live"
)

// TestSummarySeqAndTime: the JSON summary has a seq, the one after the
// run's last record, and a time, the run's end, as the README says every
// object has. Before, it had neither: "summary seq <nil>, time <nil>".
func TestSummarySeqAndTime(t *testing.T) {
	reg := live.New(live.Config{})
	feed := newRandFeeder(reg)
	for range 20 {
		feed.next()
	}
	var out bytes.Buffer
	p := NewPrinter(reg, &out, JSON)
	if _, err := p.Finish(Options{Format: JSON}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	var last, summary map[string]any
	json.Unmarshal([]byte(lines[len(lines)-2]), &last)
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &summary); err != nil || summary["type"] != "summary" {
		t.Fatalf("last line %s: %v", lines[len(lines)-1], err)
	}
	seq, _ := summary["seq"].(float64)
	at, _ := summary["time"].(string)
	if seq == 0 || at == "" {
		t.Fatalf("summary seq %v, time %v, want both", summary["seq"], summary["time"])
	}
	if want := last["seq"].(float64) + 1; seq != want {
		t.Errorf("summary seq %v, want %v: the one after the last record's", seq, want)
	}
	end, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		t.Fatal(err)
	}
	lastAt, _ := time.Parse(time.RFC3339Nano, last["time"].(string))
	if end.Before(lastAt) || end.Before(reg.Snapshot().Started) {
		t.Errorf("summary time %v, before the last record's %v or the run's start", end, lastAt)
	}
}

package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	pcap "github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/headless"
	"github.com/muxtop/muxtop/live"
)

// TestReadStatusLimitCutClock: read's status says where its writer's
// --write-limit cut the capture with the date and the clock every record
// line uses (live.TimeLayout), and JSON gives the time in RFC 3339, ns.
// Before, the plain line said "cut by its writer's --write-limit at
// 2026-12-07T08:50:05.921177808Z".
func TestReadStatusLimitCutClock(t *testing.T) {
	at := time.Date(2026, 12, 7, 8, 50, 5, 921177808, time.UTC)
	st := readStatusOf(pcap.Stats{LimitCut: at}, "done")
	var plain bytes.Buffer
	headless.WriteSummary(&plain, headless.Summary{Status: st})
	if want := "cut by its writer's --write-limit at 2026-12-07 08:50:05.921177"; !strings.Contains(plain.String(), want+"\n") && !strings.Contains(plain.String(), want+" ") {
		t.Errorf("plain summary:\n%s\nwant %q", plain.String(), want)
	}
	var out bytes.Buffer
	if _, err := headless.Finish(&out, live.New(live.Config{}), headless.Options{Format: headless.JSON, Status: func() live.Status { return st }}); err != nil {
		t.Fatal(err)
	}
	var m struct{ Status map[string]any }
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		t.Fatalf("%s: %v", out.String(), err)
	}
	if got := m.Status["limit_cut"]; got != "2026-12-07T08:50:05.921177808Z" {
		t.Errorf("json status limit_cut %v, want 2026-12-07T08:50:05.921177808Z", got)
	}
}

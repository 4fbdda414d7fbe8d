package live_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/live"
)

// TestSessionLeakHoldsAndResolves: the rule's hysteresis and its two
// resolutions, on sessions with no stream, opened 10 s apart from one
// host: 12 opened, 11 of them piled, open it at the default threshold
// (10); with 3 of the piled ones ended, 8 piled hold it (80 %); a fourth
// ended, 7, resolves it, "ended or are in use again". Again, 12 open it,
// and once the window has passed with none piling, it resolves, "they
// stopped growing", though every session is still idle.
func TestSessionLeakHoldsAndResolves(t *testing.T) {
	base := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	pile := func(reg *live.Registry) []*live.Session {
		var ss []*live.Session
		for i := range 12 {
			ss = append(ss, reg.Open(live.SessionInfo{Client: "10.0.0.7:" + strconv.Itoa(40000+i), Server: "10.0.0.1:9000"}, base.Add(time.Duration(i)*10*time.Second)))
		}
		return ss
	}
	state := func(reg *live.Registry) (open bool, detail string) {
		for _, r := range pileRecords(reg) {
			open, detail = r.Kind != live.FindingResolved, r.Detail
		}
		return open, detail
	}
	cfg := live.FindingsConfig{SessionLeakWindow: 5 * time.Minute}
	at := base.Add(2 * time.Minute)

	reg := live.New(live.Config{})
	ss := pile(reg)
	reg.Evaluate(at, cfg)
	if open, _ := state(reg); !open {
		t.Fatalf("11 piled sessions opened nothing:%s", describeRecords(pileRecords(reg)))
	}
	for _, s := range ss[9:] {
		s.End(at, live.LocalClose, nil)
	}
	reg.Evaluate(at.Add(time.Second), cfg)
	if open, detail := state(reg); !open {
		t.Errorf("8 piled, 80 %% of 10, resolved it: %q", detail)
	}
	ss[8].End(at.Add(time.Second), live.LocalClose, nil)
	reg.Evaluate(at.Add(2*time.Second), cfg)
	if open, detail := state(reg); open || detail != "the piled-up sessions from 10.0.0.7 to 10.0.0.1:9000 ended or are in use again: 8 left idle" {
		t.Errorf("7 piled: open %v, %q", open, detail)
	}

	reg = live.New(live.Config{})
	pile(reg)
	reg.Evaluate(at, cfg)
	reg.Evaluate(base.Add(110*time.Second+5*time.Minute), cfg)
	if open, detail := state(reg); open || !strings.HasPrefix(detail, "fewer than 8 sessions (80% of the threshold, 10) from 10.0.0.7 to 10.0.0.1:9000 piled up in the last 5 min: they stopped growing, and 12 sessions still idle") {
		t.Errorf("no session piled for the window: open %v, %q", open, detail)
	}

	// Off: no finding, and an open one resolves saying so.
	reg = live.New(live.Config{})
	pile(reg)
	reg.Evaluate(at, cfg)
	reg.Evaluate(at.Add(time.Second), live.FindingsConfig{SessionLeak: -1})
	if open, detail := state(reg); open || detail != "SESSION_LEAK was turned off" {
		t.Errorf("turned off: open %v, %q", open, detail)
	}
}

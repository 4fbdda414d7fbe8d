package live_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/muxtop/muxtop/live"
)

// TestSessionLeakHoldsAndResolves: the rule's hold, hysteresis and
// resolution, on sessions with no stream, opened 10 s apart from one
// host: 12 opened, 11 of them piled (each opened while the first sat
// idle). One evaluation opens nothing: the group must stay at the
// threshold (10) through the hold (12 idle times, 60 s); it opens at the
// first evaluation after that, and holds an hour later, its sessions
// still there though none piled since. With 3 of the piled ones ended,
// 8 piled hold it (80 %); a fourth ended, 7, resolves it. A count that
// falls below the threshold before the hold starts it again.
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
	var cfg live.FindingsConfig
	at := base.Add(2 * time.Minute)

	reg := live.New(live.Config{})
	ss := pile(reg)
	reg.Evaluate(at, cfg)
	reg.Evaluate(at.Add(59*time.Second), cfg)
	if recs := pileRecords(reg); len(recs) != 0 {
		t.Fatalf("11 piled for 59 s, under the hold, opened it:%s", describeRecords(recs))
	}
	reg.Evaluate(at.Add(time.Minute), cfg)
	if open, _ := state(reg); !open {
		t.Fatalf("11 piled through the hold opened nothing:%s", describeRecords(pileRecords(reg)))
	}
	at = at.Add(time.Hour)
	reg.Evaluate(at, cfg)
	if open, detail := state(reg); !open {
		t.Errorf("a pile that stopped growing resolved: %q", detail)
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
	if open, detail := state(reg); open || detail != "the piled-up sessions from 10.0.0.7 to 10.0.0.1:9000 ended, closed or are in use again: 4 ended, 0 closed at one end, 0 used again; 7 separate dials still piled, fewer than 8, the least it holds at (the threshold is 10), 8 sessions idle" {
		t.Errorf("7 piled: open %v, %q", open, detail)
	}
	// Under the threshold before the hold: it starts again.
	reg = live.New(live.Config{})
	ss = pile(reg)
	at = base.Add(2 * time.Minute)
	reg.Evaluate(at, cfg)
	ss[11].End(at.Add(30*time.Second), live.LocalClose, nil)
	ss[10].End(at.Add(30*time.Second), live.LocalClose, nil)
	reg.Evaluate(at.Add(30*time.Second), cfg)
	reg.Open(live.SessionInfo{Client: "10.0.0.7:50000", Server: "10.0.0.1:9000"}, at.Add(31*time.Second))
	reg.Evaluate(at.Add(40*time.Second), cfg)
	reg.Evaluate(at.Add(61*time.Second), cfg)
	if recs := pileRecords(reg); len(recs) != 0 {
		t.Errorf("10 piled 60 s after 11 were, 9 between, opened it:%s", describeRecords(recs))
	}
	reg.Evaluate(at.Add(100*time.Second), cfg)
	if open, _ := state(reg); !open {
		t.Errorf("10 piled for 60 s opened nothing:%s", describeRecords(pileRecords(reg)))
	}

	// Off: no finding, and an open one resolves saying so.
	reg = live.New(live.Config{})
	pile(reg)
	reg.Evaluate(at, cfg)
	reg.Evaluate(at.Add(time.Minute), cfg)
	reg.Evaluate(at.Add(61*time.Second), live.FindingsConfig{SessionLeak: -1})
	if open, detail := state(reg); open || detail != "SESSION_LEAK was turned off" {
		t.Errorf("turned off: open %v, %q", open, detail)
	}
}

// TestSessionLeakClosedAtOneEnd: the piled sessions' clients closed
// their side of each connection (a FIN; the sessions end later, or
// never, in attach and read): the resolution says they closed at one
// end, not that they ended.
func TestSessionLeakClosedAtOneEnd(t *testing.T) {
	base := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	reg := live.New(live.Config{})
	var ss []*live.Session
	for i := range 12 {
		ss = append(ss, reg.Open(live.SessionInfo{Client: "10.0.0.7:" + strconv.Itoa(40000+i), Server: "10.0.0.1:9000"}, base.Add(time.Duration(i)*10*time.Second)))
	}
	var cfg live.FindingsConfig
	at := base.Add(2 * time.Minute)
	reg.Evaluate(at, cfg)
	reg.Evaluate(at.Add(time.Minute), cfg)
	at = at.Add(2 * time.Minute)
	for _, s := range ss {
		s.DirectionEnded(live.ClientToServer, at)
	}
	reg.Evaluate(at, cfg)
	recs := pileRecords(reg)
	if len(recs) != 2 || recs[1].Kind != live.FindingResolved {
		t.Fatalf("want opened and resolved:%s", describeRecords(recs))
	}
	want := "the piled-up sessions from 10.0.0.7 to 10.0.0.1:9000 ended, closed or are in use again: none of the group's sessions is live and whole (0 ended, 11 closed at one end, 0 used again)"
	if d := recs[1].Detail; d != want {
		t.Errorf("resolved\n got %q\nwant %q", d, want)
	}
}

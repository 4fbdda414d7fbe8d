package live_test

import (
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/live"
)

// TestItemisedCountsSurviveForgetting: the counts by code and by end
// reason, and the latency histogram, add up to the totals and never go
// down when ended sessions are forgotten, nor when a forgotten session
// still delivers frames: what a Prometheus counter needs.
func TestItemisedCountsSurviveForgetting(t *testing.T) {
	reg := live.New(live.Config{EndedSessions: 1})
	reasons := []live.CloseReason{live.EOF, live.Reset, live.LocalClose, live.EOF}
	var prev *live.Snapshot
	check := func(stage string) {
		t.Helper()
		snap := reg.Snapshot()
		var v, a, e uint64
		for _, n := range snap.ViolationsBy {
			v += n
		}
		for _, n := range snap.AnomaliesBy {
			a += n
		}
		for _, n := range snap.EndedBy {
			e += n
		}
		ended := uint64(0)
		for _, ss := range snap.Sessions {
			if ss.Ended {
				ended++
			}
		}
		if v != snap.Violations || a != snap.Anomalies || e != ended+snap.Forgotten.Sessions {
			t.Errorf("%s: by code %d violations, %d anomalies, %d ended; totals %d, %d, %d",
				stage, v, a, e, snap.Violations, snap.Anomalies, ended+snap.Forgotten.Sessions)
		}
		if prev != nil {
			for i := range snap.AnomaliesBy {
				if snap.AnomaliesBy[i] < prev.AnomaliesBy[i] {
					t.Errorf("%s: %v went down", stage, live.Anomaly(i))
				}
			}
			for i := range snap.EndedBy {
				if snap.EndedBy[i] < prev.EndedBy[i] {
					t.Errorf("%s: ended by %v went down", stage, live.CloseReason(i))
				}
			}
			if snap.LatencyHistogram.Count < prev.LatencyHistogram.Count {
				t.Errorf("%s: latency count went down", stage)
			}
		}
		prev = snap
	}
	var scripts []*script
	for i, r := range reasons {
		sc := openSession(reg, 1)
		scripts = append(scripts, sc)
		sc.feed(exchange(3, "RAND", "12345678")...)
		sc.feed(psh(c2s, 999, "?"), psh(c2s, 3, ""), syn(c2s, 3)) // UNKNOWN_STREAM, CLOSED_STREAM, REUSED_ID
		if i%2 == 0 {
			sc.s.Violation(s2c, at(0), &decoder.Violation{Code: decoder.UnknownCmd})
		}
		check("before end")
		sc.s.End(at(100), r, nil)
		check("after end")
	}
	snap := reg.Snapshot()
	if got := snap.EndedBy; got[live.EOF] != 2 || got[live.Reset] != 1 || got[live.LocalClose] != 1 {
		t.Errorf("ended by reason = %v, want 2 EOF, 1 reset, 1 local close", got)
	}
	if snap.Forgotten.Sessions != 3 {
		t.Fatalf("forgotten %d sessions, want 3", snap.Forgotten.Sessions)
	}
	if got := snap.ViolationsBy[decoder.UnknownCmd]; got != 2 {
		t.Errorf("UNKNOWN_CMD = %d, want 2", got)
	}
	for _, a := range []live.Anomaly{live.UnknownStream, live.ClosedStream, live.ReusedID} {
		if got := snap.AnomaliesBy[a]; got != 4 {
			t.Errorf("%v = %d, want 4", a, got)
		}
	}
	if h := snap.LatencyHistogram; h.Count != 4 || h.Sum <= 0 || h.Below[len(h.Below)-1] != 4 {
		t.Errorf("latency histogram %+v, want 4 replies under the last bound", h)
	}
	// A forgotten session still delivering an anomalous frame, and a late
	// violation, count where they belong.
	scripts[0].feed(psh(s2c, 777, "?"))
	scripts[0].s.Violation(c2s, at(200), &decoder.Violation{Code: decoder.BadVersion})
	check("late frames")
	if got := reg.Snapshot().ViolationsBy[decoder.BadVersion]; got != 1 {
		t.Errorf("late BAD_VERSION = %d, want 1", got)
	}
}

// TestOldestOpenAndLeaks: the oldest live stream's SYN time, per session
// and overall, and the count of old streams (Aged) from the live list, which skips the
// closed streams a session tracks.
func TestOldestOpenAndLeaks(t *testing.T) {
	reg := live.New(live.Config{})
	a, b := openSession(reg, 1), openSession(reg, 1)
	a.feed(exchange(3, "RAND", "12345678")...) // closed: at(0)..at(4)
	a.feed(syn(c2s, 5))                        // at(5), open
	b.n = 10
	b.feed(syn(c2s, 3), syn(c2s, 5), fin(c2s, 3)) // at(10), at(11); 3 half-closed
	snap := reg.SnapshotWith(live.SnapshotOptions{Now: at(1000), LeakAfter: 1000*time.Millisecond - 10*time.Millisecond})
	if got := snap.Session(a.s.ID()).OldestOpen; !got.Equal(at(5)) {
		t.Errorf("session a's oldest open = %v, want %v", got, at(5))
	}
	if got := snap.Session(b.s.ID()).OldestOpen; !got.Equal(at(10)) {
		t.Errorf("session b's oldest open = %v, want %v", got, at(10))
	}
	if !snap.OldestOpen.Equal(at(5)) {
		t.Errorf("oldest open = %v, want %v", snap.OldestOpen, at(5))
	}
	// The cutoff is at(10): streams opened before it are older than it
	// (Aged; the suspected leaks, Leaks, are LEAK's).
	if snap.Session(a.s.ID()).Aged != 1 || snap.Session(b.s.ID()).Aged != 0 || snap.Aged != 1 || snap.Leaks != 0 {
		t.Errorf("aged a %d b %d total %d, want 1 0 1; leaks %d without an evaluation", snap.Session(a.s.ID()).Aged, snap.Session(b.s.ID()).Aged, snap.Aged, snap.Leaks)
	}
	a.s.End(at(20), live.EOF, nil)
	snap = reg.SnapshotWith(live.SnapshotOptions{Now: at(1000), LeakAfter: 10 * time.Millisecond})
	if !snap.Session(a.s.ID()).OldestOpen.IsZero() || !snap.OldestOpen.Equal(at(10)) {
		t.Errorf("after a ended: a's oldest %v, overall %v, want zero and %v", snap.Session(a.s.ID()).OldestOpen, snap.OldestOpen, at(10))
	}
	if snap.Aged != 2 {
		t.Errorf("aged = %d, want b's 2", snap.Aged)
	}
}

package live_test

import (
	"testing"
	"time"

	"github.com/muxtop/muxtop/live"
)

// leakFindings adds up what snap's open LEAK findings count, by session
// and in all: what the findings pane and the metrics gauge say.
func leakFindings(snap *live.Snapshot) (map[uint64]int, int) {
	by, total := map[uint64]int{}, 0
	for _, f := range snap.Findings {
		if f.Code == live.CodeLeak {
			by[f.Session] += int(f.Evidence.Count)
			total += int(f.Evidence.Count)
		}
	}
	return by, total
}

// marked returns the ids of ss's streams marked as suspected leaks.
func marked(ss *live.SessionSnap) []uint32 {
	var ids []uint32
	for _, st := range ss.Streams {
		if st.Leak {
			ids = append(ids, st.ID)
		}
	}
	return ids
}

// TestSnapshotLeaksAreLEAKs: the suspected leaks a snapshot counts, per
// session and in all, and the streams it marks, are those of the open
// LEAK findings as of the latest evaluation: not the streams that
// UNANSWERED explains, though as old. Before, Leaks counted every stream
// open longer than LeakAfter: 3 suspected leaks beside an UNANSWERED that
// explained two of them, and a LEAK that counted one. The marks follow an
// evaluation that changes them with no frame in between, which leaves
// the session's pictures otherwise as they were.
func TestSnapshotLeaksAreLEAKs(t *testing.T) {
	cfg := live.FindingsConfig{UnansweredAfter: 5 * time.Second, LeakAfter: 30 * time.Second, Churn: -1}
	reg := live.New(live.Config{})
	sc := openSession(reg, 1)
	// 3 and 5: never accepted (UNANSWERED); 1: answered, never closed,
	// and no setup stream. Opened before them: an answer on a stream
	// opened after them would show them accepted, smux and yamux
	// accepting in SYN order.
	sc.worked(sec(0))
	sc.feedAt(sec(0), syn(c2s, 1), psh(c2s, 1, "RAND"), psh(s2c, 1, "12345678"))
	sc.feedAt(sec(0), syn(c2s, 3), psh(c2s, 3, "HOLD"), syn(c2s, 5), psh(c2s, 5, "RAND"))
	for s := 1.0; s <= 29; s++ {
		sc.feedAt(sec(s), nop(c2s), nop(s2c))
		reg.Evaluate(sec(s+0.5), cfg)
	}
	opts := func(now time.Time) live.SnapshotOptions {
		return live.SnapshotOptions{Now: now, LeakAfter: cfg.LeakAfter}
	}
	// Both sides speak after stream 1's deadline (LEAK waits for that:
	// a side silent since before it may be a frozen peer, KEEPALIVE's),
	// and no evaluation has run since it passed.
	sc.feedAt(sec(30.6), nop(c2s), nop(s2c))
	snap := reg.SnapshotWith(opts(sec(30.6)))
	if ss := snap.Session(sc.s.ID()); snap.Leaks != 0 || ss.Leaks != 0 || len(marked(ss)) != 0 || snap.Evaluated.IsZero() {
		t.Fatalf("before an evaluation past LeakAfter: %d suspected leaks (session %d), marked %v, evaluated %v; want none, evaluated",
			snap.Leaks, ss.Leaks, marked(ss), snap.Evaluated)
	}

	// Stream 7 is older than LeakAfter: no frame since the last
	// snapshot, one evaluation.
	reg.Evaluate(sec(30.8), cfg)
	snap = reg.SnapshotWith(opts(sec(30.8)))
	ss := snap.Session(sc.s.ID())
	by, total := leakFindings(snap)
	codes := map[live.FindingCode]bool{}
	for _, f := range snap.Findings {
		codes[f.Code] = true
	}
	if !codes[live.CodeUnanswered] || !codes[live.CodeLeak] {
		t.Fatalf("findings %v, want UNANSWERED and LEAK", snap.Findings)
	}
	if snap.Leaks != total || ss.Leaks != by[sc.s.ID()] || snap.Leaks != 1 {
		t.Errorf("%d suspected leaks (session %d), LEAK counts %d (session %d); want the same, 1",
			snap.Leaks, ss.Leaks, total, by[sc.s.ID()])
	}
	if m := marked(ss); len(m) != 1 || m[0] != 1 {
		t.Errorf("marked %v, want stream 1 alone: UNANSWERED explains 3 and 5", m)
	}
	if snap.Aged != 3 || ss.Aged != 3 {
		t.Errorf("aged %d (session %d), want 3: every live stream is older than LeakAfter", snap.Aged, ss.Aged)
	}
	if !snap.Evaluated.Equal(sec(30.8)) {
		t.Errorf("evaluated %v, want %v", snap.Evaluated, sec(30.8))
	}

	// Stream 1 closes: no mark, no suspected leak once evaluated.
	sc.feedAt(sec(31), fin(c2s, 1), fin(s2c, 1))
	reg.Evaluate(sec(31.2), cfg)
	snap = reg.SnapshotWith(opts(sec(31.2)))
	if ss := snap.Session(sc.s.ID()); snap.Leaks != 0 || ss.Leaks != 0 || len(marked(ss)) != 0 {
		t.Errorf("after stream 1 closed: %d suspected leaks (session %d), marked %v; want none", snap.Leaks, ss.Leaks, marked(ss))
	}
}

// TestSnapshotLeaksUnevaluated: with no evaluation, a snapshot names no
// suspected leak, and says it was not evaluated; Aged still counts the
// old streams.
func TestSnapshotLeaksUnevaluated(t *testing.T) {
	reg := live.New(live.Config{})
	sc := openSession(reg, 1)
	sc.feedAt(sec(0), syn(c2s, 3), psh(c2s, 3, "RAND"), psh(s2c, 3, "12345678"))
	snap := reg.SnapshotWith(live.SnapshotOptions{Now: sec(60), LeakAfter: 30 * time.Second})
	ss := snap.Session(sc.s.ID())
	if snap.Leaks != 0 || ss.Leaks != 0 || len(marked(ss)) != 0 || !snap.Evaluated.IsZero() || snap.Aged != 1 {
		t.Errorf("unevaluated: %d suspected leaks, marked %v, evaluated %v, aged %d; want 0, none, zero, 1",
			snap.Leaks, marked(ss), snap.Evaluated, snap.Aged)
	}
}

package live

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
)

// leakSec is f seconds after the Unix epoch: the clock of the leak-mark
// tests.
func leakSec(f float64) time.Time { return time.Unix(0, int64(f*float64(time.Second))) }

// leakSessions opens n sessions in reg at time 0 and returns them with a
// func that records, on session i at leakSec(at), a version-2 smux frame
// in dir, each direction's offsets following on from the last frame's.
func leakSessions(reg *Registry, n int) ([]*Session, func(i int, at float64, dir Dir, cmd decoder.Cmd, sid uint32, payload string)) {
	var sessions []*Session
	var offs [][2]int64
	for range n {
		sessions = append(sessions, reg.Open(SessionInfo{Client: "c", Server: "s"}, time.Unix(0, 0)))
		offs = append(offs, [2]int64{})
	}
	rec := func(i int, at float64, dir Dir, cmd decoder.Cmd, sid uint32, payload string) {
		h := decoder.MakeHeader(2, cmd, uint16(len(payload)), sid)
		f := decoder.Frame{Header: h, Payload: []byte(payload), Offset: offs[i][dir]}
		offs[i][dir] += int64(len(h) + len(payload))
		sessions[i].Record(dir, leakSec(at), &f)
	}
	// Each session has done work, a stream the server opened and both
	// sides closed, so that the streams the tests open after are none of
	// its setup streams, which LEAK does not count (SetupWindow).
	for i := range sessions {
		rec(i, 0, ServerToClient, decoder.SYN, 2, "")
		rec(i, 0, ServerToClient, decoder.FIN, 2, "")
		rec(i, 0, ClientToServer, decoder.FIN, 2, "")
	}
	return sessions, rec
}

// openAnswered records, with rec, stream sid of session i opened at at
// with a request the server answers at once, and never closed.
func openAnswered(rec func(i int, at float64, dir Dir, cmd decoder.Cmd, sid uint32, payload string), i int, at float64, sid uint32) {
	rec(i, at, ClientToServer, decoder.SYN, sid, "")
	rec(i, at, ClientToServer, decoder.PSH, sid, "RAND")
	rec(i, at, ServerToClient, decoder.PSH, sid, "answered")
}

// TestLeakMarksOfThePublishedEvaluation: a snapshot taken while an
// evaluation runs, after it has visited a session and before it has
// published its findings, showed that session's leak marks from the
// running evaluation beside its counts (SessionSnap.Leaks, the LEAK
// finding's, Snapshot.Leaks) from the finished one. The evaluation is
// held there deterministically: it visits the sessions, then takes the
// CHURN ring's lock, held by the test, before it publishes. Between the
// two evaluations (3 s and 4 s, --leak-after 2 s), in the first session
// streams 5 and 11 cross the cutoff, stream 7's writer comes to be held
// by a full window (excused from 4 s), and stream 9's has been since the
// start (excused at both); in the second, the one leak's writer comes to
// be held, and its LEAK resolves.
func TestLeakMarksOfThePublishedEvaluation(t *testing.T) {
	reg := New(Config{})
	sessions, rec := leakSessions(reg, 2)
	open := func(i int, at float64, sid uint32) { openAnswered(rec, i, at, sid) }
	fill := func(i int, at float64, sid uint32) { // smux's initial 256 KiB, never read
		for range 8 {
			rec(i, at, ClientToServer, decoder.PSH, sid, strings.Repeat("x", 32<<10))
		}
	}
	// The first session: 3 a leak at both evaluations, 5 and 11 from the
	// second, 7 until the second, 9 at neither.
	open(0, 0.5, 3)
	open(0, 0.5, 7)
	open(0, 0.5, 9)
	fill(0, 0.6, 9)
	open(0, 1.5, 5)
	open(0, 1.8, 11)
	// The second: 3 a leak until the second evaluation, when its LEAK
	// resolves.
	open(1, 0.5, 3)
	cfg := FindingsConfig{LeakAfter: 2 * time.Second, StallAfter: time.Second, Churn: 1000}
	reg.Evaluate(leakSec(3), cfg)
	check := func(when string, want ...[]uint32) {
		t.Helper()
		snap := reg.Snapshot()
		total := 0
		for i, s := range sessions {
			ss := snap.Session(s.ID())
			var marks []uint32
			for _, st := range ss.Streams {
				if st.Leak {
					marks = append(marks, st.ID)
				}
			}
			count := 0
			for _, f := range snap.Findings {
				if f.Code == CodeLeak && f.Session == s.ID() {
					count += int(f.Evidence.Count)
				}
			}
			if !slices.Equal(marks, want[i]) || ss.Leaks != len(want[i]) || count != len(want[i]) {
				t.Errorf("%s: session %d: marked %v, its Leaks %d, its LEAK counts %d; want marked %v and %d of each",
					when, s.ID(), marks, ss.Leaks, count, want[i], len(want[i]))
			}
			total += len(want[i])
		}
		if snap.Leaks != total {
			t.Errorf("%s: the snapshot's Leaks %d, want %d", when, snap.Leaks, total)
		}
	}
	check("after the evaluation at 3 s", []uint32{3, 7}, []uint32{3})
	fill(0, 3, 7)
	fill(1, 3, 3)

	reg.eng.ends.mu.Lock() // the evaluation at 4 s stops before it publishes
	evaluated := make(chan struct{})
	go func() {
		reg.Evaluate(leakSec(4), cfg)
		close(evaluated)
	}()
	for last, visited := sessions[len(sessions)-1], false; !visited; {
		last.mu.Lock()
		visited = last.w.eng.seen == 2
		last.mu.Unlock()
		if !visited {
			time.Sleep(time.Millisecond)
		}
	}
	check("while the evaluation at 4 s runs, having visited the sessions", []uint32{3, 7}, []uint32{3})
	reg.eng.ends.mu.Unlock()
	<-evaluated
	check("after the evaluation at 4 s", []uint32{3, 5, 11}, nil)
}

// TestLeakMarksStress: static traffic (nothing is recorded once the
// evaluations start), evaluated at times that move on in a goroutine
// while snapshots are taken: streams cross --leak-after one by one, some
// unanswered (UNANSWERED explains them), some held by a full window. Every
// snapshot must mark as many streams of each session as its Leaks and
// its LEAK findings count: they are of one evaluation.
func TestLeakMarksStress(t *testing.T) {
	reg := New(Config{})
	sessions, rec := leakSessions(reg, 60)
	for i := range sessions {
		for k := range 40 {
			sid := uint32(3 + 2*k)
			at := 0.2 + 0.25*float64(k) + 0.01*float64(i)
			rec(i, at, ClientToServer, decoder.SYN, sid, "")
			rec(i, at, ClientToServer, decoder.PSH, sid, "RAND")
			switch k % 4 {
			case 0, 1: // answered, never closed: a leak
				rec(i, at, ServerToClient, decoder.PSH, sid, "answered")
			case 2: // never answered: UNANSWERED's
			case 3: // answered, then its writer held at a full window
				rec(i, at, ServerToClient, decoder.PSH, sid, "answered")
				for range 8 {
					rec(i, at+0.1, ClientToServer, decoder.PSH, sid, strings.Repeat("x", 32<<10))
				}
			}
		}
		// the server keeps talking, so that UNANSWERED holds
		for k := range 200 {
			rec(i, 0.1*float64(k), ServerToClient, decoder.NOP, 0, "")
		}
	}
	cfg := FindingsConfig{LeakAfter: 2 * time.Second, StallAfter: time.Second, UnansweredAfter: time.Second, Churn: 1000}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		defer close(stop)
		for k := range 400 {
			reg.Evaluate(leakSec(1+0.05*float64(k)), cfg)
		}
	})
	all := SnapshotOptions{Streams: func(uint64) bool { return true }}
	bad, withLeaks, outlasted := 0, 0, 0
	// compare checks one snapshot's marks against its counts, and returns
	// its leaks.
	compare := func(n int, snap *Snapshot) int {
		total := 0
		for _, ss := range snap.Sessions {
			marks := 0
			for _, st := range ss.Streams {
				if st.Leak {
					marks++
				}
			}
			count := 0
			for _, f := range snap.Findings {
				if f.Code == CodeLeak && f.Session == ss.ID {
					count += int(f.Evidence.Count)
				}
			}
			total += count
			if marks != ss.Leaks || count != ss.Leaks {
				if bad++; bad < 10 {
					t.Errorf("snapshot %d (evaluated %v): session %d marks %d streams, Leaks %d, LEAK counts %d", n, snap.Evaluated, ss.ID, marks, ss.Leaks, count)
				}
			}
		}
		if total != snap.Leaks {
			t.Errorf("snapshot %d: Leaks %d, LEAK counts %d", n, snap.Leaks, total)
		}
		return total
	}
	for n := 0; ; n++ {
		select {
		case <-stop:
			wg.Wait()
			f := reg.SnapshotWith(all)
			codes := map[FindingCode]int{}
			for _, x := range f.Findings {
				codes[x.Code]++
			}
			t.Logf("%d snapshots (%d outlasted an evaluation), %d with leaks; at the end leaks %d, findings by code %v", n, outlasted, withLeaks, f.Leaks, codes)
			// With no evaluation running, the last snapshot is compared
			// whatever the interleaving let through above, and has leaks.
			if compare(n, f) == 0 {
				t.Fatal("the last snapshot has no leak: nothing was compared")
			}
			return
		default:
		}
		d0 := reg.eng.done.Load()
		snap := reg.SnapshotWith(all)
		if reg.eng.done.Load() > d0 {
			outlasted++
			continue // an evaluation ended meanwhile, and the next may have begun: a whole one outlasted, documented to show the newest marks
		}
		if compare(n, snap) > 0 {
			withLeaks++
		}
	}
}

// leakView returns what snap shows of session s's suspected leaks: the
// streams it marks, its Leaks and what its LEAK findings count.
func leakView(snap *Snapshot, s *Session) (marks []uint32, leaks, count int) {
	ss := snap.Session(s.ID())
	for _, st := range ss.Streams {
		if st.Leak {
			marks = append(marks, st.ID)
		}
	}
	for _, f := range snap.Findings {
		if f.Code == CodeLeak && f.Session == s.ID() {
			count += int(f.Evidence.Count)
		}
	}
	return marks, ss.Leaks, count
}

// holdEvaluation runs reg.Evaluate(at, cfg) until it has visited every
// session and waits to publish, and returns a func that lets it finish.
func holdEvaluation(reg *Registry, sessions []*Session, at time.Time, cfg FindingsConfig) (finish func()) {
	eval := reg.eng.evals + 1
	reg.eng.ends.mu.Lock() // the evaluation stops before it publishes
	evaluated := make(chan struct{})
	go func() {
		reg.Evaluate(at, cfg)
		close(evaluated)
	}()
	for last, visited := sessions[len(sessions)-1], false; !visited; {
		last.mu.Lock()
		visited = last.w.eng.seen == eval
		last.mu.Unlock()
		if !visited {
			time.Sleep(time.Millisecond)
		}
	}
	return func() {
		reg.eng.ends.mu.Unlock()
		<-evaluated
	}
}

// TestLeakMarksWhileCountingAfresh: an evaluation that counts the leaks
// afresh (--leak-after grew) leaves a snapshot taken while it runs the
// marks of the published evaluation. Before, that snapshot marked none
// beside the finished evaluation's counts.
func TestLeakMarksWhileCountingAfresh(t *testing.T) {
	reg := New(Config{})
	sessions, rec := leakSessions(reg, 1)
	openAnswered(rec, 0, 0.5, 3)
	openAnswered(rec, 0, 1.5, 5)
	cfg := FindingsConfig{LeakAfter: 2 * time.Second, Churn: 1000}
	reg.Evaluate(leakSec(4), cfg)
	want := func(when string, ids ...uint32) {
		t.Helper()
		marks, leaks, count := leakView(reg.Snapshot(), sessions[0])
		if !slices.Equal(marks, ids) || leaks != len(ids) || count != len(ids) {
			t.Errorf("%s: marked %v, Leaks %d, LEAK counts %d; want marked %v and %d of each", when, marks, leaks, count, ids, len(ids))
		}
	}
	want("after the evaluation with --leak-after 2s", 3, 5)
	cfg.LeakAfter = 3 * time.Second // stream 5 is no longer old enough
	finish := holdEvaluation(reg, sessions, leakSec(4.1), cfg)
	want("while the evaluation with --leak-after 3s runs", 3, 5)
	finish()
	want("after it", 3)
}

// TestLeakMarksRepublished: an evaluation whose findings are as the
// previous one left them, while its marks are not (one leak closed and
// another crossed --leak-after, and the oldest stayed), publishes them.
func TestLeakMarksRepublished(t *testing.T) {
	reg := New(Config{})
	sessions, rec := leakSessions(reg, 1)
	openAnswered(rec, 0, 0.5, 3)
	openAnswered(rec, 0, 0.6, 5)
	openAnswered(rec, 0, 1.2, 7)
	cfg := FindingsConfig{LeakAfter: 2 * time.Second, Churn: 1000}
	reg.Evaluate(leakSec(3), cfg)
	before := reg.Snapshot()
	if marks, leaks, count := leakView(before, sessions[0]); !slices.Equal(marks, []uint32{3, 5}) || leaks != 2 || count != 2 {
		t.Fatalf("at 3 s: marked %v, Leaks %d, LEAK counts %d; want 3 and 5, 2 of each", marks, leaks, count)
	}
	rec(0, 3.1, ClientToServer, decoder.FIN, 5, "")
	rec(0, 3.1, ServerToClient, decoder.FIN, 5, "")
	reg.Evaluate(leakSec(3.4), cfg) // stream 7 crosses; the oldest leak, 3, is 2.9 s old, in the same step as 2.5 s
	after := reg.Snapshot()
	if !slices.Equal(after.Findings, before.Findings) {
		t.Fatalf("findings %v, want those of the evaluation at 3 s, %v: the test needs them unchanged", after.Findings, before.Findings)
	}
	if marks, leaks, count := leakView(after, sessions[0]); !slices.Equal(marks, []uint32{3, 7}) || leaks != 2 || count != 2 {
		t.Errorf("at 3.4 s: marked %v, Leaks %d, LEAK counts %d; want 3 and 7, 2 of each", marks, leaks, count)
	}
}

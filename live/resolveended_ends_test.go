package live_test

import (
	"testing"

	"github.com/muxtop/muxtop/live"
)

// stopScene opens, on reg, the sessions of a live run stopped at 0.6 s
// whose last evaluation (if any) came before them all: own, a client
// that spoke HTTP at 0 s and a session that ended on its own at 0.1 s;
// healthy, a v1 stream closed both ways, ended at 0.1 s; lateEarly and
// lateLate, v2 sessions whose server answered after the client's FIN at
// 0 s and at 0.3 s, and violated, a client that spoke HTTP at 0 s, all
// three ended by the stop's shutdown at 0.7 s.
func stopScene(reg *live.Registry) (own, healthy, lateEarly, lateLate, violated *script) {
	own = violating(reg, sec(0))
	own.s.End(sec(0.1), live.EOF, nil)
	healthy = openSession(reg, 1)
	healthy.feedAt(sec(0), syn(c2s, 3), psh(c2s, 3, "RAND"), psh(s2c, 3, "answer"), fin(c2s, 3), fin(s2c, 3))
	healthy.s.End(sec(0.1), live.EOF, nil)
	late := func(at float64) *script {
		sc := openSession(reg, 2)
		sc.feedAt(sec(0), syn(c2s, 3), psh(c2s, 3, "RAND"), fin(c2s, 3))
		sc.feedAt(sec(at), psh(s2c, 3, "the answer"))
		return sc
	}
	lateEarly, lateLate = late(0), late(0.3)
	violated = violating(reg, sec(0))
	for _, sc := range []*script{lateEarly, lateLate, violated} {
		sc.s.End(sec(0.7), live.Shutdown, nil)
	}
	return own, healthy, lateEarly, lateLate, violated
}

// TestResolveEndedSeesTheEnds: at a live run's stop, ResolveEnded does
// for the sessions whose end no evaluation saw what the evaluation that
// would have seen it does, then resolves. The session that ended on its
// own on a violation gets its PROTOCOL finding, worded as the next
// evaluation words it, and resolved with the session's end; the healthy
// one gets none. Of the sessions the stop ended, what came before the
// stop counts as an evaluation at the stop would count it: the violation
// at 0 s, and the late answer at 0 s, whose v2 wait for a UPD (lateGrace,
// 0.5 s) was over by the stop; not the answer at 0.3 s, whose wait the
// shutdown cut (an evaluation after the end counts it: Conclude's
// judging of the shutdown). Their findings resolve as muxtop stopped
// watching. Records come in ID order, opened findings in session order.
// No evaluation ran before: the engine's open set starts here.
func TestResolveEndedSeesTheEnds(t *testing.T) {
	reg := live.New(live.Config{})
	own, healthy, lateEarly, lateLate, violated := stopScene(reg)
	reg.ResolveEnded(sec(0.8), sec(0.6))

	recs := expect(t, reg, "+PROTOCOL", "+DATA_AFTER_CLOSE", "+PROTOCOL", "-PROTOCOL", "-DATA_AFTER_CLOSE", "-PROTOCOL")
	for i, want := range []*script{own, lateEarly, violated, own, lateEarly, violated} {
		if f := recs[i].Finding; f.Session != want.s.ID() {
			t.Errorf("record %d: session %d's %v, want session %d's", i, f.Session, f.Code, want.s.ID())
		}
	}
	for _, r := range recs[3:] {
		f := r.Finding
		if unwatched := f.Session != own.s.ID(); f.Unwatched != unwatched {
			t.Errorf("session %d's %v resolved %q, unwatched %v; want %v", f.Session, f.Code, f.Why, f.Unwatched, unwatched)
		}
	}
	if f := recs[3].Finding; f.Why != "the session ended (EOF)" {
		t.Errorf("resolved %q, want the session's end", f.Why)
	}
	snap := reg.Snapshot()
	if snap.FindingsOpened != 3 || len(snap.Findings) != 0 || len(snap.Unwatched) != 2 ||
		snap.FindingsResolvedBy[live.CodeProtocol][live.Critical] != 1 {
		t.Errorf("snapshot: %d opened, %d open, %d unwatched, PROTOCOL resolved %v; want 3, 0, 2 and one critical",
			snap.FindingsOpened, len(snap.Findings), len(snap.Unwatched), snap.FindingsResolvedBy[live.CodeProtocol])
	}

	// What the next evaluation would have given the session that ended on
	// its own: the same finding, the same words.
	twin := live.New(live.Config{})
	stopScene(twin)
	twin.Evaluate(sec(0.8), live.FindingsConfig{Churn: -1})
	var want *live.Finding
	for _, r := range findingRecords(twin) {
		if r.Finding.Session == own.s.ID() && r.Kind == live.FindingOpened {
			want = r.Finding
		}
	}
	if got := recs[0].Finding; want == nil || got.Text != want.Text || got.Severity != want.Severity || got.Evidence != want.Evidence || !got.Opened.Equal(want.Opened) {
		t.Errorf("opened %+v, want what an evaluation opens: %+v", got, want)
	}
	// Which judges the shutdown: the answer whose wait it cut counts.
	judged := false
	for _, r := range findingRecords(twin) {
		switch s := r.Finding.Session; {
		case s == healthy.s.ID():
			t.Errorf("an evaluation gave the healthy session %v", r.Finding.Code)
		case s == lateLate.s.ID():
			judged = judged || r.Finding.Code == live.CodeDataAfterClose
		}
	}
	if !judged {
		t.Errorf("no DATA_AFTER_CLOSE of the answer at 0.3 s from an evaluation after the end: the scene shows nothing the stop must leave out")
	}
}

// TestResolveEndedForgotten: a session forgotten since the last
// evaluation (the registry keeps EndedSessions ended ones) is in no list
// but the engine's open findings: its end is seen from there, once, and
// its finding resolves with the session's end, not twice.
func TestResolveEndedForgotten(t *testing.T) {
	reg := live.New(live.Config{EndedSessions: 1})
	gone := violating(reg, sec(0))
	reg.Evaluate(sec(0.01), live.FindingsConfig{Churn: -1})
	gone.s.End(sec(0.02), live.EOF, nil)
	kept := openSession(reg, 1)
	kept.s.End(sec(0.03), live.EOF, nil) // gone is forgotten
	if reg.Session(gone.s.ID()) != nil {
		t.Fatal("the first session is still kept: the scene forgets nothing")
	}
	reg.ResolveEnded(sec(0.05), sec(0.04))
	recs := expect(t, reg, "+PROTOCOL", "-PROTOCOL")
	if f := recs[1].Finding; f.Session != gone.s.ID() || f.Why != "the session ended (EOF)" || f.Unwatched {
		t.Errorf("session %d resolved %q (unwatched %v), want session %d's end", f.Session, f.Why, f.Unwatched, gone.s.ID())
	}
}

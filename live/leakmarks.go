package live

import "time"

// The suspected leaks the front ends show are LEAK's: the streams its
// open findings count, as of the latest evaluation, per session and in
// all (SessionSnap.Leaks, Snapshot.Leaks), and which streams they are
// (StreamSnap.Leak). The counts come from the published findings, as the
// findings themselves do; the marks from what the evaluation left in the
// session. Streams as old that another finding explains (SESSION_BLOCKED,
// WINDOW_STALL, UNANSWERED, a late answer: explainedLeaks) are in
// neither. Front ends read them; they evaluate nothing.
//
// A snapshot shows the marks of the evaluation whose findings it shows
// (asOf: the latest finished, engine.done, or the one that published the
// view it read, if newer). An evaluation that runs meanwhile may have
// changed a session's marks already (Session.marksGen is asOf+1): the
// snapshot then reads them as they were one evaluation before, from what
// the change keeps (Session.prevShown, stream.excusedRun,
// Session.crossedAt). Before, for one refresh, it marked the streams
// of the running evaluation beside the counts of the finished one. A
// snapshot that outlasts a whole evaluation and sees a session changed by
// the next one shows its newest marks. One taken while an evaluation
// counts the leaks afresh (--leak-after grew, or the clock went back)
// marks none: that evaluation counts every stream anew.

// leakMarks is what an evaluation of a session leaves for StreamSnap.Leak:
// the kinds (leakKind) with an open LEAK finding, and, to tell a change,
// the leaks counted by kind and the streams excused.
type leakMarks struct {
	shown   [3]bool
	leaked  [3]uint64
	excused int
}

// excuse notes that the evaluation in progress found another finding
// explaining st, counted as a leak: it is none of LEAK's. s.w.eng.seen is
// the evaluation's. s.mu is held.
func (w *sessionWatch) excuse(st *stream) {
	gen := uint32(w.eng.seen)
	st.excusedRun = st.excused == gen-1
	st.excused = gen
	w.excusedN++
}

// markLeaks ends an evaluation of s, its open findings settled: it keeps
// the kinds LEAK holds for, and sets marksGen to the evaluation when the
// marks may have changed since the previous one, so that the next
// snapshot reads them afresh rather than reuse the streams' pictures, and
// one of the previous evaluation's findings reads them as they were.
// While streams are excused it moves at every evaluation: which ones may
// change. It returns what s's open LEAK findings count. s.mu is held.
func (s *Session) markLeaks() (count int) {
	w := &s.w
	m := leakMarks{leaked: w.leaked, excused: w.excusedN}
	if w.eng.openCodes&(1<<CodeLeak) != 0 {
		for _, f := range w.eng.open {
			if f.Code == CodeLeak {
				m.shown[findingLeakKind(f)] = true
				count += int(f.Evidence.Count)
			}
		}
	}
	if m != w.marks || m.excused > 0 {
		s.marksChanged()
		w.marks, w.excusedN = m, 0 // written only on a change: most sessions' marks stay as they were
	}
	return count
}

// marksChanged notes that the evaluation in progress may change the
// marks: they are as the one before left them until it does. s.mu is held.
func (s *Session) marksChanged() {
	if seen := s.w.eng.seen; s.marksGen != seen {
		s.marksGen, s.prevShown = seen, s.w.marks.shown
	}
}

// crossed notes that the evaluation in progress counts streams as leaks,
// from the one whose SYN was at first (Unix ns): it changes the marks,
// though the counts may stay as they were (as many closed). s.mu is held.
func (s *Session) crossed(first int64) {
	s.marksChanged()
	s.crossedAt, s.crossedFrom = s.w.eng.seen, first
}

// findingLeakKind is the leakKind of the streams a LEAK finding counts:
// its direction is the one with no FIN.
func findingLeakKind(f *Finding) int {
	switch {
	case !f.HasDir:
		return 0
	case f.Dir == ServerToClient:
		return 1 // half-closed by the client
	}
	return 2
}

// leakMarked says whether st is among the streams the session's latest
// evaluation counted in an open LEAK finding, or, if before, the streams
// the evaluation before it counted: that is the one asOf, and the latest
// changed the marks (marksGen). A stream that ended with its session
// keeps the mark it had at the end. s.mu is held.
func (s *Session) leakMarked(st *stream, before bool, asOf uint64) bool {
	if st.state == EndedWithSession {
		return st.leakAtEnd // its session ended: the marks as they were then
	}
	shown := s.w.marks.shown
	if before {
		shown = s.prevShown
	}
	if shown == [3]bool{} {
		return false // no LEAK open: the stream's cache lines are not read
	}
	w := &st.watch
	if !w.leaked || !st.state.Live() || !shown[w.kind] {
		return false
	}
	if !before {
		return st.excused != uint32(s.w.eng.seen)
	}
	if s.crossedAt == asOf+1 && w.first >= s.crossedFrom {
		return false // counted by the evaluation after asOf
	}
	gen := uint32(asOf)
	return st.excused != gen && !(st.excused == gen+1 && st.excusedRun)
}

// sessionLeaks is what a session's open LEAK findings count.
type sessionLeaks struct {
	session uint64
	n       int
}

// evaluatedAt returns when the latest Evaluate ran, zero if none has.
func (e *engine) evaluatedAt() time.Time {
	if ns := e.lastEval.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

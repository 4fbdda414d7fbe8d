package live

import (
	"slices"
	"time"
)

// The suspected leaks the front ends show are LEAK's: the streams its
// open findings count, as of the latest evaluation, per session and in
// all (SessionSnap.Leaks, Snapshot.Leaks), and which streams they are
// (StreamSnap.Leak). Streams as old that another finding explains
// (SESSION_BLOCKED, WINDOW_STALL, UNANSWERED, a late answer:
// explainedLeaks) are in neither. Front ends read them; they evaluate
// nothing.
//
// The evaluation publishes each session's count and marks (leakMarks)
// with its findings, in one view: a snapshot reads the marks of the
// evaluation whose findings it shows, though the next one runs. Before,
// a snapshot taken while an evaluation ran marked, for one refresh, the
// streams of the running evaluation beside the counts of the finished one.

// leakMarks is which streams an evaluation found a session's open LEAK
// findings to count: those it had counted as leaks (serial below
// countedTo) that are still live, of a kind (leakKind) with a LEAK open,
// and that no other finding explained (excused: serials, ascending).
// Immutable once published.
type leakMarks struct {
	countedTo uint64
	shown     [numLeakKinds]bool // heldKind's never: no LEAK counts a setup stream held open
	excused   []uint64
}

// marks says whether st is among the streams m's LEAK findings count.
// The data path may have closed it since (it is then no leak), or
// half-closed it (it is then of its new kind). A stream that ended with
// its session keeps the mark it had at the end, whatever m. m may be nil:
// no LEAK open. s.mu is held.
func (m *leakMarks) marks(st *stream) bool {
	if st.state == EndedWithSession {
		return st.watch.leakAtEnd // its session ended: the marks as they were then
	}
	if m == nil || !st.watch.listed[liveList] || st.serial >= m.countedTo || !m.shown[st.leakKind()] {
		return false // with no LEAK open, the stream's cache lines are not read
	}
	_, excused := slices.BinarySearch(m.excused, st.serial)
	return !excused
}

// markLeaks ends an evaluation of s, its open findings settled, one of
// them a LEAK: it returns what they count and the streams they count,
// with excused the serials of the streams another finding explained.
// Marks equal to the previous evaluation's are its value
// (sessionWatch.marks), so that snapshots reuse the streams' pictures.
// s.mu is held.
func (s *Session) markLeaks(excused []uint64) (count int, m *leakMarks) {
	w := &s.w
	var shown [numLeakKinds]bool
	for _, f := range w.eng.open {
		if f.Code == CodeLeak {
			shown[findingLeakKind(f)] = true
			count += int(f.Evidence.Count)
		}
	}
	p := w.marks
	if p != nil && slices.Equal(p.excused, excused) {
		if p.countedTo == w.countedTo && p.shown == shown {
			return count, p
		}
		excused = p.excused
	} else {
		excused = slices.Clone(excused)
	}
	w.marks = &leakMarks{countedTo: w.countedTo, shown: shown, excused: excused}
	return count, w.marks
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

// sessionLeaks is what a session's open LEAK findings count, and which
// streams.
type sessionLeaks struct {
	session uint64
	n       int
	marks   *leakMarks
}

// evaluatedAt returns when the latest Evaluate ran as v was published,
// the instant its findings and leak counts are of; zero if none had.
func (v *findingsView) evaluatedAt() time.Time {
	if v.evaluated != 0 {
		return time.Unix(0, v.evaluated)
	}
	return time.Time{}
}

// leakIDs returns the ids of the streams LEAK f counts, as m marks them,
// and their first bytes (Finding.Heads): oldest first, at most
// MaxStreamIDs. The counted streams are the live list's first
// (countLeaks); the walk stops at the last it names, or f's count. s.mu
// is held.
func (s *Session) leakIDs(f *Finding, m *leakMarks) ([]uint32, [][2]FirstBytes) {
	k := findingLeakKind(f)
	want := min(f.Evidence.Count, MaxStreamIDs)
	ids := make([]uint32, 0, want)
	heads := make([][2]FirstBytes, 0, want)
	n := 0
	for st := s.w.lists[liveList].head; st != nil && st.watch.leaked && uint64(len(ids)) < want && n < maxWalk; st, n = st.watch.links[liveList].next, n+1 {
		if st.leakKind() == k && m.marks(st) {
			ids = append(ids, st.id)
			heads = append(heads, st.head)
		}
	}
	return ids, heads
}

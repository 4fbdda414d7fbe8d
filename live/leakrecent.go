package live

import (
	"cmp"
	"math"
	"slices"
	"time"
)

// LEAK's walk (explainedLeaks) looks at every counted stream for an
// excuse, at each evaluation where one may apply: while any counted
// stream carried a frame within LeakAfter, so while streams still cross
// the cutoff. A session leaking steadily was walked whole ten times a
// second: a capture of 300 sessions leaking 1 000 streams each spent
// two thirds of its time there. Outside a full window and an open
// WINDOW_STALL, an excuse applies only to a stream whose leak clock is
// recent, or whose smux v1 reader may have read what it was sent only
// lately (recentKey, recentFloor), or that UNANSWERED's or NO_REPLY's
// list holds: the walk then looks at those alone (recentLeaks), and the
// others, which nothing can excuse, count as they would have.

// maxListed is the most streams the wait and reply lists may hold
// together for the walk to look at the recent streams alone, and
// maxRecent the most entries recent holds: beyond them the full walk is
// as cheap.
const (
	maxListed = 1 << 10
	maxRecent = 1 << 12
)

// recentRef is a stream of sessionWatch.recent, with the serial it had
// then: a reused struct is another stream.
type recentRef struct {
	st     *stream
	serial uint64
}

// recentFloor is the recentKey (Unix ns) at or before which no excuse
// other than a full window's or a listed stream's (UNANSWERED's wait
// list, NO_REPLY's reply list) applies to a counted stream at ns: in use
// (active) needs a leak clock after the leak cutoff; a reader that reads
// a little at a time (holds) a report, a frame, within half StallAfter;
// an smux v1 reader that may still read (drainedAt) a drain after ns; a
// silent side (silenced) a deadline, the clock plus LeakAfter or the
// drain if later, after its last frame, or, before a yamux session's
// first ping, after graceCut.
func recentFloor(ns int64, cfg *FindingsConfig, ex *leakExcuses) int64 {
	floor := min(ex.leakCut, ns-int64(cfg.StallAfter/2))
	if from := min(ex.silentAt[0], ex.silentAt[1]); from != math.MaxInt64 {
		floor = min(floor, from-int64(ex.leakAfter))
	}
	if ex.graceCut != math.MaxInt64 {
		floor = min(floor, ex.graceCut-int64(ex.leakAfter))
	}
	return floor
}

// recentKey is what recentFloor bounds of a counted stream: its leak
// clock, or its drainedAt less LeakAfter if later.
func recentKey(clock, drained int64, leakAfter time.Duration) int64 {
	return max(clock, drained-int64(leakAfter))
}

// noteRecent adds st, counted as a leak, to recent where key, its
// recentKey, is past the floor: on the record path, a compare and, for
// a stream's frames in a row, one store. s.mu is held.
func (w *sessionWatch) noteRecent(st *stream, key int64) {
	if !w.recentOK || key <= w.recentFloor {
		return
	}
	if n := len(w.recent); n > 0 && w.recent[n-1].st == st && w.recent[n-1].serial == st.serial {
		return
	}
	if !w.addRecent(st) {
		w.dropRecent()
	}
}

// addRecent adds st to recent, unless it holds maxRecent already.
func (w *sessionWatch) addRecent(st *stream) bool {
	if len(w.recent) >= maxRecent {
		return false
	}
	w.recent = append(w.recent, recentRef{st, st.serial})
	return true
}

// dropRecent empties recent: it holds nothing known until a full walk
// fills it again. s.mu is held.
func (w *sessionWatch) dropRecent() {
	if len(w.recent) >= maxRecent {
		w.recent = nil // no more memory held than a walk needs
	}
	clear(w.recent)
	w.recent, w.recentOK = w.recent[:0], false
}

// recentLeaks returns, in SYN order, the counted streams an excuse may
// apply to at an evaluation whose recentFloor is floor, where they are
// known and the full walk would see every counted stream: those of
// recent still counted with a recentKey past floor, and those the wait
// and reply lists hold. nil: walk them all. Only where none but these
// can have an excuse: no flow is at its window and no WINDOW_STALL is
// open (holds); and where some stream has a leak clock past floor, so
// that the latest of theirs is leakActive exactly, and their latest
// drainedAt by kind drainUntil wherever it is still to come. s.mu is
// held.
func (s *Session) recentLeaks(floor int64, ex *leakExcuses) []*stream {
	w := &s.w
	if !w.recentOK || w.noRecent || floor < w.recentFloor ||
		s.atWindow > 0 || w.eng.openCodes&(1<<CodeWindowStall) != 0 ||
		w.leaked[0]+w.leaked[1]+w.leaked[2]+w.leaked[heldKind] > maxWalk ||
		w.lists[waitList].n+w.lists[replyList].n > maxListed {
		return nil
	}
	// Past the floor only: the rest have gone idle for good, or until
	// their next frame (leakFrame) adds them again.
	w.recentFloor = floor
	kept := w.recent[:0]
	var latest int64 // the latest leak clock kept
	for _, r := range w.recent {
		st := r.st
		if clock := st.leakClock(); st.serial == r.serial && st.watch.leaked && recentKey(clock, s.drainedAt(st), ex.leakAfter) > floor {
			kept = append(kept, r)
			latest = max(latest, clock)
		}
	}
	clear(w.recent[len(kept):])
	slices.SortFunc(kept, func(a, b recentRef) int { return cmp.Compare(a.serial, b.serial) })
	kept = slices.Compact(kept)
	w.recent = kept
	if latest <= floor {
		return nil
	}
	sts := w.recentScratch[:0]
	for _, r := range kept {
		sts = append(sts, r.st)
	}
	for _, l := range []int{waitList, replyList} {
		for st := w.lists[l].head; st != nil; st = st.watch.links[l].next {
			if st.watch.leaked {
				sts = append(sts, st)
			}
		}
	}
	slices.SortFunc(sts, func(a, b *stream) int { return cmp.Compare(a.serial, b.serial) })
	sts = slices.Compact(sts)
	w.recentScratch = sts
	w.recentWalks++
	return sts
}

// explainRecent is explainedLeaks over sts alone (recentLeaks): the
// streams not among them nothing explains. s.mu is held.
func (s *Session) explainRecent(sts []*stream, oldest *[numLeakKinds]leakRef, now time.Time, cfg *FindingsConfig, ex *leakExcuses, leakOpen *[numLeakKinds]bool) (explained [numLeakKinds]uint64) {
	var active int64                 // the latest leak clock among them
	var draining [numLeakKinds]int64 // and drainedAt, by kind
	from := len(*ex.excused)
	for _, st := range sts {
		k := st.watch.kind
		clock := st.leakClock()
		active = max(active, clock)
		drained := s.drainedAt(st)
		draining[k] = max(draining[k], drained)
		if excused, inUse := s.excuse(st, clock, drained, now, cfg, ex, leakOpen[k]); excused {
			explained[k]++
			if inUse {
				s.w.leakInUse[k]++
			}
			*ex.excused = append(*ex.excused, st.serial) // not among LEAK's streams: no leak mark (leakmarks.go)
		}
	}
	// Each kind's oldest leak is its first stream in SYN order that
	// nothing explains, as the full walk finds it: of the kinds a LEAK
	// may count (candidates reads no other) with such a stream. Where
	// every stream of a kind is explained, none: the walk would go
	// through them all, and the full walk leaves its oldest as it is.
	mine := (*ex.excused)[from:]
	var want, found [numLeakKinds]bool
	for k := range want[:heldKind] {
		want[k] = s.w.leaked[k] > explained[k]
	}
	for st := s.w.lists[liveList].head; st != nil && st.watch.leaked && found != want; st = st.watch.links[liveList].next {
		k := st.watch.kind
		if found[k] {
			continue
		}
		if _, excused := slices.BinarySearch(mine, st.serial); excused {
			continue
		}
		found[k] = true
		if oldest[k].st != st {
			oldest[k] = refOf(st)
		}
	}
	// As the full walk leaves them: every counted stream not among sts
	// has a leak clock at or before the floor, before the latest of
	// theirs, and a drainedAt no later than the evaluation's time (which
	// drainUntil is as good as), or before the latest of theirs.
	s.w.leakActive, s.w.drainUntil = active, draining
	return explained
}

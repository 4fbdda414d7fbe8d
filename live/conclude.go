package live

import (
	"cmp"
	"slices"
	"time"
)

// Conclude is the last evaluation of what has no more to give, such as a
// capture read to its end: Evaluate at now, then what the evaluation after
// it would do to the sessions that ended, which is to resolve their open
// findings ("the session ended"). Live, a finding that opens as its
// session's end is first seen (a framing violation, data after close) is
// resolved by the next evaluation; at the end of a capture no evaluation
// comes next, and it stayed open in the summary, the header's counts and
// muxtop_findings_open, though its session had ended. The sessions still
// live keep theirs.
func (r *Registry) Conclude(now time.Time, cfg FindingsConfig) {
	r.Evaluate(now, cfg)
	e := &r.eng
	cfg = cfg.withDefaults()
	e.mu.Lock()
	defer e.mu.Unlock()
	r.mu.Lock()
	e.sessions = r.tracked(e.sessions[:0])
	r.mu.Unlock()
	ns := now.UnixNano()
	for _, s := range e.sessions {
		s.mu.Lock()
		over := s.ended && s.w.eng.endSeen && len(s.w.eng.open) > 0
		s.mu.Unlock()
		if over {
			// An ended session the evaluation has seen ended has no
			// candidates: session resolves every finding it has open.
			e.session(r, s, now, ns, &cfg)
		}
	}
	clear(e.sessions)
	if e.dirty {
		e.publish()
	}
}

// ResolveEnded resolves the open findings of the sessions that have ended,
// without evaluating them again: the end of a live run, whose last
// evaluation came before the watched system's shutdown ended its
// sessions. Conclude would evaluate the shutdown itself (a reply the
// shutdown cut after a FIN is DATA_AFTER_CLOSE), which is not the
// system's doing. A session that ended on its own, before stopped (when
// muxtop's stop began), resolves as the next evaluation would resolve it,
// "the session ended (…)", with what that evaluation would have found as
// it first saw the end, where none had (engine.seeEnd): a framing
// violation's finding opened, or given its final evidence, and late data
// counted. One that muxtop's stop ended — reason Shutdown, or an end at
// or after stopped (the demo's own sessions, closed as it stops) — did
// not stop holding: its findings resolve "muxtop stopped watching (…):
// still holding then", Unwatched, which a summary counts open at the end
// (Snapshot.Unwatched); of what it did since the last evaluation, only
// what came before stopped opens a finding, as an evaluation at stopped
// would have opened it. A finding of no one session (CHURN) stays open, as do those of
// sessions still live. It may come with no evaluation before it.
func (r *Registry) ResolveEnded(now, stopped time.Time) {
	e := &r.eng
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.open == nil {
		e.open = make(map[uint64]openFinding)
	}
	e.seeEnds(r, now, stopped)
	type ended struct {
		of        openFinding
		why       string
		unwatched bool
	}
	var over []ended
	for _, of := range e.open {
		if of.s == nil {
			continue
		}
		of.s.mu.Lock()
		if of.s.ended {
			if of.s.byStop(stopped) {
				over = append(over, ended{of, of.s.unwatchedWhy(), true})
			} else {
				over = append(over, ended{of, endedWhy(of.f, of.s.endWhy(), of.s.openTimedOut), false})
			}
		}
		of.s.mu.Unlock()
	}
	slices.SortFunc(over, func(a, b ended) int { return cmp.Compare(a.of.f.ID, b.of.f.ID) })
	for _, o := range over {
		e.apply(r, change{old: o.of.f, new: nil, s: o.of.s, unwatched: o.unwatched}, now, o.why)
		// Every finding of an ended session resolves here: its own open
		// set is empty, and its end dealt with, so that an evaluation after
		// this one neither resolves them again nor opens the session's
		// framing findings anew.
		s := o.of.s
		s.mu.Lock()
		es := &s.w.eng
		clear(es.open)
		es.open, es.told, es.openCodes, es.endSeen = es.open[:0], es.told[:0], 0, true
		s.mu.Unlock()
	}
	if e.dirty {
		e.publish()
	}
}

// byStop says whether the ended session s was ended by muxtop's stop,
// which began at stopped: reason Shutdown, or an end at or after it.
// s.mu is held.
func (s *Session) byStop(stopped time.Time) bool {
	return s.reason == Shutdown || !s.end.Before(stopped)
}

// seeEnds does, for every session that has ended with no evaluation
// having seen it ended, what the evaluation that first sees its end does
// (seeEnd), before ResolveEnded resolves their findings: the findings the
// end opens open, in session order, and the open framing findings take
// their final evidence. Before, a run stopped between a session's end and
// the next evaluation lost them: an HTTP client's violation, refused by
// smux, which closed, had no finding at all, the run's summary and
// metrics 0 findings; and a PROTOCOL finding already open resolved with
// the evidence of the evaluation that saw the request alone, critical,
// for two ends that were fine. For a session muxtop's stop ended, only
// what came before stopped. The sessions are the Registry's and, where
// forgotten since the last evaluation, those of open findings. e.mu is
// held.
func (e *engine) seeEnds(r *Registry, now, stopped time.Time) {
	r.mu.Lock()
	e.sessions = r.tracked(e.sessions[:0])
	r.mu.Unlock()
	for _, of := range e.open {
		if of.s != nil {
			e.sessions = append(e.sessions, of.s) // forgotten since the last evaluation, or again
		}
	}
	slices.SortFunc(e.sessions, func(a, b *Session) int { return cmp.Compare(a.id, b.id) })
	e.sessions = slices.Compact(e.sessions)
	ns := now.UnixNano()
	var changes []change
	for _, s := range e.sessions {
		s.mu.Lock()
		es := &s.w.eng
		if !s.ended || es.endSeen {
			s.mu.Unlock()
			continue
		}
		cut := int64(0)
		if s.byStop(stopped) {
			cut = stopped.UnixNano()
		}
		e.cands, e.changes = e.cands[:0], e.changes[:0]
		e.seeEnd(s, ns, cut)
		changes = append(changes, e.changes...)
		for i := range e.cands {
			f, t := e.open1(s, &e.cands[i], now, ns)
			es.open, es.told = append(es.open, f), append(es.told, t)
			es.openCodes |= 1 << f.Code
			changes = append(changes, change{new: f, s: s})
		}
		s.mu.Unlock()
	}
	clear(e.sessions)
	clear(e.cands)
	clear(e.changes)
	e.cands, e.changes = e.cands[:0], e.changes[:0]
	// The last words by finding, then the findings opened, in the order
	// of their IDs.
	slices.SortFunc(changes, func(a, b change) int { return cmp.Compare(a.new.ID, b.new.ID) })
	for _, c := range changes {
		e.apply(r, c, now, "")
	}
}

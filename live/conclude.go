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
	e.sessions = append(e.sessions[:0], r.sessions...)
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
// "the session ended (…)". One that muxtop's stop ended — reason
// Shutdown, or an end at or after stopped (the demo's own sessions,
// closed as it stops) — did not stop holding: its findings resolve
// "muxtop stopped watching (…): still holding then", Unwatched, which a
// summary counts open at the end (Snapshot.Unwatched). A finding of no
// one session (CHURN) stays open, as do those of sessions still live.
func (r *Registry) ResolveEnded(now, stopped time.Time) {
	e := &r.eng
	e.mu.Lock()
	defer e.mu.Unlock()
	e.lastWords(r, now)
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
			if of.s.reason == Shutdown || !of.s.end.Before(stopped) {
				over = append(over, ended{of, of.s.unwatchedWhy(), true})
			} else {
				over = append(over, ended{of, of.s.endWhy(), false})
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

// lastWords gives the open framing findings of every session that ended
// since the last evaluation their final evidence, as the evaluation that
// first sees a session ended does (engine.lastWord), before ResolveEnded
// resolves them: the other end may have answered since that evaluation.
// Before, a run stopped between a session's end and the next evaluation
// (attach stopped right after an HTTP client's request was answered and
// its connection closed) resolved its PROTOCOL finding critical, with the
// evidence of the evaluation that saw the request alone, no update told,
// and MuxtopProtocolViolation paged for two ends that were fine. e.mu is
// held.
func (e *engine) lastWords(r *Registry, now time.Time) {
	ns := now.UnixNano()
	var ups []change
	done := make(map[*Session]bool) // a session's last word is given once: 10 000 HTTP sessions made a search per finding quadratic
	for _, of := range e.open {
		s := of.s
		if s == nil || (of.f.Code != CodeProtocol && of.f.Code != CodeVersionMismatch) || done[s] {
			continue
		}
		done[s] = true
		s.mu.Lock()
		if s.ended && !s.w.eng.endSeen {
			e.changes = e.changes[:0]
			e.finals, _ = s.framingCandidates(e.finals[:0])
			e.lastWord(s, ns)
			ups = append(ups, e.changes...)
		}
		s.mu.Unlock()
	}
	clear(e.changes)
	e.changes = e.changes[:0]
	slices.SortFunc(ups, func(a, b change) int { return cmp.Compare(a.new.ID, b.new.ID) })
	for _, c := range ups {
		e.apply(r, c, now, "")
	}
}

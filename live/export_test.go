package live

import "time"

// CheckSnapshots makes r's snapshots hand check each session's picture,
// as they take it (reused or not), and the same picture built anew,
// under the session's lock: a reused picture must equal the fresh one.
// Call it before r is used.
func CheckSnapshots(r *Registry, check func(got, fresh *SessionSnap)) { r.checkSnap = check }

// PileCounts returns SESSION_LEAK's counts at r's latest evaluation,
// over the groups one of whose sessions it noted: the piled sessions
// (those dialed together counted once), and those piled at the
// evaluation before that are piled no more and still live: used again
// (a stream opened T or more after their start: a pool's members), or
// busy again.
func PileCounts(r *Registry) (piled, reused uint64) {
	e := &r.eng
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, g := range e.pileGroups {
		if g.evals == e.evals {
			piled += g.piled
			reused += g.reused
		}
	}
	return piled, reused
}

// PingCadence is the second-ping rule (pingCadence) of a session muxtop
// saw begin: whether a yamux side's first ping, first into the session,
// and its second, second after the first's answer, make a keepalive
// cadence.
func PingCadence(first, second time.Duration) bool {
	return pingCadence(2, false, int64(first), int64(second))
}

// Reading says whether s's tapped end is in a Read of d's bytes
// (ReadStarted, its ReadDone yet to come): one with nothing more to
// read stays there, and no evaluation finds its reader stopped.
func Reading(s *Session, d Dir) bool { return s.w.reads[d&1].Load()&1 == 1 }

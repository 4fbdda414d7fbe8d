package live

// CheckSnapshots makes r's snapshots hand check each session's picture,
// as they take it (reused or not), and the same picture built anew,
// under the session's lock: a reused picture must equal the fresh one.
// Call it before r is used.
func CheckSnapshots(r *Registry, check func(got, fresh *SessionSnap)) { r.checkSnap = check }

// PileCounts returns SESSION_LEAK's counts at r's latest evaluation,
// over the groups one of whose sessions it noted: the piled sessions,
// and those piled at the evaluation before that have been used again
// since, after an idle gap (a pool's members).
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

package live

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestEndedForgetLinear: ending n sessions, in a shuffled order, looks at O(n)
// sessions to forget the ended ones beyond Config.EndedSessions, as a stop
// ends every session at once. Each end walked every tracked session once
// more than EndedSessions had ended: 9 000 sessions ended in 0.3 s at a
// stop where 1 000 took 4 ms (BenchmarkStop). The visits are counted, not
// timed.
func TestEndedForgetLinear(t *testing.T) {
	const n = 4000
	at := time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)
	reg := New(Config{})
	ss := make([]*Session, n)
	for i := range ss {
		ss[i] = reg.Open(SessionInfo{}, at)
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(n, func(i, j int) { ss[i], ss[j] = ss[j], ss[i] })
	for _, s := range ss {
		s.End(at, Shutdown, nil)
	}
	reg.mu.Lock()
	visits := reg.visits
	reg.mu.Unlock()
	if most := uint64(4 * n); visits > most {
		t.Errorf("ending %d sessions looked at %d sessions to forget %d of them, want at most %d: O(1) an end, O(n) a stop",
			n, visits, n-DefaultEndedSessions, most)
	}
	snap := reg.Snapshot()
	if got, want := snap.Forgotten.Sessions, uint64(n-DefaultEndedSessions); got != want {
		t.Errorf("%d sessions forgotten, want %d", got, want)
	}
	if len(snap.Sessions) != DefaultEndedSessions || snap.Sessions[0].ID != n-DefaultEndedSessions+1 {
		t.Errorf("%d sessions kept from #%d, want the latest %d", len(snap.Sessions), snap.Sessions[0].ID, DefaultEndedSessions)
	}
}

// TestEndedForgetOrder: with sessions opening and ending in a random
// order, the registry keeps, after every end, the ended sessions of the
// highest ids up to EndedSessions and every live one, in id order, as a
// walk of the sessions that forgot the first ended ones kept them;
// Session finds exactly those, and Forgotten counts the rest.
func TestEndedForgetOrder(t *testing.T) {
	const bound = 10
	at := time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)
	reg := New(Config{EndedSessions: bound})
	rnd := rand.New(rand.NewPCG(3, 4))
	var live, all []*Session
	ended := map[uint64]bool{}
	var forgotten []uint64
	for step := range 600 {
		if len(live) == 0 || step < 500 && rnd.IntN(3) != 0 {
			s := reg.Open(SessionInfo{}, at)
			live, all = append(live, s), append(all, s)
			continue
		}
		i := rnd.IntN(len(live))
		s := live[i]
		live = slices.Delete(live, i, i+1)
		s.End(at, Shutdown, nil)
		// The model: the ended sessions kept are the last bound by id.
		ended[s.ID()] = true
		var kept []uint64
		for _, o := range all {
			if ended[o.ID()] && !slices.Contains(forgotten, o.ID()) {
				kept = append(kept, o.ID())
			}
		}
		if len(kept) > bound {
			forgotten = append(forgotten, kept[:len(kept)-bound]...)
		}
		var want []uint64
		for _, o := range all {
			if !slices.Contains(forgotten, o.ID()) {
				want = append(want, o.ID())
			}
		}
		// Session first: a snapshot takes the forgotten ones out of the
		// registry's list.
		for _, o := range all {
			if found := reg.Session(o.ID()) != nil; found == slices.Contains(forgotten, o.ID()) {
				t.Fatalf("step %d: Session(%d) found %v", step, o.ID(), found)
			}
		}
		snap := reg.Snapshot()
		var got []uint64
		for _, ss := range snap.Sessions {
			got = append(got, ss.ID)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("step %d: sessions %v, want %v", step, got, want)
		}
		if f := snap.Forgotten.Sessions; f != uint64(len(forgotten)) {
			t.Fatalf("step %d: %d forgotten, want %d", step, f, len(forgotten))
		}
	}
}

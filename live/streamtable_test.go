package live

import (
	"math/rand/v2"
	"testing"
)

// TestStreamTable checks the table against a map under random puts,
// removes and walks, with ids in smux's increasing order and at random,
// so that slots collide, the array grows to its bound and streams spill
// into the map.
func TestStreamTable(t *testing.T) {
	for _, tc := range []struct {
		name string
		next func(r *rand.Rand, n uint32) uint32
	}{
		{"increasing", func(_ *rand.Rand, n uint32) uint32 { return 2*n + 1 }},
		{"random", func(r *rand.Rand, _ uint32) uint32 { return r.Uint32() }},
		{"one slot", func(_ *rand.Rand, n uint32) uint32 { return n * maxStreamSlots }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			var tab streamTable
			model := map[uint32]*stream{}
			var order []uint32
			for n := range uint32(20_000) {
				id := tc.next(r, n)
				if _, ok := model[id]; !ok && r.IntN(3) > 0 {
					st := &stream{id: id}
					tab.put(st)
					model[id] = st
					order = append(order, id)
				}
				if len(order) > 0 && (r.IntN(3) == 0 || len(model) > 3000) {
					// Remove the oldest, as the closed queue folds.
					id, order = order[0], order[1:]
					tab.remove(model[id])
					delete(model, id)
				}
				if got := tab.get(id); got != model[id] {
					t.Fatalf("get(%d) = %p, want %p", id, got, model[id])
				}
				if tab.len() != len(model) {
					t.Fatalf("len = %d, want %d", tab.len(), len(model))
				}
			}
			for id, st := range model {
				if tab.get(id) != st {
					t.Fatalf("get(%d) lost", id)
				}
			}
			// A walk that removes every stream it sees sees each once.
			seen := map[uint32]bool{}
			for st := range tab.all() {
				if seen[st.id] {
					t.Fatalf("stream %d yielded twice", st.id)
				}
				seen[st.id] = true
				tab.remove(st)
			}
			if len(seen) != len(model) || tab.len() != 0 {
				t.Fatalf("walk saw %d of %d, %d left", len(seen), len(model), tab.len())
			}
		})
	}
}

// TestStreamTableLongLived: a session that holds one stream open for
// long while it serves others, a window of a few dozen, does not double
// its slot array to the bound as the window's ids come round to the
// long-lived stream's slot: the colliding stream goes to the map.
func TestStreamTableLongLived(t *testing.T) {
	var tab streamTable
	tab.put(&stream{id: 3}) // held open
	var window []*stream
	for n := range uint32(20_000) {
		st := &stream{id: 5 + 2*n}
		tab.put(st)
		window = append(window, st)
		if len(window) > 42 {
			tab.remove(window[0])
			window = window[1:]
		}
	}
	if tab.get(3) == nil || tab.len() != 43 {
		t.Fatalf("the table holds %d streams, stream 3 %v; want 43 and stream 3", tab.len(), tab.get(3) != nil)
	}
	if len(tab.slots) > 256 {
		t.Errorf("%d slots for 43 streams, want at most 256", len(tab.slots))
	}
	for _, st := range window {
		if tab.get(st.id) != st {
			t.Fatalf("stream %d of the window is not found", st.id)
		}
	}
	if len(tab.extra) == 0 {
		t.Errorf("no stream in the map: the long-lived stream's slot never collided")
	}
}

package live

import (
	"cmp"
	"slices"
	"testing"

	"github.com/muxtop/muxtop/decoder"
)

// checkAsideOrder fails t unless s's aside list holds exactly the streams
// of want (by id), in SYN order (watch.first), with consistent links,
// tail, count and headAt; streams with the same SYN time come in the
// order they were opened (serial) within one loss's set.
func checkAsideOrder(t *testing.T, s *Session, want map[uint32]bool) {
	t.Helper()
	l := &s.w.lists[asideList]
	var prev *stream
	got := 0
	for st := l.head; st != nil; st = st.watch.links[asideList].next {
		if st.watch.links[asideList].prev != prev {
			t.Fatalf("stream %d's prev is not the one before it", st.id)
		}
		if !st.watch.listed[asideList] || st.watch.listed[liveList] {
			t.Fatalf("stream %d: listed %v", st.id, st.watch.listed)
		}
		if !want[st.id] {
			t.Fatalf("stream %d set aside, not among those expected", st.id)
		}
		if prev != nil && prev.watch.first > st.watch.first {
			t.Fatalf("stream %d (SYN %d) after stream %d (SYN %d): not in SYN order", st.id, st.watch.first, prev.id, prev.watch.first)
		}
		got++
		prev = st
	}
	if got != len(want) || l.n != got || l.tail != prev || l.head != nil && l.headAt != l.head.watch.first {
		t.Fatalf("aside list: %d streams walked, n %d, want %d; tail ok %v", got, l.n, len(want), l.tail == prev)
	}
}

// TestResyncedAsideOrder: a loss sets aside every live stream the lost
// direction could change, into the aside list in SYN order, whatever
// the order of the stream table (ids by their low bits, then a map) and
// whatever the list held from an earlier loss. Streams open with ids
// descending as their SYN times rise, several to one instant, so that
// the table's order is not SYN order; a second loss, of the other
// direction, sets aside streams opened between the two, and some older
// than what the first one set aside come in among them.
func TestResyncedAsideOrder(t *testing.T) {
	reg := New(Config{})
	sessions, rec := leakSessions(reg, 1)
	s := sessions[0]
	const n = 3000
	want := map[uint32]bool{}
	for i := range n {
		sid := uint32(2*(n-i) + 1) // client-opened, odd ids, descending
		at := 1 + float64(i/4)/100 // four streams to an instant
		rec(0, at, ClientToServer, decoder.SYN, sid, "")
		rec(0, at, ClientToServer, decoder.PSH, sid, "GET /")
		if i%5 == 0 {
			// The client closed its side: a loss of the client's
			// bytes does not set it aside (smux v2: it is marked
			// incomplete but stays watched).
			rec(0, at, ClientToServer, decoder.FIN, sid, "")
		} else {
			want[sid] = true
		}
	}
	s.Resynced(ClientToServer, leakSec(100), 1000, 0, 24, "capture lost 24 bytes")
	checkAsideOrder(t, s, want)
	for st := range s.streams.all() {
		if st.state != Closed && !want[st.id] && !st.watch.listed[liveList] {
			t.Fatalf("stream %d with the client's FIN left the live list", st.id)
		}
	}
	// More streams, opened after the loss, server-opened (even ids,
	// descending), two to an instant.
	for i := range 1000 {
		sid := uint32(2*(1000-i) + 10000)
		at := 101 + float64(i/2)/100
		rec(0, at, ServerToClient, decoder.SYN, sid, "")
		rec(0, at, ServerToClient, decoder.PSH, sid, "x")
	}
	// A loss of the server's bytes sets aside every live stream: those
	// left live above too, older than most the list holds.
	s.Resynced(ServerToClient, leakSec(200), 1000, 0, 24, "capture lost 24 bytes")
	want = map[uint32]bool{}
	for st := range s.streams.all() {
		if st.state != Closed {
			want[st.id] = true
		}
	}
	checkAsideOrder(t, s, want)
	if l := &s.w.lists[liveList]; l.head != nil || l.n != 0 {
		t.Fatalf("live list holds %d streams after a loss of the server's bytes", l.n)
	}
	// Streams set aside by the second loss come, among those of one
	// instant, in the order they were opened.
	for st := s.w.lists[asideList].head; st != nil; st = st.watch.links[asideList].next {
		if nx := st.watch.links[asideList].next; nx != nil && nx.watch.first == st.watch.first && nx.id%2 == 0 && st.id%2 == 0 && nx.serial < st.serial {
			t.Fatalf("streams %d and %d, opened at one instant, out of their order", st.id, nx.id)
		}
	}
}

// TestStreamListInsertSorted: insertSorted keeps a list in SYN order,
// a stream after those already in with the same SYN time, whether the
// streams come one at a time or sorted, at once: both lists are the
// streams stably sorted by SYN time.
func TestStreamListInsertSorted(t *testing.T) {
	mk := func(firsts ...int64) []*stream {
		var sts []*stream
		for i, f := range firsts {
			st := &stream{id: uint32(i)}
			st.watch.first = f
			sts = append(sts, st)
		}
		return sts
	}
	ids := func(l *streamList) []uint32 {
		var out []uint32
		var prev *stream
		for st := l.head; st != nil; st = st.watch.links[asideList].next {
			if st.watch.links[asideList].prev != prev {
				t.Fatalf("stream %d's prev is not the one before it", st.id)
			}
			out = append(out, st.id)
			prev = st
		}
		if l.tail != prev || l.n != len(out) || l.head != nil && l.headAt != l.head.watch.first {
			t.Fatalf("list tail/n/headAt inconsistent")
		}
		return out
	}
	for _, c := range []struct{ had, add []int64 }{
		{nil, []int64{1, 2, 2, 3}},
		{[]int64{5, 10, 20}, nil},
		{[]int64{5, 10, 20}, []int64{1, 1, 10, 10, 15, 20, 30}},
		{[]int64{5, 10, 20}, []int64{0}},
		{[]int64{5, 10, 20}, []int64{25, 26}},
	} {
		a, b := mk(append(c.had, c.add...)...), mk(append(c.had, c.add...)...)
		var la, lb streamList
		for k := range c.had {
			la.insertSorted([]*stream{a[k]}, asideList)
			lb.insertSorted([]*stream{b[k]}, asideList)
		}
		for _, st := range a[len(c.had):] {
			la.insertSorted([]*stream{st}, asideList)
		}
		lb.insertSorted(b[len(c.had):], asideList)
		all := append(slices.Clone(c.had), c.add...)
		want := make([]uint32, len(all))
		for k := range want {
			want[k] = uint32(k)
		}
		slices.SortStableFunc(want, func(x, y uint32) int { return cmp.Compare(all[x], all[y]) })
		if ga, gb := ids(&la), ids(&lb); !slices.Equal(ga, want) || !slices.Equal(gb, want) {
			t.Errorf("had %v add %v: one at a time gives %v, at once %v; want %v", c.had, c.add, ga, gb, want)
		}
	}
}

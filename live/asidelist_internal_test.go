package live

import "testing"

// TestStreamListInsert: insertSorted, one stream at a time, keeps a list
// in SYN order (watch.first) whatever order the streams come in: a loss sets
// aside the streams whose FIN it may hold, not every live one.
func TestStreamListInsert(t *testing.T) {
	var l streamList
	sts := make([]*stream, 6)
	for i, first := range []int64{30, 10, 50, 20, 60, 40} {
		sts[i] = &stream{id: uint32(i)}
		sts[i].watch.first = first
		l.insertSorted([]*stream{sts[i]}, asideList)
	}
	check := func(want ...int64) {
		t.Helper()
		var got []int64
		var prev *stream
		for st := l.head; st != nil; st = st.watch.links[asideList].next {
			if st.watch.links[asideList].prev != prev {
				t.Fatalf("stream %d's prev is not the one before it", st.id)
			}
			got = append(got, st.watch.first)
			prev = st
		}
		if l.tail != prev || l.n != len(want) || len(got) != len(want) || len(want) > 0 && l.headAt != want[0] {
			t.Fatalf("list %v (n %d, headAt %d); want %v", got, l.n, l.headAt, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("list %v; want %v", got, want)
			}
		}
	}
	check(10, 20, 30, 40, 50, 60)
	l.remove(sts[1], asideList) // the head
	l.remove(sts[4], asideList) // the tail
	check(20, 30, 40, 50)
	e := &stream{}
	e.watch.first = 5
	l.insertSorted([]*stream{e}, asideList)
	check(5, 20, 30, 40, 50)
}

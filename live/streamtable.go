package live

import "iter"

// Bounds of a streamTable's slot array.
const (
	minStreamSlots = 64   // 512 bytes per session
	maxStreamSlots = 4096 // 32 KiB, for a session that tracks thousands of streams
)

// streamTable finds a session's tracked streams by id. smux opens the ids
// of each side in increasing order, and a session tracks its open streams
// and the latest closed ones: the tracked ids of a side are a window of
// recent ids. So a slot array indexed by an id's low bits holds nearly all
// of them, and a stream whose slot a tracked stream already holds goes to a
// map. The array doubles on such a collision while it is more than a
// quarter full, up to maxStreamSlots.
//
// It replaces a map because that map was a cost of every stream: an insert
// and a delete each, on memory no longer in cache, about as much as the rest
// of recording the stream's frames.
type streamTable struct {
	slots []*stream
	extra map[uint32]*stream // streams whose slot another holds
	n     int
}

// len returns how many streams the table holds.
func (t *streamTable) len() int { return t.n }

// get returns the stream sid, or nil.
func (t *streamTable) get(sid uint32) *stream {
	if len(t.slots) > 0 {
		if st := t.slots[sid&uint32(len(t.slots)-1)]; st != nil && st.id == sid {
			return st
		}
	}
	if len(t.extra) > 0 {
		return t.extra[sid]
	}
	return nil
}

// put adds st, whose id the table does not hold.
func (t *streamTable) put(st *stream) {
	t.n++
	if t.slots == nil {
		t.slots = make([]*stream, minStreamSlots)
	}
	for {
		i := st.id & uint32(len(t.slots)-1)
		if t.slots[i] == nil {
			t.slots[i] = st
			return
		}
		// A sparse table's collision is a long-lived stream's slot that
		// the window of recent ids came round to: growing would not
		// clear it for long, and a session that holds one would double
		// its array to the bound, 32 KiB, while it tracks a few dozen.
		if len(t.slots) >= maxStreamSlots || t.n*4 <= len(t.slots) {
			if t.extra == nil {
				t.extra = make(map[uint32]*stream)
			}
			t.extra[st.id] = st
			return
		}
		t.grow()
	}
}

// grow doubles the slot array, moving into it the streams of the map whose
// slot is free.
func (t *streamTable) grow() {
	old := t.slots
	t.slots = make([]*stream, 2*len(old))
	mask := uint32(len(t.slots) - 1)
	for _, st := range old {
		if st != nil {
			t.slots[st.id&mask] = st // distinct in old, so distinct here
		}
	}
	for id, st := range t.extra {
		if i := id & mask; t.slots[i] == nil {
			t.slots[i] = st
			delete(t.extra, id)
		}
	}
}

// remove takes st out of the table.
func (t *streamTable) remove(st *stream) {
	if len(t.slots) > 0 {
		if i := st.id & uint32(len(t.slots)-1); t.slots[i] == st {
			t.slots[i] = nil
			t.n--
			return
		}
	}
	if t.extra[st.id] == st {
		delete(t.extra, st.id)
		t.n--
	}
}

// all yields the table's streams in no particular order. The loop's body
// may remove streams, the one yielded or others.
func (t *streamTable) all() iter.Seq[*stream] {
	return func(yield func(*stream) bool) {
		for _, st := range t.slots {
			if st != nil && !yield(st) {
				return
			}
		}
		for _, st := range t.extra {
			if !yield(st) {
				return
			}
		}
	}
}

// shrink rebuilds the table in the fewest slots that hold its streams as
// put would place them, for a session that tracks few streams after it
// tracked many: the slot array never shrinks otherwise.
func (t *streamTable) shrink() {
	if len(t.slots) <= minStreamSlots {
		return
	}
	var old []*stream
	for st := range t.all() {
		old = append(old, st)
	}
	*t = streamTable{}
	for _, st := range old {
		t.put(st)
	}
}

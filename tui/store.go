package tui

import (
	"sort"

	"github.com/muxtop/muxtop/live"
)

// frameStore is the UI's copy of the registry's history: a ring of records
// as large as the registry's, filled a tick at a time by reading from a
// cursor. Records are addressed by a local position that only grows, from
// 1, so a view can keep positions while old records are evicted.
//
// Payloads are copied into an arena of cap×snaplen bytes owned by the
// store; a Record returned by get is valid until the store evicts it.
type frameStore struct {
	recs    []live.Record
	arena   []byte
	snaplen int
	head    uint64 // oldest position held
	tail    uint64 // next position to fill
	next    uint64 // registry seq to read from
	copyRec func(*live.Record) bool
}

func newFrameStore(cfg live.Config) *frameStore {
	s := &frameStore{
		recs:    make([]live.Record, cfg.History),
		arena:   make([]byte, cfg.History*cfg.Snaplen),
		snaplen: cfg.Snaplen,
		head:    1, // position 0 means no record
		tail:    1,
		next:    1,
	}
	s.copyRec = s.copyMatch
	return s
}

// copyMatch stores a copy of r and selects nothing: it is the Match of the
// store's registry query, so records are copied once, straight from the
// registry's ring into this one, with no allocation per record. It runs
// under the registry's ring lock and does only a bounded copy.
func (s *frameStore) copyMatch(r *live.Record) bool {
	s.push(r)
	return false
}

// push copies r into the ring, evicting the oldest record when full.
func (s *frameStore) push(r *live.Record) {
	n := uint64(len(s.recs))
	if n == 0 {
		return
	}
	i := int(s.tail % n)
	dst := &s.recs[i]
	*dst = *r
	p := s.arena[i*s.snaplen : (i+1)*s.snaplen : (i+1)*s.snaplen]
	k := copy(p, r.Payload)
	dst.Payload = p[:k:k]
	s.tail++
	if s.tail-s.head > n {
		s.head++
	}
}

// get returns the record at pos, or nil if it is not held.
func (s *frameStore) get(pos uint64) *live.Record {
	if pos < s.head || pos >= s.tail {
		return nil
	}
	return &s.recs[int(pos%uint64(len(s.recs)))]
}

// ingest reads every record the registry added up to seq upTo (and any
// that arrive meanwhile) and returns the positions they now have.
func (s *frameStore) ingest(reg *live.Registry, upTo uint64) (from, to uint64) {
	from = s.tail
	if len(s.recs) == 0 {
		s.next = upTo
		return from, from
	}
	for s.next < upTo {
		_, next := reg.Frames(live.Query{From: s.next, Scan: len(s.recs), Match: s.copyRec}, nil)
		if next <= s.next {
			break
		}
		s.next = next
	}
	// History is in causal order already: the tap records a written frame
	// before its bytes can reach the peer.
	return max(from, s.head), s.tail
}

// frameView is the positions of the store's records that one scope and
// filter select, oldest first: the frames pane's list.
type frameView struct {
	key   viewKey
	match func(*live.Record) bool
	pos   []uint64
	start int // pos[start:] are the live entries
}

// viewKey identifies what a frameView selects.
type viewKey struct {
	scope  scope
	filter string
}

func (v *frameView) len() int { return len(v.pos) - v.start }

func (v *frameView) at(i int) uint64 { return v.pos[v.start+i] }

// add appends the positions in [from, to) that the view selects.
func (v *frameView) add(s *frameStore, from, to uint64) {
	for p := from; p < to; p++ {
		if v.match(s.get(p)) {
			v.pos = append(v.pos, p)
		}
	}
}

// trim drops the positions the store evicted and returns how many.
func (v *frameView) trim(head uint64) int {
	live := v.pos[v.start:]
	n := sort.Search(len(live), func(i int) bool { return live[i] >= head })
	v.start += n
	if v.start > 1024 && v.start > len(v.pos)/2 {
		k := copy(v.pos, v.pos[v.start:])
		v.pos = v.pos[:k]
		v.start = 0
	}
	return n
}

// index returns the index of the first entry at or after pos.
func (v *frameView) index(pos uint64) int {
	live := v.pos[v.start:]
	return sort.Search(len(live), func(i int) bool { return live[i] >= pos })
}

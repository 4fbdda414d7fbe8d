package live

import "unsafe"

// A record's cost on the data path is the cache lines it waits for: a
// tap records between socket calls, which leave little of the Registry in
// cache. Two of those lines are known before the record needs them, and a
// prefetch at the start of Session.Record lets them come in while it
// updates the session's state: the ring slot the record will most likely
// claim, and the closed stream a stream's second FIN may fold out of the
// session (it closed as many streams ago as the session keeps: closedCap),
// which Session.fin asks for once it has found the stream: asked for at
// every FIN, the closedCap and the closed queue's lines it reads cost the
// first FIN 40-80 ns and brought in nothing it used (a yamux record still
// asks at every FIN, before its lookup). A prefetch
// is only a hint: it reads and writes nothing, so it needs no lock and
// cannot race. The slot's address is reached from the session's first
// line (Session.hist) and the ring's: each line on the way is a wait of
// its own, ~50 ns after a socket call, before the session's lock can be
// taken (its atomic waits for every earlier load).

// prefetchNext starts bringing in the slots that the next two records
// will most likely claim: a feed often records two frames, and another
// feeder may claim one first.
func (h *history) prefetchNext() {
	if n := uint64(len(h.slots)); n > 0 {
		i := (h.last.Load() + 1) % n
		j := i + 1
		if j == n {
			j = 0
		}
		prefetch(unsafe.Pointer(&h.slots[i]), unsafe.Pointer(&h.slots[j]))
	}
}

// prefetchFold starts bringing in the closed stream that the next stream
// to close will fold into the summary. s.mu is held.
func (s *Session) prefetchFold() {
	if q := &s.closed; q.len() > 0 && q.len() >= s.closedCap() {
		p := unsafe.Pointer(q.sts[q.head])
		prefetch(p, unsafe.Add(p, 128)) // its first four lines: what fold adds up and clears
		// and its last two: trim reads folded before anything else
		last := unsafe.Add(p, foldedLine)
		prefetch(last, last)
	}
}

// foldedLine is the offset in a stream of the line before the one that
// holds folded, the stream's last.
const foldedLine = unsafe.Offsetof(stream{}.folded)&^63 - 64

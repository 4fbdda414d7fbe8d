package live

import "sync/atomic"

// waker wakes the reader of history when the ring is filling: a printer
// that drains on a timer alone loses records once a ring's worth arrives
// between two ticks.
//
// The data path pays one atomic load and compare per record: the reader
// arms the seq whose claim should wake it, and exactly one claim takes
// that seq. That claim sends on a channel of one, never blocking; no
// other record touches the channel.
type waker struct {
	ch chan struct{} // a pending wake; buffered 1
	at atomic.Uint64 // the seq whose claim wakes the reader; 0 while none is armed
}

// wakeFraction is the part of the ring a reader may fall behind before it
// is woken: a quarter, which leaves it three quarters of the ring to run.
const wakeFraction = 4

func newWaker() waker { return waker{ch: make(chan struct{}, 1)} }

// claimed is history.claim's hook, called with every claimed seq.
func (w *waker) claimed(seq uint64) {
	if seq == w.at.Load() {
		w.wake()
	}
}

func (w *waker) wake() {
	select {
	case w.ch <- struct{}{}:
	default: // a wake is already pending
	}
}

// Wake arms a wake-up for a reader of Frames that will read from seq next
// on, and returns the channel it arrives on. The channel receives once a
// quarter of the history ring has been recorded past next-1, that is when
// the reader has that much to catch up on, or at once if it already has.
// Each call re-arms for its own next, replacing the previous call's: one
// reader at a time. A wake can be stale (the reader drained meanwhile);
// reading then finds less to do. With no history the channel never
// receives.
//
// It costs the data path one atomic load per record, and never blocks it.
func (r *Registry) Wake(next uint64) <-chan struct{} {
	h := r.hist
	w := &h.wake
	if len(h.slots) == 0 {
		return w.ch
	}
	at := max(next, 1) - 1 + uint64(max(1, len(h.slots)/wakeFraction))
	w.at.Store(at)
	// A claim of at that loaded the old value before the Store has
	// already bumped last: the Load below sees it, and wakes instead.
	if h.last.Load() >= at {
		w.wake()
	}
	return w.ch
}

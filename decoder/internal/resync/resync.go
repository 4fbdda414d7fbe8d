// Package resync finds a frame boundary in a byte stream whose headers
// carry no mark of being one, for the smux and yamux decoders: it holds
// the bytes from where decoding began, takes the earliest position where
// Chain plausible headers chain as the boundary (or, where the bytes end,
// a shorter chain whose last frame ends exactly there), counts the bytes
// before it as skipped, and replays the held bytes through the decoder
// from there. Each decoder states its protocol's rule for a plausible
// header, and the search, in its documentation.
package resync

// Chain is how many plausible headers in a row make a frame boundary.
const Chain = 3

// Framer is a decoder as the search sees it: its protocol's rule and its
// own framing. A decoder implements it on a type of its own, so that these
// methods stay out of its API.
type Framer[F any] interface {
	// Plausible reports whether h, a whole header, is plausible in a chain
	// whose first header is first (h itself for the chain's first), and
	// returns the size of its frame, header included.
	Plausible(first, h []byte) (size int, ok bool)
	// Next is the decoder's Next, which the search calls with Resyncing
	// false to frame the bytes it held, and then the caller's.
	Next(p []byte) (int, *F, error)
	// Advance adds n bytes, skipped or lost, to the decoder's offset.
	Advance(n int64)
	// Drop abandons the frame the decoder has in progress and returns how
	// many of its bytes it consumed; ok is false, and nothing is dropped,
	// once the decoder has stopped. A frame a Gap ended (Lose took its
	// last payload bytes) is whole, not in progress: Drop keeps it for
	// Next, which frames it with no more bytes, and reports whole.
	Drop() (partial int64, whole, ok bool)
	// SetSkipped sets the Skipped of f, a copy of a frame Next returned.
	SetSkipped(f *F, n int64)
	// Lose takes n > 0 bytes lost inside the payload of the frame in
	// progress, when the decoder has not stopped, the frame's header is
	// whole and n is at most the payload bytes still to come: it adds
	// them to the offset, goes on with the frame (its bytes after them
	// end it as if nothing were lost) and returns true. Otherwise it
	// changes nothing and returns false.
	Lose(n int64) bool
}

// State is a decoder's state while it resynchronises, and its count of
// the bytes it skipped and lost. Make one with New.
type State[F any] struct {
	resyncing bool   // hunting, replaying what the hunt held, or skipping to a known boundary
	hunting   bool   // looking for a boundary: look[lookAt:] are the bytes from the decoder's offset on
	skipping  bool   // skipping ahead bytes to a boundary found before (Skip), then framing the first frame
	ahead     int64  // while skipping: the bytes still to skip
	flushing  bool   // Flush: no more bytes come before a Gap or End
	look      []byte // the bytes held; while replaying, look[lookAt:] are still to frame
	lookAt    int
	skip      int64 // bytes skipped since the last frame, for the next frame's Skipped
	skipped   int64 // every byte skipped
	lost      int64 // every byte lost (Gap)
	found     F     // the first frame after a resynchronisation, with its Skipped
	waiting   bool  // while resyncing: the decoder holds a frame a Gap ended (Drop kept it), which Next frames first
	waitSkip  int64 // while waiting: the bytes skipped before that frame, for its Skipped

	headerSize int // of the protocol
	window     int // the most bytes held: Chain frames of the largest plausible size
}

// New returns the State of a decoder whose headers take headerSize bytes
// and which holds at most window bytes while it looks for a boundary.
// window must hold Chain frames of the largest size Plausible accepts: a
// chain that cannot fit would be waited for forever, and Next would never
// return a frame or skip a byte.
func New[F any](headerSize, window int) State[F] {
	return State[F]{headerSize: headerSize, window: window}
}

// Resyncing reports whether the decoder's Next must call Next here: it
// hunts for a boundary or has held bytes to replay.
func (s *State[F]) Resyncing() bool { return s.resyncing }

// Held returns how many bytes the decoder holds for a resynchronisation.
func (s *State[F]) Held() int {
	if !s.resyncing {
		return 0
	}
	return len(s.look) - s.lookAt
}

// Buffered returns how many of the bytes held Next can frame now.
func (s *State[F]) Buffered() int {
	if s.hunting && !s.flushing {
		return 0 // nothing can be framed before more bytes come
	}
	return s.Held()
}

// Hunting reports whether the decoder is looking for a frame boundary.
func (s *State[F]) Hunting() bool { return s.hunting }

// Skipped returns how many bytes were skipped.
func (s *State[F]) Skipped() int64 { return s.skipped }

// Lost returns how many bytes Gap said were lost.
func (s *State[F]) Lost() int64 { return s.lost }

// Flush says that no more bytes come before a Gap or End, so that a hunt
// decides on what it holds. Without a hunt it does nothing.
func (s *State[F]) Flush() {
	if s.hunting {
		s.flushing = true
	}
}

// Resync abandons what the decoder holds (Abandon) and hunts for a frame
// boundary from its offset on, unless it has stopped.
func (s *State[F]) Resync(fr Framer[F]) {
	if s.Abandon(fr) {
		s.resyncing, s.hunting = true, true
	}
}

// Skip abandons what the decoder holds, as Resync does, and takes the
// next frame boundary to be n bytes on: Next skips the next n bytes
// without looking at them, and the first frame after them carries them in
// its Skipped, as a hunt's first frame does. It is for a boundary a hunt
// over the same bytes found earlier (a capture that held a connection's
// first bytes to learn where each direction's frames begin): the frames
// then come as their bytes do, not only once a chain of them has. Once
// the decoder has stopped it does nothing.
func (s *State[F]) Skip(n int64, fr Framer[F]) {
	if s.Abandon(fr) {
		s.resyncing, s.skipping, s.ahead = true, true, max(n, 0)
	}
}

// Gap counts n > 0 bytes as lost, in the decoder's offset too. Where
// they lie inside the payload of a frame whose header is whole, and end
// at the latest where it does, the next frame boundary is known: the
// decoder goes on with the frame (Framer.Lose) and Gap returns true.
// Otherwise it resynchronises after them as Resync does and returns
// false, as it does for any gap while the decoder hunts, replays held
// bytes or skips ahead to a known boundary (Skip). Past that boundary,
// the first frame's header whole, nothing is held: a gap in its payload
// resumes as one in step does, the frame still carrying the bytes
// skipped. A frame an earlier gap ended and Next has not yet framed
// stays whole through the resynchronisation (Drop), and Next returns it
// first, as it would have before this gap.
func (s *State[F]) Gap(n int64, fr Framer[F]) (resumed bool) {
	if n <= 0 {
		return false
	}
	s.lost += n
	if (!s.resyncing || s.skipping && s.ahead == 0) && fr.Lose(n) {
		return true
	}
	fr.Advance(n)
	s.Resync(fr)
	return false
}

// Abandon counts what the decoder holds, a frame in progress and the
// bytes of a resynchronisation, as skipped, and ends the
// resynchronisation. A frame a Gap ended is not in progress but whole:
// the decoder keeps it (Drop), and Next, once resyncing again, frames it
// first, with the bytes skipped before it. Once the decoder has stopped
// Abandon does nothing and returns false.
func (s *State[F]) Abandon(fr Framer[F]) bool {
	partial, whole, ok := fr.Drop() // already in the offset
	if !ok {
		return false
	}
	if whole && !s.waiting {
		s.waiting, s.waitSkip, s.skip = true, s.skip, 0
	}
	held := int64(s.Held())
	fr.Advance(held)
	s.skip += partial + held
	s.skipped += partial + held
	s.resyncing, s.hunting, s.flushing, s.skipping, s.ahead = false, false, false, false, 0
	s.look, s.lookAt = nil, 0
	return true
}

// Release ends the resynchronisation without framing the bytes it still
// holds, and returns how many there were: for a decoder that stops with
// them unread (Reject), which counts them as it counts its own.
func (s *State[F]) Release() int {
	held := s.Held()
	s.resyncing, s.hunting, s.flushing, s.skipping, s.ahead = false, false, false, false, 0
	s.look, s.lookAt = nil, 0
	return held
}

// Next is the decoder's Next while Resyncing: it hunts for a boundary in
// the bytes held and p, or replays the bytes it held.
func (s *State[F]) Next(p []byte, fr Framer[F]) (n int, f *F, err error) {
	if s.waiting {
		return s.frameWaiting(fr)
	}
	if s.skipping {
		return s.skipTo(p, fr)
	}
	for s.hunting {
		switch s.candidate(fr) {
		case reject:
			s.skipOne(fr)
			continue
		case accept:
			s.hunting = false
			f, err = s.replay(fr)
			return n, f, err
		}
		// more
		if s.flushing {
			if s.chainToEnd(fr) {
				s.hunting, s.flushing = false, false
				f, err = s.replay(fr)
				return n, f, err
			}
			if s.lookAt == len(s.look) { // nothing left: hunt on in what comes after
				s.flushing = false
				s.look, s.lookAt = s.look[:0], 0
				return n, nil, nil
			}
			s.skipOne(fr)
			continue
		}
		if n == len(p) {
			return n, nil, nil
		}
		if s.lookAt > 0 && s.lookAt >= len(s.look)/2 {
			s.look = s.look[:copy(s.look, s.look[s.lookAt:])]
			s.lookAt = 0
		}
		take := min(len(p)-n, s.window-(len(s.look)-s.lookAt))
		s.look = append(s.look, p[n:n+take]...)
		n += take
	}
	f, err = s.replay(fr)
	if f == nil && err == nil && !s.resyncing && len(p) > 0 {
		// The held bytes ended inside a frame, which p goes on with.
		return fr.Next(p)
	}
	return 0, f, err
}

// frameWaiting is Next while the decoder keeps a frame a Gap ended
// through a resynchronisation: it frames it, with no more bytes, and
// gives it the bytes skipped before it.
func (s *State[F]) frameWaiting(fr Framer[F]) (int, *F, error) {
	s.waiting = false
	s.resyncing = false // Next frames it as it frames any bytes
	_, f, err := fr.Next(nil)
	s.resyncing = true
	after := s.skip // skipped after the frame, for the next one
	s.skip = s.waitSkip
	f = s.carrySkip(f, fr)
	s.skip = after
	return 0, f, err
}

// skipTo is Next while skipping to a known boundary (Skip): it skips what
// is left to skip of p, then frames from the boundary on until the first
// frame, which carries the bytes skipped.
func (s *State[F]) skipTo(p []byte, fr Framer[F]) (n int, f *F, err error) {
	if s.ahead > 0 {
		take := min(s.ahead, int64(len(p)))
		fr.Advance(take)
		s.skip += take
		s.skipped += take
		s.ahead -= take
		n = int(take)
		if s.ahead > 0 {
			return n, nil, nil
		}
	}
	s.resyncing = false // Next frames from the boundary as it frames any bytes
	m, f, err := fr.Next(p[n:])
	s.resyncing = true
	n += m
	f = s.carrySkip(f, fr)
	if f != nil || err != nil {
		s.resyncing, s.skipping = false, false
	}
	return n, f, err
}

// carrySkip returns f, a frame the decoder framed, with the bytes skipped
// since the last frame in its Skipped, if any were: a copy in found, so
// that the decoder's fast path never resets Skipped.
func (s *State[F]) carrySkip(f *F, fr Framer[F]) *F {
	if f == nil || s.skip == 0 {
		return f
	}
	s.found = *f
	fr.SetSkipped(&s.found, s.skip)
	s.skip = 0
	return &s.found
}

// skipOne skips the first byte held.
func (s *State[F]) skipOne(fr Framer[F]) {
	s.lookAt++
	fr.Advance(1)
	s.skip++
	s.skipped++
}

// replay frames the next of the bytes the hunt held.
func (s *State[F]) replay(fr Framer[F]) (*F, error) {
	s.resyncing = false // Next frames held as it frames any bytes
	n, f, err := fr.Next(s.look[s.lookAt:])
	s.resyncing = true
	s.lookAt += n
	f = s.carrySkip(f, fr)
	if s.lookAt == len(s.look) || err != nil { // a violation stops the decoder
		s.resyncing = false
		s.look, s.lookAt = nil, 0
	}
	return f, err
}

type verdict uint8

const (
	more verdict = iota
	reject
	accept
)

// candidate decides whether the bytes held begin a chain of plausible headers.
func (s *State[F]) candidate(fr Framer[F]) verdict {
	b := s.look[s.lookAt:]
	pos := 0
	for range Chain {
		if pos+s.headerSize > len(b) {
			return more
		}
		size, ok := fr.Plausible(b[:s.headerSize], b[pos:pos+s.headerSize])
		if !ok {
			return reject
		}
		pos += size
	}
	return accept
}

// chainToEnd reports whether the bytes held begin a chain of plausible
// headers whose last frame ends exactly where the held bytes do.
func (s *State[F]) chainToEnd(fr Framer[F]) bool {
	b := s.look[s.lookAt:]
	pos := 0
	for pos+s.headerSize <= len(b) {
		size, ok := fr.Plausible(b[:s.headerSize], b[pos:pos+s.headerSize])
		if !ok {
			return false
		}
		pos += size
	}
	return pos == len(b) && pos > 0
}

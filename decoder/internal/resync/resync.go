// Package resync finds a frame boundary in a byte stream whose headers
// carry no mark of being one, for the smux and yamux decoders: it holds
// the bytes from where decoding began, takes the earliest position where
// Chain plausible headers chain as the boundary (or, where the bytes end,
// a shorter chain whose last frame ends exactly there), counts the bytes
// before it as skipped, and replays the held bytes through the decoder
// from there. Each decoder states its protocol's rule for a plausible
// header, and the search, in its documentation.
//
// Long frames. The bytes held are at most a window of Chain frames of
// window/Chain bytes. A decoder whose frames may be longer (yamux with a
// window configured above its default) implements Long, and a position
// whose chain has a longer link is followed apart, as its bytes pass,
// without holding them: the engine keeps each link's header and the
// first Keep bytes of its payload, all the decoder keeps of a frame, and
// counts the rest. Such a chain wins when its last header ends before
// the search over the window decides on a position (at the latest, where
// the bytes end before a Gap or End, when its last frame ends exactly
// there); the earliest of two that end together. At most MaxLong are
// followed at once, and none that begins inside the first header of the
// last one followed. Every decision depends on the bytes only, never on
// how they were chunked.
package resync

import (
	"math"
	"slices"
)

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

// MaxLong is how many chains with a long link a hunt follows at once: a
// position found while MaxLong are followed, or were given up at a byte
// the search has not yet needed, is passed over.
const MaxLong = 8

// Long is a Framer whose frames may be longer than the window's share
// (window/Chain bytes): a hunt follows chains of them without holding
// their payloads, and replays each frame as its header, the first Keep
// payload bytes and a Pass of the rest.
type Long interface {
	// Keep returns how many payload bytes of a frame the decoder keeps:
	// the bytes of a long frame after them make no difference to what
	// it returns.
	Keep() int
	// Pass takes n payload bytes of the frame in progress, beyond the
	// first Keep, as framed without being given: they count in the
	// decoder's offset and in the frame, as bytes it was given do.
	Pass(n int64)
}

// long is a chain with a long link that a hunt follows. Positions are
// counted from where the hunt began.
type long struct {
	start int64 // its first header's
	next  int64 // the next link's header's
	links int   // links found plausible
	pos   [Chain]int64
	size  [Chain]int64 // each link's frame size, header included
	kept  [Chain]int   // each link's payload bytes in rec
	rec   []byte       // for each link but the last: its header and first Keep payload bytes, at i*(headerSize+keep)
	done  bool         // Chain links are plausible: it ends at end
	dead  bool         // a link was not plausible, at end
	end   int64        // where the header that decided ends
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

	// While hunting, positions are counted from where the hunt began.
	origin   int64   // look[0]'s
	settled  int64   // the bytes before it are skipped
	decided  int64   // the furthest byte a step of the search over the window needed
	longs    []*long // the chains with a long link followed
	nextLong int64   // where a long chain may begin: a header's length after the last one's start
	rep      *long   // replaying a long chain's links: the bytes held follow them
	repLink  int     // its next link to replay
	repN     int     // how many of its links are replayed from rec
	repLeft  int64   // the bytes of its links not yet replayed

	headerSize int // of the protocol
	window     int // the most bytes held: Chain frames of the largest size held whole
}

// New returns the State of a decoder whose headers take headerSize bytes
// and which holds at most window bytes while it looks for a boundary.
// window must hold Chain frames of the largest size Plausible accepts,
// or, for a Framer that implements Long, of window/Chain bytes, above
// which a frame is a long link: a chain that cannot fit would be waited
// for forever, and Next would never return a frame or skip a byte.
// The buffer behind the bytes held is compacted once half of it has been
// searched, so that each byte is copied a bounded number of times; it
// can grow to twice the window.
func New[F any](headerSize, window int) State[F] {
	return State[F]{headerSize: headerSize, window: window}
}

// Resyncing reports whether the decoder's Next must call Next here: it
// hunts for a boundary or has held bytes to replay.
func (s *State[F]) Resyncing() bool { return s.resyncing }

// Held returns how many bytes the decoder took for a resynchronisation
// and has neither framed nor skipped: those held, and those of the long
// chains followed from their first header on, which it keeps only in
// part (Kept).
func (s *State[F]) Held() int {
	switch {
	case !s.resyncing:
		return 0
	case s.hunting:
		return int(s.origin + int64(len(s.look)) - s.settled)
	}
	return len(s.look) - s.lookAt + int(s.repLeft)
}

// Kept returns how many bytes a resynchronisation keeps in memory: those
// held for the search (at most the window), and the records of the long
// chains it follows (at most MaxLong of Chain-1 headers and Keep bytes).
func (s *State[F]) Kept() int {
	n := len(s.look) - s.lookAt
	for _, c := range s.longs {
		n += len(c.rec)
	}
	if s.rep != nil {
		n += len(s.rep.rec)
	}
	return n
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
	s.reset()
	return true
}

// reset ends the resynchronisation and lets go of what it held.
func (s *State[F]) reset() {
	s.resyncing, s.hunting, s.flushing, s.skipping, s.ahead = false, false, false, false, 0
	s.look, s.lookAt = nil, 0
	s.origin, s.settled, s.decided, s.longs, s.nextLong = 0, 0, 0, nil, 0
	s.rep, s.repLink, s.repN, s.repLeft = nil, 0, 0, 0
}

// Release ends the resynchronisation without framing the bytes it still
// holds, and returns how many there were: for a decoder that stops with
// them unread (Reject), which counts them as it counts its own.
func (s *State[F]) Release() int {
	held := s.Held()
	s.reset()
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
		v, at := s.candidate(fr)
		if v == more {
			at = math.MaxInt64 // the bytes it needs come later than any long chain that ended
			if s.flushing {
				at = s.end()
			}
		}
		if len(s.longs) > 0 {
			if c := s.ended(max(s.decided, at)); c != nil {
				f, err = s.take(c, c.end-int64(s.headerSize), Chain-1, fr)
				return n, f, err
			}
		}
		switch v {
		case reject:
			s.decided = max(s.decided, at)
			s.lookAt++ // skipped: counted by settle before Next returns
			continue
		case longer:
			s.decided = max(s.decided, at)
			s.follow(fr)
			s.lookAt++
			continue
		case accept:
			s.hunting, s.longs = false, nil
			s.settle(fr)
			f, err = s.replay(fr)
			return n, f, err
		}
		// more
		if s.flushing {
			if c := s.longToEnd(); c != nil {
				f, err = s.take(c, c.next, c.links, fr)
				return n, f, err
			}
			if s.chainToEnd(fr) {
				s.hunting, s.flushing, s.longs = false, false, nil
				s.settle(fr)
				f, err = s.replay(fr)
				return n, f, err
			}
			if s.lookAt == len(s.look) { // nothing left: hunt on in what comes after
				s.flushing, s.longs = false, nil
				s.settle(fr)
				s.origin += int64(len(s.look))
				s.look, s.lookAt = s.look[:0], 0
				if n == len(p) {
					return n, nil, nil
				}
				continue // p comes after the bytes flushed: hunt on in it
			}
			s.decided = max(s.decided, at)
			s.lookAt++
			continue
		}
		if n == len(p) {
			s.settle(fr)
			return n, nil, nil
		}
		if s.lookAt > 0 && s.lookAt >= len(s.look)/2 {
			s.look = s.look[:copy(s.look, s.look[s.lookAt:])]
			s.origin += int64(s.lookAt)
			s.lookAt = 0
		}
		take := min(len(p)-n, s.window-(len(s.look)-s.lookAt))
		s.look = append(s.look, p[n:n+take]...)
		n += take
		for _, c := range s.longs {
			s.followOn(c, fr)
		}
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

// settle counts as skipped the bytes before the first byte held and the
// first long chain followed. The hunt passes bytes by moving lookAt on,
// and settles before Next returns.
func (s *State[F]) settle(fr Framer[F]) {
	to := s.origin + int64(s.lookAt)
	for _, c := range s.longs {
		if !c.dead {
			to = min(to, c.start)
		}
	}
	if n := to - s.settled; n > 0 {
		fr.Advance(n)
		s.skip += n
		s.skipped += n
		s.settled = to
	}
}

// end returns the position after the last byte held.
func (s *State[F]) end() int64 { return s.origin + int64(len(s.look)) }

// replay frames the next of the bytes the hunt held: a link of a long
// chain, then the bytes after them.
func (s *State[F]) replay(fr Framer[F]) (f *F, err error) {
	s.resyncing = false // Next frames held as it frames any bytes
	if c := s.rep; c != nil {
		i, stride := s.repLink, s.stride(fr)
		rec := c.rec[i*stride : i*stride+s.headerSize+c.kept[i]]
		_, f, err = fr.Next(rec)
		if f == nil && err == nil { // a payload longer than the decoder keeps
			fr.(Long).Pass(c.size[i] - int64(len(rec)))
			_, f, err = fr.Next(nil)
		}
		s.repLeft -= c.size[i]
		if s.repLink++; s.repLink == s.repN {
			s.rep = nil
		}
	} else {
		var n int
		n, f, err = fr.Next(s.look[s.lookAt:])
		s.lookAt += n
	}
	s.resyncing = true
	f = s.carrySkip(f, fr)
	if s.rep == nil && s.lookAt == len(s.look) || err != nil { // a violation stops the decoder
		s.reset()
	}
	return f, err
}

// stride is the room a long chain's link takes in its rec.
func (s *State[F]) stride(fr Framer[F]) int { return s.headerSize + fr.(Long).Keep() }

// take ends the hunt on the long chain c: its first n links are replayed
// from what was kept of them, then the bytes held from the position from.
func (s *State[F]) take(c *long, from int64, n int, fr Framer[F]) (*F, error) {
	s.longs = []*long{c}
	s.settle(fr)
	s.longs = nil
	s.hunting, s.flushing = false, false
	s.rep, s.repLink, s.repN = c, 0, n
	s.repLeft = from - c.start
	s.lookAt = int(from - s.origin)
	return s.replay(fr)
}

// ended returns the long chain whose last header ends first, at or
// before the position at, the earliest of those that end together; nil
// if none has.
func (s *State[F]) ended(at int64) *long {
	var w *long
	for _, c := range s.longs {
		if c.done && c.end <= at && (w == nil || c.end < w.end) {
			w = c
		}
	}
	return w
}

// longToEnd returns the earliest long chain whose last frame ends exactly
// where the bytes held do, or nil.
func (s *State[F]) longToEnd() *long {
	for _, c := range s.longs {
		if !c.dead && c.next == s.end() {
			return c
		}
	}
	return nil
}

// follow starts following the chain at the first byte held, whose
// first header is plausible and which has a long link, unless it begins
// inside the first header of the last one followed (a header read a few
// bytes off its boundary often reads as one announcing a long frame), or
// MaxLong chains are followed: those given up count until the search has
// needed the byte that gave them up.
func (s *State[F]) follow(fr Framer[F]) {
	start := s.origin + int64(s.lookAt)
	if start < s.nextLong {
		return
	}
	s.longs = slices.DeleteFunc(s.longs, func(c *long) bool { return c.dead && c.end <= s.decided })
	if len(s.longs) == MaxLong {
		return
	}
	hs, stride := s.headerSize, s.stride(fr)
	h := s.look[s.lookAt : s.lookAt+hs]
	size, _ := fr.Plausible(h, h)
	s.nextLong = start + int64(hs)
	c := &long{start: start, links: 1, rec: make([]byte, (Chain-1)*stride)}
	c.pos[0], c.size[0], c.next = c.start, int64(size), c.start+int64(size)
	copy(c.rec, h)
	s.longs = append(s.longs, c)
	s.followOn(c, fr)
}

// followOn takes the long chain c on through the bytes held: it keeps the
// first bytes of its links' payloads and checks each next header once it
// is held whole.
func (s *State[F]) followOn(c *long, fr Framer[F]) {
	hs, stride, end := s.headerSize, s.stride(fr), s.end()
	for !c.done && !c.dead {
		if i := c.links - 1; i < Chain-1 {
			want := min(int64(stride-hs), c.size[i]-int64(hs))
			from := c.pos[i] + int64(hs+c.kept[i])
			if to := min(c.pos[i]+int64(hs)+want, end); to > from {
				c.kept[i] += copy(c.rec[i*stride+hs+c.kept[i]:], s.look[from-s.origin:to-s.origin])
			}
		}
		if c.next+int64(hs) > end {
			return
		}
		at := int(c.next - s.origin)
		h := s.look[at : at+hs]
		size, ok := fr.Plausible(c.rec[:hs], h)
		c.end = c.next + int64(hs)
		if !ok {
			c.dead, c.rec = true, nil
			return
		}
		if c.links == Chain-1 {
			c.done = true
			return
		}
		copy(c.rec[c.links*stride:], h)
		c.pos[c.links], c.size[c.links] = c.next, int64(size)
		c.links++
		c.next += int64(size)
	}
}

type verdict uint8

const (
	more   verdict = iota
	reject         // no chain begins at the first byte held
	accept         // a chain of Chain plausible headers, all held, begins there
	longer         // the chain that begins there has a long link before its last: it is followed apart
)

// candidate decides whether the bytes held begin a chain of plausible
// headers, and returns the position after the last byte it needed for it.
func (s *State[F]) candidate(fr Framer[F]) (verdict, int64) {
	b := s.look[s.lookAt:]
	at := s.origin + int64(s.lookAt)
	pos := 0
	for i := range Chain {
		if pos+s.headerSize > len(b) {
			return more, 0
		}
		size, ok := fr.Plausible(b[:s.headerSize], b[pos:pos+s.headerSize])
		if !ok {
			return reject, at + int64(pos+s.headerSize)
		}
		if i == Chain-1 {
			break // the last frame's size decides nothing
		}
		if size > s.window/Chain {
			if _, ok := fr.(Long); ok {
				return longer, at + int64(pos+s.headerSize)
			}
		}
		pos += size
	}
	return accept, at + int64(pos+s.headerSize)
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

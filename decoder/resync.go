package decoder

// Resynchronisation: starting to decode a byte stream whose first byte is
// not a frame boundary (a capture that began while the connection was
// open), or carrying on after bytes of it were lost (a capture that dropped
// packets). Nothing in an smux header marks it as one, so the decoder
// looks for a place where the bytes read as a chain of headers.
//
// The rule. A position is taken as a frame boundary when ResyncChain
// headers in a row, the first at that position and each next one right
// after the previous frame's payload, are all plausible; the earliest such
// position wins. A header is plausible when
//   - real smux would accept it (the receive rules check applies: version 1
//     or 2, a known command, SYN/FIN/NOP with length 0, UPD only in v2 and
//     with length 8),
//   - its version is the direction's version once that is known, and all
//     ResyncChain headers share one version,
//   - SYN, FIN, PSH and UPD name a stream (sid ≠ 0) and NOP names none
//     (sid 0: smux's keepalive), and
//   - a PSH carries data (length > 0): smux never sends an empty one.
//
// For random bytes a header is plausible with a probability of about 3 in
// 100 000, so a false chain of three is rarer than one in 10¹³ positions;
// payloads that themselves hold smux frames can fool it, which is why a
// resynchronisation is reported with where it landed and what it skipped,
// never silently. Deciding on a position needs at most ResyncWindow bytes
// after it, which the decoder holds while it looks: that, and no more, is
// the memory a resynchronisation costs, allocated only while it lasts. The
// boundary found is normally the first true one at or after the place
// decoding began, so at most HeaderSize + 65535 bytes later
// (TestResyncEveryOffset checks it at every offset of real smux traffic).
// Where the bytes end, before a gap or at the end of the stream (Flush),
// a shorter chain is taken too when its last frame ends exactly where the
// bytes do; otherwise the bytes after the last boundary found count as
// Skipped.
//
// The decision at each position depends on the bytes only, so a
// resynchronisation lands at the same place in any chunking.

// ResyncChain is how many plausible headers in a row make a frame boundary.
const ResyncChain = 3

// ResyncWindow is the most bytes the decoder holds while it looks for a
// frame boundary: ResyncChain frames of the largest size.
const ResyncWindow = ResyncChain * (HeaderSize + MaxSnaplen)

// resync is a Decoder's state while it resynchronises.
type resync struct {
	resyncing bool   // hunting, or replaying what the hunt held
	hunting   bool   // looking for a boundary: look[lookAt:] are the bytes from off on
	flushing  bool   // Flush: no more bytes come before a Gap or End
	look      []byte // the bytes held; while replaying, look[lookAt:] are still to frame
	lookAt    int
	skip      int64 // bytes skipped since the last frame, for the next frame's Skipped
	skipped   int64 // every byte skipped
	lost      int64 // every byte lost (Gap)
	found     Frame // the first frame after a resynchronisation, with its Skipped
}

// held returns how many bytes the decoder holds for a resynchronisation.
func (r *resync) held() int {
	if !r.resyncing {
		return 0
	}
	return len(r.look) - r.lookAt
}

// Buffered returns how many bytes the decoder holds that Next has not yet
// framed: bytes it looked ahead at to find a frame boundary. While it is
// above 0, call Next, with an empty p if need be, to have them framed.
// It is 0 unless Resync or Gap was called.
func (d *Decoder) Buffered() int {
	if d.hunting && !d.flushing {
		return 0 // nothing can be framed before more bytes come
	}
	return d.held()
}

// Hunting reports whether the decoder is looking for a frame boundary.
func (d *Decoder) Hunting() bool { return d.hunting }

// Skipped returns how many bytes that arrived were skipped while the
// decoder looked for frame boundaries.
func (d *Decoder) Skipped() int64 { return d.skipped }

// Lost returns how many bytes Gap said were lost.
func (d *Decoder) Lost() int64 { return d.lost }

// Flush tells a resynchronising decoder that the bytes given so far are
// all that come before a Gap or End, so that it decides on what it holds
// by the rule above instead of waiting for more. Call Next, with an empty
// p, while Buffered is above 0 to have the frames it found; then Gap or
// End. Without a resynchronisation in progress it does nothing.
func (d *Decoder) Flush() {
	if d.hunting {
		d.flushing = true
	}
}

// Resync tells the decoder that the next byte given to Next need not
// begin a frame, as when a capture starts in the middle of a connection:
// it looks for a frame boundary by the rule above, skipping the bytes
// before it, and reports them in the Skipped of the first frame it
// returns. The bytes of a frame in progress count as skipped too. Resync
// does nothing once the decoder has stopped.
func (d *Decoder) Resync() {
	if d.stopped {
		return
	}
	d.abandon()
	d.resyncing, d.hunting = true, true
}

// Gap tells the decoder that n bytes of the stream were lost here, as when
// a capture dropped packets: they count as Lost and in Offset, the frame
// in progress is abandoned (its bytes count as skipped) and the decoder
// resynchronises after the gap as Resync does. A stopped decoder only
// counts them. Gap does nothing for n ≤ 0.
func (d *Decoder) Gap(n int64) {
	if n <= 0 {
		return
	}
	d.lost += n
	if d.stopped {
		d.off += n
		return
	}
	d.abandon()
	d.off += n
	d.resyncing, d.hunting = true, true
}

// abandon counts what the decoder holds, a frame in progress and the
// bytes of a resynchronisation, as skipped.
func (d *Decoder) abandon() {
	partial := int64(d.hn + d.got) // already in off
	held := int64(d.held())
	d.off += held
	d.skip += partial + held
	d.skipped += partial + held
	d.hn, d.got = 0, 0
	d.resyncing, d.hunting, d.flushing = false, false, false
	d.look, d.lookAt = nil, 0
}

// nextResync is Next while the decoder hunts for a boundary or replays
// the bytes it held.
func (d *Decoder) nextResync(p []byte) (n int, f *Frame, err error) {
	for d.hunting {
		switch d.candidate() {
		case reject:
			d.lookAt++
			d.off++
			d.skip++
			d.skipped++
			continue
		case accept:
			d.hunting = false
			_, f, err = d.replay()
			return n, f, err
		}
		// more
		if d.flushing {
			if d.chainToEnd() {
				d.hunting, d.flushing = false, false
				_, f, err = d.replay()
				return n, f, err
			}
			if d.lookAt == len(d.look) { // nothing left: hunt on in what comes after
				d.flushing = false
				d.look, d.lookAt = d.look[:0], 0
				return n, nil, nil
			}
			d.lookAt++
			d.off++
			d.skip++
			d.skipped++
			continue
		}
		if n == len(p) {
			return n, nil, nil
		}
		if d.lookAt > 0 && d.lookAt >= len(d.look)/2 {
			d.look = d.look[:copy(d.look, d.look[d.lookAt:])]
			d.lookAt = 0
		}
		take := min(len(p)-n, ResyncWindow-(len(d.look)-d.lookAt))
		d.look = append(d.look, p[n:n+take]...)
		n += take
	}
	_, f, err = d.replay()
	if f == nil && err == nil && !d.resyncing && len(p) > 0 {
		// The held bytes ended inside a frame, which p goes on with.
		return d.Next(p)
	}
	return 0, f, err
}

// replay frames the next of the bytes the hunt held, and consumes none of
// the caller's.
func (d *Decoder) replay() (int, *Frame, error) {
	held := d.look[d.lookAt:]
	d.resyncing = false // Next frames held as it frames any bytes
	n, f, err := d.Next(held)
	d.resyncing = true
	d.lookAt += n
	if f != nil && d.skip > 0 {
		// Given in found, so that the fast path never resets Skipped.
		d.found = *f
		d.found.Skipped, d.skip = d.skip, 0
		f = &d.found
	}
	if d.lookAt == len(d.look) || d.stopped {
		d.resyncing = false
		d.look, d.lookAt = nil, 0
	}
	return 0, f, err
}

type verdict uint8

const (
	more verdict = iota
	reject
	accept
)

// candidate decides whether the bytes held begin a chain of plausible headers.
func (d *Decoder) candidate() verdict {
	b := d.look[d.lookAt:]
	ver := d.version
	pos := 0
	for range ResyncChain {
		if pos+HeaderSize > len(b) {
			return more
		}
		h := Header(b[pos : pos+HeaderSize])
		if !plausible(h, ver) {
			return reject
		}
		ver = h.Version()
		pos += HeaderSize + int(h.Length())
	}
	return accept
}

// chainToEnd reports whether the bytes held begin a chain of plausible
// headers whose last frame ends exactly where the held bytes do.
func (d *Decoder) chainToEnd() bool {
	b := d.look[d.lookAt:]
	ver := d.version
	pos := 0
	for pos+HeaderSize <= len(b) {
		h := Header(b[pos : pos+HeaderSize])
		if !plausible(h, ver) {
			return false
		}
		ver = h.Version()
		pos += HeaderSize + int(h.Length())
	}
	return pos == len(b) && pos > 0
}

// plausible applies the rule of Resync to one header; ver is the version
// it must have, or 0.
func plausible(h Header, ver uint8) bool {
	v := h.Version()
	if (v != 1 && v != 2) || (ver != 0 && v != ver) {
		return false
	}
	r := lengthRules[v][h.Cmd()]
	if r == 0 || (r != anyLength && r != uint32(h.Length())+1) {
		return false
	}
	switch h.Cmd() {
	case NOP:
		return h.StreamID() == 0
	case PSH:
		return h.StreamID() != 0 && h.Length() > 0
	}
	return h.StreamID() != 0
}

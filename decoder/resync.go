package decoder

import "github.com/muxtop/muxtop/decoder/internal/resync"

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
// after it, which the decoder holds while it looks, allocated only while
// it lasts: the buffer behind them, compacted once half of it has been
// searched, can grow to twice that, and that is all the memory a
// resynchronisation costs. The
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
const ResyncChain = resync.Chain

// ResyncWindow is the most bytes the decoder holds while it looks for a
// frame boundary: ResyncChain frames of the largest size.
const ResyncWindow = ResyncChain * (HeaderSize + MaxSnaplen)

// Buffered returns how many bytes the decoder holds that Next has not yet
// framed: bytes it looked ahead at to find a frame boundary. While it is
// above 0, call Next, with an empty p if need be, to have them framed.
// It is 0 unless Resync or Gap was called. A frame whose last payload
// bytes a Gap lost is whole: its bytes that came count here until Next
// returns it.
func (d *Decoder) Buffered() int {
	if d.prog.Whole(int64(d.hdr.Length())) {
		return int(d.prog.Came())
	}
	return d.rs.Buffered()
}

// Hunting reports whether the decoder is looking for a frame boundary.
func (d *Decoder) Hunting() bool { return d.rs.Hunting() }

// Skipped returns how many bytes that arrived were skipped while the
// decoder looked for frame boundaries.
func (d *Decoder) Skipped() int64 { return d.rs.Skipped() }

// Lost returns how many bytes Gap said were lost.
func (d *Decoder) Lost() int64 { return d.rs.Lost() }

// Flush tells a resynchronising decoder that the bytes given so far are
// all that come before a Gap or End, so that it decides on what it holds
// by the rule above instead of waiting for more. Call Next, with an empty
// p, while Buffered is above 0 to have the frames it found; then Gap or
// End. Without a resynchronisation in progress it does nothing.
func (d *Decoder) Flush() { d.rs.Flush() }

// Resync tells the decoder that the next byte given to Next need not
// begin a frame, as when a capture starts in the middle of a connection:
// it looks for a frame boundary by the rule above, skipping the bytes
// before it, and reports them in the Skipped of the first frame it
// returns. The bytes of a frame in progress count as skipped too; a
// frame a Gap ended is whole, not in progress, and Next returns it first.
// Resync does nothing once the decoder has stopped.
func (d *Decoder) Resync() { d.rs.Resync((*framer)(d)) }

// ResyncAt is Resync with the frame boundary known to be n bytes after
// the bytes given so far, as an earlier resynchronisation over the same
// bytes found it (a capture that held a connection's first bytes): Next
// skips the n bytes without looking at them, reports them in the Skipped
// of the first frame, and returns each frame as its bytes come, where a
// resynchronisation would hold them until a chain of headers completes.
// It does nothing once the decoder has stopped.
func (d *Decoder) ResyncAt(n int64) { d.rs.Skip(n, (*framer)(d)) }

// Gap tells the decoder that n bytes of the stream were lost here, as when
// a capture dropped packets: they count as Lost and in Offset. When they
// lie inside the payload of the frame in progress, whose header is whole,
// and end at the latest where it does, the next frame boundary is known:
// the decoder goes on with the frame, returns it when its last byte comes
// (or at once, if the gap ended it: Buffered is above 0), with the bytes
// lost in its Lost and only the payload bytes before them in Payload, and
// Gap returns true. A UPD's payload is its fields: one they were lost of
// is not kept. Otherwise the frame in progress is abandoned (its bytes
// count as skipped), the decoder resynchronises after the gap as Resync
// does, and Gap returns false. A frame an earlier Gap ended, which Next
// has not yet returned, is whole and not abandoned: Next returns it first,
// and the decoder resynchronises after this gap as it would had Next been
// called before it. A stopped decoder only counts them. Gap does nothing
// for n ≤ 0.
func (d *Decoder) Gap(n int64) (resumed bool) { return d.rs.Gap(n, (*framer)(d)) }

// framer is a Decoder as the resynchronisation engine sees it.
type framer Decoder

// Plausible applies the rule above to the header h of a chain whose first
// header is first.
func (r *framer) Plausible(first, h []byte) (int, bool) {
	ver := r.version
	if ver == 0 {
		ver = first[0] // all share one version
	}
	hdr := Header(h)
	return HeaderSize + int(hdr.Length()), plausible(hdr, ver)
}

// Next is the Decoder's.
func (r *framer) Next(p []byte) (int, *Frame, error) { return (*Decoder)(r).Next(p) }

// Advance counts n bytes in Offset.
func (r *framer) Advance(n int64) { r.off += n }

// Drop abandons the frame in progress unless the decoder has stopped,
// or a Gap ended it: that one is whole, and stays for Next.
func (r *framer) Drop() (partial int64, whole, ok bool) {
	if r.stopped {
		return 0, false, false
	}
	partial, whole = r.prog.Drop(int64(r.hdr.Length())) // the bytes lost are Lost already
	return partial, whole, true
}

// Lose takes n bytes lost inside the payload of the frame in progress,
// unless it is a UPD, whose fields they would be.
func (r *framer) Lose(n int64) bool {
	if r.stopped || r.hdr.Cmd() == UPD || !r.prog.Lose(n, HeaderSize, int64(r.hdr.Length())) {
		return false
	}
	r.off += n
	return true
}

// SetSkipped sets f.Skipped.
func (r *framer) SetSkipped(f *Frame, n int64) { f.Skipped = n }

// Plausible reports whether h is a plausible header by the rule above:
// one that real smux sends. version is the version it must have, or 0
// for either. A capture that found frames by that rule checks with it
// that the frames after them go on chaining.
func (h Header) Plausible(version uint8) bool { return plausible(h, version) }

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

package yamux

import "github.com/muxtop/muxtop/decoder/internal/resync"

// Resynchronisation: starting to decode a byte stream whose first byte is
// not a frame boundary (a capture that began while the connection was
// open), or carrying on after bytes of it were lost (a capture that
// dropped packets). Nothing in a yamux header marks it as one, so the
// decoder looks for a place where the bytes read as a chain of headers,
// as the smux decoder does (decoder.Decoder.Resync).
//
// The rule. A position is taken as a frame boundary when ResyncChain
// headers in a row, the first at that position and each next one right
// after the previous frame's payload, are all plausible; the earliest such
// position wins. A header is plausible when
//   - yamux would accept it: version 0, a known type (≤ 3);
//   - its flags are within SYN|ACK|FIN|RST;
//   - Ping and GoAway name the session (stream 0), Data and WindowUpdate
//     a stream (0 < id ≤ MaxResyncStream);
//   - a Ping is a request or a reply: its flags are SYN or ACK alone;
//   - a GoAway has no flags and a known code (0, 1 or 2);
//   - a Data frame carries 1 to MaxResyncLongData (16 MiB) bytes:
//     hashicorp/yamux sends no empty one, and none larger than the send
//     window, which is 256 KiB (MaxResyncData) unless a larger
//     MaxStreamWindowSize is configured, as bulk transfers do (a long
//     link, below);
//   - a WindowUpdate without flags grows the window by MinResyncDelta to
//     MaxResyncDelta: yamux sends one only when the delta reaches half its
//     window (Stream.sendWindowUpdate), and the window is at least 256 KiB;
//     with flags (SYN, ACK, FIN, RST) its delta is anything up to
//     MaxResyncDelta, usually 0.
//
// Real streams are repetitive (runs of WindowUpdate SYNs, of equal Data
// headers), so a header read a few bytes off its boundary often still has
// version 0 and a known type; what rules such readings out is mostly the
// stream id, which then takes bytes of a length (bounded by
// MaxResyncStream), and the delta of an unflagged update, which takes
// bytes of a stream id (bounded below by MinResyncDelta).
//
// For random bytes a header is plausible with a probability below one in
// 10⁸ (a Data header about one in 3·10¹¹: version, type, flags, a stream
// id below 2³⁰ and a length below 2²⁴ take 38 of its 96 bits; a
// WindowUpdate with flags, the likeliest, about one in 4·10⁹), so a false
// chain of three is beyond reach; payloads that themselves hold yamux
// frames can fool it, which is why a resynchronisation is reported with
// where it landed and what it skipped, never silently. The boundary
// found is normally the first true one at or after the place decoding
// began (TestResyncEveryOffset checks it at every offset of real yamux
// traffic, TestResyncBigWindowJoin on a bulk transfer over a 4 MiB
// window). Where the bytes end, before a gap or at the end of the stream
// (Flush), a shorter chain is taken too when its last frame ends exactly
// where the bytes do; otherwise the bytes after the last boundary found
// count as Skipped.
//
// Memory. A chain whose Data frames carry at most MaxResyncData bytes is
// decided on within ResyncWindow bytes, which the decoder holds while it
// looks, allocated only while it lasts (the buffer behind them, compacted
// once half of it has been searched, can grow to twice that). A chain with a longer Data frame
// (a long link) is followed as its bytes pass instead of held: the
// decoder keeps of each of its frames the header and the first Snaplen
// payload bytes, all a Frame returns of it, and counts the rest; at most
// 8 such chains at once, none beginning inside the first header of the
// last one (a header read a few bytes off often announces a long frame).
// It wins when its third header ends before the search over the bytes
// held decides on an earlier position, and, where the bytes end (Flush),
// when its last frame ends exactly there. So a hunt keeps at most ResyncWindow bytes and 8×2
// headers with their Snaplen bytes (about 772 KiB at the default
// snaplen), and a join or a gap in a bulk transfer lands on the first
// frame after it, decided on at its third header, after two long frames
// (up to 32 MiB) that go by counted but not held. Positions inside a long
// frame are searched as they pass too, so a long chain that breaks delays
// nothing.
//
// One more rule settles a tie that repetitive streams make: a header read
// four bytes before a true one takes the true one's version, type and
// flags as its stream id and the true stream id as its length, and such a
// Data length often lands on a true boundary again (runs of WindowUpdate
// SYNs with small ids do it). So a stream id of that form, 0x000T000F with
// T a type and F flags (64 ids between 65 536 and 262 159), makes no
// plausible header: a session whose chain crosses one of those streams
// resynchronises a few frames later.
//
// The decision at each position, and between a long chain and the search
// over the bytes held, depends on the bytes only, so a resynchronisation
// lands at the same place in any chunking.

// ResyncChain is how many plausible headers in a row make a frame boundary.
const ResyncChain = resync.Chain

// MaxResyncData is the largest Data payload of a frame the decoder holds
// whole while it looks for a frame boundary: yamux's default window, the
// most a sender with the default MaxStreamWindowSize puts in one frame.
// A longer one, up to MaxResyncLongData, is a long link.
const MaxResyncData = InitialWindow

// MaxResyncLongData is the largest Data payload a plausible header
// announces in a chain the decoder follows without holding it (a long
// link): a window configured for bulk transfers, up to 16 MiB.
const MaxResyncLongData = 16 << 20

// MaxResyncStream is the largest stream id a plausible header names: a
// session would have to open half a billion streams to pass it.
const MaxResyncStream = 1 << 30

// knownFlagsMask is KnownFlags as a stream id's low bits, for the rule
// above.
const knownFlagsMask = uint32(KnownFlags)

// MinResyncDelta is the smallest window delta a plausible WindowUpdate
// without flags carries: half yamux's smallest window.
const MinResyncDelta = InitialWindow / 2

// MaxResyncDelta is the largest window delta a plausible WindowUpdate carries.
const MaxResyncDelta = 1 << 30

// ResyncWindow is the most bytes the decoder holds while it looks for a
// frame boundary: ResyncChain frames of MaxResyncData bytes. Chains of
// longer frames are followed without being held.
const ResyncWindow = ResyncChain * (HeaderSize + MaxResyncData)

// Buffered returns how many bytes the decoder took that Next has not yet
// framed: bytes it looked ahead at to find a frame boundary (of a long
// chain, those it counted without holding them too). While it is
// above 0, call Next, with an empty p if need be, to have them framed.
// It is 0 unless Resync or Gap was called. A frame whose last payload
// bytes a Gap lost is whole: its bytes that came count here until Next
// returns it.
func (d *Decoder) Buffered() int {
	if d.prog.Whole(int64(d.hdr.PayloadLength())) {
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
// lie inside the payload of the Data frame in progress, whose header is
// whole, and end at the latest where it does, the next frame boundary is
// known: the decoder goes on with the frame, returns it when its last byte
// comes (or at once, if the gap ended it: Buffered is above 0), with the
// bytes lost in its Lost and only the payload bytes before them in
// Payload, and Gap returns true. This holds for Data frames of any size,
// beyond MaxResyncLongData too. Otherwise the frame in progress is abandoned
// (its bytes count as skipped), the decoder resynchronises after the gap
// as Resync does, and Gap returns false. A frame an earlier Gap ended,
// which Next has not yet returned, is whole and not abandoned: Next
// returns it first, and the decoder resynchronises after this gap as it
// would had Next been called before it. A stopped decoder only counts
// them. Gap does nothing for n ≤ 0.
func (d *Decoder) Gap(n int64) (resumed bool) { return d.rs.Gap(n, (*framer)(d)) }

// framer is a Decoder as the resynchronisation engine sees it.
type framer Decoder

// Plausible applies the rule above to the header h, long Data frames
// included.
func (r *framer) Plausible(_, h []byte) (int, bool) {
	hdr := Header(h)
	return HeaderSize + int(hdr.PayloadLength()), plausibleUpTo(hdr, MaxResyncLongData)
}

// Keep returns the snaplen: the payload bytes a frame keeps.
func (r *framer) Keep() int { return r.snaplen }

// Pass takes n payload bytes of the frame in progress, after the first
// snaplen, as given.
func (r *framer) Pass(n int64) {
	r.prog.Got += n
	r.off += n
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
	partial, whole = r.prog.Drop(int64(r.hdr.PayloadLength())) // the bytes lost are Lost already
	return partial, whole, true
}

// Lose takes n bytes lost inside the payload of the Data frame in progress.
func (r *framer) Lose(n int64) bool {
	if r.stopped || !r.prog.Lose(n, HeaderSize, int64(r.hdr.PayloadLength())) {
		return false
	}
	r.off += n
	return true
}

// SetSkipped sets f.Skipped.
func (r *framer) SetSkipped(f *Frame, n int64) { f.Skipped = n }

// Plausible reports whether h is a plausible header by the rule above,
// with Data frames of up to MaxResyncData bytes: one that hashicorp/yamux
// with its default window sends. A capture that found frames by that rule
// checks with it that the frames after them go on chaining.
func (h Header) Plausible() bool { return plausible(h) }

// PlausibleAtStart is Plausible for a header at a known frame boundary,
// a connection's first bytes and the frames that follow them: a Data
// frame may carry up to MaxStartData bytes. Plausible bounds it by the
// default window, the frames a resynchronisation holds whole (longer ones
// up to MaxResyncLongData it follows apart); where the boundary is known,
// nothing is held, and a window configured larger (MaxStreamWindowSize,
// which go-yamux's auto-tuning reaches by default) shows as larger
// frames.
func (h Header) PlausibleAtStart() bool { return plausibleUpTo(h, MaxStartData) }

// MaxStartData is the largest Data payload PlausibleAtStart accepts: the
// largest window growth a plausible WindowUpdate carries.
const MaxStartData = MaxResyncDelta

// plausible applies the rule of Resync to one header: whether it looks
// like one hashicorp/yamux sends. A connection's first frame is one too.
func plausible(h Header) bool { return plausibleUpTo(h, MaxResyncData) }

// plausibleUpTo is plausible with Data frames of up to maxData bytes.
func plausibleUpTo(h Header, maxData uint32) bool {
	if h.Version() != Version || h.Flags()&^KnownFlags != 0 {
		return false
	}
	sid, length, flags := h.StreamID(), h.Length(), h.Flags()
	if sid >= 1<<16 && sid&^(3<<16|knownFlagsMask) == 0 {
		return false // a type and flags read as a stream id
	}
	switch h.Type() {
	case Data:
		return sid != 0 && sid <= MaxResyncStream && length > 0 && length <= maxData
	case WindowUpdate:
		return sid != 0 && sid <= MaxResyncStream && (flags != 0 || length >= MinResyncDelta) && length <= MaxResyncDelta
	case Ping:
		return sid == 0 && (flags == SYN || flags == ACK)
	case GoAway:
		return sid == 0 && flags == 0 && length <= GoAwayInternalError
	}
	return false
}

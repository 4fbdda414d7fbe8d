package decoder

import (
	"encoding/binary"

	"github.com/muxtop/muxtop/decoder/internal/resync"
)

// MaxSnaplen is the largest useful snaplen: the largest payload a frame can carry.
const MaxSnaplen = 1<<16 - 1

// Decoder decodes the smux frames of one direction of a connection.
//
// It holds at most one header and Snaplen payload bytes, allocates only in
// New, and never panics on any input. Tell it with Expect which version the
// receiving end speaks, if you know, feed it with Next, and tell it with End
// that the byte stream has ended. A Decoder is not safe for concurrent use:
// give each direction its own.
type Decoder struct {
	snaplen int
	buf     []byte // snapshot of the current frame's payload, cap snaplen

	hdr      Header          // header being collected
	prog     resync.Progress // of the current frame: header and payload bytes collected, and lost (framer.Lose)
	frameOff int64           // offset of the current frame's header
	upd      [UPDSize]byte

	off      int64 // bytes consumed
	unparsed int64 // bytes consumed after a violation, from its header on
	frames   uint64
	version  uint8 // the version the decoder frames, once known
	expected bool  // version came from Expect: another one is a VersionMismatch

	rs resync.State[Frame] // resync.go: finding a frame boundary mid-stream

	frame     Frame // Skipped is always 0: a frame found by a resynchronisation is given by rs
	violation Violation
	violated  bool // violation is set
	stopped   bool // by a violation or End: Next frames nothing more

	rules *[256]uint32 // lengthRules of the connection's version
}

// lengthRules[v][cmd] is 1 + the length cmd must have in version v, or
// anyLength, or 0 for a cmd v does not know; it is never written. It lets
// Next check a header with one lookup; check states the same rules readably
// and names the violation.
var lengthRules = [3][256]uint32{
	1: {SYN: 1, FIN: 1, PSH: anyLength, NOP: 1},
	2: {SYN: 1, FIN: 1, PSH: anyLength, NOP: 1, UPD: 1 + UPDSize},
}

const anyLength = 1 << 16 // above 1 + any length

// New returns a Decoder that keeps the first snaplen bytes of each payload.
// A snaplen below 0 counts as 0; one above MaxSnaplen as MaxSnaplen.
func New(snaplen int) *Decoder {
	snaplen = min(max(snaplen, 0), MaxSnaplen)
	return &Decoder{snaplen: snaplen, buf: make([]byte, snaplen), rules: &lengthRules[0],
		rs: resync.New[Frame](HeaderSize, ResyncWindow)}
}

// Snaplen returns how many payload bytes the decoder keeps per frame.
func (d *Decoder) Snaplen() int { return d.snaplen }

// Offset returns how many bytes the decoder has consumed, and lost (Gap).
func (d *Decoder) Offset() int64 { return d.off + int64(d.rs.Held()) }

// Frames returns how many frames the decoder has completed.
func (d *Decoder) Frames() uint64 { return d.frames }

// Pending returns how many bytes of a not yet complete frame the decoder has consumed.
func (d *Decoder) Pending() int64 {
	if d.stopped {
		return 0
	}
	return d.prog.Came() + int64(d.rs.Held())
}

// Unparsed returns how many bytes were consumed without framing: from the
// header of the violation on, and every byte given to Next after End.
// The wire bytes of the frames Next returned (Frame.Size less Frame.Lost,
// less a rejected one) plus Unparsed plus Pending plus Skipped plus Lost
// make Offset.
func (d *Decoder) Unparsed() int64 { return d.unparsed }

// Version returns the protocol version the decoder frames: the one given to
// Expect, or else that of the direction's first frame, or 0 while it knows none.
func (d *Decoder) Version() uint8 { return d.version }

// Expect tells the decoder which protocol version the receiving end of this
// direction speaks, as an in-process tap knows from its local smux.Config.
// Call it before the first Next. With it, a frame of the other version
// (1 or 2) is a VersionMismatch, as the receiving end refuses it; a version
// byte that is neither 1 nor 2 is still a BadVersion. Version 0 means
// unknown: the decoder adopts the version of the first valid frame, and a
// later change is a VersionChanged. Expect ignores versions other than 1
// and 2, which no smux end speaks (smux.VerifyConfig refuses them), and
// calls once Next has consumed a byte.
func (d *Decoder) Expect(version uint8) {
	if d.off != 0 || d.stopped {
		return
	}
	if version != 1 && version != 2 {
		version = 0
	}
	d.version, d.expected, d.rules = version, version != 0, &lengthRules[version]
}

// Violation returns the violation that stopped the decoder, or nil. The
// returned value stays valid: the decoder stops at its first violation.
func (d *Decoder) Violation() *Violation {
	if !d.violated {
		return nil
	}
	return &d.violation
}

// Next consumes bytes from p until it completes a frame, meets a framing
// violation, or runs out of input, and returns how many bytes it consumed.
// Call it again with p[n:] until p is empty.
//
// A completed frame is returned in f; it and its payload are valid only
// until the next call to Next. A framing violation is returned as a
// *Violation in err; it consumes all of p, and from then on Next consumes
// everything it is given without framing it, as smux stops reading. After
// End, too, Next consumes everything without framing it.
// When len(p) > 0, Next consumes at least one byte, or returns a frame
// or violation from the bytes it holds after a resynchronisation: while
// Buffered is above 0, keep calling Next, with an empty p if need be.
func (d *Decoder) Next(p []byte) (n int, f *Frame, err error) {
	if d.stopped || d.rs.Resyncing() {
		return d.unusual(p)
	}
	// Fast path: a whole, valid frame of the connection's version at the
	// start of p is framed in place. Anything else, the first frame and every
	// violation included, takes the slow path, which names the violation.
	if d.prog.Header == 0 && len(p) >= HeaderSize {
		// The header is read as one word: ver, cmd, length, sid from the
		// low byte up. Taking its fields apart in registers is much faster
		// than through a Header on the stack.
		x := binary.LittleEndian.Uint64(p)
		ver, cmd, length := uint8(x), Cmd(x>>8), int(uint16(x>>16))
		size := HeaderSize + length
		if r := d.rules[cmd]; ver == d.version && (r == uint32(length)+1 || r == anyLength) && len(p) >= size {
			f = &d.frame
			f.Offset = d.off
			binary.LittleEndian.PutUint64(f.Header[:], x)
			keep := min(length, d.snaplen)
			f.Payload = p[HeaderSize : HeaderSize+keep : HeaderSize+keep]
			f.Truncated = keep < length
			f.Consumed, f.Window, f.Lost = 0, 0, 0
			if cmd == UPD {
				f.Consumed = binary.LittleEndian.Uint32(p[HeaderSize:])
				f.Window = binary.LittleEndian.Uint32(p[HeaderSize+4:])
			}
			d.off += int64(size)
			d.frames++
			return size, f, nil
		}
	}
	return d.slow(p)
}

// unusual is Next after a violation or End, and while resynchronising.
func (d *Decoder) unusual(p []byte) (n int, f *Frame, err error) {
	if d.stopped {
		d.off += int64(len(p))
		d.unparsed += int64(len(p))
		return len(p), nil, nil
	}
	return d.rs.Next(p, (*framer)(d))
}

// slow collects a frame that is split across calls.
func (d *Decoder) slow(p []byte) (n int, f *Frame, err error) {
	pr := &d.prog
	if pr.Header < HeaderSize {
		if pr.Header == 0 {
			d.frameOff = d.off
		}
		c := copy(d.hdr[pr.Header:], p)
		before := pr.Header
		pr.Header += c
		n = c
		if pr.Header < HeaderSize {
			d.off += int64(n)
			return n, nil, nil
		}
		if code := d.check(d.hdr); code != 0 {
			return d.violate(code, d.hdr, d.frameOff, before, p)
		}
		pr.Got = 0
	}
	length := int(d.hdr.Length())
	got := int(pr.Got)
	take := min(length-got, len(p)-n)
	chunk := p[n : n+take]
	if keep := min(length, d.snaplen); got < keep {
		copy(d.buf[got:keep], chunk)
	}
	if d.hdr.Cmd() == UPD && got < UPDSize {
		copy(d.upd[got:], chunk)
	}
	got += take
	pr.Got = int64(got)
	n += take
	d.off += int64(n)
	if got < length {
		return n, nil, nil
	}
	f = &d.frame
	f.Offset = d.frameOff
	f.Header = d.hdr
	keep := int(pr.Kept(int64(min(length, d.snaplen)))) // only what came before a loss is the payload's
	f.Payload = d.buf[:keep:keep]
	f.Truncated = keep < length
	f.Consumed, f.Window, f.Lost = 0, 0, pr.Lost()
	if d.hdr.Cmd() == UPD {
		f.Consumed = binary.LittleEndian.Uint32(d.upd[:])
		f.Window = binary.LittleEndian.Uint32(d.upd[4:])
	}
	pr.Reset()
	d.frames++
	return n, f, nil
}

// check applies smux's receive rules to a header, in recvLoop's order, and
// returns the violated rule or 0. Without an expected version it adopts the
// first valid version it sees.
func (d *Decoder) check(h Header) Code {
	ver := h.Version()
	if ver != 1 && ver != 2 {
		return BadVersion
	}
	if d.version == 0 {
		d.version = ver
		d.rules = &lengthRules[ver]
	} else if ver != d.version {
		if d.expected {
			return VersionMismatch
		}
		return VersionChanged
	}
	switch h.Cmd() {
	case SYN, FIN, NOP:
		if h.Length() != 0 {
			return LengthNotZero
		}
	case PSH:
	case UPD:
		if ver != 2 {
			return UPDInV1
		}
		if h.Length() != UPDSize {
			return BadUPDLength
		}
	default:
		return UnknownCmd
	}
	return 0
}

// violate stops the decoder. earlier is how many of the offending header's
// bytes were consumed by previous calls; all of p is consumed now.
func (d *Decoder) violate(code Code, h Header, off int64, earlier int, p []byte) (int, *Frame, error) {
	d.off += int64(len(p))
	return len(p), nil, d.stop(Violation{Code: code, Offset: off, Header: h, Want: d.version}, int64(earlier+len(p)))
}

// stop stops the decoder with violation v, whose unparsed bytes have been
// consumed already.
func (d *Decoder) stop(v Violation, unparsed int64) *Violation {
	d.stopped, d.violated = true, true
	d.violation = v
	d.unparsed = unparsed
	d.prog.Reset()
	return &d.violation
}

// Reject turns f, which must be the frame the last call to Next returned,
// into a violation: the receiving end refused it because of a rule that
// spans both directions, such as the two directions of a session speaking
// different versions (code VersionMismatch, want the version the receiving
// end speaks). It stops the decoder as a violation found by Next does: it
// returns Violation{Code: code, Offset: f.Offset, Header: f.Header, Want:
// want}, which Violation returns from then on; Frames no longer counts f;
// f's wire bytes (less those lost, Frame.Lost) count as Unparsed, and so
// do the bytes a
// resynchronisation held after f and every byte given to Next afterwards.
//
// Reject does nothing and returns nil when the decoder has stopped, when
// code is 0, or when f is not the last frame Next returned, or Next has
// consumed bytes since.
func (d *Decoder) Reject(f *Frame, code Code, want uint8) *Violation {
	if f == nil || code == 0 || d.stopped || d.prog.Header != 0 || d.frames == 0 ||
		f.Offset != d.frame.Offset || f.Header != d.frame.Header || f.Offset+f.Size() != d.off {
		return nil
	}
	d.frames--
	// The bytes a resynchronisation holds after f are unread too: left
	// held, Buffered would stay above 0 with nothing to frame them.
	d.off += int64(d.rs.Release())
	return d.stop(Violation{Code: code, Offset: f.Offset, Header: f.Header, Want: want}, d.off-f.Offset-f.Lost)
}

// End tells the decoder that the direction's byte stream has ended (EOF,
// reset or close) and stops it: from then on Next consumes everything
// without framing it. If a frame was incomplete (Pending() > 0), End
// returns a Truncated violation at the frame's offset, which Violation
// returns from then on, and the frame's bytes count as Unparsed, so that
// the frames' wire bytes plus Unparsed make Offset. The violation's
// HeaderComplete and Got say how much of the frame arrived.
//
// End returns nil when no frame was incomplete or the decoder had stopped.
// Bytes held by a resynchronisation that found no frame boundary count as
// Skipped, not as a truncated frame: nothing says a frame began there.
// Call Next while Buffered is above 0 before End: a frame whose last bytes
// a Gap lost is whole, but End, not given it, would take it as truncated.
func (d *Decoder) End() *Violation {
	if d.stopped {
		return nil
	}
	if d.rs.Resyncing() {
		d.rs.Abandon((*framer)(d)) // no boundary found, or bytes held that Next was not asked to frame
	}
	if d.prog.Header == 0 {
		d.stopped = true
		return nil
	}
	h := d.hdr
	clear(h[d.prog.Header:])
	return d.stop(Violation{Code: Truncated, Offset: d.frameOff, Header: h, Want: d.version,
		HeaderComplete: d.prog.Header == HeaderSize, Got: int64(d.prog.Header) + d.prog.Got}, d.prog.Came())
}

package yamux

import (
	"encoding/binary"

	"github.com/muxtop/muxtop/decoder/internal/resync"
)

// MaxSnaplen is the largest snaplen a Decoder takes. A yamux Data frame
// may carry up to 4 GiB; a record keeps at most this many of its bytes.
const MaxSnaplen = 1<<16 - 1

// Decoder decodes the yamux frames of one direction of a connection.
//
// It holds at most one header and Snaplen payload bytes, allocates only in
// New, and never panics on any input. Feed it with Next and tell it with
// End that the byte stream has ended. A Decoder is not safe for concurrent
// use: give each direction its own.
type Decoder struct {
	snaplen int
	buf     []byte // snapshot of the current frame's payload, cap snaplen

	hdr      Header          // header being collected
	prog     resync.Progress // of the current frame: header and payload bytes collected, and lost (framer.Lose)
	frameOff int64           // offset of the current frame's header

	off      int64 // bytes consumed
	unparsed int64 // bytes consumed after a violation, from its header on
	frames   uint64

	rs resync.State[Frame] // resync.go: finding a frame boundary mid-stream

	frame     Frame // Skipped is always 0: a frame found by a resynchronisation is given by rs
	violation Violation
	violated  bool // violation is set
	stopped   bool // by a violation or End: Next frames nothing more
}

// New returns a Decoder that keeps the first snaplen bytes of each Data
// payload. A snaplen below 0 counts as 0; one above MaxSnaplen as MaxSnaplen.
func New(snaplen int) *Decoder {
	snaplen = min(max(snaplen, 0), MaxSnaplen)
	return &Decoder{snaplen: snaplen, buf: make([]byte, snaplen), rs: resync.New[Frame](HeaderSize, ResyncWindow)}
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
// The wire bytes of the frames Next returned (Frame.Size less Frame.Lost)
// plus Unparsed, Pending, Skipped and Lost make Offset.
func (d *Decoder) Unparsed() int64 { return d.unparsed }

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
// everything it is given without framing it, as yamux reads nothing more
// of a session it ended. After End, too, Next consumes everything without
// framing it. When len(p) > 0, Next consumes at least one byte, or
// returns a frame or violation from the bytes it holds after a
// resynchronisation: while Buffered is above 0, keep calling Next, with an
// empty p if need be.
func (d *Decoder) Next(p []byte) (n int, f *Frame, err error) {
	if d.stopped || d.rs.Resyncing() {
		return d.unusual(p)
	}
	// Fast path: a whole, valid frame at the start of p is framed in place.
	// Anything else, every violation included, takes the slow path.
	if d.prog.Header == 0 && len(p) >= HeaderSize {
		// Version and type as one 16-bit word: version 0 and a known type
		// make it below NumTypes.
		vt := binary.BigEndian.Uint16(p)
		if vt < NumTypes {
			var length int64
			if vt == uint16(Data) {
				length = int64(binary.BigEndian.Uint32(p[8:]))
			}
			if size := HeaderSize + length; int64(len(p)) >= size {
				f = &d.frame
				f.Offset = d.off
				f.Header = Header(p[:HeaderSize])
				keep := int(min(length, int64(d.snaplen)))
				f.Payload = p[HeaderSize : HeaderSize+keep : HeaderSize+keep]
				f.Truncated = int64(keep) < length
				f.Lost = 0
				d.off += size
				d.frames++
				return int(size), f, nil
			}
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
		if code := check(d.hdr); code != 0 {
			d.off += int64(len(p))
			return len(p), nil, d.stop(Violation{Code: code, Offset: d.frameOff, Header: d.hdr}, int64(before+len(p)))
		}
		pr.Got = 0
	}
	length := int64(d.hdr.PayloadLength())
	take := min(length-pr.Got, int64(len(p)-n))
	chunk := p[n : n+int(take)]
	if keep := min(length, int64(d.snaplen)); pr.Got < keep {
		copy(d.buf[pr.Got:keep], chunk)
	}
	pr.Got += take
	n += int(take)
	d.off += int64(n)
	if pr.Got < length {
		return n, nil, nil
	}
	f = &d.frame
	f.Offset = d.frameOff
	f.Header = d.hdr
	keep := pr.Kept(min(length, int64(d.snaplen))) // only what came before a loss is the payload's
	f.Payload = d.buf[:keep:keep]
	f.Truncated = keep < length
	f.Lost = pr.Lost()
	pr.Reset()
	d.frames++
	return n, f, nil
}

// check applies yamux's receive rules to a header, in recvLoop's order,
// and returns the violated rule or 0.
func check(h Header) Code {
	if h.Version() != Version {
		return BadVersion
	}
	if h.Type() >= NumTypes {
		return UnknownType
	}
	return 0
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

// End tells the decoder that the direction's byte stream has ended (EOF,
// reset or close) and stops it: from then on Next consumes everything
// without framing it. If a frame was incomplete (Pending() > 0), End
// returns a Truncated violation at the frame's offset, which Violation
// returns from then on, and the frame's bytes count as Unparsed, so that
// the frames' wire bytes plus Unparsed make Offset.
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
	return d.stop(Violation{Code: Truncated, Offset: d.frameOff, Header: h,
		HeaderComplete: d.prog.Header == HeaderSize, Got: int64(d.prog.Header) + d.prog.Got}, d.prog.Came())
}

package tap

import (
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/live"
)

// frameHeader is the header of an smux or a yamux frame.
type frameHeader interface{ decoder.Header | yamux.Header }

// wroteFrame is where a frame of a Write lies in its direction's byte
// stream, and where its session counted it.
type wroteFrame[H frameHeader] struct {
	off int64
	hdr H
	ref live.FrameRef
}

// frameCut is the frame a failed Write cut: it begins at off, got of its
// bytes went out, and hdr is its header, zero past what went out. off is
// -1 when the cut fell in no frame.
type frameCut[H frameHeader] struct {
	off, got int64
	hdr      H
}

// headerComplete reports that the frame's whole header went out.
func (c frameCut[H]) headerComplete() bool { return c.got >= int64(len(c.hdr)) }

// frameDecoder is what unsentFrames asks of a protocol's decoder, whose
// violation is V.
type frameDecoder[V any] interface {
	Offset() int64
	Pending() int64
	Violation() *V
	End() *V
}

// framing is what unsentFrames knows of a protocol whose frame header is
// H and violation V.
type framing[H frameHeader, V any] struct {
	size      func(H) int64          // a frame's length, header included
	place     func(*V) (int64, H)    // a violation's offset and header
	truncated func(c frameCut[H]) *V // the TRUNCATED violation of the frame c
}

// unsentFrames is unsent once the protocol is known: dec decodes the
// direction, wrote holds the frames of the Write, and the Write sent only
// the bytes before offset cut of the stream after the prefix. Each frame
// that did not go out whole is taken back (retract), and the frame the cut
// fell in, which may be one the decoder still holds incomplete, is
// reported (report) as truncated. The bytes that went out unparsed, those
// of that frame and any after a violation, count as unparsed.
func unsentFrames[H frameHeader, V any, D frameDecoder[V]](f *Feeder, at time.Time, cut int64, dec D,
	wrote []wroteFrame[H], p framing[H, V], retract func(live.Dir, H, live.FrameRef), report func(live.Dir, time.Time, *V)) {
	var sentUnparsed int64 // the unparsed bytes that did go out
	if v := dec.Violation(); v != nil {
		off, _ := p.place(v)
		sentUnparsed = max(0, cut-off)
	}
	c := frameCut[H]{off: -1}
	for _, w := range wrote {
		if w.off+p.size(w.hdr) <= cut {
			continue
		}
		retract(f.dir, w.hdr, w.ref)
		if w.off < cut {
			c = frameCut[H]{w.off, cut - w.off, w.hdr}
		}
	}
	// A frame still incomplete at the end of the write may have begun
	// before the cut.
	if pending := dec.Pending(); pending > 0 {
		if start := dec.Offset() - pending; start < cut {
			c.off, c.got = start, cut-start
			if v := dec.End(); v != nil {
				_, c.hdr = p.place(v)
			}
		}
	}
	if c.off >= 0 {
		for i := c.got; i < int64(len(c.hdr)); i++ {
			c.hdr[i] = 0 // not sent
		}
		sentUnparsed += c.got
		report(f.dir, at, p.truncated(c))
	}
	f.sess.Unparsed(f.dir, sentUnparsed)
}

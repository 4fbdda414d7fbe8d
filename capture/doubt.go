package capture

import (
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// Nested muxes. A direction joined mid-stream is told smux or yamux by a
// chain of plausible headers, which a resynchronising probe of each
// protocol looks for; the first chain found used to decide. But a tunnel
// carries another mux's bytes in its frames' payloads: smux apps talking
// through a yamux tunnel, yamux apps through an smux one. Joined inside
// an outer frame, the inner protocol's chain often completes first, since
// the outer one's needs the next outer frames (256 KiB each in a yamux
// tunnel whose relay writes that much at once), and the connection was
// decoded as the inner protocol, to break at the next outer header with a
// false PROTOCOL finding.
//
// So the first chain found, the lead, is doubted while the other
// protocol's probe, the rival, hunts on, and the lead's frames after it
// are followed header by header (walker), each checked by the lead's
// resynchronisation rule. The doubt ends:
//   - for the lead at once, if the chain's first two frames each ended a
//     packet: their sender wrote them one at a time, as a mux writes its
//     frames. Inside a tunnel's frame, packets end where the tunnel's
//     writes and the segment size cut its payload, on an inner frame's end
//     only by chance; so the quiet connection whose keepalives alone
//     chain, a frame a packet, is decided as soon as before;
//   - for the lead, once it has framed a header past the largest frame of
//     the rival after its first: a rival frame that held the lead's chain
//     would have ended before, and its next header broken the lead's
//     frames (an inner chain lies inside one outer payload; the inner
//     frames after it run into the outer header and are read from the
//     wrong place, which the rule rejects);
//   - for the lead, once the rival found a chain and the lead has framed a
//     header past the rival's second one: the rival's chain lies inside a
//     lead payload, an inner mux of the lead's tunnel;
//   - for the rival, once it found a chain and the lead's frames broke:
//     the lead's chain lay inside a rival payload;
//   - for the lead, as the first chain decided before, when the bytes end,
//     bytes are lost, more than probeMax are held, or the doubt lasted
//     doubtWait of capture time: nothing better came.
//
// Otherwise a connection of one mux is decided as soon as the lead has
// framed the rival's largest frame's worth of bytes (256 KiB past its
// first header for smux, 64 KiB for yamux), or doubtWait after its chain:
// its bytes are held, and decoded with their own times, meanwhile.
//
// A tunnel of the lead's own protocol (smux in smux) is no rival, but its
// break shows: a lead that wins though its frames broke has aligning look
// for the direction's first boundary after the chain (restart).

// doubtWait is how long, in capture time, a direction's first chain of
// headers is doubted before it decides the connection's protocol.
const doubtWait = time.Second

// doubt is a joined direction whose bytes chained up as the lead's frames
// while the rival's probe had found none.
type doubt struct {
	since    time.Time // when the lead's chain came: the verdict's time before doubts
	lead     tap.Protocol
	walk     walker
	need     int64 // a lead header framed at or past this offset: no rival frame held the lead's chain
	rival    bool  // the rival's probe found a chain
	rivalEnd int64 // the offset past its second header
	done     bool  // the rival's probe stopped without a chain
}

// walker follows one protocol's frames through a direction's bytes from a
// header known to be one, and checks each next header by the protocol's
// resynchronisation rule (decoder.Header.Plausible,
// yamux.Header.Plausible).
type walker struct {
	yamux bool
	ver   uint8 // smux: the version of the first header
	at    int64 // the offset of the next byte given
	next  int64 // the offset of the next header
	hdr   [yamux.HeaderSize]byte
	hn    int
	first int64 // the offset of the header it was told is one
	valid int64 // the offset of the latest header found plausible
	n     int   // how many were
	// cut is, for the first and the second frame, whether the bytes
	// given in one call ended where the frame does: a packet's end.
	cut   [2]bool
	broke bool // a header was not plausible
	blind bool // bytes were lost: it follows no more
	// atStart: the first header is a direction's first bytes, a known
	// boundary, and Data frames beyond the default window are plausible
	// (yamux.Header.PlausibleAtStart); big: one such was found.
	atStart, big bool
}

// feed follows the frames through p, the direction's next bytes.
func (w *walker) feed(p []byte) {
	size := decoder.HeaderSize
	if w.yamux {
		size = yamux.HeaderSize
	}
	for len(p) > 0 && !w.broke && !w.blind {
		if w.at < w.next {
			n := min(int64(len(p)), w.next-w.at)
			p, w.at = p[n:], w.at+n
			continue
		}
		n := copy(w.hdr[w.hn:size], p)
		p, w.at, w.hn = p[n:], w.at+int64(n), w.hn+n
		if w.hn < size {
			return
		}
		w.hn = 0
		var frame int64
		if w.yamux {
			h := yamux.Header(w.hdr[:yamux.HeaderSize])
			if w.atStart {
				w.broke = !h.PlausibleAtStart()
				w.big = w.big || !w.broke && h.PayloadLength() > yamux.MaxResyncData
			} else {
				w.broke = !h.Plausible()
			}
			frame = yamux.HeaderSize + int64(h.PayloadLength())
		} else {
			h := decoder.Header(w.hdr[:decoder.HeaderSize])
			w.broke = !h.Plausible(w.ver)
			frame = decoder.HeaderSize + int64(h.Length())
		}
		if w.broke {
			return
		}
		w.valid, w.n = w.next, w.n+1
		w.next += frame
	}
	if w.at == w.next && w.hn == 0 && !w.broke && !w.blind && (w.n == 1 || w.n == 2) {
		w.cut[w.n-1] = true
	}
}

// lose tells the walker that n bytes were lost where its next byte was
// due: it cannot tell where the frames after them begin.
func (w *walker) lose(n int64) {
	w.at += n
	if w.at > w.next { // a header, or some of it, was lost
		w.blind = true
	}
}

// maxFrame is the largest frame, header included, that a plausible header
// of p announces.
func maxFrame(p tap.Protocol) int64 {
	if p == tap.Yamux {
		return yamux.HeaderSize + yamux.MaxResyncData
	}
	return decoder.HeaderSize + 1<<16 - 1
}

func headerSize(p tap.Protocol) int64 {
	if p == tap.Yamux {
		return yamux.HeaderSize
	}
	return decoder.HeaderSize
}

func other(p tap.Protocol) tap.Protocol {
	if p == tap.Yamux {
		return tap.Smux
	}
	return tap.Yamux
}

// doubtful reports whether direction d's first chain of headers is to be
// doubted: it was joined mid-stream and both protocols are looked for.
func (c *conn) doubtful(d live.Dir) bool {
	return !c.syn[d] && c.probe[d] != nil && c.yprobe[d] != nil
}

// firstFrame is what a probe found in the bytes given: its first frame's
// offset and size, or that it stopped at a violation.
type firstFrame struct {
	found, bad bool
	off, size  int64
}

// look gives p to direction d's probe of protocol p, and reports what it
// found.
func (c *conn) look(d live.Dir, proto tap.Protocol, p []byte) firstFrame {
	if proto == tap.Smux {
		f, bad := scan(c.probe[d], p, everyFrame)
		if f == nil {
			return firstFrame{bad: bad}
		}
		return firstFrame{found: true, off: f.Offset, size: decoder.HeaderSize + int64(f.Header.Length())}
	}
	f, bad := scan(c.yprobe[d], p, everyFrame)
	if f == nil {
		return firstFrame{bad: bad}
	}
	return firstFrame{found: true, off: f.Offset, size: yamux.HeaderSize + int64(f.Header.PayloadLength())}
}

// weigh is probeWith for a direction whose first chain is doubted: it
// gives p (nil: what the probes hold) to the probes still looking, and to
// the lead's walker, and settles the connection's protocol if the doubt
// ends.
func (c *conn) weigh(d live.Dir, p []byte) {
	dt := c.doubt[d]
	if dt != nil {
		dt.walk.feed(p)
		if !dt.rival && !dt.done {
			rival := other(dt.lead)
			switch f := c.look(d, rival, p); {
			case f.found:
				dt.rival, dt.rivalEnd = true, f.off+f.size+headerSize(rival)
			case f.bad:
				dt.done = true
			}
		}
		c.resolve(d, false)
		return
	}
	sf, yf := c.look(d, tap.Smux, p), c.look(d, tap.Yamux, p)
	switch {
	case sf.found && (!yf.found || sf.off <= yf.off):
		c.startDoubt(d, tap.Smux, sf, yf)
	case yf.found:
		c.startDoubt(d, tap.Yamux, yf, sf)
	case sf.bad || yf.bad:
		c.state, c.proto = skipped, tap.Smux // as a probe's violation made it before
		if yf.bad {
			c.proto = tap.Yamux
		}
	}
}

// startDoubt doubts direction d's first chain, of protocol lead, found at
// f; r is what the rival's probe found in the same bytes.
func (c *conn) startDoubt(d live.Dir, lead tap.Protocol, f, r firstFrame) {
	dt := &doubt{since: c.last, lead: lead, need: f.off + maxFrame(other(lead))}
	dt.walk = walker{yamux: lead == tap.Yamux, first: f.off, next: f.off, valid: -1}
	if lead == tap.Smux {
		dt.walk.ver = c.probe[d].Version()
	}
	switch {
	case r.found:
		dt.rival, dt.rivalEnd = true, r.off+r.size+headerSize(other(lead))
	case r.bad:
		dt.done = true
	}
	c.doubt[d] = dt
	// The walker starts at the direction's first byte held.
	for _, ch := range c.pending {
		switch {
		case ch.dir != d || ch.end:
		case ch.lost > 0:
			dt.walk.lose(ch.lost)
		default:
			dt.walk.feed(ch.data)
		}
	}
	c.resolve(d, false)
}

// resolve ends direction d's doubt if it can, or, with giveUp, for the
// lead in any case, and makes the connection the protocol it chose.
func (c *conn) resolve(d live.Dir, giveUp bool) {
	dt := c.doubt[d]
	if dt == nil || c.state != probing {
		return
	}
	w := &dt.walk
	proto := dt.lead
	switch {
	case w.cut == [2]bool{true, true}, w.valid >= dt.need, dt.rival && w.valid >= dt.rivalEnd:
	case dt.rival && w.broke:
		proto = other(dt.lead)
	case !giveUp && !w.blind && !dt.done:
		return // no rival chain yet, which may come
	}
	c.state, c.proto = decoding, proto
}

// restarts sets, as the probes' verdict is acted on, where aligning looks
// from in each direction whose doubt followed a chain of the verdict's
// protocol to a break (restart).
func (c *conn) restarts() {
	for d, dt := range c.doubt {
		if dt == nil || dt.lead != c.proto || !dt.walk.broke || dt.walk.blind {
			continue
		}
		w := &dt.walk
		c.restart[d] = restart{from: w.valid + 1, before: w.next, lead: w.first}
	}
}

// restart is where aligning looks for a direction's first frame boundary
// when the doubt over its first chain, at lead, found the frames after it
// break, with no rival chain to explain it (conn.restart): from after the
// last header that chained (from). If the chain lay inside a frame of a
// tunnel of the same protocol (smux in smux), the tunnel's next header is
// within the frame that broke, before the offset where its next header
// was due (before): a boundary found there is taken. One found later is
// not, the break being the stream's own (bytes lost or altered on the
// way), which the first chain, at lead, reports.
type restart struct {
	from, before, lead int64
	skip               int64 // the bytes before from that aligning has still to pass
}

// at returns the offset of a boundary that aligning found off bytes after
// where it looked from.
func (r *restart) at(off int64) int64 {
	if r.from == 0 {
		return off
	}
	if off += r.from; off >= r.before {
		return r.lead
	}
	return off
}

// doubted returns the direction whose doubt began first, or false.
func (c *conn) doubted() (live.Dir, bool) {
	switch a, b := c.doubt[0], c.doubt[1]; {
	case a != nil && (b == nil || !b.since.Before(a.since)):
		return 0, true
	case b != nil:
		return 1, true
	}
	return 0, false
}

// doubtOver ends, at capture time now, a doubt that lasted doubtWait, or
// any with over (the bytes held are too many, or end), for the lead of
// the oldest one; it reports whether it decided the protocol.
func (c *conn) doubtOver(now time.Time, over bool) bool {
	d, ok := c.doubted()
	if !ok || c.state != probing || (!over && now.Sub(c.doubt[d].since) <= doubtWait) {
		return false
	}
	c.resolve(d, true)
	return true
}

// verdictAt returns when the probes' verdict came, given that it was
// taken at: when the first chain of a doubt came, as its verdict came
// before there were doubts, so that orienting waits no longer in all.
func (c *conn) verdictAt(at time.Time) time.Time {
	if d, ok := c.doubted(); ok {
		return c.doubt[d].since
	}
	return at
}

// endDoubt looks, as direction d ends while the connection is probed, at
// what its probes hold, and ends its doubt, if any, for the protocol its
// bytes make out: no more of them will come to tell. It reports whether
// that decided the connection's protocol.
func (c *conn) endDoubt(d live.Dir) bool {
	if !c.doubtful(d) {
		return false
	}
	c.probe[d].Flush()
	c.yprobe[d].Flush()
	c.weigh(d, nil)
	c.resolve(d, true)
	return c.state != probing
}

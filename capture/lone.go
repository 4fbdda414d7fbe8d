package capture

import (
	"time"

	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/live"
)

// A lone ping. A connection joined mid-stream is told a mux by a chain of
// three plausible frame headers (decoder/yamux/resync.go), and where its
// frames begin likewise. An idle yamux session sends nothing but its
// keepalive pings, each alone in its packet, one an interval (30 s by
// default); one whose peer froze sends one ping, which gets no answer, and
// its FIN when yamux gives up on it (ConnectionWriteTimeout, 10 s). Such a
// connection never chained, and was held undecided until it ended: its
// session reached the registry only then, and KEEPALIVE, which counts 5 s
// from the ping, opened at the capture's end or, the connection reset,
// never. That is the frozen idle session of a capture begun after the
// frozen side's last byte.
//
// So a packet of a direction joined mid-stream whose payload is exactly
// one yamux Ping header, a request or a reply (version 0, type 2, flags
// SYN or ACK alone, stream 0: 64 of its 96 bits fixed, of two values; its
// opaque value, the last 4 bytes, is free), before any byte of the
// direction was lost, decides the connection yamux and is taken as a frame
// boundary, unless a chain found before it says otherwise; where the bytes
// held before it hold frames that chain up to it exactly, the earliest of
// them is the boundary (a Data frame, its header and payload written
// apart, and a keepalive ping right after: taken at the ping, the request
// was skipped as the end of a frame sent before). hashicorp/yamux
// writes a ping alone, as its keepalive and Session.Ping send it; a
// packet's start is where its sender's write began, a frame's start for a
// mux that writes its frames one at a time. Random bytes make one such
// packet with a probability of 2⁻⁶³; the risk is another protocol whose
// 12-byte messages begin 00 02 00 01 or 00 02 00 02 and four zero bytes,
// decoded as yamux (to break, with a PROTOCOL finding, at its next message
// that is no yamux frame), and a yamux tunnel carrying a yamux session
// whose writer sends each frame's header and payload apart: a packet that
// is an inner ping, the whole payload of an outer Data frame, read as a
// ping of the outer session, the frames after it read right. smux's NOP
// (8 bytes, all fixed) is not taken so: a binary protocol's 8-byte messages
// of mostly zeros are likelier, and smux's keepalive findings count 30 s.

// lonePing reports whether p, the payload of one packet, is exactly one
// yamux Ping header by the rule above.
func lonePing(p []byte) bool {
	if len(p) != yamux.HeaderSize {
		return false
	}
	h := yamux.Header(p)
	return h.Version() == yamux.Version && h.Type() == yamux.Ping &&
		(h.Flags() == yamux.SYN || h.Flags() == yamux.ACK) && h.StreamID() == 0
}

// lonePingFrom reports whether p, the next bytes of direction d while the
// connection is probed, is a lone ping that decides it yamux: the
// direction was joined mid-stream, is probed for yamux and lost nothing.
func (c *conn) lonePingFrom(d live.Dir, p []byte) bool {
	pr := c.yprobe[d]
	return !c.syn[d] && pr != nil && pr.Lost() == 0 && lonePing(p)
}

// expireHeld settles, at capture time t, before the packet or quiet
// moment at t is read, the held connections that would hold the others
// past holdWait (horizon) and whose own waits have run out by t: as the
// sweep, which comes after the packet, would settle them. Decided now,
// what they held is merged in time, and the evaluations up to t see their
// sessions; marked late, their records would step back behind
// evaluations already made. A capture's packets can be seconds apart: a
// frozen session's ping, and its FIN 10 s later.
func (r *Reader) expireHeld(t time.Time) {
	for i := r.hhead; i < len(r.holds); i++ {
		c := r.holds[i]
		if c == nil || !c.holding() {
			continue
		}
		if !c.heldPast(t) {
			break
		}
		c.expire(t)
	}
	r.expireLate(t)
}

// expire settles, at capture time now, a connection whose timed waits
// have run out: the sweep's checks of one connection.
func (c *conn) expire(now time.Time) {
	if c.state == probing && c.probesDone(now) {
		c.state = skipped
		c.settle() // decoded as a tap decodes: no verdict can come
	}
	if c.doubtOver(now, false) {
		c.probed(now) // no better verdict came in time
	}
	if c.framedFromSYN(now) {
		c.probed(now) // too few frames for a chain, but all of them, and no more are coming
	}
	if c.heldTooLong(now) {
		if c.state == orienting {
			c.orientLast(false) // no stream opened in time: the port guess stands
			return
		}
		c.settle() // no boundary found in time, nor did the connection carry enough
	}
}

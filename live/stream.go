package live

import (
	"strconv"
	"time"

	"github.com/muxtop/muxtop/printable"
)

// State is the state of a stream as seen on the wire.
type State uint8

// The stream states.
const (
	Open               State = iota // SYN seen, no FIN
	HalfClosedByClient              // the client sent FIN
	HalfClosedByServer              // the server sent FIN
	Closed                          // both sides sent FIN
	EndedWithSession                // the session ended before both FINs
	// SYNSent is a yamux stream whose opener sent SYN and the other side
	// has not answered with ACK yet: yamux's OpenStream has returned, but
	// the opener counts it against its 256 in-flight SYNs.
	SYNSent
	// StreamReset is a yamux stream that either side hard-closed with RST:
	// yamux fails its Reads and Writes with "connection reset".
	StreamReset
)

var stateNames = [...]string{"open", "half-closed→", "half-closed←", "closed", "ended", "syn-sent", "reset"}

// String returns the state's name; half-closed carries the arrow of the
// direction whose sender closed.
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "unknown"
}

// Live reports whether the stream is open or half-closed, or, in yamux,
// opened and not yet acknowledged.
func (s State) Live() bool { return s <= HalfClosedByServer || s == SYNSent }

// Flow is the flow-control state of one direction of a stream, as its
// writer sees it: smux v2's, or yamux's.
//
// In a yamux session, PeerWindow is the 256 KiB every stream starts with
// plus the delta of the reader's WINDOW_UPDATE that carries SYN or ACK
// (yamux announces a window configured above 256 KiB there), and
// PeerConsumed the sum of its other deltas, which yamux sends as its
// reader consumes; HasUPD is always set. Window − InFlight is then exactly
// yamux's own send window, in the same modular uint32 arithmetic; when
// the SYN or ACK update also returns bytes already read, the split between
// window and in-flight overstates both by those bytes.
type Flow struct {
	// Written is the payload bytes sent in this direction, modulo 2^32 as smux counts them.
	Written uint32
	// PeerConsumed and PeerWindow are the reader's last UPD.
	PeerConsumed, PeerWindow uint32
	// HasUPD reports whether the reader sent a UPD yet; before it the
	// writer assumes InitialPeerWindow.
	HasUPD bool
	// leaving: the bytes that filled the window (stream.end) were, when
	// last looked at, still in the tapped end's write to the connection,
	// which a tap records as it begins (Session.Sent): the writer waits
	// on that write, not on the window (Session.settle). In padding.
	leaving bool
	// settled: those bytes were found gone, and FullSince is fixed until
	// the window is reached again or more bytes are recorded: the
	// distance from stream.end to what has left, modulo 2^32, is not
	// looked at again once other streams' bytes can have taken it past
	// 2 GiB. In padding.
	settled bool
	// FullSince is when the writer reached the window (in-flight bytes
	// equal to it) and no UPD has opened it since; zero when it has room,
	// or when the writer has sent FIN and writes no more. At a tapped end
	// that reports what of its writes has left it (Session.Sent), the
	// writer reaches the window only once the bytes that filled it have
	// left: FullSince is then the latest moment they were seen still in
	// its write, at most an evaluation before they left.
	FullSince time.Time
}

// Window returns the reader's window as the writer uses it.
func (f Flow) Window() uint32 {
	if !f.HasUPD {
		return InitialPeerWindow
	}
	return f.PeerWindow
}

// InFlight returns the bytes written but not yet consumed by the reader,
// as smux computes it: int32(written − consumed), modular. It is negative
// when the reader reported consuming more than was sent, which makes
// smux's writer fail ("peer consumed more than sent"); it never shows a
// wrapped unsigned number.
func (f Flow) InFlight() int64 { return int64(int32(f.Written - f.PeerConsumed)) }

// free is how many more bytes the writer may send: window − in-flight,
// as smux computes it.
func (f Flow) free() int64 { return int64(int32(f.Window())) - f.InFlight() }

// AtWindow reports whether the writer has no room left: its in-flight
// bytes have reached the window (smux v2 blocks a write when
// window − in-flight <= 0, even after the peer sent FIN). Being at the
// window for a moment is normal in a bulk transfer; Stalled is the
// diagnosis.
func (f Flow) AtWindow() bool { return f.InFlight() >= 0 && f.free() <= 0 }

// Stalled reports whether the writer is held back: it has been at the
// window, with no UPD opening it and no FIN of its own, for at least after
// by now. At a tapped end, not while the bytes that filled the window are
// still in its write: its writer waits on that write.
func (f Flow) Stalled(now time.Time, after time.Duration) bool {
	return !f.FullSince.IsZero() && !f.leaving && now.Sub(f.FullSince) >= after
}

// heldFor returns how long (ns) fl's writer has been held at its window
// at at, 0 if it is not, nor while the bytes that filled the window are
// still in a tapped end's write.
func heldFor(fl *Flow, at time.Time) int64 {
	if fl.FullSince.IsZero() || fl.leaving {
		return 0
	}
	return max(at.Sub(fl.FullSince).Nanoseconds(), 0)
}

// yamuxBits are a yamux stream's flags (stream.ybits).
type yamuxBits uint8

// The yamux stream's flags: yAcked, its ACK came; yClosedBy(d), d's FIN
// closed it both ways.
const (
	yAcked yamuxBits = 1 << iota
	yClosedByC2S
	yClosedByS2C
)

// yClosedBy is the flag of a stream closed both ways by a FIN in
// direction d.
func yClosedBy(d Dir) yamuxBits { return yClosedByC2S << d }

// acked reports whether the side that did not open yamux stream st sent
// ACK.
func (st *stream) acked() bool { return st.ybits&yAcked != 0 }

// stream is the mutable state of one stream; its Session's lock guards it.
type stream struct {
	id     uint32
	opener Side
	state  State
	fin    [2]bool
	// finAt is when each direction's FIN came, Unix ns: DATA_AFTER_CLOSE;
	// in yamux only the FIN that closed the stream both ways (ownFINLast).
	finAt [2]int64
	// readBy is, per direction of the data, in smux, when (Unix ns) a
	// reader at V1DrainRate could have read what it was sent so far,
	// none of it held more than V1ReceiveBuffer's drain (Session.psh):
	// a v1 stream half-closed by its sender is no LEAK before it
	// (Session.drainedAt). 16 bytes a stream, no padding left to hold
	// them: 320 KB at 20 000 streams.
	readBy      [2]int64
	frames      [2]uint64
	bytes       [2]uint64
	wire        [2]uint64 // its frames whole, header and payload (a UPD's 8 bytes too)
	first, last time.Time
	replyAt     time.Time // the first PSH with data from the side that did not open
	// ybits holds yamux's: whether the side that did not open sent ACK
	// (yAcked), and which direction's FIN closed the stream both ways
	// (yClosedBy): one byte, where acked's bool was, 512 still.
	ybits yamuxBits
	// unanswered is the evaluation (engineSession.seen, cut to 32 bits)
	// that last counted it for UNANSWERED, and unansweredRun says the one
	// before it did too (countUnanswered): an UNANSWERED that resolves
	// tells which of its streams still wait. The engine's, but here they
	// fill padding.
	unansweredRun bool
	// heldAtEnd says, for each direction, that its writer was held at
	// the window as the direction ended (DirectionEnded clears the hold):
	// the evidence that the other side had accepted the stream and not
	// read it, which UNANSWERED's exclusion of held writers keeps using
	// (awaitsAnswer). In padding too.
	heldAtEnd  [2]bool
	unanswered uint32
	flow       [2]Flow
	// run is DATA_AFTER_CLOSE's, per direction of the data (the
	// engine's; watch.go's runBursts and runSpan): its writer's payload
	// bursts before its reader's FIN, packed in 32 bits (their count, to
	// runBursts, the milliseconds they span, to 15, and the latest's
	// millisecond), where the padding after flow was.
	run [2]uint32
	// end is, per direction, its offset past the stream's latest data
	// frame in it, modulo 2^32: the bytes that fill a window end there
	// (Session.settle). 8 bytes: 512, Go's size class still.
	end    [2]uint32
	serial uint64      // the session's count of streams opened when this one was: a FrameRef's check
	watch  streamWatch // the findings engine's: watch.go
	// head is the first payload bytes of each direction (FirstBytes):
	// 70 bytes a stream, no allocation.
	head       [2]FirstBytes
	folded     bool // counted in the summary already; only its place in the closed queue is left
	incomplete bool // its counts miss frames: opened before the capture saw it, or live at a loss that may hold its frames
}

// Traffic counts frames, PSH (yamux: DATA) payload bytes and wire bytes
// per direction. Wire is every frame whole, header and payload: a smux
// UPD's 8 bytes of payload count there, not in Bytes.
type Traffic struct {
	Frames [2]uint64
	Bytes  [2]uint64
	Wire   [2]uint64
}

// ClosedSummary adds up the closed streams a session no longer tracks one by one.
type ClosedSummary struct {
	Streams uint64
	// Ended counts those of Streams that ended with their session.
	Ended  uint64
	Frames [2]uint64
	Bytes  [2]uint64
	// Wire is their wire bytes, as StreamSnap.Wire.
	Wire [2]uint64
}

func (c *ClosedSummary) add(st *stream) {
	c.Streams++
	if st.state == EndedWithSession {
		c.Ended++
	}
	for d := range 2 {
		c.Frames[d] += st.frames[d]
		c.Bytes[d] += st.bytes[d]
		c.Wire[d] += st.wire[d]
	}
}

// FirstBytesLen is how many payload bytes a stream keeps of each
// direction (FirstBytes).
const FirstBytesLen = 32

// FirstBytes is the start of one direction of a stream's payload: its
// first FirstBytesLen bytes (smux PSH, yamux DATA), filled across its
// first payload frames, kept for the stream's life, whatever history has
// evicted since. They are what tells which request a stream carried
// ("GET /bad HTTP/1.1") and what answered it. They come from the wire:
// show them only through package printable.
type FirstBytes struct {
	// Data holds N bytes.
	Data [FirstBytesLen]byte
	// N is how many bytes of Data were seen.
	N uint8
	// Cut reports that a frame's payload was not all seen (the snaplen
	// cut it or the capture lost part of it), or that the capture lost
	// bytes that may hold whole frames of the stream, before Data was
	// full: Data is what was seen up to there, and nothing after it was
	// added.
	Cut bool
	// Joined reports that the capture joined the stream after it began
	// (it was adopted mid-stream, its SYN unseen): Data is the first the
	// capture saw of it, perhaps a fragment, not its first bytes.
	Joined bool
}

// Bytes returns the bytes kept.
func (b *FirstBytes) Bytes() []byte { return b.Data[:b.N:b.N] }

// AppendQuoted appends the bytes kept as printable ASCII in double quotes
// (each byte outside it a '.', a quote or backslash escaped), with …
// before them where the capture joined the stream after its first bytes
// and after them where they were cut; "(none sent)" where none came: the
// one rendering every front end gives them.
func (b *FirstBytes) AppendQuoted(dst []byte) []byte { return b.appendText(dst, true) }

// AppendText appends the bytes kept as AppendQuoted does, without the
// quotes and escapes: for a column, where the quotes would take room.
func (b *FirstBytes) AppendText(dst []byte) []byte { return b.appendText(dst, false) }

// appendText is AppendQuoted, quoted or not.
func (b *FirstBytes) appendText(dst []byte, quote bool) []byte {
	if b.N == 0 && !b.Cut && !b.Joined {
		return append(dst, "(none sent)"...) // "" read as sent empty
	}
	if b.Joined {
		dst = append(dst, "…"...)
		if b.N == 0 {
			return dst // and saw none since
		}
	}
	if quote {
		dst = append(dst, '"')
	}
	for _, c := range b.Bytes() {
		c = printable.Byte(c)
		if quote && (c == '"' || c == '\\') {
			dst = append(dst, '\\')
		}
		dst = append(dst, c)
	}
	if quote {
		dst = append(dst, '"')
	}
	if b.Cut {
		dst = append(dst, "…"...)
	}
	return dst
}

// AppendFirstLine appends stream sid's first bytes each way, h, as one
// line: `stream 7: "GET /bad HTTP/1.1.." → "ERR bad request"`, with
// " (joined mid-stream)" after the id where a capture joined it.
func AppendFirstLine(dst []byte, sid uint32, h *[2]FirstBytes) []byte {
	dst = strconv.AppendUint(append(dst, "stream "...), uint64(sid), 10)
	if h[0].Joined || h[1].Joined {
		dst = append(dst, " (joined mid-stream)"...)
	}
	dst = h[ClientToServer].AppendQuoted(append(dst, ": "...))
	return h[ServerToClient].AppendQuoted(append(dst, " → "...))
}

// add keeps what of payload p, of a frame whose payload has length
// bytes, fits: the caller checks N < FirstBytesLen && !Cut first, so
// that a stream whose first bytes are full costs one branch a frame.
func (b *FirstBytes) add(p []byte, length uint32) {
	room := FirstBytesLen - int(b.N)
	n := copy(b.Data[b.N:], p)
	b.N += uint8(n)
	if n < room && uint32(len(p)) < length {
		b.Cut = true // the rest of this frame was not seen: what follows would not join
	}
}

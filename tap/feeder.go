package tap

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/internal/monoclock"
	"github.com/muxtop/muxtop/live"
)

// Feeder decodes one direction of a connection into its session: Conn and
// Proxy feed it what they read and write, and a capture reader (package
// capture) feeds it a TCP connection's reassembled bytes with the
// capture's times, telling it where it joined the connection mid-stream
// (Resync) and what the capture lost (Gap). A Feeder is not safe for
// concurrent use; NewFeeder makes one.
type Feeder struct {
	dec  *decoder.Decoder
	dir  live.Dir
	sess *live.Session
	// wrote keeps the frames completed by the feed in progress, for a
	// Write that fails to send them all; nil for directions that are read.
	wrote []wroteFrame[decoder.Header]
	keep  bool
	done  bool            // the direction has ended: nothing more is decoded
	clock monoclock.Clock // stamps the frames fed with no time
	// resync says why the decoder is looking for a frame boundary, if it
	// is: the first frame it finds is reported with it.
	resync resyncWhy
	told   int64 // the decoder's Skipped bytes reported on the session
	// held is, while the decoder resynchronises, each chunk fed since it
	// began to hold bytes: where it ends in the direction's stream, and
	// when it came. A frame found in the held bytes is stamped with the
	// time of the chunk that completed it, not of the chunk that
	// completed the chain of headers that found it (heldAt).
	held []heldChunk
	rec  ConnRecorder // nil, or where the bytes fed are recorded
	hrec HeldRecorder // rec, where it records held writes; else nil
	// closing, if not nil, is set once the tapped conn's Close was
	// called, whose ClosingRecorder ends the directions in rec from then
	// on: an end the feeder recorded before that, after bytes a Read
	// under way feeds, would come first (tap.Conn.tellClosed).
	closing *atomic.Bool

	// kind is what the feeder decodes once it knows (detect.go): smux
	// with dec, yamux with ydec, allocated then. choice is the
	// connection's, shared with the other direction.
	kind    uint32
	choice  *choice
	ydec    *yamux.Decoder
	ywrote  []wroteFrame[yamux.Header]
	skip    int64 // prefix bytes still to skip before the mux
	skipped int64 // prefix bytes skipped
	// prefix, if not empty, is the exact prefix the skipped bytes must be
	// (the client's); onOther is told the bytes that differ from it, the
	// prefix so far: the connection is another protocol, not decoded.
	prefix     []byte
	onOther    func(got []byte)
	otherBytes int64 // bytes of a connection found to be another protocol (kindOther): unparsed
	// arrive probes the socket a read direction comes from, where one
	// tells (watchArrivals); nil for a written direction, a capture's.
	arrive *arrivals
}

// Recorder keeps the bytes of every tapped connection as they pass, such
// as pcapout.Writer writing them as a pcapng capture. Its methods are
// called on the data path: they must not block.
type Recorder interface {
	// Conn returns the recorder of a new connection between client and
	// server (addresses such as "127.0.0.1:9000").
	Conn(client, server string, at time.Time) ConnRecorder
}

// TransportRecorder is a Recorder that keeps what each connection runs
// over, as pcapout's Writer and Live write it into the capture, so that a
// reader of the capture words a TLS, unix, pipe or KCP session as the
// tap does, not as TCP. The tap calls ConnOver rather than Conn.
type TransportRecorder interface {
	Recorder
	// ConnOver is Conn of a connection over transport, as
	// live.SessionInfo.Transport names it: "" for TCP.
	ConnOver(client, server, transport string, at time.Time) ConnRecorder
}

// RecordConn returns rec's recorder of a new connection between client
// and server over transport (as live.SessionInfo.Transport names it):
// rec's ConnOver where it is a TransportRecorder, else its Conn.
func RecordConn(rec Recorder, client, server, transport string, at time.Time) ConnRecorder {
	if tr, ok := rec.(TransportRecorder); ok {
		return tr.ConnOver(client, server, transport, at)
	}
	return rec.Conn(client, server, at)
}

// Told is what a tap was told about its end of a connection that the
// bytes do not show: which end it taps, and the Options that change how
// it decodes them (WithProtocol, Version, Skip). A reader of the capture
// that knows it decodes the connection as the tap did: a peer of another
// smux version than the tapped end's Version is a VERSION_MISMATCH at its
// first frame, even where the tapped end, refusing it, never sends one;
// a connection told a protocol is decoded as that from its first byte
// (past the client's Skip).
type Told struct {
	Tap     live.Side // the tapped end: live.Client or live.Server
	Proto   Protocol  // WithProtocol's; Detect where not told
	Version uint8     // Version's: the tapped end's smux version, 1 or 2; 0 where not told
	Skip    int64     // Skip's: the bytes of prefix the client sends before the mux
	// Prefix is the exact prefix the client was to send before the mux
	// (attach's --prefix), "" where not told: a client that began with
	// other bytes is another protocol, forwarded and not decoded, and a
	// reader that knows it skips the connection as the tap did.
	Prefix string
	// Attach says attach told it (its flags), not a program's options.
	Attach bool
}

// Any reports whether the tap was told anything without which a reader
// would decode the connection otherwise: a protocol, a version or a
// prefix (Tap alone is not).
func (t Told) Any() bool { return t.Proto != Detect || t.Version != 0 || t.Skip > 0 || t.Prefix != "" }

// ToldRecorder is a TransportRecorder that keeps what the tap was told
// about each connection (Told), as pcapout's Writer and Live write it
// into the capture, so that a reader of the capture decodes it as the
// tap did. The tap calls ConnTold rather than ConnOver: a type that
// embeds a ToldRecorder (a *pcapout.Writer) to wrap its connections'
// recorders must wrap ConnTold too, or the tap calls the embedded one's
// and bypasses its ConnOver.
type ToldRecorder interface {
	TransportRecorder
	// ConnTold is ConnOver of a connection whose tap was told told.
	ConnTold(client, server, transport string, told Told, at time.Time) ConnRecorder
}

// RecordConnTold is RecordConn of a connection whose tap was told told:
// rec's ConnTold where it is a ToldRecorder.
func RecordConnTold(rec Recorder, client, server, transport string, told Told, at time.Time) ConnRecorder {
	if tr, ok := rec.(ToldRecorder); ok {
		return tr.ConnTold(client, server, transport, told, at)
	}
	return RecordConn(rec, client, server, transport, at)
}

// ConnRecorder keeps the bytes of one connection. Write and End of one
// direction are not called concurrently; the two directions' may be.
type ConnRecorder interface {
	// Write records that p passed in direction dir at time at; p is
	// valid only during the call. A zero at is now: a tap does not read
	// the clock for the recorder, which reads it only if it keeps p.
	Write(dir live.Dir, at time.Time, p []byte)
	// End records that direction dir ended at time at.
	End(dir live.Dir, at time.Time)
	// Reset records that the sender of direction dir reset the
	// connection at time at, which ends it both ways: Ends that follow,
	// of either direction, record nothing more.
	Reset(dir live.Dir, at time.Time)
}

// ClosingRecorder is a ConnRecorder that the tap tells when the program
// closes the tapped conn (Conn.Close). Without it, the direction the tap
// reads ends in the recording only when a Read fails, and a conn closed
// with no Read after (a pool's or a health check's dial, a conn refused
// before its mux read it) stays open in the recording forever, though
// the session ended.
type ClosingRecorder interface {
	ConnRecorder
	// Closed records that the tapped end, the sender of direction dir,
	// closed the connection at time at: the directions that have not
	// ended end then, dir's first, and nothing of either is recorded
	// after. The tap sees nothing more: what the peer does next (its
	// FIN, or bytes the closed socket answers with a RST) never passes
	// through it. It may be called while the other direction's Write or
	// End is.
	Closed(dir live.Dir, at time.Time)
}

// UnsentRecorder is a ConnRecorder that the tap tells when a write whose
// bytes it recorded failed: a tap records a write's bytes before they go
// out (so that nothing the peer sends in answer is recorded first), and
// those the write did not send never crossed the connection. Without it,
// the recording keeps them as sent.
type UnsentRecorder interface {
	ConnRecorder
	// Unsent records that the last n bytes recorded in direction dir
	// never went out: the write that carried them failed at time at.
	// Nothing more of dir is recorded after, but its end (End, Reset,
	// Closed), which the tap records as it comes.
	Unsent(dir live.Dir, at time.Time, n int64)
}

// HeldRecorder is a ConnRecorder that the tap tells when a write of the
// bytes it recorded begins and when it returns (attach's proxy, a tapped
// end's Write): a write that does not return is its receiver not
// reading, the receiver's TCP window closed, which a capture of the
// connection shows and a recording of what the tap saw can show the same
// way (pcapout writes the receiver's zero window). They are called on
// the data path around every write, in order for one direction: each
// must cost no more than an atomic add, and never block. A tapped end's
// Write of more than a chunk (128 KiB) goes out, and is told, as a write
// a chunk, and attach's proxy writes at most 32 KiB at once: a write is
// held only while it moves no bytes, not while a slow path takes a big
// one.
type HeldRecorder interface {
	ConnRecorder
	// WriteStarted records that a write of direction dir's recorded
	// bytes to the connection begins; WriteDone that it returned, failed
	// if with an error (the conn closed under it, as when attach shuts
	// down: its receiver never took what it held).
	WriteStarted(dir live.Dir)
	WriteDone(dir live.Dir, failed bool)
}

// WindowRecorder is a ConnRecorder that a capture (muxtop sniff) tells
// what it saw of the TCP receive window of a direction's receiver: closed
// (zero) from at on, or open again. A recording that rewrites the
// connection's packets (pcapout) writes the same window, so that a reader
// of it sees the receiver hold its sender as the capture did.
type WindowRecorder interface {
	ConnRecorder
	// ReceiveWindow records direction dir's receiver's window closed
	// (zero), or open again, from at on.
	ReceiveWindow(dir live.Dir, closed bool, at time.Time)
}

// heldChunk is a chunk of bytes fed to a resynchronising decoder: the
// offset in the direction's stream where it ends, and when it came.
type heldChunk struct {
	end int64
	at  time.Time
}

// hold notes the chunk of n bytes at offset off, fed at at, while the
// decoder resynchronises or gives frames from the bytes it held: the
// session hears the sender (live.Session.Heard) though no frame may show
// it for a while.
func (f *Feeder) hold(off int64, n int, at time.Time) {
	if n == 0 || at.IsZero() {
		return
	}
	// The chunks whose bytes the decoder skipped end no frame it finds
	// later: forget them, or a direction that never chains (not a mux)
	// keeps one per packet for as long as the capture runs.
	f.heldAt(off-f.stream().Pending()+1, at)
	f.held = append(f.held, heldChunk{off + int64(n), at})
	f.sess.Heard(f.dir, at)
}

// heldAt returns when the byte before offset pos came, if it was fed
// while the decoder held bytes, or else at: the chunks before it are
// done with, as frames come in the stream's order.
func (f *Feeder) heldAt(pos int64, at time.Time) time.Time {
	i := 0
	for i < len(f.held) && f.held[i].end < pos {
		i++
	}
	f.held = f.held[i:]
	if len(f.held) > 0 {
		return f.held[0].at
	}
	return at
}

// heldDone forgets the chunks once the decoder holds nothing more.
func (f *Feeder) heldDone(buffered int) {
	if f.resync == inStep && buffered == 0 {
		f.held = f.held[:0]
	}
}

// resyncWhy is why a Feeder's decoder looks for a frame boundary.
type resyncWhy uint8

const (
	inStep   resyncWhy = iota // it is not
	joined                    // the bytes began mid-stream
	afterGap                  // bytes were lost
)

// NewFeeder returns a Feeder of direction dir of sess, whose records keep
// snaplen payload bytes, decoding smux.
func NewFeeder(sess *live.Session, dir live.Dir, snaplen int) Feeder {
	return newFeeder(sess, dir, snaplen, newChoice(Smux))
}

// NewFeeders returns the Feeders of the two directions of one connection of
// sess, whose records keep snaplen payload bytes. They decode proto; with
// Detect the first byte either direction sends after its prefix decides
// for both, as a tap does. The client skips skip bytes of prefix before
// the mux (Consul's RPC-type byte), unless its direction is joined
// mid-stream (Resync), where the prefix has passed. Resync and Gap need
// the protocol: a connection still undecided when they are called is
// taken as smux, so a capture joined mid-stream passes Smux or Yamux.
func NewFeeders(sess *live.Session, snaplen int, proto Protocol, skip int) (c2s, s2c Feeder) {
	ch := newChoice(proto)
	c2s = newFeeder(sess, live.ClientToServer, snaplen, ch)
	s2c = newFeeder(sess, live.ServerToClient, snaplen, ch)
	c2s.SkipPrefix(int64(skip))
	return c2s, s2c
}

// Expect tells the feeder that the receiver of its direction speaks smux
// version v (1 or 2; another is ignored), as tap.Version tells a tap of
// its end: a frame of another version is a VERSION_MISMATCH at once.
// Call it before the feeder is given any byte: once its decoder has
// consumed one, it is ignored (decoder.Decoder.Expect).
func (f *Feeder) Expect(v uint8) { f.dec.Expect(v) }

// SkipPrefix makes the feeder skip the first n bytes of its direction,
// unframed, as a prefix before the mux, counted on the session as the
// direction's prefix (live.Session.Prefix): NewFeeders' skip of the
// client, and a capture that found each end's mux after a negotiation of
// its own. It is called before the feeder is given any byte; n <= 0
// skips nothing.
func (f *Feeder) SkipPrefix(n int64) {
	if n > 0 {
		f.skip = n
	}
}

// newFeeder returns a Feeder that decodes what c, the choice of protocol
// its connection shares with the other direction's Feeder, says.
func newFeeder(sess *live.Session, dir live.Dir, snaplen int, c *choice) Feeder {
	return Feeder{dec: decoder.New(snaplen), dir: dir, sess: sess, choice: c}
}

// stream is what Resync, Gap, End and hold ask of the feeder's decoder,
// smux's or yamux's alike.
type stream interface {
	Offset() int64
	Pending() int64
	Skipped() int64
	Unparsed() int64
	Flush()
	Resync()
	ResyncAt(n int64)
	Gap(n int64) (resumed bool)
}

// stream returns the decoder of the protocol the feeder decodes: smux's
// until it knows.
func (f *Feeder) stream() stream {
	if f.kind == kindYamux {
		return f.ydec
	}
	return f.dec
}

// offset returns how many bytes of the direction the feeder was given.
func (f *Feeder) offset() int64 {
	if f.kind == kindYamux {
		return f.skipped + f.ydec.Offset()
	}
	return f.skipped + f.dec.Offset()
}

// Feed decodes p, which moved at time at; a zero at means now, read only
// if a frame completes (smux reads a header and its payload separately, so
// half its reads complete none). After a violation nothing is framed any
// more, and Feed only counts the unparsed bytes.
func (f *Feeder) Feed(p []byte, at time.Time) {
	if f.done {
		return
	}
	if f.rec != nil && len(p) > 0 {
		// A zero at stays zero: the recorder reads the clock only if it
		// keeps the bytes (pcapout.Live with no viewer does not).
		f.rec.Write(f.dir, at, p)
	}
	if f.kind != kindSmux {
		if f.kind == kindUndecided {
			rest := f.detect(p, at)
			if f.kind != kindOther {
				if p = rest; len(p) == 0 {
					return
				}
			}
		}
		if f.kind == kindOther {
			// Forwarded, not decoded: each byte still counts, as unparsed,
			// from the chunk that showed it (detect counts no prefix then).
			f.otherBytes += int64(len(p))
			f.sess.Unparsed(f.dir, f.otherBytes)
			return
		}
		if f.kind == kindYamux {
			f.feedYamux(p, at)
			return
		}
	}
	if f.dec.Violation() != nil {
		f.dec.Next(p)
		f.sess.Unparsed(f.dir, f.dec.Unparsed())
		return
	}
	f.wrote = f.wrote[:0]
	if f.resync != inStep || len(f.held) > 0 { // a tap, which never resynchronises, passes here
		f.hold(f.dec.Offset(), len(p), at)
	}
	// After a resynchronisation the decoder may hold frames to give.
	for len(p) > 0 || f.dec.Buffered() > 0 {
		n, fr, err := f.dec.Next(p)
		p = p[n:]
		if fr == nil && err == nil {
			continue
		}
		if at.IsZero() {
			at = f.clock.Now()
		}
		if fr == nil {
			v := f.dec.Violation()
			f.violation(f.heldAt(v.Offset+decoder.HeaderSize, at), v) // when its header came, as a frame is stamped when it came whole
			continue
		}
		fat := at
		if len(f.held) > 0 {
			fat = f.heldAt(fr.Offset+decoder.HeaderSize+int64(fr.Header.Length()), at)
		}
		if f.resync != inStep {
			f.resynced(fat, fr.Offset, fr.Skipped)
		}
		ref, ok := f.sess.RecordRef(f.dir, fat, fr)
		switch {
		case !ok:
			// The receiving end speaks another version and refuses it.
			f.violation(fat, f.dec.Reject(fr, decoder.VersionMismatch, f.sess.ReceiverVersion(f.dir)))
		case f.keep:
			f.wrote = append(f.wrote, wroteFrame[decoder.Header]{fr.Offset, fr.Header, ref})
		}
	}
	f.heldDone(f.dec.Buffered())
}

// Record makes the feeder record every byte it is fed, and the end of its
// direction, in rec.
func (f *Feeder) Record(rec ConnRecorder) {
	f.rec = rec
	f.hrec, _ = rec.(HeldRecorder)
}

// WriteStarted tells the session, and a HeldRecorder recording the
// direction, that a write of the bytes fed is about to begin;
// WriteDone that it returned (live.Session.WriteStarted).
func (f *Feeder) WriteStarted() {
	f.sess.WriteStarted(f.dir)
	if f.hrec != nil {
		f.hrec.WriteStarted(f.dir)
	}
}

// WriteProgress tells the session, and a HeldRecorder recording the
// direction, that the write WriteStarted began has moved bytes and goes
// on (Conn.Write writes a big buffer a chunk at a time): a write is held
// only while it moves none (live.Session.WriteProgress). To the
// HeldRecorder it is one write returned and the next begun.
func (f *Feeder) WriteProgress() {
	f.sess.WriteProgress(f.dir)
	if f.hrec != nil {
		f.hrec.WriteDone(f.dir, false)
		f.hrec.WriteStarted(f.dir)
	}
}

// Sent tells the session that the writes of the feeder's direction have
// left the tapped end up to offset off of what it was fed (offset):
// frames are recorded as a write begins, and WINDOW_STALL counts a
// window as full only once the bytes that filled it have left
// (live.Session.Sent). Frames count their offsets from the end of the
// prefix, and so does the session.
func (f *Feeder) Sent(off int64) {
	f.sess.Sent(f.dir, max(off-f.skipped, 0))
}

// WriteDone ends what WriteStarted began, failed if the write returned
// an error.
func (f *Feeder) WriteDone(failed bool) {
	f.sess.WriteDone(f.dir)
	if f.hrec != nil {
		f.hrec.WriteDone(f.dir, failed)
	}
}

// ReceiveWindow tells a WindowRecorder recording the direction what a
// capture saw of its receiver's TCP window at at (WindowRecorder).
func (f *Feeder) ReceiveWindow(closed bool, at time.Time) {
	if wr, ok := f.rec.(WindowRecorder); ok {
		wr.ReceiveWindow(f.dir, closed, at)
	}
}

// Resync tells the feeder that the bytes it is given next begin somewhere
// in the middle of the direction's byte stream, as when a capture starts
// while the connection is open: it finds a frame boundary by the rule of
// decoder.Decoder.Resync and reports it on the session in JoinedDetail's
// words (live.Session.Resynced).
func (f *Feeder) Resync() { f.join(-1) }

// ResyncAt is Resync with the first frame boundary known to be n bytes
// into what the feeder is given next, as a look at the same bytes found
// it (the capture reader holds a joined connection's first bytes for
// that): each frame is decoded and recorded as its last byte comes, in
// time order with the other direction's, instead of once a chain of
// headers has come (decoder.Decoder.ResyncAt). The join is reported as
// Resync reports it.
func (f *Feeder) ResyncAt(n int64) { f.join(max(n, 0)) }

// join is Resync (at < 0) and ResyncAt.
func (f *Feeder) join(at int64) {
	if f.done {
		return
	}
	if f.kind == kindUndecided {
		if f.skipped == 0 {
			f.skip = 0 // joined after the prefix
		}
		f.settle(f.choice.decideSmux())
	}
	if at < 0 {
		f.stream().Resync()
	} else {
		f.stream().ResyncAt(at)
	}
	f.resync = joined
}

// Gap tells the feeder that the capture lost n bytes of the direction at
// time at, before the bytes it is given next: the session counts them and
// marks its counts incomplete, and the decoder finds the next frame
// boundary, reported when found. Bytes lost inside a frame's payload,
// whose header came, leave the next boundary known: decoding resumes
// right after them, as reported at once, nothing skipped, and the frame
// is recorded when its last byte comes, with what it lost
// (decoder.Decoder.Gap).
func (f *Feeder) Gap(n int64, at time.Time) {
	if f.done || n <= 0 {
		return
	}
	if f.kind == kindUndecided {
		f.skip = 0 // what is left of the prefix is lost
		f.settle(f.choice.decideSmux())
	}
	s := f.stream()
	s.Flush()
	f.Feed(nil, at) // the frames that chain up to the gap
	off := s.Offset()
	if !s.Gap(n) {
		f.sess.Resynced(f.dir, at, off, 0, n, fmt.Sprintf("capture lost %s at offset %d", Bytes(n), off))
		f.resync = afterGap
		return
	}
	// The decoder goes on with the frame: no frame was lost.
	f.sess.PayloadLost(f.dir, at, off, n, fmt.Sprintf("capture lost %s at offset %d inside a frame's payload: resumed at offset %d, no frame lost", Bytes(n), off, off+n))
	f.Feed(nil, at) // the frame, if the gap ended it
}

// JoinedDetail says, in a resync record's detail, that a capture began
// inside a connection, whose first frame boundary it found off bytes into
// what it saw of the direction, having skipped skipped bytes before it:
// the end of a frame sent before the capture began. Offsets count from
// the capture's first byte, so "offset 0" said nothing to the user.
func JoinedDetail(off, skipped int64) string {
	s := "the capture began inside the connection"
	if skipped == 0 {
		s += ", at a frame boundary: nothing skipped"
	} else {
		s += fmt.Sprintf(": %s before the first frame boundary, the end of a frame sent before, skipped", Bytes(skipped))
	}
	if off != skipped {
		s += fmt.Sprintf(" (decoded from offset %d of what it saw)", off)
	}
	return s + "; what was sent before it is not counted"
}

// resynced reports the frame boundary a resynchronisation found: a frame
// at offset off, after skipped bytes.
func (f *Feeder) resynced(at time.Time, off, skipped int64) {
	var detail string
	if f.resync == joined {
		detail = JoinedDetail(off, skipped)
	} else {
		detail = fmt.Sprintf("resumed at offset %d after lost bytes, %s skipped", off, Bytes(skipped))
	}
	f.resync = inStep
	f.told += skipped
	f.sess.Resynced(f.dir, at, off, skipped, 0, detail)
}

// violation records a violation that stopped the decoder, with the bytes
// it left unparsed.
func (f *Feeder) violation(at time.Time, v *decoder.Violation) {
	f.sess.Violation(f.dir, at, v)
	f.sess.Unparsed(f.dir, f.dec.Unparsed())
	f.wrote = f.wrote[:0]
}

// End stops decoding the direction, whose byte stream has ended. The bytes
// of a frame it cut short count as unparsed, and if report, the frame is
// named TRUNCATED: smux's read of it fails ("unexpected EOF" when the peer
// closed). A frame the tapped end stopped reading itself, by closing the
// connection, was not cut by the peer: report is false then, as it is
// where a capture stopped. Only an end the sender made (report) tells the
// session its sender writes no more (live.Session.DirectionEnded): where
// a capture stopped, its writers are as the capture last showed them.
// Without report the cut frame is still checked for what its bytes show
// however it ended: a yamux DATA frame whose header came whole and exceeds
// its stream's window is WINDOW_EXCEEDED (live.Session.CutYamux), its
// receiver refusing it as the header arrives. A header that came whole
// was checked as it came; a partial one is not judged (smux and yamux
// check a header only once they have it all).
func (f *Feeder) End(at time.Time, report bool) {
	if f.done {
		return
	}
	s := f.stream()
	if f.resync != inStep {
		s.Flush()
		f.Feed(nil, at) // the frames that chain up to the end
	}
	f.done = true
	if report {
		f.sess.DirectionEnded(f.dir, at)
	}
	if f.recordsEnd() {
		f.rec.End(f.dir, at)
	}
	var v *decoder.Violation // what ending the decoder found cut short
	var yv *yamux.Violation
	if f.kind == kindYamux {
		yv = f.ydec.End()
	} else {
		v = f.dec.End()
	}
	// What the decoder skipped and no frame reported: bytes it gave up on
	// as the end flushed them, or that End abandoned.
	if n := s.Skipped() - f.told; n > 0 {
		f.told += n
		f.sess.Resynced(f.dir, at, s.Offset(), n, 0,
			fmt.Sprintf("no frame boundary found before the end: %s skipped", Bytes(n)))
		f.resync = inStep
	}
	if v == nil && yv == nil {
		return
	}
	switch {
	case report && yv != nil:
		f.sess.ViolationYamux(f.dir, at, yv)
	case report:
		f.sess.Violation(f.dir, at, v)
	case yv != nil:
		f.sess.CutYamux(f.dir, at, yv) // an oversized frame its receiver refused as its header came
	}
	f.sess.Unparsed(f.dir, s.Unparsed())
}

// recordsEnd says whether the feeder records its direction's end in rec:
// it has one, and the tapped conn's Close does not end it there.
func (f *Feeder) recordsEnd() bool {
	return f.rec != nil && (f.closing == nil || !f.closing.Load())
}

// unsent accounts for a Write that sent only the bytes before offset cut
// of the direction's stream, of those up to stop that feed recorded: the
// frames that did not go out wholly are taken back, and a frame cut by the
// failure is reported as truncated, as the peer's read of it fails. The
// direction decodes nothing more: the connection has failed.
func (f *Feeder) unsent(at time.Time, cut, stop int64) {
	f.done = true
	f.sess.DirectionEnded(f.dir, at)
	// The decoders, and the frames' offsets, count from the end of the prefix.
	n := stop - cut
	if u, ok := f.rec.(UnsentRecorder); ok && n > 0 {
		// The bytes not sent were recorded before the write: taken back
		// there too. No end is recorded: the sender ended nothing, and
		// how the connection ends (a reset, the tapped end's close) is
		// recorded as it comes.
		u.Unsent(f.dir, at, n)
	}
	if cut < f.skipped {
		// Part of the prefix did not go out either: unsent, not a wire byte.
		f.sess.Prefix(f.dir, max(cut, 0))
	}
	cut = max(cut-f.skipped, 0)
	f.sess.Unsent(f.dir, at, cut, n)
	if f.kind == kindYamux {
		unsentFrames(f, at, cut, f.ydec, f.ywrote, yamuxFraming, f.sess.RetractYamux, f.sess.ViolationYamux)
	} else {
		unsentFrames(f, at, cut, f.dec, f.wrote, smuxFraming, f.sess.Retract, f.sess.Violation)
	}
}

// TrackUnsent makes the feeder keep the frames each chunk it is fed
// completes, until the next chunk, so that Unsent can take them back: a
// tap's feeders of what it writes keep them, and a capture reader's
// feeders of a capture a tap wrote, which may say that the bytes of a
// failed write never went out.
func (f *Feeder) TrackUnsent() { f.keep = true }

// Unsent says that the last n bytes the feeder was given, of the last
// chunk (Feed), never went out, at time at: a write that failed, as a
// capture a tap wrote shows it (pcapout's Unsent). They are taken back
// as a tap takes back what its failed write did not send: the frames in
// them out of the counts (of a TrackUnsent feeder), the frame the cut
// falls in reported TRUNCATED, the bytes counted unsent; the direction
// decodes nothing more.
func (f *Feeder) Unsent(at time.Time, n int64) {
	if f.done || n <= 0 {
		return
	}
	stop := f.offset()
	f.unsent(at, max(stop-n, 0), stop)
}

// smuxFraming is what unsent knows of smux frames.
var smuxFraming = framing[decoder.Header, decoder.Violation]{
	size:  func(h decoder.Header) int64 { return decoder.HeaderSize + int64(h.Length()) },
	place: func(v *decoder.Violation) (int64, decoder.Header) { return v.Offset, v.Header },
	truncated: func(c frameCut[decoder.Header]) *decoder.Violation {
		return &decoder.Violation{Code: decoder.Truncated, Offset: c.off, Header: c.hdr, HeaderComplete: c.headerComplete(), Got: c.got}
	},
}

// Bytes returns n with its noun in a user's sentence: "1 byte", "2 bytes".
func Bytes[T ~int | ~int64 | ~uint64](n T) string {
	if n == 1 {
		return "1 byte"
	}
	return fmt.Sprintf("%d bytes", n)
}

package live

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/decoder/yamux"
)

// InitialPeerWindow is the window smux v2 assumes for its peer before the
// first UPD arrives.
const InitialPeerWindow = 262144

// CloseReason says why a tapped connection ended.
type CloseReason uint8

// The close reasons.
const (
	NotClosed  CloseReason = iota // still open
	EOF                           // the peer closed the connection
	Reset                         // the connection was reset
	LocalClose                    // the tapped end closed it (Close, or a write after its own CloseWrite)
	ReadError                     // another I/O error; the session's Err says which
	Shutdown                      // muxtop stopped watching it
)

// NumCloseReasons is one more than the largest CloseReason: arrays indexed
// by CloseReason have this size.
const NumCloseReasons = 6

var (
	reasonNames = [...]string{"open", "EOF", "reset", "local close", "I/O error", "shutdown"}
	reasonCodes = [...]string{"open", "eof", "reset", "local_close", "io_error", "shutdown"}
)

// String returns a short description of the reason.
func (c CloseReason) String() string {
	if int(c) < len(reasonNames) {
		return reasonNames[c]
	}
	return "unknown"
}

// Code returns the reason's stable machine name, as JSON output uses it:
// open, eof, reset, local_close, io_error or shutdown.
func (c CloseReason) Code() string {
	if int(c) < len(reasonCodes) {
		return reasonCodes[c]
	}
	return "unknown"
}

// Counts are frame and byte counters per direction and command. Bytes are
// wire bytes: header plus payload.
//
// Frames and Bytes count smux frames by command; TypeFrames and TypeBytes
// count yamux frames by type. The per-direction totals add up both.
type Counts struct {
	Frames [2][decoder.NumCmds]uint64
	Bytes  [2][decoder.NumCmds]uint64

	TypeFrames [2][yamux.NumTypes]uint64
	TypeBytes  [2][yamux.NumTypes]uint64
}

func (c *Counts) add(o *Counts) {
	for d := range 2 {
		for i := range decoder.NumCmds {
			c.Frames[d][i] += o.Frames[d][i]
			c.Bytes[d][i] += o.Bytes[d][i]
		}
		for i := range yamux.NumTypes {
			c.TypeFrames[d][i] += o.TypeFrames[d][i]
			c.TypeBytes[d][i] += o.TypeBytes[d][i]
		}
	}
}

// Type returns the yamux frames of type t in both directions.
func (c *Counts) Type(t yamux.Type) uint64 {
	if int(t) >= yamux.NumTypes {
		return 0
	}
	return c.TypeFrames[0][t] + c.TypeFrames[1][t]
}

// countYamux counts one yamux frame of type t with payload payload bytes.
func (c *Counts) countYamux(dir Dir, t yamux.Type, payload uint32) {
	if int(t) < yamux.NumTypes {
		c.TypeFrames[dir][t]++
		c.TypeBytes[dir][t] += yamux.HeaderSize + uint64(payload)
	}
}

// Cmd returns the frames of cmd in both directions.
func (c *Counts) Cmd(cmd decoder.Cmd) uint64 {
	if int(cmd) >= decoder.NumCmds {
		return 0
	}
	return c.Frames[0][cmd] + c.Frames[1][cmd]
}

// FramesDir returns all frames sent in direction d.
func (c *Counts) FramesDir(d Dir) uint64 { return sum(&c.Frames[d]) + sumTypes(&c.TypeFrames[d]) }

// BytesDir returns all wire bytes sent in direction d.
func (c *Counts) BytesDir(d Dir) uint64 { return sum(&c.Bytes[d]) + sumTypes(&c.TypeBytes[d]) }

func sumTypes(row *[yamux.NumTypes]uint64) uint64 {
	var n uint64
	for _, v := range row {
		n += v
	}
	return n
}

func sum(row *[decoder.NumCmds]uint64) uint64 {
	var n uint64
	for _, v := range row {
		n += v
	}
	return n
}

// count counts one frame of cmd with a payload of length in direction dir.
func (c *Counts) count(dir Dir, cmd decoder.Cmd, length uint32) {
	if int(cmd) < decoder.NumCmds {
		c.Frames[dir][cmd]++
		c.Bytes[dir][cmd] += decoder.HeaderSize + uint64(length)
	}
}

// Total returns all frames in both directions.
func (c *Counts) Total() uint64 { return c.FramesDir(ClientToServer) + c.FramesDir(ServerToClient) }

// Session is the capture state of one tapped connection. Record and
// Violation are called by at most one feeder per direction; everything is
// safe for concurrent use.
type Session struct {
	reg *Registry
	// hist is reg.hist, beside reg: the record path reaches the ring in
	// one load from the session's first line, not through a line of the
	// Registry that a tap's socket calls leave out of cache.
	hist *history
	id   uint64
	info SessionInfo

	mu      sync.Mutex
	gen     uint64   // bumped on every change, so snapshots can be reused
	version uint8    // of the session's first frame
	ver     [2]uint8 // of each direction's first frame
	halted  [2]bool  // the direction's receiver refuses everything: the ends speak different versions
	oddBy   uint8    // 1 + the direction whose sender opens odd ids (the mux client's), as the first SYN settled it; 0 before (oddOpener)
	// exceededAt is, per direction, 1 + the offset of the latest yamux
	// frame counted WINDOW_EXCEEDED: a frame recorded whole, then taken
	// back as its write failed and named TRUNCATED, is counted once.
	exceededAt [2]int64
	// fatal is the first frame of a yamux session that its receiver's
	// yamux (hashicorp's v0.1.2) ends the session on: a WINDOW_EXCEEDED,
	// a DUPLICATE_SYN to a receiver that sent no GoAway, a REPEATED_FIN to
	// a receiver that still has the stream. nil before one. PROTOCOL
	// names it.
	fatal *yamuxFatal
	// upstreamAt is when a proxy's dial of the server went through
	// (UpstreamConnected), 0 if not told.
	upstreamAt int64
	// racyFIN is the latest REPEATED_FIN to a yamux stream its
	// receiver's own FIN closed both ways (ownFINLast), while its
	// receiver has sent nothing after it but a GoAway (protocol error):
	// yamux ended the session on it if it came as the receiver's Close
	// was removing the stream, as an end right after it says (racyEnd).
	racyFIN      *yamuxFatal
	start, last  time.Time
	end          time.Time
	ended        bool
	forgotten    bool // folded into the Registry's Forgotten; later frames count there
	reason       CloseReason
	err          string
	streams      streamTable
	recent       [2]*stream          // the last stream each direction touched
	free         []*stream           // evicted streams, reused so steady traffic does not allocate
	closed       fifo                // closed streams, oldest first
	maxID        [2]uint32           // the highest id SYN'd, per parity
	firstSYN     [2]uint32           // the first id SYN'd, per parity: in a capture joined mid-stream, lower ones opened before it
	preCapture   map[uint32]struct{} // ids adopted that opened before the capture
	joined       [2]bool             // the direction was resynchronised or recorded a frame: its frames are not held
	summary      ClosedSummary
	untracked    Traffic  // frames that name no tracked stream
	atWindow     int      // v2 flows whose writer sits at the window (Flow.FullSince set)
	dirEnded     [2]bool  // the direction's byte stream has ended: its writers write no more
	dirEndedAt   [2]int64 // when (Unix ns) it ended, where dirEnded
	heardAtEnd   [2]int64 // the other direction's lastHeard as it ended: the silence a keepalive's close acted on (endNote)
	halfTold     bool     // a SessionHalfClosed record was made (HalfClosed)
	churned      bool     // CHURN has the session's life: its client's direction ended (DirectionEnded)
	churnSeq     uint64   // then, its CHURN record (engine.clientEnded)
	noTLS        bool     // the session's TLS connection was never made (NoTLS)
	under        string   // then, the transport of the conn under it, which the words of a close name
	helloSent    bool     // and a ClientHello had been sent: its handshake began (NoTLS)
	serial       uint64   // of the latest stream opened: the streams' serials tell reused structs apart
	counted      *stream  // the stream the frame being recorded was counted on, if any
	countedHead  uint8    // counted's first bytes in the frame's direction before the frame added to them, or noHead
	unsent       [2]int64
	hol          [2]holMark // smux v1: per direction, the stream that may hold its receiver's session buffer full (watch.go)
	open         int        // streams not closed
	endedStreams uint64     // streams that ended with the session, neither closed by both FINs nor reset
	framing      [2]*FramingInfo
	anomalies    []AnomalyInfo // the last cfg.Anomalies, as a ring
	anomalyCount uint64
	anomalyBy    [NumAnomalies]uint64 // anomalyCount by Anomaly
	unparsed     [2]int64
	// A capture that joined mid-stream or lost bytes (Resynced) leaves the
	// counts incomplete: streams it did not see open are adopted as they
	// are named, marked incomplete, and so is every stream live at a loss
	// that may hold its frames.
	incomplete bool
	// cut is when the capture the session is read from was cut, while it
	// was open, by its writer's size limit (WriterCut): zero if not.
	cut     time.Time
	lost    [2]int64
	skipped [2]int64
	// unseen is, per direction, that a capture holds no TCP segment of
	// its sender at all, not even an ACK (Unseen): one taken of a single
	// direction. Nothing about that side can be judged.
	unseen [2]bool
	// counts comes after the other fields a frame touches: its yamux
	// rows, which an smux frame never touches, would otherwise push them
	// onto further cache lines.
	counts Counts

	order []*stream // scratch for snapshot's sort, kept to save an allocation
	// The latest pictures, reused while gen does not change: without
	// streams, and with them (and while the leak marks do not: fullMarks
	// are the ones its StreamSnap.Leak were read from).
	head, full       *SessionSnap
	headGen, fullGen uint64
	fullMarks        *leakMarks

	w sessionWatch // the findings engine's state: watch.go

	proto  Protocol
	prefix [2]int64 // bytes skipped before the mux, per direction
	// prefixHead is, per direction, the first bytes of its prefix, up to
	// 8 (PrefixBytes): what they and the bytes after them look like says
	// whether the prefix was the mux's start (a wrong --skip).
	prefixHead [2][]byte
	y          *yamuxState // a yamux session's own state, made at its first yamux frame: yamux.go

	// The findings engine's, last so that the fields Evaluate reads for
	// every session keep the offsets, and cache lines, they had before
	// these were added (in sessionWatch, BenchmarkEvaluate ran slower in
	// two interleaved rounds, by less than its noise):
	// keepaliveAt is when (Unix ns) a keepalive cadence was first known,
	// in either direction: from then on KEEPALIVE counts either side's
	// silence, and LEAK leaves out what a silent side explains
	// (leakExcuses.silenced); leakNewest is the SYN (Unix ns) of the
	// latest stream counted as a leak, which may have closed since: no
	// counted leak is newer.
	keepaliveAt int64
	leakNewest  int64
	// lostAt is, per direction, when (Unix ns) a capture last lost
	// bytes of it (Resynced): a side quiet since is not known to be,
	// what it sent may be among them (its FIN too: CLOSE_WAIT).
	lostAt [2]int64

	// The latest pictures with counts of their own (Aged, Leaks …:
	// counted) on top of head, [0], and of full, [1]: reused while they
	// are on the same picture with the same counts. drawnOn holds the
	// picture under each, so that its address is never another's. Last,
	// so that no field a frame touches moves (BenchmarkRecord).
	drawn, drawnOn [2]*SessionSnap
	// aged is the latest count of the streams opened before a cutoff
	// (Unix ns): Aged, Setup and Aside, in that order, as of gen.
	aged struct {
		gen uint64
		cut int64
		n   [3]int
	}

	// gone: the registry forgot the session, which waits in its
	// sessions to be taken out (Registry.compact). The registry's mu
	// guards it.
	gone bool

	// openTimedOut is, in yamux, by the direction its opener sends, the
	// stream whose open timed out as the session ended: its opener's
	// yamux closed the session for it. Set at End (noteOpenTimeout).
	openTimedOut [2]openTimeout
}

// total returns how many streams the session has seen opened: a stream
// leaves the map only when folded into the summary. s.mu is held.
func (s *Session) total() uint64 { return s.summary.Streams + uint64(s.streams.len()) }

// ID returns the session's id, unique in its Registry, from 1.
func (s *Session) ID() uint64 { return s.id }

// Info returns what the session was opened with.
func (s *Session) Info() SessionInfo { return s.info }

func (s *Session) framingCount() int {
	n := 0
	for _, f := range s.framing {
		if f != nil {
			n++
		}
	}
	return n
}

// Record counts a decoded frame that travelled in direction dir at time at,
// updates its stream and stores a record in history. It never waits for a
// reader; f is not retained.
//
// It reports false, and records nothing, when the receiving end refuses
// the frame: the two directions of the session speak different protocol
// versions, which smux's receivers check on every header. The feeder then
// stops decoding the direction (decoder.Reject with VersionMismatch and
// ReceiverVersion(dir)), as smux stops reading it.
func (s *Session) Record(dir Dir, at time.Time, f *decoder.Frame) bool {
	_, ok := s.RecordRef(dir, at, f)
	return ok
}

// FrameRef says where RecordRef counted a frame: on a stream, which may
// since have been folded into the session's summary, or as untracked.
// Retract takes the frame back from there, with what it added to the
// stream's first bytes.
type FrameRef struct {
	st     *stream
	serial uint64
	head   uint8 // the stream's first bytes in the frame's direction before the frame added to them (FirstBytes.N), or noHead
	// noPayload: the frame counted on its stream, but not its payload:
	// a yamux DATA|SYN for a stream already open (DUPLICATE_SYN) to a
	// receiver that had sent no GoAway, whose yamux ends the session on
	// it and reads none of it (after its GoAway it resets the SYN and
	// reads the payload into the stream it has: counted).
	noPayload bool
	// fatal: the frame is the session's fatal one (Session.fatal, or
	// racyFIN), which taking it back makes unsent.
	fatal *yamuxFatal
}

// noHead is a FrameRef's head where the frame added nothing to its
// stream's first bytes.
const noHead = 0xff

// RecordRef is Record, and also says where the frame was counted, for a
// tap that may have to Retract it.
func (s *Session) RecordRef(dir Dir, at time.Time, f *decoder.Frame) (FrameRef, bool) {
	h := f.Header
	cmd, sid, length := h.Cmd(), h.StreamID(), uint32(h.Length())
	var a Anomaly
	s.hist.prefetchNext()

	s.mu.Lock()
	if s.ver[dir] == 0 {
		s.ver[dir] = h.Version()
		s.joined[dir] = true
		if other := s.ver[dir.Reverse()]; other != 0 && other != s.ver[dir] {
			s.halted = [2]bool{true, true}
		}
	}
	if s.halted[dir] {
		s.mu.Unlock()
		return FrameRef{}, false
	}
	s.counted, s.countedHead = nil, noHead
	// Streams a frame of a forgotten session opens count in the registry's
	// totals (lateFrame): only then is the session's total needed.
	forgotten := s.forgotten // set under s.mu, so it holds until the unlock
	var total uint64
	if forgotten {
		total = s.total()
	}
	s.gen++
	s.last = later(s.last, at)
	s.watchFrame(dir, at.UnixNano())
	if s.version == 0 {
		s.version = h.Version()
	}
	s.counts.count(dir, cmd, length)
	switch cmd {
	case decoder.SYN:
		a = s.syn(dir, at, sid)
	case decoder.FIN:
		a = s.fin(dir, at, sid)
	case decoder.PSH:
		a = s.psh(dir, at, sid, length, f.Payload, f.Offset+f.Size())
	case decoder.NOP:
		s.untracked.Frames[dir]++
		if sid == 0 {
			// smux's keepalive sends its NOPs on stream 0 (sendLoop's
			// keepalive); one on another id, which recvLoop ignores as
			// any NOP, is no tick of a cadence.
			s.watchNOP(dir, at.UnixNano())
		}
	case decoder.UPD:
		a = s.upd(dir, at, sid, f.Consumed, f.Window)
	}
	if a != 0 {
		s.anomaly(AnomalyInfo{Anomaly: a, Dir: dir, At: at, Offset: f.Offset, Header: f.Header})
	}
	var ref FrameRef
	if int(cmd) < decoder.NumCmds { // counted, as Counts.count does
		s.countWire(dir, decoder.HeaderSize+uint64(length))
	}
	if st := s.counted; st != nil {
		ref = FrameRef{st: st, serial: st.serial, head: s.countedHead}
		if cmd == decoder.SYN || dir == ClientToServer && cmd != decoder.UPD {
			s.watchUsed(at.UnixNano())
		}
		if st.watch.leaked {
			s.w.leakFrame(st) // in use: its leak clock starts again
			// A v1 FIN: its reader may drain what it was sent (drainedAt).
			s.w.drainUntil[st.watch.kind] = max(s.w.drainUntil[st.watch.kind], s.drainedAt(st))
		}
	}
	var opened uint64
	if forgotten {
		opened = s.total() - total
	}
	s.mu.Unlock()
	if forgotten {
		s.reg.lateFrame(dir, cmd, length, opened, a)
	}
	s.hist.addFrame(s.id, dir, at, f, a)
	return ref, true
}

// ReceiverVersion returns the protocol version that the receiver of
// direction dir speaks, as far as the session has seen: the version of the
// frames it sends, or 0 before its first frame.
func (s *Session) ReceiverVersion(dir Dir) uint8 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ver[dir.Reverse()]
}

// stream finds the stream sid, remembering it for the next frame of dir.
func (s *Session) stream(dir Dir, sid uint32) *stream {
	if st := s.recent[dir]; st != nil && st.id == sid {
		return st
	}
	// Often the other direction just named the stream: a reply, a FIN.
	if st := s.recent[dir.Reverse()]; st != nil && st.id == sid {
		s.recent[dir] = st
		return st
	}
	st := s.streams.get(sid)
	if st != nil {
		s.recent[dir] = st
	}
	return st
}

func (s *Session) syn(dir Dir, at time.Time, sid uint32) Anomaly {
	var a Anomaly
	s.settleParity(dir, sid, 2)
	// smux opens ids in increasing order, so a new SYN's id is usually above
	// every id of its parity: no lookup needed to know it is not a duplicate.
	if sid > s.maxID[sid%2] {
		s.raiseID(sid)
		if st := s.heldSYN(dir, sid); st != nil {
			st.last = later(st.last, at)
			st.frames[dir]++
			s.counted = st
			return 0
		}
	} else if st := s.stream(dir, sid); st != nil {
		if st.state != Closed {
			// smux ignores a SYN for a stream it still has.
			st.last = later(st.last, at)
			st.frames[dir]++
			s.counted = st
			return DuplicateSYN
		}
		// Both FINs were seen: smux has removed the stream, and a SYN with
		// its id opens a new one whose data is delivered.
		s.fold(st)
		a = ReusedID
	}
	st := s.newStream(dir, at, sid, dir.Sender(), Open)
	st.frames[dir] = 1
	s.counted = st
	// smux bumps its id counter before use: clients open odd ids from 3,
	// servers even ids from 2. Ids 0 and 1 are no side's.
	if a == 0 && s.wrongParity(dir, sid, 2) {
		a = WrongParity
	}
	return a
}

// settleParity settles, at the session's first SYN of an id at or above
// lowest (smux's 2, yamux's 1: below it are ids no side opens), which
// side opens odd ids, the mux client's: its sender opens that id's
// parity. The mux client is whichever end runs the library's Client role,
// not necessarily the end that dialed the TCP connection (a reverse agent
// dials out and runs the mux's server role). Later SYNs settle nothing.
// s.mu is held.
func (s *Session) settleParity(dir Dir, sid, lowest uint32) {
	if s.oddBy != 0 || sid < lowest {
		return
	}
	odd := dir
	if sid%2 == 0 {
		odd = dir.Reverse()
	}
	s.oddBy = 1 + uint8(odd)
}

// wrongParity reports whether a SYN for sid sent in direction dir names an
// id its sender never opens: one below lowest, which no side opens, or one
// of the parity the other side opens, as the session's first SYN settled
// it (settleParity, called first: that SYN is of the right parity by
// definition). So a side that changes parity, or both sides opening the
// same one (two clients), is caught at the first SYN that breaks it.
// s.mu is held.
func (s *Session) wrongParity(dir Dir, sid, lowest uint32) bool {
	return sid < lowest || (sid%2 == 1) != (dir == s.oddOpener())
}

// oddOpener returns the direction whose sender opens odd ids: as the
// session's first SYN settled it (settleParity), or before any SYN the TCP
// roles' (the dialer is taken for the mux client). s.mu is held.
func (s *Session) oddOpener() Dir {
	if s.oddBy == 0 {
		return ClientToServer
	}
	return Dir(s.oddBy - 1)
}

// openerOf returns the direction whose sender opens ids of sid's parity
// (oddOpener). s.mu is held.
func (s *Session) openerOf(sid uint32) Dir {
	if sid%2 == 1 {
		return s.oddOpener()
	}
	return s.oddOpener().Reverse()
}

// missing classifies a FIN, PSH or UPD for a stream the session does not
// track. smux opens ids in order, so an id above the highest SYN'd of its
// parity names a stream never opened: UNKNOWN_STREAM. One at or below it
// names, for a correct peer, a stream closed both ways and folded into the
// summary, and smux sends FIN and UPD for a stream after both FINs: a
// Close after CloseWrite sends a second FIN when the peer's FIN is not yet
// read, and a v2 reader still consuming what came before the FIN sends
// UPDs. Those are no anomaly; a PSH is, as smux never sends one after its
// own FIN. Once the session has ended, frames in flight as it closed are
// none either.
func (s *Session) missing(cmd decoder.Cmd, sid uint32) Anomaly {
	if sid <= s.maxID[sid%2] && (s.ended || cmd != decoder.PSH) || s.openedUnseen(sid) {
		return 0
	}
	return UnknownStream
}

// openedUnseen reports whether sid is of the parity of the side whose
// direction the capture holds nothing of (Unseen): its SYN, sent there,
// went by unseen, so a frame the other side sends for it names a stream
// that was opened, no UNKNOWN_STREAM. Mux clients open odd ids, servers
// even, in smux and yamux alike: which side that is, the session's first
// SYN settled (openerOf). s.mu is held.
//
// Before any SYN settled it, in a capture that holds one direction alone,
// any id the seen side names may be the unseen side's: the seen side has
// opened none that it saw, and the TCP roles do not tell which end runs
// the mux's client (a one-way capture of a reverse agent's dialer, which
// runs the server role, named each of the acceptor's odd streams
// UNKNOWN_STREAM).
func (s *Session) openedUnseen(sid uint32) bool {
	if s.oddBy == 0 && s.unseen[0] != s.unseen[1] {
		return true
	}
	return s.unseen[s.openerOf(sid)]
}

func (s *Session) fin(dir Dir, at time.Time, sid uint32) Anomaly {
	st := s.stream(dir, sid)
	if st != nil && st.fin[dir.Reverse()] {
		// The FIN that closes a stream folds the oldest closed one
		// (closeStream); the first FIN of a stream closes nothing.
		s.prefetchFold()
	}
	if st == nil && (sid > s.maxID[sid%2] || s.beforeCapture(sid)) {
		st = s.adopt(dir, at, sid)
	}
	switch {
	case st == nil:
		s.untracked.Frames[dir]++
		return s.missing(decoder.FIN, sid)
	case st.fin[dir]:
		// smux sends a second FIN when Close follows CloseWrite: count it only.
		st.last = later(st.last, at)
		st.frames[dir]++
		s.counted = st
		return 0
	}
	if dir == st.opener.Sends() {
		st.watch.beforeFIN = st.last.UnixNano() // its last write, for UNANSWERED (lastWrite)
	}
	st.last = later(st.last, at)
	st.frames[dir]++
	s.counted = st
	st.fin[dir], st.finAt[dir] = true, at.UnixNano()
	s.armArrivals(st, dir.Reverse(), at.UnixNano()) // its writer's late frames: read late, or from a backlog?
	if h := &s.hol[dir.Reverse()]; h.at != 0 && h.serial == st.serial {
		h.at = 0 // its receiver closed it: smux v1 returns its bytes to the session's buffer
	}
	s.watchAnswer(st, dir, at.UnixNano(), true)
	s.setFull(&st.flow[dir], time.Time{}) // a writer that sent FIN writes no more
	// The other direction's writer stays held: smux v1.5.55 and later
	// (v1.5.58 is muxtop's) do not wake a Write blocked at the window at
	// the peer's FIN (fin() only closes chFinEvent, which writeV2 does not
	// wait on), and after Close the reader sends no UPD again, so it
	// waits for its write deadline, its own Close, or the session's end:
	// WINDOW_STALL, whose words say so. (smux before v1.5.55 failed it
	// with io.EOF at the FIN; a writer that then does not close is held
	// all the same as far as the wire shows.) It was cleared here, and a
	// writer stuck so was a LEAK, "call Close() when it is done".
	if st.state == EndedWithSession {
		// A FIN written after End, as smux closes its streams: the stream
		// stays ended and is no longer counted as open.
		return 0
	}
	if st.fin[dir.Reverse()] {
		st.state = Closed
		s.open--
		s.watchClosed(st)
		s.closeStream(st)
	} else if dir == ClientToServer {
		st.state = HalfClosedByClient
		s.watchHalfClosed(st)
	} else {
		st.state = HalfClosedByServer
		s.watchHalfClosed(st)
	}
	return 0
}

// psh applies a PSH frame of length bytes of payload, whose last byte
// ends at offset end of the direction.
func (s *Session) psh(dir Dir, at time.Time, sid uint32, length uint32, payload []byte, end int64) Anomaly {
	st := s.stream(dir, sid)
	if st == nil && (sid > s.maxID[sid%2] || s.beforeCapture(sid)) {
		st = s.adopt(dir, at, sid)
	}
	if st == nil {
		s.untracked.Frames[dir]++
		s.untracked.Bytes[dir] += uint64(length)
		return s.missing(decoder.PSH, sid)
	}
	st.last = later(st.last, at)
	st.frames[dir]++
	st.bytes[dir] += uint64(length)
	if s.version == 1 && s.hol[dir].at == 0 && st.bytes[dir] >= V1ReceiveBuffer && !st.fin[dir.Reverse()] && st.state.Live() {
		s.holSet(dir, st, at.UnixNano())
	}
	if length > 0 && s.version == 1 {
		// A reader at V1DrainRate reads these bytes after those before
		// them, and holds no more than V1ReceiveBuffer unread
		// (drainedAt): O(1) a frame, whenever the bytes came. Only v1's
		// readers are judged so: v2's show their reading (UPDs).
		t := at.UnixNano()
		st.readBy[dir] = min(max(st.readBy[dir], t)+int64(length)*int64(time.Second)/V1DrainRate, t+V1ReceiveBuffer*int64(time.Second)/V1DrainRate)
	}
	if h := &st.head[dir]; h.N < FirstBytesLen && !h.Cut && length > 0 {
		if h.N == 0 && dir.Sender() == st.opener {
			// Its opener's first payload: the request UNANSWERED's wait
			// counts from (a v2 stream may carry NOPs' worth of idle
			// time before it). Only on this frame: the branch is the
			// first bytes'.
			st.watch.asked = max(at.UnixNano(), st.watch.first)
		}
		s.countedHead = h.N
		h.add(payload, length)
	}
	s.counted = st
	s.watchAnswer(st, dir, at.UnixNano(), true)
	// DATA_AFTER_CLOSE, unless the data came before the FIN and is only
	// recorded after it: held by a capture's resynchronisation while the
	// other direction ran ahead (package tap's Feeder stamps it).
	// Nor if it was on its way as the FIN went out (inFlight).
	if st.fin[dir.Reverse()] && length > 0 && at.UnixNano() >= st.finAt[dir.Reverse()] && !s.inFlight(st, dir, at.UnixNano(), end-int64(length)) {
		s.watchLate(st, dir, length, at)
	}
	if length > 0 {
		s.watchData(st, dir, at.UnixNano())
	}
	if st.state == Closed {
		if length == 0 || s.drained(st, dir, uint32(st.bytes[dir]-uint64(length))) {
			return ClosedStream
		}
		// Its receiver maybe not done reading what came before: smux
		// keeps such a stream if it half-closed with CloseWrite
		// (drained), and delivers this, as PSH_AFTER_FIN says.
		return PSHAfterFIN
	}
	if length > 0 && st.state.Live() {
		s.watchReply(st, dir, at.UnixNano()) // NO_REPLY's turns
	}
	fl := &st.flow[dir]
	fl.Written += length
	st.end[dir], fl.settled = uint32(end), false
	// A capture that holds nothing of the reader's direction (Unseen)
	// has none of its UPDs: the window is not known.
	if s.version == 2 && fl.FullSince.IsZero() && fl.free() <= 0 && !st.fin[dir] && !s.dirEnded[dir] && !s.unseen[dir.Reverse()] {
		s.setFull(fl, at)
		s.settle(st, dir, at) // a tap's write of it has yet to begin
	}
	if st.replyAt.IsZero() && dir.Sender() != st.opener && length > 0 && !st.head[dir].Joined {
		st.replyAt = at
		s.w.latency.add(at.Sub(st.first))
	}
	if length == 0 {
		return EmptyPSH
	}
	if st.fin[dir] {
		return PSHAfterFIN
	}
	return 0
}

// upd applies a UPD frame: the receiver of the other direction reports
// what it consumed and its window.
func (s *Session) upd(dir Dir, at time.Time, sid, consumed, window uint32) Anomaly {
	st := s.stream(dir, sid)
	if st == nil && sid > s.maxID[sid%2] {
		st = s.adopt(dir, at, sid)
	}
	if st == nil {
		if len(s.w.pendingLate) > 0 || len(s.w.lateHeld) > 0 {
			s.watchLateRead(nil, sid, dir.Reverse(), consumed, window)
		}
		s.untracked.Frames[dir]++
		return s.missing(decoder.UPD, sid)
	}
	st.last = later(st.last, at)
	st.frames[dir]++
	s.counted = st
	s.watchAnswer(st, dir, at.UnixNano(), true)
	fl := &st.flow[dir.Reverse()] // a UPD reports on data flowing the other way
	if consumed != fl.PeerConsumed {
		st.watch.consumedAt[dir.Reverse()] = at.UnixNano() // its reader reads
		s.settle(st, dir.Reverse(), at)
		st.watch.heldFor[dir.Reverse()] = heldFor(fl, at)
	}
	fl.PeerConsumed, fl.PeerWindow, fl.HasUPD = consumed, window, true
	if len(s.w.pendingLate) > 0 || len(s.w.lateHeld) > 0 {
		s.watchLateRead(st, sid, dir.Reverse(), consumed, window)
	}
	switch {
	case fl.InFlight() < 0 && (st.incomplete || s.incomplete && !s.joined[dir.Reverse()]):
		// What was written is only what the capture saw, or what it has
		// yet to record: the data's direction is held until its
		// resynchronisation finds a boundary, so a UPD can come before
		// the data it reports. No finding.
		s.setFull(fl, time.Time{})
	case fl.InFlight() < 0:
		// smux's writer refuses to write on: "peer consumed more than sent".
		s.setFull(fl, time.Time{})
		return ConsumedMoreThanSent
	case fl.free() > 0:
		s.setFull(fl, time.Time{})
	case fl.FullSince.IsZero() && s.version == 2 && !st.fin[dir.Reverse()] && !s.dirEnded[dir.Reverse()]:
		s.setFull(fl, at) // a UPD that leaves the window full
		s.settle(st, dir.Reverse(), at)
	}
	return 0
}

// setFull sets when fl's writer reached the window, or clears it with a
// zero since, keeping s.atWindow, the number of flows at the window, exact.
func (s *Session) setFull(fl *Flow, since time.Time) {
	switch was := !fl.FullSince.IsZero(); {
	case was && since.IsZero():
		s.atWindow--
	case !was && !since.IsZero():
		s.atWindow++
	}
	fl.FullSince, fl.leaving, fl.settled = since, false, false
}

// fold moves a stream out of the map into the summary at once, leaving its
// place in the closed queue to be skipped: a SYN reuses its id.
func (s *Session) fold(st *stream) {
	s.streams.remove(st)
	for d := range 2 {
		if s.recent[d] == st {
			s.recent[d] = nil
		}
		s.setFull(&st.flow[d], time.Time{})
	}
	s.summary.add(st)
	st.folded = true
}

// maxFree is how many folded streams a session keeps for reuse: enough
// that steady traffic, which folds one stream as it opens one, does not
// allocate; few enough that a session whose cap shrank does not keep the
// streams it folded.
const maxFree = 8

// closeStream queues a closed stream and folds the oldest closed ones
// beyond the session's cap into the summary. s.mu is held.
func (s *Session) closeStream(st *stream) {
	s.closed.push(st)
	s.trim()
}

// closedCap returns how many closed streams the session keeps in detail:
// its share of Config.StreamBudget (Registry.setCaps). s.mu is held.
func (s *Session) closedCap() int {
	if s.ended {
		return int(s.reg.endedCap.Load())
	}
	return int(s.reg.liveCap.Load())
}

// trim folds the oldest closed streams beyond the session's cap into the
// summary, where they still count. s.mu is held.
func (s *Session) trim() {
	n := s.closedCap()
	if s.closed.len() <= n {
		return
	}
	s.gen++ // its picture lists fewer streams
	for s.closed.len() > n {
		old := s.closed.pop()
		if !old.folded {
			s.fold(old)
		}
		if len(s.free) < maxFree && !s.ended {
			s.free = append(s.free, old)
		}
	}
}

// anomaly counts an anomaly of either protocol and keeps it in the ring of
// the last cfg.Anomalies. s.mu is held.
func (s *Session) anomaly(info AnomalyInfo) {
	s.anomalyCount++
	if int(info.Anomaly) < NumAnomalies {
		s.anomalyBy[info.Anomaly]++
	}
	limit := s.reg.cfg.Anomalies
	if limit == 0 {
		return
	}
	if len(s.anomalies) < limit {
		s.anomalies = append(s.anomalies, info)
		return
	}
	s.anomalies[(s.anomalyCount-1)%uint64(limit)] = info
}

// Violation records a framing violation that stopped decoding direction dir.
// smux would stop reading the session; see decoder.Code.SmuxReaction.
func (s *Session) Violation(dir Dir, at time.Time, v *decoder.Violation) {
	info := &FramingInfo{Dir: dir, At: at, Code: v.Code, Offset: v.Offset, Header: v.Header, Want: v.Want, Detail: v.Detail()}
	s.mu.Lock()
	s.gen++
	s.last = later(s.last, at)
	if v.Code == decoder.VersionMismatch {
		if s.ver[dir] == 0 {
			s.ver[dir] = v.Header.Version()
		}
		// The ends speak different versions: each refuses the other's
		// frames, and neither reads the other any more. A sender that
		// spoke the receiver's version and then changes it (no smux end
		// does) stops only its own direction: the receiver's frames are
		// still read.
		if s.ver[dir] != v.Want {
			s.halted = [2]bool{true, true}
		}
	}
	first := s.framing[dir] == nil
	if first {
		s.framing[dir] = info
	}
	forgotten := s.forgotten
	s.mu.Unlock()
	if first && forgotten {
		s.reg.lateViolation(info)
	}
	if first {
		s.reg.hist.addEvent(Record{Kind: FramingViolation, Session: s.id, Dir: dir, At: at,
			Offset: v.Offset, Header: v.Header, Code: v.Code, Want: v.Want, Detail: info.Detail})
	}
}

// DirectionEnded records that the byte stream of direction dir ended at
// at (EOF, a reset, a half-close, a failed write): its sender writes no
// more, so none of its v2 writers is held back from then on, and none is
// STALLED. What they wrote still sits at the window, and each stream
// keeps when its writer was held there (stream.heldAtEnd): a stream the
// other side accepted and did not read is not one it never accepted
// (UNANSWERED). Its silence from at
// on is its sender's choice, not KEEPALIVE; a silence before at still is.
//
// The client's end (ClientToServer) ends the session's life for CHURN:
// a client that dials a session per request is done with it there,
// though the connection may last on for as long as the server keeps its
// end (smux's server does not close a session on its client's EOF: its
// keepalive does, 10 s or more later).
func (s *Session) DirectionEnded(dir Dir, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dirEnded[dir] {
		return
	}
	if dir == ClientToServer && !s.ended && !s.churned && !s.info.AcceptedLate {
		s.churned = true
		s.churnSeq = s.reg.eng.clientEnded(s.start, at, s.closedFirst(at.UnixNano(), "")) // CHURN; its own lock
	}
	s.gen++
	s.dirEnded[dir] = true
	s.dirEndedAt[dir] = at.UnixNano()
	s.heardAtEnd[dir] = s.w.lastHeard(dir.Reverse())
	for st := range s.streams.all() {
		if fl := &st.flow[dir]; !fl.FullSince.IsZero() {
			st.heldAtEnd[dir] = true
		}
		s.setFull(&st.flow[dir], time.Time{})
	}
}

// HalfClosed records that peer, the sender of direction dir ("server
// 127.0.0.1:7800", as a capture or the attach proxy names it), closed its
// side of the connection at at, by a FIN, after DirectionEnded ended dir:
// a SessionHalfClosed record, the moment the session became half open,
// which the sessions pane shows as its state ("server closed"). Only a
// half-close is recorded: nothing for a session that ended, whose other
// direction had ended already (its end says it), or that was told once.
// A reset is no half-close: its callers, who know, do not call it.
func (s *Session) HalfClosed(dir Dir, at time.Time, peer string) {
	s.mu.Lock()
	if s.ended || s.halfTold || !s.dirEnded[dir] || s.dirEnded[dir.Reverse()] {
		s.mu.Unlock()
		return
	}
	s.halfTold = true
	proto, other, noTLS, under, hello, transport := s.proto, s.unseen[dir.Reverse()], s.noTLS, s.under, s.helloSent, s.transport()
	s.mu.Unlock()
	detail := HalfClosedText(peer, dir, s.info.Transport) // info never changes after Open
	if noTLS {
		detail = noTLSText(peer, dir, under, hello)
	}
	if other {
		// A capture of one direction has nothing of the other side: its
		// FIN may have gone by unseen.
		detail = "the " + peer + " " + closedFIN("") + "; the capture holds nothing of the " + dir.Reverse().Sender().String() + "'s side, which may have closed too"
	}
	s.reg.hist.addEvent(Record{Kind: SessionHalfClosed, Session: s.id, Dir: dir, At: at, Proto: proto, Detail: detail, Transport: transport})
}

// NoTLS records that the session's TLS connection was never made: its
// peer closed the conn under it, of transport under (as
// SessionInfo.Transport names it: "" for TCP), before its TLS handshake
// completed: before any, as a health check that connects and closes
// does, or, where helloSent, after the client's ClientHello (the client
// end sent its own; the server end had read the peer's). The words of its
// close and of CLOSE_WAIT name that conn, not a TLS connection. Call it
// before HalfClosed.
func (s *Session) NoTLS(under string, helloSent bool) {
	s.mu.Lock()
	s.noTLS, s.under, s.helloSent = true, under, helloSent
	s.mu.Unlock()
}

// transport is what the words of a close name the session's conn: its
// SessionInfo.Transport, or the conn under its TLS where the TLS
// connection was never made (NoTLS). s.mu is held.
func (s *Session) transport() string {
	if s.noTLS {
		return s.under
	}
	return s.info.Transport
}

// noTLSText says what a SessionHalfClosed record of direction dir,
// whose sender is peer, records where the peer closed the conn under a
// TLS connection never made, of transport under: "the client
// 127.0.0.1:51234 closed its side of the connection (FIN) before any TLS
// handshake: no TLS connection was made; the server's side is still
// open", or where a ClientHello had been sent (hello), "… during the TLS
// handshake, after its ClientHello and before the handshake completed: …"
// (the client closed), "… during the TLS handshake, after the client's
// ClientHello and before the handshake completed: …" (the server did).
func noTLSText(peer string, dir Dir, under string, hello bool) string {
	when := " before any TLS handshake"
	switch {
	case hello && dir.Sender() == Client:
		when = " during the TLS handshake, after its ClientHello and before the handshake completed"
	case hello:
		when = " during the TLS handshake, after the client's ClientHello and before the handshake completed"
	}
	return "the " + peer + " " + closedFIN(under) + when + ": no TLS connection was made" + stillOpen(dir.Reverse().Sender(), under)
}

// HalfClosedName names a SessionHalfClosed record r in a line of output,
// "half-closed", or where its conn has no half-close (a net.Pipe, whose
// peer's Close ends both ways: r.Transport) "closed at one end".
func (r *Record) HalfClosedName() string {
	if r.Transport == "pipe" {
		return "closed at one end"
	}
	return "half-closed"
}

// HalfClosedText says what a SessionHalfClosed record of direction dir,
// whose sender is peer, records over a connection of transport (as
// SessionInfo.Transport names it): over TCP "the server 127.0.0.1:7800
// closed its side of the connection (FIN); the client's side is still
// open"; over TLS its close_notify, no FIN; over a net.Pipe, which has no
// half-close, a close of the whole connection; over another conn no FIN.
func HalfClosedText(peer string, dir Dir, transport string) string {
	if _, ok := TLSUnder(transport); ok {
		transport = "tls" // its close_notify, whatever the conn under it
	}
	closed := closedFIN(transport)
	if transport == "tls" {
		closed = "closed its side of the TLS connection"
	}
	return "the " + peer + " " + closed + stillOpen(dir.Reverse().Sender(), transport)
}

// Unsent records that the n bytes of a write by the tapped end from
// offset from of direction dir on, recorded before the write, were never
// sent: the write failed at time at. Retract takes back the frames that lay
// wholly in them. History keeps those frames' records, which were written
// before the write was tried, and gains a notice after them that says so:
// the picture shows what was tried and what went out.
func (s *Session) Unsent(dir Dir, at time.Time, from, n int64) {
	if n <= 0 {
		return
	}
	s.mu.Lock()
	s.gen++
	s.unsent[dir] += n
	s.mu.Unlock()
	// Named one by one up to MaxUnsentNotices, then once that the rest
	// are not: a storm of clients gone away (attach writing to each) made
	// 37 identical lines, where skipped connections give 5 and a count.
	switch k := s.reg.unsentNamed.Add(1); {
	case k <= MaxUnsentNotices:
		s.reg.hist.addEvent(Record{Kind: NoticeRecord, Session: s.id, Dir: dir, At: at, Offset: from,
			Detail: UnsentText(dir, from, n)})
	case k == MaxUnsentNotices+1:
		s.reg.Notice(at, UnsentMoreText)
	}
}

// MaxUnsentNotices bounds the notices that name a failed write (Unsent),
// one each, over every session: those after it are counted, in the
// sessions' and the summary's unsent bytes, not named.
const MaxUnsentNotices = 5

// UnsentMoreText is the notice that follows the MaxUnsentNotices named
// failed writes, when another fails.
var UnsentMoreText = fmt.Sprintf("more writes failed than the %d named above: the later ones are not named one by one; their bytes count in the summary's unsent", MaxUnsentNotices)

// UnsentText says what Unsent records: which bytes a failed write did not send.
func UnsentText(dir Dir, from, n int64) string {
	return fmt.Sprintf("%s a write failed: the last %d bytes recorded, from offset %d on, never went out; the frames in them are taken back out of the counts", dir, n, from)
}

// Retract takes back the counts of a frame with header h that RecordRef
// counted in direction dir, where ref says, but that a failed write never
// sent: from its stream, from the summary if the stream has been folded
// since (the session ended meanwhile, say), or from the untracked frames.
// Its effect on the stream's state (a SYN that opened it, a FIN that
// closed it) stays: the connection has failed, and its session ends with it.
func (s *Session) Retract(dir Dir, h decoder.Header, ref FrameRef) {
	cmd, length := h.Cmd(), uint64(h.Length())
	if int(cmd) >= decoder.NumCmds {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	s.counts.Frames[dir][cmd]--
	wire := decoder.HeaderSize + length
	s.counts.Bytes[dir][cmd] -= wire
	if cmd != decoder.PSH {
		length = 0
	}
	switch st := ref.st; {
	case st == nil:
		s.untracked.Frames[dir]--
		s.untracked.Bytes[dir] -= length
		s.untracked.Wire[dir] -= wire
	case st.serial == ref.serial && !st.folded:
		st.frames[dir]--
		st.bytes[dir] -= length
		st.wire[dir] -= wire
		if cmd == decoder.PSH && st.state != Closed {
			st.flow[dir].Written -= uint32(length)
		}
		ref.untouch(st, dir)
	default: // folded, and perhaps reused for another stream since
		s.summary.Frames[dir]--
		s.summary.Bytes[dir] -= length
		s.summary.Wire[dir] -= wire
	}
}

// untouch takes back what the frame ref names added to st's first bytes
// in direction dir, which never went on the wire: a failed write's bytes
// are not shown as what the stream carried. The frames a failed write did
// not send are its direction's last, so every frame after this one in dir
// is taken back too. The stream's latest-frame time stays: a failed write
// ends its session, and the time only says when the stream last moved.
// s.mu is held.
func (ref *FrameRef) untouch(st *stream, dir Dir) {
	if h := &st.head[dir]; ref.head != noHead && ref.head < h.N {
		h.N = ref.head
		clear(h.Data[h.N:])
	}
}

// Resynced records that direction dir's decoding did not follow every
// byte, as a capture that joins a connection mid-stream or loses packets
// does not: lost bytes were never seen, skipped ones were seen but lay
// before the frame boundary the decoder found, at offset in the
// direction's byte stream. detail says so in a line for the user. From
// then on the session's counts are marked incomplete, every stream live
// at a loss whose frames it may hold is too, and a stream first named by a frame other than SYN is
// taken as opened before what was seen (incomplete) rather than as an
// anomaly: muxtop does not present a guess as a count. A loss of dir
// hides only frames dir's side sent: an smux stream whose FIN that side
// had sent, seen, keeps its state and stays watched; every other live
// stream is set aside (asideSorted), its FIN perhaps among what was lost.
func (s *Session) Resynced(dir Dir, at time.Time, offset, skipped, lost int64, detail string) {
	s.mu.Lock()
	s.gen++
	s.incomplete = true
	// Lost bytes hold the direction's frames until it resumes.
	s.joined[dir] = lost == 0
	s.skipped[dir] += skipped
	s.lost[dir] += lost
	if lost > 0 {
		s.lostAt[dir&1] = max(s.lostAt[dir&1], at.UnixNano())
		var aside []*stream
		for st := range s.streams.all() {
			if st.state != Closed {
				if s.proto != Yamux && st.fin[dir] {
					// dir's side sent FIN on it, seen: smux sends no
					// more of the stream that way, so the loss hid
					// neither its FIN, nor data, nor its answer, and
					// its state is known: the other side's FIN, if it
					// is missing, cannot be in dir's bytes. In v2 a
					// reader that half-closed with CloseWrite still
					// sends UPDs as it reads: one may be in what was
					// lost, so the stream may have moved then.
					if s.version == 2 {
						st.incomplete = true
						st.watch.lossAt = max(st.watch.lossAt, at.UnixNano())
						if st.watch.leaked {
							s.w.leakFrame(st)
						}
					}
					continue
				}
				st.incomplete = true
				if dir.Sender() != st.opener {
					// Its answer may be in what was lost: not UNANSWERED.
					s.w.lists[waitList].remove(st, waitList)
				}
				// Its FIN may be in what was lost (dir's side has sent
				// none yet; in yamux, an RST may be too, after a
				// FIN): not a LEAK, but still open, set aside
				// (asideSorted, the list's part after the walk).
				s.watchUnlive(st)
				if !st.watch.listed[asideList] {
					aside = append(aside, st)
				}
				// Its payload may be in what was lost: what comes next
				// does not follow its first bytes.
				if h := &st.head[dir]; h.N < FirstBytesLen {
					h.Cut = true
				}
				if dir.Sender() == st.opener && st.watch.asked == 0 {
					// Its request may be in what was lost: it is
					// UNANSWERED's, waiting from the loss.
					st.watch.asked = max(at.UnixNano(), st.watch.first)
				}
			}
		}
		s.asideSorted(aside)
	}
	s.mu.Unlock()
	s.reg.hist.addEvent(Record{Kind: ResyncRecord, Session: s.id, Dir: dir, At: at, Offset: offset, Detail: detail})
}

// Unseen tells the session whether the capture behind it holds no TCP
// segment at all from direction dir's sender, not even a payload-less
// ACK: a capture of one direction only (tcpdump's "dst port", an
// asymmetric span port). Its silence then is the capture's, not the
// sender's: the findings that need that side's frames (its KEEPALIVE,
// UNANSWERED, WINDOW_STALL, LEAK, DATA_AFTER_CLOSE) are not opened. A side
// that sends only ACKs is seen: its silence at the mux level is its own.
// The capture reader tells it only with evidence that the side did send:
// the other side's ACKs acknowledge bytes of it the capture does not have;
// a side gone without a word (its host off) is no capture's fault.
func (s *Session) Unseen(dir Dir, unseen bool) {
	s.mu.Lock()
	if s.unseen[dir] != unseen {
		s.gen++
		s.unseen[dir] = unseen
	}
	s.mu.Unlock()
}

// WriterCut tells the session that the capture it is read from was cut
// at time at, while it was open, by the size limit of the muxtop that
// wrote it (--write-limit, marked in the file): what it did after is not
// in the capture. It did not end, the capture of it did: it stays open,
// its counts marked incomplete (INCOMPLETE), and SessionSnap.Cut says
// when. It reports whether it marked the session: one that ended is left
// as it is.
func (s *Session) WriterCut(at time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return false
	}
	s.gen++
	s.incomplete = true
	s.cut = at
	return true
}

// UpstreamConnected tells a proxied session (SessionInfo.Proxied) that
// the proxy's connection to the server went through at at: the server
// could send nothing before it. Until the server's first frame, its
// silence counts from then, not from the session's start (the client's
// accept): a dial held up seconds (SYN retries at a full backlog, a
// burst of thousands of clients) made KEEPALIVE call a server silent for
// 15 s that had been connected for a few.
func (s *Session) UpstreamConnected(at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.upstreamAt = at.UnixNano()
}

// audibleFrom is when side d could first send, Unix ns: the session's
// start, and through a proxy, for the server, when the proxy's dial of it
// went through (UpstreamConnected): it could send nothing before. A side
// unheard so far is silent from then, and its first keepalive interval,
// or a yamux side's time to its first ping, runs from then. A client sends
// from its connect, the session's start, though the proxy reads nothing
// of it before its dial: what it sent meanwhile waits in the socket and
// is read at once as the proxy begins (queuedAtDial). s.mu is held.
func (s *Session) audibleFrom(d Dir) int64 {
	if d == ServerToClient {
		return max(s.start.UnixNano(), s.upstreamAt)
	}
	return s.start.UnixNano()
}

// queuedAtDial reports whether a frame of d read at ns may have waited in
// the socket while a proxy's dial of the server was held (10 ms or more):
// a client's, read within NOPLateness of the dial. When it was sent is
// not known then, anywhere from the session's start.
func (s *Session) queuedAtDial(d Dir, ns int64) bool {
	return d == ClientToServer && s.upstreamAt-s.start.UnixNano() >= int64(10*time.Millisecond) && ns-s.upstreamAt < int64(NOPLateness)
}

// PayloadLost tells the session that a capture lost n bytes of direction
// dir at offset, all inside the payload of one frame whose header it had
// seen, and that decoding went on at that frame's known end (the decoder's
// Gap resumed): no frame was lost, so no stream's counts miss one, and the
// findings go on watching every stream, where a loss that may hide frames
// (Resynced) takes the live streams whose frames it may hold out of them (their answer, or their FIN,
// may be in what was lost). The bytes count in Lost, and the session's
// counts are marked incomplete: its payload was not all seen.
func (s *Session) PayloadLost(dir Dir, at time.Time, offset, n int64, detail string) {
	s.mu.Lock()
	s.gen++
	s.incomplete = true
	s.lost[dir] += n
	s.mu.Unlock()
	s.reg.hist.addEvent(Record{Kind: ResyncRecord, Session: s.id, Dir: dir, At: at, Offset: offset, Detail: detail})
}

// adopt tracks a stream that a frame other than SYN names, in a session
// whose capture did not see every byte: it was opened before what was
// seen, or in what was lost. Its opener is the side that opens ids of its
// parity (openerOf: as the first SYN settled, or before any the TCP
// roles'). s.mu is held.
func (s *Session) adopt(dir Dir, at time.Time, sid uint32) *stream {
	if !s.incomplete || sid == 0 || s.ended {
		return nil
	}
	opener := s.openerOf(sid).Sender()
	if first := s.firstSYN[sid%2]; first == 0 || sid < first {
		// Opened before the capture began: adopted once, not again
		// once it is closed and folded.
		if s.preCapture == nil {
			s.preCapture = make(map[uint32]struct{})
		}
		s.preCapture[sid] = struct{}{}
	}
	st := s.newStream(dir, at, sid, opener, Open)
	st.incomplete = true
	// What it carries next is not its first bytes, which went by unseen;
	// nor is the time to its first reply known, which is not the time
	// from its adoption: Joined, set both ways, keeps psh from giving it a
	// FirstReply or adding it to the latency.
	st.head[ClientToServer].Joined, st.head[ServerToClient].Joined = true, true
	// Whether it was answered went by unseen, as its SYN did: it waits for
	// no answer (UNANSWERED). A capture begun between the server's FIN and
	// the client's adopted the stream at the client's FIN.
	s.w.lists[waitList].remove(st, waitList)
	return st
}

// beforeCapture reports whether sid, of a session the capture joined
// mid-stream, names a stream opened before the capture began that was
// not yet adopted: ids open in increasing order, so one below the first
// id of its parity the capture saw SYN'd. Such a stream, quiet until
// after a later one opened, is adopted as it is named, not called
// unknown, where adopt may (a capture, before the end). s.mu is held.
func (s *Session) beforeCapture(sid uint32) bool {
	if sid >= s.firstSYN[sid%2] {
		return false
	}
	_, seen := s.preCapture[sid]
	return !seen
}

// raiseID notes sid, SYN'd above every id of its parity before, as the
// highest id of its parity, and as the first if no id of its parity was
// SYN'd before (beforeCapture). s.mu is held.
func (s *Session) raiseID(sid uint32) {
	s.maxID[sid%2] = sid
	if s.firstSYN[sid%2] == 0 {
		s.firstSYN[sid%2] = sid
	}
}

// heldSYN applies a SYN for a stream the session already adopted from the
// other direction's frames: a capture's resynchronisation can release
// that direction first, so its answer to a stream is recorded before the
// stream's SYN. The SYN opens the adopted stream rather than a second
// one. s.mu is held.
func (s *Session) heldSYN(dir Dir, sid uint32) *stream {
	if !s.incomplete {
		return nil
	}
	if st := s.stream(dir, sid); st != nil && st.state.Live() { // adopted: only adopt tracks an id above maxID
		return st
	}
	return nil
}

// countWire counts n wire bytes, a whole frame's, in direction dir where
// the frame being recorded was counted: on its stream (s.counted), in the
// summary if the frame closed the stream and it was folded at once, or
// as untracked. s.mu is held.
func (s *Session) countWire(dir Dir, n uint64) {
	switch st := s.counted; {
	case st == nil:
		s.untracked.Wire[dir] += n
	case st.folded:
		s.summary.Wire[dir] += n
	default:
		st.wire[dir] += n
	}
}

// newStream tracks stream sid, opened by opener in state and first named at
// time at in direction dir, in the memory of a folded stream when there is
// one. The tap may still see a stream opened after End: it ends with the
// session. s.mu is held.
func (s *Session) newStream(dir Dir, at time.Time, sid uint32, opener Side, state State) *stream {
	var st *stream
	if n := len(s.free); n > 0 {
		st = s.free[n-1]
		s.free = s.free[:n-1]
		*st = stream{}
	} else {
		st = new(stream)
	}
	s.serial++
	st.id, st.opener, st.first, st.last, st.serial, st.state = sid, opener, at, at, s.serial, state
	s.streams.put(st)
	s.recent[dir] = st
	if s.ended {
		st.state = EndedWithSession
		s.endedStreams++
	} else {
		s.open++
		s.watchOpened(st)
	}
	return st
}

// unframed returns, per direction, the bytes seen that no frame holds:
// those Unparsed recorded, the prefix and those skipped to a frame
// boundary. s.mu is held.
func (s *Session) unframed() [2]int64 {
	return [2]int64{s.unparsed[0] + s.prefix[0] + s.skipped[0], s.unparsed[1] + s.prefix[1] + s.skipped[1]}
}

// Unparsed records how many bytes of direction dir were not framed after a
// violation, so far.
func (s *Session) Unparsed(dir Dir, n int64) {
	s.mu.Lock()
	if s.unparsed[dir] != n {
		s.gen++
		s.unparsed[dir] = n
	}
	s.mu.Unlock()
}

// End marks the session ended at time at for reason; err, if not nil, says
// more. Streams still open end with the session (smux's Session.Close sends
// no FINs). Only the first call counts.
func (s *Session) End(at time.Time, reason CloseReason, err error) {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.gen++
	s.ended = true
	s.end = at
	s.reason = reason
	if err != nil {
		s.err = err.Error()
	}
	// The suspected leaks among the streams ending with the session stay
	// marked: the marks of the latest evaluation, read before the end
	// takes the streams off the watch lists.
	var marks *leakMarks // none unless the latest evaluation found a LEAK open
	if s.w.eng.openCodes&(1<<CodeLeak) != 0 {
		marks = s.w.marks
	}
	for st := range s.streams.all() {
		st.watch.leakAtEnd = marks.marks(st)
	}
	s.noteOpenTimeout(at) // before the streams waiting for an ACK end with the session
	// Streams still open end with the session; they join the closed ones,
	// so an ended session keeps at most its cap of streams in detail
	// (closedCap), the suspected leaks among them too: the findings count
	// them, not the streams kept.
	s.watchEnded()
	for st := range s.streams.all() {
		s.setFull(&st.flow[0], time.Time{})
		s.setFull(&st.flow[1], time.Time{})
		if st.state != Closed && st.state != StreamReset { // a reset yamux stream is closed already
			st.state = EndedWithSession
			s.endedStreams++
			s.closeStream(st)
		}
	}
	s.open = 0
	// An ended session opens no streams (bar a frame in flight): what it
	// kept to reuse and to look streams up is only memory now.
	s.trim()
	s.free = nil
	s.order = nil
	s.closed.shrink()
	s.streams.shrink()
	detail := s.endNote(at, s.err) // a session that keepalive ended says so
	proto, churned, seq, closedBy := s.proto, s.churned, s.churnSeq, s.closedFirst(at.UnixNano(), s.err)
	s.mu.Unlock()
	s.reg.hist.addEvent(Record{Kind: SessionEnded, Session: s.id, At: at, Reason: reason, Detail: detail, Proto: proto})
	var up *UpstreamError
	errors.As(err, &up)
	switch {
	case churned: // CHURN has its life from the client's end, which came first
		s.reg.eng.sessionConcluded(seq, at, up, closedBy)
	case s.info.AcceptedLate: // its life here is not its client's: not CHURN's
	default:
		s.reg.eng.sessionEnded(s.start, at, up, closedBy)
	}
	s.reg.sessionEnded(s)
}

// closedFirst names the server, as CHURN's words do ("server
// 127.0.0.1:9000", "upstream 127.0.0.1:9000" through attach's proxy),
// where it closed or reset its side of the connection first, before it
// sent anything, by ns (the client's end, or the session's, whose words
// are end): its direction ended no later than the client's (a capture
// ends both at a reset's packet, and the end's words name who sent it),
// or, tapped at the server's end, the server closed the conn itself
// (LocalClose) with the client's side still open. "" otherwise. s.mu is
// held.
func (s *Session) closedFirst(ns int64, end string) string {
	srv, cli := ServerToClient, ClientToServer
	if s.w.lastHeard(srv) != 0 || s.info.Captured && s.unseen[srv] {
		return "" // it answered, or the capture holds nothing of its side
	}
	switch {
	case s.dirEnded[srv] && s.dirEndedAt[srv] <= ns && (!s.dirEnded[cli] || s.dirEndedAt[srv] < s.dirEndedAt[cli]):
	case s.dirEnded[srv] && s.dirEnded[cli] && s.dirEndedAt[srv] == s.dirEndedAt[cli] && !strings.HasPrefix(end, "reset by the client"):
	case s.ended && s.reason == LocalClose && s.info.Tap == Server && !s.info.Captured && !s.info.Proxied && !s.dirEnded[cli]:
	default:
		return ""
	}
	role := "server"
	if s.info.Proxied {
		role = "upstream"
	}
	if s.info.Server == "" {
		return role
	}
	return role + " " + s.info.Server
}

// fifo is a queue of closed streams, all still in the streams map.
type fifo struct {
	sts  []*stream
	head int
}

func (q *fifo) len() int { return len(q.sts) - q.head }

func (q *fifo) push(st *stream) {
	if q.head > 0 && q.head >= len(q.sts)/2 {
		n := copy(q.sts, q.sts[q.head:])
		clear(q.sts[n:])
		q.sts = q.sts[:n]
		q.head = 0
	}
	q.sts = append(q.sts, st)
}

// shrink moves the queue into a slice of its length: its slice keeps the
// capacity of its longest length otherwise.
func (q *fifo) shrink() {
	q.sts = slices.Clone(q.sts[q.head:])
	q.head = 0
}

func (q *fifo) pop() *stream {
	st := q.sts[q.head]
	q.sts[q.head] = nil
	q.head++
	return st
}

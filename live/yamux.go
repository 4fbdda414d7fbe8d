package live

import (
	"fmt"
	"strings"
	"time"

	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/wirekind"
)

// maxPendingPings is how many unanswered Pings a session remembers per
// direction; yamux's keepalive has one out at a time, and Session.Ping
// callers rarely more.
const maxPendingPings = 16

// maxGoAways is how many GoAway frames a session keeps; all are counted.
const maxGoAways = 4

// yamuxState is what a yamux session has beyond the streams: pings and
// GoAways. Session.mu guards it.
type yamuxState struct {
	pending  [2][maxPendingPings]pendingPing // Ping SYNs sent in each direction, awaiting their ACK
	pings    [2]PingStats                    // by the side that asked
	goAways  []GoAwayInfo
	goAwayBy [2][NumGoAwayCodes]uint64 // by sender and code
	lastPing time.Time
	rtt      latencyHist // ping round trips, added once per answered Ping
	// waiting: the latest Ping SYN sent in each direction, latest, has had
	// no ACK yet. yamux's keepalive sends its next ping only after the
	// answer (or ends the session), so such a side falls silent while it
	// waits.
	waiting [2]bool
	latest  [2]uint32
	// latestAt is when (Unix ns) each direction's latest Ping SYN came;
	// answeredAt, when the ACK to it came, 0 before one.
	latestAt   [2]int64
	answeredAt [2]int64
}

// NumGoAwayCodes is the size of GoAwaysBy's second index: yamux's three
// codes (yamux.GoAwayNormal, GoAwayProtocolError, GoAwayInternalError),
// then GoAwayOther for any other code.
const NumGoAwayCodes = 4

// GoAwayOther is the index in GoAwaysBy of a GoAway whose code yamux does
// not define (yamux ends the session on it).
const GoAwayOther = NumGoAwayCodes - 1

// goAwayIndex returns code's index in GoAwaysBy.
func goAwayIndex(code uint32) int { return int(min(code, GoAwayOther)) }

// noYamux is the yamux state of a session that has none: read only.
var noYamux yamuxState

// yamux returns the session's yamux state, for reading: empty for a
// session that has seen no yamux frame. s.mu is held.
func (s *Session) yamux() *yamuxState {
	if s.y == nil {
		return &noYamux
	}
	return s.y
}

// yamuxW returns the session's yamux state, for writing, making it at the
// first use: smux sessions never pay for it. s.mu is held.
func (s *Session) yamuxW() *yamuxState {
	if s.y == nil {
		s.y = new(yamuxState)
	}
	return s.y
}

type pendingPing struct {
	value uint32
	at    time.Time
	used  bool
}

// PingStats describes the yamux Pings one side sent (keepalive, or
// Session.Ping) and the ACKs that answered them.
type PingStats struct {
	// Sent counts Ping SYNs; Answered the ACKs that echoed one of them.
	Sent, Answered uint64
	// LastSent is when the latest Ping SYN went out.
	LastSent time.Time
	// LastRTT, MinRTT and MaxRTT are round-trip times, as the tap saw
	// them: from the SYN to its ACK, both at the tap.
	LastRTT, MinRTT, MaxRTT time.Duration
}

// GoAwayInfo is a yamux GoAway frame: who sent it, when, and its code
// (yamux.GoAwayNormal, GoAwayProtocolError, GoAwayInternalError).
type GoAwayInfo struct {
	By   Side
	At   time.Time
	Code uint32
}

// Reason names the GoAway's code: "normal", "protocol error"...
func (g GoAwayInfo) Reason() string { return yamux.GoAwayName(g.Code) }

// SetProtocol records which protocol the session speaks, once the tap
// knows: from its first bytes, or because it was told. It changes nothing
// once frames have been recorded.
func (s *Session) SetProtocol(p Protocol) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proto == p || s.counts.Total() > 0 {
		return
	}
	s.gen++
	s.proto = p
}

// PrefixBytes records b, the next bytes of direction dir's prefix (those
// Prefix counts): the first 8 are kept, for a PROTOCOL finding to tell
// whether they began a mux header, the prefix being no prefix at all.
func (s *Session) PrefixBytes(dir Dir, b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := 8 - len(s.prefixHead[dir]); n > 0 {
		s.prefixHead[dir] = append(s.prefixHead[dir], b[:min(n, len(b))]...)
	}
}

// Prefix records that n bytes of direction dir, so far, came before the
// mux and were skipped unframed: the tap was told to skip them.
func (s *Session) Prefix(dir Dir, n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.prefix[dir] != n {
		s.gen++
		s.prefix[dir] = n
	}
}

// Protocol returns the protocol the session speaks, as far as it knows.
func (s *Session) Protocol() Protocol {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proto
}

// RecordYamux counts a decoded yamux frame that travelled in direction dir
// at time at, updates its stream, the session's pings and GoAways, and
// stores a record in history. It never waits for a reader; f is not
// retained.
func (s *Session) RecordYamux(dir Dir, at time.Time, f *yamux.Frame) {
	s.RecordYamuxRef(dir, at, f)
}

// RecordYamuxRef is RecordYamux, and also says where the frame was
// counted, for a tap that may have to RetractYamux it.
func (s *Session) RecordYamuxRef(dir Dir, at time.Time, f *yamux.Frame) FrameRef {
	h := f.Header
	typ, flags, sid, length := h.Type(), h.Flags(), h.StreamID(), h.Length()
	payload := h.PayloadLength()
	var a Anomaly
	s.hist.prefetchNext()

	s.mu.Lock()
	s.proto = Yamux
	s.joined[dir] = true
	s.counted, s.countedHead = nil, noHead
	if flags&yamux.FIN != 0 {
		s.prefetchFold()
	}
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
	s.counts.countYamux(dir, typ, payload)
	if r := s.racyFIN; r != nil && dir != r.dir && (typ != yamux.GoAway || length != yamux.GoAwayProtocolError) {
		s.racyFIN = nil // its receiver went on: it ignored the FIN
	}
	switch typ {
	case yamux.Data, yamux.WindowUpdate:
		a = s.yamuxStream(dir, at, typ, flags, sid, length, f.Payload, f.Offset+f.Size())
	case yamux.Ping:
		s.untracked.Frames[dir]++
		s.yamuxPing(dir, at, flags, length)
	case yamux.GoAway:
		s.untracked.Frames[dir]++
		y := s.yamuxW()
		y.goAwayBy[dir.Sender()][goAwayIndex(length)]++
		if len(y.goAways) < maxGoAways {
			y.goAways = append(y.goAways, GoAwayInfo{By: dir.Sender(), At: at, Code: length})
		}
	}
	fatal, racy := s.fatal, s.racyFIN
	if a != 0 {
		s.anomaly(AnomalyInfo{Anomaly: a, Dir: dir, At: at, Offset: f.Offset, Proto: Yamux, YamuxHeader: h})
		if a == WindowExceeded {
			s.exceededAt[dir] = f.Offset + 1 // cutExceeded
		}
		if s.noFatal() {
			s.noteFatal(a, dir, at, f.Offset, sid, payload)
		}
	}
	var ref FrameRef
	if int(typ) < yamux.NumTypes { // counted, as Counts.countYamux does
		s.countWire(dir, yamux.HeaderSize+uint64(payload))
	}
	if st := s.counted; st != nil {
		// yamuxStream counts a duplicate SYN's frame on the stream and,
		// unless its receiver had sent GoAway, returns before its
		// payload: Retract must not take that off.
		ref = FrameRef{st: st, serial: st.serial, head: s.countedHead, noPayload: a == DuplicateSYN && !s.sentGoAway(dir.Reverse().Sender())}
		switch {
		case s.fatal != fatal:
			ref.fatal = s.fatal
		case s.racyFIN != racy:
			ref.fatal = s.racyFIN
		}
		if flags&yamux.SYN != 0 || dir == ClientToServer && (typ == yamux.Data && payload > 0 || flags&(yamux.FIN|yamux.RST) != 0) {
			s.watchUsed(at.UnixNano())
		}
		if st.watch.leaked {
			s.w.leakFrame(st) // in use: its leak clock starts again
		}
	}
	var opened uint64
	if forgotten {
		opened = s.total() - total
	}
	s.mu.Unlock()
	if forgotten {
		s.reg.lateYamuxFrame(dir, typ, payload, length, opened, a)
	}
	s.hist.addYamuxFrame(s.id, dir, at, f, a)
	return ref
}

// yamuxStream applies a Data or WindowUpdate frame in yamux's order: a
// SYN opens the stream, then ACK, FIN and RST change its state, then the
// payload counts against the receiver's window or the delta grows it.
// The frame ends at offset end of the direction.
func (s *Session) yamuxStream(dir Dir, at time.Time, typ yamux.Type, flags yamux.Flags, sid, length uint32, payload []byte, end int64) Anomaly {
	var a Anomaly
	var st *stream
	if flags&yamux.SYN != 0 {
		st, a = s.yamuxOpen(dir, at, sid)
	} else {
		st = s.stream(dir, sid)
		if st == nil && sid != 0 && (sid > s.maxID[sid%2] || (typ == yamux.Data || flags&yamux.FIN != 0) && flags&yamux.RST == 0 && s.beforeCapture(sid)) {
			// Opened before what a capture saw, or in what it lost.
			if st = s.adopt(dir, at, sid); st != nil {
				st.ybits |= yAcked // its ACK, if any, went by unseen
				for d := range 2 {
					st.flow[d] = Flow{PeerWindow: yamux.InitialWindow, HasUPD: true}
				}
			}
		}
	}
	if st == nil || st.state == StreamReset || st.state == Closed && !st.ownFINLast(dir, at.UnixNano()) {
		// yamux has no such stream: it discards the payload ("likely we
		// sent a RST") or ignores the update. A stream closed both ways
		// is one: its receiver had sent its FIN and got the sender's, and
		// removed it (closeStream) before it read the next frame, so DATA
		// for it is discarded ("Discarding data for stream"), and a
		// window update, an RST or a FIN again ignored ("frame for
		// missing stream"), no REPEATED_FIN, as once muxtop folds it.
		// Not where the receiver's own FIN closed the stream: its Close
		// sends that FIN before it removes the stream, and a frame
		// arriving between the two finds it: a FIN again ends the
		// session ("unexpected flag"), a REPEATED_FIN, racy (ownFINLast);
		// DATA is read into it (readData), where its reader may still
		// read it; an update grows its window, and an RST resets it.
		// Counted on the stream then, as yamux may: once folded, long
		// after (ClosedStreams closes later), untracked, yamux having
		// removed it by then.
		s.untracked.Frames[dir]++
		if typ == yamux.Data {
			s.untracked.Bytes[dir] += uint64(length)
		}
		if st != nil {
			return 0
		}
		// Stream 0 is the session's (pings, GoAway): no stream has it, and
		// yamux discards DATA or an update for it as for any stream it
		// does not have ("frame for missing stream").
		if sid != 0 && sid <= s.maxID[sid%2] || s.ended || s.openedUnseen(sid) {
			return 0 // closed both ways and folded, in flight as the session ended, or SYN'd unseen
		}
		return UnknownStream
	}
	st.last = later(st.last, at)
	st.frames[dir]++
	s.counted = st
	if a == DuplicateSYN && !s.sentGoAway(dir.Reverse().Sender()) {
		return a // the receiver's yamux ends the session on it
	}
	// A duplicate SYN to a receiver that had sent GoAway: its
	// incomingStream answers it with an RST and returns no error, and
	// handleStreamMessage then gives the frame to the stream it has,
	// its flags processed and its payload read into it (readData).
	if dir.Sender() != st.opener {
		s.watchAnswer(st, dir, at.UnixNano(), flags&yamux.RST == 0)
		if flags&yamux.ACK != 0 {
			st.ybits |= yAcked
			if st.state == SYNSent {
				st.state = Open
			}
		}
	}
	if flags&yamux.FIN != 0 {
		if st.fin[dir] {
			if a == 0 {
				a = RepeatedFIN
			}
			if st.state == Closed {
				// Closed both ways, its receiver's own FIN last: yamux
				// fails the frame on its FIN ("unexpected flag") before
				// it looks at an RST, or has removed the stream and
				// ignores it: an RST with it resets nothing.
				return a
			}
		} else {
			s.yamuxFIN(st, dir, at.UnixNano())
		}
	}
	if flags&yamux.RST != 0 && st.state != StreamReset && st.state != Closed {
		// Closed both ways, its receiver's own FIN last: yamux resets
		// it only if the RST comes as its Close is still removing the
		// stream, and usually ignores it: the clean close stays.
		s.watchRefused(st, dir, flags)
		s.setFull(&st.flow[0], time.Time{})
		s.setFull(&st.flow[1], time.Time{})
		if st.state.Live() {
			s.open--
			s.watchClosed(st)
			st.state = StreamReset
			s.closeStream(st)
		} else {
			st.state = StreamReset
		}
	}
	switch typ {
	case yamux.Data:
		if length == 0 {
			return a
		}
		st.bytes[dir] += uint64(length)
		if st.state.Live() {
			s.watchReply(st, dir, at.UnixNano()) // NO_REPLY's turns
		}
		if h := &st.head[dir]; h.N < FirstBytesLen && !h.Cut {
			s.countedHead = h.N
			h.add(payload, length)
		}
		fl := &st.flow[dir]
		// A stream the capture did not see whole has windows it cannot
		// know: no window finding is made of it. Nor while the receiver's
		// direction is held by a capture's resynchronisation: the ACK or
		// update that grew the window may be in it, recorded after this
		// data (heldGrant).
		held := s.heldGrant(dir)
		// yamux checks the window after the SYN it tolerates: a duplicate
		// one to a receiver that had sent GoAway (d99bdd8), a reused id,
		// a wrong parity. Exceeded, the frame ends the session
		// (readData): named by that, the anomaly that matters.
		if (a == 0 || a == DuplicateSYN || a == ReusedID || a == WrongParity) && s.exceeds(st, dir, length) {
			a = WindowExceeded
		}
		fl.Written += length
		st.end[dir], fl.settled = uint32(end), false
		// Data after the receiver's FIN is no problem in yamux: its Close
		// is a half-close, and its reader still reads (no DATA_AFTER_CLOSE; yamux
		// before v0.1.2 returns io.EOF from a Read after Close once nothing is
		// buffered, which the wire cannot show).
		if st.fin[dir] && flags&yamux.FIN == 0 && a == 0 {
			a = PSHAfterFIN
		}
		if st.replyAt.IsZero() && dir.Sender() != st.opener && !st.head[dir].Joined && st.state != Closed {
			st.replyAt = at
			s.w.latency.add(at.Sub(st.first))
		}
		if fl.FullSince.IsZero() && fl.free() <= 0 && st.state.Live() && !st.fin[dir] && !s.dirEnded[dir] && !st.incomplete && !held {
			s.setFull(fl, at)
			s.settle(st, dir, at) // a tap's write of it has yet to begin
		}
	case yamux.WindowUpdate:
		if flags&yamux.RST != 0 {
			// No delta: libp2p's go-yamux carries ResetWithError's code
			// in the length of an RST.
			return a
		}
		fl := &st.flow[dir.Reverse()] // the delta grows the window of data flowing the other way
		if flags&(yamux.SYN|yamux.ACK) != 0 {
			// yamux announces a window configured above 256 KiB with the
			// SYN or ACK: the window grows.
			fl.PeerWindow += length
		} else {
			fl.PeerConsumed += length
			if length > 0 {
				st.watch.consumedAt[dir.Reverse()] = at.UnixNano() // its reader reads
				s.settle(st, dir.Reverse(), at)
				st.watch.heldFor[dir.Reverse()] = heldFor(fl, at)
			}
			// libp2p's go-yamux grows a window on any update, up to
			// MaxStreamWindowSize (16 MiB): a delta returning more than
			// was written is growth. The free window stays exact; the
			// window and in-flight are then at least what they show.
			if in := fl.InFlight(); in < 0 {
				fl.PeerWindow += uint32(-in)
				fl.PeerConsumed = fl.Written
			}
		}
		switch w := dir.Reverse(); {
		case fl.free() > 0:
			s.setFull(fl, time.Time{})
		case fl.FullSince.IsZero() && st.state.Live() && !st.fin[w] && !s.dirEnded[w] && !st.incomplete:
			// Data recorded before this grant, held by a capture's
			// resynchronisation (heldGrant), set no FullSince: it fills
			// the window only now, and a writer held there says so no
			// more, its next byte waiting for a window update.
			s.setFull(fl, at)
			s.settle(st, w, at)
		}
	}
	return a
}

// watchRefused notes an RST of yamux stream st that came in direction
// dir, before the RST changes the stream's state: where the acceptor
// sent it with no ACK, before any, to a stream muxtop saw open, and has
// sent no GoAway (after which yamux resets every SYN), its accept
// backlog was full. hashicorp's yamux sends no other RST to a stream it
// has not ACKed: AcceptStream's first frame carries the ACK, its Close
// and StreamCloseTimeout come only after it. s.mu is held.
func (s *Session) watchRefused(st *stream, dir Dir, flags yamux.Flags) {
	if dir.Sender() == st.opener || flags&yamux.ACK != 0 || st.acked() || !st.state.Live() || st.incomplete {
		return
	}
	if s.sentGoAway(dir.Sender()) {
		return
	}
	if d := st.opener.Sends(); st.serial > s.w.refusedTo[d] {
		s.w.refusedTo[d], s.w.refusedID[d] = st.serial, st.id
	}
}

// sentGoAway reports whether side has sent a yamux GoAway on the
// session: its yamux then answers every SYN with an RST
// (incomingStream). s.mu is held.
func (s *Session) sentGoAway(side Side) bool {
	for _, n := range s.yamux().goAwayBy[side] {
		if n > 0 {
			return true
		}
	}
	return false
}

// DefaultStreamOpenTimeout is hashicorp/yamux's default StreamOpenTimeout:
// once a stream has waited that long for its ACK, its opener's yamux
// (v0.1.2's setOpenTimeout) closes the whole session, with no GoAway and
// no RST.
const DefaultStreamOpenTimeout = 75 * time.Second

// openTimeoutEarly and openTimeoutLate are how far before and after
// DefaultStreamOpenTimeout a session's end may come, from the SYN of the
// stream it waited for, and still be that timeout's: the timer starts as OpenStream queues the SYN, and the
// close follows it at once. Earlier by more than a second, the SYN went
// out late or the close is no timer's; later by more than two, no timer
// of the default fired then.
const (
	openTimeoutEarly = time.Second
	openTimeoutLate  = 2 * time.Second
)

// openTimeout is a yamux stream whose open timed out: its id, and how
// long its SYN had waited for the ACK when its opener closed the session.
type openTimeout struct {
	sid    uint32
	waited time.Duration
}

// noteOpenTimeout records, for each side that opened yamux streams, the
// stream whose open timed out as the session ended at at, if the wire
// shows it: that side ended the session (it closed its side first, or
// the tapped end is that side and closed, or is the other side and read
// its close), sent no GoAway, and its oldest stream still waiting for
// its ACK — muxtop saw its SYN, and its opener has neither closed it
// (yamux's Close stops the timer) nor had it reset — had waited
// DefaultStreamOpenTimeout then, within the slack. A timeout configured
// otherwise is not told: muxtop does not know it, and an application's
// Close looks the same. Before the streams end with the session (End).
// s.mu is held.
func (s *Session) noteOpenTimeout(at time.Time) {
	if s.proto != Yamux {
		return
	}
	ns := at.UnixNano()
	tapped := !s.info.Captured && !s.info.Proxied
	for d := range 2 {
		opener, acceptor := Dir(d), Dir(d).Reverse()
		closedFirst := s.dirEnded[opener] && s.dirEndedAt[opener] <= ns && (!s.dirEnded[acceptor] || s.dirEndedAt[opener] < s.dirEndedAt[acceptor])
		byOpener := closedFirst || tapped && (s.reason == LocalClose && s.info.Tap == opener.Sender() || s.reason == EOF && s.info.Tap == acceptor.Sender())
		if !byOpener {
			continue
		}
		sent := false
		for _, n := range s.yamux().goAwayBy[opener.Sender()] {
			sent = sent || n > 0
		}
		if sent {
			continue
		}
		end := ns
		if closedFirst {
			end = s.dirEndedAt[opener]
		}
		var oldest *stream
		for st := range s.streams.all() {
			if st.opener == opener.Sender() && st.state == SYNSent && !st.acked() && !st.incomplete && (oldest == nil || st.first.Before(oldest.first)) {
				oldest = st
			}
		}
		if oldest == nil {
			continue
		}
		if w := time.Duration(end - oldest.first.UnixNano()); w >= DefaultStreamOpenTimeout-openTimeoutEarly && w <= DefaultStreamOpenTimeout+openTimeoutLate {
			s.openTimedOut[d] = openTimeout{sid: oldest.id, waited: w}
		}
	}
}

// heldGrant reports whether the window updates for data sent in direction
// dir may yet be recorded after it: a capture that joined the session
// mid-stream, or lost bytes of the other direction, holds that direction
// until it finds a frame boundary, past 256 KiB of a large Data frame
// when windows are configured larger, and frames this one meanwhile.
// Nor can a capture that holds nothing of the other direction (Unseen)
// show a grant at all: the window is not known. s.mu is held.
func (s *Session) heldGrant(dir Dir) bool {
	return s.incomplete && !s.joined[dir.Reverse()] || s.unseen[dir.Reverse()]
}

// yamuxOpen opens stream sid on a SYN sent in direction dir, or returns
// the stream it names with DuplicateSYN.
func (s *Session) yamuxOpen(dir Dir, at time.Time, sid uint32) (*stream, Anomaly) {
	var a Anomaly
	s.settleParity(dir, sid, 1)
	if sid > s.maxID[sid%2] {
		s.raiseID(sid)
		if st := s.heldSYN(dir, sid); st != nil {
			return st, 0
		}
	} else if st := s.stream(dir, sid); st != nil {
		if st.state.Live() {
			return st, DuplicateSYN
		}
		// yamux removed the stream when both FINs or an RST went by: a
		// SYN with its id opens a new one.
		s.fold(st)
		a = ReusedID
	}
	st := s.newStream(dir, at, sid, dir.Sender(), SYNSent)
	for d := range 2 {
		st.flow[d] = Flow{PeerWindow: yamux.InitialWindow, HasUPD: true}
	}
	// yamux clients open odd ids from 1, servers even ids from 2: id 0 is
	// no side's.
	if a == 0 && s.wrongParity(dir, sid, 1) {
		a = WrongParity
	}
	return st, a
}

// yamuxFIN applies the first FIN of direction dir, which came at at
// (Unix ns), to a stream.
func (s *Session) yamuxFIN(st *stream, dir Dir, at int64) {
	st.fin[dir] = true
	s.setFull(&st.flow[dir], time.Time{}) // a writer that sent FIN writes no more
	if !st.state.Live() {
		return
	}
	if st.fin[dir.Reverse()] {
		st.state = Closed
		st.ybits |= yClosedBy(dir)
		st.finAt[dir] = at // the FIN that closed it: ownFINLast
		s.open--
		s.watchClosed(st)
		s.closeStream(st)
		return
	}
	if dir == ClientToServer {
		st.state = HalfClosedByClient
	} else {
		st.state = HalfClosedByServer
	}
	s.watchHalfClosed(st)
}

// ownFINLast reports whether a FIN in direction dir to yamux stream st,
// closed both ways, reaches a receiver whose own FIN closed it (the
// sender's came first): hashicorp's yamux v0.1.2 Close sets the state
// closed, sends that FIN and only then removes the stream (closeStream),
// so a FIN again finds it in state closed ("unexpected FIN flag in state
// 6") if it comes before the removal, and no stream after it. Where the
// receiver's FIN came first, the sender's closed the stream, and the
// receiver's recv loop removed it before reading the next frame. Only a
// frame that came within RacyFINWindow after the receiver's FIN, as the
// tap saw both: later, the stream was long removed, and yamux has no
// stream for the frame, as where the receiver's FIN came first.
func (st *stream) ownFINLast(dir Dir, at int64) bool {
	return st.ybits&yClosedBy(dir.Reverse()) != 0 && st.fin[dir] && at-st.finAt[dir.Reverse()] <= int64(RacyFINWindow)
}

// RacyFINWindow is how soon after a yamux receiver's own FIN, the last,
// closed a stream both ways a frame to it must come, as the tap sees
// both, to find the stream not yet removed: hashicorp's yamux v0.1.2
// Close waits for its sendLoop to write that FIN (waitForSendErr) and
// then removes the stream at once (closeStream), so the receiver still
// has it for one goroutine wake-up, microseconds to a few milliseconds.
// The trips between the tap and the receiver only narrow what the tap
// sees: the FIN reaches the tap after it left the receiver, and the
// frame reaches the receiver after it passed the tap. 100 ms leaves room
// for a loaded host's scheduler, a GC pause and a capture's timestamps; a
// frame later than that finds no stream (a FIN again is ignored, "frame
// for missing stream"; DATA discarded).
const RacyFINWindow = 100 * time.Millisecond

// yamuxPing pairs Ping SYNs with the ACKs that echo their value.
func (s *Session) yamuxPing(dir Dir, at time.Time, flags yamux.Flags, value uint32) {
	switch {
	case flags&yamux.SYN != 0:
		s.watchNOP(dir, at.UnixNano()) // yamux's keepalive: its cadence is KEEPALIVE's
		y := s.yamuxW()
		ps := &y.pings[dir.Sender()]
		ps.Sent++
		ps.LastSent = at
		y.lastPing = at
		p := &y.pending[dir]
		slot := &p[value%maxPendingPings]
		*slot = pendingPing{value: value, at: at, used: true}
		y.waiting[dir], y.latest[dir], y.latestAt[dir] = true, value, at.UnixNano()
	case flags&yamux.ACK != 0:
		asked := dir.Reverse()
		y := s.yamuxW()
		if y.latest[asked] == value {
			y.waiting[asked] = false
			y.answeredAt[asked] = at.UnixNano()
		}
		slot := &y.pending[asked][value%maxPendingPings]
		if !slot.used || slot.value != value {
			return
		}
		slot.used = false
		rtt := at.Sub(slot.at)
		ps := &y.pings[asked.Sender()]
		ps.Answered++
		ps.LastRTT = rtt
		if ps.MinRTT == 0 || rtt < ps.MinRTT {
			ps.MinRTT = rtt
		}
		ps.MaxRTT = max(ps.MaxRTT, rtt)
		y.rtt.add(rtt)
	}
}

// ViolationYamux records a yamux framing violation that stopped decoding
// direction dir: yamux ends the session; see yamux.Code.YamuxReaction.
func (s *Session) ViolationYamux(dir Dir, at time.Time, v *yamux.Violation) {
	info := &FramingInfo{Dir: dir, At: at, Offset: v.Offset, Detail: v.Detail(),
		Proto: Yamux, YamuxCode: v.Code, YamuxHeader: v.Header}
	s.mu.Lock()
	for _, fa := range [2]*yamuxFatal{s.fatal, s.racyFIN} {
		if fa != nil && fa.unsent && v.Code == yamux.Truncated && v.HeaderComplete && fa.dir == dir && fa.offset == v.Offset {
			// The frame taken back, its header went out: yamux reads
			// the header, and ends the session on it there
			// (RetractYamux).
			fa.unsent = false
		}
	}
	if free, ok := s.cutExceeded(dir, at, v); ok {
		info.Detail += fmt.Sprintf("; its %d payload bytes exceed the %d its stream's window had free: WINDOW_EXCEEDED (yamux rejects such a frame as its header arrives, \"recv window exceeded\", and ends the session: the rest never came)",
			v.Header.PayloadLength(), free)
	}
	s.gen++
	s.last = later(s.last, at)
	s.proto = Yamux
	first := s.framing[dir] == nil
	if first {
		s.framing[dir] = info
	}
	forgotten := s.forgotten
	s.mu.Unlock()
	if first && forgotten {
		s.reg.lateYamuxViolation(info)
	}
	if first {
		s.reg.hist.addEvent(Record{Kind: FramingViolation, Session: s.id, Dir: dir, At: at, Offset: v.Offset,
			Proto: Yamux, YamuxHeader: v.Header, YamuxCode: v.Code, Detail: info.Detail})
	}
}

// CutYamux tells the session that dir's byte stream ended inside the
// yamux frame of v, a Truncated violation, where no TRUNCATED is named:
// the tapped end stopped reading by closing the connection itself, or
// attach's proxy ended the direction as the other end reset. A DATA frame
// longer than its stream's window is still WINDOW_EXCEEDED, as it is
// whole: hashicorp's yamux rejects such a frame as its header arrives and
// ends the session, so its rest may never come.
func (s *Session) CutYamux(dir Dir, at time.Time, v *yamux.Violation) {
	s.mu.Lock()
	if _, ok := s.cutExceeded(dir, at, v); ok {
		s.gen++
	}
	s.mu.Unlock()
}

// cutExceeded counts a WINDOW_EXCEEDED anomaly for the frame a Truncated
// violation v cut short where its header came whole, a DATA frame longer
// than its stream's receive window had free (a SYN's stream, one it would
// open, the initial window), and returns what was free. The checks are
// yamuxStream's: not a stream reset, nor one or a direction a capture
// did not see whole. s.mu is held.
func (s *Session) cutExceeded(dir Dir, at time.Time, v *yamux.Violation) (int64, bool) {
	h := v.Header
	if v.Code != yamux.Truncated || !v.HeaderComplete || h.Type() != yamux.Data || s.forgotten || s.exceededAt[dir] == v.Offset+1 {
		return 0, false // or counted as the frame was recorded whole, then taken back as its write failed
	}
	free := int64(yamux.InitialWindow)
	switch st := s.stream(dir, h.StreamID()); {
	case st != nil && !s.exceeds(st, dir, h.PayloadLength()):
		return 0, false
	case st != nil:
		free = max(st.flow[dir].free(), 0)
	case h.Flags()&yamux.SYN == 0 || s.heldGrant(dir) || int64(h.PayloadLength()) <= free:
		return 0, false // no such stream (yamux discards it), or within a new one's window
	}
	s.exceededAt[dir] = v.Offset + 1
	s.anomaly(AnomalyInfo{Anomaly: WindowExceeded, Dir: dir, At: at, Offset: v.Offset, Proto: Yamux, YamuxHeader: h})
	if s.noFatal() {
		s.fatal = &yamuxFatal{anomaly: WindowExceeded, dir: dir, at: at.UnixNano(), offset: v.Offset, sid: h.StreamID(), length: h.PayloadLength(), free: free}
	}
	return free, true
}

// exceeds reports whether length bytes of DATA in dir exceed what st's
// receive window has free, where muxtop knows the window: not a stream
// reset, nor one closed both ways (its receiver's yamux has removed it,
// or, its own FIN last, may still be removing it: racy), nor one a
// capture did not see whole, nor while the receiver's direction is held
// by a resynchronisation (heldGrant). s.mu is held.
func (s *Session) exceeds(st *stream, dir Dir, length uint32) bool {
	return int64(length) > st.flow[dir].free() && st.state != StreamReset && st.state != Closed && !st.incomplete && !s.heldGrant(dir)
}

// RetractYamux is Retract for a yamux frame with header h.
func (s *Session) RetractYamux(dir Dir, h yamux.Header, ref FrameRef) {
	typ := h.Type()
	if int(typ) >= yamux.NumTypes {
		return
	}
	payload := uint64(h.PayloadLength())
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	s.counts.TypeFrames[dir][typ]--
	wire := yamux.HeaderSize + payload
	s.counts.TypeBytes[dir][typ] -= wire
	if ref.noPayload {
		payload = 0 // its frame and wire bytes counted on the stream, its payload nowhere
	}
	if ref.fatal != nil {
		// The frame the receiver's yamux would end the session on never
		// reached it: no PROTOCOL says it did. Its header may yet have
		// gone out, a TRUNCATED frame (ViolationYamux).
		ref.fatal.unsent = true
	}
	switch st := ref.st; {
	case st == nil:
		s.untracked.Frames[dir]--
		s.untracked.Bytes[dir] -= payload
		s.untracked.Wire[dir] -= wire
	case st.serial == ref.serial && !st.folded:
		st.frames[dir]--
		st.bytes[dir] -= payload
		st.wire[dir] -= wire
		// Its payload counted as written, whatever the stream's state
		// since: a write held at the session's end fails after End
		// ended the stream, and a frame cut short there must not find
		// its own bytes filling the window (cutExceeded: a false
		// WINDOW_EXCEEDED, a PROTOCOL finding).
		st.flow[dir].Written -= uint32(payload)
		ref.untouch(st, dir)
	default:
		s.summary.Frames[dir]--
		s.summary.Bytes[dir] -= payload
		s.summary.Wire[dir] -= wire
	}
}

// lateYamuxFrame is lateFrame for a yamux frame whose header's length
// field is length.
func (r *Registry) lateYamuxFrame(dir Dir, typ yamux.Type, payload, length uint32, opened uint64, a Anomaly) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := &r.forgotten
	f.Counts.countYamux(dir, typ, payload)
	f.Streams += opened
	f.EndedStreams += opened // a stream opened after End ends with the session
	if typ == yamux.GoAway {
		f.GoAwaysBy[dir.Sender()][goAwayIndex(length)]++
	}
	if a != 0 {
		f.Anomalies++
		if int(a) < NumAnomalies {
			f.AnomaliesBy[a]++
			f.YamuxAnomaliesBy[a]++
		}
	}
}

// lateYamuxViolation counts a yamux framing violation of a forgotten
// session, f.
func (r *Registry) lateYamuxViolation(f *FramingInfo) {
	code := f.YamuxCode
	r.mu.Lock()
	r.forgotten.Violations++
	if k := f.NotMux(); k != wirekind.Unknown {
		r.forgotten.NotMux++
		r.forgotten.NotMuxBy[k]++
	} else if int(code) < yamux.NumCodes {
		r.forgotten.YamuxViolationsBy[code]++
	}
	r.mu.Unlock()
}

// yamuxFatal is a frame that its receiver's yamux ended the session on
// (Session.fatal): hashicorp's yamux v0.1.2 returns an error from its
// recvLoop, and exitErr closes the session and its connection at once,
// the GoAway (protocol error) it queued just before racing that close.
type yamuxFatal struct {
	anomaly Anomaly
	dir     Dir
	at      int64 // Unix ns
	offset  int64
	sid     uint32
	length  uint32 // WINDOW_EXCEEDED: the frame's payload
	free    int64  // WINDOW_EXCEEDED: what the stream's receive window had free
	// racy: a REPEATED_FIN to a stream its receiver's own FIN closed
	// both ways (Session.racyFIN).
	racy bool
	// unsent: a tap took the frame back, its write having failed
	// (RetractYamux), and its header did not go out: the receiver never
	// read it, and a later frame may be the session's fatal one.
	unsent bool
}

// noFatal reports whether the session has no frame its receiver's yamux
// ended the session on, or only one that never went out (unsent). s.mu
// is held.
func (s *Session) noFatal() bool { return s.fatal == nil || s.fatal.unsent }

// noteFatal records as s.fatal the frame of anomaly a that came in
// direction dir at at, just recorded on stream sid (s.counted), if its
// receiver's yamux ends the session on it: WINDOW_EXCEEDED always
// (readData: "recv window exceeded"); DUPLICATE_SYN unless the receiver
// had sent GoAway, after which yamux answers any SYN with an RST
// (incomingStream: "duplicate stream initiated"); REPEATED_FIN where the
// receiver has not sent its own FIN, so still has the stream
// (processFlags: "unexpected flag"). Not one where the receiver's own FIN
// closed the stream both ways: yamux ends the session on it only if it
// comes while the receiver's Close is still removing the stream, and
// usually ignores it (ownFINLast): that one is s.racyFIN, fatal only if
// the session ends right after it (racyEnd). The anomalies yamux
// tolerates are none. s.mu is held.
func (s *Session) noteFatal(a Anomaly, dir Dir, at time.Time, offset int64, sid, payload uint32) {
	st := s.counted
	if st == nil {
		return
	}
	fa := &yamuxFatal{anomaly: a, dir: dir, at: at.UnixNano(), offset: offset, sid: sid}
	switch a {
	case WindowExceeded:
		// yamuxStream counted the frame's payload as written: what was
		// free is that much more than what is now.
		fa.length, fa.free = payload, max(st.flow[dir].free()+int64(payload), 0)
	case DuplicateSYN:
		if s.sentGoAway(dir.Reverse().Sender()) {
			return
		}
	case RepeatedFIN:
		if st.fin[dir.Reverse()] {
			if st.state == Closed && st.ownFINLast(dir, at.UnixNano()) {
				fa.racy = true
				s.racyFIN = fa
			}
			return
		}
	default:
		return
	}
	s.fatal = fa
}

// RacyFINEnd is how soon after a REPEATED_FIN to a yamux stream its
// receiver's own FIN closed both ways the receiver's side of the
// connection must close, with nothing sent in between but a GoAway
// (protocol error), for that end to be the FIN's: yamux ends the session
// on such a FIN only if it arrives as the receiver's Close is still
// removing the stream (within RacyFINWindow after the receiver's FIN),
// and closes the connection at once then (exitErr); an end later, or
// after the receiver sent anything else, is not its. 2 s, not the
// window's 100 ms: between the FIN passing the tap and the receiver's
// close reaching it lie the trip from the tap to the receiver and back,
// which a tap far from the receiver (attach across a WAN, a capture at
// the sender) makes hundreds of ms.
const RacyFINEnd = 2 * time.Second

// racyEnd returns s.racyFIN where the session's end came right after it
// from its receiver, so was its: the receiver's direction ended within
// RacyFINEnd after it, sent nothing after it but a GoAway (protocol
// error), and ended no later than the sender's (a reset that both
// directions end at names the sender, who reset first) — or, tapped at
// the receiver, its end closed the connection itself then. nil
// otherwise. s.mu is held.
func (s *Session) racyEnd() *yamuxFatal {
	fa := s.racyFIN
	if fa == nil || fa.unsent {
		return nil
	}
	recv, send := fa.dir.Reverse(), fa.dir
	var end int64
	switch {
	case s.dirEnded[recv] && (!s.dirEnded[send] || s.dirEndedAt[recv] < s.dirEndedAt[send] ||
		s.dirEndedAt[recv] == s.dirEndedAt[send] && !strings.HasPrefix(s.err, "reset by the "+send.Sender().String())):
		end = s.dirEndedAt[recv]
	case s.ended && s.reason == LocalClose && s.info.Tap == recv.Sender() && !s.info.Captured && !s.info.Proxied:
		end = s.end.UnixNano()
	default:
		return nil
	}
	if end < fa.at || end-fa.at > int64(RacyFINEnd) {
		return nil
	}
	return fa
}

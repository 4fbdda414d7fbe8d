package live

import (
	"cmp"
	"math"
	"slices"
	"sync/atomic"
	"time"

	"github.com/muxtop/muxtop/decoder"
)

// This file is what the data path keeps for the findings engine
// (findings.go): a few stores per frame, no allocation, no lock beyond the
// session's, which Record holds anyway. Everything that costs more waits
// for Registry.Evaluate.

// The two lists of streams a session keeps for the engine, each in SYN order.
const (
	liveList  = iota // streams open or half-closed: the oldest is the leak suspect
	waitList         // streams with no frame yet from the side that did not open them
	asideList        // live streams a capture loss set aside (Session.Resynced): no leak suspects, but open all the same
	// replyList: streams whose opener's latest request waits for its
	// answer, after the acceptor answered MinAnswered or more before on
	// them (noreply.go), in the order of their requests' latest payload:
	// the oldest request first. Its headAt is unused.
	replyList
	numLists
)

// link is a stream's place in one list.
type link struct{ prev, next *stream }

// streamWatch is a stream's part of the engine's state.
type streamWatch struct {
	links [numLists]link
	first int64 // the SYN's time, Unix ns: next to the links, which the lists touch anyway
	// asked is when (Unix ns, not before first) its opener asked the
	// other side something an answer is owed for, 0 not yet: in yamux its
	// SYN, which the acceptor ACKs; in smux its opener's first payload
	// byte (session.psh), or a capture loss in the opener's direction
	// before any, which may hold it (Session.Resynced). UNANSWERED's wait
	// counts from it (asks, awaitsAnswer).
	asked  int64
	listed [numLists]bool
	late   bool // data was sent to it after the receiving side's FIN
	// lateRead, per direction of the data: in v2 the receiver, after its
	// FIN, sent a UPD that consumed data sent after it: it half-closed
	// with CloseWrite and reads on, so what comes after its FIN is no
	// DATA_AFTER_CLOSE.
	lateRead [2]bool
	leaked   bool  // counted in sessionWatch.leaked, under kind
	kind     uint8 // stream.leakKind when counted
	// setup says that the stream is one of its session's setup streams:
	// opened as the session was set up (Session.setupStream), a control
	// channel or a pool opened at login, held for the session's life by
	// design. Open with no FIN from either side, LEAK does not count it
	// (heldKind); half-closed, it is counted as any other.
	setup bool
	// calling and answers are NO_REPLY's (callAt), here to fill the
	// padding after the bools.
	calling bool
	// leakAtEnd says that the stream, live when its session ended, was
	// one of the suspected leaks then: the latest evaluation before the
	// end counted it in an open LEAK finding (leakMarks.marks). An ended
	// session's findings are resolved; its streams keep this mark. (In
	// the padding before answers, to keep a stream 480 bytes.)
	leakAtEnd bool
	answers   uint32
	// consumedAt is, per direction of the data, when (Unix ns) its
	// reader last reported consuming more (a v2 UPD, a yamux window
	// update): a writer held at the window meanwhile has a reader that
	// reads, slower than it writes (WINDOW_STALL counts from then).
	consumedAt [2]int64
	// beforeFIN is when (Unix ns) its latest frame before its opener's
	// FIN came, set at that FIN (lastWrite).
	beforeFIN int64
	// lossAt is when (Unix ns) a capture lost bytes that may hold a
	// frame of it that changes no state (an smux v2 UPD after its
	// sender's FIN): its leak clock starts again then (leakClock).
	lossAt int64
	// heldFor is, per direction of the data, how long (ns) its writer
	// had been held at its full window when that latest report came, 0
	// if it was not: a reader that leaves its writer held StallAfter
	// before each read is a slow one, and an open WINDOW_STALL holds
	// across its reports (conditions.go).
	heldFor [2]int64
	// NO_REPLY (noreply.go), of the stream's opener as the requester:
	// callAt is when (Unix ns) the stream's latest payload came, either
	// side's, 0 before any; calling (above, in the bools' padding) says
	// that it was the opener's (the opener's turn); slowest is the
	// longest wait (ns) the acceptor's payload answered, from a turn's
	// latest payload to the answer's first, and answers (above) counts
	// them.
	callAt  int64
	slowest int64
	// pushQuiet and ackDelay say what NO_REPLY's text and resolution
	// tell of a turn that followed a push (noreply.go), and change no
	// finding's timing. While the opener's turn is not on (!calling),
	// pushQuiet is the quiet (ms, PushQuiet at the least) on the stream
	// before the acceptor's latest turn where that turn is a push, 0
	// where it is not; while it is on, the same where the turn started
	// within AckWithin of that push's latest payload, ackDelay (µs)
	// after it, and 0 where it did not.
	pushQuiet uint32
	ackDelay  uint32
}

// streamList is an intrusive list of streams: adding and removing one is
// a few pointer stores, and the oldest is at the head. headAt is the
// head's SYN time, so that Evaluate learns the oldest's age without
// touching the stream.
type streamList struct {
	head, tail *stream
	headAt     int64
	n          int
}

func (l *streamList) push(st *stream, i int) {
	w := &st.watch
	w.listed[i] = true
	w.links[i] = link{prev: l.tail}
	if l.tail != nil {
		l.tail.watch.links[i].next = st
	} else {
		l.head, l.headAt = st, w.first
	}
	l.tail = st
	l.n++
}

// insertSorted adds sts, in SYN order (watch.first), to l, in the order
// of their SYNs, each after those of l with the same SYN time: a loss
// sets aside the streams whose FIN it may hold, not every live one, so
// they come out of SYN order. It walks back from the tail once for all
// of them, so that a loss setting aside n streams costs O(n) here, not
// the O(n²) of inserting each in the stream table's order.
func (l *streamList) insertSorted(sts []*stream, i int) {
	at := l.tail
	for k := len(sts) - 1; k >= 0; k-- {
		st := sts[k]
		for at != nil && at.watch.first > st.watch.first {
			at = at.watch.links[i].prev
		}
		// st goes right after at, before those of sts already in.
		w := &st.watch
		w.listed[i] = true
		var next *stream
		if at == nil {
			next, l.head, l.headAt = l.head, st, w.first
		} else {
			next = at.watch.links[i].next
			at.watch.links[i].next = st
		}
		w.links[i] = link{prev: at, next: next}
		if next != nil {
			next.watch.links[i].prev = st
		} else {
			l.tail = st
		}
		l.n++
	}
}

func (l *streamList) remove(st *stream, i int) {
	w := &st.watch
	if !w.listed[i] {
		return
	}
	lk := w.links[i]
	if lk.prev != nil {
		lk.prev.watch.links[i].next = lk.next
	} else if l.head = lk.next; l.head != nil {
		l.headAt = l.head.watch.first
	}
	if lk.next != nil {
		lk.next.watch.links[i].prev = lk.prev
	} else {
		l.tail = lk.prev
	}
	w.links[i] = link{}
	w.listed[i] = false
	l.n--
}

// sessionWatch is a session's part of the engine's state. The fields
// above eng are kept by the data path under the session's lock, except
// writes, which the tap sets without it.
type sessionWatch struct {
	lists  [numLists]streamList
	lastAt [2]int64 // Unix ns of each direction's latest frame; 0 before its first
	// firstAt is when (Unix ns) the session's first frame came, either
	// direction's, 0 before it: its setup streams open within SetupWindow
	// of it (Session.setupStream). closedAny says that a stream of the
	// session has closed, one side's FIN or an RST: no stream opened
	// since is a setup stream.
	firstAt   int64
	closedAny bool
	// setups is how many of the session's streams are setup streams, at
	// most MaxSetupStreams.
	setups int
	// heardAt is, per direction, the latest time (Unix ns) it carried
	// bytes that a resynchronising decoder held unframed (Heard).
	heardAt [2]int64
	// unansweredAfter is the latest evaluation's UnansweredAfter (ns),
	// 0 before one: NO_REPLY's (sessionWatch.replyAfter).
	unansweredAfter int64
	// openedAt is the latest watch.first given to a stream: the lists
	// stay in its order, even when a frame held by a resynchronisation
	// opens a stream after later ones (watchOpened).
	openedAt int64
	// usedAt is the latest time (Unix ns) the session's client used it:
	// a SYN (either side's: a stream opened), or the client's data, FIN
	// or RST; not a window update, nor a keepalive, nor the server's
	// data or FIN (a push on a subscription the client abandoned uses
	// nothing of the client's). SESSION_LEAK's idle time counts from it
	// (sessionleak.go).
	usedAt int64
	// acceptedTo is, by the direction of a stream's opener, the serial
	// of the latest-opened stream whose SYN muxtop saw (not one a capture
	// joined) and on which the acceptor has sent a frame since: every
	// stream opened that way before it was accepted (acceptedSpoke).
	acceptedTo [2]uint64
	acceptedID [2]uint32 // that stream's id, for the words
	// refusedTo is, by the direction of a stream's opener, the serial of
	// the latest-opened yamux stream whose SYN its acceptor answered with
	// an RST and no ACK, having sent no GoAway: yamux's answer once its
	// accept backlog is full (incomingStream: "backlog exceeded, forcing
	// connection reset"); refusedID is its id. A stream opened that way
	// before it, still with no ACK, waited in that full backlog then
	// (watchRefused).
	refusedTo [2]uint64
	refusedID [2]uint32
	// Keepalive: each direction's NOPs, the latest one's time and the
	// longest interval seen between two (or, after one, since the start),
	// which is its cadence once it has one (pingCadence); 0 before.
	// nopGap is that longest interval, kept from the first two NOPs on.
	nops     [2]uint32
	nopAt    [2]int64
	nopEvery [2]int64
	nopGap   [2]int64
	// firstPing is, in yamux, the time from the session's start to a
	// direction's first ping, which is no cadence of its own (watchNOP).
	firstPing [2]int64
	// Data sent to a side that had sent FIN on the stream, per direction
	// of the data: PSH frames, their payload bytes, streams, when the latest came,
	// and the first since the count a finding would open from (eng.lateBase):
	// what a finding opened now names.
	late        [2]uint64
	lateBytes   [2]uint64
	lateStreams [2]uint64
	// Of late: the frames its receiver may have read with nothing on the
	// wire to show it (lateUnseen), and those after both sides' FINs,
	// which smux discards (lateGone): lateKind.
	lateUnseen   [2]uint64
	lateGone     [2]uint64
	lateAt       [2]int64
	lateFirstSID [2]uint32
	lateFirstAt  [2]int64
	// pendingLate is, in a v2 session, the late data not counted yet:
	// held for lateGrace, in which the receiver's UPD may show that it
	// reads it (watchLateRead).
	pendingLate []pendingLate
	// lateHeld is, in a v2 session, the late data counted from the open
	// finding's base (eng.lateBase) whose receiver's later UPD may still
	// show it read (reviseLate): at most maxPendingLate, dropped as the
	// base moves (lateCounts). lateRevised counts, per direction, the
	// frames such a UPD took out since the base.
	lateHeld    []heldLate
	lateRevised [2]uint64
	latency     latencyHist
	// LEAK, counted as the clock passes: the live streams before leakFrom
	// are older than the cutoff leakCut and counted in leaked by leakKind;
	// the data path keeps the counts as they change state or close.
	leakFrom   *stream
	leakFromAt int64 // leakFrom's SYN, Unix ns, so that Evaluate need not touch it
	leaked     [numLeakKinds]uint64
	leakCut    int64
	// leakAfter is the latest evaluation's LeakAfter. leakActive is
	// when (Unix ns) a stream counted as a leak last carried a frame, or
	// later: no counted stream's leak clock (stream.leakClock) is later.
	// Past the cutoff, the counted streams are walked for the ones in
	// use (leakExcuses.active).
	leakAfter  int64
	leakActive int64
	// drainUntil is, by leakKind, in smux v1, the latest time (Unix ns)
	// a counted stream's reader may still be reading what it was sent
	// before the other side's FIN (Session.drainedAt), or later: past it,
	// or while a LEAK of that kind is open (which counts such streams:
	// explainedLeaks), no counted stream of the kind is excused as
	// draining, and the walk need not look for them. 20 000 forgotten
	// streams beside one 3 MiB download of the same side cost 500 µs an
	// evaluation, for the download's 48 s, walked each time.
	drainUntil [numLeakKinds]int64
	// leakInUse counts, by leakKind, the counted streams the latest walk
	// (explainedLeaks) found in use (leakExcuses.active): a LEAK of that
	// kind that resolves with its streams still live is "in use again"
	// only if some are, not when another stream carried a frame.
	leakInUse [numLeakKinds]uint64
	// recent holds, while recentOK, every counted stream whose recentKey
	// is past recentFloor (Unix ns), and maybe some no longer counted or
	// idle since, some more than once: those LEAK's walk need look at
	// (leakrecent.go). recentScratch is that walk's.
	recent        []recentRef
	recentFloor   int64
	recentOK      bool
	recentScratch []*stream
	// noRecent makes every walk a full one, and recentWalks counts those
	// that looked at recent alone: for tests.
	noRecent    bool
	recentWalks uint64
	// The oldest counted stream of each kind, copied so that Evaluate
	// need not touch it; known is false when it closed or changed kind
	// and the next evaluation must look for the new oldest.
	oldest [numLeakKinds]leakRef
	known  [numLeakKinds]bool
	// writes counts the tapped end's writes in each direction, started
	// and finished: odd while one is in progress (WriteStarted, WriteDone),
	// and moved on by two as one in progress moves bytes (WriteProgress).
	writes [2]atomic.Uint64
	// sent is, per direction a tap writes, one past the offset (counted
	// as its frames' offsets are) up to which its writes have left it
	// (Sent); 0 where nothing reports it: a capture, a direction the tap
	// reads, the attach proxy, whose reads come from a writer that has
	// sent them.
	sent [2]atomic.Int64
	// reads counts the tapped end's reads of each direction the same
	// way (ReadStarted, ReadDone); 0 where nothing reports them.
	reads [2]atomic.Uint64
	// arrived is, per direction whose frames are stamped as a read
	// returns them (SetArrivalProbe), what probes of the reader's socket
	// showed of when its bytes came (Arrived); probe is the probe an
	// evaluation makes (arrivalProbe), nil where none is set. Under s.mu;
	// probe is set once, before the session's frames.
	arrived [2]arrivals
	probe   [2]func() (time.Time, int64, bool)
	// armedUntil is, per such direction, until when (Unix ns) probes
	// are wanted, 0 where they are not: the other direction's FIN went
	// out on a stream whose writer was streaming (stream.run) less than
	// armFor before. Only then can a probe show a frame read late after
	// the FIN read from a backlog; a session with no such FIN makes no
	// probe, neither at its reads nor at the evaluations (a system call
	// per session per evaluation at thousands of sessions). Set under
	// s.mu; cleared by whoever finds it past.
	armedUntil [2]atomic.Int64
	// zeroSince is, per direction, since when (Unix ns) a capture has
	// shown its receiver advertising a zero TCP window; 0 while it does
	// not (ReceiveWindow).
	zeroSince [2]int64
	// zeroFreed is, per direction, when (Unix ns) a window closed for
	// zeroSettle last opened again: the frames it held back take a round
	// trip to come (blockGrace).
	zeroFreed [2]int64
	// zeroHeld says, per direction, that the zero window since zeroSince
	// is a tap's recording of its held write (HeldWindow), not one a
	// capture of the wire saw: SESSION_BLOCKED's sign is then the write's.
	zeroHeld [2]bool

	// marks are the leak marks of the latest evaluation that found a
	// LEAK open (leakmarks.go); countedTo is past the serial of the
	// latest stream counted as a leak.
	marks     *leakMarks
	countedTo uint64

	eng engineSession // the engine's own, under the session's lock
}

// WriteStarted tells the session that the tapped end (or the attach
// proxy) is about to write bytes of direction dir to the connection;
// WriteDone that the write returned. A write that does not return means
// the receiver has stopped reading: the findings engine samples these
// (SESSION_BLOCKED). Each costs one atomic add; calls for one direction
// must not overlap (one writer per direction, as with a TCP connection).
func (s *Session) WriteStarted(dir Dir) { s.w.writes[dir&1].Add(1) }

// WriteDone ends what WriteStarted began.
func (s *Session) WriteDone(dir Dir) { s.w.writes[dir&1].Add(1) }

// WriteProgress tells the session that the write of direction dir in
// progress (WriteStarted) has moved bytes and goes on: a write is held
// only while it moves none, and one that a slow path takes seconds to
// move (a tapped end's write of a whole 16 MiB yamux window at 5 MB/s)
// but moves steadily is no block. The count moves by two, still odd, so
// that the engine sees a write in progress that it has not seen before
// (SESSION_BLOCKED's clock starts again). One atomic add; called only
// between WriteStarted and WriteDone, by the direction's writer.
func (s *Session) WriteProgress(dir Dir) { s.w.writes[dir&1].Add(2) }

// Sent tells the session that the tapped end's writes of direction dir
// have left it up to offset off of the direction, counted as its frames'
// offsets are (from the end of any prefix): a frame is recorded as its
// write begins, and a big one (a yamux DATA frame of a whole 16 MiB
// window) may take seconds of a slow path to go out. Its writer is held
// by a full window (WINDOW_STALL) only once the bytes that filled it
// have left: until then it waits on its own write. A tap calls it once
// with 0 before its first write of the direction, then as its writes
// move. One atomic store.
func (s *Session) Sent(dir Dir, off int64) { s.w.sent[dir&1].Store(off + 1) }

// settle notes whether the bytes that filled the window of st's
// direction d (stream.end) are still in the tapped end's write, where a
// tap reports what of its writes has left it (Sent): while they are
// (Flow.leaving), its writer waits on that write, not on the window, and
// is not held, and the window counts as reached no earlier than now
// (Flow.FullSince); once they are found gone, the writer is held from
// the latest moment they were seen still there. It returns leaving.
// Nothing where nothing reports it, or the window is not full. s.mu is
// held.
func (s *Session) settle(st *stream, d Dir, now time.Time) bool {
	fl := &st.flow[d&1]
	if fl.FullSince.IsZero() || fl.settled {
		return false
	}
	sent := s.w.sent[d&1].Load()
	if sent == 0 {
		return false
	}
	// Modulo 2^32, as stream.end: no write is 2 GiB, and once the bytes
	// are found gone the flow is settled, not looked at again, so that
	// what other streams send after cannot wrap the distance.
	switch pending := int32(st.end[d&1]-uint32(sent-1)) > 0; {
	case pending:
		if !fl.leaving || now.After(fl.FullSince) {
			fl.leaving = true
			fl.FullSince = later(fl.FullSince, now)
			s.gen++ // the streams' picture shows it
		}
	case fl.leaving:
		fl.leaving, fl.settled = false, true
		s.gen++
	default:
		fl.settled = true
	}
	return fl.leaving
}

// settleFills settles the full windows of s's streams at now (settle),
// as a snapshot shows them. s.mu is held.
func (s *Session) settleFills(now time.Time) {
	if s.atWindow == 0 || s.w.sent[0].Load() == 0 && s.w.sent[1].Load() == 0 {
		return
	}
	for st := range s.streams.all() {
		s.settle(st, 0, now)
		s.settle(st, 1, now)
	}
}

// ReadStarted tells the session that the tapped end is about to read
// bytes of direction dir from the connection; ReadDone that the read
// returned. smux and yamux read their connection all the time, so an end
// that has not been reading for seconds has stopped itself: in v1 smux,
// one unread stream fills the session-wide receive buffer. The findings
// engine then names the block (SESSION_BLOCKED) and does not take the
// silence it causes for the peer's (KEEPALIVE, UNANSWERED). Each costs
// one atomic add; calls for one direction must not overlap.
func (s *Session) ReadStarted(dir Dir) { s.w.reads[dir&1].Add(1) }

// ReadDone ends what ReadStarted began.
func (s *Session) ReadDone(dir Dir) { s.w.reads[dir&1].Add(1) }

// SetArrivalProbe tells the session that the frames of direction dir are
// stamped as the tapped end's Read (or the attach proxy's) returns them:
// bytes that waited in the socket buffer, behind a reader that fell
// behind (its threads starved on a loaded host), are stamped when it
// read them, long after they came. A streaming writer's frame read after
// the in-flight window is then in flight all the same where a probe of
// the socket by the window's end showed its first payload byte come
// (Arrived): it waited there. probe, if not nil, makes such a probe at
// any moment, from any goroutine (each evaluation of the findings makes
// one while the direction is armed): it returns when it looked, and an
// offset of dir, counted as its frames' offsets are, below which every
// byte had come by then (read, or waiting to be). It must not call the
// session. Called once, before any frame of dir. Without a probe (a TLS
// conn, a pipe, a system other than Linux), or with none made by the
// window's end, a frame's stamp is taken for when it came, as before.
func (s *Session) SetArrivalProbe(dir Dir, probe func() (at time.Time, off int64, ok bool)) {
	s.mu.Lock()
	s.w.arrived[dir&1].on = probe != nil
	s.w.probe[dir&1] = probe
	s.mu.Unlock()
}

// ArrivalWanted reports whether the reader of dir should probe its socket
// as a Read begins (Arrived): the other direction's FIN went out on a
// stream whose writer was streaming, less than armFor ago
// (sessionWatch.armedUntil). One atomic load where it did not (a tap's
// every Read asks), and a clock read where it did.
func (s *Session) ArrivalWanted(dir Dir) bool {
	u := &s.w.armedUntil[dir&1]
	until := u.Load()
	if until == 0 {
		return false
	}
	if time.Now().UnixNano() > until {
		u.CompareAndSwap(until, 0) // past: unless a FIN armed it again meanwhile
		return false
	}
	return true
}

// armFor is how long after a FIN that arms a direction's probes
// (sessionWatch.armedUntil) they go on: the in-flight window, within which a
// probe shows what had come by its end, and a little more.
const armFor = inFlightWindow + 100*time.Millisecond

// armArrivals arms the probes of direction d, whose writer streamed on
// st up to the other side's FIN at fin (Unix ns). s.mu is held.
func (s *Session) armArrivals(st *stream, d Dir, fin int64) {
	a := &s.w.arrived[d]
	if !a.on {
		return
	}
	if !streaming(st.run[d]) {
		return // not streaming: its late frames count whenever they came
	}
	a.arm(fin)
	s.w.armedUntil[d].Store(max(s.w.armedUntil[d].Load(), fin+int64(armFor)))
}

// Arrived tells the session that, by at, every byte of direction dir
// below offset off (counted as its frames' offsets are) had come to the
// tapped end: read, or waiting in its socket (SetArrivalProbe). Nothing
// for a direction that is not so stamped.
func (s *Session) Arrived(dir Dir, at time.Time, off int64) {
	s.mu.Lock()
	s.w.arrived[dir&1].add(at.UnixNano(), off)
	s.mu.Unlock()
}

// arrivalProbe makes the probes of s's directions that are armed
// (SetArrivalProbe, armArrivals): an evaluation's, which sees the socket
// of a reader that does not run, as no Read it begins does. s.mu is not
// held.
func (s *Session) arrivalProbe(ns int64) {
	if s.w.armedUntil[0].Load() == 0 && s.w.armedUntil[1].Load() == 0 {
		return
	}
	s.mu.Lock()
	probes := s.w.probe
	for d := range probes {
		switch until := s.w.armedUntil[d].Load(); {
		case until == 0:
			probes[d] = nil
		case ns > until:
			s.w.armedUntil[d].Store(0)
			probes[d] = nil
		}
	}
	s.mu.Unlock()
	for d, p := range probes {
		if p != nil {
			if at, off, ok := p(); ok {
				s.Arrived(Dir(d), at, off)
			}
		}
	}
}

// arrivals keeps, for the latest FINs that armed a direction's probes
// (armArrivals), how much of the direction had come by each FIN's
// in-flight window's end, as probes by then showed (Session.Arrived).
type arrivals struct {
	on   bool // the direction's frames are stamped as they are read
	n    int
	fin  [maxArrivals]int64 // Unix ns, rising
	came [maxArrivals]int64 // every byte below it had come by fin + inFlightWindow
}

// maxArrivals bounds arrivals: the frames late after a FIN forgotten are
// judged by their stamps, as with no probe.
const maxArrivals = 4

// arm notes a FIN at fin (Unix ns). One within a millisecond of the
// latest shares its entry (the earlier one's window, which tells less).
func (a *arrivals) arm(fin int64) {
	if a.n > 0 && fin >= a.fin[a.n-1] && fin-a.fin[a.n-1] < int64(time.Millisecond) {
		return
	}
	if a.n == maxArrivals {
		copy(a.fin[:], a.fin[1:])
		copy(a.came[:], a.came[1:])
		a.n--
	}
	a.fin[a.n], a.came[a.n] = fin, 0
	if a.n > 0 {
		a.came[a.n] = a.came[a.n-1] // what had come by an earlier window had come by this one
	}
	a.n++
}

// add notes a probe: by at, every byte below off had come.
func (a *arrivals) add(at, off int64) {
	for i := range a.n {
		if at <= a.fin[i]+int64(inFlightWindow) {
			a.came[i] = max(a.came[i], off)
		}
	}
}

// cameBy reports whether a frame whose payload starts at offset start,
// late after the FIN at fin, had come by that FIN's in-flight window's
// end, as a probe by then showed.
func (a *arrivals) cameBy(fin, start int64) bool {
	for i := a.n - 1; i >= 0; i-- {
		if a.fin[i] <= fin && fin-a.fin[i] < int64(time.Millisecond) {
			return a.came[i] > start
		}
	}
	return false
}

// ReceiveWindow tells the session what a capture (muxtop read, sniff)
// shows of the TCP receive window of dir's receiver: closed (zero) since
// at, or open again. It is a capture's view of what ReadStarted tells of
// a tapped end: a receiver whose window stays closed has stopped reading
// the connection, and the sender can send nothing. The findings engine
// then does not take the sender's silence for its own (KEEPALIVE,
// UNANSWERED) once the window has stayed closed for a moment, nor for a
// second after it opens again, as after a blocked write; it names the
// block after BlockedAfter (SESSION_BLOCKED).
func (s *Session) ReceiveWindow(dir Dir, closed bool, at time.Time) {
	s.setWindow(dir, closed, false, at)
}

// setWindow is ReceiveWindow, and HeldWindow where held: one lock, so
// that no evaluation sees a tap's held write as a closed window.
func (s *Session) setWindow(dir Dir, closed, held bool, at time.Time) {
	s.mu.Lock()
	if since := s.w.zeroSince[dir&1]; !closed && since != 0 && at.UnixNano()-since >= int64(zeroSettle) {
		s.w.zeroFreed[dir&1] = at.UnixNano() // it held the sender
	}
	s.w.zeroSince[dir&1], s.w.zeroHeld[dir&1] = 0, closed && held
	if closed {
		s.w.zeroSince[dir&1] = at.UnixNano()
	}
	s.mu.Unlock()
}

// HeldWindow is ReceiveWindow of a zero window that a tap's recording
// wrote (a capture muxtop's --write or pcapout.Live made, whose
// interfaces say they are a tap's): the tap's write of dir's bytes, held
// since at (closed), or returned. The tap saw only its write waiting,
// which a receiver that stopped reading and one that reads on far
// slower than the sender writes both make: SESSION_BLOCKED then says so
// as the tap did live (sign write), not that the receiver's window has
// been closed all along, which a capture of the wire may not show.
func (s *Session) HeldWindow(dir Dir, closed bool, at time.Time) {
	s.setWindow(dir, closed, true, at)
}

// watchUsed notes a use of the session by its client at ns (usedAt).
// s.mu is held.
func (s *Session) watchUsed(ns int64) {
	s.w.usedAt = max(s.w.usedAt, ns)
}

// watchFrame notes a frame of dir at ns. s.mu is held.
func (s *Session) watchFrame(dir Dir, ns int64) {
	s.w.lastAt[dir] = max(s.w.lastAt[dir], ns)
	if s.w.firstAt == 0 || ns < s.w.firstAt {
		s.w.firstAt = ns
	}
}

// lastHeard returns when (Unix ns) direction dir last showed its sender
// sending: its latest frame, or bytes a resynchronising decoder held
// unframed (Heard), if later; 0 before either. s.mu is held.
func (w *sessionWatch) lastHeard(dir Dir) int64 { return max(w.lastAt[dir], w.heardAt[dir]) }

// Heard tells the session that bytes of direction dir came at at that
// its decoder holds unframed while it looks for a frame boundary, as
// where a capture joined the connection mid-stream or lost bytes: it
// frames them once a chain of headers shows where frames begin, which
// on a quiet connection takes three keepalive intervals. Its sender is
// not silent meanwhile (KEEPALIVE), though no frame shows it yet.
func (s *Session) Heard(dir Dir, at time.Time) {
	s.mu.Lock()
	s.w.heardAt[dir&1] = max(s.w.heardAt[dir&1], at.UnixNano())
	s.mu.Unlock()
}

// later returns the later of last and at: a frame of one direction that
// a resynchronising decoder held comes after frames of the other that
// passed after it (package tap's Feeder stamps it with when it came).
func later(last, at time.Time) time.Time {
	if at.After(last) {
		return at
	}
	return last
}

// watchOpened lists a new live stream. s.mu is held.
func (s *Session) watchOpened(st *stream) {
	// The lists are walked oldest first, up to a cutoff: a stream opened
	// by a frame a resynchronisation held, recorded after later ones,
	// counts from the latest of them.
	st.watch.first = max(st.first.UnixNano(), s.w.openedAt)
	s.w.openedAt = st.watch.first
	if st.watch.setup = s.setupStream(st); st.watch.setup {
		s.w.setups++
	}
	if s.proto == Yamux {
		st.watch.asked = st.watch.first
	}
	s.w.lists[liveList].push(st, liveList)
	s.w.lists[waitList].push(st, waitList)
	if s.w.leakFrom == nil {
		s.w.leakFrom, s.w.leakFromAt = st, st.watch.first // every older stream is counted already
	}
}

// SetupWindow is how soon after its session's first frame a stream opens
// to be one of the session's setup streams (Session.setupStream).
const SetupWindow = time.Second

// MaxSetupStreams is how many of a session's streams may be setup
// streams (Session.setupStream): a program sets a session up with a few
// (go-plugin with four: its control stream, its plugin's stdout and
// stderr, the dispensed plugin's); a session that opens more in its
// first second is serving requests, and the streams beyond these are
// counted as any other.
const MaxSetupStreams = 8

// setupStream says whether st, opening now, is one of its session's
// setup streams: the session's start was seen (no capture joined it
// mid-session, nor lost bytes before), st opened within SetupWindow of the
// session's first frame, no stream of the session had closed (either
// side's FIN, or an RST) before it opened, and fewer than
// MaxSetupStreams of the session's streams are setup streams. Those are the streams a
// program opens as it sets the session up and holds for its life by
// design: go-plugin's control stream, its plugin's stdout and stderr
// streams and the plugin's stream where the host dispenses it as it
// starts, a control channel. A stream opened later and held idle by
// design (a plugin dispensed on first use, frp's work connection asked
// for anew after each use) is counted: the README says to raise
// --leak-after above such an idle. A
// leak is per request and repeats: its streams open, and go on opening,
// after the session's setup, where LEAK counts them; a leak's first
// stream opened in the setup is not counted, its later ones are. s.mu is
// held.
func (s *Session) setupStream(st *stream) bool {
	w := &s.w
	return !s.incomplete && !w.closedAny && w.firstAt != 0 && st.watch.first-w.firstAt <= int64(SetupWindow) &&
		w.setups < MaxSetupStreams
}

// The kinds of counted leaks (stream.leakKind): by the side that never
// sent FIN (leakKind), and heldKind, a setup stream open with no FIN
// from either side, which no LEAK counts.
const (
	heldKind     = 3
	numLeakKinds = 4
)

// leakKind is st's kind as a counted leak: leakKind of its state, or
// heldKind for a setup stream held open (heldSetup). A live stream of
// kind 0 has no FIN from either side.
func (st *stream) leakKind() int {
	k := leakKind(st.state)
	if k == 0 && st.heldSetup() {
		return heldKind
	}
	return k
}

// heldSetup reports whether st is one of its session's setup streams
// (Session.setupStream) with no FIN from either side, and not a request
// with nothing back (askedUnanswered): held open by design, which no LEAK
// counts (heldKind) and a snapshot marks Setup. A setup stream is held
// with traffic both ways (go-plugin's control stream, its dispensed
// plugin's, each call answered), or one way from its acceptor (the
// plugin's stdout and stderr), or none (a pool warmed at the start); one
// whose opener sent a request and got not a byte back is a hung handler
// as any other stream's: a yamux client's 20 HANG requests through
// attach showed 8 "open (setup)" streams, the oldest, left out of the
// LEAK's count and never named.
func (st *stream) heldSetup() bool {
	return st.watch.setup && !st.fin[0] && !st.fin[1] && !st.askedUnanswered()
}

// askedUnanswered says whether st's opener sent it payload and the other
// side none, all of it seen (not a stream a capture lost bytes of).
func (st *stream) askedUnanswered() bool {
	d := st.opener.Sends()
	return !st.incomplete && st.bytes[d] > 0 && st.bytes[1-d] == 0
}

// suspects says whether any stream is counted as a leak of a kind a LEAK
// may count: those held since the session's setup are none.
func (w *sessionWatch) suspects() bool {
	return w.leaked[0] != 0 || w.leaked[1] != 0 || w.leaked[2] != 0
}

// leakRef is a counted leak, as a finding names it: last is its leak
// clock (stream.leakClock), which leakFrame keeps for a kind's oldest.
type leakRef struct {
	st     *stream
	first  int64
	last   int64
	id     uint32
	opener Side
}

func refOf(st *stream) leakRef { return leakRef{st, st.watch.first, st.leakClock(), st.id, st.opener} }

// leakClock is when (Unix ns) st's leak clock started: its latest frame,
// either direction's, of any kind (its SYN, data, a window update, a
// FIN), or its place in the live list's SYN order if later. A stream is
// a leak suspect only once it has been live, and has carried no frame,
// for LeakAfter: a stream in use (a subscription, a tunnel, a long
// transfer) is none, however old. Its deadline is its leak clock plus
// LeakAfter.
func (st *stream) leakClock() int64 { return max(st.watch.first, st.last.UnixNano(), st.watch.lossAt) }

// An smux v1 reader sends nothing as it reads (v2 sends UPDs, yamux
// window updates), and smux v1 has no per-stream window: a sender's
// bytes and its FIN sit in the reader's session buffer (MaxReceiveBuffer,
// 4 MiB by default) as soon as the wire carries them. A stream half-closed
// by its sender is then idle on the wire while its reader still drains
// it, as it is once the reader forgot Close: nothing on the wire tells
// them apart but how much the reader was sent, and when. A reader cannot
// still be reading bytes it was never sent, nor more than its buffer
// holds. So LEAK takes such a stream for a leak no sooner than a reader
// at V1DrainRate would have read what it was sent, each frame's bytes
// after those before them and none held unread longer than
// V1ReceiveBuffer's drain (stream.readBy, kept as each PSH comes): a
// download of a few MiB read at a slow client's pace (3.5 MiB at
// 80 KiB/s, 45 s) was a LEAK, "the client never closes its streams", 40 s
// in, while its reader read. A tunnel that carried its MiB long before
// its FIN, or a small reply after an upload read long since, is held back
// no more than what a reader could still have unread. A forgotten Close
// is still found, at most V1ReceiveBuffer/V1DrainRate (64 s) after the
// stream's latest data, and no later than before where its reader could
// have read it all within --leak-after: its latest frame plus LeakAfter
// holds where later. Only while no LEAK of its side is open: a side seen
// to forget Close has its held-back streams counted (explainedLeaks).
const (
	// V1DrainRate is the slowest pace (bytes a second) LEAK allows an
	// smux v1 reader draining what it was sent: 64 KiB/s, 512 kbit/s, a
	// slow client's tunnel. A reader slower still over more than
	// --leak-after's worth is taken for a leak once a reader at this rate
	// would have read it.
	V1DrainRate = 64 << 10
	// V1ReceiveBuffer is smux's default MaxReceiveBuffer (4 MiB): the
	// most a v1 reader can hold unread, and so the most LEAK allows it to
	// drain after its sender's FIN. A program that configures a larger
	// buffer and reads it slower than V1DrainRate is taken for a leak
	// once 4 MiB would have been read.
	V1ReceiveBuffer = 4 << 20
)

// drainedAt returns when (Unix ns) st's reader, in an smux v1 session,
// has read what the other side sent it before its FIN, at V1DrainRate,
// none of it held longer than V1ReceiveBuffer's drain (stream.readBy),
// for a stream half-closed by one side; 0 for an open stream, and in v2
// and yamux, whose readers show their reading. Its leak deadline is
// the later of this and its leak clock plus LeakAfter. s.mu is held.
func (s *Session) drainedAt(st *stream) int64 {
	if s.version != 1 || s.proto == Yamux {
		return 0
	}
	var d Dir // the direction whose sender closed: what the other side reads
	switch st.state {
	case HalfClosedByClient:
		d = ClientToServer
	case HalfClosedByServer:
		d = ServerToClient
	default:
		return 0
	}
	return st.readBy[d]
}

// lastWrite is when (Unix ns) st's opener last wrote on it, as smux v1's
// UNANSWERED counts a wait, for a stream with no frame back (on the wait
// list, where every frame is its opener's): its latest frame, but not its
// opener's FIN, which gives the request up and asks nothing more (a
// client's timeout closing a stream the server never read).
func (st *stream) lastWrite() int64 {
	if st.fin[st.opener.Sends()] {
		return st.watch.beforeFIN
	}
	return st.last.UnixNano()
}

// leakFrame notes a frame on st, counted as a leak: its leak clock
// started again (leakActive), and the next evaluation walks the counted
// streams to leave it out. One store and a compare on the record path,
// for counted streams only. s.mu is held.
func (w *sessionWatch) leakFrame(st *stream) {
	// A setup stream's kind follows its payload (heldSetup): a request
	// with nothing back is counted, its answer holds it again.
	if st.watch.setup {
		if k := uint8(st.leakKind()); k != st.watch.kind {
			w.unleak(st)
			st.watch.leaked, st.watch.kind = true, k
			w.leak(st)
		}
	}
	ns := st.leakClock()
	w.leakActive = max(w.leakActive, ns)
	w.noteRecent(st, math.MaxInt64) // its clock, and in smux v1 its drain, moved
	if o := &w.oldest[st.watch.kind]; o.st == st {
		o.last = max(o.last, ns)
	}
}

// watchHalfClosed moves a counted leak to the kind of its new state,
// and takes a request waiting for its answer off the reply list where
// the acceptor closed its side: no answer can come. s.mu is held.
func (s *Session) watchHalfClosed(st *stream) {
	s.w.closedAny = true
	if st.watch.listed[replyList] && st.fin[st.opener.Sends().Reverse()] {
		s.w.lists[replyList].remove(st, replyList)
	}
	if w := &st.watch; w.leaked {
		s.w.unleak(st)
		w.leaked, w.kind = true, uint8(st.leakKind())
		s.w.leak(st)
	}
}

// leak counts st, of st.watch.kind, as leaked.
func (w *sessionWatch) leak(st *stream) {
	k := st.watch.kind
	w.leaked[k]++
	if o := &w.oldest[k]; w.known[k] && (o.st == nil || st.watch.first < o.first) {
		*o = refOf(st)
	}
}

// unleak takes st out of the leak counts.
func (w *sessionWatch) unleak(st *stream) {
	k := st.watch.kind
	st.watch.leaked = false
	if w.leaked[k]--; w.leaked[k] == 0 {
		w.oldest[k], w.known[k] = leakRef{}, true
	} else if w.oldest[k].st == st {
		w.oldest[k], w.known[k] = leakRef{}, false
	}
}

// watchAnswer notes a frame of dir on st: the first from the side that did
// not open it answers the stream. held says that its sender's application
// holds the stream, as any frame shows but a yamux RST, which the session
// sends for a stream it refuses (its backlog full, or going away) and
// those before it wait unaccepted: acceptedTo. s.mu is held.
func (s *Session) watchAnswer(st *stream, dir Dir, ns int64, held bool) {
	if dir.Sender() == st.opener {
		return
	}
	if st.watch.listed[waitList] {
		s.w.lists[waitList].remove(st, waitList)
	}
	if d := st.opener.Sends(); held && !st.incomplete && st.serial > s.w.acceptedTo[d] {
		s.w.acceptedTo[d], s.w.acceptedID[d] = st.serial, st.id
	}
}

// acceptedSpoke says whether st was accepted, its acceptor's frames on it
// or not, and its acceptor has sent something on the session since st's
// request (lastAt, the session's latest frame of each direction): the
// acceptor has sent a frame on a stream opened the same way after it
// (acceptedTo, sessionWatch's). smux and yamux hand streams to
// AcceptStream in the order their SYNs came (smux's chAccepts, yamux's
// acceptCh: FIFO channels their session's reader fills as it reads), and
// neither sends a frame on a stream its application does not hold: no
// smux frame at all, a yamux ACK only as AcceptStream takes it (none for
// a stream its opener's FIN reached first); the RST a yamux session sends
// for a stream its full backlog refuses shows nothing of those queued
// before it, and counts for nothing here (watchAnswer). So such a
// stream's silence is its handler's (hung, or it reads and never writes
// back nor closes), not an accept loop's: a server whose handler hung on 1 request in 30, and a
// client that kept 21 of 218 pushed streams open unclosed, were a
// critical UNANSWERED, "… is not accepting them", with no LEAK ever.
// A stream muxtop did not see open (st.incomplete) is not waited on
// anyway, and its serial, given when a capture first saw it, is no SYN
// order. An acceptor silent since the request is left to the rules of a
// silent side (UNANSWERED's Evidence.Silent, KEEPALIVE): stopped after
// it accepted the stream, it looks the same.
func acceptedSpoke(st *stream, acceptedTo [2]uint64, lastAt [2]int64) bool {
	d := st.opener.Sends()
	return st.serial < acceptedTo[d] && lastAt[d.Reverse()] > st.watch.asked
}

// watchClosed unlists a stream that is no longer live. s.mu is held.
func (s *Session) watchClosed(st *stream) {
	s.w.closedAny = true
	s.watchUnlive(st)
	s.w.lists[waitList].remove(st, waitList)
	s.w.lists[asideList].remove(st, asideList)
	s.w.lists[replyList].remove(st, replyList)
}

// asideSorted lists sts, each already unlisted by watchUnlive, among the
// streams set aside (still open as far as muxtop saw, so counted in
// Aged): sorted into SYN order (watch.first), those of
// one instant in the order they opened (serial), then into the aside
// list at once (insertSorted). One loss sets aside every live stream its
// direction could change and comes upon them in the stream table's
// order (Resynced): an insert for each, walking back from the list's
// tail, cost O(n²) under s.mu. None of sts is listed there yet. s.mu is
// held.
func (s *Session) asideSorted(sts []*stream) {
	slices.SortFunc(sts, func(a, b *stream) int {
		return cmp.Or(cmp.Compare(a.watch.first, b.watch.first), cmp.Compare(a.serial, b.serial))
	})
	s.w.lists[asideList].insertSorted(sts, asideList)
}

// watchUnlive stops counting st as a leak: it closed, or a capture lost
// bytes while it was live, its FIN among them maybe (asideSorted). s.mu is held.
func (s *Session) watchUnlive(st *stream) {
	if s.w.leakFrom == st {
		s.w.setLeakFrom(st.watch.links[liveList].next)
	}
	if st.watch.leaked {
		s.w.unleak(st)
	}
	s.w.lists[liveList].remove(st, liveList)
}

// pendingLate is a v2 stream's late data in one direction, not counted
// yet (sessionWatch.pendingLate).
type pendingLate struct {
	st            *stream
	serial        uint64 // st's, to tell a reused struct
	sid           uint32
	dir           Dir
	before        uint32 // the bytes sent in dir before the late data, as smux counts them
	frames        uint64
	bytes         uint64
	first, latest int64 // Unix ns
	// The receiver's latest UPD, which says what the wire shows of the
	// data (lateKind), kept here as UPDs come: st may be folded and
	// reused before the data counts.
	upd latestUPD
}

// heldLate is late data counted, kept while its receiver's later UPD may
// show it read (sessionWatch.lateHeld).
type heldLate struct {
	pendingLate
	kind      lateKind
	newStream bool // it counted its stream in lateStreams
}

// latestUPD is what a v2 receiver's latest UPD on a stream said.
type latestUPD struct {
	has              bool // it sent one
	consumed, window uint32
}

// lateKind is what the wire shows of late data's fate.
type lateKind uint8

const (
	// lateUnread: in v2, its receiver sent no UPD within lateGrace,
	// though reading it would send one: it called Close, or it
	// half-closed with CloseWrite and has not read it yet; a later UPD
	// may still show it read (reviseLate).
	lateUnread lateKind = iota
	// lateUnseen: its receiver may have read it with nothing on the wire
	// to show it: in v1 a reader sends nothing; in v2 smux sends a UPD at
	// a stream's first read and then only once half the reader's
	// MaxStreamBuffer was read since the last, and the data fits in what
	// the receiver could read since its latest UPD; or its UPD was not
	// waited for (a stream the capture did not see whole, whose offsets
	// its UPDs do not share; maxPendingLate streams' data waiting). Close
	// (smux discards it) and CloseWrite (it is delivered) look alike.
	lateUnseen
	// lateGone: it came after both sides' FINs, to a receiver that had
	// read all that came before (drained): smux drops a stream once both
	// are in and what came before them is read (stream.go,
	// tryHalfCloseCleanup; at once after Close) and discards the PSH of
	// one it no longer has (session.go, recvLoop), whichever call the
	// receiver made.
	lateGone
)

// lateKindOf says what the wire shows of n late bytes, which begin
// before bytes into the stream, sent to a v2 receiver that has sent FIN,
// not both FINs in, whose latest UPD is u, once lateGrace has passed with none
// consuming them: whether it could read them whole with no UPD
// (lateKind).
func lateKindOf(u latestUPD, before uint32, n uint64) lateKind {
	if !u.has {
		return lateUnread // its first read sends one
	}
	// smux's reader sends its next UPD once it has read half its buffer
	// (the window its UPDs carry) since the latest, which consumed
	// u.consumed: it reads the late data whole with none while the bytes
	// past u.consumed up to the data's end are fewer.
	since := max(int64(int32(before-u.consumed)), 0)
	if uint64(since)+n < uint64(u.window/2) {
		return lateUnseen
	}
	return lateUnread
}

// lateGrace is how long a v2 session's late data waits, uncounted, for
// the receiver's UPD that shows it reads it: smux sends one at a stream's
// first read, and whenever half the stream's buffer was read since the
// last.
const lateGrace = 500 * time.Millisecond

// maxPendingLate bounds sessionWatch.pendingLate: the streams whose late
// data waits at once. Evaluate empties it; where nothing evaluates, late
// data beyond it counts at once.
const maxPendingLate = 64

// watchLate notes a PSH of dir on st, whose receiver has sent FIN: it
// counts it, or in v2 holds it for lateGrace first. s.mu is held.
func (s *Session) watchLate(st *stream, dir Dir, length uint32, at time.Time) {
	ns := at.UnixNano()
	before := uint32(st.bytes[dir] - uint64(length))
	if st.state == Closed && s.drained(st, dir, before) {
		// After both FINs, its receiver having read all that came
		// before: smux discards it whatever its receiver called, and no
		// UPD can show it read.
		s.countLate(st, st.id, dir, lateGone, 1, uint64(length), ns, ns)
		return
	}
	// After both FINs with data maybe unread before it, smux (v1.5.58:
	// tryHalfCloseCleanup) keeps a stream half-closed with CloseWrite
	// until its reader has read that, and delivers this too; after Close
	// it is gone: as data after the receiver's FIN alone.
	if st.watch.lateRead[dir] {
		return // its receiver reads on: it half-closed with CloseWrite
	}
	w := &s.w
	if s.version != 2 || st.incomplete {
		// v1's reader sends nothing when it reads; a v2 stream the
		// capture did not see whole has offsets its reader's UPDs do not
		// share: the wire does not tell.
		s.countLate(st, st.id, dir, lateUnseen, 1, uint64(length), ns, ns)
		return
	}
	for i := range w.pendingLate {
		if p := &w.pendingLate[i]; p.st == st && p.serial == st.serial && p.dir == dir {
			p.frames++
			p.bytes += uint64(length)
			p.latest = max(p.latest, ns)
			return
		}
	}
	if len(w.pendingLate) >= maxPendingLate {
		// Nobody evaluates (an embedding program that reads no findings),
		// or a flood of late streams: count at once, as in v1, and as in
		// v1 with nothing to tell: the UPD that would was not waited for.
		s.countLate(st, st.id, dir, lateUnseen, 1, uint64(length), ns, ns)
		return
	}
	w.pendingLate = append(w.pendingLate, pendingLate{st: st, serial: st.serial, sid: st.id, dir: dir,
		before: before, frames: 1, bytes: uint64(length), first: ns, latest: ns, upd: latestUPD{st.flow[dir].HasUPD, st.flow[dir].PeerConsumed, st.flow[dir].PeerWindow}})
}

// drained says whether the receiver of dir on st had read all the before
// bytes sent to it, as the wire shows: nothing was sent, or in v2 its
// latest UPD consumed them all. smux (v1.5.58: stream.go,
// tryHalfCloseCleanup) keeps a stream whose both FINs are in in its
// session's map until its reader has read what came before them, unless
// its receiver called Close, and pushes a PSH for it into its buffer
// (session.go, recvLoop): data after both FINs is surely discarded only
// where the receiver had nothing unread. A v1 reader sends nothing when
// it reads; a stream the capture did not see whole has offsets its UPDs
// do not share. s.mu is held.
func (s *Session) drained(st *stream, dir Dir, before uint32) bool {
	if st.incomplete {
		return false
	}
	if before == 0 {
		return true
	}
	fl := &st.flow[dir]
	return s.version == 2 && fl.HasUPD && int32(fl.PeerConsumed-before) >= 0
}

// The in-flight window of DATA_AFTER_CLOSE. A writer streaming on a
// stream (a push, a download, an upload, ticks) as its reader's FIN goes
// out cannot stop at the FIN: its frames already on the wire, those its
// smux had queued before its session read the FIN, and those it writes
// before its Read returns io.EOF to the code that writes all come after
// the FIN, though it stops as soon as it knows (1 or 2 frames on about
// one stream in two, within 4 ms on loopback, in
// TestHealthyMorePushClosedByReader and TestHealthyMoreUploadRejected).
// They are no fault, and the wire cannot tell them from an answer the
// writer wrote once it knew, except by what came before: so late data is
// in flight, and does not count, where
//   - its writer was streaming up to the FIN (stream.run): payload
//     bursts at runBursts distinct milliseconds at least, spanning
//     runSpan at least, the latest within inFlightWindow before the FIN
//     (or after it, recorded before it: inFlight).
//     One message of several frames (a length prefix and its payload, a
//     header and its body, one Write smux splits), or two chunks, is no
//     stream: what its writer sends after the FIN counts, the classic
//     fault's answer written once a Read returned io.EOF;
//   - and it came within inFlightWindow after the FIN.
//
// What it writes after the window counts: a writer that ignores io.EOF
// and writes on is DATA_AFTER_CLOSE once the window passed. In v2 a
// writer that ignores io.EOF is held at the window its closed reader no
// longer opens: where it wrote the window's rest within the in-flight
// window, the wire shows no more than in-flight data, and its stream,
// never closed, is WINDOW_STALL's to tell: its Write does not return at
// the FIN (smux v1.5.55 and later).
// The cost: a writer that streamed up to the FIN and then answered within
// 250 ms of it (a last message after the peer's Close) is not told from
// in-flight data; and frames that were in flight but come more than
// 250 ms after the FIN (a round trip over 250 ms, at the FIN sender's
// tap) count.
const (
	// inFlightWindow is fixed: a loaded host's scheduling (a writer's
	// frames paused 112 ms at the tap in TestHealthyMore's runs on two
	// busy cores) and a round trip across a continent. It does not grow
	// with a session's first replies: their handling time is no round
	// trip (a service whose handlers take 600 ms hid answers written
	// 400 ms after io.EOF).
	inFlightWindow = 250 * time.Millisecond
	// runBursts and runSpan make a writer's payload a stream: bursts at
	// runBursts distinct milliseconds (a 1 ms push's are), spanning
	// runSpan milliseconds (a header and its body 5 ms later do not).
	runBursts = 3
	runSpan   = 10
	// stream.run packs runBits of bursts (to runBursts), runSpanBits of
	// span (ms, to 15) and the latest burst's Unix millisecond modulo
	// 2^runTickBits (18.6 hours: a wrap only shortens a span).
	runBits     = 2
	runSpanBits = 4
	runTickBits = 32 - runBits - runSpanBits
	runTickMask = 1<<runTickBits - 1
)

// watchData notes a payload frame of dir on st at ns, before its
// reader's FIN: its writer's bursts (stream.run). s.mu is held.
func (s *Session) watchData(st *stream, dir Dir, ns int64) {
	if st.fin[dir.Reverse()] && ns >= st.finAt[dir.Reverse()] {
		return // after the FIN: in flight or late, no evidence of a stream
	}
	r := st.run[dir]
	tick := uint32(ns/int64(time.Millisecond)) & runTickMask
	bursts, span := r&(1<<runBits-1), r>>runBits&(1<<runSpanBits-1)
	if bursts == 0 {
		st.run[dir] = tick<<(runBits+runSpanBits) | 1
		return
	}
	gap := (tick - r>>(runBits+runSpanBits)) & runTickMask
	if gap == 0 || gap >= 1<<(runTickBits-1) {
		return // the same millisecond's burst, or stamped before the latest
	}
	bursts = min(bursts+1, runBursts)
	span = uint32(min(uint64(span)+uint64(gap), 1<<runSpanBits-1))
	st.run[dir] = tick<<(runBits+runSpanBits) | span<<runBits | bursts
}

// inFlight says whether late data of dir on st at ns was on its way as
// its receiver's FIN went out: its writer was streaming up to the FIN
// (watchData), and it came within inFlightWindow of the FIN. s.mu is
// held.
//
// The run's latest burst may be stamped after the FIN: a tap stamps a
// frame as its Read or Write returns and records it under s.mu, so a FIN
// it wrote can be recorded after frames it read and stamped later (14 ms
// on two loaded cores). Such a burst, within inFlightWindow after the
// FIN, shows the writer streaming across it; before, its tick wrapped to
// 2^26 ms "before" the FIN, and its writer's next frames counted.
//
// Where dir's frames are stamped as a Read returns them (SetArrivalProbe),
// the stamp is only when the bytes had come at the latest: a reader that
// fell behind reads, after its FIN, frames that waited in its socket
// since before it (TestAfterCloseBacklogReadAfterFINRealTap). There, a
// frame stamped after the window whose payload, from offset start, a
// probe of the socket by the window's end showed come (Arrived) waited
// there: it is in flight as if read within the window.
func (s *Session) inFlight(st *stream, dir Dir, ns, start int64) bool {
	r, fin := st.run[dir], st.finAt[dir.Reverse()]
	if !streaming(r) {
		return false
	}
	if ns-fin > int64(inFlightWindow) {
		if a := &s.w.arrived[dir]; !a.on || !a.cameBy(fin, start) {
			return false
		}
		// Read late, but a probe by the window's end showed it had come:
		// it waited in the socket behind a reader that fell behind.
	}
	latest, finTick := r>>(runBits+runSpanBits), uint32(fin/int64(time.Millisecond))&runTickMask
	window := uint32(inFlightWindow / time.Millisecond)
	return (finTick-latest)&runTickMask <= window || (latest-finTick)&runTickMask <= window
}

// streaming says whether a stream's run (stream.run) shows its writer
// streaming: payload bursts at runBursts distinct milliseconds, spanning
// runSpan.
func streaming(r uint32) bool {
	return r&(1<<runBits-1) >= runBursts && r>>runBits&(1<<runSpanBits-1) >= runSpan
}

// countLate counts frames late frames of bytes payload bytes sent in dir
// to stream sid, st, whose receiver had sent FIN, from first to latest
// (Unix ns), of kind. s.mu is held.
func (s *Session) countLate(st *stream, sid uint32, dir Dir, kind lateKind, frames, bytes uint64, first, latest int64) {
	w := &s.w
	if w.late[dir] == w.eng.lateBase[0][dir] {
		w.lateFirstSID[dir], w.lateFirstAt[dir] = sid, first
	}
	w.late[dir] += frames
	w.lateBytes[dir] += bytes
	switch kind {
	case lateUnseen:
		w.lateUnseen[dir] += frames
	case lateGone:
		w.lateGone[dir] += frames
	}
	if st == nil || !st.watch.late {
		w.lateStreams[dir]++ // a stream folded since counts as a new one
	}
	if st != nil {
		st.watch.late = true
	}
	w.lateAt[dir] = max(w.lateAt[dir], latest)
}

// watchLateRead takes a v2 UPD that the receiver of dir on stream sid,
// st, sent consuming consumed bytes: one past the data sent to it before
// its late data shows that it read some of that, so it reads on after its
// FIN, and the data is delivered; one that does not is the latest UPD the
// late data's reading counts from (lateKindOf). st is nil where the stream was folded
// since (closed both ways, and as many others after it as the session
// keeps in detail: closedCap): its UPD still tells. s.mu is held.
func (s *Session) watchLateRead(st *stream, sid uint32, dir Dir, consumed, window uint32) {
	w := &s.w
	for i := range w.pendingLate {
		p := &w.pendingLate[i]
		if p.sid != sid || p.dir != dir || st != nil && (p.st != st || p.serial != st.serial) {
			continue
		}
		if int32(consumed-p.before) > 0 {
			if st != nil {
				st.watch.lateRead[dir] = true
			}
			w.pendingLate = append(w.pendingLate[:i], w.pendingLate[i+1:]...)
			break
		}
		// It read data sent before the late data: what it may read of
		// the late data with no UPD counts from here (lateKindOf).
		p.upd.has, p.upd.consumed, p.upd.window = true, consumed, window
		break
	}
	if len(w.lateHeld) > 0 {
		s.reviseLate(st, sid, dir, consumed, window)
	}
}

// reviseLate takes a v2 UPD, as watchLateRead, for the late data counted
// already (lateHeld): no UPD within lateGrace meant Close, or a reader
// that had not read it yet. One consuming past the data sent before it
// shows the receiver read it, and reads on after its FIN: it half-closed
// with CloseWrite, and smux delivered it; it is no evidence of a loss, and
// the count gives it back (lateRevised). One that does not is the latest
// UPD its reading counts from: it may read what is left with none
// (lateKindOf). s.mu is held.
func (s *Session) reviseLate(st *stream, sid uint32, dir Dir, consumed, window uint32) {
	w := &s.w
	kept := w.lateHeld[:0]
	for _, h := range w.lateHeld {
		if h.sid != sid || h.dir != dir || st != nil && (h.st != st || h.serial != st.serial) {
			kept = append(kept, h)
			continue
		}
		if int32(consumed-h.before) > 0 {
			if st != nil {
				st.watch.lateRead[dir] = true
			}
			w.late[dir] -= h.frames
			w.lateBytes[dir] -= h.bytes
			if h.kind == lateUnseen {
				w.lateUnseen[dir] -= h.frames
			}
			if h.newStream {
				w.lateStreams[dir]--
			}
			w.lateRevised[dir] += h.frames
			continue
		}
		h.upd = latestUPD{true, consumed, window}
		if k := lateKindOf(h.upd, h.before, h.bytes); k != h.kind {
			if k == lateUnseen {
				w.lateUnseen[dir] += h.frames
			} else {
				w.lateUnseen[dir] -= h.frames
			}
			h.kind = k
		}
		kept = append(kept, h)
	}
	clear(w.lateHeld[len(kept):])
	w.lateHeld = kept
}

// countPendingLate counts the late data held for lateGrace by ns. Once
// the session ended (ended), no UPD can come: what waits counts, if its
// receiver could have sent one: unless its sender ended the connection
// first (the receiver, reading it after, finds its UPD cannot go out, or
// a tap records none after the EOF that ends the session) before lateGrace
// had passed. What does not count is dropped then. s.mu is held.
func (s *Session) countPendingLate(ns int64, ended bool) {
	w := &s.w
	kept := w.pendingLate[:0]
	for _, p := range w.pendingLate {
		switch {
		case ended && s.dirEnded[p.dir] && s.dirEndedAt[p.dir]-p.first < int64(lateGrace):
			continue // maybe read, with its UPD cut off
		case !ended && ns-p.first < int64(lateGrace):
			kept = append(kept, p)
			continue
		}
		st := p.st
		if st.serial != p.serial {
			st = nil // folded and reused since: its id is in p
		}
		kind := lateKindOf(p.upd, p.before, p.bytes)
		if !ended && len(w.lateHeld) < maxPendingLate {
			// Its receiver's later UPD may yet show it read (reviseLate).
			w.lateHeld = append(w.lateHeld, heldLate{pendingLate: p, kind: kind, newStream: st == nil || !st.watch.late})
		}
		s.countLate(st, p.sid, p.dir, kind, p.frames, p.bytes, p.first, p.latest)
	}
	clear(w.pendingLate[len(kept):])
	w.pendingLate = kept
}

// keepaliveKnown says whether keepalive has a cadence on the session: a
// NOP interval known either way (smux's first NOP; a yamux side's third
// ping, or its second where the first came an interval after the start:
// pingCadence). Every rule that asks whether keepalive is on asks this,
// or nopEvery, which it reads: KEEPALIVE, the silent side's UNANSWERED
// and NO_REPLY and their resolutions (keepaliveCame), LEAK's excuses.
func (w *sessionWatch) keepaliveKnown() bool { return w.nopEvery != [2]int64{} }

// pingCadence says whether a yamux side's pings show a keepalive cadence
// at its n-th ping (n ≥ 2). joined: muxtop did not see the session start
// (a capture joined mid-session, s.incomplete). first is the time from
// the session's start to its first ping, and second the interval to its
// second ping from the first's answer (from the first ping where no
// answer came before it).
//
// An application may call Session.Ping() itself, keepalive on or off:
// two such pings 300 ms apart gave a side a 300 ms cadence, and KEEPALIVE
// called a healthy program frozen 1.3 s after it went quiet, the server
// too, and the silent side's UNANSWERED and NO_REPLY stood down for it.
// So two intervals show a cadence (the third ping), or one where the
// start shows the other. hashicorp's keepalive pings KeepAliveInterval
// after its session starts, then KeepAliveInterval after each Ping()
// returns, on its answer (keepalive: time.After, then a Ping that waits
// for its answer): second, from the answer, is one interval, and first
// one interval and what came before yamux started (a handshake, a
// dial's setup after the tap saw the conn), which only makes it later.
// So the second ping shows the cadence where first is no less than ¾ of
// second and no more than second and a slack, the longer of a quarter
// interval and 1 s. Measured from the ping and held to within a quarter
// interval of it, a 300 ms start delay at a 500 ms interval, or a first
// answer 300 ms late, failed, and a pinger frozen after its second ping,
// which sends no third, was never called frozen
// (TestYamuxSolePingerFrozenAfterSecondPingReal). An application's two
// pings made as the session begins (first ≪ second), or long after it
// (first ≫ second and the slack), are still none.
//
// So hashicorp's keepalive is known at its second ping: 2 intervals into
// a session muxtop saw begin (60 s at the default 30 s), later by any
// start delay. A joined capture keeps the second-ping rule: the time to
// the first ping it saw is unknown, a joined session's pings are almost
// always keepalive, and a frozen pinger sends no third. libp2p's
// go-yamux, which pings at once to measure the round trip and then every
// 30 s, is known at its third ping, at 60 s (30 s before): its first
// two look like an application's. An application that pings three
// times, or twice at a start-paced time (first about one gap after the
// start, within the slack: e.g. at 1 s and 1.3 s), is taken for a
// keepalive: from the wire the two look alike.
func pingCadence(n uint32, joined bool, first, second int64) bool {
	if n >= 3 || joined {
		return true
	}
	if first <= 0 || second <= 0 {
		return false
	}
	return first >= second*3/4 && first <= second+max(second/4, int64(pingStartSlack))
}

// pingStartSlack is the least time pingCadence allows a hashicorp
// side's first ping to come later than its second interval: what comes
// before yamux starts on a connection muxtop saw begin.
const pingStartSlack = time.Second

// watchNOP notes a NOP of dir at ns: keepalive's cadence. s.mu is held.
func (s *Session) watchNOP(dir Dir, ns int64) {
	w := &s.w
	prev := w.nopAt[dir]
	if prev == 0 && !s.incomplete {
		if s.proto != Yamux {
			// smux's keepalive ticker starts with the session: through
			// a proxy, the server's once the proxy's dial went through.
			// A client's NOP read as the proxy begins may have waited
			// through the dial: it starts the cadence, as a joined
			// capture's first NOP does (from the start, a 3 s dial made
			// a 200 ms cadence "every 3.0 s" for good).
			if !s.queuedAtDial(dir, ns) {
				prev = s.audibleFrom(dir)
			}
		} else {
			// A yamux side's first ping says nothing of its cadence:
			// hashicorp's keepalive pings an interval in, but libp2p's
			// go-yamux pings at once to measure the round trip, then
			// every 30 s. The first ping starts the cadence, as a joined
			// capture's does; the time to it counts only while it waits
			// for its answer (Evaluate), and to say whether the second
			// ping shows a cadence (pingCadence).
			w.firstPing[dir] = ns - s.audibleFrom(dir) // as smux's: a proxied server's from the dial
		}
	}
	// The longest interval: a NOP delayed once makes the cadence look
	// longer, never shorter, so silence is never called early. A capture
	// joined mid-stream began at no tick: its first NOP starts the cadence,
	// which else could look as short as the moment between the two.
	w.nops[dir]++
	w.nopAt[dir] = ns
	if prev == 0 {
		return
	}
	w.nopGap[dir] = max(w.nopGap[dir], ns-prev)
	// A yamux side's interval to its second ping counts from the first's
	// answer, which hashicorp's keepalive waits for (pingCadence); its
	// cadence, nopEvery, stays the longest ping-to-ping interval, which
	// KEEPALIVE's texts say its pings came every.
	if s.proto != Yamux || pingCadence(w.nops[dir], s.incomplete, w.firstPing[dir], ns-max(prev, s.yamux().answeredAt[dir])) {
		w.nopEvery[dir] = w.nopGap[dir]
		if s.keepaliveAt == 0 {
			s.keepaliveAt = ns
		}
	}
}

// watchEnded empties the lists of an ended session, whose streams are no
// longer live. s.mu is held.
func (s *Session) watchEnded() {
	for l := &s.w.lists[liveList]; l.head != nil; {
		s.watchClosed(l.head)
	}
	for l := &s.w.lists[waitList]; l.head != nil; {
		l.remove(l.head, waitList)
	}
	for l := &s.w.lists[asideList]; l.head != nil; {
		l.remove(l.head, asideList)
	}
	for l := &s.w.lists[replyList]; l.head != nil; {
		l.remove(l.head, replyList)
	}
}

// countLeaks counts the live streams that have grown older than cutoff
// since the previous call, and returns the oldest counted stream of each
// kind. It walks only the streams that crossed the cutoff since, and,
// when the oldest of a kind closed, the counted streams up to the next
// one of that kind. s.mu is held.
func (s *Session) countLeaks(cutoff int64, leakAfter time.Duration) *[numLeakKinds]leakRef {
	w := &s.w
	if w.leakAfter != int64(leakAfter) {
		w.dropRecent() // its streams are known by a key of LeakAfter (recentKey)
	}
	w.leakAfter = int64(leakAfter)
	head := w.lists[liveList].head
	if cutoff < w.leakCut || w.leakCut == 0 {
		// The threshold grew, or the clock went back: count afresh.
		for st := head; st != nil && st != w.leakFrom; st = st.watch.links[liveList].next {
			st.watch.leaked = false
		}
		w.leaked, w.oldest, w.known = [numLeakKinds]uint64{}, [numLeakKinds]leakRef{}, [numLeakKinds]bool{true, true, true, true}
		w.countedTo, s.leakNewest, w.leakActive, w.drainUntil = 0, 0, 0, [numLeakKinds]int64{}
		w.dropRecent()
		w.setLeakFrom(head)
	}
	w.leakCut = cutoff
	for n := 0; w.leakFrom != nil && w.leakFromAt <= cutoff && n < maxWalk; n++ {
		st := w.leakFrom
		st.watch.leaked, st.watch.kind = true, uint8(st.leakKind())
		w.leak(st)
		s.leakNewest = max(s.leakNewest, st.watch.first)
		clock, drained := st.leakClock(), s.drainedAt(st)
		w.leakActive = max(w.leakActive, clock)
		w.drainUntil[st.watch.kind] = max(w.drainUntil[st.watch.kind], drained)
		w.noteRecent(st, recentKey(clock, drained, leakAfter))
		w.countedTo = st.serial + 1
		w.setLeakFrom(st.watch.links[liveList].next)
	}
	for k := range w.known {
		if w.known[k] {
			continue
		}
		// The counted streams are the list's first: the oldest of the kind
		// is among them.
		for st, n := head, 0; st != nil && st.watch.leaked && n < maxWalk; st, n = st.watch.links[liveList].next, n+1 {
			if int(st.watch.kind) == k {
				w.oldest[k] = refOf(st)
				break
			}
		}
		w.known[k] = true
	}
	return &w.oldest
}

func (w *sessionWatch) setLeakFrom(st *stream) {
	w.leakFrom = st
	if st != nil {
		w.leakFromAt = st.watch.first
	}
}

// smux v1's recvLoop (session.go, v1.5.58) reads a frame only while its
// session's bucket is above 0: the bucket starts at MaxReceiveBuffer, each
// PSH pushed to a stream takes its length from it, and only that stream's
// Read (or its Close, which recycles what it holds unread, or the
// session's) gives it back. A v1 stream its receiver never reads and never
// closes, sent V1ReceiveBuffer (smux's default MaxReceiveBuffer) or more,
// so empties the bucket, and the session then reads the connection no
// more: every frame sent after that lies in the kernel's buffers, unseen,
// and its streams' readers wait in Read, never closing them. The sender's
// writes go on into those buffers (tens of MiB over TCP) before they are
// held, so SESSION_BLOCKED's write sign does not show it, and a reader in
// v1 sends nothing as it reads: the wire cannot tell such a session from
// one whose receiver read the stream and then forgot Close on every
// stream answered since. LEAK says both where the wire fits the first:
// the streams it counts of that receiver all got their first frame toward
// it after the mark, the unread stream aside, the receiver has
// not closed that stream, and no more than V1HeldMax came its way since
// (a reader that took more was reading). The reviewer's hol fault: a
// client's one unread 5 MiB download held its session, the 199 answers
// after it never reached it, and LEAK said "the client never closes its
// streams … call Close()".

// V1HeldMax bounds the payload toward an smux v1 receiver, after the
// stream that may hold its session buffer full, that its kernel (and an
// attach proxy's, and the sender's) may hold while it reads nothing:
// past it the receiver was reading (holFor). Linux's defaults cap a
// socket's receive buffer at 6 MiB (tcp_rmem), 32 MiB where raised.
const V1HeldMax = 64 << 20

// holMark is, for a direction of an smux v1 session, the stream whose
// payload that way reached V1ReceiveBuffer while its receiver had not
// closed it, first (at 0: none now): sid and serial, when (Unix ns), and
// the direction's PSH bytes then (Counts.Bytes).
type holMark struct {
	at     int64
	psh    uint64
	serial uint64
	sid    uint32
}

// holSet marks st, sent V1ReceiveBuffer or more in dir by at, as the
// stream that may hold dir's receiver's session buffer full. s.mu is
// held.
func (s *Session) holSet(dir Dir, st *stream, at int64) {
	h := &s.hol[dir]
	h.at, h.psh, h.serial, h.sid = at, s.counts.Bytes[dir][decoder.PSH], st.serial, st.id
}

// holFor returns, for the LEAK of leakKind k whose missing FINs are
// dir's sender's, the stream that may hold that side's smux v1 session
// buffer full (holMark), and what it was sent: where it is still live,
// that side has not closed it, no more than V1HeldMax came that side's
// way since, and every other stream the LEAK may count (the leaks of
// kind k, at least one) got its first frame toward that side after the
// mark (strictly: frames recorded together share a time, and one at
// the mark's time may have come before it). ok is false otherwise: a
// stream answered before it was one that side could read, and did not
// close. Only the streams opened by the mark are walked: one opened
// later got every frame after it. s.mu is held.
func (s *Session) holFor(k int, dir Dir) (sid uint32, sent uint64, ok bool) {
	toward := dir.Reverse()
	h := &s.hol[toward]
	if h.at == 0 || s.version != 1 || s.proto == Yamux || s.counts.Bytes[toward][decoder.PSH]-h.psh > V1HeldMax {
		return 0, 0, false
	}
	dl := s.streams.get(h.sid)
	if dl == nil || dl.serial != h.serial || !dl.state.Live() || dl.fin[dir] {
		return 0, 0, false
	}
	w := &s.w
	others := w.leaked[k]
	if dl.watch.leaked && int(dl.watch.kind) == k {
		others--
	}
	if others == 0 {
		return 0, 0, false
	}
	n := 0
	for st := w.lists[liveList].head; st != nil && st.watch.leaked && st.watch.first <= h.at; st, n = st.watch.links[liveList].next, n+1 {
		if n == maxWalk {
			return 0, 0, false
		}
		if st != dl && int(st.watch.kind) == k && firstToward(st, toward) <= h.at {
			return 0, 0, false
		}
	}
	return dl.id, dl.bytes[toward], true
}

// firstToward is when (Unix ns) st's first frame in direction d came, for
// a stream half-closed by d's sender: its SYN where that side opened it,
// else that side's first payload (stream.replyAt) or its FIN, the earlier.
func firstToward(st *stream, d Dir) int64 {
	if st.opener.Sends() == d {
		return st.watch.first
	}
	at := st.finAt[d]
	if !st.replyAt.IsZero() {
		at = min(at, st.replyAt.UnixNano())
	}
	return at
}

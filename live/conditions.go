package live

import (
	"math"
	"slices"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/wirekind"
)

// The conditions of the findings, as Evaluate checks them per session.

// candidates appends the findings that hold for the live session s at
// now, and to excused the serials of the streams counted as leaks that
// another finding explains. s.mu is held.
func (s *Session) candidates(cs []candidate, excused *[]uint64, now time.Time, ns int64, cfg *FindingsConfig) []candidate {
	w := &s.w
	es := &w.eng
	vers := s.ver

	// A framing violation halts the session: smux reads no more of it,
	// and nothing else about it means anything.
	cs, halted := s.framingCandidates(cs)
	if halted {
		return cs
	}

	// SESSION_BLOCKED: dir's receiver has held its sender since since, as
	// one of the three signs below shows; the sender's silence meanwhile
	// is not its own (stuck). A reader stops only behind a stream it
	// leaves unread, so streams are open: those seen, or, where a capture
	// joined the session or lost bytes (incomplete), maybe ones it never
	// saw open.
	var stuck [2]bool
	confirmed := false // a direction has been stuck for BlockedAfter
	block := func(d int, since int64, sign BlockedSign) {
		stuck[d] = true
		if ns-since < int64(cfg.BlockedAfter) {
			return
		}
		confirmed = true
		if s.open > 0 || s.incomplete {
			cs = append(cs, s.blockedCandidate(Dir(d), since, ns, sign, cfg))
		}
	}
	// A write in progress at evaluations stillFor or more apart has
	// waited at least since the first. One that had, and returned since,
	// keeps its direction stuck for blockGrace; one seen at a single
	// evaluation is not known to have waited at all, however late the
	// next comes. A write that moved bytes since (WriteProgress: a tap
	// writes a big buffer a chunk at a time) is seen as a new one: what
	// holds is a write that moves nothing, not one that moves slowly.
	for d := range 2 {
		v := w.writes[d].Load()
		if v != es.writeSeen[d] && es.writeHeld[d] && ns-es.writeSince[d] >= int64(blockGrace) {
			es.writeFreed[d] = ns
		}
		if ns-es.writeFreed[d] < int64(blockGrace) {
			stuck[d] = true
		}
		if es.writeHeld[d] = stood(v, true, &es.writeSeen[d], &es.writeSince[d], ns); es.writeHeld[d] {
			block(d, es.writeSince[d], SignWrite)
		}
	}
	// SESSION_BLOCKED as well: the tapped end has not read a direction
	// for stillFor, between evaluations. The silence that follows is its
	// own, not the sender's. Not a direction that ended: its reader read
	// the EOF and is done (smux's recvLoop returns), which is no block;
	// since a tapped conn's EOF half-closes the session rather than ends
	// it, a server whose client left was "blocked: the server stopped
	// reading 2.0 s ago".
	for d := range 2 {
		v := w.reads[d].Load()
		if v == 0 || stuck[d] || s.dirEnded[d] {
			es.readSeen[d], es.readSince[d] = v, 0 // not reported, a write's block already, or ended
			continue
		}
		// No read at all for stillFor: smux's and yamux's readers are
		// back in Read within microseconds of a frame.
		if stood(v, false, &es.readSeen[d], &es.readSince[d], ns) {
			block(d, es.readSince[d], SignRead)
		}
	}
	// SESSION_BLOCKED in a capture: dir's receiver has advertised a zero
	// TCP window since zeroSince (ReceiveWindow). Closed for zeroSettle,
	// it holds the sender, whose silence meanwhile is not its own, nor for
	// blockGrace after the window opened: what it held back comes a round
	// trip later where the capture is taken at the receiver.
	for d := range 2 {
		since := w.zeroSince[d]
		if since == 0 && ns-w.zeroFreed[d] < int64(blockGrace) {
			stuck[d] = true
		}
		if since != 0 && ns-since >= int64(min(zeroSettle, cfg.BlockedAfter)) && !stuck[d] {
			sign := SignWindow
			if w.zeroHeld[d] {
				sign = SignWrite // a tap's recording of its held write
			}
			block(d, since, sign)
		}
	}
	blocked := stuck[0] || stuck[1]
	// A direction stuck for less than BlockedAfter (a write held for a
	// moment, a reader out of Read for an evaluation or two) opens none
	// of the findings its block would explain, but keeps those already
	// open: they hold or resolve by their own conditions until
	// SESSION_BLOCKED says the session is blocked. Else a write held for
	// 100 ms resolved an open LEAK, UNANSWERED, KEEPALIVE or WINDOW_STALL,
	// which opened again an evaluation later.
	keep := func(code FindingCode, d Dir, hasDir bool, stream uint32) bool {
		return !confirmed && es.openCodes&(1<<code) != 0 && s.isOpen(makeKey(code, d, hasDir, stream))
	}

	// KEEPALIVE: a direction silent for longer than its keepalive cadence
	// allows (SilenceLimit). A direction that never sent a NOP borrows the other's
	// cadence; with no NOP either way, keepalive is off and silence is fine.
	// A yamux side whose latest ping has no answer is waiting for it: its
	// keepalive pings again only after the answer, so its silence is the
	// other side's. A direction that ended (its sender's FIN, its tap's
	// EOF) is silent by its sender's choice from then on: only its
	// silence up to its end counts. Bytes a resynchronisation holds
	// unframed end a silence as a frame does (Heard).
	//
	// Or a yamux side whose peer's latest ping has had no answer for
	// PingAnswerLimit, with nothing from it since that ping: hashicorp
	// yamux answers a Ping SYN at once, from its receive loop
	// (handlePing: go s.sendNoWait(ACK)), and the pinger's keepalive ends
	// the session when no answer came within ConnectionWriteTimeout (10 s:
	// Ping's time.After). At the default 30 s interval, 1.5 intervals of
	// silence came after yamux had given up (a server frozen at the
	// session's start: its peer's first ping at 30 s, given up at 40 s,
	// KEEPALIVE due at 45 s).
	var silent, overdue, asked [2]bool
	y := s.yamux()
	for d := range 2 {
		last := w.lastHeard(Dir(d))
		unheard := last == 0
		if unheard {
			last = s.audibleFrom(Dir(d)) // a proxied server: it could send nothing before the dial
		}
		// asked: the other side's latest ping waits for d's answer, and d
		// has sent nothing since it, or nothing at all: a capture that
		// began after d's last byte starts its session at the ping, the
		// first thing it saw.
		asked[d] = y.waiting[1-d] && (unheard || last < y.latestAt[1-d]) && !s.dirEnded[d]
		every, floor, borrowed := w.nopEvery[d], int64(0), false
		if every == 0 {
			every = w.nopEvery[1-d]
			// Each smux side keeps its own KeepAliveInterval: one that has
			// sent no NOP yet may keep a longer one than the other's, and
			// sends its first a whole interval into the session. Its
			// silence is a problem once it outlasts what smux allows by
			// default (BorrowedKeepAlive), whatever the other side keeps.
			if borrowed = every != 0; borrowed && s.proto != Yamux {
				floor = int64(BorrowedKeepAlive)
			}
		}
		// Not while UNANSWERED of a silent side holds for the streams d
		// owes answers to: keepalive has no cadence (keepaliveKnown), and
		// a ping of the application's (yamux Session.Ping) is no
		// keepalive interval; the ping's own wait (PingAnswerLimit) still
		// tells a frozen side.
		firstOnly := false
		if every == 0 && y.waiting[1-d] && !s.silentOpen(CodeUnanswered, Dir(1-d), 0) {
			// The other side's ping has no answer, and its pings show no
			// cadence yet (pingCadence). Where it has pinged twice, the
			// gap between its pings is the cadence it lends: the time
			// from the start to its first ping, longer by a start delay,
			// was lent as "the client's pings came every 801 ms", which
			// no interval was (TestYamuxFrozenPingerWordsReal). Where it
			// has pinged once, the time to that ping is the cadence
			// (hashicorp pings an interval in), or, had it come at once
			// (go-yamux), d's silence is that long; the text says it is
			// the time to its first ping (Evidence.FirstPing).
			if g := w.nopGap[1-d]; g != 0 {
				every, borrowed = g, true
			} else {
				every, borrowed = w.firstPing[1-d], w.firstPing[1-d] != 0
				firstOnly = borrowed
			}
		}
		// A yamux side pings again only once its latest ping's answer
		// has come, and answers a ping only once it has read it: where
		// the other direction is stuck, the answer (or the ping) waits in
		// it, and d's silence is the block's as much as a stuck d's. The
		// tap records a write before it goes out: an answer in the write
		// that waits looks given, and the cadence rule called the pinger
		// frozen beside SESSION_BLOCKED. smux's NOPs wait for nothing.
		held := stuck[d] || s.proto == Yamux && stuck[1-d]
		if every == 0 && !asked[d] || held && !keep(CodeKeepalive, Dir(d), true, 0) || y.waiting[d] {
			continue
		}
		// A yamux side with no cadence of its own sends nothing
		// unprompted but its answers to the other side's pings: its
		// silence is KEEPALIVE's only while one of them waits for its
		// answer. A healthy client, keepalive off, that had answered
		// every ping of a server whose keepalive alone was on was
		// "frozen or gone" 1.25 s after the server froze, on the
		// server's cadence, though nothing had asked it anything since.
		if s.proto == Yamux && w.nopEvery[d] == 0 && !y.waiting[1-d] {
			continue
		}
		limit := cfg.SilentAfter
		if limit <= 0 {
			limit = SilenceLimit(time.Duration(max(every, floor)))
		}
		until := ns
		if s.dirEnded[d] {
			until = min(ns, s.dirEndedAt[d])
		}
		// A yamux side's silence on its cadence counts from the answer
		// to its latest ping, if later than its last frame: hashicorp's
		// keepalive pings again an interval after the answer, and its
		// wait for it is the other side's (asked). A server that
		// answered a 250 ms keepalive's ping 1.5 s late, well inside
		// yamux's ConnectionWriteTimeout, had its client called frozen
		// or gone as the answer came, its wait counted as its silence
		// (TestYamuxLateAnswerPingerNotFrozenReal). Age, since and the
		// text keep the silence as it was.
		from := last
		if s.proto == Yamux {
			from = max(last, y.answeredAt[d])
		}
		// Overdue: a NOP is later than the cadence, or a ping waits for
		// d's answer, and the silence may be KEEPALIVE's in a moment
		// (UNANSWERED waits for it).
		overdue[d] = asked[d] || every != 0 && time.Duration(until-from) >= min(time.Duration(max(every, floor)), limit)
		quiet := time.Duration(ns - last)
		// The pinger that closed its side stopped waiting: yamux's
		// keepalive gave up on the answer (ConnectionWriteTimeout) and
		// closed the session. Its ping's wait ends there.
		pinged, gaveUp := ns, s.sideClosed(Dir(1-d), ns)
		if gaveUp {
			pinged = s.dirEndedAt[1-d]
		}
		if wait := time.Duration(pinged - y.latestAt[1-d]); asked[d] && wait >= PingAnswerLimit {
			silent[d] = true
			cs = append(cs, candidate{code: CodeKeepalive, dir: Dir(d), hasDir: true, since: last,
				ev: Evidence{Age: quiet, Limit: PingAnswerLimit, Every: time.Duration(every), Ping: wait, Borrowed: borrowed, FirstPing: firstOnly, Versions: vers,
					Unheard: unheard, GaveUp: gaveUp}})
		} else if every != 0 && time.Duration(until-from) >= limit {
			silent[d] = true
			cs = append(cs, candidate{code: CodeKeepalive, dir: Dir(d), hasDir: true, since: last,
				ev: Evidence{Age: quiet, Limit: limit, Every: time.Duration(every), Borrowed: borrowed, FirstPing: firstOnly, Versions: vers,
					ownNOP: borrowed && w.nops[d] > 0}})
		}
	}

	// UNANSWERED: streams with no frame back for UnansweredAfter while the
	// other side has sent something since: it is alive, and not accepting.
	// Not while the other side's keepalive is overdue: it may be frozen,
	// which KEEPALIVE is about to say (its silence counts from its last
	// frame, which may come after the stream's SYN, or in v1 after the
	// opener's last frame on it: UNANSWERED opened and resolved a moment
	// later as KEEPALIVE opened). One open stays.
	// In smux v1 a reader sends nothing when it reads, so a stream its
	// opener still writes on (a one-way push, an upload) is not waiting
	// for an answer: only UnansweredAfter after the opener's last write on
	// it is. v2's reader sends a UPD at its first read, yamux's acceptor
	// an ACK: there no frame back means not read, nor accepted.
	// In smux a stream its opener sent no payload on asks nothing (asks):
	// an accepted stream whose server waits in Read for a request looks
	// the same on the wire as one never accepted. 8 clients holding 100
	// SYN-only streams each were a critical UNANSWERED, "since the client
	// last wrote on them", though the client never wrote and the server
	// had accepted them; they are LEAK's, open and idle, as over yamux.
	// And its wait counts from that payload (watch.asked), not the SYN: a
	// v2 stream opened at 0 s whose request came at 30.9 s was, at 31 s,
	// "no answer for 10 s or more (the oldest, stream 3, 31 s ago)". The
	// wait list is in SYN order: the walk goes on while the SYN is old
	// enough, and names the stream that has waited longest.
	//
	// Or, where the other side has sent nothing at all since the oldest's
	// request and muxtop has seen no keepalive cadence on the session
	// (noKeepalive: no NOP's interval nor a yamux side's ping cadence,
	// keepaliveKnown, so KEEPALIVE cannot judge that silence),
	// UNANSWERED of a silent side (Evidence.Silent), once that request has waited silentAfter: the longer of LeakAfter and
	// UnansweredAfter, the time LEAK called such a stream "a side forgot
	// Close" before its silent-side excuse (leakExcuses.unanswers). A
	// slow handler, a stuck or stopped process and a reader that stopped
	// look alike from the wire: the finding says so, not that the side
	// is not accepting them. Without it, a server that stopped with
	// keepalive off (smux KeepAliveDisabled, yamux EnableKeepAlive false)
	// left its clients' requests waiting with no finding at all. Where
	// keepalive is on, the silence is KEEPALIVE's, and this opens
	// nothing. In yamux before any ping, a request made within
	// NOPLateness of the session's start waits NOPLateness more:
	// hashicorp's first ping comes KeepAliveInterval (30 s, LeakAfter's
	// default too) into the session, and such a stream reached the
	// threshold a few milliseconds before the ping that shows keepalive
	// on (as LEAK's graceCut).
	var unanswered [2]bool // an UNANSWERED of streams opened in that direction holds
	cutoff := ns - int64(cfg.UnansweredAfter)
	// Keepalive is on only once it has a cadence (keepaliveKnown): an
	// smux NOP's interval, or a yamux side's ping cadence (pingCadence).
	// One yamux Session.Ping() by the application is no keepalive: it
	// turned this rule off for good; nor are two, which turned it off
	// too, and KEEPALIVE called both sides frozen.
	noKeepalive := !w.keepaliveKnown()
	silentAfter := max(cfg.LeakAfter, cfg.UnansweredAfter)
	keepSilent := func(code FindingCode, d Dir, stream uint32) bool {
		return !confirmed && s.silentOpen(code, d, stream)
	}
	quiet := s.version == 1 && s.proto != Yamux
	if wl := &w.lists[waitList]; wl.head != nil && wl.headAt <= cutoff && (!blocked || !confirmed && es.openCodes&(1<<CodeUnanswered) != 0) {
		var count, finFirst [2]uint64
		var oldest [2]*stream
		n := 0
		for st := wl.head; st != nil && n < maxWalk && st.watch.first <= cutoff; st, n = st.watch.links[waitList].next, n+1 {
			if !s.awaitsAnswer(st, cutoff, quiet, now, cfg) || acceptedSpoke(st, w.acceptedTo, w.lastAt) {
				continue // accepted: its handler's silence, LEAK's (leakExcuses.unanswers)
			}
			es.countUnanswered(st)
			d := st.opener.Sends()
			count[d]++
			if s.proto == Yamux && (st.state == HalfClosedByClient && st.opener == Client || st.state == HalfClosedByServer && st.opener == Server) {
				finFirst[d]++
			}
			if oldest[d] == nil || st.watch.asked < oldest[d].watch.asked {
				oldest[d] = st
			}
		}
		for d := range 2 {
			o := oldest[d]
			// Nor once the other side closed its side of the connection
			// (its FIN, or a tapped conn's EOF): it can send no answer any
			// more. The opener's close is no such ground: an smux client
			// that CloseWrites its conn after its requests reads on (smux
			// ends no session at EOF), and a killed one's FIN looks the
			// same until its RST, which ends the session; so its streams
			// wait on as before it.
			if o == nil || silent[1-d] || s.sideClosed(Dir(1-d), ns) {
				continue
			}
			if w.lastAt[1-d] <= o.watch.asked {
				// The other side has sent nothing since the oldest's
				// request: UNANSWERED of a silent side, or nothing.
				// silentAfter is for opening: one open holds while a
				// counted stream has waited UnansweredAfter (the walk's
				// cutoff) with the side silent since its request. In
				// smux v1 an opener that writes again on its oldest
				// stream restarts that stream's wait: the next oldest,
				// short of LeakAfter, resolved the finding, which opened
				// again a moment later, the server silent throughout.
				due := silentAfter
				if s.proto == Yamux && o.watch.asked-s.audibleFrom(ServerToClient) < int64(NOPLateness) {
					due += NOPLateness
				}
				if s.silentOpen(CodeUnanswered, Dir(d), 0) {
					due = cfg.UnansweredAfter
				}
				// Nor once the opener has closed its side of the
				// connection: with the other side silent, nothing on the
				// wire shows anyone waiting (a killed client's FIN looks
				// like a CloseWrite), and CLOSE_WAIT names the side that
				// holds the session after --closewait-after.
				if !noKeepalive || w.lastHeard(Dir(1-d)) > o.watch.asked || ns-o.watch.asked < int64(due) || s.sideClosed(Dir(d), ns) ||
					blocked && !keepSilent(CodeUnanswered, Dir(d), 0) {
					continue
				}
				unanswered[d] = true
				cs = append(cs, candidate{code: CodeUnanswered, dir: Dir(d), hasDir: true, stream: o.id, since: o.watch.asked,
					ev: Evidence{Count: count[d], Age: time.Duration(ns - o.watch.asked), Limit: silentAfter, Versions: vers, FinFirst: finFirst[d], Silent: true}})
				continue
			}
			if (blocked || overdue[1-d]) && !keep(CodeUnanswered, Dir(d), true, 0) {
				continue
			}
			unanswered[d] = true
			ev := Evidence{Count: count[d], Age: time.Duration(ns - o.watch.asked), Limit: cfg.UnansweredAfter, Versions: vers, FinFirst: finFirst[d]}
			if w.refusedTo[d] > o.serial {
				// The acceptor reset a stream opened after the oldest
				// on its SYN: its accept backlog was full, the oldest
				// waiting in it (watchRefused).
				ev.refused = w.refusedID[d]
			}
			cs = append(cs, candidate{code: CodeUnanswered, dir: Dir(d), hasDir: true, stream: o.id, since: o.watch.asked, ev: ev})
		}
	}

	// NO_REPLY: a request with no answer on a stream reused for request
	// after request (noreply.go), walked only where one waits. Its
	// threshold is kept for the record path (sessionWatch.replyAfter),
	// whether one waits or not.
	w.unansweredAfter = int64(cfg.UnansweredAfter)
	if w.lists[replyList].head != nil {
		cs = s.replyCandidates(cs, ns, cfg, blocked, silent, overdue, keep, noKeepalive, keepSilent)
	}

	// The FIN's receiver shown not reading its direction: stuck, a read
	// or write held (SESSION_BLOCKED's signs), nothing less. UNANSWERED is
	// no such sign: it shows one handler not answering, not the session
	// not reading (smux v1 stops only when unread data fills the
	// session-wide buffer, whose size muxtop does not know; v2 and yamux
	// have per-stream windows). A hung handler on stream A hid the late
	// data of stream B, whose FIN the server's Read had returned as
	// io.EOF (lateCandidates).
	cs = s.lateCandidates(cs, ns, stuck)

	// GO_AWAY: a yamux end refuses new streams; the session goes on.
	// Not the GoAway (protocol error) a receiver's yamux queues as it
	// ends the session on a frame that PROTOCOL names: that finding says
	// it, and the GoAway, which rarely reaches the wire before the close,
	// would be a second critical finding of one failure (through attach
	// under -race it did reach, now and then).
	fa := s.fatalProtocol()
	for _, g := range s.yamux().goAways {
		d := g.By.Sends()
		if slices.ContainsFunc(cs, func(c candidate) bool { return c.code == CodeGoAway && c.dir == d }) {
			continue // the first of each side's
		}
		if fa != nil && g.Code == yamux.GoAwayProtocolError && d == fa.dir.Reverse() && g.At.UnixNano() >= fa.at {
			continue
		}
		cs = append(cs, candidate{code: CodeGoAway, dir: d, hasDir: true, since: g.At.UnixNano(), ev: Evidence{GoAwayCode: g.Code}})
	}

	// CLOSE_WAIT: one side closed its side of the connection (its FIN:
	// a half-close, or a tapped conn's EOF) CloseWaitAfter ago or more,
	// and the other, holding, has neither closed its own nor sent a frame
	// for CloseWaitAfter: its socket sits in TCP CLOSE-WAIT, its session,
	// goroutines and buffers held for a peer that left. smux does not
	// close its conn when its recvLoop reads EOF: a server whose accept
	// loop returns without Close, keepalive off, holds it for ever. A
	// side that sends on after the close uses the half-open session (a
	// half-close protocol): its quiet counts from its latest frame, so
	// one that answers and then forgets Close (or whose handlers send
	// their streams' FINs as their reads fail, and no more) is one, once
	// quiet that long. Not a side the finding of its silence explains: a
	// frozen side (KEEPALIVE) or a held write (SESSION_BLOCKED: a side
	// stuck in a write is sending). The closed direction's own silence is
	// no finding's: KEEPALIVE and SESSION_BLOCKED skip an ended direction.
	// Nor a side whose bytes the capture lost at or after the close, and
	// after its latest frame: what it sent since, its own FIN even, may be
	// among them (a capture that dropped the holder's FIN, its ACK kept,
	// told of a server that closed as one that had not).
	held := -1 // the holding side's direction, where CLOSE_WAIT holds
	if s.dirEnded != [2]bool{} {
		for d := range 2 {
			h := 1 - d // the holding side's direction
			if !s.dirEnded[d] || s.dirEnded[h] || stuck[h] || silent[h] {
				continue
			}
			closed := s.dirEndedAt[d]
			heard := w.lastHeard(Dir(h))
			quiet := max(closed, heard)
			if ns-quiet < int64(cfg.CloseWaitAfter) || s.lostSinceClose(Dir(h)) {
				continue
			}
			held = h
			cs = append(cs, candidate{code: CodeCloseWait, dir: Dir(h), hasDir: true, since: closed,
				ev: Evidence{Count: uint64(s.open), Age: time.Duration(ns - closed), Idle: time.Duration(ns - quiet), Limit: cfg.CloseWaitAfter, Versions: vers, Transport: s.transport()}})
		}
	}

	// WINDOW_STALL: v2 (or yamux) writers held at a full window for
	// StallAfter. Not in a blocked direction: a receiver that reads nothing
	// of the connection opens no window, and SESSION_BLOCKED says so. Nor
	// where the other direction is blocked: the UPDs (yamux: window
	// updates) that would open this one ride it, unread behind the block
	// (an smux v2 echo whose session buffer is full waits for the very UPD
	// its peer sent). Nor while the reader's UPDs show it consuming: it
	// reads, slower than the writer writes (smux v2's writer sends 256 KiB
	// before the first UPD, whatever the reader's MaxStreamBuffer); the
	// stall counts from its latest such UPD.
	if (s.atWindow > 0 || es.openCodes&(1<<CodeWindowStall) != 0) && (s.version == 2 || s.proto == Yamux) {
		var stalls [2]int
		first := len(cs)
		n := 0
		for st := w.lists[liveList].head; st != nil && n < maxWalk; st, n = st.watch.links[liveList].next, n+1 {
			for d := range 2 {
				fl := &st.flow[d]
				// The bytes that filled the window still in the tapped
				// end's write: its writer waits on that write, not on
				// the window, and is held by the window only once they
				// have left, from the latest moment they were seen still
				// in it (settle, Flow.Stalled). A tapped yamux end
				// writes a DATA frame of a whole 16 MiB window in one
				// Write, which an 8 MiB/s path takes 2 s to move: "held
				// by a full 16 MiB window for 2.0 s" while it moved.
				leaving := s.settle(st, Dir(d), now)
				if (stuck[d] || stuck[1-d]) && !keep(CodeWindowStall, Dir(d), true, st.id) {
					continue
				}
				of := s.openStall(Dir(d), st.id)
				if !fl.Stalled(now, cfg.StallAfter) || ns-st.watch.consumedAt[d] < int64(cfg.StallAfter) {
					// A stall holds on where the reader's latest report
					// came to a writer held StallAfter or more, and the
					// writer is held again: the reader reads a little at a
					// time, far slower than the writer writes. A reader at
					// 5 KB/s sent a UPD every 6.4 s, each opening 32 KiB
					// that the writer filled at once: WINDOW_STALL opened
					// StallAfter after each and resolved at the next, five
					// in 48 s, and an alert that waits for a stall to hold
					// (MuxtopWindowStall, for: 5m) never fired. A reader
					// that catches up reads all that was sent, opens the
					// window wider than the writer fills, or reports
					// before StallAfter: resolved then. The writer has
					// half StallAfter to fill the window a report opened
					// (its tap sees the refill a round trip after it).
					if of == nil || st.watch.heldFor[d] < int64(cfg.StallAfter) || st.fin[d] ||
						(fl.FullSince.IsZero() || leaving) && (fl.InFlight() <= 0 || ns-st.watch.consumedAt[d] >= int64(cfg.StallAfter/2)) {
						continue
					}
				}
				since := max(fl.FullSince.UnixNano(), st.watch.consumedAt[d])
				var slow, quiet time.Duration
				var reads uint8
				var readAt int64
				if of != nil && of.Since.UnixNano() < since {
					// The writer held again, since the latest report or its
					// refill: where that is StallAfter or more and three
					// times the hold the report came after, the reader
					// that read is quiet again (Evidence.slowQuiet): a
					// slow one still read "far slower" 61 s after it
					// stopped for good.
					if cur := ns - since; !fl.FullSince.IsZero() && !leaving && cur >= int64(cfg.StallAfter) && cur >= 3*st.watch.heldFor[d] {
						quiet = time.Duration(cur)
					}
					// Held on across the reader's reports: it keeps its start.
					since, slow = of.Since.UnixNano(), time.Duration(max(st.watch.heldFor[d], 1))
					// One report to a writer held StallAfter shows a reader
					// that read again, after a pause or slowly; a second,
					// StallAfter or more after it, a slow one
					// (Evidence.slowReads). Not one sooner: heldFor counts
					// from the writer's FullSince, and smux v2's writer
					// starts with a 256 KiB window, so a reader whose
					// MaxStreamBuffer is smaller sends UPDs that leave it
					// full, each to a writer held since before a pause: a
					// reader that paused 5 s, then read at 12 MB/s, sent
					// two 5 ms apart, and was said to read far slower.
					reads, readAt = of.Evidence.slowReads, of.Evidence.slowAt
					if c := st.watch.consumedAt[d]; c != readAt && st.watch.heldFor[d] >= int64(cfg.StallAfter) {
						if reads == 0 || c-readAt >= int64(cfg.StallAfter) {
							reads = min(reads+1, 2)
						}
						readAt = c
					}
				}
				if stalls[d]++; stalls[d] > maxStalls {
					continue
				}
				cs = append(cs, candidate{code: CodeWindowStall, dir: Dir(d), hasDir: true, stream: st.id,
					since: since,
					ev: Evidence{Bytes: uint64(max(fl.InFlight(), 0)), Window: uint64(fl.Window()), Age: time.Duration(ns - since), Limit: cfg.StallAfter, Slow: slow, Versions: vers,
						slowReads: reads, slowAt: readAt, slowQuiet: quiet, readerFIN: st.fin[1-d]}})
			}
		}
		for i := first; i < len(cs); i++ {
			cs[i].ev.Count = uint64(stalls[cs[i].dir])
		}
	}

	// LEAK: live streams older than LeakAfter, by the side that never sent
	// FIN, counted as they cross the cutoff (countLeaks), that have
	// carried no frame for LeakAfter either: a stream's leak clock starts
	// at its latest frame (stream.leakClock), and one in use (a
	// subscription, a tunnel, a long transfer, one answered late after
	// UNANSWERED's wait) is none (leakExcuses.active), nor, in smux v1, a
	// half-closed one whose reader may still drain what it was sent
	// (Session.drainedAt): Idle stays its time since its latest frame.
	// A blocked session cannot close its streams: SESSION_BLOCKED says
	// why. Nor can a stalled stream's writer finish (WINDOW_STALL), nor a
	// stream nobody accepted be served (UNANSWERED), nor a frozen side
	// close its streams (KEEPALIVE): those say why, and no side forgot
	// Close.
	if w.lists[liveList].head == nil {
		return cs
	}
	leakCut := ns - int64(cfg.LeakAfter)
	oldest := *s.countLeaks(leakCut, cfg.LeakAfter)
	w.leakInUse = [numLeakKinds]uint64{} // the walk below, if any, counts them
	if blocked && (confirmed || es.openCodes&(1<<CodeLeak) == 0) {
		return cs
	}
	var explained [numLeakKinds]uint64
	// A side that went silent explains the streams whose leak deadline
	// came after its last frame, while its silence lasts: KEEPALIVE says
	// it froze, or will unless it speaks (then they are leaks, from their
	// leak clock). silentAt is, by side, such a last frame: of a side whose
	// silence KEEPALIVE counts (a cadence is known, since keepaliveAt: a
	// stream that was a LEAK before stays one), and has not ended, unless
	// its silence passed the limit before it did. A side explains only
	// the streams it has not closed its half of (leakExcuses.silenced).
	// A side a ping waits on (asked) is silent from its last frame,
	// whenever that ping came: at yamux's defaults a stream opened as the
	// session began reaches a 30 s --leak-after as its first ping goes out,
	// some milliseconds before or after it, and LEAK said a side forgot
	// Close for the streams of a frozen server (a LEAK opened that moment
	// before the ping resolves as it comes).
	silentAt := [2]int64{math.MaxInt64, math.MaxInt64}
	if w.suspects() && (s.keepaliveAt != 0 || asked != [2]bool{}) { // keepaliveAt's line only for a session with leaks
		for d := range 2 {
			if s.dirEnded[d] && !silent[d] {
				continue
			}
			last := w.lastHeard(Dir(d))
			if last == 0 {
				last = s.audibleFrom(Dir(d))
			}
			switch {
			case asked[d] && (silent[d] || es.openCodes&(1<<CodeLeak) == 0):
				// A ping in flight keeps a LEAK from opening; one open
				// holds until the ping has waited PingAnswerLimit
				// (KEEPALIVE): a healthy side answers a round trip later,
				// and an evaluation inside that round trip resolved the
				// LEAK, "another condition explains them", to open it
				// again 100 ms later.
				silentAt[d] = last
			case s.keepaliveAt != 0:
				silentAt[d] = max(last, s.keepaliveAt)
			}
		}
	}
	// The walk only where a leak may have an excuse: a flow at its window,
	// a stream waiting for its answer since before the leak cutoff (the
	// wait list is in SYN order), one that carried a frame since the
	// cutoff (leakActive), one whose deadline came after a side went
	// silent. A healthy session's requests in
	// flight are young: walking its leaks at every evaluation for them
	// took 10 000 leaking sessions from 5 to 28 ms.
	//
	// Until a yamux session's first ping, a stream opened within
	// NOPLateness of its start whose deadline came less than NOPLateness
	// ago, after a side's last frame, waits that long for the ping that
	// would say whether the side is frozen: hashicorp yamux's first ping
	// comes KeepAliveInterval (30 s by default, LEAK's default too) into
	// the session, from a timer its keepalive goroutine starts, and such
	// a stream reaches its deadline a few milliseconds before it (the
	// demo's keepalive fault: 7 ms). LEAK opened in those milliseconds,
	// "a side forgot Close", for a frozen server's stream. Only then is
	// the oldest live stream read below: its line is cold, and reading it
	// for every leaking session took BenchmarkEvaluate/leaking from 5.3
	// to 8.3 ms.
	graceCut := int64(math.MaxInt64)
	if s.proto == Yamux && s.yamux().lastPing.IsZero() {
		graceCut = ns - int64(NOPLateness)
	}
	var lastAt [2]int64
	for d := range 2 {
		if lastAt[d] = w.lastHeard(Dir(d)); lastAt[d] == 0 {
			lastAt[d] = s.audibleFrom(Dir(d))
		}
	}
	// An smux v1 reader that may still read what it was sent (drainedAt)
	// holds a stream back, unless a LEAK of its kind is open (the side
	// has been seen to forget Close: explainedLeaks): drainUntil is the
	// latest such time, of the kinds with no LEAK open.
	var drainUntil int64
	for k, at := range w.drainUntil[:heldKind] {
		if at > ns && (es.openCodes&(1<<CodeLeak) == 0 || !s.isOpen(leakKey(k))) {
			drainUntil = max(drainUntil, at)
		}
	}
	// A side whose silence may excuse a stream of a kind whose LEAK is
	// open: KEEPALIVE's, or overdue by its cadence (a ping waiting on it
	// is not enough: a LEAK open holds while the ping waits).
	var late [2]bool
	for d := range 2 {
		late[d] = silent[d] || overdue[d] && !asked[d]
	}
	rl := &w.lists[replyList] // its head is the oldest request waiting: its callAt, not headAt
	if wl := &w.lists[waitList]; s.atWindow > 0 || es.openCodes&(1<<CodeWindowStall) != 0 || wl.head != nil && wl.headAt <= leakCut || w.leakActive > leakCut ||
		drainUntil > ns || // an smux v1 reader may still drain what it was sent (drainedAt)
		rl.head != nil && rl.head.watch.callAt <= leakCut ||
		graceCut != math.MaxInt64 && w.suspects() && max(w.lists[liveList].head.watch.first, w.leakActive)+int64(cfg.LeakAfter) > graceCut ||
		silentAt != [2]int64{math.MaxInt64, math.MaxInt64} && max(max(s.leakNewest, w.leakActive)+int64(cfg.LeakAfter), drainUntil) > min(silentAt[0], silentAt[1]) {
		explained = s.explainedLeaks(&oldest, now, cfg, leakExcuses{unanswered: unanswered, silent: silent, cutoff: cutoff, quiet: quiet, noKeepalive: noKeepalive, acceptedTo: w.acceptedTo,
			closed:    [2]bool{s.sideClosed(ClientToServer, ns), s.sideClosed(ServerToClient, ns)},
			leakAfter: cfg.LeakAfter, leakCut: leakCut, silentAt: silentAt, late: late, graceCut: graceCut, lastAt: lastAt, start: s.audibleFrom(ServerToClient), excused: excused})
	}
	for k, o := range oldest[:heldKind] { // a setup stream held open is no LEAK's
		if o.st == nil || w.leaked[k] <= explained[k] {
			continue
		}
		c := candidate{code: CodeLeak, stream: o.id, since: o.first,
			ev: Evidence{Count: w.leaked[k] - explained[k], Age: time.Duration(ns - o.first), Idle: time.Duration(ns - o.last), Limit: cfg.LeakAfter, Versions: vers}}
		switch k {
		case 1: // half-closed by the client: the server never sent FIN
			c.dir, c.hasDir = ServerToClient, true
		case 2:
			c.dir, c.hasDir = ClientToServer, true
		default:
			c.dir = o.opener.Sends() // not in the key: the opener, for the text
		}
		// In smux v1, a stream that side left unread may hold its session
		// buffer full: the words say so (holFor).
		if c.hasDir && s.version == 1 {
			c.ev.holSid, c.ev.holBytes, _ = s.holFor(k, c.dir)
		}
		// The side that never sent FIN closed its side of the connection
		// (dirEnded): it can never send it (its session may still be
		// there, reading: a CloseWrite). The streams are the other
		// side's, which holds a session whose peer left: no LEAK "the
		// client never closes its streams" for a client that exited
		// while the server's handler read EOF and closed its stream.
		// An ended session's streams are no LEAK either.
		if c.hasDir && s.sideClosed(c.dir, ns) {
			continue
		}
		// Nor, once CLOSE_WAIT holds, the streams the holding side keeps
		// (its FIN missing, or either side's): they are the session it
		// holds for a peer that left, which CLOSE_WAIT says to close. A
		// LEAK open before hands over to it.
		if held >= 0 && (!c.hasDir || c.dir == Dir(held)) {
			continue
		}
		if blocked && !keep(c.code, c.dir, c.hasDir, 0) {
			continue
		}
		cs = append(cs, c)
	}
	return cs
}

// lateCounts returns base with direction d's entries set to the late
// counts now: frames, bytes, streams, unseen frames, frames after both
// FINs (engineSession.lateBase).
func (w *sessionWatch) lateCounts(d int, base [5][2]uint64) [5][2]uint64 {
	base[0][d], base[1][d], base[2][d], base[3][d], base[4][d] = w.late[d], w.lateBytes[d], w.lateStreams[d], w.lateUnseen[d], w.lateGone[d]
	// What counted before the base counts in no finding any more: a UPD
	// showing it read revises nothing.
	w.lateHeld = slices.DeleteFunc(w.lateHeld, func(h heldLate) bool { return h.dir == Dir(d) })
	w.lateRevised[d] = 0
	return base
}

// lateCandidates appends DATA_AFTER_CLOSE's candidates at ns. unread
// says, per direction, that its receiver is shown not reading it
// (SESSION_BLOCKED's signs: a read or write held in that direction): a
// FIN sent that way may lie unread (smux v1: one stream nobody reads
// fills the session's buffer and its reader stops), and its
// receiver's writes after it, as far as it knows, come before it. Late
// data to such a FIN is no handler's fault: it counts for nothing, and an
// open finding of it resolves, saying why (resolution). s.mu is held.
func (s *Session) lateCandidates(cs []candidate, ns int64, unread [2]bool) []candidate {
	w := &s.w
	es := &w.eng
	vers := s.ver
	// DATA_AFTER_CLOSE: PSH to a stream whose receiver had sent FIN, the
	// latest within AfterCloseWindow. A finding counts the frames from
	// the evaluation before it opened: lateBase moves while none is open.
	// In v2 late data counts once lateGrace has passed without a UPD that
	// shows its receiver reading it.
	if len(w.pendingLate) > 0 {
		s.countPendingLate(ns, false)
	}
	for d := range 2 {
		if es.lateUnread[d] = unread[1-d]; unread[1-d] {
			es.lateBase = w.lateCounts(d, es.lateBase)
			continue // the FIN may be unread
		}
		if w.late[d] == es.lateBase[0][d] && es.openCodes&(1<<CodeDataAfterClose) == 0 {
			continue // nothing new, nothing open
		}
		open := s.openFinding(CodeDataAfterClose, Dir(d))
		// Late data that waits lateGrace may count yet: an open finding
		// waits for what came while it was fresh, or it resolved and
		// re-opened lateGrace later. Not for what came after: late data
		// of streams read after their FIN, always some pending on a busy
		// session, held it open for ever.
		fresh := ns-w.lateAt[d] < int64(AfterCloseWindow) ||
			open != nil && slices.ContainsFunc(w.pendingLate, func(p pendingLate) bool {
				return p.dir == Dir(d) && p.first-w.lateAt[d] < int64(AfterCloseWindow)
			})
		// Every frame it counted was shown read since by its receiver's
		// UPD (reviseLate): it resolves, saying so.
		es.lateReadBack[d] = open != nil && w.late[d] == es.lateBase[0][d] && w.lateRevised[d] > 0
		if !fresh || open == nil && w.late[d] == es.lateBase[0][d] || es.lateReadBack[d] {
			// Nothing to open, or the open finding resolves: the next
			// finding counts from here.
			es.lateBase = w.lateCounts(d, es.lateBase)
			continue
		}
		c := candidate{code: CodeDataAfterClose, dir: Dir(d), hasDir: true, stream: w.lateFirstSID[d], since: w.lateFirstAt[d],
			ev: Evidence{Count: w.late[d] - es.lateBase[0][d], Bytes: w.lateBytes[d] - es.lateBase[1][d],
				Streams: w.lateStreams[d] - es.lateBase[2][d], Unseen: w.lateUnseen[d] - es.lateBase[3][d],
				AfterBoth: w.lateGone[d] - es.lateBase[4][d], Limit: AfterCloseWindow, Versions: vers}}
		if open != nil {
			c.stream, c.since = open.Stream, open.Since.UnixNano() // it keeps its first stream
		}
		cs = append(cs, c)
	}
	return cs
}

// awaitsAnswer says whether st, on the wait list (no frame back yet),
// counts for UNANSWERED at cutoff: asked by then (asks: in smux, its
// opener's first payload, the request, came by then), and, where a reader
// sends nothing when it reads (quiet: smux v1), its opener's last write on
// it too (one it still writes on, a push or an upload, waits for nothing
// yet; its FIN gives up, and is no write: lastWrite); and its opener's writer is not held at a full window (the other
// side accepted it and does not read: WINDOW_STALL says so, or the window
// is still filling). A writer that reached the window only after the
// stream waited UnansweredAfter since it asked (a slow upload) leaves it UNANSWERED's
// until WINDOW_STALL holds: UNANSWERED resolved at the window, "the
// streams got an answer", StallAfter before WINDOW_STALL opened.
// A writer held at the window as its direction ended (its side closed
// its conn, or shut its write side) still counts as held
// (stream.heldAtEnd): it was held up to that end, and its opener writes
// on it no more. A client SIGKILLed with its smux v2
// writers held (audit1's stall2.pcap) had DirectionEnded clear the
// holds, and its streams, which the server had accepted and not read,
// opened a critical UNANSWERED, "the server is not accepting them",
// 40 ms after its FIN. s.mu is held.
func (s *Session) awaitsAnswer(st *stream, cutoff int64, quiet bool, now time.Time, cfg *FindingsConfig) bool {
	d := st.opener.Sends()
	fl := &st.flow[d]
	if !st.watch.listed[waitList] || !asks(st) || st.watch.asked > cutoff || quiet && st.lastWrite() > cutoff {
		return false
	}
	if fl.FullSince.IsZero() {
		return !st.heldAtEnd[d]
	}
	// Whether the bytes that filled the window have left, as of now, as
	// WINDOW_STALL's walk settles it later in the same evaluation (settle
	// is the same at the same now): without it, the flow was read as
	// the previous evaluation left it, the bytes still leaving and the
	// writer not held, and UNANSWERED held on beside the WINDOW_STALL it
	// hands over to (ci85: "+UNANSWERED +WINDOW_STALL +WINDOW_STALL").
	s.settle(st, d, now)
	return fl.FullSince.UnixNano() > st.watch.asked+int64(cfg.UnansweredAfter) && !fl.Stalled(now, cfg.StallAfter)
}

// asks says whether st's opener has asked the other side anything an
// answer is owed for (watch.asked): in smux, sent payload on it (a SYN
// alone, which smux's acceptor never acknowledges, asks nothing), or lost
// bytes of its direction before any, which may hold its request (a stream
// whose 40-byte request a capture lost, and whose server only sent NOPs
// after, was counted by nothing: no payload, and the loss takes it off
// LEAK); in yamux, whose acceptor ACKs, opened it.
func asks(st *stream) bool { return st.watch.asked != 0 }

// countUnanswered notes that the evaluation in progress (es.seen) counts
// st for UNANSWERED, and whether the one before did too.
func (es *engineSession) countUnanswered(st *stream) {
	gen := uint32(es.seen)
	st.unansweredRun = st.unanswered == gen-1
	st.unanswered = gen
}

// countedBefore says whether the evaluation before the one in progress
// counted st for UNANSWERED: an UNANSWERED open since then counted it.
func (es *engineSession) countedBefore(st *stream) bool {
	gen := uint32(es.seen)
	return st.unanswered == gen-1 || st.unanswered == gen && st.unansweredRun
}

// explainedLeaks counts, by leakKind, the streams counted as leaks that
// are no leaks or another finding explains: they carried a frame within
// LeakAfter (leakExcuses.active) or, in smux v1, their reader may still
// be reading what it was sent (Session.drainedAt), a full window holds them
// (leakExcuses.holds), they are UNANSWERED's (leakExcuses.unanswers) or
// NO_REPLY's (leakExcuses.noReply), or a silent side explains them
// (leakExcuses.silenced; once a LEAK of their kind is open, only a side
// that is late). It moves
// each kind's oldest leak in oldest past them to its oldest stream that
// nothing explains, if any. Where it can, it looks only at the streams
// an excuse may apply to (recentLeaks, explainRecent). s.mu is held.
func (s *Session) explainedLeaks(oldest *[numLeakKinds]leakRef, now time.Time, cfg *FindingsConfig, ex leakExcuses) (explained [numLeakKinds]uint64) {
	var free [numLeakKinds]bool // the kind's oldest stream nothing explains is in oldest
	n := 0
	var active int64                 // the latest leak clock among them
	var draining [numLeakKinds]int64 // and drainedAt, by kind
	ns := now.UnixNano()
	// A LEAK open of a kind: its side has been seen to forget Close, and
	// a stream of that kind held back only as its v1 reader may still
	// read what it was sent is counted, as before the drain rule, not
	// taken for a reason the LEAK stopped holding (it resolved, "in use
	// again", and opened again as a new finding once the drain passed).
	var leakOpen [numLeakKinds]bool
	if s.w.eng.openCodes&(1<<CodeLeak) != 0 {
		for k := range leakOpen[:heldKind] {
			leakOpen[k] = s.isOpen(leakKey(k))
		}
	}
	// Most evaluations that walk need only the streams an excuse can
	// apply to (recentLeaks): the same counts, from those.
	floor := recentFloor(ns, cfg, &ex)
	if sts := s.recentLeaks(floor, &ex); sts != nil {
		return s.explainRecent(sts, oldest, now, cfg, &ex, &leakOpen)
	}
	s.w.dropRecent()
	full := false // recent could not hold them all
	st := s.w.lists[liveList].head
	for ; st != nil && st.watch.leaked && n < maxWalk; st, n = st.watch.links[liveList].next, n+1 {
		k := st.watch.kind
		clock := st.leakClock()
		active = max(active, clock)
		drained := s.drainedAt(st)
		draining[k] = max(draining[k], drained)
		if !full && recentKey(clock, drained, ex.leakAfter) > floor {
			full = !s.w.addRecent(st)
		}
		switch excused, inUse := s.excuse(st, clock, drained, now, cfg, &ex, leakOpen[k]); {
		case excused:
			explained[k]++
			if inUse {
				s.w.leakInUse[k]++
			}
			*ex.excused = append(*ex.excused, st.serial) // not among LEAK's streams: no leak mark (leakmarks.go)
		case !free[k]:
			free[k] = true
			if oldest[k].st != st {
				oldest[k] = refOf(st)
			}
		}
	}
	if st == nil || !st.watch.leaked {
		// Every leak walked: leakActive is made exact, so that the walk
		// is not repeated once every counted stream has gone idle
		// LeakAfter.
		s.w.leakActive, s.w.drainUntil = active, draining
		// And the streams an excuse may apply to are known (recent).
		s.w.recentFloor, s.w.recentOK = floor, !full
	}
	return explained
}

// excuse says whether st, counted as a leak, is no leak, or one another
// finding explains (explainedLeaks), and whether for being in use
// (leakExcuses.active). clock is its leak clock, drained its drainedAt,
// leakOpen whether a LEAK of its kind is open. s.mu is held.
func (s *Session) excuse(st *stream, clock, drained int64, now time.Time, cfg *FindingsConfig, ex *leakExcuses, leakOpen bool) (excused, inUse bool) {
	switch {
	case ex.active(clock): // in use
		return true, true
	case drained > now.UnixNano() && !leakOpen: // its v1 reader may still read what it was sent
		return true, false
	case ex.holds(st, 0, now, cfg.StallAfter) || ex.holds(st, 1, now, cfg.StallAfter),
		ex.unanswers(st, s.w.lastAt, cfg.UnansweredAfter), ex.noReply(st, s.w.lastAt), ex.silenced(st, drainDeadline(clock+int64(ex.leakAfter), drained, leakOpen), leakOpen):
		return true, false
	}
	return false, false
}

// leakExcuses is what explainedLeaks needs of an evaluation's UNANSWERED:
// the directions it holds for (unanswered), the silent ones, its cutoff,
// and whether a reader sends nothing when it reads (quiet: smux v1); and
// LEAK's threshold and cutoff.
type leakExcuses struct {
	unanswered, silent [2]bool
	cutoff             int64
	quiet              bool
	// acceptedTo is sessionWatch's: a stream opened before the latest
	// one its acceptor sent a frame on was accepted (acceptedSpoke).
	acceptedTo [2]uint64
	// noKeepalive: no keepalive cadence (keepaliveKnown: an smux NOP's
	// interval, a yamux side's ping cadence) seen on the session either
	// way; closed: by direction, its sender has closed its side of the
	// connection (noReply).
	noKeepalive bool
	closed      [2]bool
	leakAfter   time.Duration
	leakCut     int64
	// silentAt is, by direction, the last frame (Unix ns) of a side whose
	// silence KEEPALIVE counts; MaxInt64 for none.
	silentAt [2]int64
	// late is, by direction, whether its side's silence is KEEPALIVE's
	// (silent) or its keepalive overdue by its cadence, a ping's wait
	// aside: what a side must be for its silence to explain a stream of
	// a kind whose LEAK is open (silenced).
	late [2]bool
	// graceCut: in a yamux session before its first ping, the deadline
	// of a stream opened as the session began (within NOPLateness of
	// start) after it (NOPLateness ago), and after a side's last frame
	// (lastAt, by direction), waits for the ping that would show that
	// side frozen; MaxInt64 otherwise.
	graceCut int64
	lastAt   [2]int64
	start    int64 // when the server could first send (Session.audibleFrom), Unix ns
	// excused collects the serials of the streams explained, in SYN order.
	excused *[]uint64
}

// drainDeadline is a counted stream's leak deadline: its leak clock
// plus LeakAfter, or when its smux v1 reader may have read what it was
// sent (drained) if later, unless a LEAK of its kind is open (open).
func drainDeadline(deadline, drained int64, open bool) int64 {
	if open {
		return deadline
	}
	return max(deadline, drained)
}

// leakKey is the key of the LEAK of leakKind k (0: no FIN from either
// side; 1: the server's missing; 2: the client's), as candidates makes
// it.
func leakKey(k int) findingKey {
	switch k {
	case 1:
		return makeKey(CodeLeak, ServerToClient, true, 0)
	case 2:
		return makeKey(CodeLeak, ClientToServer, true, 0)
	}
	return makeKey(CodeLeak, 0, false, 0)
}

// silenced says whether st, counted as a leak, is one a silent side
// explains: its leak deadline (its leak clock, its latest frame, plus
// LeakAfter, or in smux v1 when its reader has drained what it was sent
// if later: drainedAt) came after that side's last frame. KEEPALIVE says the side
// froze, or is about to: a stream opened before a peer froze (SIGSTOP)
// aged past LeakAfter during the freeze, and LEAK said a side forgot
// Close beside it. Its deadline came after the last frame, not after
// KEEPALIVE's cutoff, so that it does not open and resolve as KEEPALIVE
// opens; once the side speaks again, its last frame is past the deadline,
// and the stream is a leak from its leak clock, as before.
//
// Once a LEAK of the stream's kind is open (leakOpen), only while the
// side is late (leakExcuses.late: KEEPALIVE holds for it, or its
// keepalive is overdue by its cadence): that side has been seen to
// forget Close, and a side that answers and goes quiet on a quiet
// connection is no frozen one until its next keepalive is late. The last
// stream a leaking smux server answered waited for that keepalive (up to
// 10 s) to be counted: the count, the header and the LEAK's update said 9
// while 10 streams had been idle past --leak-after.
func (ex *leakExcuses) silenced(st *stream, deadline int64, leakOpen bool) bool {
	// Only a side that has not sent its FIN: a server that closed its
	// half and froze explains no client that never closed its own.
	from, last := min(ex.silentAt[0], ex.silentAt[1]), min(ex.lastAt[0], ex.lastAt[1])
	late := ex.late[0] || ex.late[1]
	switch st.watch.kind {
	case 1: // half-closed by the client: the server owes its FIN
		from, last, late = ex.silentAt[ServerToClient], ex.lastAt[ServerToClient], ex.late[ServerToClient]
	case 2:
		from, last, late = ex.silentAt[ClientToServer], ex.lastAt[ClientToServer], ex.late[ClientToServer]
	}
	if leakOpen && !late {
		return false
	}
	return deadline > from || deadline > ex.graceCut && deadline > last && st.watch.first-ex.start < int64(NOPLateness)
}

// holds says whether st, counted as a leak, is one a full window
// explains in direction d: its writer has been held there for
// stallAfter (Flow.Stalled), or since before st grew older than
// LeakAfter, or with no frame back at all (UNANSWERED's until then):
// WINDOW_STALL, which counts from the hold, is about to say so.
// A writer that reached the window 1.5 s after its SYN crossed a 2 s
// LEAK cutoff before a 1 s WINDOW_STALL's: for half a second LEAK said a
// side forgot Close, then resolved as WINDOW_STALL opened.
//
// Nor one whose reader reads a little at a time: its latest report came
// to a writer held stallAfter or more, and the writer is at the window
// again, or has half stallAfter to be (WINDOW_STALL holds on across such
// reports). A 5 KB/s reader's stream, older than LeakAfter, was a LEAK,
// "a side forgot Close", for the 2 s after each refill.
func (ex *leakExcuses) holds(st *stream, d int, now time.Time, stallAfter time.Duration) bool {
	fl := &st.flow[d]
	slow := st.watch.heldFor[d] >= int64(stallAfter)
	return fl.Stalled(now, stallAfter) ||
		!fl.FullSince.IsZero() && (fl.FullSince.UnixNano() <= st.watch.first+int64(ex.leakAfter) || st.watch.listed[waitList] || slow) ||
		slow && fl.InFlight() > 0 && now.UnixNano()-st.watch.consumedAt[d] < int64(stallAfter/2)
}

// active says whether a stream, counted as a leak (live longer than
// leakAfter), carried a frame, either direction's, less than leakAfter
// ago: it is in use, and no leak. A subscription written every second,
// a tunnel, a transfer that takes longer than leakAfter were each a
// LEAK, "a side forgot Close", and MuxtopStreamLeak fired for ever for
// a service with long-lived streams. A stream answered late (a backlog
// drained, which UNANSWERED said or excused it for) is one: it counts
// from its answer, or its latest frame since.
// clock is st's leak clock (stream.leakClock).
func (ex *leakExcuses) active(clock int64) bool { return clock > ex.leakCut }

// unanswers says whether st, counted as a leak, is one UNANSWERED explains:
// no frame back and its opener's writer not at a full window (one that
// is, holds excuses); where
// a reader sends nothing when it reads, no push (its opener wrote on it
// only within unansweredAfter of opening it, or nothing since cutoff);
// and UNANSWERED holds for its opener's direction, or is about to: the
// other side, not silent, has sent something since it opened. That is
// awaitsAnswer without the wait. A request written just after its SYN
// waits from the request, so with --leak-after no longer than
// --unanswered-after it crossed LEAK's cutoff first, and was a LEAK, "a
// side forgot Close", for an evaluation before UNANSWERED counted it (CI
// saw it in a capture of the backlog fault, whose SYNs and requests came
// apart). lastAt is the session's latest frame of each direction. Not
// one known accepted, its acceptor alive (acceptedSpoke): its acceptor
// sent a frame on a stream opened after it, and its silence is its
// handler's, a LEAK with the words of a stream that got no byte back.
//
// Nor one whose other side has sent nothing on the session since it was
// asked: muxtop has seen nothing of that side since the request, and a
// slow handler, a stuck process, a reader that stopped (smux's recvLoop
// returns at a frame of the other version) send nothing just as a
// forgotten Close does. LEAK said "the server never closes its streams
// … call Close()" of a yamux server that answered half-closed requests
// 4 s late, for the one stream whose SYN came 0.5 ms after the server's
// latest frame (its twins, a moment older, were UNANSWERED's about to
// be), and of a v1 server that had refused the client's v2 frames. Once
// that side speaks with the stream still waiting, UNANSWERED's wait
// holds it; should that side stay silent, KEEPALIVE's does, where
// keepalive is on.
func (ex *leakExcuses) unanswers(st *stream, lastAt [2]int64, unansweredAfter time.Duration) bool {
	d := st.opener.Sends()
	if !st.watch.listed[waitList] || !st.flow[d].FullSince.IsZero() || st.heldAtEnd[d] || !asks(st) {
		return false // held (or was, as its direction ended), or asks nothing (smux: no request yet): LEAK's
	}
	if last := st.lastWrite(); ex.quiet && last > ex.cutoff && last-st.watch.asked > int64(unansweredAfter) {
		return false // a push
	}
	if acceptedSpoke(st, ex.acceptedTo, lastAt) {
		return false // accepted, its acceptor alive: its handler's silence
	}
	return ex.unanswered[d] || lastAt[1-d] <= st.watch.asked || !ex.silent[1-d]
}

// sideClosed reports whether the sender of direction d had closed its
// side of the connection (its FIN, or a tapped conn's EOF) by ns: it
// writes no more. Its session may still be there, reading (an smux
// CloseWrite, a TLS close_notify alone). s.mu is held.
func (s *Session) sideClosed(d Dir, ns int64) bool {
	return s.dirEnded[d] && s.dirEndedAt[d] <= ns
}

// lostSinceClose reports whether the capture lost bytes of direction h,
// the side that holds a session its peer closed (CLOSE_WAIT), at or after
// that close and after h's latest frame: what h sent since, its own FIN
// even, may be among them. s.mu is held.
func (s *Session) lostSinceClose(h Dir) bool {
	return s.lostAt[h] >= s.dirEndedAt[h.Reverse()] && s.lostAt[h] > s.w.lastHeard(h)
}

// noReply says whether st, counted as a leak, is one NO_REPLY explains:
// its opener's request waits for its answer after earlier ones were
// answered (the reply list), its writer not at a full window (one that
// is, holds excuses), and the acceptor, not silent, has sent something
// on the session since: the stream is idle because a handler has not
// answered, not because a side forgot Close. NO_REPLY holds for it, or
// will once its wait passes its threshold (10 times a slow answer may
// be longer than LeakAfter). Or the acceptor has sent nothing since,
// and no keepalive was seen on the session (noKeepalive): NO_REPLY of a
// silent side holds, or will (Evidence.Silent); a stuck or stopped
// acceptor and a slow handler look the same, and a forgotten Close no
// likelier than either (with keepalive on, KEEPALIVE's silence explains
// it: silenced). Not where the requester has closed its side of the
// connection, which that NO_REPLY does not outlast. lastAt is the
// session's latest frame of each direction.
func (ex *leakExcuses) noReply(st *stream, lastAt [2]int64) bool {
	d := st.opener.Sends()
	return st.watch.listed[replyList] && st.flow[d].FullSince.IsZero() && !ex.silent[1-d] &&
		(lastAt[1-d] > st.watch.callAt || ex.noKeepalive && !ex.closed[d])
}

// leakKind groups a live stream by which side never sent FIN: 0 neither
// sent one, 1 the server did not (half-closed by the client), 2 the client
// did not.
func leakKind(st State) int {
	switch st {
	case HalfClosedByClient:
		return 1
	case HalfClosedByServer:
		return 2
	}
	return 0
}

// openStall returns s's open WINDOW_STALL of stream sid in dir, or nil.
// s.mu is held.
func (s *Session) openStall(dir Dir, sid uint32) *Finding {
	if s.w.eng.openCodes&(1<<CodeWindowStall) == 0 {
		return nil
	}
	for _, f := range s.w.eng.open {
		if f.Code == CodeWindowStall && f.Dir == dir && f.Stream == sid {
			return f
		}
	}
	return nil
}

// isOpen says whether s has an open finding of key k. s.mu is held.
func (s *Session) isOpen(k findingKey) bool {
	return slices.ContainsFunc(s.w.eng.open, func(f *Finding) bool { return f.key() == k })
}

// silentOpen says whether code's finding of a silent side (Evidence.Silent)
// is open for d (and stream, NO_REPLY's). s.mu is held.
func (s *Session) silentOpen(code FindingCode, d Dir, stream uint32) bool {
	return s.w.eng.openCodes&(1<<code) != 0 && s.isOpen(silentKey(code, d, stream))
}

// unansweredOf says whether cs holds an UNANSWERED of streams opened in
// d, of a silent side (Evidence.Silent) or not, as silent says.
func unansweredOf(cs []candidate, d Dir, silent bool) bool {
	return slices.ContainsFunc(cs, func(c candidate) bool { return c.code == CodeUnanswered && c.dir == d && c.ev.Silent == silent })
}

// openFinding returns s's open finding of code in dir, or nil. s.mu is held.
func (s *Session) openFinding(code FindingCode, dir Dir) *Finding {
	if s.w.eng.openCodes&(1<<code) == 0 {
		return nil
	}
	for _, f := range s.w.eng.open {
		if f.Code == code && f.Dir == dir {
			return f
		}
	}
	return nil
}

// framingCandidates appends the findings of s's framing violations
// (VERSION_MISMATCH, PROTOCOL) and reports whether there is one: it halts
// the session. A version mismatch shows both ways, as each end refuses
// the other: one finding, the first. So does a connection whose two ends
// speak one other protocol to each other (an HTTP request answered by a
// response, TLS both ways): it carries no mux, which one finding, the
// first, says. s.mu is held.
func (s *Session) framingCandidates(cs []candidate) ([]candidate, bool) {
	vers := s.ver
	halted := false
	for d, f := range s.framing {
		if f == nil || f.Code == decoder.Truncated || (f.Proto == Yamux && f.YamuxCode == yamux.Truncated) {
			continue
		}
		halted = true
		if o := s.framing[1-d]; f.Code == decoder.VersionMismatch && o != nil && o.Code == decoder.VersionMismatch &&
			(o.At.Before(f.At) || (o.At.Equal(f.At) && d == 1)) {
			continue
		}
		c := candidate{dir: Dir(d), hasDir: true, since: f.At.UnixNano(), ev: Evidence{Versions: vers, Offset: f.Offset, Violation: f.Code}}
		if f.Code == decoder.VersionMismatch {
			c.code = CodeVersionMismatch
			c.ev.Versions[d] = f.Header.Version()
			if f.Want != 0 {
				c.ev.Versions[1-d] = f.Want
			}
		} else {
			c.code = CodeProtocol
			c.ev.Guess, _ = s.framingGuess(d)
			if !s.incomplete {
				// Frames seen from the direction's first byte: a capture
				// that joined mid-stream or lost bytes may have framed
				// payload bytes after its resync (a mux inside a mux).
				c.ev.framed = s.counts.FramesDir(Dir(d))
			}
			if f.Proto == Yamux {
				c.ev.YamuxViolation = f.YamuxCode
			}
			var broke bool
			o := 1 - d
			c.ev.PeerGuess, broke = s.framingGuess(o)
			c.ev.Same, c.ev.SameStart = s.sameStart(c.ev.Guess, c.ev.PeerGuess)
			hungUp := s.dirEnded[o] && (!s.dirEnded[d] || s.dirEndedAt[o] < s.dirEndedAt[d])
			c.ev.PeerAnswered = !broke && (s.counts.FramesDir(Dir(o)) > 0 || hungUp)
			if of := s.framing[o]; (c.ev.pair(Dir(d)) != "" || c.ev.Same || c.ev.misdecoded(f.Proto)) && (of.At.Before(f.At) || (of.At.Equal(f.At) && d == 1)) {
				continue // the other direction's finding says it for both
			}
			c.ev.Skip, c.ev.Unskipped = s.unskipped()
			if d == int(ServerToClient) {
				c.ev.PrefixToo = s.prefixToo()
			}
			if c.ev.Unskipped != wirekind.Unknown && d == int(ServerToClient) && broke && sameMux(c.ev.Guess, c.ev.Unskipped) {
				continue // the client's finding says it for both: the skip cut its first header
			}
		}
		cs = append(cs, c)
	}
	// A frame yamux ends the session on is PROTOCOL too, where its
	// direction's framing did not break (a TRUNCATED frame cut short as
	// the session ended aside): critical, as the session it ends. It
	// halts nothing: a receiver that goes on (libp2p's go-yamux ignores
	// a repeated FIN) still has its other findings.
	if fa := s.fatalProtocol(); fa != nil {
		cs = append(cs, candidate{code: CodeProtocol, dir: fa.dir, hasDir: true, stream: fa.sid, since: fa.at,
			ev: Evidence{Offset: fa.offset, Guess: wirekind.Yamux, Fatal: fa.anomaly, Racy: fa.racy, Bytes: uint64(fa.length), Window: uint64(fa.free)}})
	}
	return cs, halted
}

// fatalProtocol returns the frame yamux ended the session on that a
// PROTOCOL finding names (framingCandidates), if one does. s.mu is held.
func (s *Session) fatalProtocol() *yamuxFatal {
	fa := s.fatal
	if fa == nil || fa.unsent {
		fa = s.racyEnd()
	}
	if fa == nil || fa.unsent {
		return nil
	}
	if f := s.framing[fa.dir]; f != nil && (f.Proto != Yamux || f.YamuxCode != yamux.Truncated) {
		return nil
	}
	return fa
}

// unskipped returns, if the client's prefix, read with the bytes after
// it, begins a mux header where its PROTOCOL violation right after the
// prefix is, the prefix's length and what that header is: the skip cut
// the mux's first header. s.mu is held.
func (s *Session) unskipped() (int64, wirekind.Kind) {
	d := ClientToServer
	f, n := s.framing[d], s.prefix[d]
	if f == nil || n == 0 || f.Offset != 0 || int64(len(s.prefixHead[d])) != min(n, 8) {
		return 0, wirekind.Unknown
	}
	head := s.prefixHead[d]
	switch {
	case n >= 8: // a header's worth of the prefix alone
	case f.Proto == Yamux:
		head = append(slices.Clip(head), f.YamuxHeader[:]...)
	default:
		head = append(slices.Clip(head), f.Header[:]...)
	}
	switch k := wirekind.Guess(head); k {
	case wirekind.Yamux, wirekind.SmuxV1, wirekind.SmuxV2:
		return n, k
	}
	return 0, wirekind.Unknown
}

// framingGuess returns what the bytes of direction d's framing violation
// look like, and whether it has one that is a PROTOCOL finding's: not a
// frame cut short by the connection's end, nor a version mismatch. s.mu
// is held.
func (s *Session) framingGuess(d int) (wirekind.Kind, bool) {
	f := s.framing[d]
	switch {
	case f == nil || f.Code == decoder.Truncated || f.Code == decoder.VersionMismatch:
		return wirekind.Unknown, false
	case f.Proto == Yamux:
		if f.YamuxCode == yamux.Truncated {
			return wirekind.Unknown, false
		}
		return wirekind.Guess(f.YamuxHeader[:]), true
	}
	return wirekind.Guess(f.Header[:]), true
}

// prefixToo returns the length of the client's prefix (--skip) where the
// server broke the framing at its first header with the bytes that
// prefix began with, 4 at least: the server sends the prefix too, which
// --skip cannot pass (Evidence.PrefixToo); 0 otherwise. s.mu is held.
func (s *Session) prefixToo() int64 {
	n, head, f := s.prefix[ClientToServer], s.prefixHead[ClientToServer], s.framing[ServerToClient]
	if n == 0 || f == nil || f.Offset != 0 || len(head) < 4 || int64(len(head)) != min(n, 8) {
		return 0
	}
	got := f.Header[:]
	if f.Proto == Yamux {
		got = f.YamuxHeader[:]
	}
	if string(got[:len(head)]) != string(head) {
		return 0
	}
	return n
}

// sameStart reports whether both directions broke the framing at their
// first header (offset 0) with the same bytes, guessed alike as a and b
// and as nothing wirekind pairs, nor a mux's header, nor zeros (a
// corruption): the two ends open with one other protocol, which they
// speak to each other, such as a negotiation (Evidence.Same). It
// returns the bytes' first 8. s.mu is held.
func (s *Session) sameStart(a, b wirekind.Kind) (bool, [8]byte) {
	var head [8]byte
	if a != b || wirekind.Pair(a, b) != "" || a == wirekind.Zeros || a.IsSmux() || a.IsYamux() {
		return false, head
	}
	var h [2][]byte
	for d, f := range s.framing {
		switch {
		case f == nil || f.Offset != 0 || f.Code == decoder.Truncated || f.Code == decoder.VersionMismatch:
			return false, head
		case f.Proto == Yamux:
			if f.YamuxCode == yamux.Truncated {
				return false, head
			}
			h[d] = f.YamuxHeader[:]
		default:
			h[d] = f.Header[:]
		}
	}
	if len(h[0]) != len(h[1]) || string(h[0]) != string(h[1]) {
		return false, head
	}
	copy(head[:], h[0])
	return true, head
}

// NOPLateness is how late a keepalive NOP may reach the tap before its
// direction's silence counts, at the least. What delays a NOP is absolute,
// not a share of the interval: a TCP retransmission (200 ms at the least),
// a stall of the sender or of the reader the tap sits in on a busy host.
// Half an interval covers it at smux's default 10 s; at a 1 s interval it
// did not (a false KEEPALIVE on a loaded machine).
const NOPLateness = time.Second

// BorrowedKeepAlive is the keepalive interval an smux side that has sent
// no NOP yet is allowed at least, where the other side's NOPs give the
// cadence: smux's default KeepAliveInterval. A side with a longer interval
// than the other's sends its first NOP that much later, and is not frozen
// meanwhile (a client every 1 s and a server every 5 s gave a false
// KEEPALIVE 2 s into every session before).
const BorrowedKeepAlive = 10 * time.Second

// BorrowedCritical is how long an smux side that has sent no NOP yet may
// be silent, where the other side's NOPs give the cadence (Evidence.Borrowed),
// before its KEEPALIVE is critical: smux's default KeepAliveTimeout, the
// period at whose end a peer at the defaults checks, and closes a
// session that received nothing in it (within 30-60 s of silence).
// Before it the finding is a warning: each smux side keeps its own
// KeepAliveInterval, and one slower than its peer's (25 s against 10 s)
// sends its first NOP that far into every session, healthy; it was
// critical 15 s into each, and MuxtopKeepaliveSilence fired.
const BorrowedCritical = 30 * time.Second

// PingAnswerLimit is how long a yamux ping may wait for its answer,
// with nothing else from the side asked, before that side's silence is a
// KEEPALIVE finding. hashicorp yamux answers a ping at once, from its
// receive loop, whatever its streams do; its pinger ends the session
// when the answer has not come within ConnectionWriteTimeout (10 s by
// default). Half that leaves a round trip's delays (a retransmission, a
// loaded host) seconds of room, and the user half of it before the
// session ends.
const PingAnswerLimit = 5 * time.Second

// SilenceLimit is how long a direction whose keepalive comes every every
// may be silent before it is a KEEPALIVE finding, when
// FindingsConfig.SilentAfter leaves it to the cadence: 1.5 times the
// interval, and at least NOPLateness more than it.
func SilenceLimit(every time.Duration) time.Duration {
	return max(every*3/2, every+NOPLateness)
}

// stood samples an activity counter, odd while the activity is in
// progress (WriteStarted and ReadStarted keep them so), at the evaluation
// at ns: it reports whether v has stood unchanged, in progress if busy
// and between two if not, for stillFor or more since an evaluation first
// saw it so. *seen and *since keep the value and when it was first seen
// so; *since is 0 while v is the other way.
func stood(v uint64, busy bool, seen *uint64, since *int64, ns int64) bool {
	if (v&1 == 1) != busy {
		*seen, *since = v, 0
		return false
	}
	if v != *seen || *since == 0 {
		*seen, *since = v, ns
		return false
	}
	return ns-*since >= int64(stillFor)
}

// blockedCandidate returns the SESSION_BLOCKED finding of dir, blocked
// since (Unix ns) as sign shows, at ns. It names the suspect: the live
// stream sent the most in dir, or in v2 the one with the most unread,
// among those a capture loss set aside too (asideList): a stream whose
// bytes were lost is still live, and the one not read is the likeliest
// to be (a capture that lost 926 kB of a 4 MB download the client did not
// read named the request stuck behind it, "stream 7 was sent 0 B").
// s.mu is held.
func (s *Session) blockedCandidate(dir Dir, since, ns int64, sign BlockedSign, cfg *FindingsConfig) candidate {
	c := candidate{code: CodeSessionBlocked, dir: dir, hasDir: true, since: since,
		ev: Evidence{Count: uint64(s.open), Age: time.Duration(ns - since), Limit: cfg.BlockedAfter, Versions: s.ver, Sign: sign}}
	var first int64 // the named stream's SYN: the older of two sent as much
	for _, l := range [...]int{liveList, asideList} {
		n := 0
		for st := s.w.lists[l].head; st != nil && n < maxWalk; st, n = st.watch.links[l].next, n+1 {
			v := st.bytes[dir]
			if s.version == 2 {
				v = uint64(max(st.flow[dir].InFlight(), 0))
			}
			if v > c.ev.Bytes || c.stream == 0 || v == c.ev.Bytes && st.watch.first < first {
				c.ev.Bytes, c.stream, first = v, st.id, st.watch.first
			}
		}
	}
	return c
}

// dropUnseen removes from cs the candidates that need the frames of a
// direction the capture holds nothing of (Session.Unseen): that side's
// KEEPALIVE, whose silence is the capture's, and CLOSE_WAIT of that
// side's holding; UNANSWERED, whose answer
// would come that way or whose request did, and NO_REPLY likewise;
// WINDOW_STALL, whose window
// updates would; LEAK, whose FINs would; DATA_AFTER_CLOSE, whose FIN or
// data would. The seen side's own silence, its blocks shown by its own
// TCP window, its GO_AWAY and violations stand. s.mu is held.
func (s *Session) dropUnseen(cs []candidate) []candidate {
	return slices.DeleteFunc(cs, func(c candidate) bool {
		switch c.code {
		case CodeKeepalive, CodeCloseWait: // CLOSE_WAIT: the holding side's frames
			return s.unseen[c.dir]
		case CodeUnanswered, CodeWindowStall, CodeLeak, CodeDataAfterClose, CodeNoReply:
			return true
		}
		return false
	})
}

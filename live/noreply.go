package live

import (
	"fmt"
	"slices"
	"time"
)

// NO_REPLY: a request with no answer on a stream reused for request after
// request. UNANSWERED covers a stream with no frame back at all, LEAK one
// idle with no FIN; a stream that carried answers, and then carries a
// request that gets none (go-plugin's dispensed plugin stream, which
// net/rpc reuses for every call, whose handler blocks), was named by
// nothing: bytes out, silence back.
//
// The wire shows no message boundaries, only turns: a run of payload from
// one side, then from the other. The stream's opener is taken for the
// requester, the side that asks (a caller opens the stream it calls on:
// go-plugin's MuxBroker.Dial, an RPC client's pooled stream), but only
// where the turns' timing bears it out: a responder answers promptly, a
// requester's next turn comes after its own think time. So the opener's
// pause before the turn that waits (from the acceptor's latest payload)
// must be more than ThinkFactor times the acceptor's slowest answer
// (watch.slowest). A
// reverse tunnel (frp's work connection: the opener says hello, then
// the acceptor asks and the opener answers each within milliseconds,
// the far user's next request coming after think time) shows, idle
// after the opener's answer, a turn of the opener's with nothing after
// it; its pauses are its answers, shorter than the acceptor's, and it
// opens nothing; so does a turn that follows the acceptor's payload at
// once (an HTTP/2 PING ack or WINDOW_UPDATE, an application's ack). A
// tight loop, whose pauses are as short as the answers, opens none: the
// README says so.
//
// Pushes. The acceptor may speak unprompted (an MQTT broker's PUBLISH, a
// websocket server's ping, an AMQP broker's delivery, a go-plugin's
// notification), and the opener's turn that follows may acknowledge it
// (a PUBACK, a pong, a consumer's ack, sent once the client has handled
// the push: milliseconds, where the acceptor answers in microseconds,
// so the timing rule takes it for a request) and want no answer, or be
// a request (a call the notification prompted) that does. The wire does
// not tell them apart, and NO_REPLY opens for either as it would for
// any request; what it says of them is what the wire shows:
//   - a push is a payload of the acceptor's that comes after it answered
//     the opener's latest turn (never while a turn waits: that is an
//     answer), after PushQuiet of quiet on the stream at the least and
//     more than ThinkFactor times its slowest answer (frames of an
//     answer, or of a paced one, that follow each other closer continue
//     it), once it has answered MinAnswered turns (never in its first
//     turns: a banner, however many frames);
//   - the opener's turn that starts within AckWithin of a push's latest
//     payload followed it: its NO_REPLY says how soon after the push
//     it came, that an acknowledgement wants no answer, and, where the
//     acceptor sends on the stream again later than an answer comes,
//     that this is its next message or a late answer, not that it
//     answered.

const (
	// MinAnswered is how many of the opener's earlier turns on a stream
	// the acceptor must have answered before its latest one waits for an
	// answer (NO_REPLY): one exchange is a handshake (go-plugin's broker
	// sends the stream's id and gets its ack; a log shipper says hello and
	// then streams one way); two or more show requests and answers.
	MinAnswered = 2
	// ReplyFactor: a request waits ReplyFactor times the slowest answer
	// the acceptor gave earlier on the stream, or UnansweredAfter if
	// longer, before NO_REPLY: a protocol whose answers are sometimes slow
	// (a push that waits for an event) sets its own, longer, threshold
	// with each slow one.
	ReplyFactor = 10
	// ThinkFactor: a stream's latest turn of its opener waits for an
	// answer (NO_REPLY) only where the opener's pause before it, from
	// the acceptor's latest payload to the opener's first, is more than
	// ThinkFactor times the acceptor's slowest answer: the
	// opener thinks between its requests, the acceptor answers them. A
	// requester's think time and a responder's answer differ by orders
	// of magnitude (a go-plugin host's calls seconds apart, answered in
	// microseconds), where a reverse tunnel's opener answers faster than
	// its acceptor asks again; 2, not 1, so that pauses as short as the
	// answers (a tight loop, a ping-pong) are no evidence either way,
	// whichever the clock's noise makes the longer.
	ThinkFactor = 2
	// AckWithin: the opener's turn that starts within AckWithin of the
	// acceptor's push followed it (it may acknowledge it: the client's
	// handling and, at the acceptor's tap, a round trip; 1 s covers a
	// handler and an intercontinental round trip).
	AckWithin = time.Second
	// PushQuiet is the quiet on a stream, at the least, before a payload
	// of the acceptor's that is a push: frames of an answer that follow
	// each other closer than that (a server that writes its answer in
	// parts, a paced answer) continue it; ThinkFactor times the
	// acceptor's slowest answer if longer.
	PushQuiet = 250 * time.Millisecond
	// maxNoReply is how many NO_REPLY findings a session has at most per
	// direction: the oldest requests.
	maxNoReply = 8
)

// watchReply notes a payload frame of dir on st at ns: the opener's
// starts or goes on with its turn (which waits for an answer where its
// pause after the acceptor's latest payload says the opener thinks),
// the acceptor's answers it. A few stores a frame, and a
// list move for a stream whose request waits, so that Evaluate walks
// only those. s.mu is held.
func (s *Session) watchReply(st *stream, dir Dir, ns int64) {
	w := &st.watch
	if dir.Sender() == st.opener {
		switch {
		case !w.calling:
			w.calling = true
			var pause int64    // this turn's, after the acceptor's latest payload
			if w.callAt != 0 { // a µs before it, from the other direction's recorder, is no pause
				pause = max(ns-w.callAt, 0)
			}
			// Within AckWithin of the acceptor's push, the turn followed
			// it (pushQuiet kept): its words say so, its timing is any
			// turn's.
			if w.pushQuiet != 0 && pause <= int64(AckWithin) {
				w.ackDelay = uint32(pause / int64(time.Microsecond))
			} else {
				w.pushQuiet = 0
			}
			if w.answers >= MinAnswered && !st.fin[dir.Reverse()] && pause > ThinkFactor*w.slowest {
				s.w.lists[replyList].push(st, replyList)
			}
		case ns-w.callAt > max(s.w.replyAfter(), ReplyFactor*w.slowest):
			// The opener wrote on after a wait longer than an answer
			// takes, NO_REPLY's threshold: it waits for none (a stream
			// turned one way after a handshake, a log shipper's). Its
			// answers count anew: two more exchanges before a turn of its
			// waits again.
			w.answers = 0
			if w.listed[replyList] {
				s.w.lists[replyList].remove(st, replyList)
			}
		case w.listed[replyList] && s.w.lists[replyList].tail != st:
			// More of the request: the list stays in the order of the
			// requests' latest payload.
			s.w.lists[replyList].remove(st, replyList)
			s.w.lists[replyList].push(st, replyList)
		}
		w.callAt = max(w.callAt, ns)
		return
	}
	if w.calling {
		w.calling = false
		w.pushQuiet = 0 // an answer, no push
		if w.answers < ^uint32(0) {
			w.answers++
		}
		w.slowest = max(w.slowest, ns-w.callAt)
		if w.listed[replyList] {
			s.w.lists[replyList].remove(st, replyList)
		}
	} else if gap := ns - w.callAt; w.answers >= MinAnswered && w.callAt != 0 && gap >= int64(PushQuiet) && gap > ThinkFactor*w.slowest &&
		(w.pushQuiet == 0 || gap > int64(AckWithin)) {
		// The opener's latest turn answered, the acceptor speaks again
		// after a quiet longer than its answers' frames come: a push. A
		// part of it that follows within AckWithin (a message written in
		// two) keeps the quiet before its first: "after 300 ms of quiet"
		// was said of a message that came after 7.9 s.
		w.pushQuiet = uint32(min(gap/int64(time.Millisecond), int64(^uint32(0))))
	}
	w.callAt = max(w.callAt, ns)
}

// replyCandidates appends NO_REPLY's candidates at ns: the streams of the
// reply list whose request has waited the longer of UnansweredAfter and
// ReplyFactor times the acceptor's slowest answer on the stream, while
// the acceptor has sent something on the session since (it is alive: a
// side that sends nothing is KEEPALIVE's, or nothing is known of it). Not
// where the acceptor is silent or overdue (KEEPALIVE says so, or is about
// to), nor in a blocked session (SESSION_BLOCKED: the answer may be held
// in it), unless open already and the block not yet confirmed (keep);
// nor where the requester's writer is held at a full window (the request
// is not all out: WINDOW_STALL), nor where a capture lost bytes of
// either direction since the request (the answer, or more of the
// request, may be in them). The walk goes while a request is older than
// UnansweredAfter: a healthy session's requests in flight are younger,
// and its idle streams carry the acceptor's answer last, off the list.
// s.mu is held.
//
// Or, where the acceptor has sent nothing at all since the request and
// no keepalive was seen on the session (noKeepalive), NO_REPLY of a
// silent side (Evidence.Silent), once the request has waited the longer
// of that threshold and LeakAfter: a stuck or stopped acceptor and a
// slow handler look the same, and where keepalive is on the silence is
// KEEPALIVE's. keepSilent says whether such a finding is open and kept
// in a block not confirmed yet.
func (s *Session) replyCandidates(cs []candidate, ns int64, cfg *FindingsConfig, blocked bool, silent, overdue [2]bool, keep func(FindingCode, Dir, bool, uint32) bool,
	noKeepalive bool, keepSilent func(FindingCode, Dir, uint32) bool) []candidate {
	cutoff := ns - int64(cfg.UnansweredAfter)
	var found [2]int
	n := 0
	for st := s.w.lists[replyList].head; st != nil && n < maxWalk && st.watch.callAt <= cutoff; st, n = st.watch.links[replyList].next, n+1 {
		w := &st.watch
		d := st.opener.Sends()
		a := d.Reverse()
		limit := max(cfg.UnansweredAfter, time.Duration(min(w.slowest, int64(time.Hour)))*ReplyFactor)
		quiet := s.w.lastHeard(a) <= w.callAt // the acceptor has sent nothing since the request
		if quiet {
			limit = max(limit, cfg.LeakAfter)
		}
		// Nor once the acceptor closed its side of the connection: it can
		// send no answer any more. The requester's close is no such
		// ground: a client that CloseWrites after its call reads on.
		if ns-w.callAt < int64(limit) || quiet && (!noKeepalive || s.sideClosed(d, ns)) || found[d] >= maxNoReply || s.sideClosed(a, ns) ||
			!st.flow[d].FullSince.IsZero() || !st.flow[a].FullSince.IsZero() || s.lostAt[a] > w.callAt || s.lostAt[d] > w.callAt {
			continue
		}
		// While UNANSWERED of a silent side holds for d (its candidate
		// comes first), the same silence explains this request too: one
		// stopped acceptor is one finding per direction, not one beside
		// a NO_REPLY for each stream reused. LEAK's excuse (noReply)
		// stands.
		if quiet && unansweredOf(cs, d, true) {
			continue
		}
		if quiet && blocked && !keepSilent(CodeNoReply, d, st.id) ||
			!quiet && (silent[a] || (blocked || overdue[a]) && !keep(CodeNoReply, d, true, st.id)) {
			continue
		}
		found[d]++
		ev := Evidence{Count: uint64(w.answers), Age: time.Duration(ns - w.callAt), Limit: limit, Slowest: time.Duration(w.slowest), Versions: s.ver, Silent: quiet}
		if w.pushQuiet != 0 { // the turn followed the acceptor's push
			ev.PushQuiet, ev.AfterPush = time.Duration(w.pushQuiet)*time.Millisecond, time.Duration(w.ackDelay)*time.Microsecond
		}
		cs = append(cs, candidate{code: CodeNoReply, dir: d, hasDir: true, stream: st.id, since: w.callAt, ev: ev})
	}
	return cs
}

// noReplyResolved says why NO_REPLY f of the live session s stopped
// holding at ns: the answer came (how late), the stream closed, the
// acceptor closed its side of it, the requester wrote on, or another
// finding explains the silence. s.mu is held.
func (s *Session) noReplyResolved(f *Finding, cands []candidate, ns int64) string {
	req, peer := f.Dir.Sender(), f.Dir.Reverse().Sender()
	since := f.Since.UnixNano()
	st := s.streams.get(f.Stream)
	switch {
	case st == nil || st.watch.first > since:
		// Folded since the latest evaluation: its answer may have come
		// first.
		return fmt.Sprintf("stream %d closed; muxtop no longer tracks it, so whether its request was answered first is not known", f.Stream)
	case st.state == StreamReset:
		return fmt.Sprintf("stream %d was reset (RST), its request unanswered after %s", f.Stream, fmtDur(time.Duration(ns-since)))
	case f.Evidence.PushQuiet > 0 && uint64(st.watch.answers) > f.Evidence.Count:
		// The request followed the acceptor's push, and the acceptor sent
		// on the stream after it (the count says so, whatever came
		// since): later than an answer comes, its next message of its
		// own as likely as a late answer.
		return fmt.Sprintf("the %s sent on stream %d again, %s after the %s's bytes (its answers before came within %s at most): its next message of its own, those bytes having acknowledged its message before (owed no answer), or a late answer to them, which the wire does not tell apart",
			peer, f.Stream, fmtDur(time.Duration(st.watch.slowest)), req, fmtDur(f.Evidence.Slowest))
	case uint64(st.watch.answers) > f.Evidence.Count:
		// The answer's wait is the slowest now: it came past ReplyFactor
		// times the slowest before.
		return fmt.Sprintf("the %s answered, %s after the request (before, within %s at most): a slow answer, not a lost one",
			peer, fmtDur(time.Duration(st.watch.slowest)), fmtDur(f.Evidence.Slowest))
	case !st.state.Live():
		return fmt.Sprintf("stream %d closed, its request unanswered after %s", f.Stream, fmtDur(time.Duration(ns-since)))
	case st.fin[f.Dir.Reverse()]:
		return fmt.Sprintf("the %s closed its side of stream %d (FIN) without answering", peer, f.Stream)
	case s.sideClosed(f.Dir.Reverse(), ns):
		return fmt.Sprintf("the %s %s without answering: it can send no answer any more, and the %s's read of stream %d ends", peer, ClosedIts(s.transport()), req, f.Stream)
	case st.watch.callAt > since:
		return fmt.Sprintf("the %s wrote on stream %d again with no answer between: it writes on rather than waits, and its answers count anew (two more exchanges before a write of its waits again)", req, f.Stream)
	case f.Evidence.Silent && s.w.lastHeard(f.Dir.Reverse()) > since:
		// The acceptor sent something, not the answer: the ordinary rule
		// takes the request from here. Before the requester's close: an
		// acceptor that spoke is no silent side holding the session.
		return fmt.Sprintf("the %s sent something on the session, though not the answer: it is not stopped, and the request waits on as any NO_REPLY's, while it sends", peer)
	case f.Evidence.Silent && s.sideClosed(f.Dir, ns):
		return openerLeft(f, s.transport())
	case f.Evidence.Silent && unansweredOf(cands, f.Dir, true):
		return fmt.Sprintf("the %s's silence holds streams the %s opened since, and UNANSWERED of a silent side says so for this request too: it still waits", peer, req)
	case f.Evidence.Silent && s.w.keepaliveKnown():
		return s.keepaliveCame(f, cands)
	case slices.ContainsFunc(cands, func(c candidate) bool { return c.code == CodeKeepalive && c.dir == f.Dir.Reverse() }):
		return fmt.Sprintf("the %s went silent: KEEPALIVE says so", peer)
	case slices.ContainsFunc(cands, func(c candidate) bool { return c.code == CodeSessionBlocked }):
		return "the session is blocked: SESSION_BLOCKED says why"
	case !st.flow[f.Dir].FullSince.IsZero():
		return fmt.Sprintf("the %s's writer is held at a full window: the request is not all out", req)
	case !st.flow[f.Dir.Reverse()].FullSince.IsZero():
		return fmt.Sprintf("the %s's writer is held at a full window on stream %d: its answer may be held there (WINDOW_STALL)", peer, f.Stream)
	case s.lostAt[0] > since || s.lostAt[1] > since:
		return "the capture lost bytes since the request: the answer may be among them"
	}
	return ""
}

// noReplyText words a NO_REPLY finding's problem, the same in smux and
// yamux.
func noReplyText(f *Finding) string {
	return noReplyProblem(f) + afterPush(f)
}

// afterPush is what NO_REPLY's text adds where the request followed the
// acceptor's push within AckWithin (Evidence.PushQuiet), "" elsewhere.
func afterPush(f *Finding) string {
	ev := &f.Evidence
	if ev.PushQuiet <= 0 {
		return ""
	}
	return fmt.Sprintf("; these bytes came %s after the %s's latest on the stream, which it had begun to send after %s of quiet, no request of the %s's waiting for an answer (a message of its own, or the rest of an answer): if they acknowledge a message of its own (an MQTT PUBACK, a websocket pong, a consumer's ack) they want no answer, and nothing is wrong",
		fmtDur(ev.AfterPush), f.Dir.Reverse().Sender(), fmtDur(ev.PushQuiet), f.Dir.Sender())
}

// noReplyProblem is noReplyText's problem, that of any request.
func noReplyProblem(f *Finding) string {
	ev := &f.Evidence
	if ev.Silent {
		// The acceptor has sent nothing at all since, and no keepalive
		// shows whether it is alive: a stopped process looks the same.
		return fmt.Sprintf("stream %d: the %s's request, sent %s ago, has no answer; the %s answered the %d earlier ones on this stream within %s at most, and has sent nothing at all on the session since the request, and muxtop has seen no keepalive on the session (yet) to show whether it is alive: it is stuck or stopped, or its handler is blocked or slow, unless the protocol holds an answer back by design (a long poll)",
			f.Stream, f.Dir.Sender(), fmtDur(ev.Age), f.Dir.Reverse().Sender(), ev.Count, fmtDur(ev.Slowest))
	}
	return fmt.Sprintf("stream %d: the %s's request, sent %s ago, has no answer; the %s answered the %d earlier ones on this stream within %s at most, and still sends on the session: its handler is blocked or lost the request (a hung call), unless the protocol holds an answer back by design (a long poll)",
		f.Stream, f.Dir.Sender(), fmtDur(ev.Age), f.Dir.Reverse().Sender(), ev.Count, fmtDur(ev.Slowest))
}

// noReplyAdvice says what to do about a NO_REPLY finding: where the
// request followed the acceptor's push, how to tell an acknowledgement.
func noReplyAdvice(f *Finding) string {
	advice := noReplyDump(f)
	if f.Evidence.PushQuiet > 0 {
		advice += fmt.Sprintf("; first, if the %s's protocol acknowledges each message of the %s's (MQTT QoS 1, websocket pings, a consumer's acks), these bytes may be such an acknowledgement, owed no answer: then nothing is wrong on stream %d",
			f.Dir.Sender(), f.Dir.Reverse().Sender(), f.Stream)
	}
	return advice
}

// noReplyDump is noReplyAdvice's, that of any request.
func noReplyDump(f *Finding) string {
	if f.Evidence.Silent {
		on := "smux's keepalive on (KeepAliveDisabled false), whose NOPs"
		if f.Proto == Yamux {
			on = "yamux's keepalive on (EnableKeepAlive), whose pings"
		}
		return fmt.Sprintf("take a goroutine dump of the %s (SIGQUIT, or pprof's /debug/pprof/goroutine?debug=2) and look for the handler of stream %d's request, blocked on a lock, a channel or a call of its own (a stopped process, SIGSTOP or a debugger, dumps nothing until it runs again: ps shows it in state T); turn %s let KEEPALIVE tell a frozen %s from a slow one; give the %s's call a deadline (the stream's SetReadDeadline, or a timer beside the call) so that one hung handler cannot hold it for ever",
			f.Dir.Reverse().Sender(), f.Stream, on, f.Dir.Reverse().Sender(), f.Dir.Sender())
	}
	return fmt.Sprintf("take a goroutine dump of the %s (SIGQUIT, or pprof's /debug/pprof/goroutine?debug=2) and look for the handler of stream %d's request, blocked on a lock, a channel or a call of its own; give the %s's call a deadline (the stream's SetReadDeadline, or a timer beside the call) so that one hung handler cannot hold it for ever",
		f.Dir.Reverse().Sender(), f.Stream, f.Dir.Sender())
}

// replyAfter is the --unanswered-after the latest evaluation used
// (DefaultUnansweredAfter before the first): the wait past which a turn
// of the opener's that goes on is no longer part of a request. s.mu is
// held.
func (w *sessionWatch) replyAfter() int64 {
	if w.unansweredAfter == 0 {
		return int64(DefaultUnansweredAfter)
	}
	return w.unansweredAfter
}

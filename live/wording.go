package live

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/wirekind"
)

// How findings are worded: the problem with its numbers, and what to do,
// from what smux does.

// silenceOf returns the silence of KEEPALIVE candidate c's side: its
// Age, up to its direction's end where it ended (only its silence up to
// its end counts, as the candidate's rule has it). s.mu is held.
func (s *Session) silenceOf(c *candidate) time.Duration {
	if s.dirEnded[c.dir] {
		return min(c.ev.Age, time.Duration(max(s.dirEndedAt[c.dir]-c.since, 0)))
	}
	return c.ev.Age
}

// finding makes the Finding of c, with its text. s.mu is held.
func (s *Session) finding(id uint64, c *candidate, opened time.Time) *Finding {
	f := &Finding{
		ID: id, Code: c.code, Severity: c.code.Severity(), Session: s.id, Stream: c.stream,
		Dir: c.dir, HasDir: c.hasDir, Since: time.Unix(0, c.since), Opened: opened, Evidence: c.ev, Proto: s.proto,
		version: s.version, info: s.info, joined: s.incomplete,
	}
	if c.code == CodeProtocol && f.Evidence.endsFine(f.Dir, s.proto) {
		// Not the watched mux's fault, nor one that stops its traffic:
		// there is no mux, and the two ends talk to each other fine; or
		// muxtop's --skip cut the client's first mux header; or both ends
		// speak the other mux, which muxtop was told not to decode.
		f.Severity = Warning
	}
	if c.code == CodeGoAway && f.Evidence.GoAwayCode != yamux.GoAwayNormal {
		// Not a drain, whose open streams go on: an error code ends the
		// session (hashicorp's yamux ends it on any code but normal).
		f.Severity = Critical
	}
	if c.code == CodeKeepalive && c.ev.Borrowed && s.proto != Yamux && c.ev.Ping == 0 && s.silenceOf(c) < BorrowedCritical {
		// An smux side with no NOP of its own yet, measured against the
		// other side's cadence: each side keeps its own KeepAliveInterval,
		// and one slower than its peer's sends its first NOP that far
		// into the session, healthy; a frozen one looks the same until
		// its silence outlasts what a peer at smux's defaults allows.
		f.Severity = Warning
	}
	if c.code == CodeUnanswered && c.ev.Silent {
		// A guess between stuck and slow: with no keepalive seen (it may
		// be on, its first NOP or ping not come yet), a slow handler and
		// a stopped server look the same on the wire.
		f.Severity = Warning
	}
	if c.code == CodeLeak && c.stream != 0 {
		// What the oldest leaked stream carried, which history may no
		// longer hold: a finding is immutable once made, so a copy.
		// Heads without StreamIDs holds the oldest's (Finding.First).
		if st := s.streams.get(c.stream); st != nil {
			f.Heads = [][2]FirstBytes{st.head}
			// Asked and not answered: its opener sent payload, the other
			// side none, and that side has not sent its FIN (its handler
			// did not return). Not in a stream whose counts miss frames.
			// An HTTP/1.1 interim response alone (100 Continue: the handler
			// read the body and hangs) answers nothing either: its bytes
			// all seen (the count no more than the first bytes kept).
			d := st.opener.Sends()
			back := &st.head[1-d]
			f.interim = st.bytes[1-d] > 0 && st.bytes[1-d] == uint64(back.N) && !back.Cut && !back.Joined && wirekind.HTTP1Interim(back.Bytes())
			f.unanswered = !st.incomplete && st.bytes[d] > 0 && (st.bytes[1-d] == 0 || f.interim) &&
				(!c.hasDir || c.dir.Sender() != st.opener)
		}
	}
	f.word()
	return f
}

// word sets the Text and Advice of f, a session's finding, from its
// evidence.
func (f *Finding) word() {
	if f.Proto == Yamux {
		f.Text, f.Advice = describeYamux(f, f.Session)
		return
	}
	f.Text, f.Advice = describe(f, f.Session, f.version)
}

// AsOf returns open finding f worded as at time t, with its age then: the
// engine words an age again only in steps (1 s, then 5 s, 30 s, 5 min),
// so a finding read well after its latest wording says an older age
// ("oldest 60 s" at 68 s). The ages are those counted from Since, which
// Evidence.Age is for LEAK, UNANSWERED, WINDOW_STALL, SESSION_BLOCKED,
// KEEPALIVE, CLOSE_WAIT and NO_REPLY; the rest of the evidence stays as the latest evaluation
// found it. f itself if it has no such age, is resolved, or t is not
// after its latest wording. A finding resolved only as muxtop stopped
// watching (Unwatched) still held until then: it is worded as of t, or
// of its resolution if t is later.
func (f *Finding) AsOf(t time.Time) *Finding {
	switch f.Code {
	case CodeLeak, CodeUnanswered, CodeWindowStall, CodeSessionBlocked, CodeKeepalive, CodeCloseWait, CodeNoReply:
	default:
		return f
	}
	if f.Unwatched && t.After(f.Resolved) {
		t = f.Resolved
	}
	age := t.Sub(f.Since)
	if (!f.Resolved.IsZero() && !f.Unwatched) || age <= f.Evidence.Age {
		return f
	}
	g := *f
	if g.Evidence.Ping != 0 && !g.Evidence.GaveUp {
		g.Evidence.Ping += age - f.Evidence.Age // the ping waits on, unless its sender gave up
	}
	if g.Code == CodeLeak || g.Code == CodeCloseWait {
		g.Evidence.Idle += age - f.Evidence.Age // an idle stream (a quiet side) stays so: a frame would take it out
	}
	g.Evidence.Age = age
	g.word()
	return &g
}

// silentUnanswered words an UNANSWERED finding of a side that has sent
// nothing at all since the oldest stream's request, with no keepalive
// seen on the session (Evidence.Silent): what the wire shows, and the
// three things it cannot tell apart (a stopped process, a stuck one,
// slow handlers); not that the side is not accepting them, which a
// silent side's wire does not show in smux, nor that a side forgot
// Close.
func silentUnanswered(f *Finding) (text, advice string) {
	ev := &f.Evidence
	opener, other := f.Dir.Sender(), f.Dir.Reverse().Sender()
	waits := "wait"
	if ev.Count == 1 {
		waits = "waits"
	}
	if f.Proto == Yamux {
		late := ""
		switch {
		case ev.FinFirst == 0:
		case ev.Count == 1:
			late = fmt.Sprintf(", or accepted it only after the %s's FIN (it was half-closed before any ACK), for which yamux sends no ACK, and its handler is slow", opener)
		default:
			late = fmt.Sprintf(", or accepted the %d of them half-closed before any ACK only after the %s's FIN, for which yamux sends no ACK, and its handlers are slow", ev.FinFirst, opener)
		}
		return fmt.Sprintf("%s opened by the %s got no ACK (the oldest, stream %d, opened %s ago); the %s has sent nothing at all since that SYN, and muxtop has seen no keepalive ping on the session (yet) to show whether it is alive: it is stuck or stopped, or its accept loop is stuck or slow (yamux ACKs a stream only as AcceptStream takes it)%s, unless the protocol holds an answer back by design (a long poll)",
				plural(ev.Count, "stream"), opener, f.Stream, fmtDur(ev.Age), other, late),
			fmt.Sprintf("take a goroutine dump of the %s (SIGQUIT, or pprof's /debug/pprof/goroutine?debug=2): it shows where its Accept loop, its handlers and yamux's recvLoop wait (a stopped process, SIGSTOP or a debugger, dumps nothing until it runs again: ps shows it in state T); turn yamux's keepalive on (EnableKeepAlive), whose pings let KEEPALIVE tell a frozen %s from a slow one; the %s's yamux ends the session once a stream has waited StreamOpenTimeout (75 s by default) for its ACK (yamux before 2021 has no StreamOpenTimeout: it waits)",
				other, other, opener)
	}
	// Or it does not accept them: an smux stream nobody accepted and
	// one accepted and not answered look the same (the demo's --fault
	// backlog).
	asked, slow := fmt.Sprintf("asked %s ago", fmtDur(ev.Age)), "its handlers are slow, or it does not accept them (AcceptStream)"
	if f.version == 1 {
		// A v1 reader sends nothing when it reads.
		asked = fmt.Sprintf("first written on %s ago", fmtDur(ev.Age))
		slow = "its handlers are slow, or read them and never write back (an smux v1 reader sends nothing when it reads), or it does not accept them (AcceptStream)"
	}
	slow += ", unless the protocol holds an answer back by design (a long poll)"
	return fmt.Sprintf("%s opened by the %s %s for an answer (the oldest, stream %d, %s); the %s has sent nothing at all since that request, and muxtop has seen no keepalive on the session (yet) to show whether it is alive: it is stuck or stopped, or %s",
			plural(ev.Count, "stream"), opener, waits, f.Stream, asked, other, slow),
		fmt.Sprintf("take a goroutine dump of the %s (SIGQUIT, or pprof's /debug/pprof/goroutine?debug=2): it shows where its AcceptStream loop, its handlers and smux's recvLoop wait (a stopped process, SIGSTOP or a debugger, dumps nothing until it runs again: ps shows it in state T); turn smux's keepalive on (KeepAliveDisabled false), whose NOPs let KEEPALIVE tell a frozen %s from a slow one, and give the %s's reads a deadline (the stream's SetReadDeadline)",
			other, other, opener)
}

// FormatAge formats an age as finding texts do: "42 s", "2.1 s", "850 ms".
func FormatAge(d time.Duration) string { return fmtDur(d) }

// leakText words a leak finding, the same in smux and yamux.
func leakText(f *Finding) string {
	ev := &f.Evidence
	sender, receiver := f.Dir.Sender(), f.Dir.Reverse().Sender()
	if !f.HasDir {
		return fmt.Sprintf("%s open and idle %s or more with no FIN from either side, oldest %s (stream %d, opened by the %s, idle %s)",
			plural(ev.Count, "stream"), fmtDur(ev.Limit), fmtDur(ev.Age), f.Stream, sender, fmtDur(ev.Idle))
	}
	return fmt.Sprintf("the %s never closes its streams: %d half-closed by the %s and idle %s or more, oldest %s (stream %d, idle %s)",
		sender, ev.Count, receiver, fmtDur(ev.Limit), fmtDur(ev.Age), f.Stream, fmtDur(ev.Idle))
}

// leakHolText words an smux v1 LEAK whose streams may wait behind an
// unread stream (Evidence.holSid: Session.holFor): the side has closed
// none of those answered since that stream was sent V1ReceiveBuffer, and
// the wire cannot tell a session buffer full behind it from a forgotten
// Close, so the words give both.
func leakHolText(f *Finding) string {
	ev := &f.Evidence
	sender, receiver := f.Dir.Sender(), f.Dir.Reverse().Sender()
	return fmt.Sprintf("the %s has closed none of its streams answered since stream %d was sent %s: %d half-closed by the %s and idle %s or more, oldest %s (stream %d, idle %s); stream %d was sent %s, which the %s has not closed: in smux v1 the bytes of a stream not read stay in the session's receive buffer (MaxReceiveBuffer, %s by default), and once it is full the session reads the connection no more, so the %s may never have got these streams' frames, its reads of them waiting, or it forgot Close()",
		sender, ev.holSid, fmtBytes(V1ReceiveBuffer), ev.Count, receiver, fmtDur(ev.Limit), fmtDur(ev.Age), f.Stream, fmtDur(ev.Idle),
		ev.holSid, fmtBytes(ev.holBytes), sender, fmtBytes(V1ReceiveBuffer), sender)
}

// leakHolAdvice is leakHolText's advice: how to tell the two apart, and
// what to do for each; closeIt the leak's own advice.
func leakHolAdvice(f *Finding, closeIt string) string {
	side := f.Dir.Sender()
	return fmt.Sprintf("a goroutine dump of the %s (SIGQUIT, or pprof's /debug/pprof/goroutine?debug=2) tells them apart: if smux's recvLoop waits in its select for tokens (Session.recvLoop) and these streams' readers wait in Read, have the %s read stream %d as it comes, or close it (smux v1 gives a session one receive buffer for all its streams: a larger MaxReceiveBuffer only moves the limit; smux v2's per-stream window, MaxStreamBuffer, holds a stream's sender to it instead); otherwise %s",
		side, side, f.Evidence.holSid, closeIt)
}

// leakOneWay returns LEAK f's text and advice, given as the leak's own
// words have them, with what its oldest stream shows added where its
// opener sent payload on it (a request, or a push) and got no byte back,
// or only an HTTP/1.1 interim response (100 Continue, which net/http's
// server sends as the handler reads the body), the other side's FIN
// missing too (Finding.unanswered): a handler that
// hangs before its answer holds its stream open just as one that returned
// without Close does, and its mux may have sent frames of its own on the
// stream meanwhile (yamux's ACK, smux v2's UPD), which answer nothing.
// The words are of that stream alone: the leak's other streams may be
// answered ones.
func leakOneWay(f *Finding, text, advice string) (string, string) {
	if !f.unanswered {
		return text, advice + poolWords(f)
	}
	asker := f.Dir.Sender() // the no-FIN LEAK's: its oldest stream's opener
	if f.HasDir {
		asker = f.Dir.Reverse().Sender() // the side that never closes is the one that owes the answer
	}
	other := asker.Sends().Reverse().Sender()
	none, got := "none", "got no byte back"
	if f.interim {
		none, got = "only an interim HTTP response (1xx)", "got only an interim HTTP response (1xx) back"
	}
	text += fmt.Sprintf("; stream %d carried the %s's bytes and %s back from the %s", f.Stream, asker, none, other)
	advice += fmt.Sprintf("; stream %d %s: if the %s should have answered it, its handler may hang before its answer (no Close comes until it returns), which a goroutine dump of the %s (SIGQUIT, or pprof's /debug/pprof/goroutine?debug=2) shows",
		f.Stream, got, other, other)
	return text, advice
}

// The kinds of Evidence.Pool.
const (
	PoolHTTP1 = 1 // each stream an HTTP/1.1 exchange answered with a final status
	PoolH2C   = 2 // each an HTTP/2 connection in the clear
)

// poolOf returns the Evidence.Pool of no-FIN LEAK f whose streams are
// heads (the first bytes each way of those it names): checked once each,
// at most MaxStreamIDs. A stream either side opened: a request line is
// never a status line, nor a preface a SETTINGS frame.
func poolOf(f *Finding, heads [][2]FirstBytes) uint8 {
	if f.Code != CodeLeak || f.HasDir || len(heads) == 0 {
		return 0
	}
	kind := uint8(0)
	for i := range heads {
		h := &heads[i]
		if h[0].Joined || h[1].Joined {
			return 0
		}
		a, b := h[0].Bytes(), h[1].Bytes()
		k := uint8(0)
		switch {
		case wirekind.HTTP1KeepAlive(a, b) || wirekind.HTTP1KeepAlive(b, a):
			k = PoolHTTP1
		case wirekind.HTTP2Connection(a, b) || wirekind.HTTP2Connection(b, a):
			k = PoolH2C
		}
		if k == 0 || kind != 0 && k != kind {
			return 0
		}
		kind = k
	}
	return kind
}

// leakPool returns LEAK f with the Evidence.Pool of heads, the first
// bytes of the streams it names as the evaluation counts them: f where
// that is its own, else a copy worded again, which takes f's place among
// s's open findings. s.mu is held.
func (s *Session) leakPool(f *Finding, heads [][2]FirstBytes) *Finding {
	p := poolOf(f, heads)
	if p == f.Evidence.Pool {
		return f
	}
	g := *f
	g.Evidence.Pool = p
	g.word()
	if i := slices.Index(s.w.eng.open, f); i >= 0 {
		s.w.eng.open[i] = &g
	}
	return &g
}

// poolWords returns what no-FIN LEAK f's advice adds where every stream
// it names is an HTTP connection an HTTP client's pool may keep idle
// (Evidence.Pool), "" for any other. A pool, a client that leaks its
// connections and responses not finished look alike on the wire, streams
// open and idle: the first bytes cannot show whether a response ended.
// The words say what the count tells (how many the pool may hold is not
// on the wire) and what a goroutine dump shows; none of the bytes
// themselves. The stream named is the oldest, and only where its opener
// sent first (the request, the preface).
func poolWords(f *Finding) string {
	h := f.First()
	if f.HasDir || h == nil || f.Evidence.Pool == 0 {
		return ""
	}
	req, resp := h[f.Dir].Bytes(), h[f.Dir.Reverse()].Bytes() // the no-FIN LEAK's Dir: its oldest stream's opener's
	if f.Evidence.Pool == PoolHTTP1 && !wirekind.HTTP1KeepAlive(req, resp) || f.Evidence.Pool == PoolH2C && !wirekind.HTTP2Connection(req, resp) {
		return "" // the oldest's opener did not send first
	}
	opener, other := f.Dir.Sender(), f.Dir.Reverse().Sender()
	others := ""
	if n := min(f.Evidence.Count, MaxStreamIDs); n > 1 {
		others = fmt.Sprintf(", as are the %d others it names", n-1)
	}
	switch f.Evidence.Pool {
	case PoolHTTP1:
		return fmt.Sprintf("; stream %d is an HTTP/1.1 exchange (the %s's request, the %s's response)%s: a connection idle in a client's pool (a Go client's net/http defaults: 2 per host and Transport, closed after IdleConnTimeout, 90 s in http.DefaultTransport, never if 0), a response Body never closed, or a response not finished (a handler blocked after its headers, an event stream: a goroutine dump of the %s shows it); a count that stays within the pool's and resolves at IdleConnTimeout may be the pool (raise --leak-after above it), one that grows is Bodies never closed, responses not finished or a Transport made per request",
			f.Stream, opener, other, others, other)
	case PoolH2C:
		return fmt.Sprintf("; stream %d is an HTTP/2 connection in the clear (the %s's preface, the %s's SETTINGS)%s: an HTTP/2 client keeps one per host and Transport for all its requests, idle until IdleConnTimeout (never if it is 0): a count that grows is a Transport (or gRPC ClientConn) made per request, or more than 250 responses unfinished at once (the streams net/http's server allows a connection); a connection that stays may also be calls in flight (a watch, a stuck RPC), which no idle timeout closes and a goroutine dump shows",
			f.Stream, opener, other, others)
	}
	return ""
}

// closeWaitText words a CLOSE_WAIT finding's problem, the same in smux
// and yamux: which side closed and when, which holds, how long, and what
// it still holds.
func closeWaitText(f *Finding) string {
	ev := &f.Evidence
	holder, closer := f.Dir.Sender(), f.Dir.Reverse().Sender()
	quiet := "nor sent a frame since"
	if ev.Idle < ev.Age {
		quiet = "and has sent no frame for " + fmtDur(ev.Idle)
	}
	streams := ""
	if ev.Count > 0 {
		streams = fmt.Sprintf(" and %s", plural(ev.Count, "open stream"))
	}
	closed, own := ClosedIts(ev.Transport), "its own"
	if ev.Transport == "pipe" {
		closed, own = closed+pipeWhole, "its end"
	}
	return fmt.Sprintf("the %s %s %s ago, and the %s has not closed %s %s: it still holds session %d%s%s",
		closer, closed, fmtDur(ev.Age), holder, own, quiet, f.Session, streams, closeWaitState(ev.Transport, closer))
}

// ClosedIts words a side's close of its conn over transport (as
// SessionInfo.Transport names it; "" is TCP): "closed its side of the
// connection", or over a net.Pipe, which has no half-close (a peer's
// Close ends both ways), "closed the connection". The findings, the
// session's end and a tap's words of a close all say it so.
func ClosedIts(transport string) string {
	if transport == "pipe" {
		return "closed the connection"
	}
	return "closed its side of the connection"
}

// pipeWhole follows the words of a close of a net.Pipe (ClosedIts) where
// a half-close would be expected: why it closed the whole connection.
const pipeWhole = " (a net.Pipe has no half-close)"

// closedFIN is ClosedIts with, over TCP, the FIN that closed it: "closed
// its side of the connection (FIN)".
func closedFIN(transport string) string {
	if transport == "" {
		return ClosedIts(transport) + " (FIN)"
	}
	return ClosedIts(transport)
}

// stillOpen says, after the words of a half-close of a conn of transport
// (as SessionInfo.Transport names it), what it leaves to other: "; the
// client's side is still open", or over a net.Pipe, whose Close ends both
// ways, " (a net.Pipe has no half-close): the client can no longer write".
func stillOpen(other Side, transport string) string {
	if transport == "pipe" {
		return pipeWhole + ": the " + other.String() + " can no longer write"
	}
	return "; the " + other.String() + "'s side is still open"
}

// closeWaitState says, after a CLOSE_WAIT finding's text, the state the
// holder's socket is in: TCP CLOSE-WAIT over TCP; over TLS only where the
// closer closed its TCP too (a TLS CloseWrite sends close_notify alone);
// over another conn (a unix socket, a pipe, UDP), or TLS over one, there
// is no such state.
func closeWaitState(transport string, closer Side) string {
	if under, ok := TLSUnder(transport); ok && under != "" {
		return closeWaitState(under, closer) // no TCP under its TLS
	}
	switch transport {
	case "":
		return ", its socket in TCP CLOSE-WAIT"
	case "tls":
		return ", its TCP socket in CLOSE-WAIT unless the " + closer.String() + " sent its TLS close_notify alone"
	}
	return ""
}

// closeWaitSS is the CLOSE_WAIT advice's last words, where the holder's
// socket is a TCP one: how to see them on its host.
func closeWaitSS(transport string) string {
	if under, ok := TLSUnder(transport); ok && under != "" {
		return closeWaitSS(under)
	}
	switch transport {
	case "":
		return " — `ss -tan state close-wait` on its host lists the sockets held so"
	case "tls":
		// A peer that sent its close_notify alone (tls.Conn.CloseWrite)
		// left its TCP open: the socket is ESTABLISHED, and ss's
		// close-wait list would not have it.
		return " — `ss -tan state close-wait` on its host lists the sockets held so where the peer's TCP closed too; one whose peer sent only its TLS close_notify is still ESTABLISHED there"
	}
	return ""
}

// stallText words a window-stall finding, the same in smux and yamux
// but for the rule by which each reports what its reader consumed, and
// for two cases only smux v2 has: bytes in flight above the window the
// reader announced (its writer starts at 256 KiB), and the reader's FIN
// (readerFIN), which does not let the writer go.
//
// No report for StallAfter is no proof that the reader stopped: smux v2
// sends a UPD at a stream's first read, then only once its reader has
// read half its MaxStreamBuffer since its latest (stream.tryReadV2,
// windowUpdateThreshold), and hashicorp/yamux a window update only once
// its reader has read half its MaxStreamWindowSize (Stream.
// sendWindowUpdate: delta < max/2 is omitted); the window a held writer
// is given after a report is that size, but for smux v2's first: its
// writer starts with 256 KiB whatever the reader's MaxStreamBuffer, so a
// smaller one's UPDs leave it full until the reader has caught up (a
// second slow report counts only StallAfter after the first:
// candidates). A yamux reader of 50 KB/s on the
// default 256 KiB window reports every 2.6 s, and was called "not
// reading" at 2 s.
//
// One report to a writer held StallAfter or more (slowLevel 1) shows a
// reader that read again, after a pause or slowly; a second, a slow one
// (slowLevel 2). A download whose reader paused 5 s, then read at
// 12 MB/s, was called "far slower than it writes" from the one report
// after its pause.
func stallText(f *Finding) string {
	ev := &f.Evidence
	upd := "UPD"
	rule := "smux v2 sends one only then, and at its first read"
	if f.Proto == Yamux {
		upd, rule = "window update", "yamux sends one only then"
	}
	reader := fmt.Sprintf("its reader, the %s, is not reading, or has read less than half the window since its latest %s (%s)", f.Dir.Reverse().Sender(), upd, rule)
	switch ev.slowLevel() {
	case 1:
		reader = fmt.Sprintf("its reader, the %s, paused, or reads far slower than it writes: its latest %s came after the writer had waited %s",
			f.Dir.Reverse().Sender(), upd, fmtDur(ev.Slow))
	case 2:
		reader = fmt.Sprintf("its reader, the %s, reads, but far slower than it writes: its latest %s came after the writer had waited %s",
			f.Dir.Reverse().Sender(), upd, fmtDur(ev.Slow))
	case 3:
		reader += fmt.Sprintf(": that came %s ago, after the writer had waited %s", fmtDur(ev.slowQuiet), fmtDur(ev.Slow))
	}
	if ev.readerFIN && f.Proto == Yamux {
		// hashicorp's yamux: Close in streamEstablished sends FIN and
		// nothing else (no window update, its receive buffer kept); the
		// writer, in streamRemoteClose, may write, and waits in Write
		// for a window that never comes until the closer's closeTimeout
		// (StreamCloseTimeout) sends RST: then ErrConnectionReset.
		rd := f.Dir.Reverse().Sender()
		reader = fmt.Sprintf("its reader, the %s, closed the stream (its FIN came) without reading the %s it was sent: yamux's Close sends only a FIN, frees no window and sends no window update, so the %s's Write waits until the %s's StreamCloseTimeout (5 min by default; none where it is 0, or in yamux before 2021) resets the stream, and then fails with \"connection reset\"",
			rd, fmtBytes(ev.Bytes), f.Dir.Sender(), rd)
	} else if ev.readerFIN {
		// smux v2's writeV2 waits on chUpdate, its deadline, its own
		// close, the session's: not on the peer's FIN (fin() closes
		// chFinEvent only), and a reader that called Close sends no UPD
		// again. No forgotten Close: the Write cannot return to call it.
		writer, rd := f.Dir.Sender(), f.Dir.Reverse().Sender()
		reader = fmt.Sprintf("its reader, the %s, sent FIN with %s unread, and smux v2's Write does not return at the peer's FIN: unless the %s half-closed with CloseWrite and reads on, no UPD comes, and the %s's Write waits for its write deadline, its own Close, or the session's end (smux before v1.5.55 failed it with io.EOF at the FIN; then the %s has not closed the stream since)",
			rd, fmtBytes(ev.Bytes), rd, writer, writer)
	}
	text := fmt.Sprintf("stream %d: the %s's writer has been held by a full %s window for %s — %s",
		f.Stream, f.Dir.Sender(), fmtBytes(ev.Window), fmtDur(ev.Age), reader)
	if ev.Bytes > ev.Window {
		// smux v2: the writer filled the 256 KiB window it starts with
		// before the reader's first UPD announced a smaller one
		// (MaxStreamBuffer, 64 KiB by default). It writes on only once
		// in-flight is below the window (writeV2: win := peerWindow −
		// inflight; win > 0), not after half a window's reading.
		text = fmt.Sprintf("stream %d: the %s's writer has been held for %s: %s in flight (sent, not consumed per the %s's latest %s) against the %s window it announced; it writes on once a %s reports over %s more consumed — %s",
			f.Stream, f.Dir.Sender(), fmtDur(ev.Age), fmtBytes(ev.Bytes), f.Dir.Reverse().Sender(), upd, fmtBytes(ev.Window), upd, fmtBytes(ev.Bytes-ev.Window), reader)
	}
	if ev.Count > 1 {
		text += fmt.Sprintf(" (%d streams of this session stalled this way)", ev.Count)
	}
	return text
}

// holder names the side that holds a CLOSE_WAIT finding's session.
func holder(f *Finding) string { return f.Dir.Sender().String() }

// describeYamux words a finding of a yamux session, from what
// hashicorp/yamux v0.1.2 does.
func describeYamux(f *Finding, session uint64) (text, advice string) {
	ev := &f.Evidence
	sender, receiver := f.Dir.Sender(), f.Dir.Reverse().Sender()
	switch f.Code {
	case CodeLeak:
		if !f.HasDir {
			return leakOneWay(f, leakText(f),
				"if they are not meant to live this long, a side forgot Close(): yamux keeps every stream, and its receive buffer, until both sides have sent FIN or one sent RST")
		}
		return leakOneWay(f, leakText(f),
			fmt.Sprintf("call Close() on the %s's stream when it is done: yamux keeps a stream until both sides have sent FIN (the other side's StreamCloseTimeout, 5 min by default, ends it with RST; yamux before 2021, and libp2p's go-yamux, have none and keep it until the session ends)", sender))
	case CodeWindowStall:
		if ev.readerFIN {
			return stallText(f), fmt.Sprintf("have the %s read stream %d to io.EOF (or the %s stop writing) before it closes the stream: its Close frees nothing for the writer; give the %s's writes a deadline (SetWriteDeadline), or have it Close the stream, which ends a held Write (\"stream closed\")",
				receiver, f.Stream, sender, sender)
		}
		return stallText(f), fmt.Sprintf("have the %s read stream %d: yamux sends a WINDOW_UPDATE, which lets the writer go on, only as its reader consumes, and its Close sends only a FIN, which frees no window (the writer then waits for the closer's StreamCloseTimeout, 5 min by default, to reset the stream); raise MaxStreamWindowSize only if the reader is merely slow", receiver, f.Stream)
	case CodeSessionBlocked:
		head, why := blockedSign(f, " the connection")
		text := fmt.Sprintf("session %d is blocked: %s, with %s open; stream %d was sent %s",
			session, head, plural(ev.Count, "stream"), f.Stream, fmtBytes(ev.Bytes))
		if why != "" {
			text += " — " + why
		}
		if f.Stream == 0 {
			text = blockedUnseen(f, session)
		}
		if why != "" {
			// A yamux reader is slow only as its process is, or, behind a
			// held write, its path: its own reader never waits for a stream.
			causes := "a hung or overloaded process"
			if ev.Sign == SignWrite {
				causes += ", a slow or dead path"
			}
			return text,
				fmt.Sprintf("find out why the %s reads the connection slowly or not at all (%s: yamux's own reader never waits for a slow stream); yamux fails each write that waits longer than ConnectionWriteTimeout (10 s), and its keepalive, whose ping waits behind the held bytes too, ends the session when a ping gets no answer that long", receiver, causes)
		}
		return text,
			fmt.Sprintf("find out why the %s stopped reading the connection (a hung process, a dead path: yamux's own reader never waits for a slow stream); yamux fails each write that waits longer than ConnectionWriteTimeout (10 s), and its keepalive, whose ping cannot go out either, then ends the session", receiver)
	case CodeKeepalive:
		advice = fmt.Sprintf("find out why the %s stopped; the %s's yamux ends the session when a keepalive ping gets no answer within ConnectionWriteTimeout (10 s): \"keepalive timeout\" — redial then", sender, receiver)
		switch {
		case ev.Ping != 0:
			// Opened by the ping: the silent side may have sent none.
			nothing := fmt.Sprintf("has sent nothing for %s", fmtDur(ev.Age))
			if ev.Unheard {
				// No frame of its own to count from.
				nothing = fmt.Sprintf("has sent nothing since the session began, %s ago", fmtDur(ev.Age))
				if f.info.Proxied && f.Dir == ServerToClient {
					// Its silence counts from attach's dial of the
					// server (Session.audibleFrom), not its accept.
					nothing = fmt.Sprintf("has sent nothing since attach connected the session to the server, %s ago", fmtDur(ev.Age))
				}
				if f.joined {
					nothing = fmt.Sprintf("has sent nothing in the %s the capture has seen of the session", fmtDur(ev.Age))
				}
			}
			if ev.GaveUp {
				// Its sender's clock stopped as it closed.
				return fmt.Sprintf("the %s %s; the %s's ping went %s without its answer, which yamux sends at once, and then the %s %s (yamux's keepalive gives up on a ping unanswered for ConnectionWriteTimeout, 10 s by default): the %s is frozen or gone",
					sender, nothing, receiver, fmtDur(ev.Ping), receiver, ClosedIts(f.info.Transport), sender), advice
			}
			return fmt.Sprintf("the %s %s, and the %s's ping has waited %s for its answer, which yamux sends at once: it is frozen or gone",
				sender, nothing, receiver, fmtDur(ev.Ping)), advice
		case ev.Borrowed && ev.FirstPing:
			// The other side has pinged once: Every is the time to that
			// ping, not how often its pings come.
			return fmt.Sprintf("the %s has sent nothing, not even an answer to the %s's ping, for %s; that ping, the %s's first, came %s into the session: it is frozen or gone",
				sender, receiver, fmtDur(ev.Age), receiver, fmtDur(ev.Every)), advice
		case ev.Borrowed:
			// It sent no ping of its own: the cadence is the other
			// side's, whose latest ping it has not answered (yamux
			// pings again only after the answer).
			return fmt.Sprintf("the %s has sent nothing, not even an answer to the %s's keepalive ping, for %s; the %s's pings came every %s: it is frozen or gone",
				sender, receiver, fmtDur(ev.Age), receiver, fmtDur(ev.Every)), advice
		}
		return fmt.Sprintf("the %s has sent nothing, not even a keepalive ping or its answer, for %s; its pings came every %s: it is frozen or gone",
			sender, fmtDur(ev.Age), fmtDur(ev.Every)), advice
	case CodeUnanswered:
		if ev.Silent {
			return silentUnanswered(f)
		}
		them := "them"
		if ev.Count == 1 {
			them = "it"
		}
		late := ""
		// yamux's sendFlags gives the ACK only to a stream still
		// SYN-received: one whose FIN came before AcceptStream is
		// accepted with no ACK on the wire.
		switch {
		case ev.FinFirst == 0:
		case ev.FinFirst < ev.Count:
			late = fmt.Sprintf(", or accepted the %d of them half-closed before any ACK only after the %s's FIN, for which yamux sends no ACK: the wire looks the same", ev.FinFirst, sender)
		case ev.Count == 1:
			late = fmt.Sprintf(", or accepted it only after the %s's FIN (it was half-closed before any ACK), for which yamux sends no ACK: the wire looks the same", sender)
		default:
			late = fmt.Sprintf(", or accepted them only after the %s's FIN (all %d were half-closed before any ACK), for which yamux sends no ACK: the wire looks the same", sender, ev.FinFirst)
		}
		if ev.refused != 0 {
			// The acceptor reset a later SYN with no ACK, having sent no
			// GoAway: its accept backlog was full (watchRefused).
			return fmt.Sprintf("%s opened by the %s got no ACK for %s or more (the oldest, stream %d, %s ago) while the %s still sends, and the %s's accept backlog was full when it reset stream %d, opened after the oldest, on its SYN with no ACK, as yamux does to a new stream once AcceptBacklog streams wait for AcceptStream (\"backlog exceeded\"): its Accept loop is not keeping up%s",
					plural(ev.Count, "stream"), sender, fmtDur(ev.Limit), f.Stream, fmtDur(ev.Age), receiver, receiver, ev.refused, late),
				fmt.Sprintf("the %s's Accept loop must keep up: call AcceptStream (which sends the ACK) in a loop that hands each stream to a goroutine at once; or raise the %s's AcceptBacklog (256 by default) to the %s's or more, whose OpenStream blocks once as many of its SYNs as its own AcceptBacklog wait for their ACK, so that it waits instead of having its streams reset (a Read or Write on a reset stream fails with \"connection reset\"); once a SYN has waited StreamOpenTimeout (75 s by default) the %s's yamux closes the whole session, with no RST or GoAway (yamux before 2021 has no StreamOpenTimeout: it waits)",
					receiver, receiver, sender, sender)
		}
		return fmt.Sprintf("%s opened by the %s got no ACK for %s or more (the oldest, stream %d, %s ago) while the %s still sends: the %s is not accepting %s%s",
				plural(ev.Count, "stream"), sender, fmtDur(ev.Limit), f.Stream, fmtDur(ev.Age), receiver, receiver, them, late),
			fmt.Sprintf("the %s must call AcceptStream (which sends the ACK) in a loop; the %s's OpenStream blocks once as many SYNs as its own AcceptBacklog (256 by default) wait for their ACK, and once one has waited StreamOpenTimeout (75 s by default) the %s's yamux closes the whole session, with no RST or GoAway — not for a stream its %s half-closed before the ACK, whose Close ends that wait (yamux before 2021 has no StreamOpenTimeout: it waits)", receiver, sender, sender, sender)
	case CodeProtocol:
		if ev.Fatal != 0 {
			return fatalYamux(f)
		}
		if ev.pair(f.Dir) != "" || ev.Same {
			return noMux(f, "yamux", ev.YamuxViolation.String())
		}
		if ev.PrefixToo != 0 {
			return serverPrefix(f, "yamux", ev.YamuxViolation.String())
		}
		if ev.skipCut(f.Dir) {
			return wrongSkip(f, "yamux", ev.YamuxViolation.String())
		}
		if ev.misdecoded(Yamux) {
			// Each end's first bytes are smux's, and each end answers the
			// other: a connection muxtop decodes by its first byte would
			// have been decoded as smux. It was told yamux.
			who, advice := "told --protocol yamux", "nothing is wrong with the two ends: muxtop's --protocol yamux is; drop it (muxtop tells smux from yamux by each connection's first byte) or give --protocol smux"
			if f.info.ToldBy != ToldByFlag {
				who, advice = toldWho(f.info.ToldBy, "yamux"), "nothing is wrong with the two ends: muxtop's decoding is; "+toldFix(f.info.ToldBy, "yamux", "smux", false)
			}
			return fmt.Sprintf("the %s sent %s, not yamux (%s at offset %d), and the %s sent %s: both ends speak smux, and muxtop, %s, decoded their connection as yamux",
				sender, ev.Guess, ev.YamuxViolation, ev.Offset, receiver, ev.PeerGuess, who), advice
		}
		if ev.framed > 0 && ev.Offset > 0 {
			return protocolMidStream(f, "yamux", ev.YamuxViolation.String(), "yamux ends the session at once")
		}
		advice := fmt.Sprintf("fix the %s's address or protocol (a prefix before the mux, such as Consul's, needs --skip); yamux ends the session at once", sender)
		if ev.Guess.IsSmux() && !ev.PeerAnswered {
			// The other end has neither framed nor hung up yet: it has not
			// said what it speaks.
			fix := "drop --protocol yamux (or give --protocol smux)"
			if f.info.ToldBy != ToldByFlag {
				fix = toldFix(f.info.ToldBy, "yamux", "smux", false)
			}
			advice = fmt.Sprintf("if both ends speak smux, they are fine and muxtop decoded the connection as yamux: %s; otherwise fix the %s's address or protocol; yamux ends the session at once", fix, sender)
		}
		return fmt.Sprintf("the %s sent %s, not yamux (%s at offset %d): it %s",
			sender, ev.Guess, ev.YamuxViolation, ev.Offset, ev.Guess.HintAt("yamux")), advice
	case CodeNoReply:
		return noReplyText(f), noReplyAdvice(f)
	case CodeCloseWait:
		// hashicorp/yamux closes its session as its conn reads EOF
		// (recvLoop's exit, exitErr): an end that holds the connection is
		// not one yamux leaves so.
		return closeWaitText(f) + " (yamux closes its session when its conn reads EOF: this end's reader is stuck, or its application keeps the conn after the session let it go)",
			fmt.Sprintf("find what keeps the %s's conn open: a yamux Session closes it when the peer leaves, so close the conn the application wrapped, once the session's CloseChan fires, and look for a receive loop that stopped (a hung process)", holder(f))
	case CodeGoAway:
		if ev.GoAwayCode == yamux.GoAwayNormal {
			return fmt.Sprintf("the %s sent GoAway (normal): it accepts no new streams, and the %s's OpenStream fails with \"remote end is not accepting connections\"; open streams go on (if the %s runs libp2p's go-yamux, it ends the session instead)",
					sender, receiver, receiver),
				fmt.Sprintf("the %s is shutting down: have the %s open new streams on a new session, to another server if need be", sender, receiver)
		}
		if ev.GoAwayCode > yamux.GoAwayInternalError {
			// Not one of yamux's own codes: libp2p's go-yamux sends the
			// application's with Session.CloseWithError (session.go:293).
			return fmt.Sprintf("the %s sent GoAway (code %d, not one of yamux's own: an application's reason, as libp2p's CloseWithError sends): it ends the session", sender, ev.GoAwayCode),
				fmt.Sprintf("the %s's application closed the session on purpose: what its code %d means is its own (go-yamux at the %s logs \"received go away with error code: %d\"); redial if that was not meant", sender, ev.GoAwayCode, receiver, ev.GoAwayCode)
		}
		return fmt.Sprintf("the %s sent GoAway (%s): it ends the session", sender, yamux.GoAwayName(ev.GoAwayCode)),
			fmt.Sprintf("the %s's log says why (\"[ERR] yamux: ...\"); redial", sender)
	case CodeSessionLeak:
		return sessionLeakText(f), "a client calls yamux.Client per request, or on every reconnect, and never calls Session.Close() on the session it replaces: yamux keeps each abandoned session, its recvLoop, send and keepalive goroutines and its buffers, until Close() or until its connection ends: a live peer answers keepalive's pings whatever its own config, so keepalive ends only a session whose peer vanished without a word; dial once (or keep a fixed pool), open a stream per request on it (OpenStream), and Close() a session before dialing its replacement. " + sessionLeakCheck(f, "(*Session).recvLoop, send and keepalive")
	}
	return describe(f, session, 0)
}

// sessionLeakText states SESSION_LEAK f.
func sessionLeakText(f *Finding) string {
	ev := &f.Evidence
	holding := ""
	switch {
	case ev.Streams == ev.PiledSessions && ev.PiledSessions > 1:
		holding = ", each holding a stream open"
	case ev.Streams != 0:
		holding = fmt.Sprintf(", %d holding a stream open", ev.Streams)
	}
	// The sessions piled, and the dials they came from, which the
	// threshold counts: 52 dials of 2000 sessions are no 2000 piled.
	piled := fmt.Sprintf("%d of them piled up: dialed one by one", ev.PiledSessions)
	if ev.PiledSessions != ev.Piled {
		piled = fmt.Sprintf("%d of them piled up, from %s made", ev.PiledSessions, plural(ev.Piled, "separate dial"))
	}
	return fmt.Sprintf("%s idle %s, the oldest for %s; %s while an older one sat idle, none in the place of one that ended, none opening a stream past its first idle time%s: a client dials new sessions and leaves the old ones open",
		plural(ev.Count, "session"), groupWhere(f), fmtDur(ev.Idle), piled, holding)
}

// sessionLeakResolvedText states resolved SESSION_LEAK f's counts at its
// resolution, asserting no leak: its piled sessions ended, closed or
// were used again, and there may be none left ("no session idle …").
func sessionLeakResolvedText(f *Finding) string {
	ev := &f.Evidence
	if ev.Count == 0 {
		return "no session idle " + groupWhere(f) + ", none piled up"
	}
	piled := "none of them piled up"
	switch {
	case ev.PiledSessions == 0:
	case ev.PiledSessions != ev.Piled:
		piled = fmt.Sprintf("%d of them still piled up, from %s", ev.PiledSessions, plural(ev.Piled, "separate dial"))
	default:
		piled = fmt.Sprintf("%d of them still piled up", ev.PiledSessions)
	}
	return fmt.Sprintf("%s idle %s, the oldest for %s; %s", plural(ev.Count, "session"), groupWhere(f), fmtDur(ev.Idle), piled)
}

// sessionLeakCheck is SESSION_LEAK f's advice on confirming it, naming
// the mux's goroutines of a session, and how to tell the sessions'
// processes apart over f's transport.
func sessionLeakCheck(f *Finding, goroutines string) string {
	apart := "Client processes behind one address (a NAT, a proxy) that connected one after another and sit idle look the same: if the sessions' client ports belong to different processes (ss -tnp), nothing leaks"
	switch f.Evidence.Transport {
	case "unix":
		apart = "Client processes that connected to the socket one after another and sit idle look the same: if the sessions' sockets belong to different processes (ss -xp), nothing leaks"
	case "udp":
		apart = "Client processes behind one address (a NAT, a proxy) that connected one after another and sit idle look the same: if the sessions' client ports belong to different processes (ss -unp), nothing leaks"
	}
	return "Confirm with a goroutine dump of the client (SIGQUIT, or pprof's /debug/pprof/goroutine?debug=2): a " + goroutines +
		" goroutine per session, far more than the sessions it means to hold. " + apart +
		" (raise the threshold, --session-leak, or FindingsConfig.SessionLeak where a program embeds the tap; --session-leak 0 turns it off, as a negative FindingsConfig.SessionLeak does)"
}

// describe words a finding: the problem with its numbers, and what to do.
func describe(f *Finding, session uint64, version uint8) (text, advice string) {
	ev := &f.Evidence
	sender, receiver := f.Dir.Sender(), f.Dir.Reverse().Sender()
	switch f.Code {
	case CodeLeak:
		if !f.HasDir {
			return leakOneWay(f, leakText(f),
				"if they are not meant to live this long, a side forgot Close(): smux keeps every stream, and its buffers, until both sides have sent FIN")
		}
		closeIt := fmt.Sprintf("call Close() on the %s's stream when it is done: smux keeps a stream, and its buffers, until both sides have sent FIN", sender)
		if ev.holSid != 0 {
			text, advice := leakHolText(f), leakHolAdvice(f, closeIt)
			return leakOneWay(f, text, advice)
		}
		return leakOneWay(f, leakText(f), closeIt)
	case CodeWindowStall:
		if ev.readerFIN {
			return stallText(f), fmt.Sprintf("give the %s's writes a deadline (SetWriteDeadline), so that a Write held after the peer's FIN returns and it can Close the stream; have the %s read stream %d to io.EOF before closing it, or the %s stop writing, and Close, once its Read returns io.EOF: a Close from the reading goroutine ends a Write held in another",
				sender, receiver, f.Stream, sender)
		}
		return stallText(f), fmt.Sprintf("have the %s read stream %d, or close it: smux v2 sends a UPD, which lets the writer go on, only as its reader consumes; raise MaxStreamBuffer only if the reader is merely slow", receiver, f.Stream)
	case CodeSessionBlocked:
		what := "was sent " + fmtBytes(ev.Bytes)
		if version == 2 {
			what = "has " + fmtBytes(ev.Bytes) + " unread"
		}
		head, why := blockedSign(f, "")
		if why != "" {
			why += "; "
		}
		text = fmt.Sprintf("session %d is blocked: %s, with %s open; stream %d %s — %sone slow reader holds every stream",
			session, head, plural(ev.Count, "stream"), f.Stream, what, why)
		if f.Stream == 0 {
			text = blockedUnseen(f, session)
		}
		if version == 0 {
			return text, "read every stream promptly, or close the ones nobody reads: smux's session-wide receive buffer (MaxReceiveBuffer) fills behind one unread stream in v1, and in v2 behind streams that together sit unread"
		}
		if version == 2 {
			full := " (the " + receiver.String() + "'s session-wide receive buffer, MaxReceiveBuffer, is full even with v2's windows)"
			if why != "" {
				// Or it is slow, or its path is: say only what smux does.
				full = " (in v2, with a window per stream, the " + receiver.String() + "'s smux stops reading only once its session-wide receive buffer, MaxReceiveBuffer, is full)"
			}
			return text + full,
				"read every stream promptly, or close the ones nobody reads; keep MaxReceiveBuffer above MaxStreamBuffer times the streams that may sit unread at once"
		}
		return text + " (in v1 one unread or slow stream holds every stream once smux's session-wide receive buffer, MaxReceiveBuffer, is full behind it)",
			"read every stream promptly, or close the ones nobody reads; with smux.Config.Version = 2 on both ends each stream has its own window, and one slow reader holds only its own stream"
	case CodeVersionMismatch:
		return fmt.Sprintf("the client speaks v%d, the server v%d: each end refuses the other's frames (\"invalid protocol\")",
				ev.Versions[ClientToServer], ev.Versions[ServerToClient]),
			"set smux.Config.Version to the same value on both ends; smux stops reading this session and keepalive closes it in 1-2 KeepAliveTimeouts (30-60 s by default)"
	case CodeKeepalive:
		if ev.Borrowed && f.Severity == Warning && ev.ownNOP {
			// A capture joined mid-session saw one NOP of its: keepalive
			// is on, its interval unknown.
			return fmt.Sprintf("the %s has sent nothing, not even a keepalive NOP, for %s, though the %s's NOPs come every %s: its keepalive is on (the capture, joined mid-session, has one NOP of its), but its interval is not known, so it may only be slower than the %s's (each smux side keeps its own KeepAliveInterval; this resolves at its next NOP), or the %s is frozen or gone; critical from %s of silence, smux's default KeepAliveTimeout: a %s at the defaults checks at every KeepAliveTimeout whether anything came since its previous check, and closes a session that received nothing within 30-60 s",
					sender, fmtDur(ev.Age), receiver, fmtDur(ev.Every), receiver, sender, fmtDur(BorrowedCritical), receiver),
				fmt.Sprintf("if it goes on, find out why the %s is silent (a stuck process or event loop, a dead path or NAT mapping); either way give its smux a KeepAliveInterval well under the %s's KeepAliveTimeout", sender, receiver)
		}
		if ev.Borrowed && f.Severity == Warning {
			// No NOP of its own yet, silent less than BorrowedCritical.
			return fmt.Sprintf("the %s has sent nothing, not even a keepalive NOP, for %s, though the %s's NOPs come every %s: it has sent no NOP of its own yet, so its keepalive may only be slower than the %s's (each smux side keeps its own KeepAliveInterval; this resolves at its first NOP), or it is off, or the %s is frozen or gone; critical from %s of silence, smux's default KeepAliveTimeout: a %s at the defaults checks at every KeepAliveTimeout whether anything came since its previous check, and closes a session that received nothing within 30-60 s",
					sender, fmtDur(ev.Age), receiver, fmtDur(ev.Every), receiver, sender, fmtDur(BorrowedCritical), receiver),
				fmt.Sprintf("if it goes on, find out why the %s is silent (a stuck process or event loop, a dead path or NAT mapping); either way give its smux a KeepAliveInterval well under the %s's KeepAliveTimeout", sender, receiver)
		}
		if ev.Borrowed {
			own, off := ", and no NOP of its own yet", "off or "
			if ev.ownNOP {
				own, off = ", and one NOP of its own in the capture, which joined mid-session", "" // its keepalive is on
			}
			return fmt.Sprintf("the %s has sent nothing, not even a keepalive NOP, for %s, though the %s's NOPs come every %s%s: it is frozen or gone, or its keepalive is %sno faster than smux's default KeepAliveTimeout (%s): a %s at the defaults checks at every KeepAliveTimeout whether anything came since its previous check, and closes a session that received nothing within 30-60 s",
					sender, fmtDur(ev.Age), receiver, fmtDur(ev.Every), own, off, fmtDur(BorrowedCritical), receiver),
				fmt.Sprintf("find out why the %s stopped (a stuck process or event loop, a dead path or NAT mapping), or give its smux a KeepAliveInterval well under the %s's KeepAliveTimeout; the %s's smux closes this session within 1-2 of its KeepAliveTimeouts — redial then", sender, receiver, receiver)
		}
		return fmt.Sprintf("the %s has sent nothing, not even a keepalive NOP, for %s; keepalive NOPs come every %s: it is frozen or gone, and smux closes a session that received nothing for a whole KeepAliveTimeout, checked at every KeepAliveTimeout: within 1-2 KeepAliveTimeouts (30-60 s by default)",
				sender, fmtDur(ev.Age), fmtDur(ev.Every)),
			fmt.Sprintf("find out why the %s stopped (a stuck process or event loop, a dead path or NAT mapping); the %s's smux closes this session within 1-2 of its KeepAliveTimeouts — redial then", sender, receiver)
	case CodeUnanswered:
		if ev.Silent {
			return silentUnanswered(f)
		}
		if version == 1 {
			// A v1 reader sends nothing when it reads: a stream served
			// but never answered looks the same.
			return fmt.Sprintf("%s opened by the %s got no answer for %s or more since the %s last wrote on them (the oldest, stream %d, first written on %s ago) while the %s still sends: the %s is not accepting them, or reads them and never writes back",
					plural(ev.Count, "stream"), sender, fmtDur(ev.Limit), sender, f.Stream, fmtDur(ev.Age), receiver, receiver),
				fmt.Sprintf("the %s must call AcceptStream in a loop and serve each stream; smux queues up to 1024 streams nobody accepted, then stops reading the session", receiver)
		}
		return fmt.Sprintf("%s opened by the %s got no answer for %s or more (the oldest, stream %d, %s ago) while the %s still sends: the %s is not accepting them",
				plural(ev.Count, "stream"), sender, fmtDur(ev.Limit), f.Stream, fmtDur(ev.Age), receiver, receiver),
			fmt.Sprintf("the %s must call AcceptStream in a loop and serve each stream; smux queues up to 1024 streams nobody accepted, then stops reading the session", receiver)
	case CodeDataAfterClose:
		return lateWords(f, version)
	case CodeProtocol:
		then := "smux stops reading the session and keepalive closes it in 1-2 KeepAliveTimeouts (30-60 s by default)"
		if r := ev.Violation.SmuxReaction(); r != decoder.SmuxReaction && r != "" {
			then = r // a rule older smux versions do not check
		}
		if ev.pair(f.Dir) != "" || ev.Same {
			return noMux(f, "smux", ev.Violation.String())
		}
		if ev.PrefixToo != 0 {
			return serverPrefix(f, "smux", ev.Violation.String())
		}
		if ev.skipCut(f.Dir) {
			return wrongSkip(f, "smux", ev.Violation.String())
		}
		if ev.misdecoded(Smux) {
			// Each end's first bytes are yamux's, and each end answers the
			// other: the ends are fine, and muxtop decoded them as smux,
			// forced to, or past a prefix it was not told of.
			prefixed := ev.Guess == wirekind.PrefixedYamux || ev.PeerGuess == wirekind.PrefixedYamux
			who := ""
			if f.info.ToldBy != ToldByFlag {
				who = ", " + toldWho(f.info.ToldBy, "smux") + ","
			}
			text := fmt.Sprintf("the %s sent %s, not smux (%s at offset %d), and the %s sent %s: both ends speak yamux, and muxtop%s decoded their connection as smux",
				sender, ev.Guess, ev.Violation, ev.Offset, receiver, ev.PeerGuess, who)
			if f.info.ToldBy != ToldByFlag {
				return text, "nothing is wrong with the two ends: muxtop's decoding is; " + toldFix(f.info.ToldBy, "smux", "yamux", prefixed)
			}
			if prefixed {
				return text, "nothing is wrong with the two ends: muxtop's decoding is; give --protocol yamux --skip 1: the client sends a byte before the mux (such as Consul's and Nomad's RPC type byte)"
			}
			return text, "nothing is wrong with the two ends: muxtop's decoding is; drop --protocol smux (muxtop tells smux from yamux by each connection's first byte) or give --protocol yamux"
		}
		if ev.framed > 0 && ev.Offset > 0 {
			return protocolMidStream(f, "smux", ev.Violation.String(), then)
		}
		advice := fmt.Sprintf("fix the %s's address or protocol; %s", sender, then)
		if ev.Guess.IsYamux() {
			// Consul's RPC port read without --skip 1: its client's type
			// byte is no yamux version, and the connection was taken for smux.
			advice = fmt.Sprintf("if both ends speak yamux, they are fine and muxtop decoded the connection as smux: give it --protocol yamux (with --skip 1 past a 1-byte prefix such as Consul's); otherwise fix the %s's address or protocol; %s", sender, then)
		}
		return fmt.Sprintf("the %s sent %s, not smux (%s at offset %d): it %s",
				sender, ev.Guess, ev.Violation, ev.Offset, ev.Guess.Hint()),
			advice
	case CodeNoReply:
		return noReplyText(f), noReplyAdvice(f)
	case CodeCloseWait:
		return closeWaitText(f) + " (smux does not close its conn when its recvLoop reads EOF; with keepalive off, or a KeepAliveTimeout longer than that, it never closes the session itself)",
			fmt.Sprintf("have the %s Close() its smux session when AcceptStream, OpenStream or a stream's Read fails (io.EOF, io.ErrClosedPipe): smux keeps the session, its goroutines and buffers until Close; or leave keepalive on (the default 10 s interval, 30 s KeepAliveTimeout), which closes a session that receives nothing%s", holder(f), closeWaitSS(ev.Transport))
	case CodeSessionLeak:
		return sessionLeakText(f), "a client calls smux.Client per request, or on every reconnect, and never calls Session.Close() on the session it replaces: smux keeps each abandoned session, its recvLoop, sendLoop and keepalive goroutines and its buffers, until Close(): keepalive ends it only where one end runs keepalive and the other sends nothing (smux does not echo a NOP, so that end closes the session after KeepAliveTimeout), and with keepalive at both ends (each one's NOPs keep the other's alive) or at neither nothing ends it while both processes live; dial once (or keep a fixed pool), open a stream per request on it (OpenStream), and Close() a session before dialing its replacement. " + sessionLeakCheck(f, "(*Session).recvLoop, sendLoop and keepalive")
	case CodeChurn:
		text := fmt.Sprintf("%d sessions opened and ended in the last %s, living %s each on average", ev.Count, fmtDur(ev.Limit), fmtDur(ev.Age))
		if ev.Peak > ev.Count {
			text = fmt.Sprintf("%d sessions opened and ended in the last %s (%d at the peak), living %s each on average", ev.Count, fmtDur(ev.Limit), ev.Peak, fmtDur(ev.Age))
		}
		advice := "keep one session (or a pool) and open a stream per request on it: that is what a mux is for; the session-ended reasons say why sessions end — where dials fail, back off between them"
		if ev.Upstream == 0 && ev.ServerClosed*2 > ev.Count {
			// Most were closed by their server before it answered anything:
			// it accepts connections and drops them, and the clients redial.
			srv := "the " + ev.ClosedBy
			closed := fmt.Sprintf("%s closed each within %s of its start, before answering", srv, fmtDur(ev.ServerClosedWithin))
			if ev.ServerClosed < ev.Count {
				closed = fmt.Sprintf("%s closed %d of them, each within %s of its start, before answering", srv, ev.ServerClosed, fmtDur(ev.ServerClosedWithin))
			}
			return text + ": " + closed + ", and the clients dialed again",
				fmt.Sprintf("check %s's connection limit or health: it accepts connections and closes (or resets) them before sending anything — a server at its connection limit, a load balancer with no backend, a proxy refusing the client; the clients are not at fault for these. Then, if they dial a session per request: %s", srv, advice)
		}
		if ev.Held*2 > ev.Count {
			// Most connections outlived their client's close: the
			// server held the sessions on (smux's does, to its keepalive).
			text += " (each until its client closed it; the server kept most of them open after that: an smux server closes a session its client left only when its keepalive acts, 10 s or more later, unless its code calls Close once AcceptStream fails)"
		}
		if ev.Upstream == 0 {
			if ev.together {
				// All open at once: a batch, which a loop of redials is not.
				return text + ": all of them open at once, each dialed before the first ended: one batch of sessions dialed together (clients that each dial their own, or one that dials a session per concurrent request), not a loop of redials", advice
			}
			return text + ": a client redialing in a loop, or clients that dial a session per request", advice
		}
		// A proxy closed these clients because their upstream failed:
		// the clients redial, and the upstream is the cause.
		up := fmt.Sprintf("the upstream %s %s", ev.UpstreamAddr, ev.UpstreamFailure.phrase())
		check := fmt.Sprintf("check the upstream %s: %s", ev.UpstreamAddr, ev.UpstreamFailure.check())
		if ev.Upstream >= ev.Count {
			return text + ": each ended because " + up + ", and the clients dialed again",
				check + " The clients are not at fault: muxtop's proxy closes each one whose connection to the upstream fails"
		}
		return fmt.Sprintf("%s, %d of them because %s: clients redialing in a loop, or clients that dial a session per request", text, ev.Upstream, up),
			check + " Then: " + advice
	}
	return f.Code.String(), ""
}

// lateWords words DATA_AFTER_CLOSE finding f of an smux session of
// version, each reading for its own frames: those after both sides' FINs
// to a receiver that had nothing unread (Evidence.AfterBoth), which smux
// discards whatever the receiver called; those its receiver may have
// read with nothing on the wire to show it (Evidence.Unseen: all others
// in v1; in v2 those that fit in what a reader reads with no UPD), which
// smux discards after Close and delivers after CloseWrite, both readings;
// and in v2 the rest, whose read would have drawn a UPD, and none came
// yet: Close, or a reader that has not read them yet (a later UPD takes
// them out of the count: reviseLate). Where they mix it counts each.
func lateWords(f *Finding, version uint8) (text, advice string) {
	ev := &f.Evidence
	sender, receiver := f.Dir.Sender(), f.Dir.Reverse().Sender()
	where := fmt.Sprintf("stream %d", f.Stream)
	if ev.Streams > 1 {
		where = fmt.Sprintf("%d streams (first stream %d)", ev.Streams, f.Stream)
	}
	gone, unseen := min(ev.AfterBoth, ev.Count), ev.Unseen
	if version != 2 {
		unseen = ev.Count - gone // a v1 reader sends nothing when it reads
	}
	unseen = min(unseen, ev.Count-gone)
	unread := ev.Count - gone - unseen
	wrote := fmt.Sprintf("the %s wrote %s (%s) to %s", sender, plural(ev.Count, "frame"), fmtBytes(ev.Bytes), where)
	release := fmt.Sprintf("(smux v1.5.58 and later: CloseWrite came in v1.5.55, and until v1.5.58 what arrives after it is lost if the %s's FIN comes before it is read)", sender)
	updRule := "smux sends a reader's UPD at its first read and then once it has read half its MaxStreamBuffer, 32 KiB at the defaults, since the last"
	goneAdvice := fmt.Sprintf("the %s should write nothing on a stream after its own FIN (smux's Write fails once CloseWrite or Close sent it) nor once a read returns io.EOF (the peer's FIN): once both sides have sent FIN, smux drops the stream and discards what comes to it", sender)
	unreadAdvice := fmt.Sprintf("if the %s called Close, smux discarded them, and the %s should stop writing a stream once a read returns io.EOF (the peer's FIN), and a %s that still wants data should half-close with CloseWrite, not Close %s; if it half-closed with CloseWrite and reads them later, they were delivered and nothing is wrong: its first read's UPD will show it, and the finding counts them out then", receiver, sender, receiver, release)
	why := "v1's wire does not tell the two apart (in v2 a UPD does, for more than a reader reads without sending one)"
	if version == 2 {
		why = fmt.Sprintf("the wire does not tell the two apart: the %s may have read these without sending a UPD", receiver)
	}
	unseenAdvice := fmt.Sprintf("if the %s called Close, smux discarded them, and the %s should stop writing a stream once a read returns io.EOF (the peer's FIN); if it half-closed with CloseWrite to read on, as a %s that still wants data should, they were delivered and nothing is wrong %s — %s",
		receiver, sender, receiver, release, why)
	switch ev.Count { // unseen first: its words are v1's, and a zero count's
	case unseen:
		text = fmt.Sprintf("%s after the %s had sent FIN: smux discards them if the %s called Close, and delivers them only after CloseWrite", wrote, receiver, receiver)
		if version == 2 {
			text += fmt.Sprintf(" — the wire does not show whether the %s read them: %s", receiver, updRule)
		}
		return text, unseenAdvice
	case unread:
		return fmt.Sprintf("%s after the %s had sent FIN, and the %s has sent no UPD consuming them, though reading them would send one: either it called Close, and smux discarded them, or it half-closed with CloseWrite and has not read them yet (%s)", wrote, receiver, receiver, updRule), unreadAdvice
	case gone:
		return fmt.Sprintf("%s after both sides had sent FIN: smux discards them whichever call the %s made (it drops a stream once both FINs are in and all that came before is read, and the %s had nothing unread)", wrote, receiver, receiver), goneAdvice
	}
	// A mix: each count with its reading. The last of two is "the other".
	type part struct {
		n            uint64
		text, advice string
		adviceLabel  string
	}
	var parts []part
	if gone > 0 {
		parts = append(parts, part{gone, fmt.Sprintf("after both sides had sent FIN, which smux discards whichever call the %s made", receiver),
			goneAdvice, "after both sides' FINs, which smux discarded: "})
	}
	if unread > 0 {
		parts = append(parts, part{unread, fmt.Sprintf("with no UPD from the %s yet, though reading them would send one (%s): either it called Close, and smux discarded them, or it half-closed with CloseWrite and has not read them yet", receiver, updRule),
			unreadAdvice, fmt.Sprintf("with no UPD, which the %s has not read: ", receiver)})
	}
	if unseen > 0 {
		what := fmt.Sprintf("the %s may have read with nothing on the wire to show it (%s)", receiver, updRule)
		if version != 2 {
			what = fmt.Sprintf("the %s may have read (a v1 reader sends nothing when it reads)", receiver)
		}
		parts = append(parts, part{unseen, fmt.Sprintf("%s: smux discards those if the %s called Close, and delivers them only after CloseWrite", what, receiver),
			unseenAdvice, fmt.Sprintf("which the %s may have read: ", receiver)})
	}
	var texts, advices []string
	for i, p := range parts {
		switch {
		case i == 0:
			texts = append(texts, fmt.Sprintf("%d of them %s", p.n, p.text))
			advices = append(advices, fmt.Sprintf("for the %d %s%s", p.n, p.adviceLabel, p.advice))
		case i == len(parts)-1 && len(parts) == 2:
			texts = append(texts, fmt.Sprintf("the other %d %s", p.n, p.text))
			advices = append(advices, fmt.Sprintf("for the other %d, %s%s", p.n, strings.TrimPrefix(p.adviceLabel, "with no UPD, "), p.advice))
		default:
			texts = append(texts, fmt.Sprintf("%d %s", p.n, p.text))
			advices = append(advices, fmt.Sprintf("for the %d %s%s", p.n, p.adviceLabel, p.advice))
		}
	}
	return fmt.Sprintf("%s after the %s had sent FIN: %s", wrote, receiver, strings.Join(texts, "; ")), strings.Join(advices, "; ")
}

// noMux words PROTOCOL finding f of a connection whose two ends speak one
// other protocol to each other, decoded as mux ("smux", "yamux"), whose
// violation is named violation: the ends are fine, and there is no mux to
// watch, at least from the connection's start. The protocol is one
// wirekind pairs (HTTP, TLS), or bytes of no protocol it names that both
// ends open with (Evidence.Same), or libp2p's multistream-select, which
// negotiates a mux that may follow it. The advice points at what picked
// the connection: attach's upstream, read's and sniff's port or filter,
// or a tap's wrapped conn.
func noMux(f *Finding, mux, violation string) (text, advice string) {
	ev := &f.Evidence
	sender, other := f.Dir.Sender(), f.Dir.Reverse().Sender()
	proto := ev.pair(f.Dir)
	switch {
	case ev.Guess == wirekind.Multistream:
		text = fmt.Sprintf("the %s sent %s, not %s (%s at offset %d), and the %s sent it too: both ends negotiate with multistream-select, with which libp2p picks its security and its muxer (yamux) before it starts them",
			sender, ev.Guess, mux, violation, ev.Offset, other)
		advice = "nothing is wrong with the two ends: the connection begins with libp2p's negotiation, not " + mux +
			"; the mux then runs inside TLS or Noise (libp2p's defaults), with nothing on the wire to watch, or, where the transport is not encrypted, its yamux follows each end's negotiation: "
		switch {
		case f.info.Proxied:
			advice += "attach decodes a connection from its first byte and cannot pass a negotiation both ends send; capture the connection instead (muxtop sniff, or tcpdump and muxtop read, without --port), which finds the yamux after it"
		case f.info.Captured:
			advice += "read and sniff find the yamux after it by themselves, without --port or a filter (which decode a connection from its first byte), --skip or --prefix"
		default:
			advice += "wrap the connection libp2p runs yamux on, after its negotiation, or capture it (muxtop sniff, without --port), which finds the yamux after it"
		}
		return text, advice
	case proto == "": // Same: bytes of no protocol muxtop names
		text = fmt.Sprintf("the %s sent %s, not %s (%s at offset %d), and the %s opened with the same bytes (% x): both ends speak one other protocol to each other, and the connection carries no %s from its start",
			sender, ev.Guess, mux, violation, ev.Offset, other, ev.SameStart, mux)
		proto = "that protocol"
	case proto == "TLS":
		return tlsNoMux(f, mux, violation)
	default:
		text = fmt.Sprintf("the %s sent %s, not %s (%s at offset %d), and the %s sent %s: both ends speak %s, and the connection carries no %s",
			sender, ev.Guess, mux, violation, ev.Offset, other, ev.PeerGuess, proto, mux)
	}
	advice = "nothing is wrong with the two ends, and there is no " + mux + " here to watch: "
	switch {
	case f.info.Proxied:
		advice += fmt.Sprintf("muxtop attach's upstream, %s, speaks %s, not %s; give attach the %s server's address", f.info.Server, proto, mux, mux)
	case f.info.Captured:
		advice += fmt.Sprintf("muxtop's --port or filter picks connections to %s, which speaks %s, not %s; give the %s server's port (without --port or a filter, read and sniff skip a connection that is neither smux nor yamux, with a notice)",
			f.info.Server, proto, mux, mux)
	default:
		advice += fmt.Sprintf("the connection muxtop's tap wraps carries %s, not %s; wrap the %s session's connection instead", proto, mux, mux)
	}
	if ev.Same {
		advice += "; if a mux follows what both ends send first, as after a negotiation, read and sniff find it there without --port or a filter"
	}
	return text, advice
}

// tlsNoMux is noMux of a connection both ends speak TLS on: a mux inside
// the TLS is encrypted, so neither a capture nor attach can show it, and
// --port, a filter or another address is no cure: only a tap of the
// *tls.Conn under the mux sees its frames. Or the server speaks TLS and
// no mux at all: the other reading keeps noMux's pointer.
func tlsNoMux(f *Finding, mux, violation string) (text, advice string) {
	ev := &f.Evidence
	sender, other := f.Dir.Sender(), f.Dir.Reverse().Sender()
	text = fmt.Sprintf("the %s sent %s, not %s (%s at offset %d), and the %s sent %s: both ends speak TLS, and the connection carries no %s in the clear: one inside the TLS is encrypted, and nothing on the wire shows it",
		sender, ev.Guess, mux, violation, ev.Offset, other, ev.PeerGuess, mux)
	inside := "if the " + mux + " session runs inside the TLS, only the program sees its frames: tap the conn under the mux, the *tls.Conn (tap.Wrap, or tap.WrapListener(tls.NewListener(ln, cfg), …)), and watch it with muxtop read of the program's pcapout.Live URL (README: Watch it live)"
	switch {
	case f.info.Proxied:
		advice = "nothing is wrong with the two ends: attach cannot decode a mux inside TLS; " + inside +
			fmt.Sprintf("; if not, attach's upstream, %s, speaks TLS and no %s: give attach the %s server's address", f.info.Server, mux, mux)
	case f.info.Captured:
		advice = "nothing is wrong with the two ends, and no capture, --port or filter shows a mux inside TLS: " + inside +
			fmt.Sprintf("; if not, %s speaks TLS and no %s: give the %s server's port", f.info.Server, mux, mux)
	default:
		advice = "nothing is wrong with the two ends: muxtop's tap wraps the conn under the TLS, whose bytes are encrypted; wrap the *tls.Conn the " + mux + " session runs on instead (tap.Wrap, or tap.WrapListener(tls.NewListener(ln, cfg), …))"
	}
	return text, advice
}

// serverPrefix words the server's PROTOCOL finding f, decoded as mux
// ("smux", "yamux"), whose violation is named violation, where its first
// bytes are those the client's prefix, passed by --skip, began with
// (Evidence.PrefixToo): both ends send a prefix first, as a negotiation,
// and --skip passes the client's alone. A capture finds a mux after a
// prefix both ends send by itself, from the connection's start.
func serverPrefix(f *Finding, mux, violation string) (text, advice string) {
	ev := &f.Evidence
	text = fmt.Sprintf("the server sent %s, not %s (%s at offset %d), the bytes the client's prefix, skipped by --skip %d, began with: both ends send a prefix first (a negotiation), and --skip passes the client's alone",
		ev.Guess, mux, violation, ev.Offset, ev.PrefixToo)
	advice = "nothing shows the two ends at fault: muxtop cannot skip the server's prefix; "
	switch {
	case f.info.Proxied:
		advice += "attach decodes from a connection's first byte: capture the connection instead (muxtop sniff, or tcpdump and muxtop read, without --port or --skip), which finds the mux after both ends' prefixes"
	case f.info.Captured:
		advice += "drop --skip, and --port or the filter: read and sniff find a mux after a prefix both ends send by themselves"
	default:
		advice += "wrap the connection the mux runs on, after both ends' prefixes, or capture it (muxtop sniff, without --port or --skip), which finds the mux after them"
	}
	return text, advice
}

// wrongSkip words PROTOCOL finding f, decoded as mux ("smux", "yamux"),
// whose violation is named violation, where the client's prefix that
// --skip passed begins a mux header (Evidence.Unskipped): the client
// sends no prefix, and the skip cut its mux's first header. The client's
// finding says so in its text; either direction's advice is to drop the
// skip. A server's finding is worded so only where its bytes are that
// mux's too (Evidence.skipCut): otherwise they are its own fault.
//
// The skip is named as it was told (SessionInfo.SkipBy): muxtop's own
// --skip or --prefix, the program's tap.Skip (in the tap and in read of
// its capture), or attach's flag (in read of its --write file).
func wrongSkip(f *Finding, mux, violation string) (text, advice string) {
	ev := &f.Evidence
	flag := fmt.Sprintf("--skip %d", ev.Skip)
	if len(f.info.Prefix) > 0 {
		flag = fmt.Sprintf("--prefix %x", f.info.Prefix) // the client did send it: it is its mux's start
	}
	drop := "drop " + flag
	switch f.info.SkipBy {
	case ToldByTap:
		flag = fmt.Sprintf("tap.Skip(%d)", ev.Skip)
		drop = "drop " + flag + " from the program's tap"
	case ToldByAttach:
		drop = "run attach without " + flag + " (this capture is its --write file's, which says so)"
		flag = "attach's " + flag
	}
	first := "first byte, skipped by " + flag + ", begins"
	if ev.Skip != 1 {
		first = fmt.Sprintf("first %d bytes, skipped by %s, begin", ev.Skip, flag)
	}
	first = fmt.Sprintf("the client's %s %s", first, ev.Unskipped)
	other := "yamux"
	if ev.Unskipped != wirekind.Yamux {
		other = "smux"
	}
	advice = fmt.Sprintf("%s: the client sends no prefix, and its %s begins at its first byte", drop, other)
	if other != mux {
		if f.info.Proto != ProtocolUnknown {
			switch f.info.ToldBy {
			case ToldByTap:
				advice += fmt.Sprintf("; and decode it as %s: tell the tap tap.WithProtocol(tap.%s), or leave its protocol option out", other, strings.ToUpper(other[:1])+other[1:])
			case ToldByAttach:
				advice += fmt.Sprintf("; and decode it as %s: run attach with --protocol %s, or without --protocol", other, other)
			default:
				advice += fmt.Sprintf("; and decode it as %s: give --protocol %s, or leave --protocol out", other, other)
			}
		} else {
			advice += fmt.Sprintf(", by which muxtop then tells it is %s", other)
		}
	}
	advice += "; nothing shows the two ends at fault"
	if f.Dir == ClientToServer {
		if sameMux(ev.PeerGuess, ev.Unskipped) {
			return fmt.Sprintf("the client sent %s, not %s (%s at offset %d), but %s, and the server sent %s: both ends speak %s, and muxtop skipped the start of the client's, not a prefix",
				ev.Guess, mux, violation, ev.Offset, first, ev.PeerGuess, other), advice
		}
		return fmt.Sprintf("the client sent %s, not %s (%s at offset %d), but %s: muxtop skipped the start of its mux, not a prefix",
			ev.Guess, mux, violation, ev.Offset, first), advice
	}
	return fmt.Sprintf("the server sent %s, not %s (%s at offset %d), and %s: both ends speak %s, and muxtop, past %s, decoded their connection as %s",
		ev.Guess, mux, violation, ev.Offset, first, other, flag, mux), advice
}

// plural returns "1 stream", "2 streams".
func plural(n uint64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// fmtDur formats d for a finding's text: "42 s", "2.1 s", "850 ms".
func fmtDur(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%d s", int64(d/time.Second))
	case d >= time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%d ms", int64(d/time.Millisecond))
	}
	return fmt.Sprintf("%d µs", int64(d/time.Microsecond))
}

// fmtBytes formats n bytes: "512 B", "64 KiB", "9.4 MiB".
func fmtBytes(n uint64) string {
	trim := func(f float64, unit string) string {
		s := fmt.Sprintf("%.1f", f)
		return strings.TrimSuffix(s, ".0") + " " + unit
	}
	switch {
	case n >= 1<<30:
		return trim(float64(n)/(1<<30), "GiB")
	case n >= 1<<20:
		return trim(float64(n)/(1<<20), "MiB")
	case n >= 1<<10:
		return trim(float64(n)/(1<<10), "KiB")
	}
	return fmt.Sprintf("%d B", n)
}

// blockedSign words what the sign of SESSION_BLOCKED finding f shows,
// its age included (head), and, unless the receiver's own tap saw it not
// reading, what that means (why): only such a tap tells a receiver that
// stopped reading from one that reads on, slower than the sender writes.
// conn says the connection in head ("stopped reading the connection").
func blockedSign(f *Finding, conn string) (head, why string) {
	sender, receiver, age := f.Dir.Sender(), f.Dir.Reverse().Sender(), fmtDur(f.Evidence.Age)
	switch f.Evidence.Sign {
	case SignWrite:
		return fmt.Sprintf("the %s's write to the connection has waited %s", sender, age), writeHeld(f.info.Transport, receiver, sender, conn)
	case SignWindow:
		return fmt.Sprintf("the %s's TCP window has been closed for %s", receiver, age),
			fmt.Sprintf("the %s stopped reading%s, or reads very slowly (a kernel reopens a closed window only once a segment or more of its buffer is free)", receiver, conn)
	}
	return fmt.Sprintf("the %s stopped reading%s %s ago", receiver, conn, age), ""
}

// writeHeld says what a write held on a conn of transport (as
// SessionInfo.Transport names it) means: what holds it there. TCP's
// socket buffer and its network path; a unix socket's buffer, with no
// path; a net.Pipe's reader itself, as a pipe holds nothing; over UDP,
// the protocol over it (a KCP session's send window, for one); under TLS,
// what holds a write on the conn under it; over another conn, nothing it
// cannot know.
func writeHeld(transport string, receiver, sender Side, conn string) string {
	if under, ok := TLSUnder(transport); ok {
		transport = under
	}
	switch transport {
	case "":
		return fmt.Sprintf("the %s stopped reading%s, or it (or the path to it) takes the bytes far slower than the %s writes them (the kernel wakes a writer held by a full socket buffer only once much of it has drained)", receiver, conn, sender)
	case "unix":
		return fmt.Sprintf("the %s stopped reading%s, or reads the bytes far slower than the %s writes them (the kernel wakes a writer held by a full unix socket buffer only once much of it has drained)", receiver, conn, sender)
	case "pipe":
		return fmt.Sprintf("the %s stopped reading%s, or reads the bytes far slower than the %s writes them (a net.Pipe holds nothing: each write waits until the reader has read all of it)", receiver, conn, sender)
	case "udp":
		return fmt.Sprintf("the %s stopped reading%s, or it (or the path to it) takes the bytes far slower than the %s writes them (over UDP, what holds a write is the protocol the conn runs over it: a KCP session's, for one, waits while its send window is full of data not yet acknowledged)", receiver, conn, sender)
	}
	return fmt.Sprintf("the %s stopped reading%s, or it (or the path to it) takes the bytes far slower than the %s writes them", receiver, conn, sender)
}

// blockedUnseen is the text of a SESSION_BLOCKED finding in a session
// whose blocking stream the capture never saw: it joined the connection
// after the streams opened, or lost the bytes that named them.
func blockedUnseen(f *Finding, session uint64) string {
	head, why := blockedSign(f, " the connection")
	if why != "" {
		head += " — " + why
	}
	return fmt.Sprintf("session %d is blocked: %s; the capture never saw the streams it holds: it joined the connection after they opened, or lost their bytes",
		session, head)
}

// protocolMidStream words a PROTOCOL finding of mux whose direction
// carried frames before its violation: its sender speaks the mux, so
// neither its address nor its protocol is wrong, as the words for a
// connection's first bytes say, and its framing broke mid-stream. then is
// what the mux does about it.
func protocolMidStream(f *Finding, mux, violation, then string) (text, advice string) {
	ev := &f.Evidence
	sender := f.Dir.Sender()
	what := "a header " + mux + " refuses"
	if g := ev.Guess; g != wirekind.Unknown && !g.IsSmux() && !g.IsYamux() {
		what = g.String() + " where a header belongs"
	}
	return fmt.Sprintf("the %s's framing broke after %s %s accepts: at offset %d it sent %s (%s)",
			sender, plural(ev.framed, "frame"), mux, ev.Offset, what, violation),
		fmt.Sprintf("the %s speaks %s, so its address and protocol are right: find what broke its framing — a peer on another %s version or implementation than the %s's, bytes written to the connection outside the session, or a layer underneath that loses or alters bytes (KCP, FEC, a proxy); %s",
			sender, mux, mux, f.Dir.Reverse().Sender(), then)
}

// toldWho says who told muxtop the protocol told, where it was not
// muxtop's own --protocol (SessionInfo.ToldBy): "its tap told smux".
func toldWho(by ToldBy, told string) string {
	if by == ToldByAttach {
		return "as attach was told --protocol " + told
	}
	return "its tap told " + told
}

// toldFix is the advice to a session decoded as told where its ends speak
// other, told by the program's tap or attach (SessionInfo.ToldBy): what
// to drop, or to tell instead, named as it was told; prefixed, the client
// sends a byte before the mux.
func toldFix(by ToldBy, told, other string, prefixed bool) string {
	skip, flagSkip := "", ""
	if prefixed {
		skip, flagSkip = " and tap.Skip(1)", " --skip 1"
	}
	if by == ToldByAttach {
		return fmt.Sprintf("attach was told --protocol %s (this capture is its --write file's, which says so): run it without --protocol (muxtop tells smux from yamux by each connection's first byte) or with --protocol %s%s", told, other, flagSkip)
	}
	opt := "tap.WithProtocol(tap.Yamux)"
	if told == "smux" {
		opt = "tap.Version or tap.WithProtocol(tap.Smux)"
	}
	tell := "tap.WithProtocol(tap.Yamux)"
	if other == "smux" {
		tell = "tap.WithProtocol(tap.Smux)"
	}
	return fmt.Sprintf("the program's tap was told %s (%s): drop it (the tap tells smux from yamux by the connection's first byte), or tell it %s (%s%s)", told, opt, other, tell, skip)
}

// fatalYamux words PROTOCOL finding f of a frame that its receiver's
// yamux ended the session on (Evidence.Fatal), in hashicorp/yamux
// v0.1.2's words: its error and log line, and that its exitErr closes
// the connection right after queueing its GoAway (protocol error),
// which so rarely reaches the wire.
func fatalYamux(f *Finding) (text, advice string) {
	ev := &f.Evidence
	sender, receiver := f.Dir.Sender(), f.Dir.Reverse().Sender()
	var what, why, fix string
	switch ev.Fatal {
	case WindowExceeded:
		what = fmt.Sprintf("a DATA frame of %s on stream %d, %s past the %s its receive window had free (WINDOW_EXCEEDED)",
			fmtBytes(ev.Bytes), f.Stream, fmtBytes(ev.Bytes-min(ev.Window, ev.Bytes)), fmtBytes(ev.Window))
		why = `"recv window exceeded" (it logs "receive window exceeded")`
		fix = fmt.Sprintf("the %s wrote past the window the %s granted, which hashicorp's yamux never does: find what wrote the frame — another yamux implementation, or bytes written to the connection outside the session", sender, receiver)
	case DuplicateSYN:
		what = fmt.Sprintf("a second SYN for stream %d, which the %s still has (DUPLICATE_SYN)", f.Stream, receiver)
		why = `"duplicate stream initiated"`
		fix = fmt.Sprintf("the %s opened an id it had open already, or one the %s opened, which hashicorp's yamux never does: find what sent it — another yamux implementation, two sessions on one connection, or bytes written to the connection outside the session", sender, receiver)
	case RepeatedFIN:
		what = fmt.Sprintf("a second FIN on stream %d, which the %s still has, half-closed (REPEATED_FIN)", f.Stream, receiver)
		why = `"unexpected flag"`
		fix = fmt.Sprintf("the %s sent FIN twice on one stream, which hashicorp's yamux never does (its Close sends one FIN): find what sent it — another yamux implementation (libp2p's go-yamux ignores a repeated FIN: if the session went on, the %s is not hashicorp's)", sender, receiver)
		if ev.Racy {
			what = fmt.Sprintf("a second FIN on stream %d, which the %s had closed both ways with its own FIN, the last, as its Close was still removing the stream (REPEATED_FIN; the %s's side of the connection closed right after it)",
				f.Stream, receiver, receiver)
			why = `"unexpected flag" (it logs "unexpected FIN flag in state 6": a moment later, the stream removed, it would have ignored the frame)`
		}
	}
	return fmt.Sprintf("the %s sent %s: the %s's yamux failed with %s and ended the session, closing the connection (its GoAway, protocol error, queued as it closed, rarely reaches the wire)",
			sender, what, receiver, why),
		fix + "; redial: yamux ends the whole session, every stream on it with it"
}

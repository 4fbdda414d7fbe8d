package live

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/wirekind"
)

// FindingCode names a problem the findings engine diagnoses.
type FindingCode uint8

// The findings. The README's "What muxtop diagnoses" states each
// condition; Evaluate's comment says how it is computed.
const (
	// CodeLeak: streams open or half-closed longer than LeakAfter, one
	// finding per session and per side that never sent FIN (Dir is the
	// direction with no FIN; no Dir when neither side sent one).
	CodeLeak FindingCode = iota + 1
	// CodeWindowStall: a v2 writer held at a full window for StallAfter
	// (StreamSnap.Stalled), one finding per stream and direction.
	CodeWindowStall
	// CodeSessionBlocked: the tapped end's (or the proxy's) write in Dir
	// has not returned for BlockedAfter while streams are open, or the
	// tapped end, Dir's receiver, has not read the connection for that
	// long (Session.ReadStarted), or a capture shows Dir's receiver
	// advertising a zero TCP window for that long (Session.ReceiveWindow):
	// the receiver stopped reading the whole session, or, where the write
	// or the window shows it, takes it far slower than it is sent
	// (Evidence.Sign says which).
	CodeSessionBlocked
	// CodeVersionMismatch: the two directions speak different versions.
	CodeVersionMismatch
	// CodeKeepalive: Dir has sent nothing, NOP included, for longer than
	// its keepalive cadence allows.
	CodeKeepalive
	// CodeUnanswered: streams opened in Dir got no frame back for
	// UnansweredAfter while the other side still sends, and none on a
	// stream opened after them either (acceptedSpoke: it accepted them).
	CodeUnanswered
	// CodeDataAfterClose: data sent in Dir on a stream whose receiver had
	// sent FIN, within the last AfterCloseWindow.
	CodeDataAfterClose
	// CodeProtocol: a framing violation in Dir, with a guess at the bytes.
	CodeProtocol
	// CodeChurn: at least Churn sessions opened and ended within
	// ChurnWindow. It names no session.
	CodeChurn
	// CodeGoAway: a yamux end sent GoAway (Dir is its direction) and the
	// session goes on: the sender accepts no new streams. A warning with
	// the normal code (a drain: open streams go on), critical with an
	// error code (the session ends).
	CodeGoAway
	// CodeCloseWait: one side closed its side of the connection (FIN) at
	// least CloseWaitAfter ago, and the other, Dir's sender, has neither
	// closed its own nor sent a frame for CloseWaitAfter: it holds a
	// session whose peer left (its socket in TCP CLOSE-WAIT), as an smux
	// end does that never calls Close with keepalive off.
	CodeCloseWait
	// CodeNoReply: on a stream its opener reuses for request after
	// request, the acceptor answered each of at least MinAnswered earlier
	// ones, more than ThinkFactor times faster at its slowest than the
	// opener's pause before its latest turn (the opener asks, the
	// acceptor answers), and has sent no payload on it since the opener's latest
	// request, which has waited the longer of UnansweredAfter and
	// ReplyFactor times the slowest earlier answer, while the acceptor
	// still sends on the session: a hung call (Dir is the opener's, the
	// requester's; one finding per stream).
	CodeNoReply
	// CodeSessionLeak: sessions of one client host to one server endpoint
	// pile up idle: at least SessionLeak of them through SessionLeakHold,
	// each piled: idle (no stream frame for the idle time), no stream
	// opened on it an idle time or more after its dial, filling no
	// vacancy, and dialed while an older session of the same group sat
	// idle and could have been reused. It names no session
	// (sessionleak.go).
	CodeSessionLeak
)

// NumFindingCodes is one more than the largest FindingCode.
const NumFindingCodes = 14

var findingNames = [NumFindingCodes]string{"", "LEAK", "WINDOW_STALL", "SESSION_BLOCKED", "VERSION_MISMATCH",
	"KEEPALIVE", "UNANSWERED", "DATA_AFTER_CLOSE", "PROTOCOL", "CHURN", "GO_AWAY", "CLOSE_WAIT", "NO_REPLY", "SESSION_LEAK"}

// String returns the code's name, such as LEAK.
func (c FindingCode) String() string {
	if c != 0 && int(c) < NumFindingCodes {
		return findingNames[c]
	}
	return fmt.Sprintf("UNKNOWN_FINDING_%d", uint8(c))
}

// Severity says how bad a finding is.
type Severity uint8

// The severities: a Warning wastes resources or loses data quietly; a
// Critical finding stops traffic or is about to end a session.
const (
	Warning Severity = iota + 1
	Critical
)

// NumSeverities is one more than the largest Severity: arrays indexed by
// Severity have this size.
const NumSeverities = 3

// String returns "warning" or "critical".
func (s Severity) String() string {
	switch s {
	case Warning:
		return "warning"
	case Critical:
		return "critical"
	}
	return "unknown"
}

var severities = [NumFindingCodes]Severity{CodeLeak: Warning, CodeWindowStall: Warning, CodeSessionBlocked: Critical,
	CodeVersionMismatch: Critical, CodeKeepalive: Critical, CodeUnanswered: Critical, CodeDataAfterClose: Warning,
	CodeProtocol: Critical, CodeChurn: Warning, CodeGoAway: Warning, CodeCloseWait: Warning, CodeNoReply: Warning, CodeSessionLeak: Warning}

// Severity returns the code's severity, which its findings have unless
// their evidence says otherwise: a PROTOCOL finding where muxtop, not
// the mux, is at fault is a warning; a GO_AWAY with an error code,
// which ends its session, is critical.
func (c FindingCode) Severity() Severity {
	if int(c) < NumFindingCodes {
		return severities[c]
	}
	return Warning
}

// Severities returns the severities the code's findings can have: its
// own (Severity), and for PROTOCOL Warning too, for a connection that
// carries no mux, a --skip that cut the client's first header, or both
// ends speaking the other mux (the ends are fine).
func (c FindingCode) Severities() []Severity {
	switch c {
	case CodeProtocol:
		return []Severity{Critical, Warning}
	case CodeGoAway:
		return []Severity{Warning, Critical} // critical with an error code
	case CodeUnanswered:
		return []Severity{Critical, Warning} // a warning of a silent side (Evidence.Silent)
	case CodeKeepalive:
		return []Severity{Critical, Warning} // a warning of an smux side with no NOP yet (BorrowedCritical)
	}
	return []Severity{c.Severity()}
}

// Finding is a diagnosed problem. It is immutable: the engine replaces a
// finding whose evidence changes, keeping its ID, and a Snapshot holds the
// version current when it was taken.
type Finding struct {
	// ID is unique in the Registry, from 1; it stays with a finding while
	// its evidence changes.
	ID       uint64
	Code     FindingCode
	Severity Severity
	// Session is where it is, 0 for CHURN and SESSION_LEAK; Stream the stream concerned, 0
	// for the whole session.
	Session uint64
	Stream  uint32
	// Dir is the direction concerned when HasDir: the one with no FIN
	// (LEAK), the holding side's, which has not closed (CLOSE_WAIT), the writer's (WINDOW_STALL, SESSION_BLOCKED, DATA_AFTER_CLOSE),
	// the silent one (KEEPALIVE), the openers' (UNANSWERED), the
	// requester's, the stream's opener (NO_REPLY), the refused
	// or broken one (VERSION_MISMATCH, PROTOCOL).
	Dir    Dir
	HasDir bool
	// Since is when what the finding is about began: the oldest leaked or
	// unanswered stream's SYN, when the writer reached the window or the
	// write was first seen waiting, the silent direction's last frame, the
	// first late PSH, the violation, the first churned session's start,
	// the oldest piled session's start (SESSION_LEAK).
	Since time.Time
	// Opened is when the engine opened it; Resolved when it stopped
	// holding (zero while open), Why says why.
	Opened, Resolved time.Time
	Why              string
	Evidence         Evidence
	// Proto is the protocol of the session, which the wording follows, as
	// it does version, the session's smux version (AsOf).
	Proto   Protocol
	version uint8
	// joined: the session's counts are a capture's that did not see every
	// byte (it began after the session did, or lost some), which a
	// silence counted from the session's first frame seen says.
	joined bool
	// info is the session's: where its bytes came from, which a PROTOCOL
	// finding of a connection with no mux on it points at.
	info SessionInfo
	// unanswered: of a LEAK, its oldest stream's opener sent payload on it
	// and the other side none (or only an HTTP/1.1 interim response:
	// interim), and the other side has not closed its side of it
	// (leakOneWay).
	unanswered bool
	// interim: of such a LEAK, the other side sent back only an HTTP/1.1
	// interim response (100 Continue), which answers nothing.
	interim bool
	// Text states the problem with its numbers, in one line; Advice says
	// what to do about it, from what smux does.
	Text, Advice string
	// StreamIDs is, in a LEAK's FindingOpened and FindingUpdated records,
	// the ids of the streams it counts, oldest first (in SYN order, which
	// is id order among the streams one side opened), at most
	// MaxStreamIDs: Evidence.Count less their number are the rest; in
	// its FindingResolved record and a Snapshot's resolved findings, those
	// it counted at the last evaluation, as its count (a change is told
	// at most once per UpdateEvery, so no record may have told them). It
	// is nil elsewhere: a
	// Snapshot's open findings leave it out, and StreamSnap.Leak marks
	// their streams.
	StreamIDs []uint32
	// Heads is, beside StreamIDs, each of those streams' first payload
	// bytes per direction (StreamSnap.Head), as they were when the record
	// was made: what a leaked stream carried, which history may no longer
	// hold. Where StreamIDs is nil, a LEAK's Heads holds only its oldest
	// stream's (Stream's), as they were when the finding was made (a new
	// count makes it again): so a Snapshot's open LEAK keeps them. Nil
	// for other findings. First reads the oldest's from either form.
	Heads [][2]FirstBytes
	// Unwatched is set on a finding resolved only because muxtop stopped
	// watching its session (ResolveEnded: the session ended by muxtop's
	// own stop): it still held then, and a run's summary counts it open
	// at the end (Snapshot.Unwatched).
	Unwatched bool
}

// Evidence is a finding's numbers. Which apply depends on the code.
type Evidence struct {
	// Count: leaked streams (LEAK), stalled streams of the direction
	// (WINDOW_STALL), streams open while blocked (SESSION_BLOCKED),
	// unanswered streams (UNANSWERED), late PSH frames (DATA_AFTER_CLOSE),
	// churned sessions (CHURN), streams the holding side still has open
	// (CLOSE_WAIT), the earlier requests the acceptor answered on the
	// stream (NO_REPLY), the group's idle sessions (SESSION_LEAK).
	Count uint64
	// Peak: the most sessions CHURN counted in its window at once while
	// it was open; Count is the latest count, which falls as the window
	// slides past them.
	Peak uint64
	// together: CHURN's sessions were all open at once, each opened
	// before the first of them ended: one batch dialed together, no loop.
	together bool
	// Streams: the streams the late frames went to (DATA_AFTER_CLOSE);
	// of SESSION_LEAK's piled sessions, those with a stream open.
	Streams uint64
	// Unseen: of DATA_AFTER_CLOSE's Count, the frames its receiver may
	// have read with nothing on the wire to show it, which smux delivers
	// after CloseWrite and discards after Close: in v1 all but AfterBoth;
	// in v2 those that fit in what a reader reads with no UPD since its
	// latest (half its MaxStreamBuffer). The rest in v2 would have drawn a
	// UPD if read: none came, and they were not read yet (Close, or a
	// reader that reads later).
	Unseen uint64
	// AfterBoth: of DATA_AFTER_CLOSE's Count, the frames that came after
	// both sides' FINs to a receiver that had nothing unread, which smux
	// discards whatever the receiver called (Session.drained).
	AfterBoth uint64
	// FinFirst: of UNANSWERED's streams in yamux, those its opener had
	// half-closed: yamux sends no ACK for a stream it accepts after the
	// stream's FIN, so those may have been accepted, late.
	FinFirst uint64
	// refused, of a yamux UNANSWERED, is a stream opened the same way
	// after its oldest whose SYN the acceptor answered with an RST and
	// no ACK (the latest such), having sent no GoAway: its accept backlog
	// was full, the unanswered streams waiting in it; 0 if none.
	refused uint32
	// Bytes: the bytes in flight, sent and not yet consumed as the
	// reader's latest UPD (yamux: window update) reports (WINDOW_STALL),
	// bytes sent to the suspect stream, or in v2 its unread bytes
	// (SESSION_BLOCKED), late payload bytes (DATA_AFTER_CLOSE).
	Bytes uint64
	// Window: the window the reader announced, as the writer uses it
	// (WINDOW_STALL): its latest UPD's (smux v2's writer assumes 256 KiB
	// before the first), yamux's as its updates grew it. The writer
	// goes on only once Bytes is below it: in smux v2 Bytes may be far
	// above it, the writer having filled the 256 KiB it starts with
	// before the reader's first UPD announced its MaxStreamBuffer.
	Window uint64
	// Idle: how long the oldest stream has carried no frame (LEAK); how
	// long the holding side has sent nothing, from the peer's close or its
	// own latest frame after it (CLOSE_WAIT); the oldest idle session's
	// time since its latest use (SESSION_LEAK).
	Idle time.Duration
	// Age: the oldest stream's age (LEAK, UNANSWERED), how long the writer
	// has been held (WINDOW_STALL, SESSION_BLOCKED), the silence
	// (KEEPALIVE), the churned sessions' mean lifetime (CHURN), the time
	// since the peer closed its side of the connection (CLOSE_WAIT), the
	// time since the request's latest payload frame (NO_REPLY).
	Age time.Duration
	// Limit: the threshold the finding crossed. KEEPALIVE's is the
	// silence allowed (SilenceLimit of Every, or SilentAfter), or, opened
	// by a yamux ping with no answer (Ping), PingAnswerLimit. Of a silent
	// side (Silent), UNANSWERED's is the longer of LeakAfter and
	// UnansweredAfter, NO_REPLY's the longer of LeakAfter and its own.
	Limit time.Duration
	// Every: the keepalive interval the silence is measured against
	// (KEEPALIVE), 0 where none is known.
	Every time.Duration
	// Ping: how long the other side's yamux ping has waited for the
	// silent side's answer, where that opened KEEPALIVE; 0 otherwise.
	// Where the pinger closed its side of the connection since (GaveUp),
	// how long it had waited then.
	Ping time.Duration
	// GaveUp: the side whose ping opened KEEPALIVE closed its side of
	// the connection (its FIN) with the ping still unanswered, Ping after
	// it: yamux's keepalive gave up on the answer and ended its session.
	// Its ping waits no more.
	GaveUp bool
	// Silent: of an UNANSWERED or NO_REPLY finding, the side that owes
	// the answer has sent nothing at all on the session since the
	// request (the oldest request, for UNANSWERED), and muxtop has seen
	// no keepalive cadence on the session (no smux NOP's interval, no
	// yamux side's ping cadence, either way: keepaliveKnown) that would
	// tell a stopped side from a slow one: where keepalive is seen on, that silence is
	// KEEPALIVE's. Such a finding opens
	// once the request has waited the longer of LeakAfter and its
	// code's own threshold (Limit), and is a finding of its own: it
	// resolves when that side sends anything, and the ordinary rule
	// (the other side still sends) takes the streams from there.
	Silent bool
	// Unheard: the silent side has sent nothing at all that muxtop saw,
	// in a session the capture joined after its last byte, or one it never
	// spoke in: Age counts from the session's first frame seen
	// (KEEPALIVE opened by a ping).
	Unheard bool
	// Slow: a WINDOW_STALL held on across its reader's reports: how
	// long the writer had been held when the latest came (a reader that
	// reads a little at a time); 0 otherwise.
	Slow time.Duration
	// slowReads counts, up to 2, the reports of a WINDOW_STALL's reader
	// that came to a writer held StallAfter or more while it held, a
	// second only StallAfter or more after the one before; slowAt is the
	// latest such report's time (Unix ns, the stream's consumedAt then),
	// counted or not. One shows a reader that read again after a pause,
	// or reads far slower than its writer writes: a download whose reader
	// stopped 5 s, then read at 12 MB/s, was called slow from its one
	// report after the pause. A second shows it slow (slowText).
	slowReads uint8
	slowAt    int64
	// readerFIN, of a WINDOW_STALL in smux v2: the reader has sent FIN,
	// which does not wake the held Write (v1.5.55 and later).
	readerFIN bool
	// holSid, of a LEAK in smux v1, is the stream that may hold the
	// session buffer of the side that never closes full, unread, and
	// holBytes what it was sent (Session.holFor); 0 otherwise.
	holSid   uint32
	holBytes uint64
	// ownNOP, of an smux KEEPALIVE whose cadence is borrowed, says that
	// the silent side did send a NOP muxtop saw (a capture joined
	// mid-session, whose first NOP gives no cadence): its keepalive is
	// on, its interval unknown.
	ownNOP bool
	// framed, of a PROTOCOL finding, is how many frames its direction
	// carried before the violation: where there were some, its sender
	// speaks the mux and its framing broke mid-stream (protocolMidStream).
	// 0 where the session's counts are incomplete (a capture that joined
	// mid-stream or lost bytes), whose resync may have framed payload.
	framed uint64
	// slowQuiet: where a WINDOW_STALL's reader had reported (Slow), the
	// writer's hold since that latest report (or its refill), once it is
	// StallAfter or more and three times the hold the report came after:
	// the reader is quiet again (slowText). 0 otherwise.
	slowQuiet time.Duration
	// Slowest: the slowest answer the acceptor gave on the stream before
	// (NO_REPLY): from the request's latest payload frame to the
	// answer's first.
	Slowest time.Duration
	// PushQuiet: of a NO_REPLY finding whose request followed the
	// acceptor's push (its payload after its answer to the opener's
	// latest turn, after a quiet on the stream: noreply.go) within
	// AckWithin, the quiet before that push, PushQuiet at the least; 0
	// where it followed none. Such a request may be an acknowledgement
	// of the push, which wants no answer: the wire does not tell.
	PushQuiet time.Duration
	// AfterPush: where PushQuiet is given, how long after that push's
	// latest payload the request's first came.
	AfterPush time.Duration
	// Borrowed: the silent side has no keepalive cadence of its own yet
	// (no smux NOP; no yamux ping cadence: pingCadence), and Every is the
	// other side's interval (KEEPALIVE).
	Borrowed bool
	// FirstPing: Borrowed from a yamux side that has pinged once, whose
	// ping waits for the silent side's answer: Every is the time from the
	// session's start to that ping, no interval between pings (KEEPALIVE).
	FirstPing bool
	// Pool: of a LEAK with no FIN from either side, what every stream it
	// names (StreamIDs: the oldest MaxStreamIDs) is by its first bytes
	// each way: PoolHTTP1, an HTTP/1.1 exchange answered with a final
	// status (wirekind.HTTP1KeepAlive), PoolH2C, an HTTP/2 connection in
	// the clear (wirekind.HTTP2Connection): the connections an HTTP
	// client's pool keeps idle look so. 0 where any of them is neither,
	// they are a mix, or a capture joined one mid-stream. The evaluation
	// sets it as it names the streams (Session.leakPool).
	Pool uint8
	// Sign is what showed the block (SESSION_BLOCKED).
	Sign BlockedSign
	// Versions are the session's versions per direction, 0 where unknown.
	Versions [2]uint8
	// Transport is the session's SessionInfo.Transport (CLOSE_WAIT):
	// only a TCP socket sits in TCP CLOSE-WAIT.
	Transport string
	// Offset and Guess describe a PROTOCOL violation: where it is in its
	// direction's byte stream and what the bytes look like; Violation is
	// its code.
	Offset    int64
	Guess     wirekind.Kind
	Violation decoder.Code
	// PeerGuess is the guess at the other direction's PROTOCOL violation,
	// if it broke the framing too (Unknown if not); PeerAnswered says that
	// the other direction answered with no violation: frames of the
	// session's protocol, which its end speaks, or its end, first (it hung
	// up on these bytes). An smux header each way of a yamux session is
	// smux at both ends, which muxtop was told was yamux.
	PeerGuess    wirekind.Kind
	PeerAnswered bool
	// Same says that both directions broke the framing at their first
	// header with the same bytes, of no protocol wirekind names (Guess
	// and PeerGuess alike): both ends speak one other protocol to each
	// other, such as a negotiation each begins with. SameStart holds the
	// bytes' first 8.
	Same      bool
	SameStart [8]byte
	// PrefixToo, of the server's PROTOCOL finding, is the length of the
	// client's prefix that --skip passed where the server's first bytes
	// are the ones that prefix began with: the server sends it too (a
	// negotiation both ends begin with), and --skip passes the client's
	// alone. 0 otherwise.
	PrefixToo int64
	// Skip and Unskipped: the client skipped Skip bytes as a prefix
	// (--skip), and its first bytes, read from its very first byte, the
	// skipped ones included, look like Unskipped, a mux header (a yamux
	// header, an smux one), which its PROTOCOL violation right after the
	// prefix comes from: the client sends no prefix, and the skip cut its
	// mux's first header (Unknown, Skip 0, otherwise). Either direction's
	// PROTOCOL finding carries them.
	Skip      int64
	Unskipped wirekind.Kind
	// YamuxViolation is a yamux session's PROTOCOL violation; Violation
	// is then 0.
	YamuxViolation yamux.Code
	// Fatal is, for a PROTOCOL finding of no framing violation, the
	// anomaly its receiver's yamux ended the session on: WindowExceeded,
	// DuplicateSYN or RepeatedFIN of the finding's Stream, in its Dir, at
	// Offset (Guess then wirekind.Yamux); for WindowExceeded Bytes is the
	// frame's payload and Window what the stream's receive window had free.
	Fatal Anomaly
	// Racy: Fatal is a RepeatedFIN to a stream its receiver's own FIN
	// closed both ways, which yamux ends the session on only if it comes
	// as the receiver's Close is removing the stream: it came within
	// RacyFINWindow after the receiver's FIN, and the receiver's side
	// of the connection closed within RacyFINEnd after it, with nothing
	// else sent, so it did.
	Racy bool
	// GoAwayCode is a GO_AWAY finding's code (yamux.GoAwayNormal...).
	GoAwayCode uint32
	// Upstream: of CHURN's sessions, those a proxy closed because it
	// could not connect them to their upstream (UpstreamError);
	// UpstreamAddr is the latest one's upstream, UpstreamFailure how
	// they failed (UpstreamOther if not all alike).
	Upstream        uint64
	UpstreamAddr    string
	UpstreamFailure UpstreamFailure
	// ServerClosed: of CHURN's sessions, those the server closed or reset
	// first, before it sent anything (an upstream at its connection limit,
	// a load balancer with no backend); ServerClosedWithin the longest of
	// their lives, ClosedBy the latest one's server as the words name it
	// ("server 127.0.0.1:9000", "upstream 127.0.0.1:9000" through attach).
	ServerClosed       uint64
	ServerClosedWithin time.Duration
	ClosedBy           string
	// Held: of CHURN's sessions, those whose connection outlived their
	// client's end (which ended their life for CHURN) by a second or
	// more: a server holding a session its client left. The finding
	// changes as it comes to be most of Count, or ceases to be, not at
	// each session.
	Held uint64
	// PiledSessions: of SESSION_LEAK's group, the sessions piled now
	// (idle, no stream opened an idle time or more after their dial,
	// filling no vacancy, dialed while an older one of the group sat
	// idle); Piled, the separate dials they came from (those dialed less
	// than a tenth of the idle time after the latest one counted count as
	// one: a pool dialed together), which the threshold counts (Count is
	// the group's idle sessions, Idle the oldest one's idle time, Streams
	// the piled sessions with a stream open, Limit the hold); ClientHost
	// and ServerAddr name the group.
	Piled         uint64
	PiledSessions uint64
	ClientHost    string
	ServerAddr    string
}

// slowLevel says what a WINDOW_STALL's reports (Slow, slowReads) show
// of its reader: 0 none came to a writer held on, 1 it read again after
// a pause, or reads far slower than its writer writes, 2 it reads far
// slower (a second report to a writer held StallAfter or more), 3 it
// reported, and has been quiet again since for longer (slowQuiet).
func (ev *Evidence) slowLevel() uint8 {
	switch {
	case ev.Slow == 0:
		return 0
	case ev.slowQuiet > 0:
		return 3
	case ev.slowReads < 2:
		return 1
	}
	return 2
}

// toldLevel is what of a finding's evidence, beside its count, stream
// and severity, is told at once (finding-updated), each a bit of its
// own: slowLevel (two bits); an smux v2 WINDOW_STALL's reader's FIN
// (readerFIN), which makes its words say the writer's Write is stuck
// there (before, a stall opened before the reader's FIN said so only in
// the summary); and for DATA_AFTER_CLOSE which readings its count mixes,
// whose words differ (a reader's later UPD turns "has not read them yet"
// into "may have read these unseen" at the same count).
func (ev *Evidence) toldLevel() uint8 {
	l := ev.slowLevel()
	if ev.readerFIN {
		l |= 64
	}
	if ev.Unseen == 0 && ev.AfterBoth == 0 {
		return l
	}
	l |= 4
	if ev.Unseen > 0 {
		l |= 8
	}
	if ev.AfterBoth > 0 {
		l |= 16
	}
	if ev.Count > ev.Unseen+ev.AfterBoth {
		l |= 32
	}
	return l
}

// pair returns the one protocol both ends of a PROTOCOL finding in dir
// speak instead of a mux, the guesses at the two directions' bytes
// forming a pair of it (wirekind.Pair): "HTTP", "TLS"; "" if they do not.
func (ev *Evidence) pair(dir Dir) string {
	if dir == ClientToServer {
		return wirekind.Pair(ev.Guess, ev.PeerGuess)
	}
	return wirekind.Pair(ev.PeerGuess, ev.Guess)
}

// misdecoded says whether both ends of a PROTOCOL finding, decoded as
// proto, sent the other multiplexer's headers (yamux's, with or without
// a prefix byte, decoded as smux; smux's decoded as yamux): the two ends
// are fine, and muxtop's decoding is not. One finding says it for both.
func (ev *Evidence) misdecoded(proto Protocol) bool {
	if proto == Yamux {
		return ev.Guess.IsSmux() && ev.PeerGuess.IsSmux()
	}
	return ev.Guess.IsYamux() && ev.PeerGuess.IsYamux()
}

// endsFine says whether a PROTOCOL finding in dir of a session decoded
// as proto finds nothing wrong with the two ends: they speak one other
// protocol to each other (pair, or Same), muxtop's --skip cut the
// client's first header (skipCut), or both speak the other mux
// (misdecoded). Such a finding is a warning: the watched mux is not at
// fault.
func (ev *Evidence) endsFine(dir Dir, proto Protocol) bool {
	return ev.pair(dir) != "" || ev.Same || ev.PrefixToo != 0 || ev.skipCut(dir) || ev.misdecoded(proto)
}

// skipCut says whether a PROTOCOL finding in dir comes of a --skip that
// cut the client's first mux header (Unskipped): the client's finding, or
// the server's where its bytes are that mux's too (both ends speak it).
// A server that sent other bytes is at fault itself, its bytes decoded
// from its first, which no skip touched.
func (ev *Evidence) skipCut(dir Dir) bool {
	return ev.Unskipped != wirekind.Unknown && (dir == ClientToServer || sameMux(ev.Guess, ev.Unskipped))
}

// sameMux says whether a and b are headers of one multiplexer: both
// yamux's, or both smux's (of either version).
func sameMux(a, b wirekind.Kind) bool {
	return a == wirekind.Yamux && b == wirekind.Yamux || a.IsSmux() && b.IsSmux()
}

// BlockedSign is what showed a SESSION_BLOCKED finding. Only a tap's
// read tells a receiver that stopped reading from one that reads on,
// slower than its sender writes: a writer's tap and a capture see the
// kernel's socket buffers full either way.
type BlockedSign uint8

const (
	// SignWrite: the tapped end's (or the attach proxy's) write in Dir has
	// not returned. Dir's receiver stopped reading, or reads far slower
	// than the sender writes: the kernel wakes a writer held by a full
	// socket buffer only once much of it has drained.
	SignWrite BlockedSign = iota + 1
	// SignRead: the tapped end, Dir's receiver, has not been in Read on
	// the connection: it stopped reading.
	SignRead
	// SignWindow: in a capture, Dir's receiver has advertised a zero TCP
	// window. It stopped reading, or reads very slowly: a kernel reopens
	// a closed window only once a segment or more of its buffer is free
	// (a loopback reader of 50 KB/s kept it closed up to 2.25 s).
	SignWindow
)

var signCodes = [...]string{"", "write", "read", "window"}

// Code returns the sign's name in machine output: write, read or window;
// "" for none.
func (g BlockedSign) Code() string {
	if int(g) < len(signCodes) {
		return signCodes[g]
	}
	return ""
}

// Defaults of FindingsConfig's zero fields.
const (
	DefaultBlockedAfter    = 2 * time.Second
	DefaultUnansweredAfter = 5 * time.Second
	DefaultChurn           = 20
	// DefaultCloseWaitAfter is how long a side may hold a connection
	// whose peer closed its side, sending nothing, before CLOSE_WAIT.
	// smux's default keepalive (KeepAliveInterval 10 s, KeepAliveTimeout
	// 30 s) closes a session that received nothing for a whole timeout
	// period: its check runs every KeepAliveTimeout, so a session whose
	// peer left is closed 30 to 60 s after the peer's FIN, the frames
	// before it having marked the period in progress. Twice the latest
	// of those leaves a healthy server with smux's defaults (and yamux,
	// which closes its session as its conn reads EOF) well clear; a
	// server with keepalive off, or a KeepAliveTimeout above a minute,
	// that never calls Close holds it for ever.
	DefaultCloseWaitAfter = 2 * time.Minute
	// ChurnWindow is the window CHURN counts sessions in.
	ChurnWindow = 10 * time.Second
	// DefaultSessionLeak is how many piled sessions of one client host
	// and server (piled: see CodeSessionLeak), live through the hold,
	// make SESSION_LEAK: a client
	// that abandons a session a minute opens it in about 11 minutes, one
	// that dials a session per request or per second about a minute after
	// its first idle session; a client's fixed pool of fewer sessions
	// never reaches it.
	DefaultSessionLeak = 10
	// SessionLeakHoldIdles is SESSION_LEAK's default hold, in idle times
	// (SessionIdleAfter, or LeakAfter where shorter): 60 s by default.
	// A group must have had SessionLeak piled sessions or more through
	// it. A fixed pool redialed lazily, each member at its turn, after
	// its sessions all ended, piles the members dialed after the first
	// until their next turn: for less than the pool's period, which the
	// hold must exceed (a kcptun-like pool of 12, one request every 3 s:
	// 36 s).
	SessionLeakHoldIdles = 12
	// SessionIdleAfter is how long a session must have seen no stream
	// frame (a SYN, data, a FIN, a window update; not a keepalive), open
	// streams or not, to be idle for SESSION_LEAK, or LeakAfter where
	// that is shorter (idleAfter): short enough that sessions a
	// server's keepalive resets 10 to 20 s after their client abandoned
	// them are seen idle while they live.
	SessionIdleAfter = 5 * time.Second
	// AfterCloseWindow is how long DATA_AFTER_CLOSE stays open after the
	// latest such frame.
	AfterCloseWindow = 10 * time.Second
	// MaxResolved is how many resolved findings a Snapshot carries.
	MaxResolved = 256
	// UpdateEvery is how often at most the engine tells an open finding's
	// count again (FindingUpdated): once a record has told it, a change is
	// told at the first evaluation UpdateEvery or more later, as it then
	// stands, and not at all if it is back to what was told. A leak that
	// grows on every session makes one record per session and second, not
	// one per evaluation. A change of an open finding's severity is
	// told at once (told.again), with its count as it then stands.
	UpdateEvery = time.Second
	// MaxStreamIDs is how many streams a LEAK record names at most
	// (Finding.StreamIDs): its oldest.
	MaxStreamIDs = 32
)

// FindingsConfig holds the thresholds of Evaluate. Zero fields take the
// defaults.
type FindingsConfig struct {
	// LeakAfter: streams live longer are leaks (LEAK); and the least a
	// request waits for a side that has sent nothing at all since it,
	// with no keepalive seen, before UNANSWERED or NO_REPLY of a silent
	// side (Evidence.Silent).
	LeakAfter time.Duration
	// StallAfter: a v2 writer held at its window this long is stalled
	// (WINDOW_STALL); DefaultStallAfter.
	StallAfter time.Duration
	// BlockedAfter: a write waiting this long blocks the session (SESSION_BLOCKED).
	BlockedAfter time.Duration
	// UnansweredAfter: a stream with no frame back this long is
	// unanswered; and the least a request on a reused stream waits for
	// its answer before NO_REPLY (ReplyFactor times the slowest earlier
	// answer, if longer).
	UnansweredAfter time.Duration
	// SilentAfter: a direction silent this long is a KEEPALIVE finding;
	// zero means SilenceLimit of its observed keepalive interval (1.5
	// times it, and at least NOPLateness more).
	SilentAfter time.Duration
	// Churn: this many sessions opened and ended within ChurnWindow are
	// CHURN; negative turns CHURN off.
	Churn int
	// SessionLeak: this many piled sessions of one client host and
	// server (piled: see CodeSessionLeak), live through SessionLeakHold,
	// are SESSION_LEAK; 0 is DefaultSessionLeak, negative turns it off.
	SessionLeak int
	// SessionLeakHold: how long a group must have had SessionLeak piled
	// sessions or more; SessionLeakHoldIdles idle times by default.
	SessionLeakHold time.Duration
	// CloseWaitAfter: a side that has neither closed its side of the
	// connection nor sent a frame this long after its peer closed its
	// own holds a session nobody is at the other end of (CLOSE_WAIT);
	// DefaultCloseWaitAfter.
	CloseWaitAfter time.Duration
}

// Effective returns c as Evaluate uses it: zero or negative durations
// take their defaults (SilentAfter's, 0, leaves the limit to the
// keepalive cadence), a zero Churn or SessionLeak the default and a
// negative one -1 (off). Two configs with equal Effective values evaluate alike.
func (c FindingsConfig) Effective() FindingsConfig {
	c = c.withDefaults()
	if c.SilentAfter < 0 {
		c.SilentAfter = 0
	}
	if c.Churn < 0 {
		c.Churn = -1
	}
	if c.SessionLeak < 0 {
		c.SessionLeak = -1
	}
	return c
}

func (c FindingsConfig) withDefaults() FindingsConfig {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.LeakAfter, DefaultLeakAfter)
	def(&c.StallAfter, DefaultStallAfter)
	def(&c.BlockedAfter, DefaultBlockedAfter)
	def(&c.UnansweredAfter, DefaultUnansweredAfter)
	def(&c.CloseWaitAfter, DefaultCloseWaitAfter)
	def(&c.SessionLeakHold, SessionLeakHoldIdles*idleAfter(&c))
	if c.Churn == 0 {
		c.Churn = DefaultChurn
	}
	if c.SessionLeak == 0 {
		c.SessionLeak = DefaultSessionLeak
	}
	return c
}

// engine is the Registry's findings engine: the state of Evaluate.
type engine struct {
	mu         sync.Mutex // serializes Evaluate; guards the fields below
	evals      uint64
	nextID     uint64
	opened     uint64
	openedBy   [NumFindingCodes][NumSeverities]uint64 // by code and the severity opened with
	resolvedBy [NumFindingCodes][NumSeverities]uint64 // by code and the severity resolved with, Unwatched ones left out
	open       map[uint64]openFinding                 // by ID
	// goneFindings is Evaluate's room for the open findings of sessions
	// forgotten since the previous evaluation.
	goneFindings []change
	resolved     []*Finding     // the latest MaxResolved, oldest first
	recent       resolvedTimes  // when they resolved, to count those of the last RecentResolved (recent.go)
	unwatched    []*Finding     // every one resolved as muxtop stopped watching (ResolveEnded)
	churn        *Finding       // the open CHURN finding, if any
	churnTold    told           // what churn's latest record told
	sessions     []*Session     // scratch
	cands        []candidate    // scratch
	finals       []candidate    // scratch: an ended session's last framing evidence
	changes      []change       // scratch
	leaks        []sessionLeaks // what each session's open LEAK findings count, and which streams, in id order: built by each evaluation
	excused      []uint64       // scratch: the streams of a session that explainedLeaks excused
	dirty        bool           // the view is out of date
	forgotten    uint64         // the Registry's forgotten sessions at the previous evaluation

	view     atomic.Pointer[findingsView] // what snapshots show
	lastEval atomic.Int64                 // the latest evaluation's time, Unix ns; 0 before the first
	// done is the latest evaluation (evals) that has finished: its
	// findings are in view, published by it or, unchanged, by an earlier
	// one.
	done atomic.Uint64

	ends churnRing // session ends, for CHURN

	// SESSION_LEAK (sessionleak.go): the groups, by key and in the order
	// they came, the sessions an evaluation noted for the first time and
	// the groups whose finding it resolves (scratch).
	pileByKey    map[sessionGroup]*pileGroup
	pileGroups   []*pileGroup
	fresh        []freshUse
	pileResolved []*pileGroup
}

// openFinding is an open finding and its session (nil for CHURN).
type openFinding struct {
	f *Finding
	s *Session
	// ids and heads are a LEAK's streams and their first bytes as the
	// latest evaluation that changed its count, oldest stream or marks
	// found them (change.ids), told or not yet: its resolution tells
	// them with its latest count, so what a user keeps of a run says
	// which request leaked.
	ids   []uint32
	heads [][2]FirstBytes
}

// findingsView is the engine's published state, immutable.
type findingsView struct {
	open       []*Finding
	counts     [NumSeverities]int
	opened     uint64
	openedBy   [NumFindingCodes][NumSeverities]uint64
	resolvedBy [NumFindingCodes][NumSeverities]uint64
	resolved   []*Finding
	recent     recentView // counts the resolved findings, listed or not
	// unwatched are the findings resolved as muxtop stopped watching
	// their sessions, still holding then.
	unwatched []*Finding
	// leaks is what the open LEAK findings count, and which streams, by
	// session in id order; leakTotal in all (leakmarks.go).
	leaks     []sessionLeaks
	leakTotal int
	// evaluated is the time of the latest Evaluate when it was published,
	// Unix ns, 0 before the first: the instant its findings and leaks
	// are of (Snapshot.Evaluated). Stored apart from the view, a
	// snapshot could read one evaluation's findings beside the next's
	// time, and a LEAK that evaluation opened, at that time, was neither
	// in the snapshot's count nor after its instant.
	evaluated int64
}

// engineSession is the engine's state of one session, under its lock.
type engineSession struct {
	seen uint64    // the evaluation that last visited it
	pile pilePhase // SESSION_LEAK (sessionleak.go)
	// SESSION_BLOCKED: the write count each direction had at the previous
	// evaluation, and when it was first seen in progress.
	writeSeen  [2]uint64
	writeSince [2]int64
	// writeHeld: at the previous evaluation, the write in progress had
	// stood for stillFor (stood), and so had waited.
	writeHeld [2]bool
	// When a write that had been waiting went through: for a second
	// after, the direction's silence is still the block's.
	writeFreed [2]int64
	// The read count each direction had at the previous evaluation, and
	// when it was first seen with no read in progress.
	readSeen  [2]uint64
	readSince [2]int64
	// DATA_AFTER_CLOSE: the late frames, bytes, streams, unseen frames and
	// frames after both FINs (sessionWatch.lateCounts) counted when
	// the current finding opened.
	lateBase [5][2]uint64
	// lateUnread: per direction of the late data, the latest evaluation
	// left it out as the FIN's receiver was not reading (lateCandidates).
	lateUnread [2]bool
	// lateReadBack: per direction, the latest evaluation found every late
	// frame the open finding counted shown read since by its receiver's
	// UPD (reviseLate).
	lateReadBack [2]bool
	open         []*Finding
	// told is, for each finding of open, in its order, what its latest
	// record told of its count.
	told      []told
	openCodes uint32 // bit c: a finding of code c is open
	endSeen   bool   // an evaluation has seen the session ended
}

// told is what a finding's latest record (FindingOpened,
// FindingUpdated) told of its count and severity, and when (Unix ns);
// and, of a WINDOW_STALL, what its reader was found to do and whether
// it had sent FIN (Evidence.toldLevel).
type told struct {
	count  uint64
	sev    Severity
	at     int64
	slow   uint8 // Evidence.toldLevel
	stream uint32
}

// again says whether an open finding whose count is count, stream
// stream, severity sev and slow reader slow (Evidence.toldLevel) at ns
// is told again (FindingUpdated): its severity is not what t told,
// which is told at once (rare, and it changes what the finding means: a
// PROTOCOL finding whose other end answered in the same protocol); nor
// is slow, told at once too (a WINDOW_STALL's reader found to read again
// after a pause, or far slower than the writer writes, not to have
// stopped; then found to read far slower; or, in smux v2, its reader's
// FIN: its text changes, and before only its resolution or the summary
// said so); or its count or stream is not (a
// LEAK's oldest stream that closed, another as old taking its place: its
// sid, first bytes and words change), and t is UpdateEvery old or more.
// If so, t is now that telling; was is the severity t had told where sev
// differs, 0 where it does not.
func (t *told) again(count uint64, stream uint32, sev Severity, slow uint8, ns int64) (tell bool, was Severity) {
	if sev != t.sev {
		was = t.sev
	} else if slow == t.slow && (count == t.count && stream == t.stream || ns-t.at < int64(UpdateEvery)) {
		return false, 0
	}
	*t = told{count, sev, ns, slow, stream}
	return true, was
}

// toldNow notes open finding f as told at ns, as again does when it
// tells: a change again does not weigh (LEAK's Evidence.Pool, which
// changes its advice) is told at once.
func (es *engineSession) toldNow(f *Finding, ns int64) {
	if j := slices.Index(es.open, f); j >= 0 {
		es.told[j] = told{f.Evidence.Count, f.Severity, ns, f.Evidence.toldLevel(), f.Stream}
	}
}

// candidate is a finding the current evaluation finds holding.
type candidate struct {
	code   FindingCode
	dir    Dir
	hasDir bool
	stream uint32
	since  int64 // Unix ns
	ev     Evidence
}

// findingKey says which open finding a candidate continues: the same
// code, direction and, for WINDOW_STALL, stream.
// An UNANSWERED or NO_REPLY of a side silent since the request
// (Evidence.Silent) is a finding apart from one of a side that still
// sends: when the silent side speaks, the one resolves, saying so, and
// the other may open, rather than one finding changing what it says.
type findingKey struct {
	code   FindingCode
	dir    Dir
	hasDir bool
	silent bool
	stream uint32
}

func makeKey(code FindingCode, dir Dir, hasDir bool, stream uint32) findingKey {
	if !hasDir {
		dir = 0
	}
	if code != CodeWindowStall && code != CodeNoReply {
		stream = 0 // one finding per stalled stream, per hung call; the others name their worst
	}
	return findingKey{code: code, dir: dir, hasDir: hasDir, stream: stream}
}

// silentKey is the key of the finding of code (UNANSWERED, NO_REPLY) of
// a side silent since the request (Evidence.Silent).
func silentKey(code FindingCode, dir Dir, stream uint32) findingKey {
	k := makeKey(code, dir, true, stream)
	k.silent = true
	return k
}

func (c *candidate) key() findingKey {
	k := makeKey(c.code, c.dir, c.hasDir, c.stream)
	k.silent = c.ev.Silent
	return k
}

func (f *Finding) key() findingKey {
	k := makeKey(f.Code, f.Dir, f.HasDir, f.Stream)
	k.silent = f.Evidence.Silent
	return k
}

// change is one outcome of an evaluation: a finding opened (old nil),
// updated, or resolved (new nil).
type change struct {
	old, new *Finding
	s        *Session
	why      string // why old resolved, where the session says more than resolvedWhy
	// unwatched: old resolved because muxtop stopped watching its session
	// (Finding.Unwatched).
	unwatched bool
	// tell: the update is recorded (FindingUpdated); new may be old, whose
	// count changed since it was last told. was is the severity the
	// previous record told, where new's differs (Record.Was).
	tell bool
	was  Severity
	// ids are an opened or told LEAK's streams (Finding.StreamIDs), heads
	// their first bytes (Finding.Heads).
	ids   []uint32
	heads [][2]FirstBytes
}

// Limits on the walks of one evaluation over one session's streams.
const (
	maxWalk   = 1 << 16 // streams looked at per list and session
	maxStalls = 8       // WINDOW_STALL findings per session and direction
	// blockGrace is how long a direction whose write waited counts as
	// blocked after the write went through, so that the frames it was
	// holding back can arrive before its silence is judged.
	blockGrace = time.Second
	// zeroSettle is how long a capture must show a receiver's TCP window
	// closed before the sender counts as held by it: a busy receiver's
	// window touches zero for moments under load, and an evaluation that
	// falls in one must not take the session for blocked.
	zeroSettle = 250 * time.Millisecond
	// stillFor is how long, by the evaluations' own clock, one of the
	// tap's activity counters (Session.WriteStarted, ReadStarted) must
	// stand unchanged from the evaluation that first saw it so before
	// its direction counts as stuck: a write held, a reader out of Read.
	// A write to a socket with room returns, and smux's and yamux's
	// readers are back in Read, within microseconds, but a loaded machine
	// leaves either for milliseconds now and then: two evaluations in
	// quick succession (a test's, or two ticks run back to back after a
	// late one) found a reader between two reads, or a write just begun,
	// and held LEAK, WINDOW_STALL, KEEPALIVE and UNANSWERED back as for a
	// blocked session. Half the front ends' 100 ms tick
	// (metrics.EvaluateEvery): the evaluation a tick after the first
	// sighting finds the counter stood, as it always did, even a tick
	// that comes tens of milliseconds early after a late one; and
	// SESSION_BLOCKED, which counts from the first sighting, opens when
	// it did, BlockedAfter being far longer.
	stillFor = 50 * time.Millisecond
)

// Evaluations returns how many evaluations of the findings (Evaluate)
// have finished: it stands still where nothing evaluates them, as in a
// service that taps its connections and never runs metrics.Diagnose,
// whose findings then stay none whatever its streams do.
func (r *Registry) Evaluations() uint64 { return r.eng.done.Load() }

// Evaluate brings the findings up to date at time now: it opens those
// whose condition holds and resolves those whose condition no longer
// does, each with a history record (FindingOpened, FindingResolved), and
// publishes them for Snapshots. An open finding whose count changed is
// told again (FindingUpdated), at most once per UpdateEvery; one whose
// severity changed, at once.
//
// A front end calls it periodically, every 100 ms like the TUI's and the
// printers' ticks; findings are as fresh as the latest call. The data path
// only keeps counters and lists for it (watch.go), so all of its work is
// here: per session, a lock and a dozen comparisons when nothing is wrong,
// and walks over the streams concerned when something may be. LEAK counts
// streams as they cross its threshold, so that its cost does not grow with
// the leaks it has counted. Calls are serialized.
func (r *Registry) Evaluate(now time.Time, cfg FindingsConfig) {
	e := &r.eng
	cfg = cfg.withDefaults()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.open == nil {
		e.open = make(map[uint64]openFinding)
	}
	e.evals++
	e.leaks = e.leaks[:0]
	r.mu.Lock()
	e.sessions = r.tracked(e.sessions[:0])
	forgotten := r.forgotten.Sessions
	r.mu.Unlock()
	ns := now.UnixNano()
	for _, s := range e.sessions {
		e.session(r, s, now, ns, &cfg)
	}
	clear(e.sessions)
	// A session forgotten since the previous evaluation took its open
	// findings with it: resolve them.
	// In the order they opened, as ResolveEnded resolves them: a map's
	// order would change from run to run.
	if forgotten != e.forgotten {
		e.forgotten = forgotten
		gone := e.goneFindings[:0]
		for _, of := range e.open {
			if of.s != nil && of.s.w.eng.seen != e.evals {
				gone = append(gone, change{old: of.f, new: nil, s: of.s})
			}
		}
		slices.SortFunc(gone, func(a, b change) int { return cmp.Compare(a.old.ID, b.old.ID) })
		for _, c := range gone {
			e.apply(r, c, now, "the session ended")
		}
		clear(gone)
		e.goneFindings = gone[:0]
	}
	e.evalChurn(r, now, ns, &cfg)
	e.evalSessionLeak(r, now, ns, &cfg)
	e.lastEval.Store(ns) // before publish, which stamps the view with it
	switch v := e.view.Load(); {
	case e.dirty || v == nil:
		e.publish()
	case v.evaluated != ns:
		// Unchanged, and now as of this evaluation: a snapshot reads its
		// findings, its leak count and their instant from one view.
		nv := *v
		nv.evaluated = ns
		e.view.Store(&nv)
	}
	e.done.Store(e.evals)
}

// session evaluates one session.
func (e *engine) session(r *Registry, s *Session, now time.Time, ns int64, cfg *FindingsConfig) {
	s.arrivalProbe(ns) // a reader caught up, waiting, shows here (DATA_AFTER_CLOSE)
	s.mu.Lock()
	es := &s.w.eng
	es.seen = e.evals
	e.noteUse(s, ns, cfg)
	e.cands, e.excused, e.changes = e.cands[:0], e.excused[:0], e.changes[:0]
	switch {
	case !s.ended:
		e.cands = s.candidates(e.cands, &e.excused, now, ns, cfg)
		if s.unseen != [2]bool{} {
			e.cands = s.dropUnseen(e.cands)
		}
	case !es.endSeen:
		e.seeEnd(s, ns, 0)
	}
	if len(e.cands) == 0 && len(es.open) == 0 {
		s.mu.Unlock()
		return
	}
	kept, tolds := es.open[:0], es.told[:0]
	used := uint64(0) // bit i: e.cands[i] matches an open finding; there are fewer than 64
	for j, f := range es.open {
		k := f.key()
		i := slices.IndexFunc(e.cands, func(c candidate) bool { return c.key() == k })
		if i < 0 {
			var why string
			if f.Code == CodeWindowStall && !s.ended {
				// The time its writer was held, reckoned once: why says
				// it, and the finding is worded with it.
				held := s.stallHeld(f, ns, cfg)
				why = s.stallResolved(f, e.cands, held, ns, cfg)
				f = stallFinal(f, held)
			} else {
				why = s.resolution(f, e.cands, now, ns, cfg)
			}
			e.changes = append(e.changes, change{old: f, s: s, why: why})
			continue
		}
		if i < 64 {
			used |= 1 << i
		}
		nf := f
		if c := &e.cands[i]; changed(f, c) {
			c.ev.Pool = f.Evidence.Pool // as its streams were: checked again below where they changed
			nf = s.finding(f.ID, c, f.Opened)
		}
		t := es.told[j]
		if tell, was := t.again(nf.Evidence.Count, nf.Stream, nf.Severity, nf.Evidence.toldLevel(), ns); tell || nf != f {
			e.changes = append(e.changes, change{old: f, new: nf, s: s, tell: tell, was: was})
		}
		kept, tolds = append(kept, nf), append(tolds, t)
	}
	clear(es.open[len(kept):])
	for i := range e.cands {
		if i < 64 && used&(1<<i) != 0 {
			continue
		}
		nf, t := e.open1(s, &e.cands[i], now, ns)
		e.changes = append(e.changes, change{new: nf, s: s})
		kept, tolds = append(kept, nf), append(tolds, t)
	}
	es.open, es.told = kept, tolds
	es.openCodes = 0
	for _, f := range kept {
		es.openCodes |= 1 << f.Code
	}
	var why string
	var timedOut [2]openTimeout
	if s.ended {
		why, timedOut = s.endWhy(), s.openTimedOut
	}
	if es.openCodes&(1<<CodeLeak) != 0 {
		prev := s.w.marks
		n, marks := s.markLeaks(e.excused)
		if marks != prev {
			e.dirty = true // the view shows them, though no finding changed
		}
		e.leaks = append(e.leaks, sessionLeaks{s.id, n, marks})
		// The records of LEAK name its streams, as the marks do; a change
		// not told yet (UpdateEvery) takes them too, for its resolution,
		// whose count is the latest: before, it named the streams last
		// told, one of them since closed.
		nc := len(e.changes)
		for i := range nc {
			if c := &e.changes[i]; c.new != nil && c.new.Code == CodeLeak && (c.old == nil || c.tell || marks != prev ||
				c.new.Evidence.Count != c.old.Evidence.Count || c.new.Stream != c.old.Stream) {
				c.ids, c.heads = s.leakIDs(c.new, marks)
				pool := c.new.Evidence.Pool
				if c.new = s.leakPool(c.new, c.heads); c.old != nil && c.new.Evidence.Pool != pool && !c.tell {
					c.tell = true // its advice changed: a record says so
					es.toldNow(c.new, ns)
				}
			}
		}
		// The streams a LEAK with no change names may have changed too
		// (one closed as another crossed the cutoff): its marks did.
		for _, f := range es.open {
			if marks == prev {
				break
			}
			if f.Code != CodeLeak || f.HasDir || slices.ContainsFunc(e.changes[:nc], func(c change) bool { return c.new == f }) {
				continue
			}
			ids, heads := s.leakIDs(f, marks)
			if nf := s.leakPool(f, heads); nf != f {
				// Its advice changed with its streams, at the same count:
				// a record says so (it went untold until the count moved).
				e.changes = append(e.changes, change{old: f, new: nf, s: s, ids: ids, heads: heads, tell: true})
				es.toldNow(nf, ns)
			}
		}
	}
	s.mu.Unlock()
	for _, c := range e.changes {
		w := why
		if why != "" && c.new == nil {
			w = endedWhy(c.old, why, timedOut)
		}
		if w == "" && c.new == nil {
			if w = c.why; w == "" {
				w = resolvedWhy(c.old)
			}
		}
		e.apply(r, c, now, w)
	}
}

// seeEnd is what the evaluation that first sees the ended session s
// does at ns, which ResolveEnded does too for a session whose end no
// evaluation saw: it marks the end seen, and appends to e.cands the
// findings the end opens, to e.changes the last words of those open.
//
// A framing violation is an event, which sampling must not miss: a
// session that ended on one before any evaluation saw it (a client that
// closes as soon as smux says "invalid protocol") still has its finding,
// opened now and resolved with the session's end. One already open takes
// the evidence it ended with first (lastWord): the other end may have
// answered since the last evaluation (a PROTOCOL finding, critical while
// only the client had spoken, is a warning once the server answers in the
// same protocol). So is late data, which smux discarded: the session
// ended before an evaluation counted it (in v2 it waits lateGrace for a
// UPD, which cannot come now).
//
// cut is 0, or for a session that muxtop's stop ended, when the stop
// began (Unix ns): what came at or after it is the shutdown's doing, not
// the watched system's, and opens nothing. A violation before it opens
// its finding; late data counts as an evaluation at cut would have
// counted it, the session still live (v2's waits its lateGrace, which
// the shutdown cut short), and only in a direction none of whose late
// data came at or after cut. s.mu is held.
func (e *engine) seeEnd(s *Session, ns, cut int64) {
	es := &s.w.eng
	es.endSeen = true
	if es.openCodes&(1<<CodeVersionMismatch|1<<CodeProtocol) == 0 {
		n := len(e.cands)
		e.cands, _ = s.framingCandidates(e.cands)
		if cut != 0 {
			e.cands = dropFrom(e.cands, n, func(c candidate) bool { return c.since >= cut })
		}
	} else {
		e.finals, _ = s.framingCandidates(e.finals[:0])
		e.lastWord(s, ns)
	}
	if es.openCodes&(1<<CodeDataAfterClose) != 0 {
		return
	}
	if cut == 0 {
		if len(s.w.pendingLate) > 0 {
			s.countPendingLate(ns, true)
		}
		e.cands = s.lateCandidates(e.cands, ns, s.unreadFINs())
		return
	}
	n := len(e.cands)
	e.cands = s.lateCandidates(e.cands, cut, s.unreadFINs())
	e.cands = dropFrom(e.cands, n, func(c candidate) bool { return s.w.lateAt[c.dir] >= cut })
}

// dropFrom removes from cs[from:] the candidates drop says.
func dropFrom(cs []candidate, from int, drop func(candidate) bool) []candidate {
	return cs[:from+len(slices.DeleteFunc(cs[from:], drop))]
}

// open1 makes the finding candidate c opens on s at now, with the next
// ID, and what it has told (its opening, at ns): the evaluation's and
// ResolveEnded's openings alike. s.mu is held.
func (e *engine) open1(s *Session, c *candidate, now time.Time, ns int64) (*Finding, told) {
	e.nextID++
	f := s.finding(e.nextID, c, now)
	return f, told{f.Evidence.Count, f.Severity, ns, f.Evidence.toldLevel(), f.Stream}
}

// lastWord gives each open framing finding of the ended session s the
// evidence of e.finals, its final candidates, before it resolves: its
// update goes to e.changes, told (FindingUpdated) where its severity
// changed, and es.open holds the new finding, which the resolution
// carries. s.mu is held.
func (e *engine) lastWord(s *Session, ns int64) {
	es := &s.w.eng
	for j, f := range es.open {
		if f.Code != CodeProtocol && f.Code != CodeVersionMismatch {
			continue
		}
		k := f.key()
		i := slices.IndexFunc(e.finals, func(c candidate) bool { return c.key() == k })
		if i < 0 {
			continue
		}
		nf := f
		if c := &e.finals[i]; changed(f, c) {
			nf = s.finding(f.ID, c, f.Opened)
		}
		if tell, was := es.told[j].again(nf.Evidence.Count, nf.Stream, nf.Severity, nf.Evidence.toldLevel(), ns); tell || nf != f {
			e.changes = append(e.changes, change{old: f, new: nf, s: s, tell: tell, was: was})
			es.open[j] = nf
		}
	}
	clear(e.finals)
}

// changed reports whether c's evidence differs from f's enough to word
// the finding again: in its counts, or in its age by a step that grows
// with it (a reader that wants the exact age has Since).
func changed(f *Finding, c *candidate) bool {
	a, b := f.Evidence, c.ev
	return a.Count != b.Count || a.Bytes != b.Bytes || a.Window != b.Window || a.Streams != b.Streams || a.Limit != b.Limit ||
		roughAge(a.Age) != roughAge(b.Age) || roughAge(a.Idle) != roughAge(b.Idle) || f.Stream != c.stream || a.Sign != b.Sign ||
		a.PeerGuess != b.PeerGuess || a.PeerAnswered != b.PeerAnswered || a.Same != b.Same || (a.Slow == 0) != (b.Slow == 0) || a.slowReads != b.slowReads || a.slowAt != b.slowAt || roughAge(a.slowQuiet) != roughAge(b.slowQuiet) || (a.slowQuiet == 0) != (b.slowQuiet == 0) ||
		a.Unseen != b.Unseen || a.AfterBoth != b.AfterBoth || a.Unskipped != b.Unskipped || a.FinFirst != b.FinFirst || (a.refused == 0) != (b.refused == 0) || a.Upstream != b.Upstream || a.GaveUp != b.GaveUp || a.Slowest != b.Slowest || a.PushQuiet != b.PushQuiet || a.AfterPush != b.AfterPush || a.Silent != b.Silent ||
		a.holSid != b.holSid || a.holBytes != b.holBytes || a.ownNOP != b.ownNOP || a.framed != b.framed || a.Piled != b.Piled || a.readerFIN != b.readerFIN ||
		a.ServerClosed != b.ServerClosed || (a.Held*2 > a.Count) != (b.Held*2 > b.Count)
}

// roughAge rounds d down to a step of 1 s below 10 s, 5 s below a
// minute, 30 s below ten minutes and 5 minutes beyond.
func roughAge(d time.Duration) time.Duration {
	step := 5 * time.Minute
	switch {
	case d < 10*time.Second:
		step = time.Second
	case d < time.Minute:
		step = 5 * time.Second
	case d < 10*time.Minute:
		step = 30 * time.Second
	}
	return d / step * step
}

// apply records a change and keeps the open set. e.mu is held.
func (e *engine) apply(r *Registry, c change, now time.Time, why string) {
	e.dirty = e.dirty || c.new != c.old // a count told again changes no view
	switch {
	case c.old == nil: // opened
		e.opened++
		if int(c.new.Code) < NumFindingCodes && int(c.new.Severity) < NumSeverities {
			e.openedBy[c.new.Code][c.new.Severity]++
		}
		e.open[c.new.ID] = openFinding{c.new, c.s, c.ids, c.heads}
		r.hist.addEvent(Record{Kind: FindingOpened, Session: c.new.Session, Dir: c.new.Dir, At: now, Finding: c.recorded()})
	case c.new != nil: // updated
		of := e.open[c.new.ID]
		if c.ids != nil { // told, or not yet: the resolution names them
			of.ids, of.heads = c.ids, c.heads
		}
		of.f, of.s = c.new, c.s
		e.open[c.new.ID] = of
		if c.tell {
			r.hist.addEvent(Record{Kind: FindingUpdated, Session: c.new.Session, Dir: c.new.Dir, At: now, Finding: c.recorded(), Was: c.was})
		}
	default: // resolved
		f := *c.old
		f.Resolved, f.Why, f.Unwatched = now, why, c.unwatched
		if of := e.open[f.ID]; len(of.ids) > 0 { // else Heads keeps the oldest's (Finding.First)
			f.StreamIDs, f.Heads = of.ids, of.heads // as the last evaluation counted them
		}
		delete(e.open, f.ID)
		if f.Unwatched {
			e.unwatched = append(e.unwatched, &f)
		} else if int(f.Code) < NumFindingCodes && int(f.Severity) < NumSeverities {
			e.resolvedBy[f.Code][f.Severity]++
		}
		if len(e.resolved) == MaxResolved {
			copy(e.resolved, e.resolved[1:])
			e.resolved = e.resolved[:MaxResolved-1]
		}
		e.resolved = append(e.resolved, &f)
		e.recent.add(now.UnixNano())
		r.hist.addEvent(Record{Kind: FindingResolved, Session: f.Session, Dir: f.Dir, At: now, Finding: &f, Detail: why})
	}
}

// recorded returns the finding an opening's or update's record carries:
// the new one, with its streams if it names them.
func (c *change) recorded() *Finding {
	if len(c.ids) == 0 { // Heads keeps the oldest's (Finding.First)
		return c.new
	}
	f := *c.new
	f.StreamIDs, f.Heads = c.ids, c.heads
	return &f
}

// publish makes the open findings visible to snapshots: most severe
// first, then oldest. e.mu is held.
func (e *engine) publish() {
	v := &findingsView{evaluated: e.lastEval.Load(), opened: e.opened, openedBy: e.openedBy, resolvedBy: e.resolvedBy, resolved: slices.Clone(e.resolved), recent: e.recent.view(), unwatched: slices.Clone(e.unwatched)}
	v.open = make([]*Finding, 0, len(e.open))
	for _, of := range e.open {
		v.open = append(v.open, of.f)
		v.counts[of.f.Severity]++
	}
	slices.SortFunc(v.open, func(a, b *Finding) int {
		if c := cmp.Compare(b.Severity, a.Severity); c != 0 {
			return c
		}
		if c := a.Since.Compare(b.Since); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	// Each evaluation visits every session, in id order: e.leaks holds
	// what the open LEAK findings count, and which streams, as they stand
	// now.
	v.leaks = slices.Clone(e.leaks)
	for _, l := range v.leaks {
		v.leakTotal += l.n
	}
	e.view.Store(v)
	e.dirty = false
}

// resolvedWhy says why finding f stopped holding.
func resolvedWhy(f *Finding) string {
	switch f.Code {
	case CodeLeak:
		return "no stream of that kind has been open and idle longer than the threshold any more"
	case CodeWindowStall:
		return "the writer is no longer held at its full window"
	case CodeSessionBlocked:
		switch f.Evidence.Sign {
		case SignWrite:
			return "the held write returned"
		case SignWindow:
			return "the receiver's TCP window opened"
		}
		return "the receiver reads the connection again"
	case CodeKeepalive:
		return "a frame arrived"
	case CodeUnanswered:
		return "the streams got an answer, or closed"
	case CodeDataAfterClose:
		return fmt.Sprintf("no such data for %v", AfterCloseWindow)
	case CodeChurn:
		return "fewer sessions opened and ended in the last 10 s than CHURN holds for"
	case CodeSessionLeak:
		return "the piled-up sessions ended, were closed at one end, or were used again"
	case CodeGoAway:
		return "the session ended"
	case CodeCloseWait:
		return fmt.Sprintf("the %s sent a frame again: it still uses the session, which the %s's half-close left open (a half-close protocol, not a leak)", f.Dir.Sender(), f.Dir.Reverse().Sender())
	case CodeNoReply:
		return fmt.Sprintf("stream %d got its answer, or closed", f.Stream)
	}
	return "the condition no longer holds"
}

// resolution says why finding f of the live session s stopped holding
// at ns, where the session tells more than the finding alone
// (resolvedWhy): cands are the evaluation's candidates. "" leaves it to
// resolvedWhy. WINDOW_STALL's is stallResolved, which the evaluation
// calls with the time the writer was held. s.mu is held.
func (s *Session) resolution(f *Finding, cands []candidate, now time.Time, ns int64, cfg *FindingsConfig) string {
	if s.ended {
		return ""
	}
	switch f.Code {
	case CodeLeak:
		// Its streams are still old, and live: they carried frames since
		// (in use: their leak clock started again), or another finding's
		// condition explains them now (explainedLeaks), such as a side
		// gone silent while its peer's ping waits for its answer.
		if f.HasDir && s.sideClosed(f.Dir, ns) {
			// The side that never sent FIN closed its side (conditions.go):
			// it can send their FINs no more. Its session may still be
			// there, reading (a CloseWrite); the other side holds on.
			return fmt.Sprintf("the %s %s: it can send their FINs no more; the %s still holds the session (close it when its conn reads EOF)",
				f.Dir.Sender(), ClosedIts(s.transport()), f.Dir.Reverse().Sender())
		}
		if i := slices.IndexFunc(cands, func(c candidate) bool { return c.code == CodeCloseWait }); i >= 0 && (!f.HasDir || f.Dir == cands[i].dir) {
			// Its streams are the session the holding side keeps for a
			// peer that left (conditions.go).
			return fmt.Sprintf("its streams are still open, in the session the %s still holds though the %s %s: CLOSE_WAIT says so",
				cands[i].dir.Sender(), cands[i].dir.Reverse().Sender(), ClosedIts(s.transport()))
		}
		k := 0
		if f.HasDir {
			if f.Dir == ServerToClient {
				k = 1
			} else {
				k = 2
			}
		}
		if s.w.leaked[k] > 0 {
			if s.w.leakInUse[k] > 0 {
				return "its streams are still open, but in use again: a frame on them less than the threshold ago, so no side is known to have forgotten Close"
			}
			return "its streams are still open, but another condition explains them: a side gone silent (KEEPALIVE, as its silence lasts), a full window (WINDOW_STALL), a stream nobody accepted (UNANSWERED), a request with no answer on a reused stream (NO_REPLY) or a blocked session (SESSION_BLOCKED); no side is known to have forgotten Close"
		}
	case CodeKeepalive:
		// Nothing came since the silence began: it gave way to a block
		// that explains it (a yamux side pings again only once its
		// answer has come), not to a frame.
		if s.w.lastHeard(f.Dir) <= f.Since.UnixNano() &&
			slices.ContainsFunc(cands, func(c candidate) bool { return c.code == CodeSessionBlocked }) {
			return "the session is blocked: SESSION_BLOCKED says why"
		}
	case CodeUnanswered:
		return s.unansweredResolved(f, cands, now, ns, cfg)
	case CodeCloseWait:
		return s.closeWaitResolved(f, cands)
	case CodeNoReply:
		return s.noReplyResolved(f, cands, ns)
	case CodeDataAfterClose:
		if x := f.Dir.Reverse(); s.w.eng.lateUnread[f.Dir] {
			// The FIN's receiver stopped reading (lateCandidates): a read
			// or write held in x, SESSION_BLOCKED's signs, and only those.
			sign := "SESSION_BLOCKED's signs, held for less than its threshold so far"
			if slices.ContainsFunc(cands, func(c candidate) bool { return c.dir == x && c.code == CodeSessionBlocked }) {
				sign = CodeSessionBlocked.String()
			}
			return fmt.Sprintf("the %s's session is not reading what the %s sends (%s): the %s's FIN may still be unread there, so what the %s writes after it is no handler's fault",
				f.Dir.Sender(), x.Sender(), sign, x.Sender(), f.Dir.Sender())
		}
		if x := f.Dir.Reverse(); s.w.eng.lateReadBack[f.Dir] {
			return fmt.Sprintf("the %s's UPD showed it read them: it had half-closed with CloseWrite, and smux delivered them", x.Sender())
		}
	}
	return ""
}

// unreadFINs says, per direction, whether its receiver is shown not to
// read it by the findings open: SESSION_BLOCKED of it (not UNANSWERED,
// which shows one handler not answering, not the session not reading).
// A FIN sent that way may be unread (lateCandidates). s.mu is held.
func (s *Session) unreadFINs() [2]bool {
	var u [2]bool
	for d := range 2 {
		u[d] = s.openFinding(CodeSessionBlocked, Dir(d)) != nil
	}
	return u
}

// closeWaitResolved says why CLOSE_WAIT f of the live session s stopped
// holding, where the session tells more than a frame from the holding
// side (resolvedWhy): it closed its side too, or another finding explains
// its silence. s.mu is held.
func (s *Session) closeWaitResolved(f *Finding, cands []candidate) string {
	holder := f.Dir.Sender()
	switch {
	case s.dirEnded[f.Dir]:
		closed := ClosedIts(s.transport())
		if s.transport() == "pipe" {
			closed = "closed its end" // the connection closed at the other's
		}
		return fmt.Sprintf("the %s %s too", holder, closed)
	case slices.ContainsFunc(cands, func(c candidate) bool { return c.code == CodeKeepalive && c.dir == f.Dir }):
		return fmt.Sprintf("the %s's keepalive stopped: KEEPALIVE says it is frozen or gone", holder)
	case slices.ContainsFunc(cands, func(c candidate) bool { return c.code == CodeSessionBlocked }):
		return "the session is blocked: SESSION_BLOCKED says why"
	case s.lostSinceClose(f.Dir):
		// conditions.go: what the holder sent since may be among what
		// the capture lost.
		return fmt.Sprintf("the capture lost bytes the %s sent after the %s's close: they may hold frames, or its own close, muxtop did not see", holder, f.Dir.Reverse().Sender())
	}
	return ""
}

// endedWhy says why f resolved as its session ended, which is why (the
// session's endWhy): for CLOSE_WAIT, that the holding side let the
// session go at last. The evaluation that sees the end and ResolveEnded
// word it alike.
func endedWhy(f *Finding, why string, timedOut [2]openTimeout) string {
	switch f.Code {
	case CodeCloseWait:
		return fmt.Sprintf("%s: the %s no longer holds the session the %s left", why, f.Dir.Sender(), f.Dir.Reverse().Sender())
	case CodeUnanswered:
		if ot := timedOut[f.Dir]; ot.sid != 0 && f.Proto == Yamux {
			return fmt.Sprintf("%s: the %s's yamux closed it as stream %d's open timed out: its SYN had waited %s with no ACK, the %s's StreamOpenTimeout (%s by default), after which yamux closes the whole session, with no GoAway",
				why, f.Dir.Sender(), ot.sid, fmtDur(ot.waited), f.Dir.Sender(), fmtDur(DefaultStreamOpenTimeout))
		}
	}
	return why
}

// unansweredResolved says why UNANSWERED f stopped holding where another
// finding took over some of the streams it counted, which are those the
// previous evaluation counted (countedBefore): a stream still unanswered
// whose writer a full window now holds is WINDOW_STALL's (a v2 upload, or
// a yamux one, nobody reads: UNANSWERED keeps it until WINDOW_STALL
// holds); one still waiting is KEEPALIVE's where the other side went
// silent, SESSION_BLOCKED's where the session is blocked; in smux v1 one
// its opener writes on again waits from that write; one the other side
// has shown it accepted, by a frame on a stream opened after it
// (acceptedSpoke), is its handler's, LEAK's. The others got an
// answer, or closed: said of them only, and left to resolvedWhy where it
// is all of them. s.mu is held.
func (s *Session) unansweredResolved(f *Finding, cands []candidate, now time.Time, ns int64, cfg *FindingsConfig) string {
	d := f.Dir
	opener, other := d.Sender(), d.Reverse().Sender()
	if s.sideClosed(d.Reverse(), ns) {
		// It can send no answer any more. Not the opener's close: a
		// client that CloseWrites reads on, and its streams still wait.
		return fmt.Sprintf("the %s %s, leaving them unanswered: it can send no answer any more, and the %s's reads on them end", other, ClosedIts(s.transport()), opener)
	}
	// A silent side's finding (Evidence.Silent): the side spoke, or a
	// keepalive came, which hands the silence to KEEPALIVE. Else what
	// took the streams: nothing the side sent answered them (mute).
	spoke, mute := "", false
	if f.Evidence.Silent {
		// That the side spoke comes first: an answer the opener read
		// before it closed its side is no silent side holding it.
		switch a, since := d.Reverse(), f.Since.UnixNano(); {
		case s.w.lastHeard(a) > since:
			if unansweredOf(cands, d, false) {
				return fmt.Sprintf("the %s sent something on the session: it is not stopped, and the streams still without an answer are UNANSWERED's as any now, while it sends", other)
			}
			spoke = fmt.Sprintf("the %s sent something on the session: it is not stopped", other)
		case s.sideClosed(d, ns) && s.stillWaits(d):
			// Streams still wait, the side still silent: whether the
			// opener waits on is what is not known.
			return openerLeft(f, s.transport())
		case s.w.keepaliveKnown():
			return s.keepaliveCame(f, cands)
		case s.lostAt[a] > since:
			return fmt.Sprintf("the capture lost bytes the %s sent since the request: answers may be among them", other)
		default:
			mute = true
		}
	}
	var stalls []uint32 // the streams of WINDOW_STALL candidates in d
	var silent, blocked bool
	for _, c := range cands {
		switch {
		case c.code == CodeWindowStall && c.dir == d:
			stalls = append(stalls, c.stream)
		case c.code == CodeKeepalive && c.dir == d.Reverse():
			silent = true
		case c.code == CodeSessionBlocked:
			blocked = true // it says why, where the other side is silent too
		}
	}
	var stalled, waiting, written, accepted streamNames
	unsaid := 0 // still on the wait list, for no reason known here
	es := &s.w.eng
	cutoff := ns - int64(cfg.UnansweredAfter)
	quiet := s.version == 1 && s.proto != Yamux
	n := 0
	for st := s.w.lists[waitList].head; st != nil && n < maxWalk && st.watch.first <= cutoff; st, n = st.watch.links[waitList].next, n+1 {
		if st.opener.Sends() != d || !es.countedBefore(st) {
			continue
		}
		fl := &st.flow[d]
		held := fl.Stalled(now, cfg.StallAfter)
		switch {
		case slices.Contains(stalls, st.id), held && !blocked: // WINDOW_STALL counts it past its cap (maxStalls)
			stalled.add(st.id)
		case (silent || blocked) && (held || s.awaitsAnswer(st, cutoff, quiet, now, cfg)):
			waiting.add(st.id)
		case quiet && st.lastWrite() > cutoff:
			written.add(st.id)
		case acceptedSpoke(st, s.w.acceptedTo, s.w.lastAt):
			accepted.add(st.id)
		default:
			unsaid++
		}
	}
	var parts []string
	if stalled.n == 1 {
		parts = append(parts, fmt.Sprintf("%s, still unanswered, is WINDOW_STALL's now: the %s's writer is held by a full window, which the %s has not read from", stalled, opener, other))
	} else if stalled.n > 1 {
		parts = append(parts, fmt.Sprintf("%s, still unanswered, are WINDOW_STALL's now: the %s's writers are held by full windows, which the %s has not read from", stalled, opener, other))
	}
	if accepted.n > 0 {
		// Its acceptor sent a frame on a stream opened after it: the
		// accept loop took it (acceptedSpoke), its handler holds it.
		was, them, hold := "was", "it", "its handler holds it"
		if accepted.n > 1 {
			was, them, hold = "were", "them", "their handlers hold them"
		}
		parts = append(parts, fmt.Sprintf("%s, still unanswered, %s accepted: the %s sent a frame on stream %d, opened after %s, and AcceptStream hands streams out in the order they opened; %s (LEAK's once open and idle --leak-after)",
			accepted, was, other, s.w.acceptedID[d], them, hold))
	}
	answered := int(f.Evidence.Count) - stalled.n - waiting.n - written.n - accepted.n - unsaid
	alone := len(parts) == 0 && answered <= 0 && written.n == 0 // the excuse is all there is to say
	switch {
	case waiting.n == 0:
	case alone && blocked:
		return "the session is blocked: SESSION_BLOCKED says why"
	case alone:
		return fmt.Sprintf("the %s went silent: KEEPALIVE says so", other)
	case blocked:
		parts = append(parts, fmt.Sprintf("%s %s SESSION_BLOCKED's: the session is blocked", waiting, waiting.verb()))
	default:
		parts = append(parts, fmt.Sprintf("%s %s KEEPALIVE's: the %s went silent", waiting, waiting.verb(), other))
	}
	if written.n > 0 {
		parts = append(parts, fmt.Sprintf("the %s writes on %s again: in smux v1 a stream's wait counts from its opener's last frame on it", opener, written))
	}
	switch {
	case len(parts) == 0 || answered <= 0:
	case mute && answered == 1:
		parts = append(parts, "the other closed, unanswered")
	case mute:
		parts = append(parts, "the others closed, unanswered")
	case answered == 1:
		parts = append(parts, "the other got an answer, or closed")
	default:
		parts = append(parts, "the others got an answer, or closed")
	}
	switch {
	case len(parts) == 0 && spoke != "":
		return spoke + "; the streams got an answer, or closed"
	case len(parts) == 0 && mute:
		return fmt.Sprintf("the streams closed, unanswered: the %s has still sent nothing", other)
	case spoke != "":
		parts = append([]string{spoke}, parts...)
	}
	return strings.Join(parts, "; ")
}

// stillWaits says whether a stream opened in d the previous evaluation
// counted as unanswered is still on the wait list. s.mu is held.
func (s *Session) stillWaits(d Dir) bool {
	es := &s.w.eng
	n := 0
	for st := s.w.lists[waitList].head; st != nil && n < maxWalk; st, n = st.watch.links[waitList].next, n+1 {
		if st.opener.Sends() == d && es.countedBefore(st) {
			return true
		}
	}
	return false
}

// openerLeft says why UNANSWERED or NO_REPLY f of a silent side
// (Evidence.Silent) stopped holding once the opener closed its side of
// the connection, over transport: whether it still waits is not known,
// and the silent side holds the session, which CLOSE_WAIT names.
func openerLeft(f *Finding, transport string) string {
	return fmt.Sprintf("the %s %s: whether it still waits for an answer is not known (it may read on after a CloseWrite), and the %s, silent, holds the session, which CLOSE_WAIT names once it has held it --closewait-after",
		f.Dir.Sender(), ClosedIts(transport), f.Dir.Reverse().Sender())
}

// keepaliveCame says why UNANSWERED or NO_REPLY f of a silent side
// (Evidence.Silent) stopped holding once a keepalive (an smux NOP, a
// yamux ping or its answer) came on the session, the side still silent:
// KEEPALIVE judges its silence from then on, and says it went silent
// where it has (cands). s.mu is held.
func (s *Session) keepaliveCame(f *Finding, cands []candidate) string {
	other := f.Dir.Reverse().Sender()
	if slices.ContainsFunc(cands, func(c candidate) bool { return c.code == CodeKeepalive && c.dir == f.Dir.Reverse() }) {
		return fmt.Sprintf("the %s went silent: KEEPALIVE says so", other)
	}
	what := "a keepalive NOP"
	if s.proto == Yamux {
		what = "a keepalive ping"
	}
	return fmt.Sprintf("%s came on the session: keepalive is on, and KEEPALIVE judges the %s's silence from now on", what, other)
}

// streamNames names streams in a text: "stream 3", "streams 3 and 5",
// "streams 3, 5 and 7", "streams 3, 5, 7 and 4 more".
type streamNames struct {
	ids [3]uint32 // the first named
	n   int
}

func (s *streamNames) add(id uint32) {
	if s.n < len(s.ids) {
		s.ids[s.n] = id
	}
	s.n++
}

// verb is "is" for one stream, "are" for more.
func (s streamNames) verb() string {
	if s.n == 1 {
		return "is"
	}
	return "are"
}

// String returns the names.
func (s streamNames) String() string {
	switch s.n {
	case 0:
		return "no stream"
	case 1:
		return fmt.Sprintf("stream %d", s.ids[0])
	case 2:
		return fmt.Sprintf("streams %d and %d", s.ids[0], s.ids[1])
	case 3:
		return fmt.Sprintf("streams %d, %d and %d", s.ids[0], s.ids[1], s.ids[2])
	}
	return fmt.Sprintf("streams %d, %d, %d and %d more", s.ids[0], s.ids[1], s.ids[2], s.n-3)
}

// stallResolved says why WINDOW_STALL f stopped holding, and how long its
// writer had been held, heldFor (stallHeld). s.mu is held.
func (s *Session) stallResolved(f *Finding, cands []candidate, heldFor time.Duration, ns int64, cfg *FindingsConfig) string {
	upd := "a UPD"
	if s.proto == Yamux {
		upd = "a window update"
	}
	writer, reader := f.Dir.Sender(), f.Dir.Reverse().Sender()
	st := s.streams.get(f.Stream)
	held := "; the writer had been held " + fmtDur(heldFor)
	switch {
	case st == nil || !st.state.Live():
		return fmt.Sprintf("stream %d closed", f.Stream) + held
	case st.fin[f.Dir]:
		return fmt.Sprintf("the writer, the %s, sent FIN", writer) + held
	case s.sideClosed(f.Dir, ns):
		// DirectionEnded let the writer go: its side of the connection
		// closed (its process exited, or it shut its write side), not a
		// UPD. Either way it writes no more; its session may be there.
		return fmt.Sprintf("the writer, the %s, %s: it writes no more", writer, ClosedIts(s.transport())) + held
	case st.flow[f.Dir].FullSince.IsZero():
		return fmt.Sprintf("the window opened (%s)", upd) + held
	case ns-st.watch.consumedAt[f.Dir] < int64(cfg.StallAfter):
		return fmt.Sprintf("the %s read some of it (%s) after the writer had been held %s, though the window is full again: it reads; WINDOW_STALL opens again, counting from that %s, if the writer is still held %s after it",
			reader, upd, fmtDur(heldFor), strings.TrimPrefix(upd, "a "), fmtDur(cfg.StallAfter))
	case slices.ContainsFunc(cands, func(c candidate) bool { return c.code == CodeSessionBlocked }):
		return "the session is blocked: SESSION_BLOCKED says why no window opens"
	}
	return ""
}

// stallHeld returns how long WINDOW_STALL f's writer was held when it
// stopped holding, at the evaluation at ns: up to the reader's latest
// window update, the one that let it go on, if that came within
// StallAfter and after the hold began, else up to ns. A finding's age is
// worded again only in steps (1 s below 10 s, then 5 s), so what it said
// last is not it: a writer held 15 s read "for 10 s". A writer whose
// side of the connection closed was held up to that close. s.mu is held.
func (s *Session) stallHeld(f *Finding, ns int64, cfg *FindingsConfig) time.Duration {
	end := ns
	if s.sideClosed(f.Dir, ns) {
		end = s.dirEndedAt[f.Dir]
	}
	if st := s.streams.get(f.Stream); st != nil {
		if c := st.watch.consumedAt[f.Dir]; c > f.Since.UnixNano() && ns-c < int64(cfg.StallAfter) {
			end = min(end, c)
		}
	}
	return time.Duration(max(end-f.Since.UnixNano(), 0))
}

// stallFinal returns WINDOW_STALL f, which stops holding, worded with
// the time its writer was held (stallHeld): the resolved finding says
// it, not its latest wording's age.
func stallFinal(f *Finding, held time.Duration) *Finding {
	if held <= f.Evidence.Age {
		return f
	}
	g := *f
	g.Evidence.Age = held
	g.word()
	return &g
}

// endWhy says why a finding of an ended session resolved. s.mu is held.
func (s *Session) endWhy() string {
	return "the session ended (" + s.reason.String() + ")"
}

// unwatchedWhy says why a finding of a session that muxtop's own stop
// ended resolved: not that it stopped holding. s.mu is held.
func (s *Session) unwatchedWhy() string {
	return "muxtop stopped watching (" + s.reason.String() + "): still holding then"
}

// endNote returns the detail of the session's end record: err, and if
// a KEEPALIVE finding is open, the silence that smux's keepalive ends a
// session for. The silence is the one the keepalive acted on: where the
// other side (the pinger) closed its side before the end, up to that
// close, and a silent side that sent something before the end (or the
// pinger's close) had ended its silence: no KEEPALIVE is cited then. A
// client frozen 90 s, whose server's keepalive closed, and which sent its
// queued frames as it resumed just before the reset was "sent nothing for
// 180 µs", the gap after it resumed.
//
// The keepalive is said to have ended it only where the wire shows the
// pinger ended it: it closed its side first (the silent side had not),
// or, where one end is tapped, that end is the pinger and closed
// (LocalClose), or it is the silent side and read the pinger's close
// (EOF); in yamux, with the pinger's ping waiting for its answer. Else
// the silence is only said: a frozen client SIGKILLed, whose host reset
// the connection, and an application that closed its session after
// three pings of its own, were each "yamux's keepalive ends a session
// whose ping gets no answer", where no ping had waited or the silent
// side closed first. s.mu is held.
func (s *Session) endNote(at time.Time, err string) string {
	for _, f := range s.w.eng.open {
		if f.Code != CodeKeepalive {
			continue
		}
		pinger := f.Dir.Reverse()
		closed := s.dirEndedAt[pinger]
		closedFirst := s.dirEnded[pinger] && closed < at.UnixNano()
		last, until := s.w.lastHeard(f.Dir), at.UnixNano()
		if closedFirst {
			last, until = s.heardAtEnd[pinger], closed // what had come by the close
		}
		unheard := last == 0
		if unheard {
			last = s.audibleFrom(f.Dir)
		}
		if last > f.Since.UnixNano() {
			break // the silent side spoke again before: its silence ended then
		}
		// The silent side closed first only strictly before the end and
		// the pinger's close: a reset ends both directions at the end,
		// and a tap's Close writes a FIN for each into its capture at once.
		silentAt := s.dirEndedAt[f.Dir]
		silentClosed := s.dirEnded[f.Dir] && silentAt < at.UnixNano() && (!closedFirst || silentAt < closed)
		tapped := !s.info.Captured && !s.info.Proxied
		y := s.yamux()
		byPinger := !silentClosed && (closedFirst ||
			tapped && (s.reason == LocalClose && s.info.Tap == pinger.Sender() || s.reason == EOF && s.info.Tap == f.Dir.Sender())) &&
			(s.proto != Yamux || y.waiting[pinger])
		if !byPinger {
			note := fmt.Sprintf("the %s had sent nothing for %s by the end (KEEPALIVE)", f.Dir.Sender(), fmtDur(time.Duration(at.UnixNano()-last)))
			if silentClosed {
				note = fmt.Sprintf("the %s, silent for %s (KEEPALIVE), %s first, %s before the end",
					f.Dir.Sender(), fmtDur(time.Duration(max(silentAt-last, 0))), ClosedIts(s.transport()), fmtDur(time.Duration(at.UnixNano()-silentAt)))
			}
			return joinNote(err, note)
		}
		note := fmt.Sprintf("after the %s sent nothing for %s (KEEPALIVE): smux's keepalive closes a session that received nothing for a whole KeepAliveTimeout, checked at every one: within 1-2 of them (30-60 s by default)",
			f.Dir.Sender(), fmtDur(time.Duration(until-last)))
		if closedFirst {
			note = fmt.Sprintf("after the %s sent nothing for %s (KEEPALIVE), up to when the %s %s %s before the end: smux's keepalive closes a session that received nothing for a whole KeepAliveTimeout, checked at every one: within 1-2 of them (30-60 s by default)",
				f.Dir.Sender(), fmtDur(time.Duration(until-last)), pinger.Sender(), ClosedIts(s.transport()), fmtDur(time.Duration(at.UnixNano()-closed)))
		}
		switch {
		case s.proto == Yamux && y.waiting[pinger] && closedFirst && closed > y.latestAt[pinger]:
			// The pinger gave up first and closed its side; what ended
			// the connection later is another thing (the silent side's
			// host resetting it as its process exited, say): in order.
			silent := fmt.Sprintf("the %s having sent nothing for %s by then", f.Dir.Sender(), fmtDur(time.Duration(closed-last)))
			if unheard {
				silent = fmt.Sprintf("the %s having sent nothing muxtop saw", f.Dir.Sender())
			}
			note = fmt.Sprintf("%s after the %s %s, its ping unanswered for %s (KEEPALIVE: yamux's keepalive gives up on a ping unanswered for ConnectionWriteTimeout), %s",
				fmtDur(time.Duration(at.UnixNano()-closed)), pinger.Sender(), ClosedIts(s.transport()), fmtDur(time.Duration(closed-y.latestAt[pinger])), silent)
		case s.proto == Yamux && closedFirst:
			note = fmt.Sprintf("after the %s sent nothing for %s (KEEPALIVE), up to when the %s %s %s before the end: yamux's keepalive ends a session whose ping gets no answer",
				f.Dir.Sender(), fmtDur(time.Duration(until-last)), pinger.Sender(), ClosedIts(s.transport()), fmtDur(time.Duration(at.UnixNano()-closed)))
		case s.proto == Yamux:
			note = fmt.Sprintf("after the %s sent nothing for %s (KEEPALIVE): yamux's keepalive ends a session whose ping gets no answer",
				f.Dir.Sender(), fmtDur(time.Duration(until-last)))
		}
		return joinNote(err, note)
	}
	return err
}

// joinNote returns the session end's detail err with note after it.
func joinNote(err, note string) string {
	if err == "" {
		return note
	}
	return err + "; " + note
}

// churnRing keeps the latest session ends for CHURN.
type churnRing struct {
	mu   sync.Mutex
	ends [4096]sessionEnd
	n    uint64 // ends recorded
}

// sessionEnd is a session's life, for CHURN.
type sessionEnd struct {
	start, end int64          // in Unix ns
	up         *UpstreamError // why a proxy closed it unconnected, or nil
	// closedBy names the server ("upstream 127.0.0.1:9000" where attach's
	// proxy is in between, else "server 127.0.0.1:9000") where it closed
	// or reset the session first, before it sent anything; "" otherwise.
	closedBy string
	// byClient: end is the client's end, the connection still up then;
	// connEnd the connection's end (Unix ns), once it came.
	byClient bool
	connEnd  int64
}

// heldOn is how long a connection must outlive its client's end for
// CHURN to say the server held the session on (Evidence.Held).
const heldOn = time.Second

// held says whether the connection of se outlived its client's end by
// heldOn or more, by ns.
func (se *sessionEnd) held(ns int64) bool {
	if !se.byClient {
		return false
	}
	if se.connEnd == 0 {
		return ns-se.end >= int64(heldOn)
	}
	return se.connEnd-se.end >= int64(heldOn)
}

// sessionEnded records a session that lived from start to end; up, if
// not nil, is the failed connection to its upstream that ended it, and
// closedBy the server that closed it first, before answering (if any).
// It returns the record's number, for sessionConcluded.
func (e *engine) sessionEnded(start, end time.Time, up *UpstreamError, closedBy string) uint64 {
	rg := &e.ends
	rg.mu.Lock()
	defer rg.mu.Unlock()
	rg.ends[rg.n%uint64(len(rg.ends))] = sessionEnd{start: start.UnixNano(), end: end.UnixNano(), up: up, closedBy: closedBy}
	rg.n++
	return rg.n - 1
}

// clientEnded records a session that lived from start to its client's
// end, at end, its connection still up: sessionEnded's record, which
// sessionConcluded completes.
func (e *engine) clientEnded(start, end time.Time, closedBy string) uint64 {
	seq := e.sessionEnded(start, end, nil, closedBy)
	e.ends.mu.Lock()
	e.ends.ends[seq%uint64(len(e.ends.ends))].byClient = true
	e.ends.mu.Unlock()
	return seq
}

// sessionConcluded completes record seq (clientEnded's) of a session
// whose life ended at its client's end, before the connection's end at
// at: up and closedBy as the connection's end tells them, if the record
// is still kept.
func (e *engine) sessionConcluded(seq uint64, at time.Time, up *UpstreamError, closedBy string) {
	rg := &e.ends
	rg.mu.Lock()
	defer rg.mu.Unlock()
	if rg.n-seq > uint64(len(rg.ends)) {
		return
	}
	se := &rg.ends[seq%uint64(len(rg.ends))]
	se.connEnd = max(at.UnixNano(), se.end)
	if up != nil {
		se.up = up
	}
	if closedBy != "" {
		se.closedBy = closedBy
	}
}

// evalChurn opens or resolves CHURN. e.mu is held.
func (e *engine) evalChurn(r *Registry, now time.Time, ns int64, cfg *FindingsConfig) {
	var c *candidate
	if cfg.Churn > 0 {
		rg := &e.ends
		from := ns - int64(ChurnWindow)
		var count, ups, closed, held uint64
		var lived, first, lastStart, firstEnd, within int64
		var up *UpstreamError // the latest
		var closedBy string   // the latest
		failure := UpstreamOther
		rg.mu.Lock()
		for i := uint64(0); i < min(rg.n, uint64(len(rg.ends))); i++ {
			se := rg.ends[(rg.n-1-i)%uint64(len(rg.ends))]
			if se.end < from {
				break
			}
			if se.start >= from {
				count++
				lived += se.end - se.start
				if first == 0 || se.start < first {
					first = se.start
				}
				lastStart = max(lastStart, se.start)
				if firstEnd == 0 || se.end < firstEnd {
					firstEnd = se.end
				}
				if se.held(ns) {
					held++
				}
				if se.closedBy != "" {
					if closed++; closedBy == "" {
						closedBy = se.closedBy
					}
					within = max(within, se.end-se.start)
				}
				if se.up != nil {
					if ups++; up == nil {
						up, failure = se.up, se.up.Failure
					} else if se.up.Failure != failure {
						failure = UpstreamOther
					}
				}
			}
		}
		rg.mu.Unlock()
		// Hysteresis: CHURN opens at Churn and holds down to its low mark
		// (churnLow): a rate right at the threshold opened and resolved it
		// at every session that entered or left the window.
		if count >= uint64(cfg.Churn) || e.churn != nil && count >= churnLow(cfg.Churn) {
			c = &candidate{code: CodeChurn, since: first,
				ev: Evidence{Count: count, Age: time.Duration(lived / int64(count)), Limit: ChurnWindow, Upstream: ups,
					Peak: count, together: lastStart < firstEnd}}
			if e.churn != nil {
				c.ev.Peak = max(count, e.churn.Evidence.Peak)
			}
			if up != nil {
				c.ev.UpstreamAddr, c.ev.UpstreamFailure = up.Addr, failure
			}
			c.ev.Held = held
			if closed > 0 {
				c.ev.ServerClosed, c.ev.ServerClosedWithin, c.ev.ClosedBy = closed, time.Duration(within), closedBy
			}
		}
	}
	old := e.churn
	switch {
	case c == nil && old == nil:
	case c == nil:
		e.churn = nil
		why := fmt.Sprintf("fewer than %d sessions (80%% of the threshold, %d) opened and ended in the last %s", churnLow(cfg.Churn), cfg.Churn, fmtDur(ChurnWindow))
		if cfg.Churn <= 0 {
			why = "CHURN was turned off"
		}
		e.apply(r, change{old: old}, now, why)
	case old == nil:
		e.nextID++
		e.churn = churnFinding(e.nextID, c, now)
		e.churnTold = told{c.ev.Count, e.churn.Severity, ns, 0, 0}
		e.apply(r, change{new: e.churn}, now, "")
	default:
		if changed(old, c) {
			e.churn = churnFinding(old.ID, c, old.Opened)
			e.churn.Since = old.Since
		}
		if tell, _ := e.churnTold.again(e.churn.Evidence.Count, 0, e.churn.Severity, 0, ns); tell || e.churn != old {
			e.apply(r, change{old: old, new: e.churn, tell: tell}, now, "")
		}
	}
}

// churnLow is the count of sessions opened and ended within ChurnWindow
// that an open CHURN holds down to: 80 % of the threshold churn, rounded
// up (a threshold of 1 holds while one such session is in the window).
func churnLow(churn int) uint64 {
	return uint64(max((churn*4+4)/5, 1))
}

func churnFinding(id uint64, c *candidate, opened time.Time) *Finding {
	f := &Finding{ID: id, Code: CodeChurn, Severity: CodeChurn.Severity(), Since: time.Unix(0, c.since), Opened: opened, Evidence: c.ev}
	f.Text, f.Advice = describe(f, 0, 0)
	return f
}

// findings returns the published findings.
func (e *engine) findings() *findingsView {
	if v := e.view.Load(); v != nil {
		return v
	}
	return &findingsView{}
}

// snapshotFindings adds the published findings v to snap and, if
// latency, merges the sessions' first-reply histograms into the forgotten
// sessions': Latency and LatencyHistogram count the same replies.
func (r *Registry) snapshotFindings(snap *Snapshot, v *findingsView, sessions []*Session, latency bool) {
	snap.Findings, snap.FindingCounts, snap.FindingsOpened, snap.Resolved = v.open, v.counts, v.opened, v.resolved
	snap.FindingsOpenedBy, snap.FindingsResolvedBy = v.openedBy, v.resolvedBy
	snap.ResolvedRecent = v.recent.count(snap.At)
	snap.Unwatched = v.unwatched
	for _, f := range v.unwatched {
		snap.UnwatchedCounts[f.Severity]++
	}
	snap.Leaks = v.leakTotal
	if !latency {
		return
	}
	h, hist, rtt := snap.Forgotten.latency, snap.Forgotten.Latency, snap.Forgotten.PingRTT
	for _, s := range sessions {
		s.mu.Lock()
		h.add(&s.w.latency)
		hist.add(&s.w.latency)
		if s.y != nil {
			rtt.add(&s.y.rtt)
		}
		s.mu.Unlock()
	}
	snap.Latency = h.latency()
	snap.LatencyHistogram = hist
	snap.PingRTT = rtt
}

// FindingsOf returns the open findings of session id, or of no session
// (CHURN, SESSION_LEAK) for 0, in the snapshot's order.
func (s *Snapshot) FindingsOf(id uint64) []*Finding {
	var fs []*Finding
	for _, f := range s.Findings {
		if f.Session == id {
			fs = append(fs, f)
		}
	}
	return fs
}

// First returns a LEAK's oldest stream's (Stream's) first payload bytes
// each way, from Heads: beside its id where StreamIDs names the streams,
// else the one Heads keeps. Nil for other findings, or where none were
// kept.
func (f *Finding) First() *[2]FirstBytes {
	if f.Code != CodeLeak {
		return nil
	}
	if len(f.StreamIDs) > 0 {
		return f.HeadOf(f.Stream)
	}
	if len(f.Heads) > 0 {
		return &f.Heads[0]
	}
	return nil
}

// HeadOf returns the first bytes of stream sid as the record's Heads has
// them, or nil where f names no such stream (StreamIDs).
func (f *Finding) HeadOf(sid uint32) *[2]FirstBytes {
	for i, id := range f.StreamIDs {
		if id == sid && i < len(f.Heads) {
			return &f.Heads[i]
		}
	}
	return nil
}

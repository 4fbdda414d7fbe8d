package live

import (
	"cmp"
	"slices"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/wirekind"
)

// Snapshot is an immutable picture of a Registry. Nothing in it changes
// after Registry.Snapshot returns; several Snapshots may share SessionSnaps.
type Snapshot struct {
	// At is when the snapshot was taken; Started when the Registry was made.
	At, Started time.Time
	// Sessions are the tracked sessions, live and ended, in id order.
	Sessions []*SessionSnap
	// Totals counts every frame ever recorded, forgotten sessions included.
	Totals Counts
	// LiveSessions counts sessions not ended; OpenStreams their open or half-closed streams.
	LiveSessions int
	OpenStreams  int
	// StreamsTotal counts every stream ever opened.
	StreamsTotal uint64
	// Violations counts framing violations (at most one per direction of a
	// session); Anomalies counts stream-level anomalies. ViolationsBy and
	// AnomaliesBy count them by code, forgotten sessions included:
	// AnomaliesBy adds up to Anomalies, and ViolationsBy,
	// YamuxViolationsBy and NotMuxBy together to Violations.
	Violations, Anomalies uint64
	// ViolationsBy counts the smux sessions' violations by smux's code,
	// those NotMux counts left out.
	ViolationsBy [decoder.NumCodes]uint64
	// NotMux counts those of Violations that are no mux's: another
	// protocol's bytes (TLS, HTTP, text…) at the start of a direction
	// (FramingInfo.NotMux), forgotten sessions included. They stay in
	// Violations, but not in ViolationsBy nor YamuxViolationsBy: NotMuxBy
	// counts them by what the bytes are. The front ends show
	// Violations − NotMux as framing violations and these apart, as "not
	// a mux" (muxtop_not_mux_total, not muxtop_violations_total).
	NotMux      uint64
	NotMuxBy    [wirekind.NumKinds]uint64
	AnomaliesBy [NumAnomalies]uint64
	// EndedBy counts the ended sessions, forgotten ones included, by the
	// reason they ended.
	EndedBy [NumCloseReasons]uint64
	// OldestOpen is the SYN time of the oldest stream open or half-closed
	// in a live session; zero when there is none.
	OldestOpen time.Time
	// History describes the frame history.
	History HistoryStats
	// Forgotten adds up the ended sessions no longer tracked one by one.
	Forgotten Forgotten
	// Notices are the latest messages for the user, oldest first.
	Notices []Notice
	// Leaks counts the streams the open LEAK findings count, as of the
	// latest Registry.Evaluate: the sum of their Evidence.Count, the
	// figure the findings show. 0 where nothing evaluates (Evaluated is
	// zero): Aged then says what the age alone says.
	Leaks int
	// Aged adds up the sessions' Aged: streams open or half-closed longer
	// than SnapshotOptions.LeakAfter, whatever explains them (in use,
	// or another finding). Where an evaluation ran, longer than that at
	// Evaluated, the instant Leaks is of: of the streams still live, so
	// that Aged − Leaks, where positive, are streams that LEAK looked at
	// and left out. Streams a capture loss set aside are among them.
	Aged int
	// Setup adds up the sessions' Setup: of Aged, the setup streams held
	// open with no FIN from either side (StreamSnap.Setup), which LEAK
	// does not count.
	Setup int
	// Aside adds up the sessions' Aside: of Aged, the streams a capture
	// loss set aside, that no finding watches (SessionSnap.Aside).
	Aside int
	// Evaluated is when the latest Registry.Evaluate ran, the time it
	// was given; zero if none has: then no finding, LEAK included, was
	// looked for.
	Evaluated time.Time
	// Stalls adds up the sessions' Stalls; StallAfter is the threshold
	// they were counted with.
	Stalls     int
	StallAfter time.Duration

	// Findings are the open findings as of the latest Registry.Evaluate,
	// most severe first, then oldest; FindingCounts counts them by
	// Severity. FindingsOpened counts every finding opened so far;
	// Resolved holds the latest MaxResolved resolved ones, oldest first.
	Findings       []*Finding
	FindingCounts  [NumSeverities]int
	FindingsOpened uint64
	Resolved       []*Finding
	// ResolvedRecent counts the findings resolved within RecentResolved
	// of At (or after it), Unwatched ones included: exactly, where
	// Resolved, capped, may list fewer of them.
	ResolvedRecent int
	// Unwatched are the findings resolved because muxtop stopped watching
	// their sessions (Registry.ResolveEnded), in resolution order: they
	// still held as the watch ended, and a run's summary counts them open
	// at its end. UnwatchedCounts counts them by Severity.
	Unwatched       []*Finding
	UnwatchedCounts [NumSeverities]int
	// Incomplete counts the sessions whose counts are incomplete
	// (SessionSnap.Incomplete), forgotten ones included.
	Incomplete int
	// OneWay counts the sessions a capture holds one direction of only
	// (SessionSnap.Unseen), forgotten ones included.
	OneWay int
	// Unparsed, Unsent, Lost and Skipped add up the sessions' fields of
	// the same names per direction, forgotten sessions included.
	Unparsed, Unsent, Lost, Skipped [2]int64
	// Latency is the first-reply latency over every session's streams,
	// forgotten sessions' included, when SnapshotOptions.Latency asked for
	// it; a SessionSnap's is its own. LatencyHistogram counts the same
	// times as a histogram (its Count is Latency.N), so that its counts
	// never go down.
	Latency          Latency
	LatencyHistogram LatencyHistogram
	// FindingsOpenedBy counts FindingsOpened by FindingCode and the
	// severity each opened with: a finding whose severity changes later
	// stays counted under its first (FindingCounts has the current ones).
	// FindingsResolvedBy counts the resolved findings by code and the
	// severity each had as it resolved, those muxtop's stop resolved
	// (Unwatched) left out: they count as open at the end.
	FindingsOpenedBy, FindingsResolvedBy [NumFindingCodes][NumSeverities]uint64

	// ViolationsBy and AnomaliesBy above hold smux's violation codes and
	// every session's anomalies. YamuxViolationsBy counts the yamux
	// sessions' violations by yamux's codes, those NotMux counts left
	// out; YamuxAnomaliesBy the part of
	// AnomaliesBy that yamux sessions showed. Both include forgotten
	// sessions.
	YamuxViolationsBy [yamux.NumCodes]uint64
	YamuxAnomaliesBy  [NumAnomalies]uint64
	// GoAwaysBy counts yamux GoAway frames by sender (Side) and code
	// (yamux's code, or GoAwayOther), forgotten sessions included.
	GoAwaysBy [2][NumGoAwayCodes]uint64
	// PingRTT counts the round trips of answered yamux Pings, as the tap
	// saw them, forgotten sessions included, when SnapshotOptions.Latency
	// asked for it (same bounds as LatencyHistogram).
	PingRTT LatencyHistogram
}

// DefaultStallAfter is how long a v2 writer must be held at a full window
// before muxtop calls its stream STALLED. A healthy bulk transfer touches
// the window all the time, and its reader's UPD opens it again within
// milliseconds.
const DefaultStallAfter = 2 * time.Second

// SnapshotOptions choose how much a Snapshot copies.
type SnapshotOptions struct {
	// Streams selects the sessions whose streams are copied into
	// SessionSnap.Streams; nil selects every session. A front end that
	// shows one session's streams asks for that one: copying every stream
	// of every busy session is most of what a snapshot costs.
	Streams func(session uint64) bool
	// LeakAfter, when positive, makes each SessionSnap count in Aged its
	// open or half-closed streams opened more than LeakAfter before the
	// snapshot, or, once an evaluation ran, before the latest one
	// (Snapshot.Evaluated). (Leaks, the suspected leaks, come from the
	// findings.)
	LeakAfter time.Duration
	// StallAfter is how long a v2 writer must sit at a full window, with
	// no UPD opening it and no FIN of its own, to count as stalled; zero
	// means DefaultStallAfter.
	StallAfter time.Duration
	// Now is the snapshot's time, At; zero means Registry.Now(). Tests fix it.
	Now time.Time
	// Latency adds every session's first-reply times, forgotten ones
	// included, into Snapshot.Latency, for a summary: it costs a pass over
	// each session's histogram. Snapshot sets it.
	Latency bool
}

// Forgotten adds up ended sessions beyond Config.EndedSessions.
type Forgotten struct {
	Sessions uint64
	Streams  uint64
	// EndedStreams counts those of Streams that ended with their session.
	EndedStreams uint64
	Counts       Counts
	Anomalies    uint64
	Violations   uint64
	// NotMux counts those of Violations that are not a mux's
	// (Snapshot.NotMux), NotMuxBy by what their bytes are.
	NotMux   uint64
	NotMuxBy [wirekind.NumKinds]uint64
	// Unparsed, Unsent, Lost and Skipped add up the sessions'
	// SessionSnap fields of the same names; Incomplete counts those of
	// them that were incomplete.
	Unparsed, Unsent, Lost, Skipped [2]int64
	Incomplete                      int
	// OneWay counts those a capture held one direction of only.
	OneWay int
	// EndedBy counts the sessions by the reason they ended; ViolationsBy
	// and AnomaliesBy itemise Violations and Anomalies by code, as the
	// Snapshot's do (ViolationsBy without NotMux).
	EndedBy      [NumCloseReasons]uint64
	ViolationsBy [decoder.NumCodes]uint64
	AnomaliesBy  [NumAnomalies]uint64
	// Latency adds up the sessions' first-reply times; latency the same
	// times in the quarter-octave buckets a session keeps, for
	// Snapshot.Latency's percentiles.
	Latency LatencyHistogram
	latency latencyTotal
	// YamuxViolationsBy, YamuxAnomaliesBy, GoAwaysBy and PingRTT are
	// the Snapshot's fields of the same names for these sessions.
	YamuxViolationsBy [yamux.NumCodes]uint64
	YamuxAnomaliesBy  [NumAnomalies]uint64
	GoAwaysBy         [2][NumGoAwayCodes]uint64
	PingRTT           LatencyHistogram
}

// WireBytes returns the wire bytes of direction d of every session,
// forgotten ones included: SessionSnap.WireBytes added up, the frames'
// bytes (Totals) plus Unparsed.
func (s *Snapshot) WireBytes(d Dir) uint64 {
	return s.Totals.BytesDir(d) + uint64(s.Unparsed[d])
}

// NotSmux reports whether the session's bytes broke smux's framing before
// a single frame: whatever it carries, it is not smux. (For a session the
// tap decodes as yamux, read it as "not yamux".)
func (s *SessionSnap) NotSmux() bool {
	return len(s.Framing) > 0 && s.Counts.Total() == 0
}

// MuxViolations counts the session's framing violations of a mux's
// framing: Framing less those that are another protocol's bytes from the
// first byte (FramingInfo.NotMux), which the snapshot counts apart
// (Snapshot.NotMux): their sender speaks no mux, though a receiver that
// does reacts to them as to any bad header (smux's reader stops).
func (s *SessionSnap) MuxViolations() int {
	n := 0
	for i := range s.Framing {
		if s.Framing[i].NotMux() == wirekind.Unknown {
			n++
		}
	}
	return n
}

// Session returns the session with id, or nil.
func (s *Snapshot) Session(id uint64) *SessionSnap {
	i, ok := slices.BinarySearchFunc(s.Sessions, id, func(ss *SessionSnap, id uint64) int { return cmp.Compare(ss.ID, id) })
	if !ok {
		return nil
	}
	return s.Sessions[i]
}

// SessionSnap is an immutable picture of one session.
type SessionSnap struct {
	ID   uint64
	Info SessionInfo
	// Version is the protocol version of the session's first frame, or 0;
	// Versions that of each direction's first frame.
	Version  uint8
	Versions [2]uint8
	// Start is when the tap saw the connection, Last the latest frame, End when it ended.
	Start, Last, End time.Time
	Ended            bool
	Reason           CloseReason
	Err              string
	Counts           Counts
	// Streams are the tracked streams in id order: every open one and the
	// latest closed ones the session keeps in detail, its share of
	// Config.StreamBudget (at most Config.ClosedStreams); the rest are in
	// Closed. Count from the counters (Open, Total, StreamsEnded), not
	// from Streams. It is nil when
	// StreamsOmitted: SnapshotOptions.Streams did not select the session.
	Streams        []StreamSnap
	StreamsOmitted bool
	// Tracked is how many streams Streams holds, or would hold.
	Tracked int
	// Leaks counts the streams the session's open LEAK findings count,
	// as of the latest Registry.Evaluate (Snapshot.Leaks): its suspected
	// leaks. Streams as old that another finding explains (a blocked
	// session's, a stalled writer's, those UNANSWERED counts) are not
	// among them.
	Leaks int
	// Aged counts the open or half-closed streams opened longer than
	// SnapshotOptions.LeakAfter before the snapshot (before the latest
	// evaluation, once one ran: Snapshot.Aged), whatever explains them;
	// 0 without a LeakAfter. Those a capture loss set aside count.
	Aged int
	// Setup counts, of Aged, the session's setup streams held open with no
	// FIN from either side (StreamSnap.Setup): LEAK does not count them.
	Setup int
	// Aside counts, of Aged, the streams a capture set aside as it lost
	// bytes that may hold their frames, a FIN perhaps (Session.Resynced):
	// still open as far as it saw, but neither LEAK nor another finding
	// watches them.
	Aside int
	// Stalls counts the live streams with a stalled writer (StreamSnap.Stalled).
	Stalls int
	// Open counts streams open or half-closed; Total every stream opened;
	// StreamsEnded the streams that ended with the session, neither closed
	// by both FINs nor reset. The rest, Total − Open − StreamsEnded, closed
	// before: both ways, or (yamux) reset by an RST.
	Open         int
	Total        uint64
	StreamsEnded uint64
	// Closed adds up the closed streams no longer in Streams.
	Closed ClosedSummary
	// Untracked counts the frames that name no tracked stream: NOPs, and
	// FIN, PSH or UPD for an unknown stream. Per direction, Counts' frames
	// are the sum of every tracked stream's Frames, Closed.Frames and
	// Untracked.Frames; likewise PSH payload bytes.
	Untracked Traffic
	// Framing holds the framing violation of each direction, if any.
	Framing []FramingInfo
	// Anomalies holds the latest anomalies, oldest first; AnomalyCount
	// counts all, and AnomaliesBy counts them by Anomaly.
	Anomalies    []AnomalyInfo
	AnomalyCount uint64
	AnomaliesBy  [NumAnomalies]uint64
	// OldestOpen is the SYN time of the oldest stream still open or
	// half-closed; zero when none is.
	OldestOpen time.Time
	// Unparsed counts the bytes of each direction that the tap or capture
	// saw and no frame holds: the Prefix, the Skipped, and those from a
	// violation's header on or of a frame the connection's end cut short.
	// Counts' bytes plus Unparsed are the session's wire bytes (WireBytes).
	Unparsed [2]int64
	// DirEnded is, by direction, when its byte stream ended
	// (Session.DirectionEnded: its sender closed its side of the
	// connection, or it was reset, or a write to its receiver failed);
	// zero while it flows. A live session with one of them set is half
	// open: one end has closed its side and the other has not, such as an
	// smux server that read the client's EOF and did not close its conn
	// (smux's Session does not on EOF; its keepalive or Close does).
	DirEnded [2]time.Time
	// Unsent counts bytes that the tapped end wrote, and muxtop recorded,
	// but that a failed write never sent; Counts do not include the frames
	// that lay wholly in them.
	Unsent [2]int64
	// Incomplete reports that the capture behind the session did not see
	// every byte (Session.Resynced): its counts are what was seen, not
	// what was sent. Lost counts the bytes a capture lost per direction,
	// Skipped those it saw but could not frame, before a frame boundary
	// (part of Unparsed).
	Incomplete bool
	Lost       [2]int64
	Skipped    [2]int64
	// Cut is when the capture the session was read from was cut by its
	// writer's size limit while the session was open (Session.WriterCut):
	// zero if it was not. Such a session is Incomplete, and not Ended.
	Cut time.Time
	// Unseen reports, per direction, that the capture behind the session
	// holds no TCP segment of its sender at all, not even an ACK
	// (Session.Unseen): a capture of one direction only. Nothing about
	// that side is judged.
	Unseen [2]bool
	// Reversed reports that the mux roles are the reverse of the TCP
	// ones: the session's first SYN of an id a side opens showed the
	// server (the end that accepted the connection) opening odd ids,
	// the mux client's — a reverse tunnel's agent dials out and runs the
	// mux's server role. Client and server stay the TCP roles everywhere
	// (a stream's opener is the end that sent its SYN).
	Reversed bool
	// Latency is the first-reply latency of the session's streams: from a
	// stream's SYN to the first data from the side that did not open it.
	Latency Latency

	// Proto is the protocol the session speaks.
	Proto Protocol
	// Pings are a yamux session's Pings, by the side that sent them.
	Pings [2]PingStats
	// GoAways are a yamux session's first GoAway frames (at most 4);
	// GoAwayCount counts all.
	GoAways     []GoAwayInfo
	GoAwayCount uint64
	// GoAwaysBy counts all of them by sender (Side) and code (yamux's
	// code, or GoAwayOther).
	GoAwaysBy [2][NumGoAwayCodes]uint64
	// Prefix counts the bytes of each direction that came before the mux
	// and were skipped unframed, as the tap was told (Consul's one-byte
	// RPC type before yamux). They are part of Unparsed.
	Prefix [2]int64
}

// Accounted adds up the frames, PSH payload bytes and wire bytes that the
// session attributes: every tracked stream's, the folded ones' (Closed)
// and the Untracked. For each direction it equals Counts (frames, PSH
// wire bytes less their headers, and every frame's wire bytes); it needs
// the streams, so StreamsOmitted must be false.
func (s *SessionSnap) Accounted() Traffic {
	t := s.Untracked
	for d := range 2 {
		t.Frames[d] += s.Closed.Frames[d]
		t.Bytes[d] += s.Closed.Bytes[d]
		t.Wire[d] += s.Closed.Wire[d]
		for i := range s.Streams {
			t.Frames[d] += s.Streams[i].Frames[d]
			t.Bytes[d] += s.Streams[i].Bytes[d]
			t.Wire[d] += s.Streams[i].Wire[d]
		}
	}
	return t
}

// Counted returns what Counts says Accounted must be.
func (s *SessionSnap) Counted() Traffic {
	var t Traffic
	for d := range 2 {
		t.Frames[d] = s.Counts.FramesDir(Dir(d))
		t.Wire[d] = s.Counts.BytesDir(Dir(d))
		psh := s.Counts.Frames[d][decoder.PSH]
		t.Bytes[d] = s.Counts.Bytes[d][decoder.PSH] - psh*decoder.HeaderSize
		data := s.Counts.TypeFrames[d][yamux.Data]
		t.Bytes[d] += s.Counts.TypeBytes[d][yamux.Data] - data*yamux.HeaderSize
	}
	return t
}

// WireBytes returns the session's wire bytes in direction d, muxtop's one
// count of them: every frame whole, header and payload (a capture's lost
// payload bytes included, as the frame counts whole), plus Unparsed. A
// failed write's unsent bytes are in neither.
func (s *SessionSnap) WireBytes(d Dir) uint64 {
	return s.Counts.BytesDir(d) + uint64(s.Unparsed[d])
}

// Stream returns the tracked stream with id, or nil.
func (s *SessionSnap) Stream(id uint32) *StreamSnap {
	i, ok := slices.BinarySearchFunc(s.Streams, id, func(st StreamSnap, id uint32) int { return cmp.Compare(st.ID, id) })
	if !ok {
		return nil
	}
	return &s.Streams[i]
}

// Peer returns the address of the end muxtop does not tap.
func (s *SessionSnap) Peer() string {
	if s.Info.Tap == Client {
		return s.Info.Server
	}
	return s.Info.Client
}

// StreamSnap is a picture of one stream.
type StreamSnap struct {
	ID     uint32
	Opener Side
	State  State
	// Frames and Bytes count per direction; Bytes are PSH (yamux: DATA)
	// payload bytes.
	Frames [2]uint64
	Bytes  [2]uint64
	// Wire is the stream's wire bytes per direction: its frames whole,
	// header and payload, a UPD's 8 bytes and yamux's WINDOW_UPDATEs
	// included. The session's WireBytes is every stream's, the folded
	// ones', the Untracked frames' and the Unparsed bytes.
	Wire [2]uint64
	// First is the SYN's time, Last the latest frame's.
	First, Last time.Time
	// FirstReply is the time from SYN to the first data from the side that
	// did not open the stream; 0 if none yet.
	FirstReply time.Duration
	// Flow is the v2 flow-control state of each direction.
	Flow [2]Flow
	// Incomplete reports that the stream's counts miss frames: it was open
	// before the capture saw it, or live when the capture lost bytes.
	Incomplete bool
	// Leak reports that the session's latest evaluation counted the
	// stream in one of its open LEAK findings (SessionSnap.Leaks): a
	// suspected leak. A stream as old that another finding explains is
	// not one. A stream that ended with its session (EndedWithSession)
	// keeps the mark of the latest evaluation before the end, though
	// the session's findings are resolved: it was a suspected leak when
	// the session ended.
	Leak bool
	// Setup reports that the stream is one of its session's setup
	// streams, opened as the session was set up and held open since with
	// no FIN from either side (or, ended with its session, until its
	// end): a control channel, a pool opened at login, held for the
	// session's life by design. LEAK does not count it, however long it
	// is idle; one half-closed is counted as any other, and not Setup.
	// A setup stream opened within 1 s (SetupWindow) of the session's
	// first frame, no stream of the session having closed before it, in
	// a session whose start was seen.
	Setup bool
	// Head is the first payload bytes of each direction, kept for the
	// stream's life whatever history has evicted.
	Head [2]FirstBytes
}

// Stalled reports whether a v2 writer of the stream is held back, and in
// which direction: see Flow.Stalled. A snapshot's own StallAfter is the
// usual after.
func (s *StreamSnap) Stalled(now time.Time, after time.Duration) (Dir, bool) {
	if !s.State.Live() {
		return 0, false
	}
	for d := range 2 {
		if s.Flow[d].Stalled(now, after) {
			return Dir(d), true
		}
	}
	return 0, false
}

// FramingInfo describes a framing violation that stopped decoding a direction.
//
// A yamux session's violation has Proto Yamux, its code in YamuxCode and
// its header in YamuxHeader; Code and Header are then zero.
type FramingInfo struct {
	Dir    Dir
	At     time.Time
	Code   decoder.Code
	Offset int64
	Header decoder.Header

	Proto       Protocol
	YamuxCode   yamux.Code
	YamuxHeader yamux.Header
	// Want is the version the receiving end speaks, for VERSION_CHANGED
	// and VERSION_MISMATCH; the offending one is Header's.
	Want   uint8
	Detail string
}

// AnomalyInfo describes one anomalous frame.
//
// A yamux frame's anomaly has Proto Yamux and its header in YamuxHeader.
type AnomalyInfo struct {
	Anomaly Anomaly
	Dir     Dir
	At      time.Time
	Offset  int64
	Header  decoder.Header

	Proto       Protocol
	YamuxHeader yamux.Header
}

// snapshot returns the session's picture, with its streams if withStreams,
// counting in Aged the live streams opened before cutoff unless cutoff is
// zero, with leaks, what its open LEAK findings count, in Leaks, and
// marks, which streams they count (leakmarks.go). Pictures are reused
// while the session, its leak marks and those counts do not change.
func (s *Session) snapshot(withStreams bool, cutoff, now time.Time, stallAfter time.Duration, leaks int, marks *leakMarks) *SessionSnap {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.picture(withStreams, cutoff, now, stallAfter, leaks, marks)
	if check := s.reg.checkSnap; check != nil {
		check(ss, s.fresh(withStreams, cutoff, now, stallAfter, leaks, marks))
	}
	return ss
}

// picture is snapshot's picture, reused where it can be. s.mu is held.
func (s *Session) picture(withStreams bool, cutoff, now time.Time, stallAfter time.Duration, leaks int, marks *leakMarks) *SessionSnap {
	s.settleFills(now)
	if s.head == nil || s.headGen != s.gen {
		s.head, s.headGen = s.header(), s.gen
	}
	base := s.head
	if withStreams {
		if s.full == nil || s.fullGen != s.gen || s.fullMarks != marks {
			full := *s.head
			full.StreamsOmitted = false
			full.Streams = s.streamSnaps(marks)
			s.full, s.fullGen, s.fullMarks = &full, s.gen, marks
		}
		base = s.full
	}
	var c counted
	// Aged, Setup and Aside change with the streams, and so with gen, and
	// with the cutoff: that of the latest evaluation, once one ran, the
	// same from one snapshot to the next until the next evaluation. Walking
	// the suspects again for each snapshot was most of what an idle
	// session's cost, with ten of them.
	if cut := cutoff.UnixNano(); !cutoff.IsZero() && s.aged.gen == s.gen && s.aged.cut == cut {
		c.aged, c.setup, c.aside = s.aged.n[0], s.aged.n[1], s.aged.n[2]
		c.countStalls(s, now, stallAfter)
	} else {
		c.count(s, cutoff, now, stallAfter)
		if !cutoff.IsZero() {
			s.aged.gen, s.aged.cut, s.aged.n = s.gen, cut, [3]int{c.aged, c.setup, c.aside}
		}
	}
	c.leaks = leaks
	k := 0
	if withStreams {
		k = 1
	}
	if c == (counted{}) {
		s.drawn[k], s.drawnOn[k] = nil, nil // not to hold a picture, streams and all, no longer drawn
		return base
	}
	// The counts come from the clock as much as from the session: they
	// are counted every time, and the picture that holds them is reused
	// while they and the picture under them are the same. At scale, the
	// UI's idle sessions each hold a LEAK: a copy of each, 10 times a
	// second, was most of what the UI cost.
	if cs := s.drawn[k]; cs != nil && s.drawnOn[k] == base && c.of(cs) {
		return cs
	}
	ss := *base
	c.set(&ss)
	s.drawn[k], s.drawnOn[k] = &ss, base
	return &ss
}

// fresh is snapshot's picture built anew, nothing reused: what a reused
// picture must equal. s.mu is held.
func (s *Session) fresh(withStreams bool, cutoff, now time.Time, stallAfter time.Duration, leaks int, marks *leakMarks) *SessionSnap {
	ss := s.header()
	if withStreams {
		ss.StreamsOmitted = false
		ss.Streams = s.streamSnaps(marks)
	}
	var c counted
	c.count(s, cutoff, now, stallAfter)
	c.leaks = leaks
	c.set(ss)
	return ss
}

// counted are the counts of a SessionSnap that a snapshot's time and
// options (and the findings' leaks) choose, not the session alone.
type counted struct {
	aged, setup, aside, stalls, leaks int
}

// count counts s's Aged, Setup, Aside and Stalls: the live streams opened
// before cutoff unless cutoff is zero, and the stalled writers at now.
// s.mu is held.
func (c *counted) count(s *Session, cutoff, now time.Time, stallAfter time.Duration) {
	if !cutoff.IsZero() && s.open > 0 {
		// The live list is in SYN order: the suspects are its first
		// streams, so counting them costs the suspects, not every
		// stream the session tracks (its closed ones kept in detail too).
		// So is the list of those a capture loss set aside.
		t := cutoff.UnixNano()
		for st := s.w.lists[liveList].head; st != nil && st.watch.first < t; st = st.watch.links[liveList].next {
			c.aged++
			if st.leakKind() == heldKind {
				c.setup++
			}
		}
		for st := s.w.lists[asideList].head; st != nil && st.watch.first < t; st = st.watch.links[asideList].next {
			c.aside++
		}
		c.aged += c.aside
	}
	c.countStalls(s, now, stallAfter)
}

// countStalls counts s's Stalls, the live streams with a writer stalled
// at now. s.mu is held.
func (c *counted) countStalls(s *Session, now time.Time, stallAfter time.Duration) {
	if s.atWindow > 0 && s.open > 0 {
		for st := range s.streams.all() {
			if st.state.Live() && (st.flow[0].Stalled(now, stallAfter) || st.flow[1].Stalled(now, stallAfter)) {
				c.stalls++
			}
		}
	}
}

// of reports whether ss holds the counts c.
func (c *counted) of(ss *SessionSnap) bool {
	return *c == counted{ss.Aged, ss.Setup, ss.Aside, ss.Stalls, ss.Leaks}
}

// set puts the counts c in ss.
func (c *counted) set(ss *SessionSnap) {
	ss.Aged, ss.Setup, ss.Aside, ss.Stalls, ss.Leaks = c.aged, c.setup, c.aside, c.stalls, c.leaks
}

// header returns the session's picture without its streams. s.mu is held.
func (s *Session) header() *SessionSnap {
	ss := &SessionSnap{
		ID: s.id, Info: s.info, Version: s.version, Versions: s.ver,
		Start: s.start, Last: s.last, End: s.end, Ended: s.ended, Reason: s.reason, Err: s.err,
		Counts: s.counts, Open: s.open, Total: s.total(), StreamsEnded: s.endedStreams, Closed: s.summary,
		AnomalyCount: s.anomalyCount, AnomaliesBy: s.anomalyBy, Unparsed: s.unframed(), Unsent: s.unsent, Untracked: s.untracked,
		Tracked: s.streams.len(), StreamsOmitted: true, Latency: s.w.latency.latency(),
		Proto: s.proto, Prefix: s.prefix,
		Incomplete: s.incomplete, Lost: s.lost, Skipped: s.skipped, Unseen: s.unseen, Cut: s.cut,
		Reversed: s.oddBy == 1+uint8(ServerToClient),
	}
	if y := s.y; y != nil {
		ss.Pings, ss.GoAways = y.pings, y.goAways[:len(y.goAways):len(y.goAways)]
		ss.GoAwaysBy = y.goAwayBy
		for _, by := range y.goAwayBy {
			for _, n := range by {
				ss.GoAwayCount += n
			}
		}
	}
	for d, ended := range s.dirEnded {
		if ended {
			ss.DirEnded[d] = time.Unix(0, s.dirEndedAt[d])
		}
	}
	for _, f := range s.framing {
		if f != nil {
			ss.Framing = append(ss.Framing, *f)
		}
	}
	for _, l := range []*streamList{&s.w.lists[liveList], &s.w.lists[asideList]} {
		if at := time.Unix(0, l.headAt); l.head != nil && (ss.OldestOpen.IsZero() || at.Before(ss.OldestOpen)) {
			ss.OldestOpen = at
		}
	}
	if n := len(s.anomalies); n > 0 {
		ss.Anomalies = make([]AnomalyInfo, 0, n)
		start := 0
		if uint64(n) < s.anomalyCount {
			start = int(s.anomalyCount % uint64(n))
		}
		ss.Anomalies = append(ss.Anomalies, s.anomalies[start:]...)
		ss.Anomalies = append(ss.Anomalies, s.anomalies[:start]...)
	}
	return ss
}

// streamSnaps returns pictures of the tracked streams in id order, with
// marks' leak marks. s.mu is held.
func (s *Session) streamSnaps(marks *leakMarks) []StreamSnap {
	// Sort pointers, not the 170-byte pictures: it is most of the cost.
	order := s.order[:0]
	for st := range s.streams.all() {
		order = append(order, st)
	}
	slices.SortFunc(order, func(a, b *stream) int { return cmp.Compare(a.id, b.id) })
	snaps := make([]StreamSnap, 0, len(order))
	for _, st := range order {
		sn := StreamSnap{
			ID: st.id, Opener: st.opener, State: st.state,
			Frames: st.frames, Bytes: st.bytes, Wire: st.wire, First: st.first, Last: st.last,
			Incomplete: st.incomplete, Leak: marks.marks(st), Head: st.head,
			Setup: st.heldSetup() && (st.state.Live() || st.state == EndedWithSession),
		}
		if !st.replyAt.IsZero() {
			sn.FirstReply = st.replyAt.Sub(st.first)
		}
		if s.version == 2 || s.proto == Yamux {
			sn.Flow = st.flow
		}
		snaps = append(snaps, sn)
	}
	clear(order)
	s.order = order[:0]
	return snaps
}

// LeakStreams returns the streams that f, a LEAK open in the snapshot,
// counts, as their Leak marks say, and their first bytes: oldest first
// (by SYN), at most MaxStreamIDs and at most its count, as its records
// name them (Finding.StreamIDs, Heads), though from the snapshot's
// instant. Nil where f is no LEAK or the snapshot omits its session's
// streams.
func (s *Snapshot) LeakStreams(f *Finding) ([]uint32, [][2]FirstBytes) {
	if f.Code != CodeLeak {
		return nil, nil
	}
	ss := s.Session(f.Session)
	if ss == nil {
		return nil, nil
	}
	k := findingLeakKind(f)
	var counted []*StreamSnap
	for j := range ss.Streams {
		if st := &ss.Streams[j]; st.Leak && leakKind(st.State) == k {
			counted = append(counted, st)
		}
	}
	if len(counted) == 0 {
		return nil, nil
	}
	slices.SortStableFunc(counted, func(a, b *StreamSnap) int { return a.First.Compare(b.First) })
	counted = counted[:min(uint64(len(counted)), f.Evidence.Count, MaxStreamIDs)]
	ids := make([]uint32, len(counted))
	heads := make([][2]FirstBytes, len(counted))
	for j, st := range counted {
		ids[j], heads[j] = st.ID, st.Head
	}
	return ids, heads
}

package headless

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/printable"
	"github.com/muxtop/muxtop/wirekind"
)

// appendMissedPlain appends the line of a gap in the output: count
// records from seq on that the printer missed, which came before at.
// Where only leaves kinds out, it says that they were of any kind: the
// history keeps no kind of a record it evicted.
func appendMissedPlain(b []byte, seq, count uint64, at time.Time, only Kinds) []byte {
	b = at.AppendFormat(b, live.TimeLayout)
	b = append(b, " MISSED "...)
	b = strconv.AppendUint(b, count, 10)
	if count == 1 {
		b = append(b, " record"...)
	} else {
		b = append(b, " records"...)
	}
	b = append(b, " (seq "...)
	b = strconv.AppendUint(b, seq, 10)
	if count > 1 {
		b = append(b, " to "...)
		b = strconv.AppendUint(b, seq+count-1, 10)
	}
	b = append(b, ") not printed: the output fell behind the history, or the history never stored them (dropped)"...)
	if only != 0 {
		b = append(b, "; of any kind, perhaps none of those --only "...)
		b = append(b, only.String()...)
		b = append(b, " prints"...)
	}
	return b
}

// appendPlain appends r as one line of text.
func appendPlain(b []byte, r *live.Record) []byte {
	b = r.At.AppendFormat(b, live.TimeLayout)
	if r.Kind != live.NoticeRecord || r.Session != 0 { // a notice about no session has no "#0"
		b = append(b, " #"...)
		b = strconv.AppendUint(b, r.Session, 10)
	}
	b = append(b, ' ')
	if r.Proto == live.Yamux && (r.Kind == live.FrameRecord || r.Kind == live.FramingViolation) {
		return appendYamuxPlain(b, r)
	}
	switch r.Kind {
	case live.FrameRecord:
		h := r.Header
		b = append(b, r.Dir.String()...)
		b = append(b, " v"...)
		b = strconv.AppendUint(b, uint64(h.Version()), 10)
		b = append(b, ' ')
		b = append(b, h.Cmd().String()...)
		b = append(b, " sid "...)
		b = strconv.AppendUint(b, uint64(h.StreamID()), 10)
		b = append(b, " len "...)
		b = strconv.AppendUint(b, uint64(h.Length()), 10)
		if h.Cmd() == decoder.UPD {
			b = append(b, " consumed "...)
			b = strconv.AppendUint(b, uint64(r.Consumed), 10)
			b = append(b, " window "...)
			b = strconv.AppendUint(b, uint64(r.Window), 10)
		} else {
			b = appendPayloadPlain(b, r)
		}
		b = appendLostPlain(b, r)
		if r.Anomaly != 0 {
			b = appendAnomalyPlain(b, r, r.Anomaly.SmuxReaction())
		}
	case live.SessionOpened:
		b = append(b, "session opened "...)
		b = printable.AppendText(b, live.Ends(r.Client, r.Server))
	case live.SessionEnded:
		b = append(b, "session ended: "...)
		b = printable.AppendText(b, r.EndText())
	case live.SessionHalfClosed:
		b = append(b, r.Dir.String()...)
		b = append(b, " session "...)
		b = append(b, r.HalfClosedName()...)
		b = append(b, ": "...)
		b = printable.AppendText(b, r.Detail)
	case live.FramingViolation:
		b = append(b, r.Dir.String()...)
		b = appendViolationPlain(append(b, ' '), r, r.Code.String(), r.Code.SmuxReaction())
	case live.NoticeRecord:
		b = append(b, "notice: "...)
		b = printable.AppendText(b, r.Detail)
	case live.ResyncRecord:
		b = append(b, r.Dir.String()...)
		b = append(b, " RESYNC "...)
		b = printable.AppendText(b, r.Detail)
	case live.FindingOpened, live.FindingUpdated, live.FindingResolved:
		b = appendFindingPlain(b, r)
	}
	return b
}

// appendYamuxPlain appends the rest of a yamux frame's or violation's
// line: "→ DATA SYN sid 3 len 4  52 41 4e 44  RAND".
func appendYamuxPlain(b []byte, r *live.Record) []byte {
	b = append(b, r.Dir.String()...)
	b = append(b, ' ')
	if r.Kind == live.FramingViolation {
		return appendViolationPlain(b, r, r.YamuxCode.String(), r.YamuxCode.YamuxReaction())
	}
	b = appendLostPlain(appendPayloadPlain(r.YamuxHeader.AppendText(b), r), r)
	if r.Anomaly != 0 {
		b = appendAnomalyPlain(b, r, r.Anomaly.YamuxReaction())
	}
	return b
}

// appendViolationPlain appends the rest of a framing violation's line,
// its code and what the session's library does about it given: "VIOLATION
// BAD_VERSION at offset 24: bad version 1 (yamux speaks 0); reaction".
func appendViolationPlain(b []byte, r *live.Record, code, reaction string) []byte {
	b = append(b, "VIOLATION "...)
	b = append(b, code...)
	b = append(b, " at offset "...)
	b = strconv.AppendInt(b, r.Offset, 10)
	b = append(b, ": "...)
	b = printable.AppendText(b, r.Detail)
	b = append(b, "; "...)
	if t := r.NotMuxText(); t != "" { // another protocol from the first byte: no mux reacts
		reaction = t
	}
	return append(b, reaction...)
}

// appendPayloadPlain appends a frame's captured payload, if any, as hex
// ("+" when truncated) and as text: "  52 41 4e 44  RAND".
func appendPayloadPlain(b []byte, r *live.Record) []byte {
	if len(r.Payload) == 0 {
		return b
	}
	b = append(b, "  "...)
	b = printable.AppendHex(b, r.Payload)
	if r.Truncated {
		b = append(b, '+')
	}
	b = append(b, "  "...)
	return printable.AppendASCII(b, r.Payload)
}

// appendLostPlain appends, for a frame whose payload the capture lost
// bytes of, how many: "  (1448 payload bytes lost by the capture)". The
// payload shown is what came before them.
func appendLostPlain(b []byte, r *live.Record) []byte {
	if r.Lost == 0 {
		return b
	}
	b = append(b, "  ("...)
	b = strconv.AppendInt(b, r.Lost, 10)
	return append(b, " payload bytes lost by the capture)"...)
}

// appendAnomalyPlain appends a frame's anomaly and what the library
// (smux's or yamux's reaction, given) does about it: "  [NAME: reaction]".
func appendAnomalyPlain(b []byte, r *live.Record, reaction string) []byte {
	b = append(b, "  ["...)
	b = append(b, r.Anomaly.String()...)
	b = append(b, ": "...)
	b = append(b, reaction...)
	return append(b, ']')
}

// capturedWhen says when a capture that ended at end and lasted d ran, by
// the date and clock its records are stamped with, for the summary's
// first line: ", 2026-12-07 08:00:48.593 to 08:00:50.604 UTC", the date
// once where both ends fall on one day; "" where the end is not known.
// The frame lines carry the time of day alone, as tcpdump's do: a run
// that crosses midnight, or output read days later, needs the date.
func capturedWhen(end time.Time, d time.Duration) string {
	if end.IsZero() {
		return ""
	}
	start := end.Add(-d)
	const day, clock = "2006-01-02 ", "15:04:05.000"
	last := clock + " MST"
	if start.Format(day) != end.Format(day) {
		last = day + last
	}
	return ", " + start.Format(day+clock) + " to " + end.Format(last)
}

// WriteSummary writes s for a person to read.
func WriteSummary(w io.Writer, s Summary) {
	fmt.Fprintf(w, "muxtop summary: %s captured%s\n", s.Duration.Round(time.Millisecond), capturedWhen(s.At, s.Duration))
	// Live, but one end has closed its side (or a pipe whole): not as
	// live as the rest.
	var closed string
	if s.HalfClosed > 0 {
		closed = fmt.Sprintf("%d of them half-closed: one end closed its side of the connection; ", s.HalfClosed)
	}
	if s.PipeClosed > 0 {
		closed += fmt.Sprintf("%d of them closed at one end: a net.Pipe, which has no half-close, closed whole by one end and held by the other; ", s.PipeClosed)
	}
	if s.Cut > 0 {
		closed += fmt.Sprintf("%d of them cut where the capture's writer reached its --write-limit: they did not end, what they did after is not in the capture; ", s.Cut)
	}
	fmt.Fprintf(w, "  sessions  %d (%d live, %s%d ended)\n", s.Sessions, s.LiveSessions, closed, s.Sessions-uint64(s.LiveSessions))
	writeUpstream(w, s.Upstream)
	writeAccept(w, s.Upstream.Accept)
	fmt.Fprintf(w, "  streams   %d opened, %d closed, %d ended with their session, %d open\n",
		s.StreamsOpened, s.StreamsClosed, s.StreamsEnded, s.StreamsOpen)
	writeFrames(w, &s.Counts)
	fmt.Fprintf(w, "  bytes     → %d  ← %d", s.Bytes[0], s.Bytes[1])
	if s.Unparsed != [2]int64{} {
		fmt.Fprintf(w, "  (of which not framed — a skipped prefix, after a violation, cut by the connection's end, skipped to a frame boundary: → %d  ← %d)", s.Unparsed[0], s.Unparsed[1])
	}
	fmt.Fprintln(w)
	// A line of its own: appended to the bytes line, after its long
	// unframed note, a terminal wrapped it to read as a line apart.
	if s.Unsent != [2]int64{} {
		fmt.Fprintf(w, "  unsent    written but never sent, the write failed: → %d  ← %d (not in bytes)\n", s.Unsent[0], s.Unsent[1])
	}
	if s.Incomplete > 0 {
		noun, they, their := "sessions", "they were", "their"
		if s.Incomplete == 1 {
			noun, they, their = "session", "it was", "its"
		}
		cut := ""
		if s.Cut > 0 {
			cut = ", or was cut by its writer's --write-limit"
		}
		fmt.Fprintf(w, "  INCOMPLETE %d %s: the capture did not see every byte: it began while %s open, or lost bytes (lost → %d  ← %d, skipped to a frame boundary → %d  ← %d)%s; %s counts are what was seen\n",
			s.Incomplete, noun, they, s.Lost[0], s.Lost[1], s.Skipped[0], s.Skipped[1], cut, their)
	}
	if s.OneWay > 0 {
		noun := "sessions"
		if s.OneWay == 1 {
			noun = "session"
		}
		fmt.Fprintf(w, "  ONE-WAY   %d %s: the capture holds the packets of one direction only, not even the other side's ACKs (tcpdump's \"dst port\", an asymmetric span port): nothing about the unseen side is judged, and no finding that needs its frames is opened\n", s.OneWay, noun)
	}
	switch {
	case s.Missed > 0:
		fmt.Fprintf(w, "  missed    %d records not printed: the output fell behind the history", s.Missed)
		if s.Dropped > 0 {
			fmt.Fprintf(w, "; %d of them never stored in history, their frames still count", s.Dropped)
		}
		fmt.Fprintln(w)
	case s.Dropped > 0:
		fmt.Fprintf(w, "  dropped   %d records never stored in history; their frames still count\n", s.Dropped)
	default:
		fmt.Fprintf(w, "  dropped   0\n")
	}
	writeFindings(w, s)
	writeEnd(w, s)
}

// writeFrames writes the frames per command (smux) or type (yamux) and
// direction, as a table; where no frame was seen (an upstream that refused
// every connection, a connection of another protocol), one line that says
// so, not a table of zeros.
func writeFrames(w io.Writer, c *live.Counts) {
	yamuxSeen := c.TypeFrames != [2][yamux.NumTypes]uint64{}
	smuxSeen := c.Frames != [2][decoder.NumCmds]uint64{}
	if !yamuxSeen && !smuxSeen {
		fmt.Fprintln(w, "  frames    none seen")
		return
	}
	// yamux's types, when a yamux session was seen, widen the name column.
	nw := 4
	if yamuxSeen {
		nw = len("WINDOW_UPDATE")
	}
	fmt.Fprintf(w, "  frames    %-*s %10s %10s\n", nw, "", "→", "←")
	// smux's commands, unless only yamux frames were seen: yamux's SYN and
	// FIN are flags, and a row "SYN 0" would read as no stream opened.
	if smuxSeen || !yamuxSeen {
		for cmd := range decoder.NumCmds {
			fmt.Fprintf(w, "            %-*s %10d %10d\n", nw, decoder.Cmd(cmd), c.Frames[0][cmd], c.Frames[1][cmd])
		}
	}
	if yamuxSeen {
		for t := range yamux.Type(yamux.NumTypes) {
			fmt.Fprintf(w, "            %-*s %10d %10d\n", nw, t, c.TypeFrames[0][t], c.TypeFrames[1][t])
		}
	}
}

// writeUpstream writes, if some of a proxy's connections to its upstream
// failed, how many and why: the sessions they ended say only that each
// ended, not that the upstream was down.
func writeUpstream(w io.Writer, u live.Upstream) {
	if u.Addr == "" || u.Failed == 0 {
		return
	}
	b := printable.AppendText([]byte("  upstream  "), u.Addr)
	conns := "connections"
	if u.Dials == 1 {
		conns = "connection"
	}
	switch {
	case u.Refused == u.Failed:
		b = fmt.Appendf(b, " refused %d of %d %s", u.Failed, u.Dials, conns)
	case u.TimedOut == u.Failed:
		b = fmt.Appendf(b, " did not answer %d of %d %s within --dial-timeout", u.Failed, u.Dials, conns)
	default:
		b = fmt.Appendf(b, " failed %d of %d %s: %d refused, %d not answered within --dial-timeout, %d other",
			u.Failed, u.Dials, conns, u.Refused, u.TimedOut, u.Failed-u.Refused-u.TimedOut)
	}
	if u.Last != "" {
		b = append(b, " (the last: "...)
		b = printable.AppendText(b, u.Last)
		b = append(b, ')')
	}
	w.Write(append(b, '\n'))
}

// writeAccept writes, if a proxy's accepts of its clients failed, how
// often, for how long and why: its clients waited in the kernel's accept
// queue meanwhile, and the sessions show none of them.
func writeAccept(w io.Writer, a live.AcceptStall) {
	if a.Failed == 0 {
		return
	}
	times, stalls := "times", "stalls"
	if a.Failed == 1 {
		times = "time"
	}
	if a.Stalls == 1 {
		stalls = "stall"
	}
	b := fmt.Appendf(nil, "  accepting failed %d %s in %d %s, %s in all, clients waiting in the kernel's accept queue meanwhile (many give up; those accepted late live shorter here than at their client): ",
		a.Failed, times, a.Stalls, stalls, live.FormatAge(a.Stalled))
	b = printable.AppendText(b, a.Last)
	if a.Held > 0 {
		clients := "clients"
		if a.Held == 1 {
			clients = "client"
		}
		b = fmt.Appendf(b, "; %d %s accepted held while the dial of the upstream lacked a descriptor, dialed again until it went through", a.Held, clients)
	}
	if adv := a.Advice(); adv != "" {
		b = append(b, " ("...)
		b = append(b, adv...)
		b = append(b, ')')
	}
	w.Write(append(b, '\n'))
}

// writeEnd writes the lines about how the capture ended: the suspected
// leaks, the stalls, the violations by code and the watched system's status.
func writeEnd(w io.Writer, s Summary) {
	after := s.LeakAfter.String()
	// The suspected leaks are LEAK's, as the findings above and the UI
	// count them; the old streams other findings explain are not.
	// Nothing names a leak where nothing evaluated the findings: then the
	// age alone, said as such.
	// The setup streams held open are among the old streams, and LEAK
	// does not count them: the line says how many, so that a program
	// whose leak opens in its sessions' first second can tell. A capture's
	// loss sets streams aside (their FIN may be in what it lost): said as
	// such, not left to read as another finding's.
	var notes string
	if s.Setup > 0 && s.Evaluated {
		notes += fmt.Sprintf(", %d of them open since their session's setup, which LEAK does not count", s.Setup)
	}
	if s.Aside > 0 {
		notes += fmt.Sprintf(", %d of them set aside: the capture lost bytes they may have used", s.Aside)
	}
	var all string
	if s.Aged > s.Leaks {
		all = fmt.Sprintf(" (%d open longer than %s in all%s)", s.Aged, after, notes)
	}
	// The leaks and stalls are counted before the watched system stopped
	// (atEnd), the sessions and streams lines after it: where sessions
	// ended as it stopped (attach's, a tap's), the streams counted ended
	// with them, and the lines say so rather than "0 open" above "5
	// suspected".
	var since string
	if s.Aged > 0 || s.Stalls > 0 {
		switch {
		case s.LiveSessions == 0:
			since = "; they ended with their sessions since, as muxtop stopped"
		case s.StreamsOpen < s.Aged:
			since = "; some of them ended with their sessions since, as muxtop stopped"
		}
	}
	switch {
	case !s.Evaluated:
		fmt.Fprintf(w, "  leaks     not diagnosed: no findings evaluation ran; %d open longer than %s when the capture ended%s", s.Aged, after, notes)
		if s.Aged > 0 {
			fmt.Fprintf(w, "; the oldest for %s", live.FormatAge(s.OldestLeak))
		}
		fmt.Fprintln(w)
	case s.Leaks == 0:
		if s.Aged == 0 {
			since = ""
		}
		fmt.Fprintf(w, "  leaks     0 suspected: no LEAK finding open at the last evaluation%s%s\n", all, since)
	default:
		fmt.Fprintf(w, "  leaks     %d suspected: the open LEAK findings' count at the last evaluation, streams open and idle longer than %s that no other finding explains nor an smux v1 reader may still be reading; the oldest for %s%s%s\n",
			s.Leaks, after, live.FormatAge(s.OldestLeak), all, since)
	}
	// The held writers' own: "some of them" above is of the leaks' old
	// streams, which says nothing of where the writers were held.
	since = ""
	if s.Stalls > 0 && s.LiveSessions == 0 {
		since = "; their sessions ended since, as muxtop stopped"
	}
	// The count is of writers still held as the capture ended; the
	// stalls the run saw are WINDOW_STALL findings, which may have ended
	// with their sessions: a count of 0 beside "held … for 50 s" above
	// read as "flow control was fine".
	during := ""
	if s.StallsOpened > 0 {
		noun := "findings"
		if s.StallsOpened == 1 {
			noun = "finding"
		}
		during = fmt.Sprintf("; %d WINDOW_STALL %s opened during the capture", s.StallsOpened, noun)
	}
	switch s.Stalls {
	case 0:
		fmt.Fprintf(w, "  stalls    0: no writer held at a full flow-control window for %s when the capture ended%s\n", s.StallAfter, during)
	default:
		fmt.Fprintf(w, "  stalls    %d: writers held at a full flow-control window for %s or more when the capture ended%s%s\n", s.Stalls, s.StallAfter, since, during)
	}
	fmt.Fprintf(w, "  violations %d framing, %d anomalies", s.Violations, s.Anomalies)
	for i, c := range s.codes() {
		sep := ", "
		if i == 0 {
			sep = ": "
		}
		fmt.Fprintf(w, "%s%s %d", sep, c, s.ByCode[c])
	}
	if s.Unitemised > 0 {
		fmt.Fprintf(w, " (and %d more, of sessions no longer tracked or beyond the latest each keeps)", s.Unitemised)
	}
	if s.NotMux > 0 {
		fmt.Fprintf(w, "; not a mux %d (another protocol from a direction's first byte: TLS, HTTP, text…)", s.NotMux)
	}
	fmt.Fprintln(w)
	if len(s.Status) > 0 {
		b := []byte("  status    ")
		for i, f := range s.Status {
			if i > 0 {
				b = append(b, "  "...)
			}
			if f.Label != "" {
				b = printable.AppendText(b, f.Label)
				b = append(b, ' ')
			}
			switch v := f.Value.(type) {
			case time.Duration:
				b = append(b, v.Round(10*time.Microsecond).String()...)
			case time.Time:
				b = v.AppendFormat(b, live.DateTimeLayout)
			case string:
				b = printable.AppendText(b, v)
			default:
				b = fmt.Append(b, v)
			}
			b = printable.AppendText(b, f.Unit)
		}
		w.Write(append(b, '\n'))
	}
}

// codes returns the codes of ByCode, the most frequent first.
func (s *Summary) codes() []string {
	codes := make([]string, 0, len(s.ByCode))
	for c := range s.ByCode {
		codes = append(codes, c)
	}
	slices.SortFunc(codes, func(a, b string) int {
		if c := cmp.Compare(s.ByCode[b], s.ByCode[a]); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	return codes
}

// Summary is the closing account of a capture.
type Summary struct {
	// Seq and At place the summary in the output as a record: the seq
	// after the run's last record, and the run's end (the snapshot's
	// time, a capture's clock for read).
	Seq          uint64
	At           time.Time
	Duration     time.Duration
	Sessions     uint64
	LiveSessions int
	// HalfClosed counts the live sessions one end of whose connection
	// has closed its side (its FIN) while the other's is open: half
	// open, as the sessions pane's "server closed" says.
	HalfClosed int
	// PipeClosed counts the live sessions over a net.Pipe, which has no
	// half-close, that one end closed whole while the other holds them
	// (its state "server closed" or "client closed"): not in HalfClosed.
	PipeClosed int
	// Cut counts the live sessions that the capture's writer cut at its
	// size limit while they were open (live.SessionSnap.Cut): what they
	// did after is not in the capture. They are Incomplete too.
	Cut                                        int
	StreamsOpened, StreamsClosed, StreamsEnded uint64
	StreamsOpen                                int
	Counts                                     live.Counts
	// Bytes are the wire bytes per direction (live.Snapshot.WireBytes):
	// Counts' bytes plus Unparsed.
	Bytes [2]uint64
	// Dropped counts records never stored in history; Missed the records
	// a printer did not print, those dropped included.
	Dropped, Missed       uint64
	Violations, Anomalies uint64
	// Unparsed counts the bytes seen that no frame holds, per direction
	// (live.SessionSnap.Unparsed): a skipped prefix, those after a
	// violation or cut short by the end, those skipped to a frame boundary.
	Unparsed [2]int64
	// Unsent counts bytes the tapped ends wrote but failed writes never
	// sent; they are not in Counts.
	Unsent [2]int64
	// Incomplete counts the sessions a capture did not see whole; Lost and
	// Skipped add up the bytes it lost, and saw but could not frame (part
	// of Unparsed).
	Incomplete    int
	Lost, Skipped [2]int64
	// OneWay counts the sessions a capture held one direction of only.
	OneWay int
	// Leaks counts the suspected leaks when the capture ended, before the
	// watched system stopped (its streams then end with their sessions):
	// the streams the open LEAK findings counted at the last evaluation
	// (live.Snapshot.Leaks), which leave out those another finding
	// explains; OldestLeak is the age of the oldest of them. Evaluated
	// says an evaluation ran: if none did, nothing looked for leaks,
	// Leaks is 0 and OldestLeak the age of the oldest of Aged. Aged counts
	// the streams open or half-closed longer than LeakAfter then, at the
	// last evaluation's instant (live.Snapshot.Aged), whatever explains
	// them: in use, another finding, or a capture's loss. Setup counts,
	// of Aged, the sessions' setup streams held open with no FIN from
	// either side (live.Snapshot.Setup): LEAK does not count them; Aside
	// those a capture loss set aside (live.Snapshot.Aside).
	Leaks      int
	LeakAfter  time.Duration
	OldestLeak time.Duration
	Evaluated  bool
	Aged       int
	Setup      int
	Aside      int
	// Stalls counts the streams whose v2 writer had been held at a full
	// window for StallAfter when the capture ended.
	Stalls     int
	StallAfter time.Duration
	// StallsOpened counts the WINDOW_STALL findings opened during the
	// capture, those that ended with their sessions included.
	StallsOpened uint64
	// ByCode counts the framing violations and anomalies by code, as the
	// tracked sessions keep them; Unitemised counts the rest: those of
	// sessions no longer tracked, and anomalies beyond the latest ones
	// each session keeps (live.Config.Anomalies).
	ByCode     map[string]uint64
	Unitemised uint64
	// NotMux counts the violations that are not a mux's (live.Snapshot.NotMux):
	// not in Violations nor ByCode.
	NotMux uint64
	// FindingsOpened counts the findings opened during the capture;
	// FindingsOpen the ones still open at its end, by live.Severity.
	// Findings are those open at the end and the latest resolved ones, in
	// the order they opened.
	FindingsOpened uint64
	FindingsOpen   [live.NumSeverities]int
	Findings       []*live.Finding
	// AfterCount are the LEAK findings of Findings that opened after the
	// evaluation Leaks counts, as muxtop stopped: not in Leaks.
	AfterCount []uint64
	// GroupFindings makes the plain summary write the findings that
	// differ in their numbers alone as one line (groupFindings): the
	// UI's summary on quitting, for a person at a terminal. The plain
	// output does so past manyFindings findings and lists each below;
	// JSON lists each always.
	GroupFindings bool
	// Latency is the first-reply latency over every session of the run,
	// forgotten ones included (live.Snapshot.Latency: the count of
	// muxtop_first_reply_latency_seconds); SessionLatency each tracked
	// session's, in session order. Untracked counts the ended sessions
	// no longer tracked one by one (live.Forgotten.Sessions): Latency
	// counts their replies, SessionLatency lists none of them.
	Latency        live.Latency
	SessionLatency []SessionLatency
	Untracked      uint64
	// Status is the watched system's figures, if any.
	Status live.Status
	// Upstream is how a proxy's connections to its upstream went; its
	// Addr is "" when nothing was proxied.
	Upstream live.Upstream
}

// atEnd takes the suspected leaks and stalls from before, the snapshot
// taken, with leakAfter, before the watched system stopped.
func (s *Summary) atEnd(before *live.Snapshot, leakAfter time.Duration) {
	s.Leaks, s.LeakAfter, s.Aged, s.Setup, s.Aside, s.Evaluated = before.Leaks, leakAfter, before.Aged, before.Setup, before.Aside, !before.Evaluated.IsZero()
	s.Stalls, s.StallAfter = before.Stalls, before.StallAfter
	// A LEAK open at before's time is listed as it stood then, the
	// instant Leaks counts, with its resolution as the end gave it: an
	// evaluation between before and the stop updated it, and the list
	// said "29 half-closed" beside "leaks 28 suspected".
	// The open findings are worded as at before's time, when the leaks
	// line measures the oldest leak: the engine words an age again only
	// in steps, and "oldest 60 s" stood beside "the oldest for 1m8s".
	// Its streams and their first bytes are before's too, as its count:
	// its resolution's, after the stop, said "count 1" beside "sids
	// [3 5]". A LEAK that opened after before's evaluation, as muxtop
	// stopped, is not in that count: AfterCount says so.
	openThen := make(map[uint64]int, len(before.Findings)) // by ID: 10 000 LEAKs made a search per finding quadratic
	for j, f := range before.Findings {
		openThen[f.ID] = j
	}
	for i, f := range s.Findings {
		j, ok := openThen[f.ID]
		switch {
		case f.Code != live.CodeLeak:
		case ok:
			then := *before.Findings[j]
			then.Resolved, then.Why, then.Unwatched = f.Resolved, f.Why, f.Unwatched
			if ids, heads := before.LeakStreams(before.Findings[j]); len(ids) > 0 { // else Heads keeps the oldest's
				then.StreamIDs, then.Heads = ids, heads
			}
			f = &then
		case f.Opened.After(before.Evaluated), f.Resolved.IsZero() || f.Unwatched:
			// Not open at before's instant, whose count has only those
			// open then: opened after it, or still holding at the end,
			// which one not open then can only be for having opened
			// since (an evaluation at the same clock reading).
			s.AfterCount = append(s.AfterCount, f.ID)
		}
		s.Findings[i] = f.AsOf(before.At)
	}
	if s.Evaluated {
		// Each LEAK finding names its oldest stream: Since is its SYN.
		for _, f := range before.Findings {
			if f.Code == live.CodeLeak {
				s.OldestLeak = max(s.OldestLeak, before.At.Sub(f.Since))
			}
		}
		return
	}
	cutoff := before.At.Add(-leakAfter)
	for _, ss := range before.Sessions {
		for i := range ss.Streams {
			if st := &ss.Streams[i]; st.State.Live() && st.First.Before(cutoff) {
				s.OldestLeak = max(s.OldestLeak, before.At.Sub(st.First))
			}
		}
	}
}

// Summarize adds up snap for a summary.
func Summarize(snap *live.Snapshot, missed uint64) Summary {
	s := Summary{
		Seq:           snap.History.Next,
		At:            snap.At,
		Duration:      snap.At.Sub(snap.Started),
		Sessions:      uint64(len(snap.Sessions)) + snap.Forgotten.Sessions,
		LiveSessions:  snap.LiveSessions,
		StreamsOpened: snap.StreamsTotal,
		StreamsOpen:   snap.OpenStreams,
		Counts:        snap.Totals,
		Dropped:       snap.History.Dropped,
		Missed:        missed,
		Violations:    snap.Violations - snap.NotMux,
		NotMux:        snap.NotMux,
		Anomalies:     snap.Anomalies,
		Bytes:         [2]uint64{snap.WireBytes(live.ClientToServer), snap.WireBytes(live.ServerToClient)},
		Unparsed:      snap.Unparsed,
		Unsent:        snap.Unsent,
		Incomplete:    snap.Incomplete,
		OneWay:        snap.OneWay,
		Lost:          snap.Lost,
		Skipped:       snap.Skipped,
	}
	s.StreamsEnded = snap.Forgotten.EndedStreams
	for _, ss := range snap.Sessions {
		if !ss.Ended && !ss.Cut.IsZero() {
			s.Cut++
		}
		if ss.Ended || ss.DirEnded[0].IsZero() == ss.DirEnded[1].IsZero() {
			continue // not closed at one end alone
		}
		if ss.Info.Transport == "pipe" {
			s.PipeClosed++
		} else {
			s.HalfClosed++
		}
	}
	s.ByCode = make(map[string]uint64)
	s.Unitemised = snap.Forgotten.Violations - snap.Forgotten.NotMux + snap.Forgotten.Anomalies
	for _, ss := range snap.Sessions {
		for _, f := range ss.Framing {
			switch {
			case f.NotMux() != wirekind.Unknown: // counted in NotMux
				continue
			case f.Proto == live.Yamux:
				s.ByCode[f.YamuxCode.String()]++
				continue
			}
			s.ByCode[f.Code.String()]++
		}
		for _, a := range ss.Anomalies {
			s.ByCode[a.Anomaly.String()]++
		}
		s.Unitemised += ss.AnomalyCount - uint64(len(ss.Anomalies))
		// The session's counter: its Streams list only those kept in
		// detail (--closed-streams), or none where the picture omits them.
		s.StreamsEnded += ss.StreamsEnded
	}
	s.StreamsClosed = s.StreamsOpened - uint64(s.StreamsOpen) - s.StreamsEnded
	summarizeFindings(&s, snap)
	return s
}

package headless

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/printable"
)

// TimeLayout is the time format of plain lines.
const TimeLayout = "15:04:05.000000"

// appendPlain appends r as one line of text.
func appendPlain(b []byte, r *live.Record) []byte {
	b = r.At.AppendFormat(b, TimeLayout)
	b = append(b, " #"...)
	b = strconv.AppendUint(b, r.Session, 10)
	b = append(b, ' ')
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
		} else if len(r.Payload) > 0 {
			b = append(b, "  "...)
			b = printable.AppendHex(b, r.Payload)
			if r.Truncated {
				b = append(b, '+')
			}
			b = append(b, "  "...)
			b = printable.AppendASCII(b, r.Payload)
		}
		if r.Anomaly != 0 {
			b = append(b, "  ["...)
			b = append(b, r.Anomaly.String()...)
			b = append(b, ": "...)
			b = append(b, r.Anomaly.SmuxReaction()...)
			b = append(b, ']')
		}
	case live.SessionOpened:
		b = append(b, "session opened "...)
		b = printable.AppendText(b, r.Client)
		b = append(b, " → "...)
		b = printable.AppendText(b, r.Server)
	case live.SessionEnded:
		b = append(b, "session ended: "...)
		b = append(b, r.Reason.String()...)
		if r.Detail != "" {
			b = append(b, ": "...)
			b = printable.AppendText(b, r.Detail)
		}
	case live.FramingViolation:
		b = append(b, r.Dir.String()...)
		b = append(b, " VIOLATION "...)
		b = append(b, r.Code.String()...)
		b = append(b, " at offset "...)
		b = strconv.AppendInt(b, r.Offset, 10)
		b = append(b, ": "...)
		b = printable.AppendText(b, r.Detail)
		b = append(b, "; "...)
		b = append(b, r.Code.SmuxReaction()...)
	case live.NoticeRecord:
		b = append(b[:len(b)-len(" #0 ")], " notice: "...)
		b = printable.AppendText(b, r.Detail)
	case live.FindingOpened, live.FindingResolved:
		b = appendFindingPlain(b, r)
	}
	return b
}

// WriteSummary writes s for a person to read.
func WriteSummary(w io.Writer, s Summary) {
	fmt.Fprintf(w, "muxtop summary: %s captured\n", s.Duration.Round(time.Millisecond))
	fmt.Fprintf(w, "  sessions  %d (%d live, %d ended)\n", s.Sessions, s.LiveSessions, s.Sessions-uint64(s.LiveSessions))
	fmt.Fprintf(w, "  streams   %d opened, %d closed, %d ended with their session, %d open\n",
		s.StreamsOpened, s.StreamsClosed, s.StreamsEnded, s.StreamsOpen)
	fmt.Fprintf(w, "  frames    %-4s %10s %10s\n", "", "→", "←")
	for c := range decoder.NumCmds {
		fmt.Fprintf(w, "            %-4s %10d %10d\n", decoder.Cmd(c), s.Counts.Frames[0][c], s.Counts.Frames[1][c])
	}
	fmt.Fprintf(w, "  bytes     → %d  ← %d", s.Counts.BytesDir(live.ClientToServer), s.Counts.BytesDir(live.ServerToClient))
	if s.Unparsed != [2]int64{} {
		fmt.Fprintf(w, "  (not framed, after a violation or cut by the connection's end: → %d  ← %d)", s.Unparsed[0], s.Unparsed[1])
	}
	if s.Unsent != [2]int64{} {
		fmt.Fprintf(w, "  (written but never sent, the write failed: → %d  ← %d)", s.Unsent[0], s.Unsent[1])
	}
	fmt.Fprintln(w)
	switch {
	case s.Missed > 0:
		fmt.Fprintf(w, "  dropped   %d records not printed: the output fell behind the history (%d never stored)\n", s.Missed, s.Dropped)
	case s.Dropped > 0:
		fmt.Fprintf(w, "  dropped   %d records never stored in history; their frames still count\n", s.Dropped)
	default:
		fmt.Fprintf(w, "  dropped   0\n")
	}
	fmt.Fprintf(w, "  violations %d framing, %d anomalies\n", s.Violations, s.Anomalies)
	writeFindings(w, s)
	if s.Status != "" {
		fmt.Fprintf(w, "  %s\n", printable.AppendText(nil, s.Status))
	}
}

// Summary is the closing account of a capture.
type Summary struct {
	Duration                                   time.Duration
	Sessions                                   uint64
	LiveSessions                               int
	StreamsOpened, StreamsClosed, StreamsEnded uint64
	StreamsOpen                                int
	Counts                                     live.Counts
	// Dropped counts records never stored in history; Missed the records
	// a printer did not print, those dropped included.
	Dropped, Missed       uint64
	Violations, Anomalies uint64
	// Unparsed counts the bytes left unframed after violations, per direction.
	Unparsed [2]int64
	// Unsent counts bytes the tapped ends wrote but failed writes never
	// sent; they are not in Counts.
	Unsent [2]int64
	// FindingsOpened counts the findings opened during the capture;
	// FindingsOpen the ones still open at its end, by live.Severity.
	// Findings are those open at the end and the latest resolved ones, in
	// the order they opened.
	FindingsOpened uint64
	FindingsOpen   [live.NumSeverities]int
	Findings       []*live.Finding
	// Latency is the first-reply latency over every tracked session;
	// SessionLatency each session's, in session order.
	Latency        live.Latency
	SessionLatency []SessionLatency
	// Status is a last line about the watched system, if any.
	Status string
}

// Summarize adds up snap for a summary.
func Summarize(snap *live.Snapshot, missed uint64) Summary {
	s := Summary{
		Duration:      snap.At.Sub(snap.Started),
		Sessions:      uint64(len(snap.Sessions)) + snap.Forgotten.Sessions,
		LiveSessions:  snap.LiveSessions,
		StreamsOpened: snap.StreamsTotal,
		StreamsOpen:   snap.OpenStreams,
		Counts:        snap.Totals,
		Dropped:       snap.History.Dropped,
		Missed:        missed,
		Violations:    snap.Violations,
		Anomalies:     snap.Anomalies,
	}
	s.StreamsEnded = snap.Forgotten.EndedStreams
	for _, ss := range snap.Sessions {
		s.StreamsEnded += ss.Closed.Ended
		s.Unparsed[0] += ss.Unparsed[0]
		s.Unparsed[1] += ss.Unparsed[1]
		s.Unsent[0] += ss.Unsent[0]
		s.Unsent[1] += ss.Unsent[1]
		for _, st := range ss.Streams {
			if st.State == live.EndedWithSession {
				s.StreamsEnded++
			}
		}
	}
	s.StreamsClosed = s.StreamsOpened - uint64(s.StreamsOpen) - s.StreamsEnded
	summarizeFindings(&s, snap)
	return s
}

package headless

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/printable"
	"github.com/muxtop/muxtop/wirekind"
)

// appendFindingJSON appends the fields of a finding record, after its
// session: the README's schema, keys absent where they do not apply.
func appendFindingJSON(b []byte, r *live.Record) []byte {
	f := r.Finding
	if f == nil {
		return b
	}
	b = append(b, `,"finding":`...)
	b = strconv.AppendUint(b, f.ID, 10)
	b = append(b, `,"code":"`...)
	b = append(b, f.Code.String()...)
	b = append(b, `","severity":"`...)
	b = append(b, f.Severity.String()...)
	b = append(b, '"')
	if r.Kind == live.FindingUpdated && r.Was != 0 {
		// The update tells a change of severity: what it was.
		b = append(b, `,"severity_was":"`...)
		b = append(b, r.Was.String()...)
		b = append(b, '"')
	}
	if f.Stream != 0 {
		b = append(b, `,"sid":`...)
		b = strconv.AppendUint(b, uint64(f.Stream), 10)
	}
	if f.HasDir {
		b = append(b, `,"dir":"`...)
		b = append(b, f.Dir.Code()...)
		b = append(b, '"')
	}
	b = append(b, `,"since":"`...)
	b = f.Since.AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	ev := &f.Evidence
	if ev.Count == 0 && r.Kind == live.FindingUpdated {
		b = append(b, `,"count":0`...) // what the update tells: absent would read as unknown
	} else {
		b = appendUintField(b, `,"count":`, ev.Count)
	}
	b = appendUintField(b, `,"streams":`, ev.Streams)
	b = appendUintField(b, `,"bytes":`, ev.Bytes)
	b = appendUintField(b, `,"window":`, ev.Window) // WINDOW_STALL: what bytes, in flight, is held against
	b = appendSeconds(b, `,"age":`, ev.Age)
	b = appendSeconds(b, `,"idle":`, ev.Idle) // LEAK: its oldest stream's time since its latest frame
	b = appendSeconds(b, `,"limit":`, ev.Limit)
	// What KEEPALIVE's and WINDOW_STALL's texts say beside those: the
	// cadence the silence was measured against, and whose it is; a yamux
	// ping's wait; a slow reader's latest hold.
	b = appendSeconds(b, `,"every":`, ev.Every)
	if ev.Borrowed && ev.Every > 0 {
		b = append(b, `,"borrowed":true`...)
		if ev.FirstPing {
			b = append(b, `,"first_ping":true`...) // every is the time to the lender's only ping
		}
	}
	b = appendSeconds(b, `,"ping":`, ev.Ping)
	if ev.GaveUp {
		b = append(b, `,"gave_up":true`...) // the pinger closed its side: its ping waits no more
	}
	if ev.Unheard {
		b = append(b, `,"unheard":true`...) // the silent side sent nothing the capture saw
	}
	if ev.Silent {
		b = append(b, `,"silent":true`...) // UNANSWERED, NO_REPLY: the side that owes the answer sent nothing since, and no keepalive was seen
	}
	b = appendSeconds(b, `,"slow":`, ev.Slow)
	if len(f.StreamIDs) > 0 {
		// A LEAK's streams, the oldest first, and how many more it counts.
		b = append(b, `,"sids":[`...)
		for i, id := range f.StreamIDs {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendUint(b, uint64(id), 10)
		}
		b = append(b, ']')
		if n := uint64(len(f.StreamIDs)); ev.Count > n {
			b = appendUintField(b, `,"sids_more":`, ev.Count-n)
		}
		if f.Code == live.CodeLeak {
			// What an HTTP client's idle pool would hold: every stream
			// named is such a connection (the advice's pool words).
			switch ev.Pool {
			case live.PoolHTTP1:
				b = append(b, `,"pool":"http1"`...)
			case live.PoolH2C:
				b = append(b, `,"pool":"h2c"`...)
			}
		}
		b = appendFirstJSON(b, f.First())
	}
	if f.Unwatched {
		// Resolved as muxtop stopped watching, not as it stopped holding.
		b = append(b, `,"unwatched":true`...)
	}
	switch f.Code {
	case live.CodeVersionMismatch:
		b = append(b, `,"versions":{"c2s":`...)
		b = strconv.AppendUint(b, uint64(ev.Versions[0]), 10)
		b = append(b, `,"s2c":`...)
		b = strconv.AppendUint(b, uint64(ev.Versions[1]), 10)
		b = append(b, '}')
	case live.CodeProtocol:
		b = append(b, `,"offset":`...)
		b = strconv.AppendInt(b, ev.Offset, 10)
		b = append(b, `,"guess":"`...)
		b = append(b, ev.Guess.Code()...)
		b = append(b, `","violation":"`...)
		if ev.Fatal != 0 {
			// No framing violation: the anomaly the receiver's yamux
			// ended the session on.
			b = append(b, ev.Fatal.String()...)
		} else if f.Proto == live.Yamux {
			if c := ev.YamuxViolation; c != 0 && c < yamux.NumCodes {
				b = append(b, c.String()...)
			} else {
				b = strconv.AppendUint(append(b, "UNKNOWN_CODE_"...), uint64(c), 10)
			}
		} else {
			b = appendCode(b, ev.Violation)
		}
		b = append(b, '"')
		if ev.Racy {
			// A repeated FIN that ended the session only as it raced
			// the receiver's Close (live.RacyFINEnd).
			b = append(b, `,"racy":true`...)
		}
		if ev.Unskipped != wirekind.Unknown {
			b = append(b, `,"skip":`...)
			b = strconv.AppendInt(b, ev.Skip, 10)
			b = append(append(append(b, `,"unskipped":"`...), ev.Unskipped.Code()...), '"')
		}
	case live.CodeGoAway:
		b = append(b, `,"goaway_code":`...)
		b = strconv.AppendUint(b, uint64(ev.GoAwayCode), 10)
	case live.CodeSessionLeak:
		b = appendUintField(b, `,"piled":`, ev.Piled)
		b = appendUintField(b, `,"piled_sessions":`, ev.PiledSessions)
		b = appendField(b, `,"client_host":`, ev.ClientHost)
		b = appendField(b, `,"server":`, ev.ServerAddr)
	case live.CodeSessionBlocked:
		if c := ev.Sign.Code(); c != "" {
			b = append(append(append(b, `,"sign":"`...), c...), '"')
		}
	case live.CodeNoReply:
		// The slowest earlier answer on the stream, to the µs: a
		// loopback answer takes well under a millisecond.
		b = append(b, `,"slowest":`...)
		b = strconv.AppendFloat(b, float64(ev.Slowest.Microseconds())/1e6, 'f', -1, 64)
		if ev.PushQuiet > 0 {
			// The request followed the acceptor's push: how soon after
			// it, to the µs as slowest, and the quiet before the push.
			b = append(b, `,"after_push":`...)
			b = strconv.AppendFloat(b, float64(ev.AfterPush.Microseconds())/1e6, 'f', -1, 64)
			b = appendSeconds(b, `,"push_quiet":`, ev.PushQuiet)
		}
	}
	if r.Kind == live.FindingResolved {
		b = append(b, `,"opened":"`...)
		b = f.Opened.AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
		b = appendField(b, `,"detail":`, r.Detail)
	}
	b = appendField(b, `,"text":`, f.Text)
	return appendField(b, `,"advice":`, f.Advice)
}

func appendUintField(b []byte, key string, v uint64) []byte {
	if v == 0 {
		return b
	}
	return strconv.AppendUint(append(b, key...), v, 10)
}

// appendSeconds appends d in seconds, to the millisecond, unless it is
// below a millisecond: a number as encoding/json writes it.
func appendSeconds(b []byte, key string, d time.Duration) []byte {
	ms := d.Milliseconds()
	if ms <= 0 {
		return b
	}
	return strconv.AppendFloat(append(b, key...), float64(ms)/1000, 'f', -1, 64)
}

// appendFindingPlain appends a finding record's line after its time:
//
//	#3 FINDING 7 LEAK warning: the server never closes … 1 half-closed … — call Close() …
//	#3 UPDATED 7 LEAK warning: the server never closes … 40 half-closed …
//	#3 UPDATED 9 PROTOCOL now warning (was critical): the client sent an HTTP request, …
//	#3 RESOLVED 7 LEAK after 12.3 s: the session ended (EOF)
//	#3 STILL-OPEN 7 LEAK after 27.9 s: muxtop stopped watching (shutdown): still holding then
//
// An update says the finding as it is now, without the advice its opening
// gave, and a change of its severity. A finding of no session (CHURN) has
// no #0.
func appendFindingPlain(b []byte, r *live.Record) []byte {
	if r.Session == 0 {
		b = b[:len(b)-len("#0 ")]
	}
	f := r.Finding
	if f == nil {
		return append(b, r.Kind.String()...)
	}
	switch {
	case r.Kind == live.FindingOpened:
		b = append(b, "FINDING "...)
	case r.Kind == live.FindingUpdated:
		b = append(b, "UPDATED "...)
	case f.Unwatched:
		// Resolved only because muxtop stopped watching: it still held.
		// A grep for RESOLVED must not read it as fixed.
		b = append(b, "STILL-OPEN "...)
	default:
		b = append(b, "RESOLVED "...)
	}
	b = strconv.AppendUint(b, f.ID, 10)
	b = append(b, ' ')
	b = append(b, f.Code.String()...)
	if r.Kind == live.FindingResolved {
		b = append(b, " after "...)
		b = appendDuration(b, r.At.Sub(f.Opened))
		b = append(b, ": "...)
		b = printable.AppendText(b, r.Detail)
		return b
	}
	b = append(b, ' ')
	was := r.Kind == live.FindingUpdated && r.Was != 0
	if was {
		b = append(b, "now "...)
	}
	b = append(b, f.Severity.String()...)
	if was {
		b = append(b, " (was "...)
		b = append(b, r.Was.String()...)
		b = append(b, ')')
	}
	b = append(b, ": "...)
	b = printable.AppendText(b, f.Text)
	b = appendFirstPlain(b, f.Stream, f.First())
	if r.Kind == live.FindingUpdated {
		return b
	}
	b = append(b, " — "...)
	return printable.AppendText(b, f.Advice)
}

// appendDuration appends d rounded to the millisecond, or to the second
// from a minute on, without allocating.
func appendDuration(b []byte, d time.Duration) []byte {
	if d >= time.Minute {
		b = strconv.AppendInt(b, int64(d/time.Second), 10)
		return append(b, " s"...)
	}
	b = strconv.AppendFloat(b, float64(d.Milliseconds())/1000, 'f', -1, 64)
	return append(b, " s"...)
}

// SessionLatency is one session's first-reply latency.
type SessionLatency struct {
	Session uint64
	live.Latency
}

// summarizeFindings fills in s's findings and latency from snap.
func summarizeFindings(s *Summary, snap *live.Snapshot) {
	s.FindingsOpened = snap.FindingsOpened
	for _, n := range snap.FindingsOpenedBy[live.CodeWindowStall] {
		s.StallsOpened += n
	}
	// Open at the end: still holding when the watch ended, those that
	// muxtop's stop resolved (Unwatched) included.
	for sev := range s.FindingsOpen {
		s.FindingsOpen[sev] = snap.FindingCounts[sev] + snap.UnwatchedCounts[sev]
	}
	s.Findings = make([]*live.Finding, 0, len(snap.Findings)+len(snap.Resolved)+len(snap.Unwatched))
	s.Findings = append(append(s.Findings, snap.Findings...), snap.Resolved...)
	for _, f := range snap.Unwatched { // those the latest resolved no longer hold
		if !slices.ContainsFunc(snap.Resolved, func(r *live.Finding) bool { return r.ID == f.ID }) {
			s.Findings = append(s.Findings, f)
		}
	}
	slices.SortFunc(s.Findings, func(a, b *live.Finding) int { return cmp.Compare(a.ID, b.ID) })
	s.Latency, s.Untracked = snap.Latency, snap.Forgotten.Sessions
	for _, ss := range snap.Sessions {
		if ss.Latency.N > 0 {
			s.SessionLatency = append(s.SessionLatency, SessionLatency{ss.ID, ss.Latency})
		}
	}
}

// writeFindings writes the summary's findings and latency for a person.
func writeFindings(w io.Writer, s Summary) {
	open := s.FindingsOpen[live.Warning] + s.FindingsOpen[live.Critical]
	fmt.Fprintf(w, "  findings  %d opened, %d open at the end (%d critical, %d warning)\n",
		s.FindingsOpened, open, s.FindingsOpen[live.Critical], s.FindingsOpen[live.Warning])
	if s.GroupFindings || len(s.Findings) > manyFindings {
		lines := groupFindings(s.Findings, s.AfterCount)
		for _, l := range lines {
			fmt.Fprintf(w, "%s\n", printable.AppendText(nil, l))
		}
		if !s.GroupFindings && len(lines) < len(s.Findings) {
			fmt.Fprintf(w, "    (%d findings listed, those alike on one line; --output json lists each)\n", len(s.Findings))
		}
	} else {
		writeEachFinding(w, s.Findings, s.AfterCount)
	}
	if n := uint64(len(s.Findings)); n < s.FindingsOpened {
		fmt.Fprintf(w, "    (%d earlier resolved findings not listed)\n", s.FindingsOpened-n)
	}
	writeLatency(w, s)
}

// manyFindings is how many findings the plain output lists one by one,
// in the summary and as STILL-OPEN lines at the stop. Past it the lines
// would scroll the summary's totals off a terminal (9 000 sessions with a
// LEAK each made 9 000 STILL-OPEN lines, then a summary of 9 016): the
// summary writes findings alike as one line each (groupFindings), as the
// UI's does, and the STILL-OPEN lines past it are one line
// (stillOpenRest). JSON keeps a record for each.
const manyFindings = 20

// stillOpenRest tallies the STILL-OPEN records past the first
// manyFindings, which plain output writes as one line (appendLine) before
// the summary: the stop resolves every finding still holding at once, a
// line each, and thousands of them scrolled the summary's totals away.
type stillOpenRest struct {
	shown         int // STILL-OPEN lines written one by one
	n             int // tallied, not written
	at            time.Time
	ids, sessions []uint64
	codes         [live.NumFindingCodes]int
}

// write reports whether the STILL-OPEN record r is to be written on its
// own line; if not, it tallies r.
func (t *stillOpenRest) write(r *live.Record) bool {
	if t.shown < manyFindings {
		t.shown++
		return true
	}
	f := r.Finding
	t.n++
	t.at = r.At
	t.ids = append(t.ids, f.ID)
	if r.Session != 0 {
		t.sessions = append(t.sessions, r.Session)
	}
	if int(f.Code) < len(t.codes) {
		t.codes[f.Code]++
	}
	return false
}

// appendLine appends the line of the tallied STILL-OPEN records, at the
// latest one's time:
//
//	02:00:01.000000 STILL-OPEN 8980 more, not listed one by one: LEAK ×8980 (findings #21–#9000, sessions 21–9000): muxtop stopped watching their sessions: still holding then; the summary counts them, --output json has a record for each
func (t *stillOpenRest) appendLine(b []byte) []byte {
	b = t.at.AppendFormat(b, live.TimeLayout)
	b = fmt.Appendf(b, " STILL-OPEN %d more, not listed one by one:", t.n)
	sep := " "
	for c, n := range t.codes {
		if n > 0 {
			b = fmt.Appendf(b, "%s%s ×%d", sep, live.FindingCode(c), n)
			sep = ", "
		}
	}
	b = append(b, " (findings "...)
	b = append(b, idList(t.ids, "#")...)
	if len(t.sessions) > 0 {
		b = append(b, ", sessions "...)
		b = append(b, idList(t.sessions, "")...)
	}
	b = append(b, "): muxtop stopped watching their sessions: still holding then; the summary counts them, --output json has a record for each\n"...)
	return b
}

// writeEachFinding writes a line for each finding.
func writeEachFinding(w io.Writer, findings []*live.Finding, afterCount []uint64) {
	for _, f := range findings {
		fmt.Fprintf(w, "%s\n", appendFindingLine(nil, f, afterCount))
	}
}

// appendFindingLine appends a finding's own line in the summary: its id,
// code, severity, session, state and text, and a LEAK's oldest stream's
// first bytes, as its FINDING line has them: which request leaks.
func appendFindingLine(b []byte, f *live.Finding, afterCount []uint64) []byte {
	where := ""
	if f.Session != 0 {
		where = fmt.Sprintf(", session %d", f.Session)
	}
	line := fmt.Sprintf("    #%d %s %s%s, %s", f.ID, f.Code, f.Severity, where, findingLine(f, afterCount))
	return appendFirstPlain(printable.AppendText(b, line), f.Stream, f.First())
}

// writeLatency writes the summary's first-reply latency, if any.
func writeLatency(w io.Writer, s Summary) {
	if s.Latency.N == 0 {
		return
	}
	fmt.Fprintf(w, "  latency   first reply p50 %v  p99 %v  over %d streams", roundLatency(s.Latency.P50), roundLatency(s.Latency.P99), s.Latency.N)
	slow := slices.Clone(s.SessionLatency)
	slices.SortFunc(slow, func(a, b SessionLatency) int { return cmp.Compare(b.P99, a.P99) })
	for i, l := range slow {
		switch {
		case i > 0:
		case s.Untracked > 0: // the list cannot rank the sessions it forgot
			fmt.Fprintf(w, "; slowest p99 of the %d sessions still tracked:", s.Sessions-s.Untracked)
		default:
			fmt.Fprintf(w, "; slowest p99:")
		}
		if i == 5 {
			break
		}
		fmt.Fprintf(w, " #%d %v", l.Session, roundLatency(l.P99))
	}
	fmt.Fprintln(w)
}

func roundLatency(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// jsonFinding is a finding in the JSON summary.
type jsonFinding struct {
	Finding  uint64 `json:"finding"`
	Code     string `json:"code"`
	Severity string `json:"severity"`
	Session  uint64 `json:"session,omitempty"`
	Sid      uint32 `json:"sid,omitempty"`
	Dir      string `json:"dir,omitempty"`
	Since    string `json:"since"`
	Opened   string `json:"opened"`
	Resolved string `json:"resolved,omitempty"`
	Detail   string `json:"detail,omitempty"`
	// Unwatched: resolved as muxtop stopped watching, still holding then.
	Unwatched bool `json:"unwatched,omitempty"`
	// AfterCount: a LEAK that opened as muxtop stopped, after the
	// evaluation "leaks" counts (Summary.AfterCount).
	AfterCount bool    `json:"after_count,omitempty"`
	Count      uint64  `json:"count,omitempty"`
	Age        float64 `json:"age,omitempty"`
	// Idle: LEAK's oldest stream's time since its latest frame.
	Idle float64 `json:"idle,omitempty"`
	// Silent: UNANSWERED or NO_REPLY of a side that sent nothing since the
	// request, no keepalive seen (Evidence.Silent), as its records say.
	Silent bool `json:"silent,omitempty"`
	// Sids and SidsMore: LEAK's streams as its count has them (open at
	// the end: before the stop, Summary.atEnd), and how many more it
	// counts; First its oldest stream's first bytes.
	Sids     []uint32   `json:"sids,omitempty"`
	SidsMore uint64     `json:"sids_more,omitempty"`
	First    *jsonFirst `json:"first,omitempty"`
	// FirstText is First's bytes as printable ASCII, as the records'.
	FirstText *jsonFirstText `json:"first_text,omitempty"`
	Text      string         `json:"text"`
	Advice    string         `json:"advice"`
}

// jsonFirst is a LEAK's "first" in the JSON summary, as its records
// have it (appendFirstJSON), joined included.
type jsonFirst struct {
	C2S    string `json:"c2s"`
	S2C    string `json:"s2c"`
	C2SCut bool   `json:"c2s_cut,omitempty"`
	S2CCut bool   `json:"s2c_cut,omitempty"`
	Joined bool   `json:"joined,omitempty"`
}

// jsonFirstText is a LEAK's "first_text" in the JSON summary, as its
// records have it (appendFirstJSON): each byte as printable.Byte renders
// it.
type jsonFirstText struct {
	C2S string `json:"c2s"`
	S2C string `json:"s2c"`
}

// asciiText is p as printable.Byte renders each byte: printable ASCII,
// every other byte a '.'.
func asciiText(p []byte) string { return string(printable.AppendASCII(nil, p)) }

// jsonLatency is a first-reply latency in the JSON summary, in milliseconds.
type jsonLatency struct {
	Session uint64  `json:"session,omitempty"`
	Streams uint64  `json:"streams"`
	P50     float64 `json:"p50_ms"`
	P99     float64 `json:"p99_ms"`
}

func latencyJSON(session uint64, l live.Latency) jsonLatency {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return jsonLatency{Session: session, Streams: l.N, P50: ms(l.P50), P99: ms(l.P99)}
}

// findingsJSON fills in j's findings and latency from s.
func findingsJSON(j *jsonSummary, s Summary) {
	j.FindingsOpened = s.FindingsOpened
	j.FindingsOpen = map[string]int{"warning": s.FindingsOpen[live.Warning], "critical": s.FindingsOpen[live.Critical]}
	j.Findings = make([]jsonFinding, 0, len(s.Findings))
	for _, f := range s.Findings {
		jf := jsonFinding{Finding: f.ID, Code: f.Code.String(), Severity: f.Severity.String(), Session: f.Session,
			Sid: f.Stream, Since: f.Since.Format(time.RFC3339Nano), Opened: f.Opened.Format(time.RFC3339Nano),
			Detail: f.Why, Count: f.Evidence.Count, Age: float64(f.Evidence.Age.Milliseconds()) / 1000,
			Idle: float64(f.Evidence.Idle.Milliseconds()) / 1000, Silent: f.Evidence.Silent, Unwatched: f.Unwatched, AfterCount: slices.Contains(s.AfterCount, f.ID), Text: f.Text, Advice: f.Advice}
		if f.HasDir {
			jf.Dir = f.Dir.Code()
		}
		if len(f.StreamIDs) > 0 {
			jf.Sids = f.StreamIDs
			if n := uint64(len(f.StreamIDs)); f.Evidence.Count > n {
				jf.SidsMore = f.Evidence.Count - n
			}
		}
		if h := f.First(); h != nil {
			jf.First = &jsonFirst{C2S: string(printable.AppendHex(nil, h[live.ClientToServer].Bytes())),
				S2C:    string(printable.AppendHex(nil, h[live.ServerToClient].Bytes())),
				C2SCut: h[live.ClientToServer].Cut, S2CCut: h[live.ServerToClient].Cut, Joined: h[0].Joined || h[1].Joined}
			jf.FirstText = &jsonFirstText{C2S: asciiText(h[live.ClientToServer].Bytes()), S2C: asciiText(h[live.ServerToClient].Bytes())}
		}
		if !f.Resolved.IsZero() {
			jf.Resolved = f.Resolved.Format(time.RFC3339Nano)
		}
		j.Findings = append(j.Findings, jf)
	}
	if s.Latency.N > 0 {
		l := latencyJSON(0, s.Latency)
		j.Latency = &jsonLatencies{jsonLatency: l, Untracked: s.Untracked, Sessions: []jsonLatency{}}
		for _, sl := range s.SessionLatency {
			j.Latency.Sessions = append(j.Latency.Sessions, latencyJSON(sl.Session, sl.Latency))
		}
	}
}

// jsonLatencies is the summary's latency: over every session, and per
// tracked session; Untracked counts the sessions whose replies the first
// counts and Sessions does not list.
type jsonLatencies struct {
	jsonLatency
	Untracked uint64        `json:"untracked,omitempty"`
	Sessions  []jsonLatency `json:"sessions"`
}

// appendFirstJSON appends a LEAK's "first": the first payload bytes of
// its oldest stream (sid) each way, as hex as "payload" is, and c2s_cut
// or s2c_cut where a frame's payload was not all seen before they were
// full, and joined where the capture joined the stream mid-stream (they
// are the first it saw, not the stream's first); then its "first_text":
// the same bytes as printable ASCII (appendASCIIJSON). Nothing if h is
// nil.
func appendFirstJSON(b []byte, h *[2]live.FirstBytes) []byte {
	if h == nil {
		return b
	}
	b = append(b, `,"first":{"c2s":"`...)
	b = printable.AppendHex(b, h[live.ClientToServer].Bytes())
	b = append(b, `","s2c":"`...)
	b = printable.AppendHex(b, h[live.ServerToClient].Bytes())
	b = append(b, '"')
	if h[live.ClientToServer].Cut {
		b = append(b, `,"c2s_cut":true`...)
	}
	if h[live.ServerToClient].Cut {
		b = append(b, `,"s2c_cut":true`...)
	}
	if h[0].Joined || h[1].Joined {
		b = append(b, `,"joined":true`...)
	}
	// And as printable text, as the UI and plain show them beside: what
	// the request said, readable by jq without a hex decoder.
	b = appendASCIIJSON(append(b, `},"first_text":{"c2s":`...), h[live.ClientToServer].Bytes())
	b = appendASCIIJSON(append(b, `,"s2c":`...), h[live.ServerToClient].Bytes())
	return append(b, '}')
}

// appendFirstPlain appends, for a LEAK's oldest stream sid, its first
// payload bytes each way as printable ASCII, each quoted:
// ` · stream 7: "GET /bad HTTP/1.1.." → "ERR bad request"`, and
// ` · stream 7 (joined mid-stream): …"ad HTTP/1.1.." → …"quest"` where the
// capture joined it after its first bytes, and ` · stream 7: "GET /" →
// (none sent)` where one direction sent nothing. Nothing if h is nil or no
// byte came either way.
func appendFirstPlain(b []byte, sid uint32, h *[2]live.FirstBytes) []byte {
	if h == nil || h[0].N == 0 && h[1].N == 0 {
		return b
	}
	return live.AppendFirstLine(append(b, " · "...), sid, h)
}

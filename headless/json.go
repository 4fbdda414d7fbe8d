package headless

import (
	"cmp"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/printable"
	"github.com/muxtop/muxtop/wirekind"
)

// appendJSON appends r as one JSON object, the README's schema: keys in a
// fixed order, absent where they do not apply. It writes what
// encoding/json wrote for the same record, byte for byte, with neither
// reflection nor allocation: a record costs what its bytes cost.
func appendJSON(b []byte, r *live.Record) []byte {
	b = append(b, `{"type":`...)
	b = appendString(b, r.Kind.String())
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, r.Seq, 10)
	b = append(b, `,"time":"`...)
	b = r.At.AppendFormat(b, time.RFC3339Nano) // digits and -:.TZ+: nothing to escape
	b = append(b, '"')
	if r.Session != 0 {
		b = append(b, `,"session":`...)
		b = strconv.AppendUint(b, r.Session, 10)
		switch r.Kind {
		case live.FrameRecord, live.SessionOpened, live.SessionEnded, live.SessionHalfClosed, live.FramingViolation:
			b = append(b, `,"proto":"`...)
			b = appendProto(b, r.Proto)
			b = append(b, '"')
		}
	}
	if r.Proto == live.Yamux && (r.Kind == live.FrameRecord || r.Kind == live.FramingViolation) {
		return append(appendYamuxJSON(b, r), '}')
	}
	switch r.Kind {
	case live.FrameRecord:
		h := r.Header
		b = append(b, `,"dir":"`...)
		b = append(b, r.Dir.Code()...)
		b = append(b, `","ver":`...)
		b = strconv.AppendUint(b, uint64(h.Version()), 10)
		b = append(b, `,"cmd":"`...)
		b = appendCmd(b, h.Cmd())
		b = append(b, `","sid":`...)
		b = strconv.AppendUint(b, uint64(h.StreamID()), 10)
		b = append(b, `,"len":`...)
		b = strconv.AppendUint(b, uint64(h.Length()), 10)
		b = append(b, `,"offset":`...)
		b = strconv.AppendInt(b, r.Offset, 10)
		upd := h.Cmd() == decoder.UPD
		if !upd {
			b = append(b, `,"payload":"`...)
			b = printable.AppendHex(b, r.Payload) // hex digits and spaces
			b = append(b, '"')
		}
		if r.Truncated {
			b = append(b, `,"truncated":true`...)
		}
		b = appendLost(b, r)
		if upd {
			b = append(b, `,"consumed":`...)
			b = strconv.AppendUint(b, uint64(r.Consumed), 10)
			b = append(b, `,"window":`...)
			b = strconv.AppendUint(b, uint64(r.Window), 10)
		}
		if r.Anomaly != 0 {
			b = append(b, `,"anomaly":"`...)
			b = appendAnomaly(b, r.Anomaly)
			b = append(b, '"')
			b = appendField(b, `,"smux":`, r.Anomaly.SmuxReaction())
		}
	case live.SessionOpened:
		b = appendField(b, `,"client":`, r.Client)
		b = appendField(b, `,"server":`, r.Server)
		b = appendField(b, `,"label":`, r.Label)
		b = appendField(b, `,"transport":`, cmp.Or(r.Transport, "tcp")) // SessionInfo's "" is TCP
	case live.SessionEnded:
		b = appendField(b, `,"detail":`, r.Detail)
		b = appendField(b, `,"reason":`, r.Reason.Code())
	case live.SessionHalfClosed:
		b = append(b, `,"dir":"`...)
		b = append(b, r.Dir.Code()...)
		b = append(b, '"')
		b = appendField(b, `,"detail":`, r.Detail)
	case live.FramingViolation:
		b = append(b, `,"dir":"`...)
		b = append(b, r.Dir.Code()...)
		b = append(b, `","offset":`...)
		b = strconv.AppendInt(b, r.Offset, 10)
		b = append(b, `,"code":"`...)
		b = appendCode(b, r.Code)
		b = append(b, '"')
		if r.Want != 0 {
			b = append(b, `,"want":`...)
			b = strconv.AppendUint(b, uint64(r.Want), 10)
		}
		b = appendField(b, `,"detail":`, r.Detail)
		if k := r.NotMux(); k != wirekind.Unknown {
			b = appendField(b, `,"not_mux":`, k.Code())
		} else {
			b = appendField(b, `,"smux":`, r.Code.SmuxReaction())
		}
	case live.NoticeRecord:
		b = appendField(b, `,"text":`, r.Detail)
	case live.ResyncRecord:
		b = append(b, `,"dir":"`...)
		b = append(b, r.Dir.Code()...)
		b = append(b, `","offset":`...)
		b = strconv.AppendInt(b, r.Offset, 10)
		b = appendField(b, `,"detail":`, r.Detail)
	case live.FindingOpened, live.FindingUpdated, live.FindingResolved:
		b = appendFindingJSON(b, r)
	}
	return append(b, '}')
}

// appendMissedJSON appends the record of a gap in the output: count
// records from seq on that the printer missed, which came before at.
// Where only leaves kinds out, "kinds":"any" says that they were of any
// kind, perhaps none of those only holds: the history keeps no kind of a
// record it evicted.
func appendMissedJSON(b []byte, seq, count uint64, at time.Time, only Kinds) []byte {
	b = append(b, `{"type":"missed","seq":`...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, `,"time":"`...)
	b = at.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","count":`...)
	b = strconv.AppendUint(b, count, 10)
	if only != 0 {
		b = append(b, `,"kinds":"any"`...)
	}
	return append(b, '}')
}

// appendProto appends p as Protocol.String spells it, without its Sprintf.
func appendProto(b []byte, p live.Protocol) []byte {
	if p <= live.ProtocolUnknown {
		return append(b, p.String()...)
	}
	return strconv.AppendUint(append(b, "protocol-"...), uint64(p), 10)
}

// appendYamuxJSON appends the fields of a yamux frame or violation record:
// cmd is the frame type, flags its flags joined by | (absent when none),
// len the header's length field (payload length, window delta, ping
// value or GoAway code, by type), payload only for DATA.
func appendYamuxJSON(b []byte, r *live.Record) []byte {
	h := r.YamuxHeader
	b = append(b, `,"dir":"`...)
	b = append(b, r.Dir.Code()...)
	b = append(b, '"')
	if r.Kind == live.FramingViolation {
		b = append(b, `,"offset":`...)
		b = strconv.AppendInt(b, r.Offset, 10)
		b = append(b, `,"code":"`...)
		if c := r.YamuxCode; c != 0 && c < yamux.NumCodes {
			b = append(b, c.String()...)
		} else {
			b = strconv.AppendUint(append(b, "UNKNOWN_CODE_"...), uint64(c), 10)
		}
		b = append(b, '"')
		b = appendField(b, `,"detail":`, r.Detail)
		if k := r.NotMux(); k != wirekind.Unknown {
			return appendField(b, `,"not_mux":`, k.Code())
		}
		return appendField(b, `,"yamux":`, r.YamuxCode.YamuxReaction())
	}
	b = append(b, `,"ver":`...)
	b = strconv.AppendUint(b, uint64(h.Version()), 10)
	b = append(b, `,"cmd":"`...)
	if t := h.Type(); t < yamux.NumTypes {
		b = append(b, t.String()...)
	} else {
		b = strconv.AppendUint(append(b, "UNKNOWN_TYPE_"...), uint64(t), 10)
	}
	b = append(b, '"')
	if f := h.Flags(); f != 0 {
		b = append(b, `,"flags":"`...)
		b = f.AppendText(b) // names, | and hex digits: nothing to escape
		b = append(b, '"')
	}
	b = append(b, `,"sid":`...)
	b = strconv.AppendUint(b, uint64(h.StreamID()), 10)
	b = append(b, `,"len":`...)
	b = strconv.AppendUint(b, uint64(h.Length()), 10)
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, r.Offset, 10)
	if h.Type() == yamux.Data {
		b = append(b, `,"payload":"`...)
		b = printable.AppendHex(b, r.Payload)
		b = append(b, '"')
	}
	if r.Truncated {
		b = append(b, `,"truncated":true`...)
	}
	b = appendLost(b, r)
	if r.Anomaly != 0 {
		b = append(b, `,"anomaly":"`...)
		b = appendAnomaly(b, r.Anomaly)
		b = append(b, '"')
		b = appendField(b, `,"yamux":`, r.Anomaly.YamuxReaction())
	}
	return b
}

// appendLost appends a frame's "lost", the payload bytes the capture
// lost, unless it lost none.
func appendLost(b []byte, r *live.Record) []byte {
	if r.Lost == 0 {
		return b
	}
	b = append(b, `,"lost":`...)
	return strconv.AppendInt(b, r.Lost, 10)
}

// appendField appends key and s, the key's colon included, unless s is
// empty: encoding/json's omitempty.
func appendField(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return appendString(append(b, key...), s)
}

// appendCmd appends c as Cmd.String spells it, without its Sprintf for an
// unknown command.
func appendCmd(b []byte, c decoder.Cmd) []byte {
	if c < decoder.NumCmds {
		return append(b, c.String()...)
	}
	return strconv.AppendUint(append(b, "UNKNOWN_CMD_"...), uint64(c), 10)
}

// appendCode appends c as Code.String spells it, without its Sprintf.
func appendCode(b []byte, c decoder.Code) []byte {
	if c != 0 && c < decoder.NumCodes {
		return append(b, c.String()...)
	}
	return strconv.AppendUint(append(b, "UNKNOWN_CODE_"...), uint64(c), 10)
}

// appendAnomaly appends a as Anomaly.String spells it, without its Sprintf.
func appendAnomaly(b []byte, a live.Anomaly) []byte {
	if a != 0 && a < live.NumAnomalies {
		return append(b, a.String()...)
	}
	return strconv.AppendUint(append(b, "UNKNOWN_ANOMALY_"...), uint64(a), 10)
}

const hexDigits = "0123456789abcdef"

// jsonSafe marks the ASCII bytes a JSON string holds as they are. Like
// encoding/json it escapes <, > and & too (as \u003c, \u003e, \u0026), so
// that output pasted into HTML cannot open a tag.
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		t[c] = true
	}
	for _, c := range `"\<>&` {
		t[c] = false
	}
	return t
}()

// appendString appends s as a quoted JSON string, exactly as encoding/json
// writes it: \" \\ \b \f \n \r \t, other control bytes and <, >, & as
// \u00XX, every byte of invalid UTF-8 as \ufffd, and U+2028 and U+2029
// (which end a line in JavaScript) as \u2028 and \u2029.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			b = appendEscape(append(b, s[start:i]...), c)
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&15])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendEscape appends ASCII byte c, one a JSON string does not hold as
// it is (jsonSafe), escaped as encoding/json escapes it.
func appendEscape(b []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(b, '\\', c)
	case '\b':
		return append(b, '\\', 'b')
	case '\f':
		return append(b, '\\', 'f')
	case '\n':
		return append(b, '\\', 'n')
	case '\r':
		return append(b, '\\', 'r')
	case '\t':
		return append(b, '\\', 't')
	}
	return append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
}

// appendASCIIJSON appends p, bytes from the wire, as a quoted JSON string
// of printable ASCII: each byte as printable.Byte renders it for the UI
// and plain output (FirstBytes.AppendText, AppendQuoted), every byte
// outside 0x20..0x7e a '.', then escaped as appendString escapes it. No
// byte of p reaches the output as it came unless it is printable.
func appendASCIIJSON(b, p []byte) []byte {
	b = append(b, '"')
	for _, c := range p {
		if c = printable.Byte(c); jsonSafe[c] {
			b = append(b, c)
		} else {
			b = appendEscape(b, c)
		}
	}
	return append(b, '"')
}

// jsonSummary is the last line of JSON output. It is written once, so it
// keeps encoding/json.
type jsonSummary struct {
	Type          string                       `json:"type"`
	Seq           uint64                       `json:"seq"`
	Time          string                       `json:"time"`
	Seconds       float64                      `json:"seconds"`
	Sessions      uint64                       `json:"sessions"`
	LiveSessions  int                          `json:"live_sessions"`
	HalfClosed    int                          `json:"half_closed_sessions,omitempty"`
	PipeClosed    int                          `json:"pipe_closed_sessions,omitempty"`
	CutSessions   int                          `json:"cut_sessions,omitempty"`
	StreamsOpened uint64                       `json:"streams_opened"`
	StreamsClosed uint64                       `json:"streams_closed"`
	StreamsEnded  uint64                       `json:"streams_ended"`
	StreamsOpen   int                          `json:"streams_open"`
	Frames        map[string]map[string]uint64 `json:"frames"`
	Bytes         map[string]uint64            `json:"bytes"`
	Dropped       uint64                       `json:"dropped"`
	Missed        uint64                       `json:"missed"`
	Violations    uint64                       `json:"violations"`
	Anomalies     uint64                       `json:"anomalies"`
	Unparsed      map[string]int64             `json:"unparsed"`
	Unsent        map[string]int64             `json:"unsent,omitempty"`
	Incomplete    int                          `json:"incomplete,omitempty"`
	OneWay        int                          `json:"one_way,omitempty"`
	Lost          map[string]int64             `json:"lost,omitempty"`
	Skipped       map[string]int64             `json:"skipped,omitempty"`
	Leaks         jsonLeaks                    `json:"leaks"`
	Stalls        jsonStalls                   `json:"stalls"`
	ByCode        map[string]uint64            `json:"by_code"`
	Unitemised    uint64                       `json:"unitemised,omitempty"`
	NotMux        uint64                       `json:"not_mux,omitempty"`
	// Findings: how many opened, how many are open by severity, and each
	// (open, and the latest resolved); first-reply latency.
	FindingsOpened uint64          `json:"findings_opened"`
	FindingsOpen   map[string]int  `json:"findings_open"`
	Findings       []jsonFinding   `json:"findings"`
	Latency        *jsonLatencies  `json:"latency,omitempty"`
	Status         json.RawMessage `json:"status,omitempty"`
	Upstream       *jsonUpstream   `json:"upstream,omitempty"`
}

// jsonUpstream is Summary's Upstream: the connections to the upstream
// tried (one per client), those that failed, of them those refused and
// not answered in time, and the last failure's cause.
type jsonUpstream struct {
	Address     string `json:"address"`
	Connections uint64 `json:"connections"`
	Failed      uint64 `json:"failed"`
	Refused     uint64 `json:"refused,omitempty"`
	TimedOut    uint64 `json:"timed_out,omitempty"`
	LastError   string `json:"last_error,omitempty"`
	// Accept is how accepting the clients failed, if it did.
	Accept *jsonAccept `json:"accept,omitempty"`
}

// jsonAccept is Summary's Upstream.Accept, when accepts failed: how many
// (held: of them, the clients held as their upstream's dial lacked a
// descriptor), in how many stalls, how long in all, the last failure's cause, the
// open-file limit where that was the cause, and what to do.
type jsonAccept struct {
	Failed         uint64  `json:"failed"`
	Held           uint64  `json:"held,omitempty"`
	Stalls         uint64  `json:"stalls"`
	StalledSeconds float64 `json:"stalled_seconds"`
	LastError      string  `json:"last_error"`
	FDLimit        uint64  `json:"fd_limit,omitempty"`
	Advice         string  `json:"advice,omitempty"`
}

// jsonLeaks is Summary's leaks: count is the open LEAK findings' count at
// the last evaluation (0 when evaluated is false: nothing looked for
// leaks), oldest_seconds the age of the oldest of them (of open_longer's
// when not evaluated), open_longer the streams open longer than
// after_seconds whatever explains them, setup those of them held open
// since their session's setup, which LEAK does not count, set_aside
// those of them a capture loss set aside (each absent when none).
type jsonLeaks struct {
	Count         int     `json:"count"`
	AfterSeconds  float64 `json:"after_seconds"`
	OldestSeconds float64 `json:"oldest_seconds"`
	Evaluated     bool    `json:"evaluated"`
	OpenLonger    int     `json:"open_longer"`
	Setup         int     `json:"setup,omitempty"`
	SetAside      int     `json:"set_aside,omitempty"`
}

// jsonStalls is Summary's stalls: count, the writers still held at a
// full window as the capture ended; opened, the WINDOW_STALL findings
// opened during it.
type jsonStalls struct {
	Count        int     `json:"count"`
	AfterSeconds float64 `json:"after_seconds"`
	Opened       uint64  `json:"opened"`
}

// appendStatus appends st as a JSON object of its keys, in its order:
// counts as numbers, durations in seconds, text as strings.
func appendStatus(b []byte, st live.Status) []byte {
	b = append(b, '{')
	for i, f := range st {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, f.Key)
		b = append(b, ':')
		switch v := f.Value.(type) {
		case time.Duration:
			b = strconv.AppendFloat(b, v.Seconds(), 'g', -1, 64)
		case time.Time:
			b = append(v.AppendFormat(append(b, '"'), time.RFC3339Nano), '"')
		case string:
			b = appendString(b, v)
		case int:
			b = strconv.AppendInt(b, int64(v), 10)
		case int64:
			b = strconv.AppendInt(b, v, 10)
		case uint64:
			b = strconv.AppendUint(b, v, 10)
		case float64:
			b = strconv.AppendFloat(b, v, 'g', -1, 64)
		default:
			b = append(b, "null"...)
		}
	}
	return append(b, '}')
}

func appendJSONSummary(b []byte, s Summary) []byte {
	j := jsonSummary{
		Type: "summary", Seq: s.Seq, Time: s.At.Format(time.RFC3339Nano), Seconds: s.Duration.Seconds(), Sessions: s.Sessions, LiveSessions: s.LiveSessions, HalfClosed: s.HalfClosed, PipeClosed: s.PipeClosed, CutSessions: s.Cut,
		StreamsOpened: s.StreamsOpened, StreamsClosed: s.StreamsClosed, StreamsEnded: s.StreamsEnded,
		StreamsOpen: s.StreamsOpen, Dropped: s.Dropped, Missed: s.Missed,
		Violations: s.Violations, Anomalies: s.Anomalies,
		Leaks: jsonLeaks{Count: s.Leaks, AfterSeconds: s.LeakAfter.Seconds(), OldestSeconds: s.OldestLeak.Seconds(),
			Evaluated: s.Evaluated, OpenLonger: s.Aged, Setup: s.Setup, SetAside: s.Aside},
		Stalls: jsonStalls{Count: s.Stalls, AfterSeconds: s.StallAfter.Seconds(), Opened: s.StallsOpened},
		ByCode: s.ByCode, Unitemised: s.Unitemised, NotMux: s.NotMux,
		Unparsed: perDir(s.Unparsed),
		Frames:   map[string]map[string]uint64{}, Bytes: map[string]uint64{},
	}
	// The keys of the protocols seen, as the plain summary lists them:
	// smux's commands unless only yamux frames were seen, whose zeros
	// would read as no stream opened; yamux's types once one was.
	yamuxSeen := s.Counts.TypeFrames != [2][yamux.NumTypes]uint64{}
	smuxSeen := !yamuxSeen || s.Counts.Frames != [2][decoder.NumCmds]uint64{}
	for d := range 2 {
		dir := live.Dir(d)
		m := map[string]uint64{}
		if smuxSeen {
			for c := range decoder.NumCmds {
				m[decoder.Cmd(c).String()] = s.Counts.Frames[d][c]
			}
		}
		if yamuxSeen {
			for t := range yamux.Type(yamux.NumTypes) {
				m[t.String()] = s.Counts.TypeFrames[d][t]
			}
		}
		j.Frames[dir.Code()] = m
		j.Bytes[dir.Code()] = s.Bytes[d]
	}
	if s.Unsent != [2]int64{} {
		j.Unsent = perDir(s.Unsent)
	}
	if s.Incomplete > 0 {
		j.Incomplete, j.Lost, j.Skipped = s.Incomplete, perDir(s.Lost), perDir(s.Skipped)
	}
	j.OneWay = s.OneWay
	if j.ByCode == nil {
		j.ByCode = map[string]uint64{}
	}
	if len(s.Status) > 0 {
		j.Status = appendStatus(nil, s.Status)
	}
	if u := s.Upstream; u.Addr != "" {
		j.Upstream = &jsonUpstream{Address: u.Addr, Connections: u.Dials, Failed: u.Failed,
			Refused: u.Refused, TimedOut: u.TimedOut, LastError: u.Last}
		if a := u.Accept; a.Failed > 0 {
			j.Upstream.Accept = &jsonAccept{Failed: a.Failed, Held: a.Held, Stalls: a.Stalls, StalledSeconds: a.Stalled.Seconds(),
				LastError: a.Last, FDLimit: a.FDLimit, Advice: a.Advice()}
		}
	}
	findingsJSON(&j, s)
	out, _ := json.Marshal(j)
	return append(b, out...)
}

// perDir keys a pair of per-direction values by the directions' codes.
func perDir[T any](v [2]T) map[string]T {
	return map[string]T{live.ClientToServer.Code(): v[0], live.ServerToClient.Code(): v[1]}
}

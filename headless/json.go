package headless

import (
	"encoding/json"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/printable"
)

// jsonRecord is one line of JSON output; the README documents its schema.
type jsonRecord struct {
	Type      string  `json:"type"`
	Seq       uint64  `json:"seq"`
	Time      string  `json:"time"`
	Session   uint64  `json:"session,omitempty"`
	Dir       string  `json:"dir,omitempty"`
	Ver       *uint8  `json:"ver,omitempty"`
	Cmd       string  `json:"cmd,omitempty"`
	Sid       *uint32 `json:"sid,omitempty"`
	Len       *uint16 `json:"len,omitempty"`
	Offset    *int64  `json:"offset,omitempty"`
	Payload   *string `json:"payload,omitempty"`
	Truncated bool    `json:"truncated,omitempty"`
	Consumed  *uint32 `json:"consumed,omitempty"`
	Window    *uint32 `json:"window,omitempty"`
	Anomaly   string  `json:"anomaly,omitempty"`
	Code      string  `json:"code,omitempty"`
	Detail    string  `json:"detail,omitempty"`
	Smux      string  `json:"smux,omitempty"`
	Client    string  `json:"client,omitempty"`
	Server    string  `json:"server,omitempty"`
	Label     string  `json:"label,omitempty"`
	Reason    string  `json:"reason,omitempty"`
	Text      string  `json:"text,omitempty"`
}

// DirName returns the JSON name of a direction: "c2s" or "s2c".
func DirName(d live.Dir) string {
	if d == live.ClientToServer {
		return "c2s"
	}
	return "s2c"
}

func appendJSON(b []byte, r *live.Record) []byte {
	j := jsonRecord{Type: r.Kind.String(), Seq: r.Seq, Time: r.At.Format(time.RFC3339Nano), Session: r.Session}
	switch r.Kind {
	case live.FrameRecord:
		h := r.Header
		ver, sid, n, off := h.Version(), h.StreamID(), h.Length(), r.Offset
		hex := string(printable.AppendHex(nil, r.Payload))
		j.Dir, j.Ver, j.Cmd, j.Sid, j.Len, j.Offset = DirName(r.Dir), &ver, h.Cmd().String(), &sid, &n, &off
		j.Payload, j.Truncated = &hex, r.Truncated
		if h.Cmd() == decoder.UPD {
			j.Consumed, j.Window = &r.Consumed, &r.Window
			j.Payload = nil
		}
		if r.Anomaly != 0 {
			j.Anomaly, j.Smux = r.Anomaly.String(), r.Anomaly.SmuxReaction()
		}
	case live.SessionOpened:
		j.Client, j.Server, j.Label = r.Client, r.Server, r.Label
	case live.SessionEnded:
		j.Reason, j.Detail = r.Reason.Code(), r.Detail
	case live.FramingViolation:
		off := r.Offset
		j.Dir, j.Offset, j.Code, j.Detail, j.Smux = DirName(r.Dir), &off, r.Code.String(), r.Detail, decoder.SmuxReaction
	case live.NoticeRecord:
		j.Text = r.Detail
	}
	out, _ := json.Marshal(j)
	return append(b, out...)
}

// jsonSummary is the last line of JSON output.
type jsonSummary struct {
	Type          string                       `json:"type"`
	Seconds       float64                      `json:"seconds"`
	Sessions      uint64                       `json:"sessions"`
	LiveSessions  int                          `json:"live_sessions"`
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
	Status        string                       `json:"status,omitempty"`
}

func appendJSONSummary(b []byte, s Summary) []byte {
	j := jsonSummary{
		Type: "summary", Seconds: s.Duration.Seconds(), Sessions: s.Sessions, LiveSessions: s.LiveSessions,
		StreamsOpened: s.StreamsOpened, StreamsClosed: s.StreamsClosed, StreamsEnded: s.StreamsEnded,
		StreamsOpen: s.StreamsOpen, Dropped: s.Dropped, Missed: s.Missed,
		Violations: s.Violations, Anomalies: s.Anomalies, Status: s.Status,
		Unparsed: map[string]int64{"c2s": s.Unparsed[0], "s2c": s.Unparsed[1]},
		Frames:   map[string]map[string]uint64{}, Bytes: map[string]uint64{},
	}
	for d := range 2 {
		dir := live.Dir(d)
		m := map[string]uint64{}
		for c := range decoder.NumCmds {
			m[decoder.Cmd(c).String()] = s.Counts.Frames[d][c]
		}
		j.Frames[DirName(dir)] = m
		j.Bytes[DirName(dir)] = s.Counts.BytesDir(dir)
	}
	out, _ := json.Marshal(j)
	return append(b, out...)
}

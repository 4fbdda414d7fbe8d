package headless

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/internal/racetest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/printable"
)

// marshalRecord is the json.Marshal-based appendJSON that appendJSON
// replaced, kept as the oracle appendJSON must match byte for byte. Its one
// change is the violation's want, placed after code.
type marshalRecord struct {
	Type      string  `json:"type"`
	Seq       uint64  `json:"seq"`
	Time      string  `json:"time"`
	Session   uint64  `json:"session,omitempty"`
	Proto     string  `json:"proto,omitempty"`
	Dir       string  `json:"dir,omitempty"`
	Ver       *uint8  `json:"ver,omitempty"`
	Cmd       string  `json:"cmd,omitempty"`
	Flags     string  `json:"flags,omitempty"`
	Sid       *uint32 `json:"sid,omitempty"`
	Len       *uint32 `json:"len,omitempty"`
	Offset    *int64  `json:"offset,omitempty"`
	Payload   *string `json:"payload,omitempty"`
	Truncated bool    `json:"truncated,omitempty"`
	Lost      int64   `json:"lost,omitempty"`
	Consumed  *uint32 `json:"consumed,omitempty"`
	Window    *uint32 `json:"window,omitempty"`
	Anomaly   string  `json:"anomaly,omitempty"`
	Code      string  `json:"code,omitempty"`
	Want      uint8   `json:"want,omitempty"`
	Detail    string  `json:"detail,omitempty"`
	Smux      string  `json:"smux,omitempty"`
	Yamux     string  `json:"yamux,omitempty"`
	Client    string  `json:"client,omitempty"`
	Server    string  `json:"server,omitempty"`
	Label     string  `json:"label,omitempty"`
	Transport string  `json:"transport,omitempty"`
	Reason    string  `json:"reason,omitempty"`
	Text      string  `json:"text,omitempty"`
}

func appendJSONMarshal(b []byte, r *live.Record) []byte {
	if (r.Kind == live.FindingOpened || r.Kind == live.FindingUpdated || r.Kind == live.FindingResolved) && r.Finding != nil {
		return appendFindingMarshal(b, r)
	}
	j := marshalRecord{Type: r.Kind.String(), Seq: r.Seq, Time: r.At.Format(time.RFC3339Nano), Session: r.Session}
	if r.Session != 0 && (r.Kind <= live.FramingViolation || r.Kind == live.SessionHalfClosed) {
		j.Proto = r.Proto.String()
	}
	switch {
	case r.Proto == live.Yamux && r.Kind == live.FrameRecord:
		h := r.YamuxHeader
		ver, sid, n, off := h.Version(), h.StreamID(), h.Length(), r.Offset
		j.Dir, j.Ver, j.Cmd, j.Flags, j.Sid, j.Len, j.Offset = r.Dir.Code(), &ver, h.Type().String(), h.Flags().String(), &sid, &n, &off
		j.Truncated, j.Lost = r.Truncated, r.Lost
		if h.Type() == yamux.Data {
			hex := string(printable.AppendHex(nil, r.Payload))
			j.Payload = &hex
		}
		if r.Anomaly != 0 {
			j.Anomaly, j.Yamux = r.Anomaly.String(), r.Anomaly.YamuxReaction()
		}
		return marshalAppend(b, j)
	case r.Proto == live.Yamux && r.Kind == live.FramingViolation:
		off := r.Offset
		j.Dir, j.Offset, j.Code, j.Detail, j.Yamux = r.Dir.Code(), &off, r.YamuxCode.String(), r.Detail, r.YamuxCode.YamuxReaction()
		return marshalAppend(b, j)
	}
	switch r.Kind {
	case live.FrameRecord:
		h := r.Header
		ver, sid, n, off := h.Version(), h.StreamID(), uint32(h.Length()), r.Offset
		hex := string(printable.AppendHex(nil, r.Payload))
		j.Dir, j.Ver, j.Cmd, j.Sid, j.Len, j.Offset = r.Dir.Code(), &ver, h.Cmd().String(), &sid, &n, &off
		j.Payload, j.Truncated, j.Lost = &hex, r.Truncated, r.Lost
		if h.Cmd() == decoder.UPD {
			j.Consumed, j.Window = &r.Consumed, &r.Window
			j.Payload = nil
		}
		if r.Anomaly != 0 {
			j.Anomaly, j.Smux = r.Anomaly.String(), r.Anomaly.SmuxReaction()
		}
	case live.SessionOpened:
		j.Client, j.Server, j.Label = r.Client, r.Server, r.Label
		j.Transport = cmp.Or(r.Transport, "tcp")
	case live.SessionEnded:
		j.Reason, j.Detail = r.Reason.Code(), r.Detail
	case live.SessionHalfClosed:
		j.Dir, j.Detail = r.Dir.Code(), r.Detail
	case live.FramingViolation:
		off := r.Offset
		j.Dir, j.Offset, j.Code, j.Want, j.Detail, j.Smux = r.Dir.Code(), &off, r.Code.String(), r.Want, r.Detail, r.Code.SmuxReaction()
	case live.NoticeRecord:
		j.Text = r.Detail
	case live.ResyncRecord:
		off := r.Offset
		j.Dir, j.Offset, j.Detail = r.Dir.Code(), &off, r.Detail
	}
	return marshalAppend(b, j)
}

func marshalAppend(b []byte, j marshalRecord) []byte {
	out, err := json.Marshal(j)
	if err != nil {
		panic(err)
	}
	return append(b, out...)
}

// hostile are strings that must come out of JSON as they went in.
var hostile = []string{
	"",
	"127.0.0.1:51234",
	`say "hi"`,
	`C:\path\to`,
	"two\nlines\r\n",
	"\x1b[2J\x1b]0;title\x07",
	"nul\x00byte",
	"\b\f\t\v\x01\x1f\x7f",
	"bad \xff\xfe utf-8 \xc3",
	"cut \xe2\x80",
	"line\u2028paragraph\u2029",
	"<script>alert('&')</script>",
	"C1 \u0085\u009b",
	"ünïcödé 日本 🙂",
	"\ufffd",
}

// jsonRecords is a broad table of records of every kind, hostile text included.
func jsonRecords() []live.Record {
	utc := time.Date(2026, 11, 27, 12, 1, 3, 441207000, time.UTC)
	east := time.FixedZone("", 5*3600+1800)
	times := []time.Time{
		utc, utc.Truncate(time.Second), utc.Add(1), time.Unix(0, utc.UnixNano()), utc.In(east),
		time.Unix(0, 0), {},
	}
	var recs []live.Record
	add := func(r live.Record) {
		r.Seq = uint64(len(recs)*7 + 1)
		r.At = times[len(recs)%len(times)]
		recs = append(recs, r)
	}
	for _, ver := range []uint8{1, 2, 0, 255} {
		for cmd := range decoder.Cmd(7) {
			for _, p := range []string{"", "RAND", "\x0b\x5e\x9a\x13\x77\x02\xc1\xaa"} {
				add(live.Record{Kind: live.FrameRecord, Session: 3, Dir: live.Dir(cmd % 2), Offset: 1 << 40,
					Header: decoder.MakeHeader(ver, cmd, uint16(len(p)), 4413), Payload: []byte(p),
					Consumed: uint32(len(p)), Window: 262144, Lost: int64(len(p) / 2)})
			}
		}
	}
	for _, proto := range []live.Protocol{live.Smux, live.Yamux, live.ProtocolUnknown} {
		add(live.Record{Kind: live.SessionOpened, Session: 2, Proto: proto, Client: "a", Server: "b"})
		add(live.Record{Kind: live.SessionEnded, Session: 2, Proto: proto, Reason: live.EOF})
	}
	for typ := range yamux.Type(6) {
		for _, flags := range []yamux.Flags{0, yamux.SYN, yamux.ACK | yamux.FIN, yamux.RST | 0x30} {
			for _, p := range []string{"", "RAND"} {
				add(live.Record{Kind: live.FrameRecord, Session: 5, Proto: live.Yamux, Dir: live.Dir(typ % 2), Offset: 1 << 33,
					YamuxHeader: yamux.MakeHeader(typ, flags, 7, ^uint32(0)-uint32(len(p))), Payload: []byte(p), Truncated: len(p) > 0,
					Anomaly: live.Anomaly(flags % 12)})
			}
		}
	}
	for c := range yamux.Code(yamux.NumCodes + 1) {
		add(live.Record{Kind: live.FramingViolation, Session: 5, Proto: live.Yamux, Dir: live.ServerToClient, Offset: 12,
			YamuxHeader: yamux.MakeHeader(9, 0, 0, 0), YamuxCode: c, Detail: "unknown type 9"})
	}
	for a := range live.Anomaly(live.NumAnomalies + 2) {
		add(live.Record{Kind: live.FrameRecord, Session: 1, Header: decoder.MakeHeader(1, decoder.PSH, 0, 1),
			Anomaly: a, Truncated: a%2 == 1, Payload: []byte{0xff}})
	}
	add(live.Record{Kind: live.FrameRecord, Header: decoder.MakeHeader(2, decoder.UPD, 8, ^uint32(0)),
		Truncated: true, Consumed: ^uint32(0), Window: 0, Offset: -1})
	add(live.Record{Kind: live.FrameRecord, Session: ^uint64(0), Header: decoder.MakeHeader(1, decoder.PSH, 65535, 3),
		Payload: bytes.Repeat([]byte{0, 0x41, 0x80}, 86), Truncated: true})
	for i, s := range hostile {
		add(live.Record{Kind: live.SessionOpened, Session: uint64(i + 1), Client: s, Server: hostile[(i+1)%len(hostile)],
			Label: hostile[(i+2)%len(hostile)], Tap: live.Side(i % 2)})
		add(live.Record{Kind: live.SessionEnded, Session: uint64(i + 1), Reason: live.CloseReason(i % 8), Detail: s})
		add(live.Record{Kind: live.SessionHalfClosed, Session: uint64(i + 1), Proto: live.Protocol(i % 3), Dir: live.Dir(i % 2), Detail: s})
		add(live.Record{Kind: live.FramingViolation, Session: uint64(i), Dir: live.Dir(i % 2), Offset: int64(i) * 1000,
			Header: decoder.MakeHeader(uint8(i), decoder.Cmd(i), uint16(i), uint32(i)),
			Code:   decoder.Code(i % (decoder.NumCodes + 2)), Want: uint8(i % 3), Detail: s})
		add(live.Record{Kind: live.NoticeRecord, Detail: s})
		add(live.Record{Kind: live.Kind(5 + i%4), Session: uint64(i), Detail: s, Client: s})
		for _, f := range testFindings(s) {
			add(live.Record{Kind: live.FindingOpened, Session: f.Session, Dir: f.Dir, Finding: f})
			add(live.Record{Kind: live.FindingUpdated, Session: f.Session, Dir: f.Dir, Finding: f})
			add(live.Record{Kind: live.FindingUpdated, Session: f.Session, Dir: f.Dir, Finding: f, Was: live.Severity(i % 4)})
			add(live.Record{Kind: live.FindingResolved, Session: f.Session, Dir: f.Dir, Finding: f, Detail: s})
		}
		// A LEAK's records name its streams: all of them, or the oldest
		// and how many more.
		// Their first bytes each way, the oldest's in "first" and
		// "first_text": hostile text one way, bytes JSON escapes or
		// printable leaves out the other.
		for _, n := range []uint64{2, 3, 40} {
			ids := []uint32{3, 5, ^uint32(0)}[:min(n, 3)]
			heads := make([][2]live.FirstBytes, len(ids))
			for k := range heads {
				heads[k] = [2]live.FirstBytes{firstBytes(s, n == 3, n == 40), firstBytes("\x00<\"&>\\\x7f\xff\x1b[0m ok", false, n == 40)}
			}
			f := &live.Finding{ID: n, Code: live.CodeLeak, Severity: live.Warning, Session: 4, Stream: 3, Text: s,
				Evidence: live.Evidence{Count: n, Pool: uint8(n % 3)}, StreamIDs: ids, Heads: heads}
			add(live.Record{Kind: live.FindingOpened, Session: 4, Finding: f})
			add(live.Record{Kind: live.FindingUpdated, Session: 4, Finding: f})
		}
	}
	return recs
}

// firstBytes is a stream's first bytes: those of p that fit, cut or
// joined mid-stream as told.
func firstBytes(p string, cut, joined bool) live.FirstBytes {
	var b live.FirstBytes
	b.N = uint8(copy(b.Data[:], p))
	b.Cut, b.Joined = cut, joined
	return b
}

// TestJSONMatchesMarshal checks appendJSON against the encoding/json
// implementation it replaced, byte for byte.
func TestJSONMatchesMarshal(t *testing.T) {
	for _, r := range jsonRecords() {
		got, want := appendJSON(nil, &r), appendJSONMarshal(nil, &r)
		if !bytes.Equal(got, want) {
			t.Errorf("record %+v:\n got %s\nwant %s", r, got, want)
		}
	}
}

// TestAppendStringMatchesEncodingJSON checks the escaper against
// encoding/json byte for byte: the hostile strings, every byte alone and
// every pair of bytes, and every rune.
func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	check := func(s string) {
		t.Helper()
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("appendString(%q) = %s, want %s", s, got, want)
		}
	}
	for _, s := range hostile {
		check(s)
		check(s + s + "x")
	}
	for i := range 1 << 16 {
		check(string([]byte{byte(i), byte(i >> 8)}))
	}
	for r := rune(0); r <= utf8.MaxRune; r++ {
		if r&0xff == 0 || r < 0x3000 {
			check("a" + string(r) + "b")
		}
	}
}

// TestJSONRecordKinds parses a line of every kind, hostile text included,
// and checks its fields one by one.
func TestJSONRecordKinds(t *testing.T) {
	at := time.Unix(0, t0.UnixNano())
	ts := at.Format(time.RFC3339Nano)
	smuxV := decoder.SmuxReaction
	for _, s := range hostile {
		text := string([]rune(s)) // each byte of invalid UTF-8 becomes U+FFFD
		cases := []struct {
			rec  live.Record
			want map[string]any
		}{
			{live.Record{Kind: live.FrameRecord, Seq: 2, Session: 1, Dir: live.ClientToServer, At: at, Offset: 8,
				Header: decoder.MakeHeader(1, decoder.PSH, 4, 3), Payload: []byte("RAND")},
				map[string]any{"type": "frame", "seq": 2.0, "time": ts, "session": 1.0, "proto": "smux", "dir": "c2s", "ver": 1.0,
					"cmd": "PSH", "sid": 3.0, "len": 4.0, "offset": 8.0, "payload": "52 41 4e 44"}},
			{live.Record{Kind: live.FrameRecord, Seq: 3, Session: 1, Dir: live.ServerToClient, At: at,
				Header: decoder.MakeHeader(1, decoder.SYN, 0, 4)},
				map[string]any{"type": "frame", "seq": 3.0, "time": ts, "session": 1.0, "proto": "smux", "dir": "s2c", "ver": 1.0,
					"cmd": "SYN", "sid": 4.0, "len": 0.0, "offset": 0.0, "payload": ""}},
			{live.Record{Kind: live.FrameRecord, Seq: 4, Session: 1, At: at, Offset: 16, Truncated: true,
				Header: decoder.MakeHeader(1, decoder.PSH, 300, 3), Payload: []byte{0, 0xff}, Anomaly: live.PSHAfterFIN},
				map[string]any{"type": "frame", "seq": 4.0, "time": ts, "session": 1.0, "proto": "smux", "dir": "c2s", "ver": 1.0,
					"cmd": "PSH", "sid": 3.0, "len": 300.0, "offset": 16.0, "payload": "00 ff", "truncated": true,
					"anomaly": "PSH_AFTER_FIN", "smux": live.PSHAfterFIN.SmuxReaction()}},
			{live.Record{Kind: live.FrameRecord, Seq: 14, Session: 1, At: at, Offset: 16, Truncated: true, Lost: 1448,
				Header: decoder.MakeHeader(1, decoder.PSH, 3000, 3), Payload: []byte{0, 0xff}},
				map[string]any{"type": "frame", "seq": 14.0, "time": ts, "session": 1.0, "proto": "smux", "dir": "c2s", "ver": 1.0,
					"cmd": "PSH", "sid": 3.0, "len": 3000.0, "offset": 16.0, "payload": "00 ff", "truncated": true, "lost": 1448.0}},
			{live.Record{Kind: live.FrameRecord, Seq: 15, Session: 4, Proto: live.Yamux, Dir: live.ServerToClient, At: at, Offset: 12,
				YamuxHeader: yamux.MakeHeader(yamux.Data, 0, 3, 1<<20), Truncated: true, Lost: 65536},
				map[string]any{"type": "frame", "seq": 15.0, "time": ts, "session": 4.0, "proto": "yamux", "dir": "s2c", "ver": 0.0,
					"cmd": "DATA", "sid": 3.0, "len": 1048576.0, "offset": 12.0, "payload": "", "truncated": true, "lost": 65536.0}},
			{live.Record{Kind: live.FrameRecord, Seq: 5, Session: 2, Dir: live.ServerToClient, At: at, Offset: 24,
				Header: decoder.MakeHeader(2, decoder.UPD, 8, 3), Consumed: 8, Window: 262144},
				map[string]any{"type": "frame", "seq": 5.0, "time": ts, "session": 2.0, "proto": "smux", "dir": "s2c", "ver": 2.0,
					"cmd": "UPD", "sid": 3.0, "len": 8.0, "offset": 24.0, "consumed": 8.0, "window": 262144.0}},
			{live.Record{Kind: live.SessionOpened, Seq: 6, Session: 3, At: at, Client: s, Server: s, Label: s},
				omitEmpty(map[string]any{"type": "session-opened", "seq": 6.0, "time": ts, "session": 3.0, "proto": "smux",
					"client": text, "server": text, "label": text, "transport": "tcp"})},
			{live.Record{Kind: live.SessionOpened, Seq: 16, Session: 5, At: at, Server: s, Transport: "unix"},
				omitEmpty(map[string]any{"type": "session-opened", "seq": 16.0, "time": ts, "session": 5.0, "proto": "smux",
					"server": text, "transport": "unix"})},
			{live.Record{Kind: live.SessionEnded, Seq: 7, Session: 3, At: at, Reason: live.LocalClose, Detail: s},
				omitEmpty(map[string]any{"type": "session-ended", "seq": 7.0, "time": ts, "session": 3.0, "proto": "smux",
					"reason": "local_close", "detail": text})},
			{live.Record{Kind: live.FramingViolation, Seq: 8, Session: 3, Dir: live.ServerToClient, At: at, Offset: 40,
				Header: decoder.MakeHeader(1, decoder.SYN, 0, 5), Code: decoder.VersionChanged, Want: 2, Detail: s},
				omitEmpty(map[string]any{"type": "violation", "seq": 8.0, "time": ts, "session": 3.0, "proto": "smux", "dir": "s2c",
					"offset": 40.0, "code": "VERSION_CHANGED", "want": 2.0, "detail": text, "smux": smuxV})},
			{live.Record{Kind: live.FramingViolation, Seq: 9, Session: 3, At: at, Code: decoder.UnknownCmd, Detail: s},
				omitEmpty(map[string]any{"type": "violation", "seq": 9.0, "time": ts, "session": 3.0, "proto": "smux", "dir": "c2s",
					"offset": 0.0, "code": "UNKNOWN_CMD", "detail": text, "smux": smuxV})},
			{live.Record{Kind: live.FrameRecord, Seq: 11, Session: 4, Proto: live.Yamux, Dir: live.ClientToServer, At: at, Offset: 12,
				YamuxHeader: yamux.MakeHeader(yamux.Data, yamux.SYN|yamux.ACK, 3, 4), Payload: []byte("RAND")},
				map[string]any{"type": "frame", "seq": 11.0, "time": ts, "session": 4.0, "proto": "yamux", "dir": "c2s", "ver": 0.0,
					"cmd": "DATA", "flags": "SYN|ACK", "sid": 3.0, "len": 4.0, "offset": 12.0, "payload": "52 41 4e 44"}},
			{live.Record{Kind: live.FrameRecord, Seq: 12, Session: 4, Proto: live.Yamux, Dir: live.ServerToClient, At: at,
				YamuxHeader: yamux.MakeHeader(yamux.WindowUpdate, 0, 3, 1000), Anomaly: live.UnknownStream},
				map[string]any{"type": "frame", "seq": 12.0, "time": ts, "session": 4.0, "proto": "yamux", "dir": "s2c", "ver": 0.0,
					"cmd": "WINDOW_UPDATE", "sid": 3.0, "len": 1000.0, "offset": 0.0,
					"anomaly": "UNKNOWN_STREAM", "yamux": live.UnknownStream.YamuxReaction()}},
			{live.Record{Kind: live.FramingViolation, Seq: 13, Session: 4, Proto: live.Yamux, At: at, Offset: 24,
				YamuxHeader: yamux.MakeHeader(7, 0, 0, 0), YamuxCode: yamux.UnknownType, Detail: s},
				omitEmpty(map[string]any{"type": "violation", "seq": 13.0, "time": ts, "session": 4.0, "proto": "yamux", "dir": "c2s",
					"offset": 24.0, "code": "UNKNOWN_TYPE", "detail": text, "yamux": yamux.UnknownType.YamuxReaction()})},
			{live.Record{Kind: live.NoticeRecord, Seq: 10, At: at, Detail: s},
				omitEmpty(map[string]any{"type": "notice", "seq": 10.0, "time": ts, "text": text})},
		}
		for _, c := range cases {
			line := appendJSON(nil, &c.rec)
			var got map[string]any
			if err := json.Unmarshal(line, &got); err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			for k, w := range c.want {
				if g, ok := got[k]; !ok || g != w {
					t.Errorf("%s: %s = %#v, want %#v", line, k, g, w)
				}
			}
			for k := range got {
				if _, ok := c.want[k]; !ok {
					t.Errorf("%s: unexpected key %s", line, k)
				}
			}
		}
	}
}

// omitEmpty deletes m's empty strings: the keys JSON output leaves out.
func omitEmpty(m map[string]any) map[string]any {
	for k, v := range m {
		if v == "" {
			delete(m, k)
		}
	}
	return m
}

func TestAppendJSONZeroAlloc(t *testing.T) {
	if racetest.Enabled {
		t.Skip("allocation counts mean nothing under the race detector")
	}
	line := make([]byte, 0, 4096)
	for _, r := range jsonRecords() {
		if n := testing.AllocsPerRun(10, func() { line = appendJSON(line[:0], &r) }); n != 0 {
			t.Errorf("%s: %v allocations", appendJSON(nil, &r), n)
		}
	}
}

// fuzzSids packs stream ids as FuzzAppendJSON takes them: 4 bytes each,
// little-endian.
func fuzzSids(ids []uint32) []byte {
	var b []byte
	for _, id := range ids {
		b = binary.LittleEndian.AppendUint32(b, id)
	}
	return b
}

func FuzzAppendJSON(f *testing.F) {
	for _, r := range jsonRecords() {
		fcode, count, sids := uint8(0), uint64(0), []byte(nil)
		var c2s, s2c []byte
		if fd := r.Finding; fd != nil {
			fcode, count, sids = uint8(fd.Code), fd.Evidence.Count, fuzzSids(fd.StreamIDs)
			if h := fd.First(); h != nil {
				c2s, s2c = h[0].Bytes(), h[1].Bytes()
			}
		}
		f.Add(uint8(r.Kind), r.Seq, r.Session, uint8(r.Dir), r.At.UnixNano(), r.Offset, r.Header[:], r.Payload,
			r.Truncated, r.Lost, r.Consumed, r.Window, uint8(r.Anomaly), uint8(r.Code), r.Want, uint8(r.Reason),
			r.Client, r.Server, r.Label, r.Detail, fcode, count, sids, c2s, s2c)
	}
	f.Fuzz(func(t *testing.T, kind uint8, seq, session uint64, dir uint8, at, offset int64, header, payload []byte,
		truncated bool, lost int64, consumed, window uint32, anomaly, code, want, reason uint8, client, server, label, detail string,
		fcode uint8, count uint64, sids, c2s, s2c []byte) {
		r := live.Record{Kind: live.Kind(kind % 9), Seq: seq, Session: session, Dir: live.Dir(dir % 2),
			At: time.Unix(0, at), Offset: offset, Payload: payload, Truncated: truncated, Lost: lost, Consumed: consumed,
			Window: window, Anomaly: live.Anomaly(anomaly), Code: decoder.Code(code), Want: want,
			Reason: live.CloseReason(reason), Client: client, Server: server, Label: label, Detail: detail}
		copy(r.Header[:], header)
		finding := r.Kind == live.FindingOpened || r.Kind == live.FindingUpdated || r.Kind == live.FindingResolved
		var ids []uint32
		if finding && fcode != 0 {
			// A finding of any code (those past the last too), its count
			// and its streams, which only a LEAK's records name, from the
			// fuzzer.
			for len(sids) >= 4 && len(ids) < 2*live.MaxStreamIDs {
				ids, sids = append(ids, binary.LittleEndian.Uint32(sids)), sids[4:]
			}
			c := live.FindingCode(fcode % (live.NumFindingCodes + 1))
			r.Finding = &live.Finding{ID: seq, Code: c, Severity: c.Severity(), Session: session, Stream: consumed,
				Dir: r.Dir, HasDir: dir&2 != 0, Since: time.Unix(0, offset), Opened: time.Unix(0, at),
				Evidence: live.Evidence{Count: count, Bytes: uint64(window), Age: time.Duration(lost), Offset: offset,
					PushQuiet: time.Duration(want%3) * 250 * time.Millisecond, AfterPush: time.Duration(reason) * 1234567 * time.Nanosecond},
				Text: detail, Advice: label, StreamIDs: ids}
			if len(ids) > 0 {
				// Each stream's first bytes, from the fuzzer, and the
				// finding's stream one of them: the one "first" and
				// "first_text" give.
				r.Finding.Stream = ids[int(consumed%uint32(len(ids)))]
				for range ids {
					r.Finding.Heads = append(r.Finding.Heads, [2]live.FirstBytes{firstBytes(string(c2s), truncated, anomaly&1 != 0), firstBytes(string(s2c), false, false)})
				}
			}
		}
		line := appendJSON(nil, &r)
		if !json.Valid(line) {
			t.Fatalf("not JSON: %q", line)
		}
		if want := appendJSONMarshal(nil, &r); !bytes.Equal(line, want) {
			t.Fatalf("got  %s\nwant %s", line, want)
		}
		var got map[string]any
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.UseNumber() // 64-bit numbers exactly
		if err := dec.Decode(&got); err != nil {
			t.Fatal(err)
		}
		roundTrip := func(key, s string) {
			t.Helper()
			g, ok := got[key]
			if s == "" {
				if ok {
					t.Errorf("%s: empty %s present", line, key)
				}
				return
			}
			if want := string([]rune(s)); g != want {
				t.Errorf("%s: %s = %q, want %q", line, key, g, want)
			}
		}
		switch r.Kind {
		case live.SessionOpened:
			roundTrip("client", client)
			roundTrip("server", server)
			roundTrip("label", label)
		case live.SessionEnded, live.SessionHalfClosed, live.FramingViolation, live.ResyncRecord:
			roundTrip("detail", detail)
		case live.NoticeRecord:
			roundTrip("text", detail)
		case live.FindingOpened, live.FindingUpdated, live.FindingResolved:
			if r.Finding == nil {
				break
			}
			roundTrip("text", detail)
			roundTrip("advice", label)
			var gotIDs []uint32
			if l, ok := got["sids"].([]any); ok {
				for _, v := range l {
					n, err := strconv.ParseUint(string(v.(json.Number)), 10, 32)
					if err != nil {
						t.Fatalf("%s: sid %v: %v", line, v, err)
					}
					gotIDs = append(gotIDs, uint32(n))
				}
			}
			if !slices.Equal(gotIDs, ids) {
				t.Errorf("%s: sids %v, want %v", line, gotIDs, ids)
			}
			more := uint64(0)
			if len(ids) > 0 && count > uint64(len(ids)) {
				more = count - uint64(len(ids))
			}
			if g, ok := got["sids_more"]; more == 0 && ok || more != 0 && g != json.Number(strconv.FormatUint(more, 10)) {
				t.Errorf("%s: sids_more %v, want %d", line, g, more)
			}
			// A LEAK's first bytes as printable text: each byte of what
			// was kept as printable.Byte renders it, never a raw one.
			text, ok := got["first_text"].(map[string]any)
			if h := r.Finding.First(); h == nil || len(ids) == 0 {
				if ok {
					t.Errorf("%s: first_text with no first bytes", line)
				}
				break
			}
			if !ok {
				t.Fatalf("%s: no first_text", line)
			}
			for k, p := range map[string][]byte{"c2s": c2s, "s2c": s2c} {
				p = p[:min(len(p), live.FirstBytesLen)]
				want := make([]byte, len(p))
				for i, c := range p {
					want[i] = printable.Byte(c)
				}
				if text[k] != string(want) {
					t.Errorf("%s: first_text.%s = %q, want %q", line, k, text[k], want)
				}
			}
		case live.FrameRecord:
			if r.Header.Cmd() != decoder.UPD && got["payload"] != string(printable.AppendHex(nil, payload)) {
				t.Errorf("%s: payload lost", line)
			}
		}
		if got["time"] != r.At.Format(time.RFC3339Nano) || got["type"] != r.Kind.String() {
			t.Errorf("%s: bad type or time", line)
		}
		if got["seq"] != json.Number(strconv.FormatUint(seq, 10)) {
			t.Errorf("%s: seq %v, want %d", line, got["seq"], seq)
		}
	})
}

// TestViolationReactions: each violation says what smux does about its own
// code, in both formats: a cut frame is not an "invalid protocol".
func TestViolationReactions(t *testing.T) {
	for _, code := range []decoder.Code{decoder.BadVersion, decoder.VersionMismatch, decoder.Truncated} {
		r := live.Record{Kind: live.FramingViolation, Seq: 1, Session: 1, Code: code, Detail: "d"}
		var j map[string]any
		if err := json.Unmarshal(appendJSON(nil, &r), &j); err != nil {
			t.Fatal(err)
		}
		if j["smux"] != code.SmuxReaction() || code.SmuxReaction() == "" {
			t.Errorf("%v: JSON smux %q, want %q", code, j["smux"], code.SmuxReaction())
		}
		if plain := string(appendPlain(nil, &r)); !strings.HasSuffix(plain, code.SmuxReaction()) {
			t.Errorf("%v: plain %q does not end with %q", code, plain, code.SmuxReaction())
		}
	}
}

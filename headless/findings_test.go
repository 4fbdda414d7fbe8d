package headless

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/internal/racetest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/printable"
	"github.com/muxtop/muxtop/wirekind"
)

// marshalFinding is the encoding/json oracle of a finding record.
type marshalFinding struct {
	Type      string         `json:"type"`
	Seq       uint64         `json:"seq"`
	Time      string         `json:"time"`
	Session   uint64         `json:"session,omitempty"`
	Finding   uint64         `json:"finding"`
	Code      string         `json:"code"`
	Severity  string         `json:"severity"`
	Was       string         `json:"severity_was,omitempty"`
	Sid       uint32         `json:"sid,omitempty"`
	Dir       string         `json:"dir,omitempty"`
	Since     string         `json:"since"`
	Count     *uint64        `json:"count,omitempty"`
	Streams   uint64         `json:"streams,omitempty"`
	Bytes     uint64         `json:"bytes,omitempty"`
	Age       float64        `json:"age,omitempty"`
	Idle      float64        `json:"idle,omitempty"`
	Limit     float64        `json:"limit,omitempty"`
	Every     float64        `json:"every,omitempty"`
	Borrowed  bool           `json:"borrowed,omitempty"`
	Ping      float64        `json:"ping,omitempty"`
	GaveUp    bool           `json:"gave_up,omitempty"`
	Unheard   bool           `json:"unheard,omitempty"`
	Silent    bool           `json:"silent,omitempty"`
	Slow      float64        `json:"slow,omitempty"`
	Sids      []uint32       `json:"sids,omitempty"`
	SidsMore  uint64         `json:"sids_more,omitempty"`
	Pool      string         `json:"pool,omitempty"`
	First     *marshalFirst  `json:"first,omitempty"`
	FirstText *marshalText   `json:"first_text,omitempty"`
	Versions  map[string]int `json:"versions,omitempty"`
	Offset    *int64         `json:"offset,omitempty"`
	Guess     string         `json:"guess,omitempty"`
	Violation string         `json:"violation,omitempty"`
	Skip      int64          `json:"skip,omitempty"`
	Unskipped string         `json:"unskipped,omitempty"`
	GoAway    *uint32        `json:"goaway_code,omitempty"`
	Sign      string         `json:"sign,omitempty"`
	Slowest   *float64       `json:"slowest,omitempty"`
	AfterPush *float64       `json:"after_push,omitempty"`
	PushQuiet float64        `json:"push_quiet,omitempty"`
	Opened    string         `json:"opened,omitempty"`
	Detail    string         `json:"detail,omitempty"`
	Text      string         `json:"text,omitempty"`
	Advice    string         `json:"advice,omitempty"`
}

// marshalFirst is a LEAK's "first" in marshalFinding.
type marshalFirst struct {
	C2S    string `json:"c2s"`
	S2C    string `json:"s2c"`
	C2SCut bool   `json:"c2s_cut,omitempty"`
	S2CCut bool   `json:"s2c_cut,omitempty"`
	Joined bool   `json:"joined,omitempty"`
}

// marshalText is a LEAK's "first_text" in marshalFinding: the bytes as
// printable.AppendASCII renders them.
type marshalText struct {
	C2S string `json:"c2s"`
	S2C string `json:"s2c"`
}

func appendFindingMarshal(b []byte, r *live.Record) []byte {
	f := r.Finding
	secs := func(d time.Duration) float64 { return float64(d.Milliseconds()) / 1000 }
	j := marshalFinding{Type: r.Kind.String(), Seq: r.Seq, Time: r.At.Format(time.RFC3339Nano), Session: r.Session,
		Finding: f.ID, Code: f.Code.String(), Severity: f.Severity.String(), Sid: f.Stream,
		Since: f.Since.Format(time.RFC3339Nano), Streams: f.Evidence.Streams,
		Bytes: f.Evidence.Bytes, Age: secs(f.Evidence.Age), Idle: secs(f.Evidence.Idle), Limit: secs(f.Evidence.Limit),
		Every: secs(f.Evidence.Every), Borrowed: f.Evidence.Borrowed && secs(f.Evidence.Every) > 0, Ping: secs(f.Evidence.Ping), Slow: secs(f.Evidence.Slow),
		GaveUp: f.Evidence.GaveUp, Unheard: f.Evidence.Unheard, Silent: f.Evidence.Silent, Text: f.Text, Advice: f.Advice}
	if c := f.Evidence.Count; c != 0 || r.Kind == live.FindingUpdated {
		j.Count = &c
	}
	if r.Kind == live.FindingUpdated && r.Was != 0 {
		j.Was = r.Was.String()
	}
	if f.HasDir {
		j.Dir = f.Dir.Code()
	}
	if j.Sids = f.StreamIDs; f.Evidence.Count > uint64(len(f.StreamIDs)) && len(f.StreamIDs) > 0 {
		j.SidsMore = f.Evidence.Count - uint64(len(f.StreamIDs))
	}
	if f.Code == live.CodeLeak && len(f.StreamIDs) > 0 {
		j.Pool = map[uint8]string{live.PoolHTTP1: "http1", live.PoolH2C: "h2c"}[f.Evidence.Pool]
	}
	if h := f.First(); h != nil {
		j.First = &marshalFirst{C2S: string(printable.AppendHex(nil, h[0].Bytes())), S2C: string(printable.AppendHex(nil, h[1].Bytes())),
			C2SCut: h[0].Cut, S2CCut: h[1].Cut, Joined: h[0].Joined || h[1].Joined}
		j.FirstText = &marshalText{C2S: string(printable.AppendASCII(nil, h[0].Bytes())), S2C: string(printable.AppendASCII(nil, h[1].Bytes()))}
	}
	switch f.Code {
	case live.CodeVersionMismatch:
		j.Versions = map[string]int{"c2s": int(f.Evidence.Versions[0]), "s2c": int(f.Evidence.Versions[1])}
	case live.CodeProtocol:
		off := f.Evidence.Offset
		j.Offset, j.Guess, j.Violation = &off, f.Evidence.Guess.Code(), f.Evidence.Violation.String()
		if f.Proto == live.Yamux {
			j.Violation = f.Evidence.YamuxViolation.String()
		}
		if f.Evidence.Unskipped != wirekind.Unknown {
			j.Skip, j.Unskipped = f.Evidence.Skip, f.Evidence.Unskipped.Code()
		}
	case live.CodeGoAway:
		code := f.Evidence.GoAwayCode
		j.GoAway = &code
	case live.CodeSessionBlocked:
		j.Sign = f.Evidence.Sign.Code()
	case live.CodeNoReply:
		slowest := float64(f.Evidence.Slowest.Microseconds()) / 1e6
		j.Slowest = &slowest
		if f.Evidence.PushQuiet > 0 {
			after := float64(f.Evidence.AfterPush.Microseconds()) / 1e6
			j.AfterPush, j.PushQuiet = &after, secs(f.Evidence.PushQuiet)
		}
	}
	if r.Kind == live.FindingResolved {
		j.Opened, j.Detail = f.Opened.Format(time.RFC3339Nano), r.Detail
	}
	out, err := json.Marshal(j)
	if err != nil {
		panic(err)
	}
	return append(b, out...)
}

// testFindings are findings of every code, with text s.
func testFindings(s string) []*live.Finding {
	at := time.Date(2026, 11, 27, 12, 1, 3, 441207000, time.UTC)
	var fs []*live.Finding
	for c := live.FindingCode(1); c < live.NumFindingCodes; c++ {
		f := &live.Finding{ID: uint64(c) * 11, Code: c, Severity: c.Severity(), Session: uint64(c) % 4, Stream: uint32(c) * 2 % 5,
			Dir: live.Dir(c % 2), HasDir: c%3 != 0, Since: at, Opened: at.Add(time.Second), Text: s, Advice: s + "!",
			Evidence: live.Evidence{Count: uint64(c) % 3, Streams: uint64(c) % 2, Bytes: uint64(c) << 20 % 3,
				Age: time.Duration(c) * 1234567 * time.Microsecond % (3 * time.Second), Limit: time.Duration(c%2) * 10 * time.Second,
				Versions: [2]uint8{2, 1}, Offset: int64(c) * 8, Guess: wirekind.Kind(c), Violation: decoder.Code(c),
				YamuxViolation: yamux.Code(c % 5), GoAwayCode: uint32(c % 4), Sign: live.BlockedSign(len(s) % 5),
				Every: time.Duration(c%3) * 1500 * time.Millisecond, Borrowed: c%4 < 2, Ping: time.Duration(c%2) * 5001 * time.Millisecond,
				GaveUp: c%4 == 1, Unheard: c%3 == 1, Silent: c%5 == 1, Pool: uint8(c % 3),
				Slow: time.Duration(c%3) * 7 * time.Second, Slowest: time.Duration(c%3) * 1234567 * time.Nanosecond,
				PushQuiet: time.Duration((c+1)%2) * 4012 * time.Millisecond, AfterPush: time.Duration(c%3) * 12345678 * time.Nanosecond, Skip: int64(c%3) + 1, Unskipped: wirekind.Kind((c + 1) % 2 * 11)}}
		if c%2 == 0 {
			f.Proto = live.Yamux
		}
		fs = append(fs, f)
	}
	return fs
}

func TestFindingRecords(t *testing.T) {
	at := time.Date(2026, 11, 27, 12, 1, 3, 0, time.UTC)
	f := &live.Finding{ID: 7, Code: live.CodeLeak, Severity: live.Warning, Session: 3, Stream: 5, Dir: live.ServerToClient, HasDir: true,
		Since: at.Add(-42 * time.Second), Opened: at, Evidence: live.Evidence{Count: 826, Age: 42 * time.Second, Idle: 31500 * time.Millisecond, Limit: 30 * time.Second},
		Text:   "the server never closes its streams: 826 half-closed by the client and idle 30 s or more, oldest 42 s (stream 5, idle 31 s)",
		Advice: "call Close() on the server's stream when it is done"}
	open := live.Record{Kind: live.FindingOpened, Seq: 9, Session: 3, At: at, Finding: f}
	done := live.Record{Kind: live.FindingResolved, Seq: 10, Session: 3, At: at.Add(12300 * time.Millisecond), Finding: f, Detail: "the session ended (EOF)"}

	var j map[string]any
	if err := json.Unmarshal(appendJSON(nil, &open), &j); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"type": "finding-opened", "seq": 9.0, "time": "2026-11-27T12:01:03Z", "session": 3.0, "finding": 7.0,
		"code": "LEAK", "severity": "warning", "sid": 5.0, "dir": "s2c", "since": "2026-11-27T12:00:21Z", "count": 826.0,
		"age": 42.0, "idle": 31.5, "limit": 30.0, "text": f.Text, "advice": f.Advice}
	if len(j) != len(want) {
		t.Errorf("keys %v, want %v", j, want)
	}
	for k, w := range want {
		if j[k] != w {
			t.Errorf("%s = %#v, want %#v", k, j[k], w)
		}
	}
	if err := json.Unmarshal(appendJSON(nil, &done), &j); err != nil {
		t.Fatal(err)
	}
	if j["type"] != "finding-resolved" || j["opened"] != "2026-11-27T12:01:03Z" || j["detail"] != "the session ended (EOF)" {
		t.Errorf("resolved: %v", j)
	}

	plain := string(appendPlain(nil, &open))
	if want := "12:01:03.000000 #3 FINDING 7 LEAK warning: " + f.Text + " — " + f.Advice; plain != want {
		t.Errorf("plain\n got %q\nwant %q", plain, want)
	}
	if plain, want := string(appendPlain(nil, &done)), "12:01:15.300000 #3 RESOLVED 7 LEAK after 12.3 s: the session ended (EOF)"; plain != want {
		t.Errorf("plain\n got %q\nwant %q", plain, want)
	}
	churn := live.Record{Kind: live.FindingOpened, Seq: 11, At: at, Finding: &live.Finding{ID: 8, Code: live.CodeChurn, Severity: live.Warning, Text: "t", Advice: "a"}}
	if plain, want := string(appendPlain(nil, &churn)), "12:01:03.000000 FINDING 8 CHURN warning: t — a"; plain != want {
		t.Errorf("plain\n got %q\nwant %q", plain, want)
	}
	line := make([]byte, 0, 4096)
	for _, r := range []*live.Record{&open, &done, &churn} {
		if racetest.Enabled {
			break
		}
		if n := testing.AllocsPerRun(10, func() { line = appendPlain(line[:0], r) }); n != 0 {
			t.Errorf("plain %s: %v allocations", appendPlain(nil, r), n)
		}
	}
}

// TestFindingUpdatedRecord: a finding told again as it grows is one
// line in either format: in JSON the finding-opened keys, with a LEAK's
// streams (sids, the oldest, and sids_more, how many more it counts); in
// plain the opening's line with UPDATED, its text as it is now, and no
// advice, which the opening gave.
func TestFindingUpdatedRecord(t *testing.T) {
	at := time.Date(2026, 11, 27, 12, 1, 4, 0, time.UTC)
	f := &live.Finding{ID: 7, Code: live.CodeLeak, Severity: live.Warning, Session: 3, Stream: 5, Dir: live.ServerToClient, HasDir: true,
		Since: at.Add(-43 * time.Second), Opened: at.Add(-time.Second), Evidence: live.Evidence{Count: 40, Age: 43 * time.Second, Limit: 30 * time.Second},
		Text:      "the server never closes its streams: 40 half-closed by the client, oldest 43 s (stream 5)",
		Advice:    "call Close() on the server's stream when it is done",
		StreamIDs: []uint32{5, 7, 4294967295}}
	r := live.Record{Kind: live.FindingUpdated, Seq: 12, Session: 3, At: at, Finding: f}
	line := appendJSON(nil, &r)
	var j map[string]any
	if err := json.Unmarshal(line, &j); err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	want := map[string]any{"type": "finding-updated", "seq": 12.0, "time": "2026-11-27T12:01:04Z", "session": 3.0, "finding": 7.0,
		"code": "LEAK", "severity": "warning", "sid": 5.0, "dir": "s2c", "since": "2026-11-27T12:00:21Z", "count": 40.0,
		"age": 43.0, "limit": 30.0, "sids": []any{5.0, 7.0, 4294967295.0}, "sids_more": 37.0, "text": f.Text, "advice": f.Advice}
	if len(j) != len(want) {
		t.Errorf("%s: keys %v, want %v", line, j, want)
	}
	for k, w := range want {
		if fmt.Sprint(j[k]) != fmt.Sprint(w) {
			t.Errorf("%s = %#v, want %#v", k, j[k], w)
		}
	}
	// Every stream named: no sids_more.
	all := *f
	all.Evidence.Count = 3
	if line := appendJSON(nil, &live.Record{Kind: live.FindingUpdated, Session: 3, Finding: &all}); !bytes.Contains(line, []byte(`"sids":[5,7,4294967295],"text"`)) {
		t.Errorf("all streams named: %s", line)
	}
	if plain, want := string(appendPlain(nil, &r)), "12:01:04.000000 #3 UPDATED 7 LEAK warning: "+f.Text; plain != want {
		t.Errorf("plain\n got %q\nwant %q", plain, want)
	}
	// A change of severity: the update says the one it replaces.
	proto := &live.Finding{ID: 9, Code: live.CodeProtocol, Severity: live.Warning, Session: 3, Text: "both ends speak HTTP", Advice: "a"}
	sev := live.Record{Kind: live.FindingUpdated, Session: 3, At: at, Finding: proto, Was: live.Critical}
	if plain, want := string(appendPlain(nil, &sev)), "12:01:04.000000 #3 UPDATED 9 PROTOCOL now warning (was critical): both ends speak HTTP"; plain != want {
		t.Errorf("plain\n got %q\nwant %q", plain, want)
	}
	if line := appendJSON(nil, &sev); !bytes.Contains(line, []byte(`"severity":"warning","severity_was":"critical",`)) {
		t.Errorf("a change of severity: %s", line)
	}
	churn := live.Record{Kind: live.FindingUpdated, At: at, Finding: &live.Finding{ID: 8, Code: live.CodeChurn, Severity: live.Warning, Text: "t", Advice: "a"}}
	if plain, want := string(appendPlain(nil, &churn)), "12:01:04.000000 UPDATED 8 CHURN warning: t"; plain != want {
		t.Errorf("plain\n got %q\nwant %q", plain, want)
	}
	buf := make([]byte, 0, 4096)
	for _, r := range []*live.Record{&r, &churn} {
		if racetest.Enabled {
			break
		}
		if n := testing.AllocsPerRun(10, func() { buf = appendPlain(buf[:0], r) }); n != 0 {
			t.Errorf("plain %s: %v allocations", appendPlain(nil, r), n)
		}
	}
}

// TestBlockedSignRecord: a SESSION_BLOCKED record says what showed it,
// as "sign", since only the receiver's own tap ("read") tells a receiver
// that stopped reading from a slow one.
func TestBlockedSignRecord(t *testing.T) {
	for sign, want := range map[live.BlockedSign]string{live.SignWrite: "write", live.SignRead: "read", live.SignWindow: "window", 0: ""} {
		f := &live.Finding{ID: 1, Code: live.CodeSessionBlocked, Severity: live.Critical, Session: 1, Evidence: live.Evidence{Sign: sign}}
		var j map[string]any
		if err := json.Unmarshal(appendJSON(nil, &live.Record{Kind: live.FindingOpened, Session: 1, Finding: f}), &j); err != nil {
			t.Fatal(err)
		}
		if got, ok := j["sign"]; want == "" && ok || want != "" && got != want {
			t.Errorf("sign %d: %v, want %q", sign, got, want)
		}
	}
}

func TestSummaryFindings(t *testing.T) {
	reg := live.New(live.Config{})
	start := time.Now()
	s := reg.Open(live.SessionInfo{Client: "c", Server: "s"}, start)
	rand := func(sid uint32, at time.Time) {
		for _, f := range []decoder.Frame{
			{Header: decoder.MakeHeader(1, decoder.SYN, 0, sid)},
			{Header: decoder.MakeHeader(1, decoder.PSH, 4, sid), Payload: []byte("RAND")},
		} {
			s.Record(live.ClientToServer, at, &f)
		}
		f := decoder.Frame{Header: decoder.MakeHeader(1, decoder.PSH, 1, sid), Payload: []byte("x")}
		s.Record(live.ServerToClient, at.Add(2*time.Millisecond), &f)
		fin := decoder.Frame{Header: decoder.MakeHeader(1, decoder.FIN, 0, sid)}
		s.Record(live.ClientToServer, at.Add(3*time.Millisecond), &fin)
	}
	rand(3, start)
	rand(5, start)
	reg.Evaluate(start.Add(2*time.Second), live.FindingsConfig{LeakAfter: time.Second})
	sum := Summarize(reg.Snapshot(), 0)
	if sum.FindingsOpened != 1 || sum.FindingsOpen[live.Warning] != 1 || len(sum.Findings) != 1 || sum.Findings[0].Code != live.CodeLeak {
		t.Fatalf("summary findings: %d opened, open %v, %v", sum.FindingsOpened, sum.FindingsOpen, sum.Findings)
	}
	if sum.Latency.N != 2 || len(sum.SessionLatency) != 1 || sum.SessionLatency[0].Session != s.ID() {
		t.Errorf("latency %+v, sessions %+v", sum.Latency, sum.SessionLatency)
	}
	var b bytes.Buffer
	WriteSummary(&b, sum)
	for _, want := range []string{"findings  1 opened, 1 open at the end (0 critical, 1 warning)",
		"#1 LEAK warning, session 1, open: the server never closes its streams: 2 half-closed by the client",
		"latency   first reply p50 "} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("plain summary lacks %q:\n%s", want, b.String())
		}
	}
	var j map[string]any
	if err := json.Unmarshal(appendJSONSummary(nil, sum), &j); err != nil {
		t.Fatal(err)
	}
	if j["findings_opened"] != 1.0 || j["findings_open"].(map[string]any)["warning"] != 1.0 {
		t.Errorf("JSON summary: %v", j)
	}
	fs := j["findings"].([]any)
	if f := fs[0].(map[string]any); len(fs) != 1 || f["code"] != "LEAK" || f["session"] != 1.0 || f["dir"] != "s2c" || f["resolved"] != nil {
		t.Errorf("JSON findings: %v", fs)
	}
	lat := j["latency"].(map[string]any)
	if lat["streams"] != 2.0 || lat["p50_ms"].(float64) < 1.5 || len(lat["sessions"].([]any)) != 1 {
		t.Errorf("JSON latency: %v", lat)
	}
	// No findings: the keys are there, and say so.
	empty := appendJSONSummary(nil, Summarize(live.New(live.Config{}).Snapshot(), 0))
	if !bytes.Contains(empty, []byte(`"findings_opened":0,"findings_open":{"critical":0,"warning":0},"findings":[]`)) || bytes.Contains(empty, []byte("latency")) {
		t.Errorf("empty summary: %s", empty)
	}
}

// TestSummaryOpenAtTheEnd: the summary counts open at the end the
// findings muxtop's stop resolved while they held (live.Snapshot's
// Unwatched), in plain and JSON, and lists each once, so marked; one
// whose session ended on its own before the stop is resolved.
func TestSummaryOpenAtTheEnd(t *testing.T) {
	reg := endedAndUnwatched()

	s := Summarize(reg.Snapshot(), 0)
	var plain bytes.Buffer
	WriteSummary(&plain, s)
	for _, want := range []string{
		"  findings  2 opened, 1 open at the end (1 critical, 0 warning)\n",
		"    #1 PROTOCOL critical, session 1, resolved after 0.04 s: ",
		"    #2 PROTOCOL critical, session 2, open at the end (muxtop stopped watching): ",
	} {
		if !strings.Contains(plain.String(), want) {
			t.Errorf("plain summary lacks %q:\n%s", want, plain.String())
		}
	}
	var j struct {
		Open     map[string]int `json:"findings_open"`
		Findings []struct {
			Finding   uint64 `json:"finding"`
			Unwatched bool   `json:"unwatched"`
			Detail    string `json:"detail"`
		} `json:"findings"`
	}
	if err := json.Unmarshal(appendJSONSummary(nil, s), &j); err != nil {
		t.Fatal(err)
	}
	if j.Open["critical"] != 1 || len(j.Findings) != 2 || j.Findings[0].Unwatched || !j.Findings[1].Unwatched ||
		j.Findings[1].Detail != "muxtop stopped watching (shutdown): still holding then" {
		t.Errorf("JSON summary: findings_open %v, findings %+v; want 1 critical open, #2 unwatched", j.Open, j.Findings)
	}
}

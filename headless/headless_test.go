package headless

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/live"
)

var t0 = time.Date(2026, 11, 27, 12, 1, 3, 441207000, time.UTC)

// feed records one RAND exchange on a new session, as bytes on the wire.
func feed(t *testing.T, reg *live.Registry, payload []byte) *live.Session {
	t.Helper()
	s := reg.Open(live.SessionInfo{Client: "127.0.0.1:51234", Server: "127.0.0.1:9000", Label: "test"}, t0)
	frames := []struct {
		dir  live.Dir
		wire string
	}{
		{live.ClientToServer, "\x01" + "\x00" + "\x00\x00" + "\x03\x00\x00\x00"},
		{live.ClientToServer, "\x01" + "\x02" + "\x04\x00" + "\x03\x00\x00\x00" + "RAND"},
		{live.ServerToClient, "\x01" + "\x02" + string([]byte{byte(len(payload)), 0}) + "\x03\x00\x00\x00" + string(payload)},
		{live.ClientToServer, "\x01" + "\x01" + "\x00\x00" + "\x03\x00\x00\x00"},
	}
	decs := [2]*decoder.Decoder{decoder.New(256), decoder.New(256)}
	for i, f := range frames {
		_, fr, err := decs[f.dir].Next([]byte(f.wire))
		if fr == nil || err != nil {
			t.Fatalf("frame %d: %v %v", i, fr, err)
		}
		s.Record(f.dir, t0.Add(time.Duration(i)*time.Microsecond), fr)
	}
	return s
}

func TestPlainLines(t *testing.T) {
	reg := live.New(live.Config{})
	feed(t, reg, []byte("\x1b[2J\x07ok"))
	var out bytes.Buffer
	p := NewPrinter(reg, &out, Plain)
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"12:01:03.441207 #1 session opened 127.0.0.1:51234 → 127.0.0.1:9000",
		"12:01:03.441207 #1 → v1 SYN sid 3 len 0",
		"12:01:03.441208 #1 → v1 PSH sid 3 len 4  52 41 4e 44  RAND",
		"12:01:03.441209 #1 ← v1 PSH sid 3 len 7  1b 5b 32 4a 07 6f 6b  .[2J.ok",
		"12:01:03.441210 #1 → v1 FIN sid 3 len 0",
	}
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(got) != len(want) {
		t.Fatalf("got %d lines:\n%s\nwant %d", len(got), out.String(), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d:\n got %q\nwant %q", i, got[i], want[i])
		}
	}
	if strings.ContainsAny(out.String(), "\x1b\x07") {
		t.Errorf("raw control bytes reached the output: %q", out.String())
	}
}

func TestJSONLines(t *testing.T) {
	reg := live.New(live.Config{})
	s := feed(t, reg, []byte{0, 0, 0, 0, 0, 0, 0, 42})
	s.End(t0.Add(time.Millisecond), live.EOF, nil)
	var out bytes.Buffer
	p := NewPrinter(reg, &out, JSON)
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Finish(Options{}); err != nil {
		t.Fatal(err)
	}
	var types []string
	sc := bufio.NewScanner(&out)
	var last map[string]any
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("bad JSON line %q: %v", sc.Text(), err)
		}
		types = append(types, m["type"].(string))
		if m["type"] == "frame" && m["dir"] == "s2c" && m["payload"] != "00 00 00 00 00 00 00 2a" {
			t.Errorf("server payload = %v, want 00 00 00 00 00 00 00 2a", m["payload"])
		}
		last = m
	}
	want := "session-opened frame frame frame frame session-ended summary"
	if got := strings.Join(types, " "); got != want {
		t.Errorf("types = %s, want %s", got, want)
	}
	if last["streams_opened"] != 1.0 || last["streams_open"] != 0.0 || last["streams_ended"] != 1.0 {
		t.Errorf("summary streams = %v opened %v open %v ended, want 1 0 1", last["streams_opened"], last["streams_open"], last["streams_ended"])
	}
	if f := last["frames"].(map[string]any)["c2s"].(map[string]any); f["SYN"] != 1.0 || f["PSH"] != 1.0 || f["FIN"] != 1.0 {
		t.Errorf("summary c2s frames = %v", f)
	}
}

func TestMissedWhenOutputFallsBehind(t *testing.T) {
	reg := live.New(live.Config{History: 3})
	feed(t, reg, []byte("12345678")) // 5 records into a ring of 3
	var out bytes.Buffer
	p := NewPrinter(reg, &out, Plain)
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
	if p.Missed() != 2 {
		t.Errorf("missed = %d, want 2", p.Missed())
	}
	// The 3 records the ring holds, after the line that says the 2 it
	// lost were missed.
	if n := strings.Count(out.String(), "\n"); n != 4 || !strings.Contains(out.String(), " MISSED 2 records (seq 1 to 2) not printed") {
		t.Errorf("printed %d lines, want a MISSED line and 3:\n%s", n, out.String())
	}
}

func TestRunStopsWithSummary(t *testing.T) {
	reg := live.New(live.Config{})
	feed(t, reg, []byte("12345678"))
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	var out bytes.Buffer
	snap, err := Run(ctx, reg, &out, Options{Format: Plain})
	if err != nil || snap == nil {
		t.Fatalf("Run = %v, %v", snap, err)
	}
	if !strings.Contains(out.String(), "muxtop summary") || !strings.Contains(out.String(), "RAND") {
		t.Errorf("output lacks frames or summary:\n%s", out.String())
	}
}

// Records print in history order, seq by seq: the taps record a frame in
// the order it travelled, so a time out of order is not the printer's to
// repair.
func TestPrintsInHistoryOrder(t *testing.T) {
	reg := live.New(live.Config{})
	s := reg.Open(live.SessionInfo{Client: "c", Server: "s"}, t0)
	dec := [2]*decoder.Decoder{decoder.New(256), decoder.New(256)}
	record := func(dir live.Dir, at time.Time, wire string) {
		_, fr, err := dec[dir].Next([]byte(wire))
		if fr == nil || err != nil {
			t.Fatalf("%q: %v %v", wire, fr, err)
		}
		s.Record(dir, at, fr)
	}
	record(live.ClientToServer, t0.Add(1*time.Microsecond), "\x01\x00\x00\x00\x03\x00\x00\x00")
	record(live.ServerToClient, t0.Add(3*time.Microsecond), "\x01\x02\x01\x00\x03\x00\x00\x00"+"!")
	record(live.ClientToServer, t0.Add(2*time.Microsecond), "\x01\x02\x04\x00\x03\x00\x00\x00"+"RAND")
	var out bytes.Buffer
	p := NewPrinter(reg, &out, Plain)
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 || !strings.Contains(lines[2], "← v1 PSH") || !strings.Contains(lines[3], "RAND") {
		t.Errorf("not in history order:\n%s", out.String())
	}
}

// TestSummaryUnsent: bytes a failed write never sent are said apart, in
// both formats, and are not in the byte counts.
func TestSummaryUnsent(t *testing.T) {
	reg := live.New(live.Config{})
	s := reg.Open(live.SessionInfo{}, time.Now())
	s.Unsent(live.ClientToServer, time.Now(), 100, 12)
	sum := Summarize(reg.Snapshot(), 0)
	if sum.Unsent != [2]int64{12, 0} || sum.Counts.BytesDir(live.ClientToServer) != 0 {
		t.Fatalf("unsent %v, bytes %d: want [12 0], 0", sum.Unsent, sum.Counts.BytesDir(live.ClientToServer))
	}
	var plain strings.Builder
	WriteSummary(&plain, sum)
	if !strings.Contains(plain.String(), "never sent, the write failed: → 12") {
		t.Errorf("plain summary does not say so:\n%s", plain.String())
	}
	var j struct{ Unsent map[string]int64 }
	if err := json.Unmarshal(appendJSONSummary(nil, sum), &j); err != nil || j.Unsent["c2s"] != 12 {
		t.Errorf("JSON summary unsent %v (%v), want c2s 12", j.Unsent, err)
	}
	// The notice in the records says which bytes, for the session; a
	// notice about no session names none.
	text := live.UnsentText(live.ClientToServer, 100, 12)
	if want := "→ a write failed: the last 12 bytes recorded, from offset 100 on, never went out; the frames in them are taken back out of the counts"; text != want {
		t.Errorf("UnsentText = %q, want %q", text, want)
	}
	reg.Notice(time.Now(), "upstream refused")
	var out bytes.Buffer
	if err := NewPrinter(reg, &out, Plain).Flush(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), " #1 notice: "+text+"\n") {
		t.Errorf("plain records do not carry the session's notice %q:\n%s", text, out.String())
	}
	if lines := strings.Split(strings.TrimSpace(out.String()), "\n"); !strings.HasSuffix(lines[len(lines)-1], " notice: upstream refused") || strings.Contains(lines[len(lines)-1], "#") {
		t.Errorf("a notice about no session: %q, want 'TIME notice: upstream refused'", lines[len(lines)-1])
	}
	out.Reset()
	if err := NewPrinter(reg, &out, JSON).Flush(); err != nil {
		t.Fatal(err)
	}
	var notice struct {
		Type    string
		Session uint64
		Text    string
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-2]), &notice); err != nil || notice.Type != "notice" || notice.Session != 1 || notice.Text != text {
		t.Errorf("JSON notice %+v (%v), want session 1, %q:\n%s", notice, err, text, out.String())
	}
}

// Item 12: the summary, plain and JSON, gives the suspected leaks as they
// stood before the watched system stopped, with the oldest one's age, the
// stalls with their threshold, the violations and anomalies by code, and
// the watched system's status as fields. Nothing evaluates the findings
// here: the summary says the leaks were not diagnosed, and counts the old
// streams as what they are (TestSummaryLeaksAreLEAKs has the diagnosis).
func TestSummaryLeaksStallsCodesStatus(t *testing.T) {
	for _, f := range []Format{Plain, JSON} {
		reg := live.New(live.Config{})
		s := feed(t, reg, []byte("12345678")) // stream 3 stays half-closed: a suspected leak since t0
		s.Violation(live.ServerToClient, t0, &decoder.Violation{Code: decoder.BadVersion})
		late := decoder.Frame{Header: decoder.MakeHeader(1, decoder.PSH, 1, 99), Payload: []byte("x")}
		s.Record(live.ClientToServer, t0, &late) // UNKNOWN_STREAM
		var out bytes.Buffer
		status := live.Status{{Key: "rate", Label: "load", Value: 200, Unit: "/s"}, {Key: "ok", Label: "ok", Value: uint64(2000)},
			{Key: "p99_seconds", Label: "p99", Value: 1200 * time.Microsecond}, {Key: "last_error", Label: "last error:", Value: "502 Bad Gateway"}}
		_, err := Finish(&out, reg, Options{Format: f, LeakAfter: 30 * time.Second, StallAfter: 2 * time.Second,
			Stop:   func() { s.End(time.Now(), live.LocalClose, nil) }, // the leak ends with its session
			Status: func() live.Status { return status }})
		if err != nil {
			t.Fatal(err)
		}
		if f == Plain {
			for _, want := range []string{
				"  leaks     not diagnosed: no findings evaluation ran; 1 open longer than 30s when the capture ended; the oldest for ",
				"  stalls    0: no writer held at a full flow-control window for 2s",
				"  violations 1 framing, 1 anomalies: BAD_VERSION 1, UNKNOWN_STREAM 1\n",
				"  status    load 200/s  ok 2000  p99 1.2ms  last error: 502 Bad Gateway\n",
			} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("plain summary lacks %q:\n%s", want, out.String())
				}
			}
			continue
		}
		var j struct {
			Leaks struct {
				Count         int     `json:"count"`
				AfterSeconds  float64 `json:"after_seconds"`
				OldestSeconds float64 `json:"oldest_seconds"`
				Evaluated     bool    `json:"evaluated"`
				OpenLonger    int     `json:"open_longer"`
			} `json:"leaks"`
			Stalls struct {
				Count        int     `json:"count"`
				AfterSeconds float64 `json:"after_seconds"`
			} `json:"stalls"`
			ByCode map[string]uint64 `json:"by_code"`
			Status map[string]any    `json:"status"`
		}
		if err := json.Unmarshal(out.Bytes(), &j); err != nil {
			t.Fatalf("%v: %s", err, out.String())
		}
		if j.Leaks.Count != 0 || j.Leaks.Evaluated || j.Leaks.OpenLonger != 1 || j.Leaks.AfterSeconds != 30 || j.Leaks.OldestSeconds < 30 {
			t.Errorf("JSON leaks %+v, want none counted, not evaluated, 1 open longer than 30 s, the oldest older than that", j.Leaks)
		}
		if j.Stalls.Count != 0 || j.Stalls.AfterSeconds != 2 {
			t.Errorf("JSON stalls %+v, want 0 after 2 s", j.Stalls)
		}
		if j.ByCode["BAD_VERSION"] != 1 || j.ByCode["UNKNOWN_STREAM"] != 1 {
			t.Errorf("JSON by_code %v, want BAD_VERSION 1 and UNKNOWN_STREAM 1", j.ByCode)
		}
		if j.Status["rate"] != 200.0 || j.Status["ok"] != 2000.0 || j.Status["p99_seconds"] != 0.0012 || j.Status["last_error"] != "502 Bad Gateway" {
			t.Errorf("JSON status %v, want its fields", j.Status)
		}
	}
}

// TestSummaryLeaksAreLEAKs: the summary's suspected leaks are the open
// LEAK findings' count at the last evaluation, as the findings say, and
// it says so: one stream answered and never closed, not the two a
// backlog left unanswered beside it, which UNANSWERED explains; those
// count only among the streams open longer than the threshold in all.
// Opened as the backlog's session began, they are no setup streams
// held by design: each carried a request and got nothing back.
// Before, the summary said "3 suspected" beside the UNANSWERED finding.
func TestSummaryLeaksAreLEAKs(t *testing.T) {
	for _, f := range []Format{Plain, JSON} {
		end := t0.Add(time.Minute)
		reg := live.New(live.Config{Clock: func() time.Time { return end }})
		leaky := feed(t, reg, []byte("12345678")) // stream 3 half-closed by the client since t0: a real leak
		backlog := reg.Open(live.SessionInfo{Client: "127.0.0.1:51236", Server: "127.0.0.1:9000", Label: "test"}, t0)
		var off [2]int64
		rec := func(dir live.Dir, at time.Duration, cmd decoder.Cmd, sid uint32, payload string) {
			fr := decoder.Frame{Offset: off[dir], Header: decoder.MakeHeader(1, cmd, uint16(len(payload)), sid), Payload: []byte(payload)}
			off[dir] += decoder.HeaderSize + int64(len(payload))
			backlog.Record(dir, t0.Add(at), &fr)
		}
		// Streams 3 and 5 never accepted; 1, opened before them, served
		// and closed after they opened: the server is alive. (One opened
		// after them and served would show them accepted: smux accepts
		// in SYN order.)
		rec(live.ClientToServer, 0, decoder.SYN, 1, "")
		rec(live.ClientToServer, time.Microsecond, decoder.SYN, 3, "")
		rec(live.ClientToServer, 2*time.Microsecond, decoder.PSH, 3, "RAND")
		rec(live.ClientToServer, 3*time.Microsecond, decoder.SYN, 5, "")
		rec(live.ClientToServer, 4*time.Microsecond, decoder.PSH, 5, "RAND")
		rec(live.ServerToClient, 2*time.Millisecond, decoder.PSH, 1, "12345678")
		rec(live.ServerToClient, 3*time.Millisecond, decoder.FIN, 1, "")
		rec(live.ClientToServer, 4*time.Millisecond, decoder.FIN, 1, "")
		reg.Evaluate(end, live.FindingsConfig{LeakAfter: 30 * time.Second})
		codes := map[live.FindingCode]uint64{}
		for _, fd := range reg.Snapshot().Findings {
			codes[fd.Code] += fd.Evidence.Count
		}
		if codes[live.CodeLeak] != 1 || codes[live.CodeUnanswered] != 2 {
			t.Fatalf("findings %v, want LEAK of 1 stream and UNANSWERED of 2", codes)
		}
		var out bytes.Buffer
		_, err := Finish(&out, reg, Options{Format: f, LeakAfter: 30 * time.Second,
			Stop: func() { leaky.End(end, live.LocalClose, nil); backlog.End(end, live.LocalClose, nil) }})
		if err != nil {
			t.Fatal(err)
		}
		if f == Plain {
			want := "  leaks     1 suspected: the open LEAK findings' count at the last evaluation, streams open and idle longer than 30s that no other finding explains nor an smux v1 reader may still be reading; the oldest for 60 s (3 open longer than 30s in all); they ended with their sessions since, as muxtop stopped\n"
			if !strings.Contains(out.String(), want) {
				t.Errorf("plain summary lacks %q:\n%s", want, out.String())
			}
			continue
		}
		var j struct {
			Leaks map[string]any `json:"leaks"`
		}
		if err := json.Unmarshal(out.Bytes(), &j); err != nil {
			t.Fatalf("%v: %s", err, out.String())
		}
		if l := j.Leaks; l["count"] != 1.0 || l["evaluated"] != true || l["open_longer"] != 3.0 || l["setup"] != nil || l["oldest_seconds"] != 60.0 || l["after_seconds"] != 30.0 {
			t.Errorf("JSON leaks %v, want count 1, evaluated, 3 open longer than 30 s, none of them setup streams, the oldest 60 s", l)
		}
	}
}

// TestSummaryYamuxOnly: the plain summary of a capture that saw only
// yamux lists yamux's types and not smux's commands, whose zeros would
// read as no stream opened ("SYN 0"); one that saw both lists both. So
// does the JSON summary's frames, each way: before, a yamux-only run's
// listed "FIN":0,"PSH":0,… beside yamux's keys.
func TestSummaryYamuxOnly(t *testing.T) {
	var yam live.Counts
	yam.TypeFrames[live.ClientToServer][yamux.Data] = 3
	both := yam
	both.Frames[live.ServerToClient][decoder.PSH] = 2
	for _, tc := range []struct {
		name string
		c    live.Counts
		smux bool
	}{{"yamux", yam, false}, {"both", both, true}} {
		var out bytes.Buffer
		WriteSummary(&out, Summary{Counts: tc.c})
		if got := strings.Contains(out.String(), "\n            SYN "); got != tc.smux {
			t.Errorf("%s: smux's rows listed %v, want %v:\n%s", tc.name, got, tc.smux, out.String())
		}
		if !strings.Contains(out.String(), "\n            DATA ") {
			t.Errorf("%s: no DATA row:\n%s", tc.name, out.String())
		}
		var j struct {
			Frames map[string]map[string]uint64 `json:"frames"`
		}
		line := appendJSONSummary(nil, Summary{Counts: tc.c})
		if err := json.Unmarshal(line, &j); err != nil {
			t.Fatalf("%s: %v: %s", tc.name, err, line)
		}
		for _, d := range []string{"c2s", "s2c"} {
			m := j.Frames[d]
			for c := range decoder.NumCmds {
				if _, ok := m[decoder.Cmd(c).String()]; ok != tc.smux {
					t.Errorf("%s: JSON frames.%s lists smux's %s %v, want %v: %s", tc.name, d, decoder.Cmd(c), ok, tc.smux, line)
				}
			}
			for ty := range yamux.Type(yamux.NumTypes) {
				if _, ok := m[ty.String()]; !ok {
					t.Errorf("%s: JSON frames.%s lacks yamux's %s: %s", tc.name, d, ty, line)
				}
			}
		}
		if got, want := j.Frames["c2s"]["DATA"], uint64(3); got != want {
			t.Errorf("%s: JSON frames.c2s.DATA %d, want %d", tc.name, got, want)
		}
	}
	// Neither seen (no frame): smux's commands, at 0, as before.
	var j struct {
		Frames map[string]map[string]uint64 `json:"frames"`
	}
	if err := json.Unmarshal(appendJSONSummary(nil, Summary{}), &j); err != nil {
		t.Fatal(err)
	}
	if _, ok := j.Frames["c2s"]["SYN"]; !ok || len(j.Frames["c2s"]) != int(decoder.NumCmds) {
		t.Errorf("no frames: JSON frames.c2s %v, want smux's commands", j.Frames["c2s"])
	}
}

// TestSummarySetAside: a capture loss of one direction sets aside the
// streams whose FIN it may hold, and the summary counts them among those
// open longer than the threshold, saying so: stream 3, answered and live
// when the server's bytes were lost, is set aside (its FIN may be among
// them); stream 5, which the client closed before a loss of the client's
// bytes, is still the server's LEAK (the FIN missing is the server's).
// Before, a stream set aside was in no count: "(N open longer than 30s
// in all)" left it out.
func TestSummarySetAside(t *testing.T) {
	for _, f := range []Format{Plain, JSON} {
		end := t0.Add(time.Minute)
		reg := live.New(live.Config{Clock: func() time.Time { return end }})
		s := reg.Open(live.SessionInfo{Client: "127.0.0.1:51236", Server: "127.0.0.1:9000", Label: "read"}, t0)
		var off [2]int64
		rec := func(dir live.Dir, at time.Duration, cmd decoder.Cmd, sid uint32, payload string) {
			fr := decoder.Frame{Offset: off[dir], Header: decoder.MakeHeader(1, cmd, uint16(len(payload)), sid), Payload: []byte(payload)}
			off[dir] += decoder.HeaderSize + int64(len(payload))
			s.Record(dir, t0.Add(at), &fr)
		}
		lose := func(dir live.Dir, at time.Duration) {
			s.Resynced(dir, t0.Add(at), off[dir], 0, 8, "capture lost 8 bytes")
			off[dir] += 8
			s.Resynced(dir, t0.Add(at), off[dir], 0, 0, "resumed")
		}
		rec(live.ClientToServer, 0, decoder.SYN, 3, "")
		rec(live.ClientToServer, time.Microsecond, decoder.PSH, 3, "GET")
		rec(live.ServerToClient, time.Millisecond, decoder.PSH, 3, "OK")
		lose(live.ServerToClient, 2*time.Millisecond)
		rec(live.ClientToServer, 3*time.Millisecond, decoder.SYN, 5, "")
		rec(live.ClientToServer, 3*time.Millisecond, decoder.PSH, 5, "GET")
		rec(live.ServerToClient, 4*time.Millisecond, decoder.PSH, 5, "OK")
		rec(live.ClientToServer, 5*time.Millisecond, decoder.FIN, 5, "")
		lose(live.ClientToServer, 6*time.Millisecond)
		reg.Evaluate(end, live.FindingsConfig{LeakAfter: 30 * time.Second})
		var out bytes.Buffer
		if _, err := Finish(&out, reg, Options{Format: f, LeakAfter: 30 * time.Second,
			Stop: func() { s.End(end, live.LocalClose, nil) }}); err != nil {
			t.Fatal(err)
		}
		if f == Plain {
			want := "  leaks     1 suspected: the open LEAK findings' count at the last evaluation, streams open and idle longer than 30s that no other finding explains nor an smux v1 reader may still be reading; the oldest for 59 s (2 open longer than 30s in all, 1 of them set aside: the capture lost bytes they may have used); they ended with their sessions since, as muxtop stopped\n"
			if !strings.Contains(out.String(), want) {
				t.Errorf("plain summary lacks %q:\n%s", want, out.String())
			}
			continue
		}
		var j struct {
			Leaks map[string]any `json:"leaks"`
		}
		if err := json.Unmarshal(out.Bytes(), &j); err != nil {
			t.Fatalf("%v: %s", err, out.String())
		}
		if l := j.Leaks; l["count"] != 1.0 || l["open_longer"] != 2.0 || l["set_aside"] != 1.0 {
			t.Errorf("JSON leaks %v, want count 1, 2 open longer than 30 s, 1 of them set aside", l)
		}
	}
}

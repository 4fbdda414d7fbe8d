package headless

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/live"
)

// everyKind returns a registry whose history holds a record of every
// kind: sessions opened, half-closed and ended, frames, a violation, a
// resync, a notice, and a LEAK finding opened and resolved.
func everyKind(t *testing.T) *live.Registry {
	t.Helper()
	clock := t0
	reg := live.New(live.Config{Clock: func() time.Time { return clock }})
	// Session 1: a request half-closed by the client that the server never
	// closes, idle past --leak-after: a LEAK.
	s := reg.Open(live.SessionInfo{Client: "127.0.0.1:51234", Server: "127.0.0.1:9000", Label: "leak"}, t0)
	var off [2]int64
	rec := func(s *live.Session, dir live.Dir, at time.Duration, cmd decoder.Cmd, sid uint32, payload string) {
		fr := decoder.Frame{Offset: off[dir], Header: decoder.MakeHeader(1, cmd, uint16(len(payload)), sid), Payload: []byte(payload)}
		off[dir] += decoder.HeaderSize + int64(len(payload))
		s.Record(dir, t0.Add(at), &fr)
	}
	rec(s, live.ClientToServer, 0, decoder.SYN, 3, "")
	rec(s, live.ClientToServer, time.Millisecond, decoder.PSH, 3, "RAND")
	rec(s, live.ServerToClient, 2*time.Millisecond, decoder.PSH, 3, "12345678")
	rec(s, live.ClientToServer, 3*time.Millisecond, decoder.FIN, 3, "")
	reg.Notice(t0.Add(time.Second), "attach: upstream 127.0.0.1:9000 refused a connection")
	// Session 2: a frame, then a header smux refuses, a resync of the
	// other direction, and the server closing its side.
	s2 := reg.Open(live.SessionInfo{Client: "127.0.0.1:51236", Server: "127.0.0.1:9000", Label: "bad"}, t0.Add(2*time.Second))
	off = [2]int64{}
	rec(s2, live.ClientToServer, 2*time.Second, decoder.SYN, 3, "")
	dec := decoder.New(256)
	dec.Next([]byte("\x01\x00\x00\x00\x03\x00\x00\x00")) // the SYN above
	var v *decoder.Violation
	if _, _, err := dec.Next([]byte("\x09\x02\x04\x00\x03\x00\x00\x00RAND")); err == nil {
		t.Fatal("version 9 framed")
	} else if !asViolation(err, &v) {
		t.Fatalf("version 9: %v, want a *decoder.Violation", err)
	}
	s2.Violation(live.ClientToServer, t0.Add(2*time.Second+time.Millisecond), v)
	s2.Resynced(live.ServerToClient, t0.Add(3*time.Second), 0, 7, 0, "the capture began inside the connection: 7 bytes skipped")
	s2.DirectionEnded(live.ServerToClient, t0.Add(4*time.Second))
	s2.HalfClosed(live.ServerToClient, t0.Add(4*time.Second), "server 127.0.0.1:9000")
	clock = t0.Add(34 * time.Second)
	cfg := live.FindingsConfig{LeakAfter: 30 * time.Second, Churn: -1, BlockedAfter: time.Hour}
	reg.Evaluate(clock, cfg)
	clock = t0.Add(35 * time.Second)
	s.End(clock, live.EOF, nil)
	reg.Evaluate(clock.Add(time.Second), cfg)
	return reg
}

func asViolation(err error, v **decoder.Violation) bool {
	var ok bool
	*v, ok = err.(*decoder.Violation)
	return ok
}

// printed returns what a printer of reg prints in f with only, and the
// printer: its records, without the summary.
func printed(t *testing.T, reg *live.Registry, f Format, only Kinds) ([]string, *Printer) {
	t.Helper()
	var out bytes.Buffer
	p := NewPrinter(reg, &out, f)
	p.only = only
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
	if out.Len() == 0 {
		return nil, p
	}
	return strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n"), p
}

// TestOnlyPrintsTheKindsAsTheyAre: with --only, plain and JSON print the
// records of the kinds asked for, each line byte for byte what the
// unfiltered output has for it (the formatter is a function of the record
// alone), in the same order, and nothing else; no record passed over
// counts as missed.
func TestOnlyPrintsTheKindsAsTheyAre(t *testing.T) {
	reg := everyKind(t)
	all, _ := printed(t, reg, JSON, 0)
	allPlain, _ := printed(t, reg, Plain, 0)
	if len(all) != len(allPlain) {
		t.Fatalf("%d JSON lines, %d plain: want one each per record", len(all), len(allPlain))
	}
	types := make([]string, len(all))
	seen := map[string]bool{}
	for i, l := range all {
		var m struct{ Type string }
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%s: %v", l, err)
		}
		types[i], seen[m.Type] = m.Type, true
	}
	for _, want := range []string{"frame", "session-opened", "session-half-closed", "session-ended", "violation", "resync", "notice", "finding-opened", "finding-resolved"} {
		if !seen[want] {
			t.Fatalf("the fixture has no %s record: %v", want, types)
		}
	}
	of := map[string]Kinds{"frame": KindFrames, "session-opened": KindSessions, "session-half-closed": KindSessions,
		"session-ended": KindSessions, "violation": KindViolations, "resync": KindResyncs, "notice": KindNotices,
		"finding-opened": KindFindings, "finding-updated": KindFindings, "finding-resolved": KindFindings}
	for _, list := range []string{"findings", "findings,notices,sessions", "frames", "violations,resyncs", "notices", "sessions,frames,violations,resyncs,notices,findings"} {
		only, err := ParseKinds(list)
		if err != nil {
			t.Fatal(err)
		}
		var want, wantPlain []string
		for i, typ := range types {
			if only == 0 || only&of[typ] != 0 { // every kind is the zero set
				want, wantPlain = append(want, all[i]), append(wantPlain, allPlain[i])
			}
		}
		for _, f := range []Format{JSON, Plain} {
			got, p := printed(t, reg, f, only)
			w := want
			if f == Plain {
				w = wantPlain
			}
			if !slices.Equal(got, w) {
				t.Errorf("--only %s -o %s:\n got %q\nwant %q", list, f, got, w)
			}
			if p.Missed() != 0 {
				t.Errorf("--only %s -o %s: %d records missed, want 0: a record passed over is not lost", list, f, p.Missed())
			}
		}
	}
}

// TestOnlyKeepsSummaryAndMissed: whatever --only holds, the summary is
// printed, and a gap where the output lost records is a missed record,
// counted as without --only: the history cannot tell an evicted record's
// kind, so the gap counts records of every kind, and its record says so
// ("kinds":"any"; plain: "of any kind, perhaps none of those --only
// findings prints"), where a record passed over is never missed.
func TestOnlyKeepsSummaryAndMissed(t *testing.T) {
	for _, f := range []Format{JSON, Plain} {
		reg := live.New(live.Config{History: live.Exactly(100)})
		feed := newRandFeeder(reg)
		var out bytes.Buffer
		p := NewPrinter(reg, &out, f)
		p.only = KindFindings
		p.missedTo = new(atomic.Uint64)
		for range 50 {
			feed.next()
		}
		if err := p.Flush(); err != nil {
			t.Fatal(err)
		}
		if out.Len() != 0 {
			t.Fatalf("-o %s --only findings printed frames: %q", f, out.String())
		}
		last := reg.History().Next - 1
		for range 500 {
			feed.next()
		}
		if _, err := p.Finish(Options{Format: f}); err != nil {
			t.Fatal(err)
		}
		want := reg.History().Next - 100 - last - 1 // evicted unprinted
		lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		if f == JSON {
			var m struct {
				Type          string
				Kinds         string
				Seq, Count    uint64
				Missed        uint64
				StreamsOpened uint64 `json:"streams_opened"`
			}
			if err := json.Unmarshal([]byte(lines[0]), &m); err != nil || m.Type != "missed" || m.Seq != last+1 || m.Count != want || m.Kinds != "any" {
				t.Errorf("first line %s (%v), want a missed record of seq %d, count %d, kinds any", lines[0], err, last+1, want)
			}
			if len(lines) != 2 {
				t.Fatalf("want the missed record and the summary, got %d lines:\n%s", len(lines), out.String())
			}
			if err := json.Unmarshal([]byte(lines[1]), &m); err != nil || m.Type != "summary" || m.Missed != want || m.StreamsOpened == 0 {
				t.Errorf("last line %s (%v), want the summary, missed %d, its streams counted", lines[1], err, want)
			}
		} else {
			if !strings.Contains(lines[0], " MISSED ") || !strings.HasSuffix(lines[0], "; of any kind, perhaps none of those --only findings prints") {
				t.Errorf("first line %q, want the MISSED line, its records of any kind", lines[0])
			}
			if !strings.HasPrefix(lines[1], "muxtop summary: ") {
				t.Errorf("second line %q, want the summary", lines[1])
			}
		}
		if p.Missed() != want || p.missedTo.Load() != want {
			t.Errorf("-o %s: Missed %d, Options.Missed %d, want %d", f, p.Missed(), p.missedTo.Load(), want)
		}
	}
}

// TestOnlyPassedOverTakenWhole: records passed over count as written once
// what came before them is (so that a stalled stdout's UnwrittenError
// counts from the first record not taken), and a run that prints nothing
// keeps no line end per record passed over.
func TestOnlyPassedOverTakenWhole(t *testing.T) {
	reg := live.New(live.Config{History: live.Exactly(100_000)})
	feed := newRandFeeder(reg)
	for range 10_000 {
		feed.next()
	}
	reg.Notice(t0, "one line")
	for range 10_000 {
		feed.next()
	}
	var out bytes.Buffer
	p := NewPrinter(reg, &out, Plain)
	p.only = KindNotices
	for range 3 { // the notice buffered, then taken whole at the flush
		if err := p.Flush(); err != nil {
			t.Fatal(err)
		}
		for range 10_000 {
			feed.next()
		}
	}
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "\n"); n != 1 || !strings.Contains(out.String(), "notice: one line") {
		t.Fatalf("printed %q, want the notice alone", out.String())
	}
	if last, whole := reg.History().Next-1, p.out.whole.Load(); whole != last {
		t.Errorf("written whole up to seq %d, want the last, %d: the records passed over after the notice are no more to write", whole, last)
	}
	if n := len(p.out.ends) - p.out.head; n != 0 || cap(p.out.ends) > 64 {
		t.Errorf("%d line ends pending (capacity %d) after all was taken, want none and a few at most", n, cap(p.out.ends))
	}
}

// TestParseKinds: --only's names, and one line listing them for a name
// that is none, or an empty one; every kind is the zero set, as no --only
// (which words nothing of --only where the output stalls).
func TestParseKinds(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Kinds
	}{
		{"findings", KindFindings},
		{"findings,notices,sessions", KindFindings | KindNotices | KindSessions},
		{" frames , violations", KindFrames | KindViolations},
		{"findings,findings", KindFindings},
		{"findings,notices,sessions,frames,violations,resyncs", 0},
	} {
		k, err := ParseKinds(tc.in)
		if err != nil || k != tc.want {
			t.Errorf("ParseKinds(%q) = %v, %v; want %v", tc.in, k, err, tc.want)
		}
		if tc.want == 0 {
			continue
		}
		if back, err := ParseKinds(k.String()); err != nil || back != k {
			t.Errorf("ParseKinds(%q) = %v, %v; want %v back", k.String(), back, err, k)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"finding", `"finding" is not a kind of record: use frames, sessions, violations, resyncs, notices or findings, joined by commas`},
		{"findings,", `"findings," has an empty name (a stray comma): use frames, sessions, violations, resyncs, notices or findings, joined by commas`},
		{"findings,,notices", `"findings,,notices" has an empty name (a stray comma): use frames, sessions, violations, resyncs, notices or findings, joined by commas`},
		{" ", `" ": give one or more of frames, sessions, violations, resyncs, notices or findings, joined by commas`},
		{"", `"": give one or more of frames, sessions, violations, resyncs, notices or findings, joined by commas`},
	} {
		if _, err := ParseKinds(tc.in); err == nil || err.Error() != tc.want {
			t.Errorf("ParseKinds(%q): %v, want %s", tc.in, err, tc.want)
		}
	}
}

// TestEveryRecordKindHasAKind: each kind of history record is in one of
// --only's kinds, so that a new kind of record cannot go unprinted under
// every --only.
func TestEveryRecordKindHasAKind(t *testing.T) {
	for k := live.Kind(0); k.String() != "unknown"; k++ {
		if kindOf(k) == 0 {
			t.Errorf("record kind %s is in no --only kind", k)
		}
	}
}

// TestUnwrittenWithOnly: where --only leaves kinds out, the records not
// written since the first stdout did not take are said as those of them
// it prints: some are of kinds it would not have printed.
func TestUnwrittenWithOnly(t *testing.T) {
	for _, tc := range []struct {
		e    UnwrittenError
		want string
	}{
		{UnwrittenError{Records: 41079, Grace: 2 * time.Second}, "stdout took nothing for 2s after the stop: 41079 records not written, nor the summary"},
		{UnwrittenError{Records: 41079, Grace: 2 * time.Second, Only: KindFindings | KindNotices},
			"stdout took nothing for 2s after the stop: of the 41079 records since the first not taken, those --only notices,findings prints not written, nor the summary"},
		{UnwrittenError{Records: 7, Only: KindFindings}, "a second signal cut the output short: of the 7 records since the first not taken, those --only findings prints not written, nor the summary"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
	}
}

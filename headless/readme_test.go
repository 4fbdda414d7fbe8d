package headless

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/live"
)

// ndjsonSchema is the README's NDJSON table: the text of each type's row,
// by type, and the paragraph before it, which names the keys every
// record has.
type ndjsonSchema struct {
	intro string
	rows  map[string]string
}

var schemaRow = regexp.MustCompile("^\\| `([a-z-]+)` \\| (.*) \\|$")

// readNDJSONSchema parses the README's table "By type:".
func readNDJSONSchema(t *testing.T, path string) ndjsonSchema {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	start := strings.Index(readme, "`--output json` prints one JSON object per line (NDJSON).")
	table := strings.Index(readme[max(start, 0):], "| type | fields |")
	if start < 0 || table < 0 {
		t.Fatal("the README has no NDJSON table")
	}
	s := ndjsonSchema{intro: readme[start : start+table], rows: map[string]string{}}
	for l := range strings.Lines(readme[start+table:]) {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "|") {
			break
		}
		if m := schemaRow.FindStringSubmatch(l); m != nil {
			s.rows[m[1]] = m[2]
		}
	}
	return s
}

// documents reports whether text names key, as `key` or inside a JSON
// example ("key").
func documents(text, key string) bool {
	return strings.Contains(text, "`"+key+"`") || strings.Contains(text, `"`+key+`"`)
}

// topLevel returns the `names` of row outside any parentheses: the keys
// of the record itself, where those in parentheses describe a key's
// value (an object's keys, a status's).
func topLevel(row string) map[string]bool {
	names := map[string]bool{}
	depth, tick := 0, -1
	for i, c := range row {
		switch {
		case c == '`' && tick < 0:
			tick = i + 1
		case c == '`':
			if depth == 0 {
				names[row[tick:i]] = true
			}
			tick = -1
		case tick >= 0:
		case c == '(':
			depth++
		case c == ')':
			depth--
		}
	}
	return names
}

// dataKeyed are the objects whose keys are values, not names: directions,
// commands, codes and severities, which the README gives as examples.
var dataKeyed = map[string]bool{"frames": true, "bytes": true, "unparsed": true, "unsent": true, "lost": true,
	"skipped": true, "by_code": true, "findings_open": true, "versions": true}

// undocumented returns the keys of m, at any depth, that the README's row
// for m's type does not name: m's own keys outside parentheses, the keys
// of its values anywhere in the row. Every record has type, seq and time,
// as the paragraph before the table says; finding-resolved and
// finding-updated have "the same" as finding-opened. Keys of a dataKeyed object, and of skip, are not
// looked at.
func (s ndjsonSchema) undocumented(m map[string]any, skip string) []string {
	typ, _ := m["type"].(string)
	row, ok := s.rows[typ]
	if !ok {
		return []string{"type " + typ}
	}
	if typ == "finding-resolved" || typ == "finding-updated" {
		row += s.rows["finding-opened"]
	}
	top := topLevel(row)
	var missing []string
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case []any:
			for _, e := range v {
				walk(path, e)
			}
		case map[string]any:
			for k, e := range v {
				common := path == "" && (k == "type" || k == "seq" || k == "time")
				switch {
				case common && !documents(s.intro, k):
					missing = append(missing, k+" (in the paragraph before the table)")
				case !common && path == "" && !top[k]:
					missing = append(missing, k+" (outside parentheses, as a key of the record)")
				case !common && !documents(row, k):
					missing = append(missing, path+k)
				}
				if _, obj := e.(map[string]any); (obj && dataKeyed[k]) || k == skip {
					continue
				}
				walk(path+k+".", e)
			}
		}
	}
	walk("", m)
	slices.Sort(missing)
	return missing
}

// schemaRecords are records of every kind with every field that applies
// set, for smux and yamux: with jsonRecords, every key appendJSON writes.
func schemaRecords() []live.Record {
	at := time.Date(2026, 11, 27, 12, 1, 3, 0, time.UTC)
	recs := []live.Record{
		{Kind: live.FrameRecord, Session: 1, Proto: live.Smux, Dir: live.ServerToClient, Offset: 8, Truncated: true, Lost: 100,
			Header: decoder.MakeHeader(1, decoder.PSH, 300, 3), Payload: []byte("RAND"), Anomaly: live.PSHAfterFIN},
		{Kind: live.FrameRecord, Session: 1, Proto: live.Smux, Offset: 8, Consumed: 8, Window: 1 << 18,
			Header: decoder.MakeHeader(2, decoder.UPD, 8, 3), Anomaly: live.UnknownStream},
		{Kind: live.FrameRecord, Session: 2, Proto: live.Yamux, Offset: 12, Truncated: true, Lost: 100, Payload: []byte("RAND"),
			YamuxHeader: yamux.MakeHeader(yamux.Data, yamux.SYN|yamux.ACK|yamux.FIN|yamux.RST, 3, 300), Anomaly: live.PSHAfterFIN},
		{Kind: live.SessionOpened, Session: 1, Proto: live.Smux, Client: "a:1", Server: "b:2", Label: "attach"},
		{Kind: live.SessionEnded, Session: 1, Proto: live.Smux, Reason: live.LocalClose, Detail: "read: reset"},
		{Kind: live.SessionHalfClosed, Session: 2, Proto: live.Yamux, Dir: live.ServerToClient, Detail: live.HalfClosedText("server 127.0.0.1:7800", live.ServerToClient, "")},
		{Kind: live.FramingViolation, Session: 1, Proto: live.Smux, Offset: 16, Code: decoder.VersionMismatch, Want: 2, Detail: "v1"},
		{Kind: live.FramingViolation, Session: 2, Proto: live.Yamux, Offset: 16, YamuxCode: yamux.UnknownType, Detail: "type 9"},
		{Kind: live.NoticeRecord, Session: 1, Detail: "a write failed"},
		{Kind: live.ResyncRecord, Session: 1, Dir: live.ServerToClient, Offset: 4096, Detail: "capture lost 12 bytes at offset 4084"},
	}
	// A finding resolved as muxtop stopped watching its session.
	unwatched := &live.Finding{ID: 9, Code: live.CodeLeak, Severity: live.Warning, Session: 1, Since: at, Opened: at,
		Resolved: at, Why: "muxtop stopped watching (shutdown): still holding then", Unwatched: true, Evidence: live.Evidence{Count: 1}}
	recs = append(recs, live.Record{Kind: live.FindingResolved, Session: 1, Finding: unwatched, Detail: unwatched.Why})
	// A PROTOCOL finding that became a warning as the other end answered.
	warned := &live.Finding{ID: 10, Code: live.CodeProtocol, Severity: live.Warning, Session: 1, Since: at, Opened: at}
	recs = append(recs, live.Record{Kind: live.FindingUpdated, Session: 1, Finding: warned, Was: live.Critical})
	for i := range recs {
		recs[i].Seq, recs[i].At = uint64(i+1), at
	}
	return append(recs, jsonRecords()...)
}

// schemaSummary is a summary with every field that can be absent present.
func schemaSummary() Summary {
	at := time.Date(2026, 11, 27, 12, 1, 3, 0, time.UTC)
	s := Summary{Duration: time.Minute, Sessions: 3, LiveSessions: 1, HalfClosed: 1, Unparsed: [2]int64{1, 2}, Unsent: [2]int64{3, 0},
		Incomplete: 1, Lost: [2]int64{12, 0}, Skipped: [2]int64{7, 0}, Unitemised: 2, Evaluated: true, Aged: 4, Setup: 3,
		ByCode: map[string]uint64{"BAD_VERSION": 1}, FindingsOpened: 2,
		Latency:        live.Latency{N: 3, P50: time.Millisecond, P99: 2 * time.Millisecond},
		SessionLatency: []SessionLatency{{Session: 1, Latency: live.Latency{N: 3, P50: time.Millisecond, P99: 2 * time.Millisecond}}},
		Status:         live.Status{{Key: "rate", Value: 100}},
		Upstream:       live.Upstream{Addr: "127.0.0.1:9000", Dials: 3, Failed: 3, Refused: 2, TimedOut: 1, Last: "connection refused"},
	}
	s.Counts.TypeFrames[0][yamux.Data] = 1
	s.Counts.Frames[0][decoder.SYN] = 1
	for _, f := range testFindings("text") {
		f.Resolved, f.Why = at, "it ended"
		s.Findings = append(s.Findings, f)
	}
	s.Findings[0].Unwatched = true // resolved as muxtop stopped watching
	for _, f := range s.Findings {
		if f.Code == live.CodeLeak {
			// Its oldest stream's first bytes: "first" and "first_text".
			f.Heads = [][2]live.FirstBytes{{firstBytes("GET /bad", true, true), firstBytes("ERR", false, false)}}
			f.StreamIDs, f.Evidence.Pool = []uint32{f.Stream}, live.PoolHTTP1 // "pool"
		}
	}
	return s
}

// TestNDJSONKeysInREADME: every key the JSON output can write — of every
// record type, each with every field that applies, and of the summary
// with every optional field present — is in the README's NDJSON table,
// in its type's row. (The keys of the summary's status, which the
// watched system gives, are checked against it in package main.)
func TestNDJSONKeysInREADME(t *testing.T) {
	schema := readNDJSONSchema(t, "../README.md")
	kinds := map[string]bool{}
	missing := map[string]bool{}
	for _, r := range schemaRecords() {
		var m map[string]any
		line := appendJSON(nil, &r)
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		kinds[m["type"].(string)] = true
		for _, k := range schema.undocumented(m, "") {
			missing[m["type"].(string)+": "+k] = true
		}
	}
	// The printer's own record of a gap, which history does not hold.
	var mm map[string]any
	if err := json.Unmarshal(appendMissedJSON(nil, 583, 37555, t0, 0), &mm); err != nil {
		t.Fatal(err)
	}
	for _, k := range schema.undocumented(mm, "") {
		missing["missed: "+k] = true
	}
	for k := live.Kind(0); k.String() != "unknown"; k++ {
		if !kinds[k.String()] {
			t.Errorf("no record of kind %s was checked", k)
		}
	}
	var m map[string]any
	if err := json.Unmarshal(appendJSONSummary(nil, schemaSummary()), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"unsent", "incomplete", "lost", "skipped", "unitemised", "latency", "status", "upstream"} {
		if _, ok := m[k]; !ok {
			t.Errorf("the summary checked lacks %s", k)
		}
	}
	if !strings.Contains(string(appendJSONSummary(nil, schemaSummary())), `"first_text":{"c2s":"GET /bad","s2c":"ERR"}`) {
		t.Error("the summary checked lacks a LEAK's first_text")
	}
	for _, k := range schema.undocumented(m, "status") {
		missing["summary: "+k] = true
	}
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range missing {
			if !yield(k) {
				return
			}
		}
	}) {
		t.Errorf("the README's NDJSON table does not name %s", k)
	}
}

// TestViolationCodesInREADME: the README's violation row names every
// code a violation record can carry, smux's and yamux's. Before, it gave
// smux's six framing checks and left out the two more the decoder writes:
// "the README's violation row does not name smux's VERSION_MISMATCH"
// (demo --fault mismatch) and TRUNCATED.
func TestViolationCodesInREADME(t *testing.T) {
	_, yamuxPart, _ := strings.Cut(readNDJSONSchema(t, "../README.md").rows["violation"], "yamux")
	smuxPart := strings.TrimSuffix(readNDJSONSchema(t, "../README.md").rows["violation"], yamuxPart)
	for c := decoder.Code(1); c < decoder.NumCodes; c++ {
		if !strings.Contains(smuxPart, "`"+c.String()+"`") {
			t.Errorf("the README's violation row does not name smux's %s", c)
		}
	}
	for c := yamux.Code(1); c < yamux.NumCodes; c++ {
		if !strings.Contains(yamuxPart, "`"+c.String()+"`") {
			t.Errorf("the README's violation row does not name yamux's %s", c)
		}
	}
}

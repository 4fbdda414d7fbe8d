package headless

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/live"
)

// endedAndUnwatched returns a registry of two sessions, each with a
// PROTOCOL finding (an HTTP request where a mux header should be): the
// first's session ended on its own (EOF) before the stop, the second's
// was still watched when muxtop stopped (Shutdown), so its finding
// resolves Unwatched.
func endedAndUnwatched() *live.Registry {
	reg := live.New(live.Config{})
	at := time.Date(2026, 11, 27, 12, 1, 3, 0, time.UTC)
	var ss []*live.Session
	for i := range 2 {
		s := reg.Open(live.SessionInfo{Client: fmt.Sprint("a:", i), Server: "b:2", Tap: live.Server}, at)
		var h decoder.Header
		copy(h[:], "GET / HT")
		s.Violation(live.ClientToServer, at, &decoder.Violation{Code: decoder.BadVersion, Header: h})
		ss = append(ss, s)
	}
	reg.Evaluate(at.Add(10*time.Millisecond), live.FindingsConfig{Churn: -1})
	ss[0].End(at.Add(15*time.Millisecond), live.EOF, nil)
	ss[1].End(at.Add(30*time.Millisecond), live.Shutdown, nil)
	reg.ResolveEnded(at.Add(50*time.Millisecond), at.Add(20*time.Millisecond))
	return reg
}

// TestPlainStillOpenAtStop: a finding resolved only because muxtop
// stopped watching its session (Unwatched) still held: its plain line
// says STILL-OPEN, and a grep for RESOLVED at 2 a.m. does not read it as
// fixed. One whose session ended on its own says RESOLVED. Before, both
// said RESOLVED ("#2 RESOLVED 2 PROTOCOL after 0.04 s: muxtop stopped
// watching (shutdown): still holding then"). JSON keeps finding-resolved
// with "unwatched":true.
func TestPlainStillOpenAtStop(t *testing.T) {
	reg := endedAndUnwatched()
	var lines []string
	for _, r := range allRecordsOf(reg) {
		if r.Kind == live.FindingResolved {
			plain := string(appendPlain(nil, &r))
			lines = append(lines, plain[strings.Index(plain, " #")+1:])
			if js := string(appendJSON(nil, &r)); !strings.Contains(js, `"type":"finding-resolved"`) || strings.Contains(js, `"unwatched":true`) != r.Finding.Unwatched {
				t.Errorf("JSON %s: want finding-resolved, unwatched %v", js, r.Finding.Unwatched)
			}
		}
	}
	want := []string{
		"#1 RESOLVED 1 PROTOCOL after 0.04 s: the session ended (EOF)",
		"#2 STILL-OPEN 2 PROTOCOL after 0.04 s: muxtop stopped watching (shutdown): still holding then",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("plain lines\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// allRecordsOf returns every record reg's history holds, oldest first.
func allRecordsOf(reg *live.Registry) []live.Record {
	recs, _ := reg.Frames(live.Query{}, nil)
	return recs
}

package headless

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/live"
)

// TestLeakFirstBytesJoined: a LEAK whose oldest stream a capture joined
// mid-stream says so: its JSON "first" has "joined":true, and the plain
// line "(joined mid-stream)" with a … before each direction's bytes, which
// are the first the capture saw, not the stream's first. Before, both
// presented the fragment as the request that leaks.
func TestLeakFirstBytesJoined(t *testing.T) {
	at := time.Date(2026, 11, 27, 12, 1, 4, 0, time.UTC)
	var h [2]live.FirstBytes
	h[0].N = uint8(copy(h[0].Data[:], "ad HTTP/1.1"))
	h[0].Joined, h[1].Joined = true, true
	f := &live.Finding{ID: 7, Code: live.CodeLeak, Severity: live.Warning, Session: 3, Stream: 5, Dir: live.ServerToClient, HasDir: true,
		Since: at.Add(-43 * time.Second), Opened: at, Evidence: live.Evidence{Count: 1, Age: 43 * time.Second, Limit: 30 * time.Second},
		Text: "the server never closes its streams", Advice: "call Close()", StreamIDs: []uint32{5}, Heads: [][2]live.FirstBytes{h}}
	r := live.Record{Kind: live.FindingOpened, Seq: 12, Session: 3, At: at, Finding: f}
	line := appendJSON(nil, &r)
	var j struct {
		First map[string]any `json:"first"`
	}
	if err := json.Unmarshal(line, &j); err != nil {
		t.Fatalf("%v: %s", err, line)
	}
	if j.First["joined"] != true {
		t.Errorf("first = %v, want joined", j.First)
	}
	if got, want := string(line), string(appendJSONMarshal(nil, &r)); got != want {
		t.Errorf("JSON\n got %s\nwant %s", got, want)
	}
	if plain, want := string(appendPlain(nil, &r)), ` · stream 5 (joined mid-stream): …"ad HTTP/1.1" → …`; !strings.Contains(plain, want) {
		t.Errorf("plain %q lacks %q", plain, want)
	}
}

// TestSummaryFirstJoined: the JSON summary's LEAK says "joined" in its
// "first", as its records do. Before, it read
// "first":{"c2s":"61 64 20 48 54 54 50 2f 31 2e 31","s2c":""}: the
// fragment presented as the request that leaks.
func TestSummaryFirstJoined(t *testing.T) {
	at := time.Date(2026, 11, 27, 12, 1, 4, 0, time.UTC)
	var h [2]live.FirstBytes
	h[0].N = uint8(copy(h[0].Data[:], "ad HTTP/1.1"))
	h[0].Joined, h[1].Joined = true, true
	f := &live.Finding{ID: 7, Code: live.CodeLeak, Severity: live.Warning, Session: 3, Stream: 5, Dir: live.ServerToClient, HasDir: true,
		Since: at.Add(-43 * time.Second), Opened: at, Evidence: live.Evidence{Count: 1, Age: 43 * time.Second, Limit: 30 * time.Second},
		Text: "the server never closes its streams", Advice: "call Close()", StreamIDs: []uint32{5}, Heads: [][2]live.FirstBytes{h}}
	var out bytes.Buffer
	writeSummary(&out, JSON, Summary{FindingsOpened: 1, Findings: []*live.Finding{f}})
	var j struct {
		Findings []struct {
			First     map[string]any `json:"first"`
			FirstText map[string]any `json:"first_text"`
		} `json:"findings"`
	}
	if err := json.Unmarshal(out.Bytes(), &j); err != nil {
		t.Fatalf("%v: %s", err, out.Bytes())
	}
	if len(j.Findings) != 1 || j.Findings[0].First["joined"] != true {
		t.Errorf("summary findings %v, want the LEAK's first joined", j.Findings)
	}
	// Its text too, as its records have it.
	if len(j.Findings) == 1 && (j.Findings[0].FirstText["c2s"] != "ad HTTP/1.1" || j.Findings[0].FirstText["s2c"] != "") {
		t.Errorf("summary first_text %v, want c2s %q, s2c \"\"", j.Findings[0].FirstText, "ad HTTP/1.1")
	}
}

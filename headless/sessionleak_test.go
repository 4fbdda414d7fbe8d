package headless

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/live"
)

// TestSessionLeakRecord: a SESSION_LEAK the engine opened, from twelve
// sessions of one host with no stream, opened 10 s apart, is one line in
// either format: in JSON no session, its group (client_host, server),
// piled, count (idle sessions), idle (the oldest's) and limit (the
// hold); in plain no "#0".
func TestSessionLeakRecord(t *testing.T) {
	reg := live.New(live.Config{})
	base := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for i := range 12 {
		reg.Open(live.SessionInfo{Client: "10.0.0.7:" + strconv.Itoa(40000+i), Server: "10.0.0.1:9000"}, base.Add(time.Duration(i)*10*time.Second))
	}
	at := base.Add(2 * time.Minute)
	reg.Evaluate(at, live.FindingsConfig{})
	at = at.Add(time.Minute) // the hold, 60 s
	reg.Evaluate(at, live.FindingsConfig{})
	var open *live.Record
	recs, _ := reg.Frames(live.Query{}, nil)
	for i := range recs {
		if recs[i].Kind == live.FindingOpened && recs[i].Finding.Code == live.CodeSessionLeak {
			open = &recs[i]
		}
	}
	if open == nil {
		t.Fatalf("no SESSION_LEAK opened: %d records", len(recs))
	}
	var j map[string]any
	if err := json.Unmarshal(appendJSON(nil, open), &j); err != nil {
		t.Fatal(err)
	}
	_, hasSession := j["session"]
	// Sessions 2 to 12 opened 10 s or more after the first went quiet;
	// all 12 are idle, the first for 3 min.
	if hasSession || j["code"] != "SESSION_LEAK" || j["severity"] != "warning" || j["client_host"] != "10.0.0.7" || j["server"] != "10.0.0.1:9000" ||
		j["piled"] != 11.0 || j["piled_sessions"] != 11.0 || j["count"] != 12.0 || j["idle"] != 180.0 || j["limit"] != 60.0 {
		t.Errorf("JSON: %v", j)
	}
	want := "12 sessions idle from 10.0.0.7 to 10.0.0.1:9000, the oldest for 180 s; 11 of them piled up: dialed one by one while an older one sat idle, none in the place of one that ended, none opening a stream past its first idle time: a client dials new sessions and leaves the old ones open"
	if j["text"] != want {
		t.Errorf("text\n got %q\nwant %q", j["text"], want)
	}
	plain := string(appendPlain(nil, open))
	if !strings.HasPrefix(plain, "12:03:00.000000 FINDING 1 SESSION_LEAK warning: 12 sessions idle from 10.0.0.7") || !strings.Contains(plain, " — a client calls smux.Client per request") {
		t.Errorf("plain %q", plain)
	}
}

package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/muxtop/muxtop/internal/smuxtest"
)

// TestAttachEndConcludes: a live run's end agrees with itself. A yamux
// client leaks a stream through attach; its LEAK opens; then the run ends
// (as --duration, q or SIGTERM end it), which ends the session. The LEAK
// resolves, said the session ended, before the summary, and the summary
// has no finding open with every session ended, as at the end of read;
// its leaks still count the stream, as of the evaluation before the end.
func TestAttachEndConcludes(t *testing.T) {
	upstream, _ := yamuxEchoServer(t)
	a := runAttach(t, upstream, "--leak-after", "1s")
	_, st := yamuxStream(t, a.addr)
	if _, err := st.Write([]byte("leak")); err != nil { // and never closed
		t.Fatal(err)
	}
	smuxtest.Eventually(t, "the LEAK finding", func() bool {
		return strings.Contains(a.stdout.String(), `"type":"finding-opened"`) && strings.Contains(a.stdout.String(), `"code":"LEAK"`)
	})
	a.stop(t)
	lines := strings.Split(strings.TrimSpace(a.stdout.String()), "\n")
	var resolved []map[string]any
	var summary map[string]any
	for i, line := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		switch m["type"] {
		case "finding-resolved":
			resolved = append(resolved, m)
		case "summary":
			if i != len(lines)-1 {
				t.Errorf("summary not last")
			}
			summary = m
		}
	}
	if len(resolved) != 1 || resolved[0]["code"] != "LEAK" || !strings.HasPrefix(resolved[0]["detail"].(string), "the session ended") {
		t.Errorf("finding-resolved at the end: %v, want the LEAK, resolved as the session ended", resolved)
	}
	open, _ := json.Marshal(summary["findings_open"])
	if summary["live_sessions"] != 0.0 || string(open) != `{"critical":0,"warning":0}` {
		t.Errorf("summary: live_sessions %v, findings_open %s; want 0 and none open", summary["live_sessions"], open)
	}
	if leaks := summary["leaks"].(map[string]any); leaks["count"] != 1.0 {
		t.Errorf("summary leaks %v, want the leaked stream counted as of before the end", leaks)
	}
}

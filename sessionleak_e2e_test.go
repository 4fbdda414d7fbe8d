package main

import (
	"strings"
	"testing"
	"time"
)

// sessionLeakCase is the fault session-leak over proto ("smux" or
// "yamux"): the demo's fault client dials a session a second, makes one
// request on it and never closes it. With --leak-after 500ms a session
// is idle after 500 ms, and the hold is 12 such times, 6 s: the second
// session on opened while the first sat idle, and the fourth is idle,
// the third piled, 3.5 s after the first; --session-leak 3 opens
// SESSION_LEAK 6 s later. It names no session, and the group of the
// fault's client host and the service.
func sessionLeakCase(proto string) faultCase {
	return faultCase{name: "session-leak", code: "SESSION_LEAK", limit: 11 * time.Second,
		args: []string{"--leak-after", "500ms", "--session-leak", "3"},
		check: func(t *testing.T, recs []map[string]any, f map[string]any) (time.Time, string) {
			if _, ok := f["session"]; ok {
				t.Errorf("SESSION_LEAK names session %v", f["session"])
			}
			wantField(t, f, "severity", "warning")
			wantField(t, f, "client_host", "127.0.0.1")
			if p, _ := f["piled"].(float64); p < 3 {
				t.Errorf("piled %v, want 3 or more", f["piled"])
			}
			mux := "smux.Client"
			if proto == "yamux" {
				mux = "yamux.Client"
			}
			if text, advice := f["text"].(string), f["advice"].(string); !strings.Contains(text, "idle from 127.0.0.1 to ") ||
				!strings.Contains(text, "a client dials new sessions and leaves the old ones open") ||
				!strings.Contains(advice, mux+" per request") || !strings.Contains(advice, "Session.Close()") {
				t.Errorf("text %q, advice %q", text, advice)
			}
			// From the first fault session's start.
			var first map[string]any
			faults := sessionsLabelled(recs, "fault")
			for _, m := range ofType(recs, "session-opened") {
				if faults[m["session"].(float64)] != nil {
					first = m
					break
				}
			}
			if first == nil {
				t.Fatal("no fault session opened")
			}
			wantField(t, f, "server", first["server"])
			return timeOf(t, first, "time"), "the first fault session's start, with --leak-after 500ms --session-leak 3"
		}}
}

// TestSessionLeakFaultE2E: demo --fault session-leak, over smux and over
// yamux, in the real binary: SESSION_LEAK opens in time, and no other
// finding.
func TestSessionLeakFaultE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("runs muxtop for seconds")
	}
	t.Parallel()
	for _, proto := range []string{"smux", "yamux"} {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			runFaultCase(t, sessionLeakCase(proto), []string{"demo", "--protocol", proto, "--fault", "session-leak"})
		})
	}
}

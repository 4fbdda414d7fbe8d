package live

import (
	"testing"
	"time"
)

// TestConcludeChurnStaysOpen: README, of a capture's last evaluation:
// it resolves every finding of a session that ended, "so that a capture
// whose sessions all ended has none of theirs open at the end; CHURN, a
// finding of no session, stays open if the sessions ended too fast". A
// capture of 25 sessions that each open and end within a second (a
// client that dials per request) ends with every session ended, none of
// their findings open, and CHURN open. README said none at all.
func TestConcludeChurnStaysOpen(t *testing.T) {
	reg := New(Config{})
	base := time.Unix(1000, 0)
	for i := range 25 {
		at := base.Add(time.Duration(i) * 200 * time.Millisecond)
		s := reg.Open(SessionInfo{Client: "c", Server: "s"}, at)
		s.End(at.Add(100*time.Millisecond), EOF, nil)
	}
	end := base.Add(6 * time.Second)
	reg.Evaluate(base.Add(3*time.Second), FindingsConfig{})
	reg.Conclude(end, FindingsConfig{})
	snap := reg.Snapshot()
	if snap.LiveSessions != 0 {
		t.Fatalf("%d live sessions", snap.LiveSessions)
	}
	churn := false
	for _, f := range snap.Findings {
		if f.Session != 0 {
			t.Errorf("every session ended, and %s of session %d is open at the capture's end: %s", f.Code, f.Session, f.Text)
		}
		churn = churn || f.Code == CodeChurn
	}
	if !churn {
		t.Error("CHURN is not open: 25 sessions lived 100 ms each")
	}
}

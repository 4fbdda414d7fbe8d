package tui

import (
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/live"
)

// A live session whose client has closed its side of the connection while
// the server has not (an smux server that read EOF and kept its conn, as
// behind attach) says so in its state, "client closed", not "live"; when
// it ends it says how, as any session does.
func TestSessionHalfOpenState(t *testing.T) {
	reg := live.New(live.Config{})
	now := time.Now()
	s := reg.Open(live.SessionInfo{Client: "127.0.0.1:50406", Server: "127.0.0.1:39311", Tap: live.Server, Label: "attach"}, now)
	other := reg.Open(live.SessionInfo{Client: "127.0.0.1:50407", Server: "127.0.0.1:39311", Tap: live.Server, Label: "attach"}, now)
	// A session with both sides open, beside them, stays live.
	reg.Open(live.SessionInfo{Client: "127.0.0.1:50408", Server: "127.0.0.1:39311", Tap: live.Server, Label: "attach"}, now)
	s.DirectionEnded(live.ClientToServer, now.Add(time.Millisecond))
	other.DirectionEnded(live.ServerToClient, now.Add(time.Millisecond))
	snapshot := func(o live.SnapshotOptions) *live.Snapshot { return reg.SnapshotWith(o) }
	screen := screenOf(resize(newModel(reg, Options{Title: "attach", NoColor: true}, snapshot, time.UTC, 0), 160, 50))
	for _, want := range []string{"0 client closed", "0 server closed"} {
		if !strings.Contains(screen, want) {
			t.Errorf("no %q on the screen:\n%s", want, screen)
		}
	}
	if n := strings.Count(screen, " closed"); n != 2 || !strings.Contains(screen, "0 live") {
		t.Errorf("%d sessions say a side closed, or none is live; want 2 and the third live:\n%s", n, screen)
	}

	s.End(now.Add(time.Second), live.Shutdown, nil)
	other.End(now.Add(time.Second), live.EOF, nil)
	screen = screenOf(resize(newModel(reg, Options{Title: "attach", NoColor: true}, snapshot, time.UTC, 0), 160, 50))
	if strings.Contains(screen, "client closed") || strings.Contains(screen, "server closed") || !strings.Contains(screen, "ended: EOF") {
		t.Errorf("ended sessions still say a side closed, or not how they ended:\n%s", screen)
	}
}

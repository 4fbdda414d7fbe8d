package tui

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// TestCloseWaitShown: a real smux server, tapped, keepalive off, whose
// client exits while the server never closes its session: the sessions
// pane says "client closed", and past --closewait-after the findings pane
// lists CLOSE_WAIT on that session, its direction the server's, with
// the text and the advice; enter goes to the session; the filter's bare
// word close_wait finds its record.
func TestCloseWaitShown(t *testing.T) {
	reg := live.New(live.Config{})
	// The client exits; its stream stays open at the server, which holds
	// the session (closed at the test's end).
	smuxtest.ClientLeaves(t, func(c net.Conn) net.Conn { return tap.Wrap(c, live.Server, reg, "svc") }, true)
	var closed time.Time
	smuxtest.Eventually(t, "the client's EOF at the tap", func() bool {
		closed = reg.Snapshot().Sessions[0].DirEnded[live.ClientToServer]
		return !closed.IsZero()
	})
	fcfg := live.FindingsConfig{}
	reg.Evaluate(closed.Add(live.DefaultCloseWaitAfter+5*time.Second), fcfg)
	fs := reg.Snapshot().Findings
	if len(fs) != 1 || fs[0].Code != live.CodeCloseWait {
		for _, f := range fs {
			t.Logf("%s %s", f.Code, f.Text)
		}
		ss := reg.Snapshot().Sessions[0]
		t.Fatalf("%d findings, want one CLOSE_WAIT (session ended %v %v %s)", len(fs), ss.Ended, ss.Reason, ss.Err)
	}
	f := fs[0]
	for _, w := range []int{80, 160} {
		t.Run(strconv.Itoa(w), func(t *testing.T) {
			m := resize(newModel(reg, Options{NoColor: true}, reg.SnapshotWith, time.UTC, 0), w, 45)
			if row := cursorRow(paneBox(screenOf(m), "Sessions")); !strings.Contains(row, "client closed") {
				t.Errorf("the session's row does not say client closed: %q", row)
			}
			m = press(m, "!")
			checkFits(t, m, w, 45)
			box := paneBox(screenOf(m), "Findings")
			text := strings.Join(box, "\n")
			if row := cursorRow(box); !strings.Contains(row, "warn CLOSE_WAIT") {
				t.Errorf("the cursor is not on CLOSE_WAIT: %q\n%s", row, text)
			}
			for _, want := range []string{"the client closed its side of the connection", "→ have the server Close() its smux session"} {
				if !strings.Contains(strings.Join(strings.Fields(text), " "), want) {
					t.Errorf("the findings pane lacks %q:\n%s", want, text)
				}
			}
			m = press(m, "enter")
			if m.focus != paneSessions || m.sessions.id != f.Session {
				t.Errorf("enter on CLOSE_WAIT: focus %s on session %d, want the sessions pane on session %d", m.focus, m.sessions.id, f.Session)
			}
		})
	}
	recs, _ := reg.Frames(live.Query{Match: func(r *live.Record) bool { return r.Kind == live.FindingOpened }}, nil)
	if len(recs) != 1 {
		t.Fatalf("%d finding records, want 1", len(recs))
	}
	for _, tc := range []struct {
		expr string
		want bool
	}{{"CLOSE_WAIT", true}, {"close_wait", true}, {"dir:<", true}, {"dir:>", false}, {"LEAK", false}} {
		flt, err := parseFilter(tc.expr)
		if err != nil {
			t.Fatal(err)
		}
		if got := flt.match(&recs[0]); got != tc.want {
			t.Errorf("filter %s on CLOSE_WAIT's record: %v, want %v", tc.expr, got, tc.want)
		}
	}
}

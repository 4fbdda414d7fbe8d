package tui

import (
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// endedLeak waits for LEAK to count stream leaked of the registry's one
// session, alone, then ends the session with end (the server goes, as
// the audit's killed server did), waits for the session to end, and runs
// one more evaluation, which resolves the finding. It returns that
// evaluation's snapshot.
func endedLeak(t *testing.T, reg *live.Registry, cfg live.FindingsConfig, leaked uint32, end func() error) *live.Snapshot {
	t.Helper()
	smuxtest.Eventually(t, "LEAK of the half-closed stream", func() bool {
		now := time.Now()
		reg.Evaluate(now, cfg)
		snap := reg.SnapshotWith(live.SnapshotOptions{Now: now, LeakAfter: cfg.LeakAfter})
		for _, f := range snap.Findings {
			if f.Code == live.CodeLeak && f.Resolved.IsZero() {
				if f.Stream != leaked || f.Evidence.Count != 1 {
					t.Fatalf("LEAK names stream %d and counts %d; want stream %d alone", f.Stream, f.Evidence.Count, leaked)
				}
				return true
			}
		}
		return false
	})
	end()
	var snap *live.Snapshot
	smuxtest.Eventually(t, "the session's end", func() bool {
		now := time.Now()
		reg.Evaluate(now, cfg)
		snap = reg.SnapshotWith(live.SnapshotOptions{Now: now, LeakAfter: cfg.LeakAfter})
		return len(snap.Sessions) == 1 && snap.Sessions[0].Ended
	})
	return snap
}

// checkEndedLeak checks the streams pane of the ended session sess: the
// leaked stream's age runs from its SYN to the session's end, its idle
// from its last frame to the end, and it keeps its ! mark; the closed
// stream's age runs to its close, and its idle is blank.
func checkEndedLeak(t *testing.T, reg *live.Registry, snap *live.Snapshot, leakAfter time.Duration, leaked, done uint32) {
	t.Helper()
	var ss *live.SessionSnap
	for i := range snap.Sessions {
		if snap.Sessions[i].Ended {
			ss = snap.Sessions[i]
		}
	}
	if ss == nil {
		t.Fatal("no ended session")
	}
	for _, f := range snap.Findings {
		if f.Code == live.CodeLeak && f.Session == ss.ID && f.Resolved.IsZero() {
			t.Fatalf("the ended session's LEAK is still open: %+v", f)
		}
	}
	lk, cl := ss.Stream(leaked), ss.Stream(done)
	if lk == nil || cl == nil || lk.State != live.EndedWithSession || cl.State != live.Closed {
		t.Fatalf("streams %+v and %+v: want the leaked one ended with the session, the other closed", lk, cl)
	}
	if !lk.Leak || cl.Leak {
		t.Errorf("marks: leaked stream %v, closed stream %v; want the leaked one alone marked", lk.Leak, cl.Leak)
	}
	frozen := func(o live.SnapshotOptions) *live.Snapshot {
		o.Now = snap.At
		return reg.SnapshotWith(o)
	}
	m := resize(newModel(reg, Options{NoColor: true, LeakAfter: leakAfter}, frozen, time.UTC, 0), 160, 45)
	for i := 0; m.sessions.id != ss.ID && i < 4; i++ {
		m = press(m, "j")
	}
	m = press(m, "enter")
	streams := strings.Join(paneBox(screenOf(m), "Streams"), "\n")
	age := dur(ss.End.Sub(lk.First)) + "!"
	idle := dur(ss.End.Sub(lk.Last))
	row := regexp.MustCompile(`(?m)^.. *` + strconv.Itoa(int(leaked)) + ` c +ended .* ` + regexp.QuoteMeta(age) + ` +` + regexp.QuoteMeta(idle) + ` `)
	if !row.MatchString(streams) {
		t.Errorf("stream %d should show age %s (SYN to the session's end, marked) and idle %s (last frame to the end):\n%s", leaked, age, idle, streams)
	}
	closedAge := dur(cl.Last.Sub(cl.First))
	row = regexp.MustCompile(`(?m)^.. *` + strconv.Itoa(int(done)) + ` c +closed .* ` + regexp.QuoteMeta(closedAge) + ` {7}`)
	if !row.MatchString(streams) || regexp.MustCompile(` 0µs `).MatchString(streams) { // no idle of 0µs; an age may end in 0µs
		t.Errorf("stream %d should show age %s (SYN to its close) and no idle:\n%s", done, closedAge, streams)
	}
}

// endedConfig evaluates LEAK at 300 ms: the leaked stream crosses it
// while the test waits, with no other finding to explain it.
var endedConfig = live.FindingsConfig{LeakAfter: 300 * time.Millisecond, UnansweredAfter: time.Hour, Churn: -1}

// TestEndedSessionKeepsLeakSmux: a real smux session, tapped at the
// server, whose client sends a request and FIN on two streams; the server
// reads both, closes the first and leaks the second. Once LEAK names the
// leak the server goes. The ended session's streams pane shows how long
// each stream lived and keeps the leak's mark. Before, the leaked stream
// read "ended 5B 0B 2.1s 0µs": age to its last frame, idle 0µs, no mark,
// and the closed stream idle 0µs.
func TestEndedSessionKeepsLeakSmux(t *testing.T) {
	endedSessionKeepsLeak(t, smuxtest.Mux{Smux: smuxtest.Config(2)})
}

// TestEndedSessionKeepsLeakYamux is TestEndedSessionKeepsLeakSmux over
// hashicorp/yamux.
func TestEndedSessionKeepsLeakYamux(t *testing.T) {
	endedSessionKeepsLeak(t, smuxtest.Mux{})
}

// endedSessionKeepsLeak is TestEndedSessionKeepsLeakSmux over mux.
func endedSessionKeepsLeak(t *testing.T, mux smuxtest.Mux) {
	smuxtest.NoGoroutinesLeft(t)
	reg := live.New(live.Config{})
	cc, sc := smuxtest.Conns(t)
	srv, err := mux.Server(tap.Wrap(sc, live.Server, reg, "ended"))
	if err != nil {
		t.Fatal(err)
	}
	cli, err := mux.Client(cc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close(); srv.Close() })
	ids := make(chan uint32, 2)
	go func() { // ends when the session closes
		for i := 0; ; i++ {
			st, err := srv.AcceptStream()
			if err != nil {
				return
			}
			io.ReadFull(st, make([]byte, 5)) // then the client's FIN
			ids <- smuxtest.StreamID(st)
			if i == 0 {
				io.ReadAll(st)
				st.Close()
			}
		}
	}()
	var sids [2]uint32
	for i, req := range []string{"done!", "leak!"} {
		st, err := cli.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		st.Write([]byte(req))
		sids[i] = <-ids // accepted and read: the FIN comes after
		st.Close()
	}
	done, leaked := sids[0], sids[1]
	snap := endedLeak(t, reg, endedConfig, leaked, srv.Close)
	checkEndedLeak(t, reg, snap, endedConfig.LeakAfter, leaked, done)
}

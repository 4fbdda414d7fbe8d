package tui

import (
	"io"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// leakCapture is an evaluated capture of two sessions whose servers keep
// sending keepalive NOPs: in session 1 the server answered stream 3 and
// never closed it (a real leak: opened after stream 2, which the server
// opened and both sides closed, it is no setup stream, which LEAK would
// not count), and never accepted 5 and 7; in session 2
// it accepted nothing (a backlog). Every live stream is older than the
// 30 s threshold; UNANSWERED explains all but stream 3.
func leakCapture() *capture {
	const c2s, s2c = live.ClientToServer, live.ServerToClient
	c := newCapture(live.Config{History: 1000})
	s1 := c.open("127.0.0.1:51234", "127.0.0.1:9000", base.Add(-time.Minute))
	c.frame(s1, s2c, base.Add(-50*time.Second-time.Millisecond), 1, decoder.SYN, 2, "", 0)
	c.frame(s1, s2c, base.Add(-50*time.Second-time.Millisecond), 1, decoder.FIN, 2, "", 0)
	c.frame(s1, c2s, base.Add(-50*time.Second-time.Millisecond), 1, decoder.FIN, 2, "", 0)
	c.frame(s1, c2s, base.Add(-50*time.Second), 1, decoder.SYN, 3, "", 0)
	c.frame(s1, c2s, base.Add(-50*time.Second+10*time.Microsecond), 1, decoder.PSH, 3, "RAND", 0)
	c.frame(s1, s2c, base.Add(-50*time.Second+100*time.Microsecond), 1, decoder.PSH, 3, "12345678", 0)
	s2 := c.open("127.0.0.1:51236", "127.0.0.1:9000", base.Add(-time.Minute))
	for _, s := range []*live.Session{s1, s2} {
		for _, sid := range []uint32{5, 7} {
			at := base.Add(-45*time.Second + time.Duration(sid)*time.Millisecond)
			c.frame(s, c2s, at, 1, decoder.SYN, sid, "", 0)
			c.frame(s, c2s, at.Add(10*time.Microsecond), 1, decoder.PSH, sid, "HOLD", 0)
		}
	}
	for i := range 41 {
		at := base.Add(-40500*time.Millisecond + time.Duration(i)*time.Second)
		for _, s := range []*live.Session{s1, s2} {
			c.frame(s, c2s, at, 1, decoder.NOP, 0, "", 0)
			c.frame(s, s2c, at.Add(time.Millisecond), 1, decoder.NOP, 0, "", 0)
		}
		c.reg.Evaluate(at.Add(100*time.Millisecond), live.FindingsConfig{Churn: -1})
	}
	c.reg.Evaluate(base, live.FindingsConfig{Churn: -1})
	return c
}

// TestLeakMarksAreLEAKs: the header's suspected leaks, the sessions'
// and streams' ! marks and the streams pane's count are the LEAK
// finding's, which the findings pane lists: the real leak, stream 3 of
// session 1, and not the streams UNANSWERED explains, though as old.
// Before, the header said "5 suspected leaks" beside two UNANSWERED
// findings and a LEAK of one stream, and marked every old stream.
func TestLeakMarksAreLEAKs(t *testing.T) {
	c := leakCapture()
	snap := c.reg.Snapshot()
	var codes []string
	for _, f := range snap.Findings {
		codes = append(codes, f.Code.String())
		if f.Code == live.CodeLeak && (f.Session != 1 || f.Evidence.Count != 1) {
			t.Fatalf("LEAK of session %d counts %d, want session 1's stream 3 alone", f.Session, f.Evidence.Count)
		}
	}
	if strings.Join(codes, " ") != "UNANSWERED UNANSWERED LEAK" {
		t.Fatalf("findings %v, want UNANSWERED in each session and session 1's LEAK", codes)
	}
	for _, size := range []struct{ w, h int }{{80, 24}, {160, 45}} {
		m := c.model(t, size.w, size.h)
		screen := screenOf(m)
		first := strings.SplitN(screen, "\n", 2)[0]
		if !strings.Contains(first, "1 suspected leak ·") && !strings.Contains(first, "1 leak?") {
			t.Errorf("%d×%d: the header does not count LEAK's one stream:\n%s", size.w, size.h, first)
		}
		sessions := strings.Join(paneBox(screen, "Sessions"), "\n")
		if !regexp.MustCompile(`1 :51234 → :9000\* +3! `).MatchString(sessions) || !regexp.MustCompile(`2 :51236 → :9000\* +2 `).MatchString(sessions) {
			t.Errorf("%d×%d: session 1 should be marked as holding a suspected leak, session 2 not:\n%s", size.w, size.h, sessions)
		}
		m = press(m, "enter") // session 1's streams
		screen = screenOf(m)
		streams := strings.Join(paneBox(screen, "Streams"), "\n")
		if !strings.Contains(streams, "Streams of session 1 · 3 open · 1 suspected leak ·") {
			t.Errorf("%d×%d: the streams pane does not count LEAK's one stream:\n%s", size.w, size.h, streams)
		}
		if !regexp.MustCompile(` 3 c +open .* 50s! `).MatchString(streams) || strings.Count(streams, "s! ") != 1 {
			t.Errorf("%d×%d: stream 3 alone should be marked:\n%s", size.w, size.h, streams)
		}
		m = press(m, "esc", "j", "enter") // session 2's streams: the backlog
		streams = strings.Join(paneBox(screenOf(m), "Streams"), "\n")
		if !strings.Contains(streams, "Streams of session 2 · 2 open · sort") || strings.Contains(streams, "s! ") {
			t.Errorf("%d×%d: the backlog's streams are counted or marked as leaks:\n%s", size.w, size.h, streams)
		}
		checkFits(t, m, size.w, size.h)
	}
}

// TestLeakMarksRealBacklog drives real smux sessions, tapped at the
// server: one whose server never accepts a stream (the backlog fault),
// and one whose server answers a stream that nobody closes, the session
// otherwise healthy. Once UNANSWERED names the backlog and LEAK the
// stream left open, the header counts one suspected leak, the leak's
// stream alone is marked, and the backlog's session shows no leak beside
// its UNANSWERED: the same story as the findings pane.
func TestLeakMarksRealBacklog(t *testing.T) {
	smuxtest.NoGoroutinesLeft(t)
	reg := live.New(live.Config{})
	tapped := func(label string) func(net.Conn) net.Conn {
		return func(c net.Conn) net.Conn { return tap.Wrap(c, live.Server, reg, label) }
	}
	// Keepalive NOPs every 200 ms: each side is heard from after the
	// streams opened, and alive.
	scfg := smuxtest.Config(1)
	scfg.KeepAliveInterval, scfg.KeepAliveTimeout = 200*time.Millisecond, time.Hour

	// The backlog: nobody calls AcceptStream.
	bcli, _ := smuxtest.Pair(t, scfg, nil, tapped("backlog"))
	for range 3 {
		st, err := bcli.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		st.Write([]byte("RAND"))
	}

	// The leak: served, answered, closed by no one.
	lcli, lsrv := smuxtest.Pair(t, scfg, nil, tapped("leak"))
	served := make(chan uint32, 1)
	go func() { // ends when the session closes
		for n := 0; ; n++ {
			st, err := lsrv.AcceptStream()
			if err != nil {
				return
			}
			var req [4]byte
			io.ReadFull(st, req[:])
			st.Write([]byte("answer!!"))
			if n == 0 {
				st.Close() // the first request's stream: closed
			}
			served <- st.ID()
		}
	}()
	// A first request, served and closed: the stream left open below is
	// a request's, no setup stream, which LEAK does not count.
	st, err := lcli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	st.Write([]byte("RAND"))
	io.ReadFull(st, make([]byte, 8))
	<-served
	st.Close()
	st, err = lcli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	st.Write([]byte("RAND"))
	io.ReadFull(st, make([]byte, 8))
	leakID := <-served

	cfg := live.FindingsConfig{LeakAfter: 400 * time.Millisecond, UnansweredAfter: 200 * time.Millisecond, Churn: -1}
	var unanswered, leak *live.Finding
	var snap *live.Snapshot
	smuxtest.Eventually(t, "UNANSWERED of the 3 backlogged streams, older than LeakAfter, and LEAK", func() bool {
		now := time.Now()
		reg.Evaluate(now, cfg)
		snap = reg.SnapshotWith(live.SnapshotOptions{Now: now, LeakAfter: cfg.LeakAfter})
		unanswered, leak = nil, nil
		for _, f := range snap.Findings {
			switch f.Code {
			case live.CodeUnanswered:
				unanswered = f
			case live.CodeLeak:
				leak = f
			}
		}
		if unanswered == nil || leak == nil || unanswered.Evidence.Count != 3 {
			return false
		}
		ss := snap.Session(unanswered.Session)
		return ss != nil && ss.Aged == 3 // every backlogged stream is as old as a leak
	})
	backlog, leaky := snap.Session(unanswered.Session), snap.Session(leak.Session)
	if leak.Session == unanswered.Session || leak.Stream != leakID || leak.Evidence.Count != 1 {
		t.Fatalf("LEAK of session %d stream %d counts %d; want the served stream %d alone, not the backlog's session %d",
			leak.Session, leak.Stream, leak.Evidence.Count, leakID, unanswered.Session)
	}
	if snap.Leaks != 1 || backlog.Leaks != 0 || leaky.Leaks != 1 {
		t.Errorf("suspected leaks %d: backlog %d, leak %d; want 1: 0 beside UNANSWERED, 1", snap.Leaks, backlog.Leaks, leaky.Leaks)
	}
	for _, st := range backlog.Streams {
		if st.Leak {
			t.Errorf("the backlog's stream %d is marked as a leak beside UNANSWERED", st.ID)
		}
	}
	if st := leaky.Stream(leakID); st == nil || !st.Leak {
		t.Errorf("the stream left open, %d, is not marked as a leak: %+v", leakID, st)
	}

	// The screen, from that evaluation: no more evaluations run.
	frozen := func(o live.SnapshotOptions) *live.Snapshot {
		o.Now = snap.At
		return reg.SnapshotWith(o)
	}
	m := resize(newModel(reg, Options{NoColor: true, LeakAfter: cfg.LeakAfter}, frozen, time.UTC, 0), 160, 45)
	screen := screenOf(m)
	first := strings.SplitN(screen, "\n", 2)[0]
	if !strings.Contains(first, "1 suspected leak ·") || !strings.Contains(first, "1 critical") {
		t.Errorf("the header should count 1 suspected leak beside the critical UNANSWERED:\n%s", first)
	}
	for _, sess := range []struct {
		id    uint64
		title string
		marks int
	}{{backlog.ID, "3 open · sort", 0}, {leaky.ID, "1 open · 1 suspected leak · sort", 1}} {
		for i := 0; m.sessions.id != sess.id && i < 4; i++ {
			m = press(m, "j")
			if m.sessions.id != sess.id && i == 1 {
				m = press(m, "g")
			}
		}
		m = press(m, "enter")
		streams := strings.Join(paneBox(screenOf(m), "Streams"), "\n")
		if !strings.Contains(streams, "Streams of session "+strconv.FormatUint(sess.id, 10)+" · "+sess.title) || strings.Count(streams, "s! ") != sess.marks {
			t.Errorf("session %d's streams: want %q and %d marks:\n%s", sess.id, sess.title, sess.marks, streams)
		}
		m = press(m, "esc")
	}
}

// TestLeakTextAgeKeepsUp: the findings pane words an open finding's age
// as of the snapshot, as its "for" column and the streams pane's age
// column count it. The engine words an age again only in steps (5 s
// below a minute, 30 s below ten), and the pane showed that wording:
// "oldest 50 s" beside a stream 53 s old.
func TestLeakTextAgeKeepsUp(t *testing.T) {
	c := leakCapture() // worded at base: stream 3 is 50 s old
	c.now = base.Add(3 * time.Second)
	m := press(c.model(t, 160, 45), "!")
	i := slices.IndexFunc(m.find.list, func(f *live.Finding) bool { return f.Code == live.CodeLeak })
	if i < 0 {
		t.Fatalf("no LEAK listed:\n%s", screenOf(m))
	}
	if f := m.find.list[i]; !strings.Contains(f.Text, "oldest 50 s") {
		t.Fatalf("the engine's wording %q; want it as of base, oldest 50 s", f.Text)
	}
	for range i {
		m = press(m, "j")
	}
	screen := screenOf(m)
	if !strings.Contains(screen, "oldest 53 s") || strings.Contains(screen, "oldest 50 s") {
		t.Errorf("the LEAK's text lags the snapshot's 53 s:\n%s", screen)
	}
}

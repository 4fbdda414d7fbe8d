package tui

import (
	"errors"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/xtaci/smux"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// TestFindingsShown: a fresh user sees what muxtop names as wrong without
// knowing what to look for: the header counts open findings by severity,
// and the finding's record reads as a line of its own, not a bare time.
func TestFindingsShown(t *testing.T) {
	c := newCapture(live.Config{})
	s := c.open("127.0.0.1:51234", "127.0.0.1:9000", base.Add(-time.Minute))
	c.frame(s, live.ClientToServer, base.Add(-50*time.Second), 1, decoder.SYN, 3, "", 0)
	c.frame(s, live.ClientToServer, base.Add(-50*time.Second), 1, decoder.PSH, 3, "RAND", 0)
	c.frame(s, live.ServerToClient, base.Add(-50*time.Second), 1, decoder.PSH, 3, "12345678", 0) // answered, never closed
	c.frame(s, live.ClientToServer, base.Add(-50*time.Second), 1, decoder.FIN, 3, "", 0)
	c.reg.Evaluate(base, live.FindingsConfig{LeakAfter: time.Second})
	snap := c.reg.Snapshot()
	if len(snap.Findings) == 0 {
		t.Fatal("no finding opened: the test's leak is not one")
	}
	m := c.model(t, 160, 45)
	screen := screenOf(m)
	first := strings.SplitN(screen, "\n", 2)[0]
	if !strings.Contains(first, "warning") || !strings.Contains(first, "! lists") {
		t.Errorf("the header does not count the open finding and name the key that lists it:\n%s", first)
	}
	if !strings.Contains(screen, "FINDING LEAK warning: ") {
		t.Errorf("the finding's record is not shown as a line of its own:\n%s", screen)
	}
}

// findingsFixture is a capture with findings of each kind of place: a
// LEAK (a session, its oldest leaked stream and a direction), a
// WINDOW_STALL (a stream), and a PROTOCOL finding whose session then
// ended, resolved.
func findingsFixture() *capture {
	const c2s, s2c = live.ClientToServer, live.ServerToClient
	c := newCapture(live.Config{History: 1000})
	t := base.Add(-50 * time.Second)
	cfg := live.FindingsConfig{LeakAfter: 10 * time.Second, StallAfter: time.Second}

	// The server never closes its streams: 3 and 5 half-closed by the client.
	s1 := c.open("127.0.0.1:51234", "127.0.0.1:9000", t)
	c.leakTwo(s1, t)
	// v2: an upload the server does not read; the writer holds a full window.
	s2 := c.open("127.0.0.1:51236", "127.0.0.1:9000", t.Add(time.Second))
	c.exchange(s2, 2, 3, t.Add(30*time.Second), "\x00\x00\x00\x00\x00\x00\x00\x2a")
	c.frame(s2, c2s, t.Add(44*time.Second), 2, decoder.SYN, 7, "", 0)
	big := strings.Repeat("upload-", 40)[:256]
	for i := range 5 {
		c.frame(s2, c2s, t.Add(44*time.Second+time.Duration(i+1)*time.Millisecond), 2, decoder.PSH, 7, big, 65535)
	}
	// HTTP to the smux port: PROTOCOL, resolved when the session ends.
	s3 := c.open("127.0.0.1:51240", "127.0.0.1:9000", t.Add(2*time.Second))
	s3.Violation(c2s, t.Add(2*time.Second), &decoder.Violation{Code: decoder.BadVersion, Header: decoder.Header([]byte("GET / HT"))})
	c.reg.Evaluate(t.Add(3*time.Second), cfg)
	s3.End(t.Add(20*time.Second), live.Reset, errors.New("read tcp 127.0.0.1:51240: connection reset by peer"))
	c.reg.Evaluate(base, cfg)
	return c
}

// TestFindingsGolden pins the findings pane at 80×24 and 160×45: the open
// findings, most severe first, the resolved one dimmed at the end, and the
// selected one's text and advice in full.
func TestFindingsGolden(t *testing.T) {
	c := findingsFixture()
	snap := c.reg.Snapshot()
	if len(snap.Findings) != 2 || len(snap.Resolved) != 1 {
		t.Fatalf("the fixture has %d open and %d resolved findings, want 2 and 1", len(snap.Findings), len(snap.Resolved))
	}
	for _, size := range []struct{ w, h int }{{80, 24}, {160, 45}} {
		for _, tc := range []struct {
			name string
			keys []string
		}{{"open", []string{"!"}}, {"resolved", []string{"!", "G"}}} {
			name := tc.name + "-" + strconv.Itoa(size.w) + "x" + strconv.Itoa(size.h)
			t.Run(name, func(t *testing.T) {
				m := press(c.model(t, size.w, size.h), tc.keys...)
				checkFits(t, m, size.w, size.h)
				golden(t, name, screenOf(m)+"\n")
			})
		}
	}
}

// TestFindingsPaneCut: on a short, narrow pane the explanation of the
// selected finding ends in "…" where it is cut, and no line is too wide.
func TestFindingsPaneCut(t *testing.T) {
	c := findingsFixture()
	keys := newKeyMap()
	th := &theme{styles: newStyles(true), loc: time.UTC}
	p := newFindingsPane(&keys)
	p.h = 10
	p = feed(p, snapshotMsg{snap: c.snapshot(live.SnapshotOptions{})}, moveMsg{d: 1})
	got := ansi.Strip(p.View(th, 60, 10))
	golden(t, "stall-60x10", got+"\n")
	lines := strings.Split(got, "\n")
	if len(lines) != 10 {
		t.Errorf("%d lines, want 10", len(lines))
	}
	for _, l := range lines {
		if width(l) != 60 {
			t.Errorf("line %q is %d cells wide, want 60", l, width(l))
		}
	}
	if last := strings.TrimRight(strings.TrimSuffix(lines[8], "┃"), " "); !strings.HasSuffix(last, "…") {
		t.Errorf("the cut explanation does not end in …: %q", lines[8])
	}
}

// TestFindingsPane: ! opens the list, in the engine's order, with each
// finding's code, place, evidence and advice; the cursor keys move in
// it; enter goes to what the finding concerns, as enter does in the
// panes; ! and esc close it.
func TestFindingsPane(t *testing.T) {
	c := findingsFixture()
	snap := c.reg.Snapshot()
	leak, stall := snap.Findings[0], snap.Findings[1]
	if leak.Code != live.CodeLeak || stall.Code != live.CodeWindowStall {
		t.Fatalf("the fixture's findings are %s and %s, want LEAK and WINDOW_STALL (oldest first)", leak.Code, stall.Code)
	}
	m := press(c.model(t, 80, 24), "!")
	box := paneBox(screenOf(m), "Findings")
	if box == nil || m.overlay != overlayFindings {
		t.Fatalf("! opens no findings pane:\n%s", screenOf(m))
	}
	if got := cursorRow(box); !strings.Contains(got, "warn LEAK") || !strings.Contains(got, "open") {
		t.Errorf("the cursor is not on the oldest open finding, LEAK: %q", got)
	}
	text := strings.Join(box, "\n")
	for _, want := range []string{"LEAK warning · session 1 · stream 3 · ← server to client", "the server never closes its streams: 2",
		"→ call Close() on the server's stream", "WINDOW_STALL", "PROTOCOL", "resolved"} {
		if !strings.Contains(text, want) {
			t.Errorf("the findings pane lacks %q:\n%s", want, text)
		}
	}

	// enter on LEAK: its stream, 3, in the streams pane, its frames below.
	m = press(m, "enter")
	if m.overlay != overlayNone || m.focus != paneStreams || m.streams.session != 1 || m.streams.all || m.streams.id != 3 {
		t.Fatalf("enter on LEAK: overlay %s focus %s, streams of session %d stream %d (all %v); want the streams pane on stream 3 of session 1",
			m.overlay, m.focus, m.streams.session, m.streams.id, m.streams.all)
	}
	if want := (scope{session: 1, sid: 3, stream: true}); m.frames.scope != want {
		t.Errorf("the frames pane shows %+v, want %+v", m.frames.scope, want)
	}
	if row := cursorRow(paneBox(screenOf(m), "Streams of session 1")); !strings.Contains(row, " 3 ") {
		t.Errorf("the streams pane's cursor is not on stream 3: %q", row)
	}

	// j, enter: WINDOW_STALL's stream, 7 of session 2.
	m = press(m, "!", "j", "enter")
	if m.focus != paneStreams || m.streams.session != 2 || m.streams.id != 7 || m.sessions.id != 2 {
		t.Fatalf("enter on WINDOW_STALL: focus %s, session %d, stream %d; want stream 7 of session 2", m.focus, m.streams.session, m.streams.id)
	}

	// G, enter: the resolved PROTOCOL finding, of the ended session 3 as a
	// whole: the sessions pane, on it.
	m = press(m, "!", "G", "enter")
	if m.focus != paneSessions || m.sessions.id != 3 || !m.streams.all {
		t.Fatalf("enter on PROTOCOL: focus %s, session %d (all %v); want the sessions pane on session 3", m.focus, m.sessions.id, m.streams.all)
	}
	if want := (scope{session: 3}); m.frames.scope != want {
		t.Errorf("the frames pane shows %+v, want %+v", m.frames.scope, want)
	}

	// Paused, enter goes there in the frozen picture, which has every
	// session's streams.
	m = press(m, "space", "!", "g", "j", "enter")
	if !m.paused || m.focus != paneStreams || m.streams.session != 2 || m.streams.id != 7 {
		t.Fatalf("paused, enter on WINDOW_STALL: focus %s, session %d, stream %d; want stream 7 of session 2", m.focus, m.streams.session, m.streams.id)
	}
	m = press(m, "space")

	// ! and esc close it.
	for _, k := range []string{"!", "esc"} {
		m = press(m, "!", k)
		if m.overlay != overlayNone || paneBox(screenOf(m), "Findings") != nil {
			t.Errorf("%s does not close the findings pane", k)
		}
	}
}

// churned is a capture of live.DefaultChurn short sessions, one every
// 100 ms from 5 s before base, each closed after 10 ms, evaluated at
// base: CHURN is open, of no one session.
func churned() *capture {
	c := newCapture(live.Config{})
	for i := range live.DefaultChurn {
		at := base.Add(-5*time.Second + time.Duration(i)*100*time.Millisecond)
		s := c.open("127.0.0.1:"+strconv.Itoa(40000+i), "127.0.0.1:9000", at)
		s.End(at.Add(10*time.Millisecond), live.LocalClose, nil)
	}
	c.reg.Evaluate(base, live.FindingsConfig{})
	return c
}

// TestFindingOfNoSession: CHURN concerns no one session; enter says so
// and stays.
func TestFindingOfNoSession(t *testing.T) {
	c := churned()
	m := press(c.model(t, 80, 24), "!")
	if row := cursorRow(paneBox(screenOf(m), "Findings")); !strings.Contains(row, "warn CHURN") {
		t.Fatalf("the cursor is not on CHURN: %q\n%s", row, screenOf(m))
	}
	m = press(m, "enter")
	if m.overlay != overlayFindings || !strings.Contains(screenOf(m), "CHURN concerns no one session") {
		t.Errorf("enter on CHURN: overlay %s, screen:\n%s", m.overlay, screenOf(m))
	}
}

// TestSessionLeakOfNoSession: SESSION_LEAK concerns no one session
// either; enter names the group instead, and stays. Twelve sessions from
// one host, no stream on any, opened 10 s apart: each after the first
// opened while an older one sat idle, and stayed piled through the hold.
func TestSessionLeakOfNoSession(t *testing.T) {
	c := newCapture(live.Config{})
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range 12 {
		c.open("10.0.0.7:"+strconv.Itoa(40000+i), "10.0.0.1:9000", base.Add(-3*time.Minute+time.Duration(i)*10*time.Second))
	}
	c.reg.Evaluate(base.Add(-time.Minute), live.FindingsConfig{}) // and the hold, 60 s
	c.reg.Evaluate(base, live.FindingsConfig{})
	m := press(c.model(t, 80, 24), "!")
	if row := cursorRow(paneBox(screenOf(m), "Findings")); !strings.Contains(row, "warn SESSION_LEAK") {
		t.Fatalf("the cursor is not on SESSION_LEAK: %q\n%s", row, screenOf(m))
	}
	m = press(m, "enter")
	if m.overlay != overlayFindings || !strings.Contains(m.flash, "SESSION_LEAK concerns no one session: see the idle sessions from 10.0.0.7 to 10.0.0.1:9000") {
		t.Errorf("enter on SESSION_LEAK: overlay %s, flash %q, screen:\n%s", m.overlay, m.flash, screenOf(m))
	}
}

// TestFindingsOfRealSessions drives real smux sessions, tapped, into two
// findings: a server that never closes its streams (LEAK, about a
// stream) and a client of the other version (VERSION_MISMATCH, about the
// whole session). The pane lists them, most severe first, and enter
// goes to each, at 80 and at 160 columns.
func TestFindingsOfRealSessions(t *testing.T) {
	smuxtest.NoGoroutinesLeft(t)
	reg := live.New(live.Config{})
	tapped := func(label string) func(net.Conn) net.Conn {
		return func(c net.Conn) net.Conn { return tap.Wrap(c, live.Server, reg, label) }
	}

	// LEAK: the server answers and never closes; the client closes.
	cli, srv := smuxtest.Pair(t, smuxtest.Config(1), nil, tapped("leak"))
	served := make(chan uint32, 2)
	go func() { // ends when the session closes
		for {
			st, err := srv.AcceptStream()
			if err != nil {
				return
			}
			var req [4]byte
			io.ReadFull(st, req[:])
			st.Write([]byte("answer!!"))
			served <- st.ID() // and never Close
		}
	}()
	var sids []uint32
	for range 2 {
		st, err := cli.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		st.Write([]byte("RAND"))
		io.ReadFull(st, make([]byte, 8))
		st.Close()
		sids = append(sids, <-served)
	}

	// VERSION_MISMATCH: a v2 client to a v1 server, whose keepalive NOP
	// comes back within 100 ms.
	cc, sc := smuxtest.Conns(t)
	scfg := smuxtest.Config(1)
	scfg.KeepAliveInterval, scfg.KeepAliveTimeout = 100*time.Millisecond, time.Hour
	msrv, err := smux.Server(tapped("mismatch")(sc), scfg)
	if err != nil {
		t.Fatal(err)
	}
	mcli, err := smux.Client(cc, smuxtest.Config(2))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { mcli.Close(); msrv.Close() }()
	if st, err := mcli.OpenStream(); err == nil {
		st.Write([]byte("RAND"))
	}

	cfg := live.FindingsConfig{LeakAfter: 300 * time.Millisecond}
	var leak, mismatch *live.Finding
	smuxtest.Eventually(t, "LEAK and VERSION_MISMATCH", func() bool {
		reg.Evaluate(time.Now(), cfg)
		leak, mismatch = nil, nil
		for _, f := range reg.Snapshot().Findings {
			switch f.Code {
			case live.CodeLeak:
				leak = f
			case live.CodeVersionMismatch:
				mismatch = f
			}
		}
		return leak != nil && mismatch != nil
	})
	if leak.Stream != sids[0] || !leak.HasDir || leak.Dir != live.ServerToClient {
		t.Fatalf("LEAK names stream %d dir %v, want the oldest leaked stream %d and the server's direction", leak.Stream, leak.Dir, sids[0])
	}

	for _, w := range []int{80, 160} {
		t.Run(strconv.Itoa(w), func(t *testing.T) {
			m := resize(newModel(reg, Options{NoColor: true, LeakAfter: cfg.LeakAfter}, reg.SnapshotWith, time.UTC, 0), w, 45)
			m = press(m, "!")
			checkFits(t, m, w, 45)
			box := paneBox(screenOf(m), "Findings")
			text := strings.Join(box, "\n")
			if row := cursorRow(box); !strings.Contains(row, "crit VERSION_MISMATCH") {
				t.Errorf("the cursor is not on the critical finding first: %q\n%s", row, text)
			}
			for _, want := range []string{"LEAK", "the client speaks v2, the server v1", "→ set smux.Config.Version to the same value on both ends"} {
				if !strings.Contains(text, want) {
					t.Errorf("the findings pane lacks %q:\n%s", want, text)
				}
			}
			m = press(m, "enter")
			if m.focus != paneSessions || m.sessions.id != mismatch.Session || !m.streams.all {
				t.Errorf("enter on VERSION_MISMATCH: focus %s on session %d, want the sessions pane on session %d", m.focus, m.sessions.id, mismatch.Session)
			}
			m = press(m, "!", "j", "enter")
			if m.focus != paneStreams || m.streams.session != leak.Session || m.streams.id != leak.Stream {
				t.Errorf("enter on LEAK: focus %s on stream %d of session %d, want the streams pane on stream %d of session %d",
					m.focus, m.streams.id, m.streams.session, leak.Stream, leak.Session)
			}
			checkFits(t, m, w, 45)
		})
	}
}

// TestResolvedWindow: a finding resolved up to recentResolved ago is
// listed, newest first, after the open ones, and the header counts the
// same ones; an older one is neither listed nor counted.
func TestResolvedWindow(t *testing.T) {
	resolved := func(id uint64, ago time.Duration) *live.Finding {
		return &live.Finding{ID: id, Code: live.CodeProtocol, Session: id, Since: base.Add(-time.Hour), Resolved: base.Add(-ago)}
	}
	snap := &live.Snapshot{At: base, Started: base.Add(-time.Hour), Resolved: []*live.Finding{
		resolved(1, recentResolved+time.Second), resolved(2, recentResolved), resolved(3, time.Minute)}}
	keys := newKeyMap()
	p := feed(newFindingsPane(&keys), snapshotMsg{snap: snap})
	if len(p.list) != 2 || p.open != 0 || p.list[0].ID != 3 || p.list[1].ID != 2 {
		ids := []uint64{}
		for _, f := range p.list {
			ids = append(ids, f.ID)
		}
		t.Errorf("the pane lists %v (%d open), want the resolved 3 then 2", ids, p.open)
	}
	th := &theme{styles: newStyles(true), loc: time.UTC}
	line := ansi.Strip(totalsLine(th, &header{snap: snap, now: base, resolved: resolvedCount(snap, recentlyResolved(snap))}, true, 300))
	if !strings.Contains(line, " 2 resolved") {
		t.Errorf("the header does not count the 2 recently resolved findings: %q", line)
	}
}

// TestFindingExplainedWhole: at 80×24, with more findings than the list
// has room for beside the selected one's explanation, the list gives up
// rows so that the explanation shows whole, its advice to the last word
// and, for a resolved finding, why it resolved; the cursor still walks
// the list. The list kept its rows and cut the advice at 80×24 ("the
// client's smux closes this session at its…") before.
func TestFindingExplainedWhole(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    *capture
		keys []string
	}{
		{"protocol", manyViolations(12), []string{"!"}},
		{"protocol-moved", manyViolations(12), []string{"!", "j", "j", "j", "j", "j", "j"}},
		{"leak-stall", findingsFixture(), []string{"!", "j"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := press(tc.c.model(t, 80, 24), tc.keys...)
			checkFits(t, m, 80, 24)
			screen := screenOf(m)
			// The list's rows end with "…" where their text is cut to
			// the column; the explanation below them is whole.
			row := regexp.MustCompile(`[┃│][▶ ](warn|crit) `)
			for _, l := range strings.Split(screen, "\n") {
				if !row.MatchString(l) && (strings.Contains(l, "… ") || strings.HasSuffix(l, "…")) {
					t.Errorf("the explanation is cut: %q\n%s", l, screen)
				}
			}
			f := m.find.list[m.find.idx]
			words := strings.Fields(f.Advice)
			if last := words[len(words)-1]; !strings.Contains(screen, last) {
				t.Errorf("the advice's last word %q is not on screen:\n%s", last, screen)
			}
			if !strings.Contains(screen, "▶") {
				t.Errorf("no finding is marked selected:\n%s", screen)
			}
		})
	}
}

// TestFindingUpdatedShown: a finding told again as its count grows reads
// in the frames pane as a line of its own, UPDATED with its text as it is
// now, not as a bare time; its detail names a LEAK's streams.
func TestFindingUpdatedShown(t *testing.T) {
	c := newCapture(live.Config{})
	s := c.open("127.0.0.1:51234", "127.0.0.1:9000", base.Add(-time.Minute))
	for i, sid := range []uint32{3, 5} {
		at := base.Add(-50*time.Second + time.Duration(i)*time.Second)
		c.frame(s, live.ClientToServer, at, 1, decoder.SYN, sid, "", 0)
		c.frame(s, live.ClientToServer, at, 1, decoder.PSH, sid, "RAND", 0)
		c.frame(s, live.ServerToClient, at, 1, decoder.PSH, sid, "12345678", 0) // answered, never closed
		c.frame(s, live.ClientToServer, at, 1, decoder.FIN, sid, "", 0)
	}
	cfg := live.FindingsConfig{LeakAfter: 49500 * time.Millisecond, Churn: -1}
	c.reg.Evaluate(base, cfg) // stream 3 is older than 49.5 s
	c.reg.Evaluate(base.Add(time.Second), cfg)
	var upd *live.Record
	recs, _ := c.reg.Frames(live.Query{}, nil)
	for i := range recs {
		if recs[i].Kind == live.FindingUpdated {
			upd = &recs[i]
		}
	}
	if upd == nil {
		t.Fatal("no finding-updated record: the test's leak did not grow")
	}
	c.now = base.Add(time.Second)
	screen := screenOf(c.model(t, 160, 45))
	if !strings.Contains(screen, "UPDATED LEAK warning: the server never closes its streams: 2 half-closed by the client") {
		t.Errorf("the update is not shown as a line of its own:\n%s", screen)
	}
	th := &theme{styles: newStyles(true), loc: time.UTC}
	info := strings.Join(detailInfo(th, upd, 120), "\n")
	for _, w := range []string{"finding-updated LEAK (warning) · session 1", "2 half-closed by the client", "streams 3 5"} {
		if !strings.Contains(info, w) {
			t.Errorf("the update's detail lacks %q:\n%s", w, info)
		}
	}
}

// TestFindingSeverityChangeShown: a PROTOCOL finding that opened critical
// (only the client had sent HTTP) and became a warning (the server
// answered in HTTP) reads in the frames pane as an UPDATED line saying
// both, and so does its detail.
func TestFindingSeverityChangeShown(t *testing.T) {
	c := newCapture(live.Config{})
	s := c.open("127.0.0.1:51234", "127.0.0.1:9000", base.Add(-time.Minute))
	var req, resp decoder.Header
	copy(req[:], "GET / HT")
	copy(resp[:], "HTTP/1.1")
	cfg := live.FindingsConfig{Churn: -1}
	s.Violation(live.ClientToServer, base.Add(-2*time.Second), &decoder.Violation{Code: decoder.BadVersion, Header: req})
	c.reg.Evaluate(base.Add(-time.Second), cfg)
	s.Violation(live.ServerToClient, base.Add(-time.Second/2), &decoder.Violation{Code: decoder.BadVersion, Header: resp})
	c.reg.Evaluate(base, cfg)
	var upd *live.Record
	recs, _ := c.reg.Frames(live.Query{}, nil)
	for i := range recs {
		if recs[i].Kind == live.FindingUpdated {
			upd = &recs[i]
		}
	}
	if upd == nil || upd.Finding.Severity != live.Warning || upd.Was != live.Critical {
		t.Fatalf("update %+v: want the PROTOCOL finding's change from critical to warning", upd)
	}
	screen := screenOf(c.model(t, 160, 45))
	if !strings.Contains(screen, "UPDATED PROTOCOL now warning (was critical): the client sent an HTTP request") {
		t.Errorf("the change of severity is not shown:\n%s", screen)
	}
	th := &theme{styles: newStyles(true), loc: time.UTC}
	if info := strings.Join(detailInfo(th, upd, 120), "\n"); !strings.Contains(info, "finding-updated PROTOCOL (warning, was critical)") {
		t.Errorf("the update's detail does not say the change:\n%s", info)
	}
}

// TestFindingsNarrowEvidence: at 80×24 the findings' rows give their
// evidence the cells the code, sess, sid and state columns do not need, so
// what tells the rows apart shows: which side never closes its streams.
// Before, the code column kept 16 cells for "LEAK" and the evidence read
// "the server never clos…".
func TestFindingsNarrowEvidence(t *testing.T) {
	m := press(findingsFixture().model(t, 80, 24), "!")
	checkFits(t, m, 80, 24)
	screen := screenOf(m)
	for _, want := range []string{
		"▶warn LEAK            1   3 ←      50s open     the server never closes its ",
		"stream 7: the client's write",
	} {
		if !strings.Contains(screen, want) {
			t.Errorf("the findings pane at 80×24 lacks %q:\n%s", want, screen)
		}
	}
}

// TestFilterFindsFindings: /LEAK lists the LEAK finding's records, as a
// finding's code is what a user reads in the findings pane; sid:5 finds
// the LEAK that counts stream 5 beside the stream's frames. Before, /LEAK
// said "nothing in history matches LEAK yet".
func TestFilterFindsFindings(t *testing.T) {
	c := findingsFixture()
	m := c.model(t, 160, 45)
	m = press(m, "/")
	m = typeText(m, "LEAK")
	m = press(m, "enter")
	screen := screenOf(m)
	if strings.Contains(screen, "nothing in history matches") || !strings.Contains(screen, "FINDING LEAK warning: ") {
		t.Errorf("/LEAK does not list the LEAK finding's record:\n%s", screen)
	}
	recs, _ := c.reg.Frames(live.Query{Match: func(r *live.Record) bool {
		return r.Kind == live.FindingOpened && r.Finding.Code.String() == "LEAK"
	}}, nil)
	if len(recs) == 0 {
		t.Fatal("the fixture's history has no LEAK opened")
	}
	leak := &recs[0]
	th := &theme{styles: newStyles(true), loc: time.UTC}
	if info := strings.Join(detailInfo(th, leak, 120), "\n"); !strings.Contains(info, "/session:1 sid:3 shows the stream's frames and the findings that name it") {
		t.Errorf("the LEAK record's detail does not say how to see its streams:\n%s", info)
	}
	for _, tc := range []struct {
		expr string
		want bool
	}{
		{"LEAK", true}, {"leak", true}, {`"LEAK"`, false}, {"WINDOW_STALL", false},
		{"sid:5", true}, {"sid:3", true}, {"sid:7", false}, {"LEAK session:1 dir:<", true}, {"LEAK session:2", false}, {"cmd:psh", false},
	} {
		f, err := parseFilter(tc.expr)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.match(leak); got != tc.want {
			t.Errorf("filter %s on the LEAK's record (streams %v): %v, want %v", tc.expr, leak.Finding.StreamIDs, got, tc.want)
		}
	}
}

// TestFilterSidZeroSessionLevel: sid:0 picks a session's session-level
// frames (smux NOP, yamux ping and GoAway), not the findings that name no
// stream: the fixture's PROTOCOL finding, whose Stream is 0, matches
// neither sid:0 nor sid:3, and PROTOCOL still finds it. Before, sid:0
// matched every finding record that names no stream (PROTOCOL,
// KEEPALIVE, VERSION_MISMATCH, CHURN).
func TestFilterSidZeroSessionLevel(t *testing.T) {
	c := findingsFixture()
	recs, _ := c.reg.Frames(live.Query{Match: func(r *live.Record) bool {
		return findingOf(r) != nil && r.Finding.Code == live.CodeProtocol
	}}, nil)
	if len(recs) != 2 {
		t.Fatalf("the fixture's history has %d PROTOCOL records, want opened and resolved", len(recs))
	}
	for _, tc := range []struct {
		expr string
		want bool
	}{{"sid:0", false}, {"sid:3", false}, {"PROTOCOL", true}, {"PROTOCOL session:3", true}} {
		f, err := parseFilter(tc.expr)
		if err != nil {
			t.Fatal(err)
		}
		for i := range recs {
			if got := f.match(&recs[i]); got != tc.want {
				t.Errorf("filter %s on the PROTOCOL %v record: %v, want %v", tc.expr, recs[i].Kind, got, tc.want)
			}
		}
	}
	// A session-level frame still matches sid:0.
	nop := &live.Record{Kind: live.FrameRecord, Session: 1, Header: decoder.MakeHeader(1, decoder.NOP, 0, 0)}
	if f, _ := parseFilter("sid:0"); !f.match(nop) {
		t.Error("sid:0 does not match a NOP frame")
	}
}

// leakTwo records into s streams 3 and 5, 5 s apart from at: each a
// RAND asked, answered and half-closed by the client, which the server
// never closes.
func (c *capture) leakTwo(s *live.Session, at time.Time) {
	const c2s, s2c = live.ClientToServer, live.ServerToClient
	for i, sid := range []uint32{3, 5} {
		at := at.Add(time.Duration(i) * 5 * time.Second)
		c.frame(s, c2s, at, 1, decoder.SYN, sid, "", 0)
		c.frame(s, c2s, at.Add(10*time.Microsecond), 1, decoder.PSH, sid, "RAND", 0)
		c.frame(s, s2c, at.Add(90*time.Microsecond), 1, decoder.PSH, sid, "\x00\x00\x00\x00\x00\x00\x00\x2a", 0)
		c.frame(s, c2s, at.Add(120*time.Microsecond), 1, decoder.FIN, sid, "", 0)
	}
}

// TestFilterResolvedLeak: a LEAK's FINDING and UPDATED lines name the
// streams it counted then (sids, the oldest 32), and match sid:N for
// each; its RESOLVED line names those its latest such line named, and
// matches sid:N for each of them too, as the README says.
func TestFilterResolvedLeak(t *testing.T) {
	c := newCapture(live.Config{History: 1000})
	at := base.Add(-50 * time.Second)
	cfg := live.FindingsConfig{LeakAfter: 10 * time.Second}
	s := c.open("127.0.0.1:51234", "127.0.0.1:9000", at)
	c.leakTwo(s, at)
	c.reg.Evaluate(base.Add(-time.Second), cfg)
	s.End(base, live.EOF, nil)
	c.reg.Evaluate(base, cfg)
	recs, _ := c.reg.Frames(live.Query{Match: func(r *live.Record) bool {
		return findingOf(r) != nil && r.Finding.Code == live.CodeLeak
	}}, nil)
	if len(recs) != 2 || recs[0].Kind != live.FindingOpened || recs[1].Kind != live.FindingResolved {
		t.Fatalf("LEAK records %v, want opened and resolved", recs)
	}
	for _, tc := range []struct {
		expr   string
		rec    int
		want   bool
		reason string
	}{
		{"sid:3", 0, true, "it counts stream 3, the oldest"},
		{"sid:5", 0, true, "it counts stream 5"},
		{"sid:3", 1, true, "the finding names stream 3, the oldest it counted"},
		{"sid:5", 1, true, "a RESOLVED line lists the streams its latest FINDING or UPDATED line listed"},
	} {
		f, err := parseFilter(tc.expr)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.match(&recs[tc.rec]); got != tc.want {
			t.Errorf("filter %s on the LEAK's %v record (stream %d, streams %v): %v, want %v: %s",
				tc.expr, recs[tc.rec].Kind, recs[tc.rec].Finding.Stream, recs[tc.rec].Finding.StreamIDs, got, tc.want, tc.reason)
		}
	}
}

// TestSearchFindsChurn: /CHURN finds the CHURN finding's record, of no
// one session, which no frames pane shows: the search selects the
// finding in the findings list and leaves the sessions pane where it
// was; n goes on past it, not back to it. Before, the search kept only
// records of a session, and /CHURN said "nothing in history matches
// CHURN yet" while the finding was open.
func TestSearchFindsChurn(t *testing.T) {
	c := churned()
	m := c.model(t, 120, 30)
	before := m.sessions.id
	m = press(m, "/")
	m = typeText(m, "CHURN")
	m = press(m, "enter")
	screen := screenOf(m)
	if strings.Contains(screen, "nothing in history matches") {
		t.Fatalf("/CHURN finds nothing:\n%s", screen)
	}
	if m.overlay != overlayFindings || !strings.Contains(cursorRow(paneBox(screen, "Findings")), "warn CHURN") {
		t.Fatalf("/CHURN: overlay %s, the findings list's cursor not on CHURN:\n%s", m.overlay, screen)
	}
	if !strings.Contains(screen, "finding-opened CHURN, of no one session: selected in the findings list") {
		t.Errorf("/CHURN does not say where it went:\n%s", screen)
	}
	if m.sessions.id != before || m.sessions.id == 0 && before != 0 {
		t.Errorf("/CHURN moved the sessions pane from session %d to %d", before, m.sessions.id)
	}
	m = press(m, "n")
	if screen := screenOf(m); !strings.Contains(screen, "no more frames match CHURN") {
		t.Errorf("n after /CHURN's only record does not say there are no more:\n%s", screen)
	}
}

// TestStillOpenAtStop: a finding resolved only because muxtop stopped
// watching its session reads STILL-OPEN in the frames pane, as in plain
// output, not RESOLVED: at 2 a.m. RESOLVED reads as fixed.
func TestStillOpenAtStop(t *testing.T) {
	th := &theme{styles: newStyles(true), loc: time.UTC}
	for _, tc := range []struct {
		unwatched bool
		want      string
	}{{false, "RESOLVED LEAK warning: "}, {true, "STILL-OPEN LEAK warning: "}} {
		f := &live.Finding{Code: live.CodeLeak, Severity: live.Warning, Text: "1 stream open and idle", Unwatched: tc.unwatched}
		r := &live.Record{Kind: live.FindingResolved, Session: 1, At: base, Finding: f}
		if got := frameLine(th, r, 120, false, false, newFrameCols(120, false), nil); !strings.Contains(got, tc.want) {
			t.Errorf("unwatched %v: the frames line %q does not say %q", tc.unwatched, got, tc.want)
		}
	}
}

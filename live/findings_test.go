package live_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/wirekind"
)

// sec returns t0 plus s seconds.
func sec(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

// feedAt feeds frames at time at, keeping the script's offsets.
func (sc *script) feedAt(at time.Time, ws ...wire) {
	for _, w := range ws {
		f := frame(sc.ver, w, sc.off[w.dir])
		sc.s.Record(w.dir, at, f)
		sc.off[w.dir] += f.Size()
	}
}

// findingRecords returns the finding records in reg's history.
func findingRecords(reg *live.Registry) []live.Record {
	var out []live.Record
	for _, r := range allRecords(reg) {
		if r.Kind == live.FindingOpened || r.Kind == live.FindingResolved {
			out = append(out, r)
		}
	}
	return out
}

// describeRecords lists records for a failure message.
func describeRecords(recs []live.Record) string {
	var b strings.Builder
	for _, r := range recs {
		f := r.Finding
		fmt.Fprintf(&b, "\n  %s %s session %d stream %d dir %v(%v) %q", r.Kind, f.Code, f.Session, f.Stream, f.Dir, f.HasDir, f.Text)
	}
	return b.String()
}

// expect checks that the finding records are exactly want, in order:
// "+CODE" for an opening, "-CODE" for a resolution.
func expect(t *testing.T, reg *live.Registry, want ...string) []live.Record {
	t.Helper()
	recs := findingRecords(reg)
	var got []string
	for _, r := range recs {
		sign := "+"
		if r.Kind == live.FindingResolved {
			sign = "-"
		}
		got = append(got, sign+r.Finding.Code.String())
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("finding records %v, want %v:%s", got, want, describeRecords(recs))
	}
	return recs
}

func TestFindingLeak(t *testing.T) {
	reg := live.New(live.Config{})
	sc := openSession(reg, 1)
	// Stream 3: the server answers and never closes; 5: closed both ways;
	// 7: the client never closes; 9: open both ways.
	sc.feedAt(sec(0), syn(c2s, 3), psh(c2s, 3, "RAND"), psh(s2c, 3, "12345678"), fin(c2s, 3))
	sc.feedAt(sec(1), syn(c2s, 5), psh(c2s, 5, "RAND"), fin(c2s, 5), fin(s2c, 5))
	sc.feedAt(sec(2), syn(c2s, 7), psh(s2c, 7, "x"), fin(s2c, 7))
	sc.feedAt(sec(3), syn(c2s, 9), psh(s2c, 9, "x"))
	cfg := live.FindingsConfig{LeakAfter: 10 * time.Second, Churn: -1}
	reg.Evaluate(sec(9), cfg)
	expect(t, reg)
	// The scans are spread over a second: by then every kind shows.
	for s := 13.0; s < 14.2; s += 0.1 {
		reg.Evaluate(sec(s), cfg)
	}
	recs := expect(t, reg, "+LEAK", "+LEAK", "+LEAK")
	byDir := map[string]*live.Finding{}
	for _, r := range recs {
		f := r.Finding
		key := "none"
		if f.HasDir {
			key = f.Dir.Sender().String()
		}
		byDir[key] = f
		if f.Session != sc.s.ID() || f.Severity != live.Warning || r.Session != sc.s.ID() {
			t.Errorf("finding %+v: wrong session or severity", f)
		}
	}
	if f := byDir["server"]; f == nil || f.Stream != 3 || f.Evidence.Count != 1 ||
		!strings.HasPrefix(f.Text, "the server never closes its streams: 1 half-closed by the client and idle 10 s or more, oldest 1") ||
		!strings.Contains(f.Advice, "Close() on the server's stream") || !f.Since.Equal(sec(0)) {
		t.Errorf("server-side leak: %+v", f)
	}
	if f := byDir["client"]; f == nil || f.Stream != 7 || !strings.HasPrefix(f.Text, "the client never closes its streams: 1 half-closed by the server") {
		t.Errorf("client-side leak: %+v", f)
	}
	if f := byDir["none"]; f == nil || f.Stream != 9 || !strings.HasPrefix(f.Text, "1 stream open and idle 10 s or more with no FIN from either side") || !strings.Contains(f.Text, "opened by the client") {
		t.Errorf("open-both-ways leak: %+v", f)
	}
	snap := reg.Snapshot()
	if len(snap.Findings) != 3 || snap.FindingCounts[live.Warning] != 3 || snap.FindingsOpened != 3 || len(snap.FindingsOf(sc.s.ID())) != 3 {
		t.Errorf("snapshot findings %d, counts %v, opened %d", len(snap.Findings), snap.FindingCounts, snap.FindingsOpened)
	}
	// The server closes stream 3: that leak resolves, and its record says why.
	sc.feedAt(sec(15), fin(s2c, 3))
	reg.Evaluate(sec(15.5), cfg)
	recs = expect(t, reg, "+LEAK", "+LEAK", "+LEAK", "-LEAK")
	if r := recs[3]; r.Finding.Stream != 3 || r.Detail == "" || !r.Finding.Resolved.Equal(sec(15.5)) || r.Finding.ID != byDir["server"].ID {
		t.Errorf("resolution %+v", r.Finding)
	}
	// The session ends: the rest resolve.
	sc.s.End(sec(16), live.EOF, nil)
	reg.Evaluate(sec(16.1), cfg)
	recs = expect(t, reg, "+LEAK", "+LEAK", "+LEAK", "-LEAK", "-LEAK", "-LEAK")
	if d := recs[5].Detail; !strings.Contains(d, "session ended") {
		t.Errorf("resolution after the end says %q", d)
	}
	if snap := reg.Snapshot(); len(snap.Findings) != 0 || len(snap.Resolved) != 3 {
		t.Errorf("after the end: %d open, %d resolved", len(snap.Findings), len(snap.Resolved))
	}
}

func TestFindingLeakCountsAndUpdates(t *testing.T) {
	reg := live.New(live.Config{})
	sc := openSession(reg, 1)
	for i := range 50 {
		sid := uint32(3 + 2*i)
		sc.feedAt(sec(float64(i)/10), syn(c2s, sid), psh(c2s, sid, "RAND"), psh(s2c, sid, "12345678"), fin(c2s, sid))
	}
	cfg := live.FindingsConfig{LeakAfter: 5 * time.Second, Churn: -1}
	var opened live.Finding
	for s := 5.0; s < 16; s += 0.1 {
		reg.Evaluate(sec(s), cfg)
		if snap := reg.Snapshot(); opened.ID == 0 && len(snap.Findings) == 1 {
			opened = *snap.Findings[0]
		}
	}
	expect(t, reg, "+LEAK")
	// It opened with the first stream to cross the threshold, and counted
	// the others as they crossed it.
	if opened.Evidence.Count != 1 || !opened.Opened.Equal(sec(5)) {
		t.Errorf("opened: %+v", opened)
	}
	snap := reg.Snapshot()
	if len(snap.Findings) != 1 {
		t.Fatalf("open findings %d", len(snap.Findings))
	}
	// Ages are worded again in steps of 5 s between 10 s and a minute.
	f := snap.Findings[0]
	if f.ID != opened.ID || f.Evidence.Count != 50 || f.Evidence.Age < 15*time.Second || !strings.Contains(f.Text, "50 half-closed by the client and idle 5.0 s or more, oldest 15 s") {
		t.Errorf("updated leak: count %d, age %v, %q", f.Evidence.Count, f.Evidence.Age, f.Text)
	}
}

func TestFindingWindowStall(t *testing.T) {
	reg := live.New(live.Config{})
	sc := openSession(reg, 2)
	data := strings.Repeat("x", 1000)
	sc.feedAt(sec(0), syn(c2s, 3), psh(c2s, 3, "BULK"), upd(c2s, 3, 0, 1000), psh(s2c, 3, data))
	cfg := live.FindingsConfig{StallAfter: 2 * time.Second, Churn: -1}
	reg.Evaluate(sec(1.9), cfg)
	expect(t, reg)
	reg.Evaluate(sec(2.1), cfg)
	recs := expect(t, reg, "+WINDOW_STALL")
	f := recs[0].Finding
	if f.Stream != 3 || f.Dir != s2c || !f.HasDir || f.Evidence.Bytes != 1000 || f.Evidence.Count != 1 ||
		f.Text != "stream 3: the server's writer has been held by a full 1000 B window for 2.1 s — its reader, the client, is not reading, or has read less than half the window since its latest UPD (smux v2 sends one only then, and at its first read)" {
		t.Errorf("stall: %+v", f)
	}
	sc.feedAt(sec(3), upd(c2s, 3, 1000, 1000))
	reg.Evaluate(sec(3.1), cfg)
	expect(t, reg, "+WINDOW_STALL", "-WINDOW_STALL")
}

// TestNoLeakWhileStalled: a stream whose writer a full window holds stays
// open because its reader does not read, which WINDOW_STALL names; it is
// no LEAK, whose advice (a side forgot Close) would mislead. A stream
// open as long beside it that nothing holds is a LEAK, counted alone and
// named; once the window opens, the held stream counts as a leak too,
// once idle LeakAfter since the UPD that opened it (a frame on it).
// Before, the stalled stream was a LEAK of its own at LeakAfter.
func TestNoLeakWhileStalled(t *testing.T) {
	cfg := live.FindingsConfig{StallAfter: 2 * time.Second, LeakAfter: 30 * time.Second, Churn: -1}
	data := strings.Repeat("x", 1000)

	reg := live.New(live.Config{})
	sc := openSession(reg, 2)
	sc.feedAt(sec(0), syn(c2s, 3), psh(c2s, 3, "BULK"), upd(c2s, 3, 0, 1000), psh(s2c, 3, data))
	for _, at := range []float64{2.1, 10, 31, 45} {
		sc.feedAt(sec(at-0.05), nop(c2s), nop(s2c))
		reg.Evaluate(sec(at), cfg)
	}
	expect(t, reg, "+WINDOW_STALL")

	reg = live.New(live.Config{})
	sc = openSession(reg, 2)
	sc.worked(sec(0)) // streams 3 and 5 are no setup streams
	sc.feedAt(sec(0), syn(c2s, 3), psh(c2s, 3, "BULK"), upd(c2s, 3, 0, 1000), psh(s2c, 3, data))
	sc.feedAt(sec(1), syn(c2s, 5), psh(c2s, 5, "IDLE"), psh(s2c, 5, "ok"))
	for _, at := range []float64{2.1, 10, 30.5, 31.5} {
		sc.feedAt(sec(at-0.05), nop(c2s), nop(s2c))
		reg.Evaluate(sec(at), cfg)
	}
	recs := expect(t, reg, "+WINDOW_STALL", "+LEAK")
	if f := recs[1].Finding; f.Stream != 5 || f.Evidence.Count != 1 {
		t.Errorf("LEAK beside a stall: stream %d, count %d; want stream 5, count 1", f.Stream, f.Evidence.Count)
	}
	sc.feedAt(sec(40), upd(c2s, 3, 1000, 1000))
	reg.Evaluate(sec(40.1), cfg)
	expect(t, reg, "+WINDOW_STALL", "+LEAK", "-WINDOW_STALL")
	if f := reg.Snapshot().Findings[0]; f.Stream != 5 || f.Evidence.Count != 1 {
		t.Errorf("as the window opened: stream %d count %d, want stream 5 alone: the UPD is a frame on stream 3", f.Stream, f.Evidence.Count)
	}
	for _, at := range []float64{50, 60, 70.05} {
		sc.feedAt(sec(at-0.05), nop(c2s), nop(s2c))
		reg.Evaluate(sec(at), cfg)
	}
	f := reg.Snapshot().Findings[0]
	if f.Code != live.CodeLeak || f.Stream != 3 || f.Evidence.Count != 2 {
		t.Errorf("after the window opened: %s stream %d count %d, want LEAK of stream 3 (the oldest), count 2", f.Code, f.Stream, f.Evidence.Count)
	}
}

// TestNoLeakWhileUnanswered: streams the server never accepted stay open
// because nobody serves them, which UNANSWERED names; they are no LEAK,
// whose advice (a side forgot Close) would mislead. A stream the server
// answered and nobody closed, beside them, is a LEAK, counted alone.
// Before, the unanswered streams were a LEAK too at LeakAfter (a helper
// saw it on real smux v2 and yamux servers that never accept).
func TestNoLeakWhileUnanswered(t *testing.T) {
	cfg := live.FindingsConfig{UnansweredAfter: 5 * time.Second, LeakAfter: 30 * time.Second, Churn: -1}
	run := func(answered bool) []live.Record {
		reg := live.New(live.Config{})
		sc := openSession(reg, 1)
		sc.worked(sec(0)) // no stream below is a setup stream
		if answered {
			// Opened before them: an answer on a stream opened after
			// them would show them accepted (smux and yamux accept in
			// SYN order), their silence their handlers'.
			sc.feedAt(sec(0), syn(c2s, 1), psh(c2s, 1, "RAND"), psh(s2c, 1, "12345678"))
		}
		sc.feedAt(sec(0), syn(c2s, 3), psh(c2s, 3, "HOLD"), syn(c2s, 5), psh(c2s, 5, "RAND"))
		for s := 1.0; s <= 40; s++ {
			sc.feedAt(sec(s), nop(c2s), nop(s2c))
			reg.Evaluate(sec(s+0.5), cfg)
		}
		return findingRecords(reg)
	}
	recs := run(false)
	if len(recs) != 1 || recs[0].Finding.Code != live.CodeUnanswered {
		t.Errorf("never accepted: %d finding records %v, want UNANSWERED alone", len(recs), recs)
	}
	recs = run(true)
	var codes []string
	for _, r := range recs {
		codes = append(codes, r.Finding.Code.String())
		if r.Finding.Code == live.CodeLeak && (r.Finding.Stream != 1 || r.Finding.Evidence.Count != 1) {
			t.Errorf("LEAK beside the unanswered: stream %d, count %d; want stream 1, count 1", r.Finding.Stream, r.Finding.Evidence.Count)
		}
	}
	if strings.Join(codes, " ") != "UNANSWERED LEAK" {
		t.Errorf("with an answered stream left open: %v, want UNANSWERED then LEAK", codes)
	}
}

// TestLeakBesideUnansweredPush: in smux v1 a stream its opener still
// writes on is no UNANSWERED (TestUnansweredPushStream), so UNANSWERED on
// another stream of the same direction does not explain it; nor is it a
// LEAK while it is written on, past LeakAfter: it is in use (a push
// that stops is UNANSWERED's, TestUnansweredPushStream). Before the leak
// clock, the push stream, written every 500 ms, was a LEAK at LeakAfter;
// and before that LEAK left out every unanswered stream of a direction
// whose UNANSWERED held, counted by it or not.
func TestLeakBesideUnansweredPush(t *testing.T) {
	cfg := live.FindingsConfig{UnansweredAfter: 5 * time.Second, LeakAfter: 30 * time.Second, Churn: -1}
	reg := live.New(live.Config{})
	sc := openSession(reg, 1)
	sc.feedAt(sec(0), syn(c2s, 3), psh(c2s, 3, "HOLD"), syn(c2s, 5))
	for s := 0.5; s <= 32; s += 0.5 {
		sc.feedAt(sec(s), psh(c2s, 5, "log line")) // pushed, never answered
		if s == float64(int(s)) {
			sc.feedAt(sec(s), nop(c2s), nop(s2c))
		}
		reg.Evaluate(sec(s+0.25), cfg)
	}
	var codes []string
	for _, r := range findingRecords(reg) {
		f := r.Finding
		codes = append(codes, f.Code.String())
		if f.Code == live.CodeUnanswered && (f.Stream != 3 || f.Evidence.Count != 1) {
			t.Errorf("UNANSWERED: stream %d, count %d; want stream 3 alone", f.Stream, f.Evidence.Count)
		}
	}
	if strings.Join(codes, " ") != "UNANSWERED" {
		t.Errorf("findings %v, want UNANSWERED (stream 3) alone: stream 5, pushed every 500 ms, is in use", codes)
	}
}

// TestStallAfterReaderFIN: a v2 reader that closes its stream without
// reading leaves its writer at a full window that no UPD will open, and
// smux v1.5.55 and later (muxtop's v1.5.58) do not wake a Write blocked
// there at the peer's FIN (writeV2 does not wait on chFinEvent): the
// writer is held until its deadline, its Close or the session's end.
// That is WINDOW_STALL, worded for the FIN, not a LEAK "call Close() …
// when it is done" of a writer that cannot return to call it (before,
// the reader's FIN ended the hold, for smux before v1.5.55, which fails
// that Write with io.EOF: TestStallWriterAfterReaderFINReal on real
// v1.5.58 sessions). The frames are what such a pair sends: the client's
// SYN and "BULK", the server's first 256 KiB in 32 KiB PSHs (no UPD: the
// client never reads), the client's FIN from Close.
func TestStallAfterReaderFIN(t *testing.T) {
	chunk := strings.Repeat("x", 32768)
	cfg := live.FindingsConfig{StallAfter: 2 * time.Second, LeakAfter: 10 * time.Second, Churn: -1}
	stalled := func(reg *live.Registry) int {
		return reg.SnapshotWith(live.SnapshotOptions{StallAfter: cfg.StallAfter, Now: sec(9)}).Stalls
	}
	const finWords = "its reader, the client, sent FIN with 256 KiB unread, and smux v2's Write does not return at the peer's FIN"

	// The client closes before the stall's threshold: the writer is held
	// from its hold on; WINDOW_STALL says so, and no LEAK, however long.
	reg := live.New(live.Config{})
	sc := openSession(reg, 2)
	sc.feedAt(sec(0), syn(c2s, 3), psh(c2s, 3, "BULK"))
	for range 8 {
		sc.feedAt(sec(0.1), psh(s2c, 3, chunk))
	}
	sc.feedAt(sec(0.5), fin(c2s, 3))
	for s := 1.0; s < 20; s += 0.5 {
		reg.Evaluate(sec(s), cfg)
	}
	if recs := expect(t, reg, "+WINDOW_STALL"); recs[0].Finding.Dir != s2c || !strings.Contains(recs[0].Finding.Text, finWords) || !recs[0].Finding.Opened.Equal(sec(2.5)) {
		t.Errorf("stall at %v: %+v", recs[0].At.Sub(t0), recs[0].Finding)
	}
	if n := stalled(reg); n != 1 {
		t.Errorf("%d stalled after the reader's FIN, want 1", n)
	}
	// The server closes, as its Write returned (a deadline): resolved.
	sc.feedAt(sec(20), fin(s2c, 3))
	reg.Evaluate(sec(20.1), cfg)
	expect(t, reg, "+WINDOW_STALL", "-WINDOW_STALL")

	// A stall opened before the reader's FIN holds on across it, its
	// words now the FIN's, told at once (finding-updated).
	reg = live.New(live.Config{})
	sc = openSession(reg, 2)
	sc.feedAt(sec(0), syn(c2s, 3), psh(c2s, 3, "BULK"))
	for range 8 {
		sc.feedAt(sec(0.1), psh(s2c, 3, chunk))
	}
	reg.Evaluate(sec(2.2), cfg)
	expect(t, reg, "+WINDOW_STALL")
	sc.feedAt(sec(3), fin(c2s, 3))
	reg.Evaluate(sec(3.1), cfg)
	expect(t, reg, "+WINDOW_STALL")
	if recs := stallRecords(reg); len(recs) != 2 || recs[1].Kind != live.FindingUpdated || !recs[1].At.Equal(sec(3.1)) || !strings.Contains(recs[1].Finding.Text, finWords) {
		t.Errorf("WINDOW_STALL records %d, want it opened, and updated at the reader's FIN saying so:%s", len(recs), describeRecords(recs))
	}
	if fs := reg.Snapshot().Findings; len(fs) != 1 || !strings.Contains(fs[0].Text, finWords) {
		t.Errorf("open after the reader's FIN: %+v", fs)
	}

	// The reader's FIN came first: the writer's PSHs, which fill the
	// window, are written after it (DATA_AFTER_CLOSE), and hold it there
	// all the same, a UPD that leaves it full or not.
	for _, lastUPD := range []bool{false, true} {
		reg = live.New(live.Config{})
		sc = openSession(reg, 2)
		sc.feedAt(sec(0), syn(c2s, 3), psh(c2s, 3, "BULK"), fin(c2s, 3))
		for range 8 {
			sc.feedAt(sec(0.1), psh(s2c, 3, chunk))
		}
		if lastUPD {
			sc.feedAt(sec(0.2), upd(c2s, 3, 0, 262144))
		}
		for s := 1.0; s < 9; s += 0.5 {
			reg.Evaluate(sec(s), cfg)
		}
		expect(t, reg, "+DATA_AFTER_CLOSE", "+WINDOW_STALL")
		if n := stalled(reg); n != 1 {
			t.Errorf("UPD after the FIN %v: %d stalled, want 1", lastUPD, n)
		}
	}
}

func TestFindingSessionBlocked(t *testing.T) {
	for _, ver := range []uint8{1, 2} {
		t.Run(fmt.Sprintf("v%d", ver), func(t *testing.T) {
			reg := live.New(live.Config{})
			sc := openSession(reg, ver)
			big := strings.Repeat("x", 30000)
			sc.feedAt(sec(0), syn(c2s, 3), psh(c2s, 3, "SINK"), psh(c2s, 3, big), psh(c2s, 3, big), syn(c2s, 5), psh(c2s, 5, "RAND"))
			cfg := live.FindingsConfig{BlockedAfter: 2 * time.Second, UnansweredAfter: time.Second, Churn: -1}
			sc.s.WriteStarted(c2s)
			reg.Evaluate(sec(0.4), cfg)
			reg.Evaluate(sec(0.5), cfg) // seen waiting
			reg.Evaluate(sec(1.5), cfg) // seen waiting since 0.4
			// Keepalive on both sides, so that silence would be noticed.
			sc.feedAt(sec(1), nop(c2s), nop(s2c))
			sc.feedAt(sec(2), nop(s2c))
			reg.Evaluate(sec(2.3), cfg)
			expect(t, reg)
			reg.Evaluate(sec(2.5), cfg)
			recs := expect(t, reg, "+SESSION_BLOCKED")
			f := recs[0].Finding
			if f.Dir != c2s || f.Stream != 3 || f.Evidence.Count != 2 || f.Severity != live.Critical || !f.Since.Equal(sec(0.4)) || f.Evidence.Sign != live.SignWrite {
				t.Errorf("blocked: %+v", f)
			}
			// The client's tap sees its write wait, as it waits behind a
			// server that reads on, slower than the client writes: the
			// text says what the wait means, not that the server stopped.
			want := fmt.Sprintf("session %d is blocked: the client's write to the connection has waited 2.1 s, with 2 streams open; stream 3 ", sc.s.ID())
			slow := " — the server stopped reading, or it (or the path to it) takes the bytes far slower than the client writes them (the kernel wakes a writer held by a full socket buffer only once much of it has drained); one slow reader holds every stream"
			if !strings.HasPrefix(f.Text, want) || !strings.Contains(f.Text, slow) ||
				(ver == 1) != strings.Contains(f.Text, "in v1 one unread or slow stream holds every stream") {
				t.Errorf("text %q, want it to start %q and say %q", f.Text, want, slow)
			}
			// Long silence of the blocked direction is the block, not keepalive;
			// unanswered streams are its consequence. The server still sends.
			for s := 3.0; s < 9; s++ {
				sc.feedAt(sec(s), nop(s2c))
				reg.Evaluate(sec(s+0.5), cfg)
			}
			expect(t, reg, "+SESSION_BLOCKED")
			sc.s.WriteDone(c2s)
			reg.Evaluate(sec(9.1), cfg)
			sc.feedAt(sec(9.1), psh(s2c, 3, "ok"), psh(s2c, 5, "ok"))
			reg.Evaluate(sec(9.2), cfg)
			recs = expect(t, reg, "+SESSION_BLOCKED", "-SESSION_BLOCKED")
			if why := recs[1].Detail; why != "the held write returned" {
				t.Errorf("resolved: %q", why)
			}
		})
	}
}

// TestFindingReaderStopped: the tapped end (here the server, a v1 smux
// whose session-wide buffer filled behind stream 3) stops reading the
// connection. That is SESSION_BLOCKED in the direction it no longer
// reads, naming the stream sent the most; the client's silence that
// follows, and its streams unanswered, are not the client's (no KEEPALIVE,
// no UNANSWERED). Reading again resolves it. An end whose reader waits in
// Read for as long, with the same silence, is the client's KEEPALIVE.
func TestFindingReaderStopped(t *testing.T) {
	receiverStops(t, "stopped", func(sc *script, reg *live.Registry, cfg live.FindingsConfig, stopped bool) {
		sc.s.ReadStarted(c2s)
		if stopped {
			sc.s.ReadDone(c2s) // and no Read after it
		}
		reg.Evaluate(sec(0.4), cfg)
		reg.Evaluate(sec(0.5), cfg) // no read since 0.4
	}, func(sc *script) { sc.s.ReadStarted(c2s) },
		live.SignRead, "the server stopped reading 2.1 s ago, with 2 streams open; stream 5 was sent 29.3 KiB — one slow reader holds every stream",
		"the receiver reads the connection again")
}

// TestFindingZeroWindow: a capture's view of a receiver that stopped
// reading is the zero TCP window it advertises (Session.ReceiveWindow).
// Held closed, it is SESSION_BLOCKED, and the sender's silence is not
// KEEPALIVE nor its streams UNANSWERED; closed for a moment, as a busy
// receiver's is, it is nothing, and the same silence is the sender's.
func TestFindingZeroWindow(t *testing.T) {
	// A reader of 50 KB/s kept a loopback connection's window closed up to
	// 2.25 s: the capture cannot tell it from one that stopped.
	receiverStops(t, "held", func(sc *script, reg *live.Registry, cfg live.FindingsConfig, held bool) {
		sc.s.ReceiveWindow(c2s, true, sec(0.4))
		if !held {
			reg.Evaluate(sec(0.5), cfg)
			sc.s.ReceiveWindow(c2s, false, sec(0.6))
		}
	}, func(sc *script) { sc.s.ReceiveWindow(c2s, false, sec(9.1)) },
		live.SignWindow, "the server's TCP window has been closed for 2.1 s, with 2 streams open; stream 5 was sent 29.3 KiB — the server stopped reading, or reads very slowly (a kernel reopens a closed window only once a segment or more of its buffer is free); one slow reader holds every stream",
		"the receiver's TCP window opened")
}

// TestFindingZeroWindowMoments pins the moments around a closed window
// that TestFindingZeroWindow's script does not reach, at an evaluation at
// which the client's silence and its stream are due: a window closed for
// a moment (less than zeroSettle), still closed or open again, does not
// hide them; a window that stayed closed, open again a moment before,
// does (blockGrace), and no longer a second later.
func TestFindingZeroWindowMoments(t *testing.T) {
	for _, tc := range []struct {
		closed, opened float64 // when the window closed and opened again (0: not)
	}{{2.4, 0}, {2.3, 2.4}, {0.4, 2.4}} {
		t.Run(fmt.Sprintf("closed %v opened %v", tc.closed, tc.opened), func(t *testing.T) {
			reg := live.New(live.Config{})
			sc := openSession(reg, 1)
			sc.feedAt(sec(0), nop(c2s), nop(s2c), syn(c2s, 3), psh(c2s, 3, "RAND"))
			// The client's one NOP, at the start, gives it no cadence:
			// its silence is measured against SilentAfter.
			cfg := live.FindingsConfig{BlockedAfter: 3 * time.Second, UnansweredAfter: time.Second, SilentAfter: 1500 * time.Millisecond, Churn: -1}
			held := tc.closed < 0.5 // closed before the evaluations below: at least zeroSettle
			if held {
				sc.s.ReceiveWindow(c2s, true, sec(tc.closed))
			}
			for s := 0.5; s < 2.4; s += 0.5 {
				sc.feedAt(sec(s), nop(s2c)) // the server still sends
				reg.Evaluate(sec(s), cfg)
			}
			if !held {
				sc.s.ReceiveWindow(c2s, true, sec(tc.closed))
			}
			if tc.opened != 0 {
				sc.s.ReceiveWindow(c2s, false, sec(tc.opened))
			}
			fs := openFindings(reg, sec(2.5), cfg)
			if (fs[live.CodeKeepalive] != nil) == held || (fs[live.CodeUnanswered] != nil) == held || fs[live.CodeSessionBlocked] != nil {
				t.Errorf("findings at 2.5 s %v, want KEEPALIVE and UNANSWERED %v, not SESSION_BLOCKED", fs, !held)
			}
			if held {
				sc.feedAt(sec(3), nop(s2c))
				if fs := openFindings(reg, sec(3.5), cfg); fs[live.CodeKeepalive] == nil || fs[live.CodeUnanswered] == nil {
					t.Errorf("findings at 3.5 s %v, want KEEPALIVE and UNANSWERED: the window opened 1.1 s ago", fs)
				}
			}
		})
	}
}

// receiverStops runs the script of TestFindingReaderStopped and
// TestFindingZeroWindow: at 0.4 s the server, c2s's receiver, stops
// reading the connection as stop makes it, for good if stopped (named
// name in the subtests), while it still sends; resume makes it read again
// at 9.1 s. The finding shows sign, its text saying text after the
// session's number; it is resolved with why.
func receiverStops(t *testing.T, name string, stop func(sc *script, reg *live.Registry, cfg live.FindingsConfig, stopped bool), resume func(sc *script), sign live.BlockedSign, text, why string) {
	t.Helper()
	for _, stopped := range []bool{true, false} {
		t.Run(fmt.Sprintf("%s=%v", name, stopped), func(t *testing.T) {
			reg := live.New(live.Config{})
			sc := openSession(reg, 1)
			big := strings.Repeat("x", 30000)
			// The stream sent the most, 5, is not the oldest.
			sc.feedAt(sec(0), nop(c2s), nop(s2c), syn(c2s, 3), psh(c2s, 3, "RAND"), syn(c2s, 5), psh(c2s, 5, "SINK"), psh(c2s, 5, big))
			// The client's one NOP, at the start, gives it no cadence:
			// its silence is measured against SilentAfter.
			cfg := live.FindingsConfig{BlockedAfter: 2 * time.Second, UnansweredAfter: time.Second, SilentAfter: 1500 * time.Millisecond, Churn: -1}
			stop(sc, reg, cfg, stopped)
			for s := 1.0; s < 2.4; s += 0.5 {
				sc.feedAt(sec(s), nop(s2c)) // the server still sends
				reg.Evaluate(sec(s), cfg)
			}
			if !stopped {
				// The receiver reads, and nothing comes: the client's
				// silence and its streams unanswered, as ever.
				fs := openFindings(reg, sec(2.5), cfg)
				if fs[live.CodeKeepalive] == nil || fs[live.CodeUnanswered] == nil || fs[live.CodeSessionBlocked] != nil {
					t.Errorf("findings %v, want KEEPALIVE and UNANSWERED, not SESSION_BLOCKED", fs)
				}
				return
			}
			expect(t, reg)
			reg.Evaluate(sec(2.5), cfg)
			recs := expect(t, reg, "+SESSION_BLOCKED")
			f := recs[0].Finding
			if f.Dir != c2s || f.Stream != 5 || f.Evidence.Bytes != 30004 || f.Evidence.Count != 2 || !f.Since.Equal(sec(0.4)) || f.Evidence.Sign != sign ||
				!strings.HasPrefix(f.Text, fmt.Sprintf("session %d is blocked: %s (in v1 one unread or slow stream holds every stream", sc.s.ID(), text)) {
				t.Errorf("blocked: %+v, want its text to go on %q", f, text)
			}
			for s := 3.0; s < 9; s++ {
				sc.feedAt(sec(s), nop(s2c))
				reg.Evaluate(sec(s+0.5), cfg)
			}
			expect(t, reg, "+SESSION_BLOCKED")
			resume(sc)
			sc.feedAt(sec(9.1), nop(c2s), psh(s2c, 3, "ok"), psh(s2c, 5, "ok"))
			reg.Evaluate(sec(9.2), cfg)
			recs = expect(t, reg, "+SESSION_BLOCKED", "-SESSION_BLOCKED")
			if got := recs[1].Detail; got != why {
				t.Errorf("resolved: %q, want %q", got, why)
			}
		})
	}
}

func TestFindingBlockedNeedsAStoppedReader(t *testing.T) {
	// A read that returns before every evaluation, so that each finds none
	// in progress but one since the last, is never a stopped reader; nor
	// is one in progress across an evaluation.
	expectNeverBlocked(t, func(s *live.Session, i int, evaluate func()) {
		s.ReadStarted(c2s)
		if i < 30 {
			s.ReadDone(c2s)
			evaluate()
			return
		}
		evaluate()
		s.ReadDone(c2s)
	})
}

func TestFindingBlockedNeedsAWaitingWrite(t *testing.T) {
	// Writes that come and go are never blocked, however many there are.
	expectNeverBlocked(t, func(s *live.Session, i int, evaluate func()) {
		s.WriteStarted(c2s)
		evaluate()
		s.WriteDone(c2s)
	})
}

// TestFindingBlockedNeedsAWriteThatMovesNothing: one write in progress
// for all 5 s that moves bytes between every two evaluations
// (WriteProgress, as a tap writes a big buffer a chunk at a time over a
// slow path) is never blocked. A tapped yamux end writes a whole stream
// window in one Write: with 16 MiB windows over a 5 MB/s path, a healthy
// transfer's every write took 3 s, and SESSION_BLOCKED opened, "the
// client's write to the connection has waited 2.0 s".
func TestFindingBlockedNeedsAWriteThatMovesNothing(t *testing.T) {
	expectNeverBlocked(t, func(s *live.Session, i int, evaluate func()) {
		if i == 0 {
			s.WriteStarted(c2s)
		}
		evaluate()
		s.WriteProgress(c2s)
	})
}

// TestFindingBlockedWriteStopsMoving: a write that moved bytes for 2 s and
// then moves none is blocked from the first evaluation that saw it stand,
// in the words of any held write, and resolves as the held write returns.
func TestFindingBlockedWriteStopsMoving(t *testing.T) {
	reg := live.New(live.Config{})
	sc := openSession(reg, 1)
	sc.feedAt(sec(0), syn(c2s, 3), psh(c2s, 3, strings.Repeat("x", 30000)))
	cfg := live.FindingsConfig{BlockedAfter: time.Second, Churn: -1}
	sc.s.WriteStarted(c2s)
	for i := range 20 {
		reg.Evaluate(sec(float64(i)/10), cfg)
		sc.s.WriteProgress(c2s)
	}
	for i := 20; i < 30; i++ {
		reg.Evaluate(sec(float64(i)/10), cfg)
	}
	expect(t, reg)
	reg.Evaluate(sec(3), cfg)
	recs := expect(t, reg, "+SESSION_BLOCKED")
	f := recs[0].Finding
	if f.Dir != c2s || f.Stream != 3 || f.Evidence.Sign != live.SignWrite || !f.Since.Equal(sec(2)) {
		t.Errorf("blocked: %+v, want c2s, stream 3, sign write, since %v", f, sec(2))
	}
	want := fmt.Sprintf("session %d is blocked: the client's write to the connection has waited 1.0 s, with 1 stream open; stream 3 was sent 29.3 KiB — the server stopped reading, or it (or the path to it) takes the bytes far slower than the client writes them", sc.s.ID())
	if !strings.HasPrefix(f.Text, want) {
		t.Errorf("text %q, want it to start %q", f.Text, want)
	}
	sc.s.WriteDone(c2s)
	reg.Evaluate(sec(3.1), cfg)
	recs = expect(t, reg, "+SESSION_BLOCKED", "-SESSION_BLOCKED")
	if why := recs[1].Detail; why != "the held write returned" {
		t.Errorf("resolved: %q", why)
	}
}

// expectNeverBlocked evaluates a session with stream 3 open every 100 ms
// for 5 s, BlockedAfter 1 s, with step's reads or writes around each
// evaluation (the i-th), and expects no finding.
func expectNeverBlocked(t *testing.T, step func(s *live.Session, i int, evaluate func())) {
	t.Helper()
	reg := live.New(live.Config{})
	sc := openSession(reg, 1)
	sc.feedAt(sec(0), syn(c2s, 3))
	cfg := live.FindingsConfig{BlockedAfter: time.Second, Churn: -1}
	for i := range 50 {
		step(sc.s, i, func() { reg.Evaluate(sec(float64(i)/10), cfg) })
	}
	expect(t, reg)
}

func TestFindingVersionMismatch(t *testing.T) {
	reg := live.New(live.Config{})
	sc := openSession(reg, 2)
	sc.feedAt(sec(0), syn(c2s, 3), psh(c2s, 3, "RAND"))
	v1nop := decoder.MakeHeader(1, decoder.NOP, 0, 0)
	if sc.s.Record(s2c, sec(1), &decoder.Frame{Header: v1nop}) {
		t.Fatal("a v1 frame after v2 was recorded")
	}
	sc.s.Violation(s2c, sec(1), &decoder.Violation{Code: decoder.VersionMismatch, Header: v1nop, Want: 2})
	// The client's next frame is refused too: still one finding.
	sc.s.Violation(c2s, sec(1.05), &decoder.Violation{Code: decoder.VersionMismatch, Header: decoder.MakeHeader(2, decoder.NOP, 0, 0), Want: 1})
	reg.Evaluate(sec(1.1), live.FindingsConfig{UnansweredAfter: time.Millisecond, Churn: -1})
	recs := expect(t, reg, "+VERSION_MISMATCH")
	f := recs[0].Finding
	if f.Evidence.Versions != [2]uint8{2, 1} || f.Dir != s2c ||
		!strings.HasPrefix(f.Text, "the client speaks v2, the server v1") || !strings.HasPrefix(f.Advice, "set smux.Config.Version to the same value on both ends") {
		t.Errorf("mismatch: %+v", f)
	}
}

// TestFindingViolationOfAnEndedSession: a framing violation is an event.
// A session that ends on one before any evaluation sees it, as a client
// does that closes when smux says "invalid protocol", still has its
// finding: opened by the first evaluation that sees the session ended,
// resolved by the next. One seen while the session was live resolves when
// it ends, once; a session that ends clean opens nothing.
func TestFindingViolationOfAnEndedSession(t *testing.T) {
	cfg := live.FindingsConfig{Churn: -1}
	v1nop := decoder.MakeHeader(1, decoder.NOP, 0, 0)
	mismatch := func(reg *live.Registry) *script {
		sc := openSession(reg, 2)
		sc.feedAt(sec(0), syn(c2s, 3), psh(c2s, 3, "RAND"))
		sc.s.Violation(s2c, sec(1), &decoder.Violation{Code: decoder.VersionMismatch, Header: v1nop, Want: 2})
		return sc
	}

	reg := live.New(live.Config{})
	sc := mismatch(reg)
	sc.s.End(sec(1.00002), live.LocalClose, nil)
	reg.Evaluate(sec(1.05), cfg)
	recs := expect(t, reg, "+VERSION_MISMATCH")
	if f := recs[0].Finding; f.Session != sc.s.ID() || f.Evidence.Versions != [2]uint8{2, 1} || !f.Since.Equal(sec(1)) {
		t.Errorf("the finding of the ended session: %+v", f)
	}
	reg.Evaluate(sec(1.15), cfg)
	reg.Evaluate(sec(1.25), cfg)
	recs = expect(t, reg, "+VERSION_MISMATCH", "-VERSION_MISMATCH")
	if !strings.HasPrefix(recs[1].Finding.Why, "the session ended") {
		t.Errorf("resolved because %q", recs[1].Finding.Why)
	}

	reg = live.New(live.Config{})
	sc = mismatch(reg)
	reg.Evaluate(sec(1.05), cfg)
	sc.s.End(sec(1.1), live.LocalClose, nil)
	reg.Evaluate(sec(1.15), cfg)
	reg.Evaluate(sec(1.25), cfg)
	expect(t, reg, "+VERSION_MISMATCH", "-VERSION_MISMATCH")

	reg = live.New(live.Config{})
	sc = openSession(reg, 1)
	sc.feedAt(sec(0), syn(c2s, 3), psh(c2s, 3, "RAND"), psh(s2c, 3, "answer!!"), fin(c2s, 3), fin(s2c, 3))
	sc.s.End(sec(0.5), live.LocalClose, nil)
	reg.Evaluate(sec(1), cfg)
	expect(t, reg)
}

func TestFindingProtocol(t *testing.T) {
	for _, tc := range []struct {
		bytes string
		code  decoder.Code
		guess wirekind.Kind
		want  string
	}{
		{"GET /ran", decoder.BadVersion, wirekind.HTTPRequest, "the client sent an HTTP request, not smux (BAD_VERSION at offset 0): it is talking HTTP to the smux port"},
		{"\x16\x03\x01\x02\x00\x01\x00\x01", decoder.BadVersion, wirekind.TLS, "the client sent TLS, not smux"},
		{"\x00\x00\x00\x00\x00\x00\x00\x00", decoder.BadVersion, wirekind.Zeros, "the client sent zeros, not smux"},
		// A Consul client's RPC type byte and yamux, at a port taken for smux.
		{"\x04\x00\x01\x00\x01\x00\x00\x00", decoder.BadVersion, wirekind.PrefixedYamux, "the client sent a byte and then a yamux header, not smux (BAD_VERSION at offset 0): it sent one byte and then a yamux header: a prefix before the mux"},
		{"\x00\x01\x00\x02\x00\x00\x00\x01", decoder.BadVersion, wirekind.Yamux, "the client sent a yamux header, not smux (BAD_VERSION at offset 0): it speaks yamux, not smux"},
	} {
		reg := live.New(live.Config{})
		sc := openSession(reg, 1)
		var h decoder.Header
		copy(h[:], tc.bytes)
		sc.s.Violation(c2s, sec(0), &decoder.Violation{Code: tc.code, Header: h})
		// A violation halts the session: its silence afterwards is not KEEPALIVE.
		sc.feedAt(sec(1), nop(s2c))
		reg.Evaluate(sec(60), live.FindingsConfig{Churn: -1})
		recs := expect(t, reg, "+PROTOCOL")
		f := recs[0].Finding
		if f.Evidence.Guess != tc.guess || f.Evidence.Violation != tc.code || f.Dir != c2s || !strings.HasPrefix(f.Text, tc.want) {
			t.Errorf("%q: %+v", tc.bytes, f)
		}
		// Both ends may be fine: muxtop was not told the protocol.
		yamuxLike := tc.guess == wirekind.Yamux || tc.guess == wirekind.PrefixedYamux
		if strings.Contains(f.Advice, "--protocol yamux") != yamuxLike {
			t.Errorf("%q: advice %q", tc.bytes, f.Advice)
		}
	}
	// A stream cut inside a frame is how a connection ends, not a protocol problem.
	reg := live.New(live.Config{})
	sc := openSession(reg, 1)
	sc.s.Violation(c2s, sec(0), &decoder.Violation{Code: decoder.Truncated, Got: 3})
	reg.Evaluate(sec(1), live.FindingsConfig{Churn: -1})
	expect(t, reg)
}

// TestFindingProtocolUncheckedByOlderSmux: a NOP with a length, or a UPD
// whose length is not 8, stops only smux v1.5.56 and later; v1.5.55 and
// older read on (session.go of v1.5.55, recvLoop: case cmdNOP does not
// look at the length; case cmdUPD reads 8 bytes whatever it says). The
// PROTOCOL finding's advice must not say that every smux stops reading.
func TestFindingProtocolUncheckedByOlderSmux(t *testing.T) {
	for _, tc := range []struct {
		bytes string
		code  decoder.Code
	}{
		{"\x01\x03\x04\x00\x00\x00\x00\x00", decoder.LengthNotZero}, // v1 NOP, length 4
		{"\x02\x04\x04\x00\x03\x00\x00\x00", decoder.BadUPDLength},  // v2 UPD, length 4, sid 3
		{"\x01\x04\x08\x00\x03\x00\x00\x00", decoder.UPDInV1},       // v1 UPD, sid 3
	} {
		reg := live.New(live.Config{})
		sc := openSession(reg, 1)
		var h decoder.Header
		copy(h[:], tc.bytes)
		sc.s.Violation(c2s, sec(0), &decoder.Violation{Code: tc.code, Header: h})
		reg.Evaluate(sec(1), live.FindingsConfig{Churn: -1})
		recs := expect(t, reg, "+PROTOCOL")
		if a := recs[0].Finding.Advice; !strings.Contains(a, tc.code.SmuxReaction()) || !strings.Contains(a, "and older") {
			t.Errorf("%v: advice %q does not say which versions stop reading", tc.code, a)
		}
	}
}

func TestFindingKeepalive(t *testing.T) {
	reg := live.New(live.Config{})
	sc := openSession(reg, 1)
	sc.feedAt(sec(10), nop(c2s), nop(s2c))
	sc.feedAt(sec(20), nop(c2s))
	cfg := live.FindingsConfig{Churn: -1}
	reg.Evaluate(sec(24.9), cfg) // the server's last frame was 14.9 s ago: within 1.5 × 10 s
	expect(t, reg)
	reg.Evaluate(sec(25.1), cfg)
	recs := expect(t, reg, "+KEEPALIVE")
	f := recs[0].Finding
	if f.Dir != s2c || f.Evidence.Every != 10*time.Second || f.Evidence.Limit != 15*time.Second || !f.Since.Equal(sec(10)) ||
		!strings.HasPrefix(f.Text, "the server has sent nothing, not even a keepalive NOP, for 15 s; keepalive NOPs come every 10 s") {
		t.Errorf("keepalive: %+v", f)
	}
	sc.s.End(sec(40), live.LocalClose, nil)
	var ended live.Record
	for _, r := range allRecords(reg) {
		if r.Kind == live.SessionEnded {
			ended = r
		}
	}
	if !strings.Contains(ended.Detail, "after the server sent nothing for 30 s (KEEPALIVE)") {
		t.Errorf("session-ended detail %q does not say keepalive ended it", ended.Detail)
	}
	reg.Evaluate(sec(40.1), cfg)
	expect(t, reg, "+KEEPALIVE", "-KEEPALIVE")
}

// TestFindingKeepaliveClosedSide: a side that closed its direction (its
// TCP FIN, which a capture shows while the other side stays open) sends
// nothing more by choice: its silence is not KEEPALIVE. The other side's
// silence still is. Found reading a capture of the keepalive fault: the
// client, its keepalive expired, closed; the frozen server did not.
func TestFindingKeepaliveClosedSide(t *testing.T) {
	reg := live.New(live.Config{})
	sc := openSession(reg, 1)
	sc.feedAt(sec(0), nop(c2s), nop(s2c))
	sc.feedAt(sec(1), nop(c2s), nop(s2c))
	sc.feedAt(sec(2), nop(c2s))
	sc.s.DirectionEnded(c2s, sec(2))
	cfg := live.FindingsConfig{Churn: -1}
	reg.Evaluate(sec(10), cfg)
	recs := expect(t, reg, "+KEEPALIVE")
	if f := recs[0].Finding; f.Dir != s2c {
		t.Errorf("KEEPALIVE on %v, want only the server's silence (s2c)", f.Dir)
	}
}

// TestFindingKeepaliveSilentThenClosed: a side silent past its keepalive
// that then closes its direction was silent: its KEEPALIVE stays open
// until the session ends, whose end record then tells the silence. Its
// FIN is not a frame that arrived. Only the silence after its end is its
// choice: a side that closed in time opens nothing.
func TestFindingKeepaliveSilentThenClosed(t *testing.T) {
	cfg := live.FindingsConfig{Churn: -1}
	reg := live.New(live.Config{})
	sc := openSession(reg, 1)
	sc.feedAt(sec(0), nop(c2s), nop(s2c))
	sc.feedAt(sec(1), nop(c2s), nop(s2c))
	for s := 2.0; s <= 8; s++ {
		sc.feedAt(sec(s), nop(c2s))
		reg.Evaluate(sec(s), cfg)
	}
	// smux checks at every KeepAliveTimeout tick whether anything came
	// since the previous one: it closes 30-60 s into a silence, not at 30 s.
	if recs := expect(t, reg, "+KEEPALIVE"); len(recs) == 1 && !strings.Contains(recs[0].Finding.Text, "within 1-2 KeepAliveTimeouts (30-60 s by default)") {
		t.Errorf("text %q: smux closes such a session within 1-2 KeepAliveTimeouts", recs[0].Finding.Text)
	}
	sc.s.DirectionEnded(s2c, sec(8.5)) // the frozen server's FIN, at last
	reg.Evaluate(sec(9), cfg)
	expect(t, reg, "+KEEPALIVE")
	sc.s.End(sec(9.5), live.EOF, nil)
	reg.Evaluate(sec(10), cfg)
	recs, _ := reg.Frames(live.Query{From: 1}, nil)
	var ended string
	for _, r := range recs {
		if r.Kind == live.SessionEnded {
			ended = r.Detail
		}
	}
	// The silent server closed first: its silence up to that close is
	// said, not that keepalive ended the session (the client, tapped,
	// read the server's close).
	if want := "the server, silent for 7.5 s (KEEPALIVE), closed its side of the connection first, 1.0 s before the end"; ended != want {
		t.Errorf("session-ended detail %q, want %q", ended, want)
	}

	// The same server closing within its keepalive's limit: nothing.
	reg = live.New(live.Config{})
	sc = openSession(reg, 1)
	sc.feedAt(sec(0), nop(c2s), nop(s2c))
	sc.feedAt(sec(1), nop(c2s), nop(s2c))
	sc.s.DirectionEnded(s2c, sec(2))
	for s := 2.0; s <= 8; s++ {
		sc.feedAt(sec(s), nop(c2s))
		reg.Evaluate(sec(s), cfg)
	}
	expect(t, reg)
}

func TestFindingKeepaliveCadence(t *testing.T) {
	cfg := live.FindingsConfig{Churn: -1, LeakAfter: time.Hour}
	t.Run("no keepalive either way", func(t *testing.T) {
		reg := live.New(live.Config{})
		sc := openSession(reg, 1)
		sc.feedAt(sec(0), syn(c2s, 3), psh(c2s, 3, "x"), psh(s2c, 3, "y"))
		reg.Evaluate(sec(600), cfg)
		expect(t, reg)
	})
	t.Run("a direction that never sent borrows the other's cadence", func(t *testing.T) {
		// It may keep a longer interval than the other's: it is allowed
		// smux's default at least (BorrowedKeepAlive).
		reg := live.New(live.Config{})
		sc := openSession(reg, 1)
		for s := 1.0; s <= 14; s++ {
			sc.feedAt(sec(s), nop(c2s))
			reg.Evaluate(sec(s+0.5), cfg)
		}
		expect(t, reg)
		limit := live.SilenceLimit(live.BorrowedKeepAlive)
		reg.Evaluate(sec(limit.Seconds()+0.1), cfg)
		recs := expect(t, reg, "+KEEPALIVE")
		f := recs[0].Finding
		if f.Dir != s2c || f.Evidence.Every != time.Second || f.Evidence.Limit != limit || !f.Evidence.Borrowed {
			t.Errorf("keepalive: %+v", f)
		}
		// A warning: it may keep a longer interval still, and sends its
		// first NOP that far in (critical 15 s into every such session
		// before, and MuxtopKeepaliveSilence fired).
		if want := "the server has sent nothing, not even a keepalive NOP, for 15 s, though the client's NOPs come every 1.0 s: it has sent no NOP of its own yet, so its keepalive may only be slower than the client's"; f.Severity != live.Warning || !strings.HasPrefix(f.Text, want) {
			t.Errorf("%v, text %q; want a warning beginning %q", f.Severity, f.Text, want)
		}
		// Silent as long as smux's default KeepAliveTimeout: critical,
		// told at once.
		for s := 16.0; s < live.BorrowedCritical.Seconds(); s++ {
			reg.Evaluate(sec(s), cfg)
		}
		if u := updatesOf(reg, live.CodeKeepalive); len(u) != 0 {
			t.Errorf("updated before %v of silence: %+v", live.BorrowedCritical, u[0].Finding)
		}
		reg.Evaluate(sec(live.BorrowedCritical.Seconds()+0.1), cfg)
		u := updatesOf(reg, live.CodeKeepalive)
		if len(u) != 1 {
			t.Fatalf("%d finding-updated records at %v of silence, want 1", len(u), live.BorrowedCritical)
		}
		g := u[0].Finding
		if want := "the server has sent nothing, not even a keepalive NOP, for 30 s, though the client's NOPs come every 1.0 s, and no NOP of its own yet: it is frozen or gone"; g.Severity != live.Critical || !strings.HasPrefix(g.Text, want) {
			t.Errorf("%v, text %q; want critical, beginning %q", g.Severity, g.Text, want)
		}
		// Not "at which a client at the defaults closes" it: smux's check
		// runs every KeepAliveTimeout, and a real client stayed open 50 s
		// into such a silence (frozen2_smux2.pcap).
		for _, text := range []string{f.Text, g.Text} {
			if want := "closes a session that received nothing within 30-60 s"; !strings.Contains(text, want) {
				t.Errorf("text %q does not say %q", text, want)
			}
		}
	})
	t.Run("a joined capture that saw one NOP of the silent side", func(t *testing.T) {
		// Its keepalive is on, its interval unknown (a joined capture's
		// first NOP gives no cadence): not "no NOP of its own yet".
		reg := live.New(live.Config{})
		sc := openSession(reg, 1)
		sc.s.Resynced(c2s, sec(0), 0, 0, 0, "joined mid-stream at offset 0, 0 bytes skipped")
		sc.s.Resynced(s2c, sec(0), 0, 0, 0, "joined mid-stream at offset 0, 0 bytes skipped")
		sc.feedAt(sec(0.2), nop(c2s))
		for at := 1.0; at <= 17; at++ {
			sc.feedAt(sec(at), nop(s2c))
			reg.Evaluate(sec(at+0.5), cfg)
		}
		recs := expect(t, reg, "+KEEPALIVE")
		f := recs[0].Finding
		if want := "its keepalive is on (the capture, joined mid-session, has one NOP of its)"; f.Severity != live.Warning || !strings.Contains(f.Text, want) || strings.Contains(f.Text, "no NOP of its own yet") {
			t.Errorf("%v %q; want a warning that says %q", f.Severity, f.Text, want)
		}
	})
	t.Run("a side that ended its direction stays a warning", func(t *testing.T) {
		// Only its silence up to its end counts: it never reached 30 s.
		reg := live.New(live.Config{})
		sc := openSession(reg, 2)
		sc.s.DirectionEnded(c2s, sec(16))
		for at := 1.0; at <= 45; at++ {
			sc.feedAt(sec(at), nop(s2c))
			reg.Evaluate(sec(at+0.5), cfg)
		}
		recs := expect(t, reg, "+KEEPALIVE")
		if f := recs[0].Finding; f.Severity != live.Warning {
			t.Errorf("opened %v, want a warning", f.Severity)
		}
		for _, u := range updatesOf(reg, live.CodeKeepalive) {
			if u.Finding.Severity != live.Warning {
				t.Errorf("updated %v at %v: %q; want a warning (the client's silence up to its end is 16 s)", u.Finding.Severity, u.At, u.Finding.Text)
			}
		}
	})
	t.Run("a side whose first NOP comes after the borrowed limit", func(t *testing.T) {
		// The client's NOPs every 10 s, smux's default; the server's every
		// 25 s, its first 25 s into the session: a warning from 15 s,
		// resolved by that NOP, never critical.
		for _, ver := range []uint8{1, 2} {
			reg := live.New(live.Config{})
			sc := openSession(reg, ver)
			for s := 0.5; s <= 60; s += 0.5 {
				if int(s*2)%20 == 0 {
					sc.feedAt(sec(s), nop(c2s))
				}
				if int(s*2)%50 == 0 {
					sc.feedAt(sec(s), nop(s2c))
				}
				reg.Evaluate(sec(s), cfg)
			}
			recs := expect(t, reg, "+KEEPALIVE", "-KEEPALIVE")
			if f := recs[0].Finding; f.Severity != live.Warning || f.Dir != s2c {
				t.Errorf("v%d: opened %v on %v, want a warning of the server", ver, f.Severity, f.Dir)
			}
			if f := recs[1].Finding; f.Severity != live.Warning || !recs[1].At.Equal(sec(25)) {
				t.Errorf("v%d: resolved %v at %v, want a warning at 25 s (the server's first NOP)", ver, f.Severity, recs[1].At)
			}
			if u := updatesOf(reg, live.CodeKeepalive); len(u) != 0 {
				t.Errorf("v%d: updated: %+v", ver, u[0].Finding)
			}
		}
	})
	t.Run("a side whose interval is longer than the other's", func(t *testing.T) {
		// The client's NOPs every second, the server's every 5 s, its
		// first 5 s into the session: nothing is wrong. A KEEPALIVE opened
		// 2.1 s into every such session before.
		for _, ver := range []uint8{1, 2} {
			reg := live.New(live.Config{})
			sc := openSession(reg, ver)
			for s := 1.0; s <= 30; s++ {
				sc.feedAt(sec(s), nop(c2s))
				if int(s)%5 == 0 {
					sc.feedAt(sec(s), nop(s2c))
				}
				reg.Evaluate(sec(s+0.5), cfg)
			}
			expect(t, reg)
		}
	})
	t.Run("SilentAfter overrides the cadence", func(t *testing.T) {
		reg := live.New(live.Config{})
		sc := openSession(reg, 1)
		sc.feedAt(sec(10), nop(c2s), nop(s2c))
		reg.Evaluate(sec(19), live.FindingsConfig{SilentAfter: 8 * time.Second, Churn: -1})
		expect(t, reg, "+KEEPALIVE", "+KEEPALIVE")
	})
	t.Run("a short cadence allows a NOP NOPLateness late", func(t *testing.T) {
		// NOPs every second both ways; the server's next is late by more
		// than half an interval (a loaded host, a retransmission), less
		// than NOPLateness: no finding. Later still, it is silence.
		reg := live.New(live.Config{})
		sc := openSession(reg, 1)
		sc.feedAt(sec(1), nop(c2s), nop(s2c))
		sc.feedAt(sec(2), nop(c2s), nop(s2c))
		sc.feedAt(sec(3), nop(c2s))
		sc.feedAt(sec(3.6), nop(c2s))
		reg.Evaluate(sec(3.6), cfg)
		expect(t, reg)
		reg.Evaluate(sec(3.95), cfg)
		expect(t, reg)
		reg.Evaluate(sec(4.05), cfg)
		recs := expect(t, reg, "+KEEPALIVE")
		if f := recs[0].Finding; f.Dir != s2c || f.Evidence.Every != time.Second || f.Evidence.Limit != 2*time.Second || !f.Since.Equal(sec(2)) {
			t.Errorf("keepalive: %+v", f)
		}
		if got := live.SilenceLimit(time.Second); got != time.Second+live.NOPLateness {
			t.Errorf("SilenceLimit(1 s) = %v", got)
		}
		if got := live.SilenceLimit(10 * time.Second); got != 15*time.Second {
			t.Errorf("SilenceLimit(10 s) = %v, want 1.5 times", got)
		}
	})
	t.Run("a late NOP lengthens the cadence, never shortens it", func(t *testing.T) {
		reg := live.New(live.Config{})
		sc := openSession(reg, 1)
		sc.feedAt(sec(10), nop(c2s), nop(s2c))
		sc.feedAt(sec(20), nop(c2s), nop(s2c))
		sc.feedAt(sec(21), nop(c2s), nop(s2c)) // a burst after a delay
		reg.Evaluate(sec(35), cfg)
		expect(t, reg)
	})
}

func TestFindingUnanswered(t *testing.T) {
	cfg := live.FindingsConfig{UnansweredAfter: 5 * time.Second, Churn: -1}
	reg := live.New(live.Config{})
	sc := openSession(reg, 1)
	sc.feedAt(sec(0), syn(c2s, 3), psh(c2s, 3, "RAND"), psh(s2c, 3, "answer"))
	for i := range 4 {
		sid := uint32(5 + 2*i)
		sc.feedAt(sec(0.1+float64(i)), syn(c2s, sid), psh(c2s, sid, "RAND"))
	}
	reg.Evaluate(sec(6), cfg)
	expect(t, reg) // the server has said nothing since: that is keepalive's to judge
	sc.feedAt(sec(7), nop(s2c))
	reg.Evaluate(sec(7.5), cfg)
	recs := expect(t, reg, "+UNANSWERED")
	f := recs[0].Finding
	if f.Dir != c2s || f.Stream != 5 || f.Evidence.Count != 3 || !f.Since.Equal(sec(0.1)) ||
		!strings.HasPrefix(f.Text, "3 streams opened by the client got no answer for 5.0 s or more since the client last wrote on them (the oldest, stream 5, first written on 7.4 s ago) while the server still sends: the server is not accepting them, or reads them and never writes back") {
		t.Errorf("unanswered: %+v", f)
	}
	sc.feedAt(sec(8), fin(s2c, 5), fin(s2c, 7), fin(s2c, 9), fin(s2c, 11))
	reg.Evaluate(sec(8.1), cfg)
	expect(t, reg, "+UNANSWERED", "-UNANSWERED")
}

// TestNoUnansweredWhileStalled: a v2 stream the server accepted and never
// reads holds its writer at a full window with no frame back: WINDOW_STALL
// names it, and it is no UNANSWERED ("the server is not accepting them"),
// which a helper saw open beside it, critical, once the server's keepalive
// NOP showed it alive.
func TestNoUnansweredWhileStalled(t *testing.T) {
	cfg := live.FindingsConfig{UnansweredAfter: 5 * time.Second, StallAfter: 2 * time.Second, Churn: -1}
	reg := live.New(live.Config{})
	sc := openSession(reg, 2)
	sc.feedAt(sec(0), syn(c2s, 3))
	chunk := strings.Repeat("x", 32768)
	for range 8 { // the whole 256 KiB window
		sc.feedAt(sec(0.1), psh(c2s, 3, chunk))
	}
	for s := 1.0; s <= 12; s++ {
		sc.feedAt(sec(s), nop(c2s), nop(s2c))
		reg.Evaluate(sec(s+0.5), cfg)
	}
	expect(t, reg, "+WINDOW_STALL")
}

// TestUnansweredPushStream: in smux v1 a reader sends nothing when it
// reads, so a stream its opener keeps writing on (a log stream, an
// upload) waits for no answer: no UNANSWERED while the opener writes,
// though the server never writes back. Before, a healthy push stream was
// UNANSWERED ("the server is not accepting them") 5 s in. Once the opener
// has written nothing for UnansweredAfter, v1 cannot tell a served stream
// from one nobody accepted, and says both. In v2 the server's first read
// sends a UPD: answered.
func TestUnansweredPushStream(t *testing.T) {
	cfg := live.FindingsConfig{UnansweredAfter: 5 * time.Second, Churn: -1}
	for _, ver := range []uint8{1, 2} {
		reg := live.New(live.Config{})
		sc := openSession(reg, ver)
		sc.feedAt(sec(0), syn(c2s, 3))
		if ver == 2 {
			sc.feedAt(sec(0.05), upd(s2c, 3, 0, 262144))
		}
		for s := 0.1; s < 12; s += 0.1 {
			sc.feedAt(sec(s), psh(c2s, 3, "log line"))
			if int(s*10)%10 == 0 {
				sc.feedAt(sec(s), nop(c2s), nop(s2c))
			}
			reg.Evaluate(sec(s+0.05), cfg)
		}
		expect(t, reg)
		for s := 13.0; s <= 18; s++ {
			sc.feedAt(sec(s), nop(c2s), nop(s2c))
			reg.Evaluate(sec(s+0.05), cfg)
		}
		if ver == 1 {
			expect(t, reg, "+UNANSWERED")
		} else {
			expect(t, reg)
		}
	}
}

func TestFindingDataAfterClose(t *testing.T) {
	cfg := live.FindingsConfig{Churn: -1}
	reg := live.New(live.Config{})
	sc := openSession(reg, 1)
	sc.feedAt(sec(0), syn(c2s, 9), psh(c2s, 9, "CLOS"), fin(s2c, 9), psh(c2s, 9, "more"), psh(c2s, 9, "more"), psh(c2s, 9, "more"))
	reg.Evaluate(sec(0.1), cfg)
	recs := expect(t, reg, "+DATA_AFTER_CLOSE")
	f := recs[0].Finding
	if f.Dir != c2s || f.Stream != 9 || f.Evidence.Count != 3 || f.Evidence.Bytes != 12 ||
		!strings.HasPrefix(f.Text, "the client wrote 3 frames (12 B) to stream 9 after the server had sent FIN: smux discards them if the server called Close") {
		t.Errorf("after close: %+v", f)
	}
	// CloseWrite is advised only where it helps: smux has it from v1.5.55,
	// and before v1.5.58 the data after it is still lost when the writer's
	// FIN comes before it is read (v1.5.55's fin() ends a stream closed
	// both ways and drops its buffer: with real v1.5.55 and v1.5.56 pairs,
	// write, CloseWrite, read the answer got EOF in 10 of 12 streams, v1
	// and v2; 4 of 4 with v1.5.58).
	if !strings.Contains(f.Advice, "v1.5.55") || !strings.Contains(f.Advice, "v1.5.58") {
		t.Errorf("advice %q: CloseWrite without the versions it helps in", f.Advice)
	}
	// More on another stream: the same finding counts them.
	sc.feedAt(sec(5), syn(c2s, 11), fin(s2c, 11), psh(c2s, 11, "x"))
	reg.Evaluate(sec(5.1), cfg)
	if f := reg.Snapshot().Findings[0]; f.Evidence.Count != 4 || f.Evidence.Streams != 2 || f.Stream != 9 || f.ID != recs[0].Finding.ID {
		t.Errorf("after more: %+v", f)
	}
	reg.Evaluate(sec(15.2), cfg)
	expect(t, reg, "+DATA_AFTER_CLOSE", "-DATA_AFTER_CLOSE")
	// A new incident opens a new finding that counts only its own frames.
	sc.feedAt(sec(20), syn(c2s, 13), fin(s2c, 13), psh(c2s, 13, "late"))
	reg.Evaluate(sec(20.1), cfg)
	recs = expect(t, reg, "+DATA_AFTER_CLOSE", "-DATA_AFTER_CLOSE", "+DATA_AFTER_CLOSE")
	if f := recs[2].Finding; f.Evidence.Count != 1 || f.Stream != 13 {
		t.Errorf("second incident: %+v", f)
	}
}

// TestFindingDataAfterCloseNamesFirst: late frames on several streams
// between two evaluations (a server answering every half-closed stream
// within one 100 ms tick) open one finding that names the first of them,
// as its text says ("first stream N"), and dates it from that one.
func TestFindingDataAfterCloseNamesFirst(t *testing.T) {
	cfg := live.FindingsConfig{Churn: -1}
	reg := live.New(live.Config{})
	sc := openSession(reg, 1)
	reg.Evaluate(sec(0), cfg)
	for i, sid := range []uint32{3, 5, 7} {
		at := sec(0.01 * float64(i+1))
		sc.feedAt(at, syn(c2s, sid), psh(c2s, sid, "data"), fin(c2s, sid), psh(s2c, sid, "late"))
	}
	reg.Evaluate(sec(0.1), cfg)
	recs := expect(t, reg, "+DATA_AFTER_CLOSE")
	f := recs[0].Finding
	if f.Dir != s2c || f.Stream != 3 || f.Evidence.Streams != 3 || !f.Since.Equal(sec(0.01)) ||
		!strings.Contains(f.Text, "to 3 streams (first stream 3)") {
		t.Errorf("stream %d since %v: %q", f.Stream, f.Since, f.Text)
	}
}

// TestFindingDataAfterCloseWrite: in v2 the wire can tell CloseWrite from
// Close. A client that half-closes with CloseWrite and reads the answer
// sends a UPD at its first read, consuming bytes sent after its FIN: they
// are delivered, and no DATA_AFTER_CLOSE opens. One that closed with Close
// sends none, and the finding opens once lateGrace (500 ms) has passed;
// so does one whose UPD consumed only what came before its FIN. Before,
// each opened DATA_AFTER_CLOSE (two helpers met it on their first
// half-closing client).
func TestFindingDataAfterCloseWrite(t *testing.T) {
	cfg := live.FindingsConfig{Churn: -1}
	for _, tc := range []struct {
		name string
		read []wire // what the client sends once the answer came
		want []string
	}{
		{"closewrite-read", []wire{upd(c2s, 3, 8, 262144)}, nil},
		{"close", nil, []string{"+DATA_AFTER_CLOSE"}},
		{"upd-of-earlier-bytes", []wire{upd(c2s, 3, 4, 262144)}, []string{"+DATA_AFTER_CLOSE"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := live.New(live.Config{})
			sc := openSession(reg, 2)
			sc.feedAt(sec(0), syn(c2s, 3), psh(c2s, 3, "ECHO"))
			if tc.name == "upd-of-earlier-bytes" {
				sc.feedAt(sec(0.05), psh(s2c, 3, "EARL"), upd(c2s, 3, 4, 262144))
			}
			sc.feedAt(sec(0.1), fin(c2s, 3))
			sc.feedAt(sec(0.2), upd(s2c, 3, 4, 262144), psh(s2c, 3, "ECHOECHO"), fin(s2c, 3))
			reg.Evaluate(sec(0.25), cfg)
			sc.feedAt(sec(0.3), tc.read...)
			for _, at := range []float64{0.4, 0.69} {
				reg.Evaluate(sec(at), cfg)
				expect(t, reg) // within lateGrace: nothing yet
			}
			reg.Evaluate(sec(0.75), cfg)
			reg.Evaluate(sec(2), cfg)
			recs := expect(t, reg, tc.want...)
			if len(recs) > 0 {
				if f := recs[0].Finding; f.Stream != 3 || f.Dir != s2c || f.Evidence.Count != 1 || f.Evidence.Bytes != 8 {
					t.Errorf("finding: stream %d dir %v count %d bytes %d, want stream 3, s2c, 1 frame of 8 B", f.Stream, f.Dir, f.Evidence.Count, f.Evidence.Bytes)
				}
			}
		})
	}
}

// TestFindingDataHeldBeforeClose: a capture that joined the session
// mid-stream frames the server's reply only once a chain of headers is
// found, after the client's FIN that came later; the reply keeps its
// time, before the FIN, and is not DATA_AFTER_CLOSE. A reply that came
// after the FIN is.
func TestFindingDataHeldBeforeClose(t *testing.T) {
	cfg := live.FindingsConfig{Churn: -1}
	reg := live.New(live.Config{})
	sc := openSession(reg, 1)
	sc.feedAt(sec(0), syn(c2s, 3), psh(c2s, 3, "RAND"))
	sc.feedAt(sec(0.3), fin(c2s, 3))
	sc.feedAt(sec(0.2), psh(s2c, 3, "12345678"), fin(s2c, 3)) // held, recorded late
	reg.Evaluate(sec(0.4), cfg)
	expect(t, reg)
	if st := sc.snap(t, reg).Stream(3); st == nil || st.State != live.Closed {
		t.Errorf("stream 3: %+v, want closed", st)
	}
	sc.feedAt(sec(1), syn(c2s, 5), psh(c2s, 5, "RAND"), fin(c2s, 5))
	sc.feedAt(sec(1.2), psh(s2c, 5, "12345678"))
	reg.Evaluate(sec(1.3), cfg)
	expect(t, reg, "+DATA_AFTER_CLOSE")
}

func TestFindingChurn(t *testing.T) {
	reg := live.New(live.Config{})
	cfg := live.FindingsConfig{Churn: 20}
	for i := range 25 {
		start := t0.Add(time.Duration(i) * 100 * time.Millisecond)
		s := reg.Open(live.SessionInfo{Client: "127.0.0.1:1", Server: "127.0.0.1:2"}, start)
		s.End(start.Add(50*time.Millisecond), live.LocalClose, nil)
		if i == 18 {
			reg.Evaluate(sec(1.9), cfg)
			expect(t, reg)
		}
	}
	reg.Evaluate(sec(2.5), cfg)
	recs := expect(t, reg, "+CHURN")
	f := recs[0].Finding
	if f.Session != 0 || f.Evidence.Count != 25 || f.Evidence.Age != 50*time.Millisecond ||
		f.Text != "25 sessions opened and ended in the last 10 s, living 50 ms each on average: a client redialing in a loop, or clients that dial a session per request" {
		t.Errorf("churn: %+v", f)
	}
	if got := reg.Snapshot().FindingsOf(0); len(got) != 1 {
		t.Errorf("FindingsOf(0) = %v", got)
	}
	reg.Evaluate(sec(12.5), cfg)
	expect(t, reg, "+CHURN", "-CHURN")
	// Long-lived sessions ending together are a shutdown, not churn.
	for i := range 30 {
		reg.Open(live.SessionInfo{}, sec(20)).End(sec(40+float64(i)/100), live.EOF, nil)
	}
	reg.Evaluate(sec(41), cfg)
	expect(t, reg, "+CHURN", "-CHURN")
}

// TestChurnAtTheThreshold: a client that redials every 520 ms, its
// sessions living 50 ms, has 19 or 20 of them in CHURN's 10 s window,
// right at --churn 20: CHURN opened and resolved as each session entered
// or left the window, a train of findings about one problem. It opens
// once and holds down to 80 % of the threshold: it resolves once fewer
// than 16 sessions are in the window, 2.2 s after the last one ended.
func TestChurnAtTheThreshold(t *testing.T) {
	reg := live.New(live.Config{})
	cfg := live.FindingsConfig{Churn: 20}
	var resolved time.Time
	for ms := 0; ms <= 45000; ms += 10 {
		at := t0.Add(time.Duration(ms) * time.Millisecond)
		if ms%520 == 0 && ms < 30000 {
			s := reg.Open(live.SessionInfo{Client: "127.0.0.1:1", Server: "127.0.0.1:2"}, at.Add(-50*time.Millisecond))
			s.End(at, live.LocalClose, nil)
		}
		reg.Evaluate(at, cfg)
		if recs := findingRecords(reg); resolved.IsZero() && len(recs) == 2 {
			resolved = recs[1].At
		}
	}
	recs := expect(t, reg, "+CHURN", "-CHURN")
	if len(recs) == 2 {
		if want := "fewer than 16 sessions (80% of the threshold, 20) opened and ended in the last 10 s"; recs[1].Detail != want {
			t.Errorf("resolved: %q, want %q", recs[1].Detail, want)
		}
		// The last session ended at 29.64 s: at 31.79 s the window still
		// holds the 16 that started from 21.79 s on, at 31.80 s 15.
		if want := t0.Add(31800 * time.Millisecond); !resolved.Equal(want) {
			t.Errorf("resolved at %v, want %v", resolved.Sub(t0), want.Sub(t0))
		}
	}
}

func TestFindingForgottenSession(t *testing.T) {
	reg := live.New(live.Config{EndedSessions: 1})
	sc := openSession(reg, 1)
	sc.feedAt(sec(0), syn(c2s, 3), fin(c2s, 3))
	cfg := live.FindingsConfig{LeakAfter: time.Second, Churn: -1}
	for s := 1.0; s < 2.5; s += 0.1 {
		reg.Evaluate(sec(s), cfg)
	}
	expect(t, reg, "+LEAK")
	// Ended and forgotten before the next evaluation: the finding resolves all the same.
	sc.s.End(sec(3), live.EOF, nil)
	reg.Open(live.SessionInfo{}, sec(3)).End(sec(3), live.EOF, nil)
	if reg.Session(sc.s.ID()) != nil {
		t.Fatal("the session was not forgotten")
	}
	reg.Evaluate(sec(3.1), cfg)
	expect(t, reg, "+LEAK", "-LEAK")
	if n := len(reg.Snapshot().Findings); n != 0 {
		t.Errorf("%d findings still open", n)
	}
}

func TestFindingStrings(t *testing.T) {
	for c := live.FindingCode(1); c < live.NumFindingCodes; c++ {
		if strings.HasPrefix(c.String(), "UNKNOWN") || c.Severity().String() == "unknown" {
			t.Errorf("code %d: %s %s", c, c, c.Severity())
		}
	}
	if live.FindingCode(99).String() != "UNKNOWN_FINDING_99" || live.Severity(9).String() != "unknown" {
		t.Error("unknown codes and severities are not named so")
	}
	if live.FindingOpened.String() != "finding-opened" || live.FindingResolved.String() != "finding-resolved" {
		t.Error("finding record kinds are misnamed")
	}
}

func TestLatency(t *testing.T) {
	reg := live.New(live.Config{})
	sc := openSession(reg, 1)
	for i := range 100 {
		sid := uint32(3 + 2*i)
		sc.feedAt(sec(float64(i)), syn(c2s, sid), psh(c2s, sid, "RAND"))
		sc.feedAt(sec(float64(i)).Add(time.Duration(i+1)*time.Millisecond), psh(s2c, sid, "12345678"))
	}
	// A stream with no answer yet counts nothing.
	sc.feedAt(sec(200), syn(c2s, 999))
	snap := reg.Snapshot()
	l := snap.Session(sc.s.ID()).Latency
	near := func(got, want time.Duration) bool { return got >= want*85/100 && got <= want*115/100 }
	if l.N != 100 || !near(l.P50, 50*time.Millisecond) || !near(l.P99, 99*time.Millisecond) {
		t.Errorf("session latency %+v, want 100 streams, p50 ≈ 50ms, p99 ≈ 99ms", l)
	}
	if snap.Latency != l {
		t.Errorf("snapshot latency %+v, want the only session's %+v", snap.Latency, l)
	}
	if o := reg.SnapshotWith(live.SnapshotOptions{}); o.Latency != (live.Latency{}) {
		t.Errorf("SnapshotWith without Latency merged %+v", o.Latency)
	}
}

// TestEvaluateConcurrent runs Evaluate beside feeders, End and snapshots:
// the race detector checks the locking, and the last evaluation must find
// the leaks the feeders left.
func TestEvaluateConcurrent(t *testing.T) {
	reg := live.New(live.Config{ClosedStreams: 8})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 20 {
			sc := openSession(reg, 2)
			now := time.Now()
			for j := range 200 {
				sid := uint32(3 + 2*j)
				sc.feedAt(now, syn(c2s, sid), psh(c2s, sid, "RAND"), psh(s2c, sid, "x"))
				if j%3 != 0 {
					sc.feedAt(now, fin(c2s, sid), fin(s2c, sid))
				}
				sc.s.WriteStarted(c2s)
				sc.s.WriteDone(c2s)
			}
			if i%2 == 0 {
				sc.s.End(time.Now(), live.EOF, nil)
			}
		}
	}()
	cfg := live.FindingsConfig{LeakAfter: time.Nanosecond, UnansweredAfter: time.Nanosecond, Churn: 1}
	for {
		select {
		case <-done:
			// Not vacuous: the live sessions' unclosed streams are leaks.
			if openFindings(reg, time.Now().Add(time.Minute), cfg)[live.CodeLeak] == nil {
				t.Error("no LEAK open after the last evaluation: the engine evaluated nothing")
			}
			return
		default:
			reg.Evaluate(time.Now().Add(2*time.Second), cfg)
			reg.Snapshot()
		}
	}
}

// TestFindingZeroWindowUnseenStreams: a capture that joined a session
// already blocked sees no stream open, only the receiver's closed window
// and what the receiver still sends, if anything. A reader stops only
// behind a stream it leaves unread, so a session the capture joined
// (incomplete) is SESSION_BLOCKED all the same, naming no stream, in the
// words of its protocol and version (none known when nothing was sent);
// one the capture saw whole, with no stream open, is not blocked by a
// window closed for long.
func TestFindingZeroWindowUnseenStreams(t *testing.T) {
	for _, c := range []struct {
		name      string
		proto     live.Protocol
		joined    bool
		nops      bool   // the server still sends its keepalive
		text, adv string // how the finding's text goes on, and how its advice begins
	}{
		{"smux v1", live.Smux, true, true, " (in v1 one unread or slow stream holds every stream", "read every stream promptly, or close the ones nobody reads; with smux.Config.Version = 2"},
		{"smux, nothing sent", live.Smux, true, false, "", "read every stream promptly, or close the ones nobody reads: smux's session-wide receive buffer (MaxReceiveBuffer) fills behind one unread stream in v1"},
		{"yamux", live.Yamux, true, false, "", "find out why the server reads the connection slowly or not at all (a hung or overloaded process: yamux's own reader"},
		{"seen whole", live.Smux, false, true, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			reg := live.New(live.Config{})
			sc := &script{s: reg.Open(live.SessionInfo{Client: "127.0.0.1:1000", Server: "127.0.0.1:9000", Tap: live.Server, Proto: c.proto}, t0), ver: 1}
			if c.joined {
				sc.s.Resynced(s2c, sec(0), 0, 0, 0, "joined mid-stream at offset 0, 0 bytes skipped")
			}
			cfg := live.FindingsConfig{BlockedAfter: 2 * time.Second, Churn: -1}
			sc.s.ReceiveWindow(c2s, true, sec(0))
			for s := 0.5; s < 2.4; s += 0.5 {
				if c.nops {
					sc.feedAt(sec(s), nop(s2c))
				}
				reg.Evaluate(sec(s), cfg)
			}
			reg.Evaluate(sec(2.5), cfg)
			if !c.joined {
				expect(t, reg)
				return
			}
			f := expect(t, reg, "+SESSION_BLOCKED")[0].Finding
			want := fmt.Sprintf("session %d is blocked: the server's TCP window has been closed for 2.0 s — the server stopped reading the connection, or reads very slowly (a kernel reopens a closed window only once a segment or more of its buffer is free); the capture never saw the streams it holds: it joined the connection after they opened, or lost their bytes", sc.s.ID())
			if f.Dir != c2s || f.Stream != 0 || f.Evidence.Count != 0 || !strings.HasPrefix(f.Text, want+c.text) || c.text == "" && f.Text != want {
				t.Errorf("blocked: %+v, want its text %q", f, want+c.text)
			}
			if !strings.HasPrefix(f.Advice, c.adv) {
				t.Errorf("advice %q, want it to begin %q", f.Advice, c.adv)
			}
		})
	}
}

// TestTimesNeverStepBack: frames recorded after later ones, as a
// capture's resynchronisation holds one direction's while the other runs
// ahead, or as packets of a capture come out of time order, move no
// "latest" time back: the session's and the stream's Last, and the
// silence KEEPALIVE measures.
func TestTimesNeverStepBack(t *testing.T) {
	reg := live.New(live.Config{})
	sc := openSession(reg, 1)
	for s := 0.0; s <= 8; s++ {
		sc.feedAt(sec(s), nop(c2s))
		if s <= 7 {
			sc.feedAt(sec(s), nop(s2c))
		}
		switch s {
		case 6:
			sc.feedAt(sec(s), syn(c2s, 3), psh(c2s, 3, "RAND"))
		case 7:
			sc.feedAt(sec(s), psh(c2s, 3, "more"))
		}
	}
	sc.feedAt(sec(6.1), psh(s2c, 3, "12345678")) // held, recorded late
	sc.feedAt(sec(6.5), nop(s2c))                // out of time order
	reg.Evaluate(sec(8.9), live.FindingsConfig{Churn: -1})
	expect(t, reg) // the server's silence is 1.9 s, under 2 s: no KEEPALIVE
	ss := sc.snap(t, reg)
	if !ss.Last.Equal(sec(8)) {
		t.Errorf("session last %v, want 8 s", ss.Last.Sub(t0))
	}
	if st := ss.Stream(3); st == nil || !st.Last.Equal(sec(7)) || st.FirstReply != 100*time.Millisecond {
		t.Errorf("stream 3: %+v, want its last frame at 7 s, its reply 100 ms after its SYN", st)
	}
}

// TestFindingDataAfterCloseSessionEnds: late data on a session that ends
// soon after it is still DATA_AFTER_CLOSE. smux discarded it at the
// receiver's Close, and no UPD can come to show it read once the session
// ended: in v2 the data waited lateGrace (500 ms) for one, and the
// session's end, 200 ms later, left it uncounted for good (a client
// that writes on after the server's Close and then exits), where v1
// found it at the next 100 ms evaluation. Nor does a session that ends
// before any evaluation saw its late data lose it (the framing
// violations' rule: an event sampling must not miss).
func TestFindingDataAfterCloseSessionEnds(t *testing.T) {
	for _, tc := range []struct {
		ver uint8
		end float64
	}{{2, 0.2}, {1, 0.2}, {2, 0.06}, {1, 0.06}} {
		t.Run(fmt.Sprintf("v%d/end=%v", tc.ver, tc.end), func(t *testing.T) {
			dataAfterCloseSessionEnds(t, tc.ver, tc.end, false, "+DATA_AFTER_CLOSE", "-DATA_AFTER_CLOSE")
		})
	}
	// Where the late data's sender ended the connection (the receiver's
	// tap ends the session at the EOF), the receiver may read it after,
	// with its UPD cut off: v2 leaves it uncounted, unless lateGrace
	// passed before.
	t.Run("v2/sender-ended", func(t *testing.T) { dataAfterCloseSessionEnds(t, 2, 0.2, true) })
	t.Run("v2/sender-ended-late", func(t *testing.T) {
		dataAfterCloseSessionEnds(t, 2, 0.6, true, "+DATA_AFTER_CLOSE", "-DATA_AFTER_CLOSE")
	})
}

// dataAfterCloseSessionEnds feeds late data at 0.05 s to a session of
// version ver that ends at end (its sender's direction first, if
// senderEnds), evaluating every 100 ms, and expects want.
func dataAfterCloseSessionEnds(t *testing.T, ver uint8, end float64, senderEnds bool, want ...string) {
	t.Helper()
	cfg := live.FindingsConfig{Churn: -1}
	reg := live.New(live.Config{})
	sc := openSession(reg, ver)
	reg.Evaluate(sec(0), cfg)
	sc.feedAt(sec(0.01), syn(c2s, 3), psh(c2s, 3, "CLOS"), fin(s2c, 3))
	sc.feedAt(sec(0.05), psh(c2s, 3, "more"))
	ended := false
	for i := 1; i < 20; i++ {
		at := float64(i) / 10
		if at > end && !ended {
			if senderEnds {
				sc.s.DirectionEnded(c2s, sec(end))
			}
			sc.s.End(sec(end), live.LocalClose, nil)
			ended = true
		}
		reg.Evaluate(sec(at), cfg)
	}
	recs := expect(t, reg, want...)
	if len(recs) == 0 {
		return
	}
	if f := recs[0].Finding; f.Stream != 3 || f.Dir != c2s || f.Evidence.Count != 1 || f.Evidence.Bytes != 4 {
		t.Errorf("finding: stream %d dir %v count %d bytes %d, want stream 3, c2s, 1 frame of 4 B", f.Stream, f.Dir, f.Evidence.Count, f.Evidence.Bytes)
	}
}

// TestFindingDataAfterCloseWriteFolded: the UPD that shows a v2 reader
// read on after its CloseWrite may come after the stream closed both
// ways and was folded into the summary (a busy session closes
// ClosedStreams others meanwhile): it still shows the late data read.
// Before, a UPD for a folded stream was untracked, and the data counted
// as DATA_AFTER_CLOSE.
func TestFindingDataAfterCloseWriteFolded(t *testing.T) {
	cfg := live.FindingsConfig{Churn: -1}
	reg := live.New(live.Config{ClosedStreams: 1})
	sc := openSession(reg, 2)
	sc.feedAt(sec(0), syn(c2s, 3), psh(c2s, 3, "ECHO"), fin(c2s, 3))
	sc.feedAt(sec(0.1), upd(s2c, 3, 4, 262144), psh(s2c, 3, "ECHOECHO"), fin(s2c, 3))
	// Two more streams close: stream 3 is folded.
	for _, sid := range []uint32{5, 7} {
		sc.feedAt(sec(0.15), syn(c2s, sid), fin(c2s, sid), fin(s2c, sid))
	}
	if st := sc.snap(t, reg).Stream(3); st != nil {
		t.Fatalf("stream 3 not folded: %+v", st)
	}
	sc.feedAt(sec(0.2), upd(c2s, 3, 8, 262144)) // the client's first read
	for at := 0.3; at < 2; at += 0.1 {
		reg.Evaluate(sec(at), cfg)
	}
	expect(t, reg)
}

// TestWindowStallReaderConsumes: smux v2's writer sends 256 KiB before
// its reader's first UPD, whatever the reader's MaxStreamBuffer; a reader
// of 16 KiB that reads steadily, but slower than the writer, holds the
// writer at its window for seconds while its UPDs, one per 8 KiB read,
// show it consuming. It is reading: no WINDOW_STALL, whose text says it
// is not (before, one opened StallAfter after the first UPD). Once its
// UPDs stop, it stalls StallAfter after the last.
func TestWindowStallReaderConsumes(t *testing.T) {
	reg := live.New(live.Config{})
	sc := openSession(reg, 2)
	chunk := strings.Repeat("x", 32<<10)
	sc.feedAt(sec(0), syn(c2s, 3))
	for range 8 {
		sc.feedAt(sec(0), psh(c2s, 3, chunk)) // smux's initial 256 KiB
	}
	cfg := live.FindingsConfig{StallAfter: 2 * time.Second, Churn: -1}
	consumed := uint32(0)
	for at := 0.0; at < 10; at += 0.5 {
		consumed += 8 << 10
		sc.feedAt(sec(at+0.01), upd(s2c, 3, consumed, 16<<10))
		reg.Evaluate(sec(at+0.1), cfg)
	}
	if fl := sc.snap(t, reg).Stream(3).Flow[c2s]; !fl.AtWindow() {
		t.Fatalf("the writer is not at the window: %+v", fl)
	}
	expect(t, reg)
	// The reader stops: its last UPD came at 9.51 s.
	reg.Evaluate(sec(11.4), cfg)
	expect(t, reg)
	reg.Evaluate(sec(11.6), cfg)
	recs := expect(t, reg, "+WINDOW_STALL")
	if f := recs[0].Finding; !f.Since.Equal(sec(9.51)) || f.Stream != 3 || f.Dir != c2s {
		t.Errorf("stall since %v (want the last UPD's %v), stream %d dir %v", f.Since, sec(9.51), f.Stream, f.Dir)
	}
}

// TestNoLeakAsARequestAges: with --leak-after equal to
// --unanswered-after, a v1 stream whose request came a few milliseconds
// after its SYN crosses LEAK's cutoff (from the SYN) before UNANSWERED's
// (from the opener's last frame): it was a LEAK, "a side forgot Close",
// for the evaluation between, though UNANSWERED held for its direction.
// CI saw it in a capture of the backlog fault (sniff opened LEAK for
// 100 ms, the client's tap did not). The frames are the fault's: a held
// stream, then a stream every 200 ms, each request 5 ms after its SYN,
// none answered, both sides' keepalive NOPs.
func TestNoLeakAsARequestAges(t *testing.T) {
	for _, ver := range []uint8{1, 2} {
		cfg := live.FindingsConfig{UnansweredAfter: 2 * time.Second, LeakAfter: 2 * time.Second, Churn: -1}
		reg := live.New(live.Config{})
		sc := openSession(reg, ver)
		sc.feedAt(sec(0), syn(c2s, 3), psh(c2s, 3, "HOLD"))
		if ver == 2 {
			sc.feedAt(sec(0.001), upd(s2c, 3, 4, 262144))
		}
		sc.feedAt(sec(0.002), psh(s2c, 3, "12345678"), fin(c2s, 3), fin(s2c, 3))
		sid := uint32(5)
		for ms := 200; ms <= 8000; ms++ {
			at := sec(float64(ms) / 1000)
			if ms%200 == 0 && ms <= 4000 {
				sc.feedAt(at, syn(c2s, sid))
			}
			if ms%200 == 5 && ms <= 4005 {
				sc.feedAt(at, psh(c2s, sid, "RAND"))
				sid += 2
			}
			if ms%1000 == 0 {
				sc.feedAt(at, nop(c2s), nop(s2c))
			}
			if ms%100 == 2 { // 2 ms past a SYN's 2 s: between the cutoffs
				reg.Evaluate(at, cfg)
			}
		}
		for _, r := range findingRecords(reg) {
			if r.Finding.Code != live.CodeUnanswered {
				t.Errorf("v%d: %s %s, want UNANSWERED alone:%s", ver, r.Kind, r.Finding.Code, describeRecords(findingRecords(reg)))
				break
			}
		}
		if snap := reg.Snapshot(); len(snap.Findings) == 0 {
			t.Errorf("v%d: no finding, want UNANSWERED", ver)
		}
	}
}

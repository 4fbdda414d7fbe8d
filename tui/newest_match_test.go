package tui

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/live"
)

// busyCapture is a live capture that records frames between the model's reads,
// as one at ~1,300 frames/s does (130 a read): each read records per more
// frames, whole exchanges (SYN, PSH, PSH, FIN, FIN) of new streams of
// session 2. Its history is small enough that a few reads evict it.
type busyCapture struct {
	*capture
	s1, s2 *live.Session
	sid    uint32
	at     time.Time
	per    int    // frames recorded at each read
	burst  int    // frames recorded at the read after armed counts down to 0
	armed  int    // reads before the burst; 0: none
	reads  int    // how many reads the model made
	finSid uint32 // the newest stream whose server FIN was recorded
}

func newBusy(history, per int) *busyCapture {
	b := &busyCapture{capture: newCapture(live.Config{History: history}), sid: 5, per: per}
	b.at = base.Add(-time.Minute)
	b.s1 = b.open("127.0.0.1:51234", "127.0.0.1:9000", b.at)
	b.s2 = b.open("127.0.0.1:51236", "127.0.0.1:9000", b.at)
	// Stream 3 of session 1, where the user is: open, no FIN.
	b.frame(b.s1, live.ClientToServer, b.at, 1, decoder.SYN, 3, "", 0)
	b.frame(b.s1, live.ClientToServer, b.at, 1, decoder.PSH, 3, "GET /slow", 0)
	return b
}

// record records n frames of session 2's traffic.
func (b *busyCapture) record(n int) {
	for range (n + 4) / 5 {
		b.at = b.at.Add(time.Millisecond)
		b.exchange(b.s2, 1, b.sid, b.at, "12345678")
		b.finSid = b.sid
		b.sid += 2
	}
}

func (b *busyCapture) snapshot(o live.SnapshotOptions) *live.Snapshot {
	b.reads++
	b.record(b.per)
	if b.armed > 0 {
		if b.armed--; b.armed == 0 {
			b.record(b.burst)
		}
	}
	return b.capture.snapshot(o)
}

func (b *busyCapture) model(t testing.TB, w, h int) Model {
	t.Helper()
	m := newModel(b.reg, Options{Title: "attach 127.0.0.1:9401 → 127.0.0.1:9400", NoColor: true}, b.snapshot, time.UTC, 0)
	return resize(m, w, h)
}

// onStream3 drills into stream 3 of session 1, which has no FIN.
func onStream3(t *testing.T, m Model) Model {
	t.Helper()
	m = press(m, "enter", "j", "enter")
	if m.frames.scope != (scope{session: 1, sid: 3, stream: true}) || m.focus != paneFrames {
		t.Fatalf("drilling in shows %+v in pane %v, want stream 3 of session 1 in the frames pane", m.frames.scope, m.focus)
	}
	return m
}

// frameTitle returns the frames pane's title line.
func frameTitle(screen string) string {
	for _, l := range strings.Split(screen, "\n") {
		if strings.Contains(l, "Frames") {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

// TestLiveFilterGoesToTheNewestMatch: in a busyCapture live capture, a filter
// that selects nothing where the user is goes to the newest match in
// history, which the next reads do not evict, and n from no match does
// too. Before, both went to the oldest match, evicted by the time its
// stream showed: "first match: session 2, stream 5 (none in stream 3)"
// over "Frames of stream 5 (session 2) · filter cmd:fin dir:< · 0
// matches" and "no frames match cmd:fin dir:<".
func TestLiveFilterGoesToTheNewestMatch(t *testing.T) {
	for _, filter := range []string{"cmd:fin dir:<", "cmd:fin", "dir:<", "cmd:syn", "cmd:psh dir:<"} {
		t.Run(filter, func(t *testing.T) {
			b := newBusy(200, 30)
			b.record(200)
			m := onStream3(t, b.model(t, 160, 45))
			m = press(m, "/")
			m = typeText(m, filter)
			m = press(m, "enter")
			checkLanded(t, m, filter, "newest match: session 2, stream ")
		})
	}
	t.Run("n", func(t *testing.T) {
		// A filter nothing matches yet; then matches come, and n goes to one.
		b := newBusy(200, 0)
		m := onStream3(t, b.model(t, 160, 45))
		m = press(m, "/")
		m = typeText(m, "cmd:fin dir:<")
		m = press(m, "enter")
		if !strings.Contains(screenOf(m), "nothing in history matches cmd:fin dir:< yet") {
			t.Fatalf("a filter with no match yet:\n%s", screenOf(m))
		}
		b.per = 30
		b.record(200)
		m = press(m, "n")
		checkLanded(t, m, "cmd:fin dir:<", "")
	})
}

// checkLanded fails unless the frames pane shows the stream of a match,
// with the cursor on a match, and flash, if not "", in the status line.
func checkLanded(t *testing.T, m Model, filter, flash string) {
	t.Helper()
	screen := screenOf(m)
	title := frameTitle(screen)
	r := selectedFrame(m)
	if m.frames.scope.session != 2 || r == nil || !m.filter.match(r) || strings.Contains(title, "· 0 matches") {
		t.Fatalf("the frames pane shows %+v, cursor on %+v:\n%s", m.frames.scope, r, screen)
	}
	if !strings.Contains(title, "Frames of stream "+strconv.FormatUint(uint64(r.StreamID()), 10)+" (session 2) · filter "+filter+" · ") {
		t.Errorf("title %q, want the match's stream", title)
	}
	if flash != "" && !strings.Contains(screen, flash+strconv.FormatUint(uint64(r.StreamID()), 10)+" (none in stream 3 of session 1)") {
		t.Errorf("the status line does not say where the match is, %q…:\n%s", flash, screen)
	}
}

// TestEvictedMatchIsSoughtAgain: where history evicts the match a filter
// went to before its stream shows (a burst of frames between the search
// and the read of the stream's frames), the pane does not show that
// stream with 0 matches: the search goes to the newest match, and says
// why; where every match leaves history before it shows, it says so after
// a few tries, and stops.
func TestEvictedMatchIsSoughtAgain(t *testing.T) {
	t.Run("once", func(t *testing.T) {
		b := newBusy(200, 0)
		b.record(150)
		m := onStream3(t, b.model(t, 160, 45))
		m = press(m, "/")
		m = typeText(m, "cmd:fin dir:<")
		// The burst comes with the third read from here: the one that
		// reads the match's stream, after the search found it.
		b.armed, b.burst = 3, 250
		m = press(m, "enter")
		checkLanded(t, m, "cmd:fin dir:<", "")
		r := selectedFrame(m)
		want := "newest match: session 2, stream " + strconv.FormatUint(uint64(r.StreamID()), 10) + " (the one in session 2, stream "
		if screen := screenOf(m); !strings.Contains(screen, want) || !strings.Contains(screen, " left history before it showed)") {
			t.Errorf("the status line does not say the first match left history:\n%s", screen)
		}
	})
	t.Run("always", func(t *testing.T) {
		b := newBusy(200, 250) // each read records more than history holds
		b.record(150)
		m := onStream3(t, b.model(t, 160, 45))
		m = press(m, "/")
		m = typeText(m, "cmd:fin dir:<")
		r0 := b.reads
		m = press(m, "enter")
		if screen := screenOf(m); !strings.Contains(screen, "matches of cmd:fin dir:< leave history before they show: --history keeps more") {
			t.Errorf("no word of matches that leave history before they show:\n%s", screen)
		}
		if n := b.reads - r0; n > 20 {
			t.Errorf("%d reads for one filter: the search does not stop", n)
		}
	})
}

// TestReadFilterGoesToTheFirstMatch: in a capture read to its end, where
// nothing is evicted any more, a filter that selects nothing where the
// user is goes to the first match in time, and n with no match under the
// cursor too.
func TestReadFilterGoesToTheFirstMatch(t *testing.T) {
	c := fixture()
	m := newModel(c.reg, Options{Title: "read x.pcap", NoColor: true, Done: func() bool { return true }}, c.snapshot, time.UTC, 0)
	m = resize(m, 160, 45)
	m = send(m, tickMsg{})
	if !m.done {
		t.Fatal("the model is not done")
	}
	m = press(m, "/")
	m = typeText(m, "session:3 cmd:fin")
	m = press(m, "enter")
	r := selectedFrame(m)
	if r == nil || r.Session != 3 || r.Header.Cmd() != decoder.FIN || r.Dir != live.ServerToClient {
		t.Fatalf("the filter went to %+v, want session 3's first FIN, the server's", r)
	}
	want := "first match: session 3, stream 3 (none in session 1)"
	if !strings.Contains(screenOf(m), want) {
		t.Errorf("the status line does not say %q:\n%s", want, screenOf(m))
	}
}

// TestMatchesLeftHistory: a stream a match led to, whose matches history
// then evicts, says so, not "no frames match": at a history of 1.3 s
// (--history 2000 at 1,500 frames/s) the demo's stream said "no frames
// match cmd:fin dir:<" 2.5 s after n led to its FIN.
func TestMatchesLeftHistory(t *testing.T) {
	b := newBusy(200, 30)
	b.record(200)
	m := onStream3(t, b.model(t, 160, 45))
	m = press(m, "/")
	m = typeText(m, "cmd:fin dir:<")
	m = press(m, "enter")
	checkLanded(t, m, "cmd:fin dir:<", "")
	b.record(250)
	m = send(m, tickMsg{})
	screen := screenOf(m)
	if !strings.Contains(frameTitle(screen), "· 0 matches") || !strings.Contains(screen, "the matches here left history: newer frames evicted them (--history); n goes to the newest") {
		t.Errorf("a stream whose matches history evicted does not say so:\n%s", screen)
	}
	m = press(m, "n")
	checkLanded(t, m, "cmd:fin dir:<", "")
}

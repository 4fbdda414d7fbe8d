package tui

import (
	"strings"

	"github.com/muxtop/muxtop/decoder"
	"strconv"
	"testing"
	"time"

	"github.com/muxtop/muxtop/live"
)

// loaded is a capture of sessions that together sent frames frames, five
// per request, spread over all sessions, with history as large as frames.
type loaded struct {
	*capture
	sessions []*live.Session
	sid      []uint32
	n        int
}

func newLoaded(sessions, frames int) *loaded {
	l := &loaded{capture: newCapture(live.Config{History: frames})}
	for i := range sessions {
		l.sessions = append(l.sessions, l.open("10.0.0.1:"+strconv.Itoa(10000+i), "10.0.0.2:9000", base))
		l.sid = append(l.sid, 1)
	}
	l.feed(frames)
	return l
}

// feed records about n more frames, one request (five frames) per session in turn.
func (l *loaded) feed(n int) {
	for range n / 5 {
		l.request(l.n % len(l.sessions))
		l.n++
	}
}

// request records one request on session i.
func (l *loaded) request(i int) {
	l.sid[i] += 2
	l.now = l.now.Add(time.Microsecond)
	l.exchange(l.sessions[i], 1, l.sid[i], l.now, "\x0b\x5e\x9a\x13\x77\x02\xc1\xaa")
}

func benchmarkView(b *testing.B, frames int) {
	l := newLoaded(1000, frames)
	// The last session gets the same 40 requests whatever the history, so
	// both sizes draw the same rows.
	for range 40 {
		l.request(999)
	}
	m := l.model(b, 160, 45)
	m = press(m, "G", "enter", "enter") // the last session's stream, its frames and their detail
	if m.frames.index.len() == 0 {
		b.Fatal("no frames in view")
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = m.View()
	}
}

// BenchmarkView draws the 160×45 screen over 1 000 sessions; the cost must
// not grow with the history (compare the two sizes).
func BenchmarkView(b *testing.B) {
	b.Run("history=10000", func(b *testing.B) { benchmarkView(b, 10_000) })
	b.Run("history=100000", func(b *testing.B) { benchmarkView(b, 100_000) })
}

// BenchmarkTick is one tick at 100 000 frames/s: 10 000 frames arrive
// between ticks (not timed), then the tick's read runs (a snapshot, a scan
// of the new records for the frames view's index, a copy of the rows on
// screen), the model applies it and draws the screen.
func BenchmarkTick(b *testing.B) {
	l := newLoaded(1000, 100_000)
	// Time the registry's Snapshot apart: it is live's cost, not the UI's.
	var inSnapshot time.Duration
	snapshot := func(o live.SnapshotOptions) *live.Snapshot {
		start := time.Now()
		s := l.snapshot(o)
		inSnapshot += time.Since(start)
		return s
	}
	m := newModel(l.reg, Options{NoColor: true}, snapshot, time.UTC, 0)
	m = resize(m, 160, 45)
	m = press(m, "enter", "k", "enter", "f") // all of session 1's records, following
	inSnapshot = 0
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		b.StopTimer()
		l.feed(10_000)
		b.StartTimer()
		m = send(m, tickMsg(l.now))
		_ = m.View()
		n++
	}
	b.ReportMetric(float64(inSnapshot.Nanoseconds())/float64(n), "snapshot-ns/op")
}

// BenchmarkViewFindings draws the 160×45 screen with the findings pane
// open over 10 000 open LEAK findings, one a session: the pane words the
// rows it draws with their ages as of the snapshot (Finding.AsOf), so its
// cost must be a screen's rows, not the findings'.
func BenchmarkViewFindings(b *testing.B) {
	const sessions = 10_000
	c := newCapture(live.Config{History: 1 << 16})
	t := base.Add(-time.Minute)
	for i := range sessions {
		s := c.open("10.0.0.1:"+strconv.Itoa(10000+i), "10.0.0.2:9000", t)
		c.frame(s, live.ClientToServer, t, 1, decoder.SYN, 3, "", 0)
		c.frame(s, live.ClientToServer, t.Add(10*time.Microsecond), 1, decoder.PSH, 3, "RAND", 0)
	}
	c.reg.Evaluate(base, live.FindingsConfig{LeakAfter: 10 * time.Second})
	if n := len(c.reg.Snapshot().Findings); n != sessions {
		b.Fatalf("%d findings open, want %d", n, sessions)
	}
	m := press(c.model(b, 160, 45), "!")
	if !strings.Contains(m.View().Content, "LEAK") {
		b.Fatal("the findings pane shows no LEAK")
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = m.View()
	}
}

// BenchmarkTickIdle is one tick over the scale audit's load: 10 000 idle
// sessions, each with ten streams open a minute (a request and its
// answer, then nothing) and so a LEAK finding. Nothing changes between
// ticks but the clock; the tick's read (the snapshot the UI asks for),
// the model applying it and the 160×45 screen are timed.
func BenchmarkTickIdle(b *testing.B) {
	const sessions = 10_000
	const c2s, s2c = live.ClientToServer, live.ServerToClient
	c := newCapture(live.Config{History: 1 << 16})
	t := base.Add(-time.Minute)
	for i := range sessions {
		s := c.open("10.0.0.1:"+strconv.Itoa(10000+i), "10.0.0.2:9000", t)
		c.exchange(s, 2, 1, t, "12345678") // work done: the streams after it are no setup streams
		for j := range uint32(10) {
			sid := 3 + 2*j
			c.frame(s, c2s, t, 2, decoder.SYN, sid, "", 0)
			c.frame(s, c2s, t, 2, decoder.PSH, sid, "RAND", 0)
			c.frame(s, s2c, t, 2, decoder.PSH, sid, "12345678", 0)
		}
	}
	c.reg.Evaluate(base, live.FindingsConfig{LeakAfter: live.DefaultLeakAfter})
	if n := len(c.reg.Snapshot().Findings); n != sessions {
		b.Fatalf("%d findings open, want %d", n, sessions)
	}
	m := c.model(b, 160, 45)
	if !strings.Contains(m.View().Content, "LEAK") {
		b.Fatal("the screen shows no LEAK")
	}
	b.ReportAllocs()
	for b.Loop() {
		m = tickAt(m, c, 100*time.Millisecond)
		_ = m.View()
	}
}

// BenchmarkTickBusy is one tick in front of 8 000 live v1 sessions with
// keepalive on and 1 000 requests/s spread over them: between ticks (not
// timed) 100 sessions each carry one request and 80 others a keepalive
// NOP (every session's every 10 s). The tick's read, the model applying
// it and the 160×45 screen are timed, as in BenchmarkTickIdle.
func BenchmarkTickBusy(b *testing.B) {
	const sessions = 8000
	c := newCapture(live.Config{History: 1 << 16})
	t := base.Add(-time.Minute)
	var ss []*live.Session
	sid := make([]uint32, sessions)
	for i := range sessions {
		s := c.open("10.0.0.1:"+strconv.Itoa(10000+i), "10.0.0.2:9000", t)
		c.exchange(s, 1, 1, t, "12345678")
		ss, sid[i] = append(ss, s), 1
	}
	c.reg.Evaluate(base, live.FindingsConfig{LeakAfter: live.DefaultLeakAfter})
	m := c.model(b, 160, 45)
	next := 0
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		for range 100 {
			i := next % sessions
			sid[i] += 2
			c.exchange(ss[i], 1, sid[i], c.now, "12345678")
			next += 97
		}
		for k := range 80 {
			c.frame(ss[(next+k*89)%sessions], live.ClientToServer, c.now, 1, decoder.NOP, 0, "", 0)
		}
		b.StartTimer()
		m = tickAt(m, c, 100*time.Millisecond)
		_ = m.View()
	}
}

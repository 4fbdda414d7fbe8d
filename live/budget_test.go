package live_test

import (
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/livetest"
	"github.com/muxtop/muxtop/internal/racetest"
	"github.com/muxtop/muxtop/live"
)

// retained returns the closed streams snap's sessions keep in detail,
// and how many of them each session keeps, by id.
func retained(snap *live.Snapshot) (int, map[uint64]int) {
	n, by := 0, make(map[uint64]int)
	for _, ss := range snap.Sessions {
		k := 0
		for i := range ss.Streams {
			if !ss.Streams[i].State.Live() {
				k++
			}
		}
		n += k
		by[ss.ID] = k
	}
	return n, by
}

// TestStreamBudget: a registry fed many sessions that each served many
// streams keeps no more closed streams in detail, all sessions together,
// than Config.StreamBudget (the default here), with every count the same:
// what is not kept is folded into each session's summary. Before the
// budget each session kept 1 000, and 120 sessions 120 000, whether they
// were live or ended.
func TestStreamBudget(t *testing.T) {
	const (
		sessions = 120
		served   = 1000 // streams each session serves, one after another
	)
	reg := live.New(live.Config{History: -1})
	var ss []*live.Session
	for range sessions {
		s := reg.Open(live.SessionInfo{}, t0)
		feed := livetest.NewRandFeed(s, 2, t0)
		for range served {
			feed.Cycle()
		}
		ss = append(ss, s)
	}
	check := func(when string, live_ int) map[uint64]int {
		t.Helper()
		snap := reg.Snapshot()
		n, by := retained(snap)
		if n > live.DefaultStreamBudget {
			t.Errorf("%s: %d closed streams kept in detail, want at most the budget, %d", when, n, live.DefaultStreamBudget)
		}
		if snap.StreamsTotal != sessions*served || snap.OpenStreams != 0 || snap.LiveSessions != live_ {
			t.Errorf("%s: %d streams, %d open, %d live sessions; want %d, 0, %d", when, snap.StreamsTotal, snap.OpenStreams, snap.LiveSessions, sessions*served, live_)
		}
		var closed, folded uint64
		for _, s := range snap.Sessions {
			closed += s.Total - uint64(s.Open) - s.StreamsEnded
			folded += s.Closed.Streams
			if got := s.Closed.Streams + uint64(by[s.ID]); got != served {
				t.Errorf("%s: session %d: %d folded + %d kept, want the %d it served", when, s.ID, s.Closed.Streams, by[s.ID], served)
			}
			if a := s.Accounted(); a.Frames != [2]uint64{s.Counts.FramesDir(0), s.Counts.FramesDir(1)} {
				t.Errorf("%s: session %d: frames accounted %v, counted %d %d", when, s.ID, a.Frames, s.Counts.FramesDir(0), s.Counts.FramesDir(1))
			}
		}
		if closed != sessions*served {
			t.Errorf("%s: %d streams closed, want %d", when, closed, sessions*served)
		}
		t.Logf("%s: %d closed streams kept in detail, %d folded", when, n, folded)
		return by
	}
	by := check("all live", sessions)
	for _, s := range ss {
		if by[s.ID()] < live.MinClosedStreams {
			t.Errorf("live session %d keeps %d closed streams, want at least %d", s.ID(), by[s.ID()], live.MinClosedStreams)
		}
	}
	for _, s := range ss[:sessions/2] {
		s.End(t0.Add(time.Second), live.EOF, nil)
	}
	by = check("half ended", sessions/2)
	for _, s := range ss[:sessions/2] {
		if e, l := by[s.ID()], by[ss[sessions-1].ID()]; e*4 > l {
			t.Errorf("ended session %d keeps %d closed streams, a live one %d: want a quarter of that at most", s.ID(), e, l)
		}
	}
}

// TestStreamBudgetIdle: a session that served many streams and went
// idle, serving no more, is trimmed to its share as other sessions open:
// it folds nothing of its own accord.
func TestStreamBudgetIdle(t *testing.T) {
	reg := live.New(live.Config{History: -1, StreamBudget: 1000})
	first := reg.Open(live.SessionInfo{}, t0)
	feed := livetest.NewRandFeed(first, 1, t0)
	for range 2000 {
		feed.Cycle()
	}
	if _, by := retained(reg.Snapshot()); by[first.ID()] != 1000 {
		t.Fatalf("alone, the session keeps %d closed streams, want ClosedStreams, 1000", by[first.ID()])
	}
	for range 199 {
		reg.Open(live.SessionInfo{}, t0)
	}
	snap := reg.Snapshot()
	if _, by := retained(snap); by[first.ID()] != live.MinClosedStreams {
		t.Errorf("with 200 sessions on a budget of 1000, the idle session keeps %d closed streams, want the floor, %d", by[first.ID()], live.MinClosedStreams)
	}
	if s := snap.Session(first.ID()); s.Total != 2000 || s.Closed.Streams != 2000-live.MinClosedStreams {
		t.Errorf("the idle session: %d streams, %d folded; want 2000, %d", s.Total, s.Closed.Streams, 2000-live.MinClosedStreams)
	}
}

// TestStreamBudgetNone: a budget of none keeps no closed stream in
// detail, floors or not; every stream still counts.
func TestStreamBudgetNone(t *testing.T) {
	reg := live.New(live.Config{History: -1, StreamBudget: live.Exactly(0)})
	feed := livetest.NewRandFeed(reg.Open(live.SessionInfo{}, t0), 2, t0)
	for range 100 {
		feed.Cycle()
	}
	snap := reg.Snapshot()
	if n, _ := retained(snap); n != 0 || snap.StreamsTotal != 100 {
		t.Errorf("%d closed streams kept of %d; want none of 100", n, snap.StreamsTotal)
	}
}

// TestRetainedStreamBytes measures what the registry keeps live per closed
// stream it keeps in detail, per open stream, and per session, live and
// ended, with runtime.MemStats after a GC: the README's Memory figures.
// It asserts the counts kept; the bytes it logs (go test -v).
func TestRetainedStreamBytes(t *testing.T) {
	if racetest.Enabled {
		t.Skip("the race detector changes the heap")
	}
	heap := func() int64 {
		var m runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&m)
		return int64(m.HeapAlloc)
	}
	const n = 50_000
	// Closed streams kept in detail: one session keeps them all.
	reg := live.New(live.Config{History: -1, ClosedStreams: n, StreamBudget: n})
	feed := livetest.NewRandFeed(reg.Open(live.SessionInfo{}, t0), 2, t0)
	for range 100 {
		feed.Cycle()
	}
	before := heap()
	for range n {
		feed.Cycle()
	}
	after := heap()
	if got, _ := retained(reg.Snapshot()); got != n {
		t.Fatalf("%d closed streams kept, want %d", got, n)
	}
	closed := (after - before) / n
	t.Logf("%d B per closed stream kept in detail", closed)
	if closed > live.ClosedStreamBytes || closed < live.ClosedStreamBytes*7/8 {
		t.Errorf("%d B per closed stream kept, live.ClosedStreamBytes %d: make it this, rounded up to 64", closed, live.ClosedStreamBytes)
	}
	readmeSays(t, "A closed stream kept in detail costs", closed)
	runtime.KeepAlive(reg)

	// Open streams: opened, never closed.
	reg = live.New(live.Config{History: -1})
	feed = livetest.NewRandFeed(reg.Open(live.SessionInfo{}, t0), 2, t0)
	before = heap()
	for range n {
		feed.Open()
	}
	after = heap()
	if got := reg.Snapshot().OpenStreams; got != n {
		t.Fatalf("%d open streams, want %d", got, n)
	}
	open := (after - before) / n
	t.Logf("%d B per open stream", open)
	readmeSays(t, "An open stream costs", open)
	runtime.KeepAlive(reg)

	// Sessions: each served 200 streams, more than it keeps at this many
	// sessions on the default budget, and keeps its share of closed ones
	// and its other state.
	const sessions = 2000
	reg = live.New(live.Config{History: -1, EndedSessions: sessions})
	var ss []*live.Session
	before = heap()
	for range sessions {
		s := reg.Open(live.SessionInfo{Client: "127.0.0.1:50000", Server: "127.0.0.1:9000"}, t0)
		feed := livetest.NewRandFeed(s, 2, t0)
		for range 200 {
			feed.Cycle()
		}
		ss = append(ss, s)
	}
	// Every front end takes snapshots, which keep each session's picture
	// without its streams (metrics, the UI but for the selected session).
	headers := func() (kept int) {
		for _, ss := range reg.SnapshotWith(live.SnapshotOptions{Streams: func(uint64) bool { return false }}).Sessions {
			kept += ss.Tracked - ss.Open
		}
		return kept
	}
	kept := headers()
	after = heap()
	if kept > live.DefaultStreamBudget {
		t.Fatalf("%d live sessions keep %d closed streams, want at most %d", sessions, kept, live.DefaultStreamBudget)
	}
	t.Logf("%d B per live session that served 200 streams, its %d closed streams kept included", (after-before)/sessions, kept/sessions)
	for _, s := range ss {
		s.End(t0.Add(time.Second), live.EOF, nil)
	}
	kept = headers()
	ended := heap()
	t.Logf("%d B per ended session, its %d closed streams kept included", (ended-before)/sessions, kept/sessions)
	runtime.KeepAlive(reg)
}

// readmeSays checks that the README's Memory paragraph gives, after the
// words before (its lines may break anywhere between them), within 16
// bytes the cost measured: what grows the registry's structs must change
// the README too.
func readmeSays(t *testing.T, before string, measured int64) {
	t.Helper()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var words []string
	for _, w := range strings.Fields(before) {
		words = append(words, regexp.QuoteMeta(w))
	}
	pat := strings.Join(words, `\s+`) + `\s+(\d+) bytes`
	m := regexp.MustCompile(pat).FindSubmatch(readme)
	if m == nil {
		t.Fatalf("the README says nothing that matches %s", pat)
	}
	said, _ := strconv.ParseInt(string(m[1]), 10, 64)
	if d := said - measured; d < -16 || d > 16 {
		t.Errorf("the README says %q %d bytes, measured %d", before, said, measured)
	}
}

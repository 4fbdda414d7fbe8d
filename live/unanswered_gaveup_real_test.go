package live_test

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/xtaci/smux"

	"github.com/muxtop/muxtop/live"
)

// An opener's FIN gives up; it writes nothing: with a real smux v1 pair,
// both ends tapped, a server that never accepts, and a client that asks
// on a stream, closes it after a timeout (as audit9's client did after
// 15 s), and keeps asking on new streams. The first stream is still
// unanswered (the server never read it): UNANSWERED opens once and holds.
// Before, in v1, where the wait counts from the opener's last frame, the
// client's FIN counted as a write: UNANSWERED resolved "the client writes
// on stream 3 again" at the FIN and opened again, a new finding, a moment
// later.
func TestUnansweredOpenerGivesUpRealSmux(t *testing.T) {
	t.Parallel() // real time on a pair of its own; -parallel still bounds how many at once
	cfg := live.FindingsConfig{UnansweredAfter: time.Second, LeakAfter: time.Hour, Churn: -1}
	keep := func(c, s *smux.Config) {
		c.KeepAliveInterval, s.KeepAliveInterval = 200*time.Millisecond, 200*time.Millisecond
	}
	reg := live.New(live.Config{})
	cli, srv := smuxSetup("", 1, keep).pair(t, reg)
	defer srv.Close()
	defer cli.Close()
	ask := func() (io.Closer, error) {
		st, err := cli.Open()
		if err != nil {
			return nil, err
		}
		_, err = io.WriteString(st, "GET /\n")
		return st, err
	}
	first, err := ask()
	if err != nil {
		t.Fatal(err)
	}
	var firstID uint32 // the lowest id: the first stream
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	asking := make(chan error, 1)
	go func() {
		time.Sleep(1600 * time.Millisecond)
		first.Close() // the client's timeout gives the request up: its FIN
		for ctx.Err() == nil {
			if _, err := ask(); err != nil { // the requests keep coming, none answered
				asking <- err
				return
			}
			time.Sleep(300 * time.Millisecond)
		}
		asking <- nil
	}()
	every(ctx, 100*time.Millisecond, func() bool { reg.Evaluate(time.Now(), cfg); return true })
	// The asker is done before the sessions close: else its next ask
	// fails on a closed session ("io: read/write on closed pipe", seen
	// in CI) after the test has ended.
	if err := <-asking; err != nil {
		t.Fatal(err)
	}

	snap := reg.Snapshot()
	if len(snap.Sessions) != 2 {
		t.Fatalf("%d sessions, want 2 (each end tapped)", len(snap.Sessions))
	}
	for _, ss := range snap.Sessions {
		if len(ss.Streams) > 0 {
			firstID = ss.Streams[0].ID
		}
	}
	opened := map[uint64]int{}
	for _, r := range allRecords(reg) {
		f := r.Finding
		if f == nil || f.Code != live.CodeUnanswered {
			continue
		}
		switch r.Kind {
		case live.FindingOpened:
			opened[f.Session]++
		case live.FindingResolved:
			t.Errorf("session %d: UNANSWERED #%d resolved at %s: %q; want it to hold: stream %d's FIN gives up, the server never answered",
				f.Session, f.ID, f.Resolved.Format("15:04:05.000"), f.Why, firstID)
		}
		if strings.Contains(f.Why, "writes on") {
			t.Errorf("session %d: %q; the client's FIN is no write", f.Session, f.Why)
		}
	}
	for _, ss := range snap.Sessions {
		if opened[ss.ID] != 1 {
			t.Errorf("session %d: UNANSWERED opened %d times; want once", ss.ID, opened[ss.ID])
		}
		var un *live.Finding
		for _, f := range snap.FindingsOf(ss.ID) {
			if f.Code == live.CodeUnanswered {
				un = f
			}
		}
		if un == nil || un.Stream != firstID || un.Evidence.Count < 2 {
			t.Errorf("session %d: UNANSWERED %+v; want it open for stream %d, the oldest, and the later ones", ss.ID, un, firstID)
		}
	}
}
